use crate::common::*;
use keyport_domain::identity::AccessTokenStore;
use keyport_domain::users::Role;
use keyport_domain::users::UserStore;
use keyport_domain::{ConflictKind, StoreError};
use keyport_testkit::TestDb;

#[tokio::test]
async fn an_inserted_user_is_found_by_id_and_by_username() {
    let db = TestDb::new().await;
    let store = db.store();
    let mut alice = user("alice");
    alice.roles = vec![Role::Admin, Role::Auditor, Role::User];
    store
        .insert_user(&alice, None, &audit("user.create", "user", alice.id))
        .await
        .unwrap();

    assert_eq!(store.get_user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.find_user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(audit_actions(&db, alice.id).await, ["user.create"]);
}

#[tokio::test]
async fn an_unknown_user_is_none() {
    let db = TestDb::new().await;
    let store = db.store();
    assert_eq!(store.get_user(user("x").id).await.unwrap(), None);
    assert_eq!(store.find_user_by_username("nobody").await.unwrap(), None);
}

#[tokio::test]
async fn a_taken_username_conflicts_on_users_username_and_leaves_no_audit_event() {
    let db = TestDb::new().await;
    let store = db.store();
    insert_user(&store, "alice").await;
    let second = user("alice");

    let result = store
        .insert_user(&second, None, &audit("user.create", "user", second.id))
        .await;

    assert_eq!(
        result,
        Err(StoreError::Conflict(ConflictKind::UsernameTaken))
    );
    assert!(audit_actions(&db, second.id).await.is_empty());
    assert_eq!(store.get_user(second.id).await.unwrap(), None);
}

#[tokio::test]
async fn a_user_and_its_first_access_token_are_inserted_together() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = user("alice");
    let token = access_token(alice.id);

    store
        .insert_user(
            &alice,
            Some(token.clone()),
            &audit("user.create", "user", alice.id),
        )
        .await
        .unwrap();

    let (found, owner) = store
        .find_live_access_token(&token.hash, at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, token.id);
    assert_eq!(owner, alice);
}

#[tokio::test]
async fn a_user_whose_first_token_cannot_be_stored_is_not_stored_either() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let token = access_token(alice.id);
    store
        .insert_access_token(&token, &audit("token.create", "access_token", token.id))
        .await
        .unwrap();
    let bob = user("bob");
    let mut same_hash = access_token(bob.id);
    same_hash.hash = token.hash.clone();

    let result = store
        .insert_user(&bob, Some(same_hash), &audit("user.create", "user", bob.id))
        .await;

    assert_eq!(
        result,
        Err(StoreError::Conflict(ConflictKind::Other(
            "access_tokens_token_hash".into()
        )))
    );
    assert_eq!(store.get_user(bob.id).await.unwrap(), None);
    assert!(audit_actions(&db, bob.id).await.is_empty());
}

#[tokio::test]
async fn get_users_answers_the_known_users_among_the_ids() {
    let db = TestDb::new().await;
    let store = db.store();
    let mut known = Vec::new();
    for n in 0..5 {
        known.push(insert_user(&store, &format!("user{n}")).await);
    }
    let mut ids: Vec<_> = known.iter().map(|u| u.id).collect();
    ids.push(user("ghost").id);
    ids.push(known[0].id);

    let mut found = store.get_users(&ids).await.unwrap();

    found.sort_by_key(|u| u.id.0);
    known.sort_by_key(|u| u.id.0);
    assert_eq!(found, known, "each known user once, the unknown id skipped");
    assert!(store.get_users(&[]).await.unwrap().is_empty());
    assert!(store.get_users(&[user("x").id]).await.unwrap().is_empty());
}

#[tokio::test]
async fn changing_a_users_status_queues_a_job_for_each_live_key_in_the_same_transaction() {
    use keyport_domain::keys::ApiKeyStore;
    use keyport_domain::keys::SyncState;
    use keyport_domain::users::UserStatus;
    let w = world().await;
    let live = new_key(w.user.id, "live", &[w.subscription.id]);
    insert_active_key(&w.store, &live).await;
    let provisioning = new_key(w.user.id, "new", &[w.subscription.id]);
    insert_key(&w.store, &provisioning).await;

    let suspended = w
        .store
        .change_user_status(
            w.user.id,
            UserStatus::Suspended,
            at(5),
            &audit("user.suspend", "user", w.user.id),
        )
        .await
        .unwrap();

    assert_eq!(suspended.status, UserStatus::Suspended);
    assert_eq!(pending_jobs_of(&w.db, live.id).await, [at(5)]);
    assert!(
        jobs_of(&w.db, provisioning.id).await.is_empty(),
        "only live keys are converged"
    );
    assert_eq!(
        w.store.get_key(live.id).await.unwrap().unwrap().sync_state,
        SyncState::Pending
    );
    assert_eq!(
        w.store
            .change_user_status(
                keyport_domain::ids::UserId::new(),
                UserStatus::Active,
                at(6),
                &audit("user.reactivate", "user", w.user.id)
            )
            .await,
        Err(keyport_domain::StoreError::NotFound)
    );
}

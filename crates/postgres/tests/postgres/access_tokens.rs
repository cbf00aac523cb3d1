use crate::common::*;
use keyport_domain::identity::AccessTokenStore;
use keyport_domain::secret::SecretKind;
use keyport_testkit::TestDb;

#[tokio::test]
async fn a_live_token_is_found_with_its_user_and_its_first_use_is_recorded() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let token = access_token(alice.id);
    store
        .insert_access_token(&token, &audit("token.create", "access_token", token.id))
        .await
        .unwrap();

    let (found, owner) = store
        .find_live_access_token(&token.hash, at(5))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(owner, alice);
    assert_eq!(
        found,
        keyport_domain::identity::AccessToken {
            last_used_at: Some(at(5)),
            ..token.clone()
        }
    );
    assert_eq!(audit_actions(&db, token.id).await, ["token.create"]);
}

#[tokio::test]
async fn last_used_at_is_written_at_most_once_a_minute() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let token = access_token(alice.id);
    store
        .insert_access_token(&token, &audit("token.create", "access_token", token.id))
        .await
        .unwrap();
    // Each lookup answers the stored value, so each assertion also checks what the previous one wrote.
    let last_used = async |now| {
        let (stored, _) = store
            .find_live_access_token(&token.hash, now)
            .await
            .unwrap()
            .unwrap();
        stored.last_used_at
    };

    assert_eq!(last_used(at(100)).await, Some(at(100)));
    assert_eq!(last_used(at(159)).await, Some(at(100)), "within a minute");
    assert_eq!(last_used(at(161)).await, Some(at(161)), "after a minute");
}

#[tokio::test]
async fn revoked_expired_and_unknown_tokens_are_not_live() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let mut revoked = access_token(alice.id);
    revoked.revoked_at = Some(at(1));
    let mut expired = access_token(alice.id);
    expired.expires_at = Some(at(60));
    for token in [&revoked, &expired] {
        store
            .insert_access_token(token, &audit("token.create", "access_token", token.id))
            .await
            .unwrap();
    }

    assert!(store
        .find_live_access_token(&revoked.hash, at(2))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_live_access_token(&expired.hash, at(59))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .find_live_access_token(&expired.hash, at(60))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_live_access_token(&secret(SecretKind::AccessToken).hash(), at(0))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_token_of_an_unknown_user_is_refused_as_not_found() {
    let db = TestDb::new().await;
    let store = db.store();
    let token = access_token(user("ghost").id);
    let result = store
        .insert_access_token(&token, &audit("token.create", "access_token", token.id))
        .await;
    assert_eq!(result, Err(keyport_domain::StoreError::NotFound));
    assert!(audit_actions(&db, token.id).await.is_empty());
}

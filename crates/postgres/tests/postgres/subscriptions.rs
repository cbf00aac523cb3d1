use crate::common::*;
use keyport_domain::access::AccessStore;
use keyport_domain::ids::{ModelId, SubscriptionId};
use keyport_domain::keys::ApiKeyStatus;
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::limits::Limits;
use keyport_domain::subscriptions::SubscriptionStatus::{self, *};
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::{ConflictKind, StoreError};
use keyport_testkit::TestDb;

#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn access_version(store: &impl AccessStore, user: keyport_domain::ids::UserId) -> i64 {
    store.access_record(user).await.unwrap().unwrap().version
}

#[tokio::test]
async fn an_inserted_subscription_round_trips_with_its_quota_first_history_row_and_audit_event() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let model = insert_model(&store, "openai/gpt-4o").await;
    let mut pending = subscription(alice.id, &model, Pending);
    pending.status_reason = Some("needed for the chatbot".to_owned());
    let event = keyport_domain::audit::AuditEvent::by(
        &keyport_domain::users::Actor::user(alice.id),
        "subscription.request",
        "subscription",
        pending.id,
        at(0),
    );

    store.insert_subscription(&pending, &event).await.unwrap();

    assert_eq!(
        store.get_subscription(pending.id).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(
        store.find_subscription(alice.id, &model).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(
        history(&db, pending.id).await,
        [(
            None,
            "pending".to_owned(),
            Some("needed for the chatbot".to_owned()),
            true
        )]
    );
    assert_eq!(
        audit_actions(&db, pending.id).await,
        ["subscription.request"]
    );
}

#[tokio::test]
async fn a_second_subscription_to_the_same_model_conflicts_on_subscriptions_user_model() {
    let w = world().await;
    let again = subscription(w.user.id, &w.model, Pending);

    let result = w
        .store
        .insert_subscription(
            &again,
            &audit("subscription.create", "subscription", again.id),
        )
        .await;

    assert_eq!(
        result,
        Err(StoreError::Conflict(ConflictKind::AlreadySubscribed))
    );
    assert!(audit_actions(&w.db, again.id).await.is_empty());
    assert!(history(&w.db, again.id).await.is_empty());
}

#[tokio::test]
async fn a_subscription_to_an_unknown_model_is_not_found() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let ghost = subscription(alice.id, &ModelId::parse("ghost").unwrap(), Active);
    let result = store
        .insert_subscription(
            &ghost,
            &audit("subscription.create", "subscription", ghost.id),
        )
        .await;
    assert_eq!(result, Err(StoreError::NotFound));
}

#[tokio::test]
async fn a_users_subscriptions_are_listed_newest_first_and_only_theirs() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let bob = insert_user(&store, "bob").await;
    let mut ids = Vec::new();
    for (n, name) in ["m1", "m2", "m3"].into_iter().enumerate() {
        let model = insert_model(&store, name).await;
        let mut s = subscription(alice.id, &model, Active);
        s.created_at = at(n as i64);
        store
            .insert_subscription(&s, &audit("subscription.create", "subscription", s.id))
            .await
            .unwrap();
        ids.push(s.id);
        subscribe(&store, bob.id, &model).await;
    }

    let listed: Vec<_> = store
        .list_subscriptions(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();

    ids.reverse();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn get_subscriptions_answers_the_existing_ones_of_any_owner() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;

    let mut found: Vec<_> = w
        .store
        .get_subscriptions(&[w.subscription.id, bobs.id, SubscriptionId::new()])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    found.sort();

    let mut expected = vec![w.subscription.id, bobs.id];
    expected.sort();
    assert_eq!(found, expected);
    assert!(w.store.get_subscriptions(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_status_change_records_history_and_audit_and_keeps_the_quota_when_none_is_given() {
    let w = world().await;
    let event = audit("subscription.suspend", "subscription", w.subscription.id);

    let changed = w
        .store
        .change_subscription_status(
            w.subscription.id,
            Active,
            Suspended,
            Some("abuse".to_owned()),
            None,
            at(30),
            &event,
        )
        .await
        .unwrap();

    assert_eq!(changed.status, Suspended);
    assert_eq!(changed.status_reason.as_deref(), Some("abuse"));
    assert_eq!(changed.quota, w.subscription.quota);
    assert_eq!(changed.updated_at, at(30));
    assert_eq!(
        w.store.get_subscription(w.subscription.id).await.unwrap(),
        Some(changed)
    );
    assert_eq!(
        history(&w.db, w.subscription.id).await,
        [
            (None, "active".to_owned(), None, false),
            (
                Some("active".to_owned()),
                "suspended".to_owned(),
                Some("abuse".to_owned()),
                false
            ),
        ]
    );
    assert_eq!(
        audit_actions(&w.db, w.subscription.id).await,
        ["subscription.create", "subscription.suspend"]
    );
}

#[tokio::test]
async fn a_status_change_with_a_quota_replaces_it_and_none_means_unlimited() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let model = insert_model(&store, "m").await;
    let pending = subscription(alice.id, &model, Pending);
    store
        .insert_subscription(
            &pending,
            &audit("subscription.request", "subscription", pending.id),
        )
        .await
        .unwrap();
    let granted = Limits {
        max_budget: Some(money("12.345678901")),
        budget_duration: None,
        tpm_limit: None,
        rpm_limit: Some(5),
    };

    let approved = store
        .change_subscription_status(
            pending.id,
            Pending,
            Active,
            None,
            Some(granted.clone()),
            at(1),
            &audit("subscription.approve", "subscription", pending.id),
        )
        .await
        .unwrap();

    assert_eq!(approved.quota, granted);
    assert_eq!(
        store
            .get_subscription(pending.id)
            .await
            .unwrap()
            .unwrap()
            .quota,
        granted
    );
}

#[tokio::test]
async fn a_status_change_from_a_status_the_subscription_is_not_in_is_not_found_and_changes_nothing()
{
    let w = world().await;

    for from in [Pending, Cancelled, Suspended, Rejected] {
        let result = w
            .store
            .change_subscription_status(
                w.subscription.id,
                from,
                SubscriptionStatus::Active,
                None,
                Some(Limits::UNLIMITED),
                at(9),
                &audit("subscription.approve", "subscription", w.subscription.id),
            )
            .await;
        assert_eq!(result, Err(StoreError::NotFound), "from {from:?}");
    }
    let unknown = w
        .store
        .change_subscription_status(
            SubscriptionId::new(),
            Active,
            Cancelled,
            None,
            None,
            at(9),
            &audit("subscription.cancel", "subscription", "x"),
        )
        .await;
    assert_eq!(unknown, Err(StoreError::NotFound));

    assert_eq!(
        w.store.get_subscription(w.subscription.id).await.unwrap(),
        Some(w.subscription.clone())
    );
    assert_eq!(history(&w.db, w.subscription.id).await.len(), 1);
    assert_eq!(
        audit_actions(&w.db, w.subscription.id).await,
        ["subscription.create"]
    );
}

#[tokio::test]
async fn count_live_keys_counts_provisioning_active_and_retiring_keys_only() {
    let w = world().await;
    let other_model = insert_model(&w.store, "other").await;
    let other = subscribe(&w.store, w.user.id, &other_model).await;
    let mut ids = Vec::new();
    for name in [
        "provisioning",
        "active",
        "retiring",
        "revoked",
        "failed",
        "elsewhere",
    ] {
        let subscriptions = if name == "elsewhere" {
            vec![other.id]
        } else {
            vec![w.subscription.id, other.id]
        };
        let key = new_key(w.user.id, name, &subscriptions);
        insert_key(&w.store, &key).await;
        ids.push((name, key.id));
    }
    for (name, id) in &ids {
        match *name {
            "active" => {
                w.store
                    .activate_key(*id, at(1), &[], &audit("a", "api_key", id))
                    .await
                    .unwrap();
            }
            "retiring" => {
                sql(
                    &w.db,
                    &format!("UPDATE api_keys SET status = 'retiring', retire_at = now() WHERE id = '{id}'"),
                )
                .await
                .unwrap();
            }
            "revoked" => {
                w.store
                    .activate_key(*id, at(1), &[], &audit("a", "api_key", id))
                    .await
                    .unwrap();
                w.store
                    .revoke_key(*id, at(2), &audit("r", "api_key", id))
                    .await
                    .unwrap();
            }
            "failed" => {
                w.store
                    .fail_key(*id, "boom", at(1), &audit("f", "api_key", id))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    let statuses: Vec<_> = w
        .store
        .list_keys(w.user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| s.is_live()).count(), 4);
    assert!(statuses.contains(&ApiKeyStatus::Revoked));

    assert_eq!(w.store.count_live_keys(w.subscription.id).await.unwrap(), 3);
    assert_eq!(w.store.count_live_keys(other.id).await.unwrap(), 4);
    assert_eq!(
        w.store
            .count_live_keys(SubscriptionId::new())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_quota_change_replaces_the_quota_of_an_active_or_suspended_subscription_with_its_audit_event(
) {
    let w = world().await;
    let quota = limits("5", "1d", 1_000, 10);

    let changed = w
        .store
        .change_subscription_quota(
            w.subscription.id,
            &quota,
            at(10),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    assert_eq!(changed.quota, quota);
    assert_eq!((changed.status, changed.updated_at), (Active, at(10)));
    assert_eq!(
        w.store.get_subscription(w.subscription.id).await.unwrap(),
        Some(changed)
    );
    assert_eq!(
        audit_actions(&w.db, w.subscription.id).await,
        ["subscription.create", "subscription.quota"]
    );
    assert_eq!(
        history(&w.db, w.subscription.id).await.len(),
        1,
        "the status did not change"
    );

    w.store
        .change_subscription_status(
            w.subscription.id,
            Active,
            Suspended,
            None,
            None,
            at(20),
            &audit("subscription.suspend", "subscription", w.subscription.id),
        )
        .await
        .unwrap();
    let unlimited = w
        .store
        .change_subscription_quota(
            w.subscription.id,
            &Limits::default(),
            at(30),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();
    assert_eq!(
        (unlimited.status, unlimited.quota),
        (Suspended, Limits::default())
    );
}

#[tokio::test]
async fn a_quota_change_of_a_pending_cancelled_or_rejected_subscription_is_not_found_and_changes_nothing(
) {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    for (model, from, to) in [
        ("openai/a", Pending, Pending),
        ("openai/b", Active, Cancelled),
        ("openai/c", Pending, Rejected),
    ] {
        let model = insert_model(&store, model).await;
        let subscription = subscription(alice.id, &model, from);
        store
            .insert_subscription(
                &subscription,
                &audit("subscription.create", "subscription", subscription.id),
            )
            .await
            .unwrap();
        if from != to {
            store
                .change_subscription_status(
                    subscription.id,
                    from,
                    to,
                    None,
                    None,
                    at(5),
                    &audit("subscription.end", "subscription", subscription.id),
                )
                .await
                .unwrap();
        }
        let before = store.get_subscription(subscription.id).await.unwrap();
        let actions = audit_actions(&db, subscription.id).await;
        let jobs = user_jobs_of(&db, alice.id).await;
        let version = access_version(&store, alice.id).await;

        let result = store
            .change_subscription_quota(
                subscription.id,
                &limits("5", "1d", 1_000, 10),
                at(10),
                &audit("subscription.quota", "subscription", subscription.id),
            )
            .await;

        assert_eq!(result, Err(StoreError::NotFound), "{to:?}");
        assert_eq!(
            store.get_subscription(subscription.id).await.unwrap(),
            before
        );
        assert_eq!(audit_actions(&db, subscription.id).await, actions);
        assert_eq!(user_jobs_of(&db, alice.id).await, jobs);
        assert_eq!(access_version(&store, alice.id).await, version);
    }
    assert_eq!(
        store
            .change_subscription_quota(
                SubscriptionId::new(),
                &Limits::default(),
                at(10),
                &audit("subscription.quota", "subscription", "unknown"),
            )
            .await,
        Err(StoreError::NotFound)
    );
}

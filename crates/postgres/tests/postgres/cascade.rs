//! What a subscription's status change does to the keys bound to it.

use crate::common::*;
use keyport_domain::audit::AuditEvent;
use keyport_domain::ids::{ApiKeyId, SubscriptionId};
use keyport_domain::keys::{ApiKey, ApiKeyStatus, SyncState};
use keyport_domain::keys::{ApiKeyStore, KeyEffects};
use keyport_domain::subscriptions::SubscriptionStatus::{Active, Cancelled, Pending, Suspended};
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::users::Actor;
use keyport_domain::StoreError;
use serde_json::json;

/// A user's keys: (only bound to the world's subscription, also bound to a second one, retiring and
/// bound to it only, already revoked, bound elsewhere only).
struct Keys {
    only: ApiKeyId,
    shared: ApiKeyId,
    retiring: ApiKeyId,
    revoked: ApiKeyId,
    elsewhere: ApiKeyId,
    second: SubscriptionId,
}

#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn keys(w: &World) -> Keys {
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &claude).await.id;
    let mut ids = Vec::new();
    for (name, subscriptions) in [
        ("only", vec![w.subscription.id]),
        ("shared", vec![w.subscription.id, second]),
        ("retiring", vec![w.subscription.id]),
        ("revoked", vec![w.subscription.id]),
        ("elsewhere", vec![second]),
    ] {
        let mut key = new_key(w.user.id, name, &subscriptions);
        key.created_at = at(i64::try_from(ids.len()).unwrap());
        insert_active_key(&w.store, &key).await;
        ids.push(key.id);
    }
    make_retiring(&w.db, ids[2], at(3_600)).await;
    w.store
        .revoke_key(ids[3], at(2), &audit("api_key.revoke", "api_key", ids[3]))
        .await
        .unwrap();
    Keys {
        only: ids[0],
        shared: ids[1],
        retiring: ids[2],
        revoked: ids[3],
        elsewhere: ids[4],
        second,
    }
}

#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn all_keys(w: &World) -> Vec<ApiKey> {
    w.store.list_keys(w.user.id).await.unwrap()
}

#[tokio::test]
async fn a_cascading_cancellation_revokes_the_revoke_list_and_queues_jobs_for_both_lists() {
    let w = world().await;
    let k = keys(&w).await;
    let admin = insert_user(&w.store, "admin").await;
    let event = AuditEvent::by(
        &Actor::user(admin.id),
        "subscription.cancel",
        "subscription",
        w.subscription.id,
        at(10),
    );
    let effects = KeyEffects {
        revoke: vec![k.only, k.retiring, k.revoked, k.only],
        converge: vec![k.shared],
    };

    let cancelled = w
        .store
        .change_subscription_status_cascading(
            w.subscription.id,
            Active,
            Cancelled,
            Some("no longer needed".to_owned()),
            &effects,
            at(10),
            &event,
        )
        .await
        .unwrap();

    assert_eq!(cancelled.status, Cancelled);
    assert_eq!(cancelled.status_reason.as_deref(), Some("no longer needed"));
    assert_eq!(cancelled.quota, w.subscription.quota, "the quota is kept");
    assert_eq!(
        history(&w.db, w.subscription.id).await.last(),
        Some(&(
            Some("active".to_owned()),
            "cancelled".to_owned(),
            Some("no longer needed".to_owned()),
            true
        ))
    );
    assert_eq!(
        audit_actions(&w.db, w.subscription.id).await,
        ["subscription.create", "subscription.cancel"]
    );

    for id in [k.only, k.retiring] {
        let key = w.store.get_key(id).await.unwrap().unwrap();
        assert_eq!(key.status, ApiKeyStatus::Revoked);
        assert_eq!(key.revoked_at, Some(at(10)));
        assert_eq!(key.retire_at, None);
        assert_eq!(key.sync_state, SyncState::Pending);
        assert!(
            key.models.is_empty(),
            "a cancelled subscription gives no model"
        );
        let events = audit_events_of(&w.db, id).await;
        let (action, actor, _, after) = events.last().unwrap();
        assert_eq!(action, "api_key.revoke");
        assert_eq!(
            *actor,
            Some(admin.id.0),
            "revoked by the admin who cancelled"
        );
        assert_eq!(
            after.as_ref().and_then(|a| a.get("subscription_id")),
            Some(&json!(w.subscription.id))
        );
    }
    let already = w.store.get_key(k.revoked).await.unwrap().unwrap();
    assert_eq!(
        already.revoked_at,
        Some(at(2)),
        "the first revocation stands"
    );
    assert_eq!(
        audit_actions(&w.db, k.revoked).await.len(),
        3,
        "no second revocation event"
    );

    let shared = w.store.get_key(k.shared).await.unwrap().unwrap();
    assert_eq!(shared.status, ApiKeyStatus::Active);
    assert_eq!(shared.sync_state, SyncState::Pending);
    assert_eq!(shared.subscription_ids.len(), 2, "still bound to both");
    assert_eq!(shared.models.len(), 1, "only the active one gives a model");

    for id in [k.only, k.retiring, k.shared] {
        assert_eq!(pending_jobs_of(&w.db, id).await, [at(10)]);
    }
    // Queued for every key in the revoke list; the revoked key's earlier job already was due earlier.
    assert_eq!(pending_jobs_of(&w.db, k.revoked).await, [at(2)]);
    assert!(jobs_of(&w.db, k.elsewhere).await.is_empty());
    let elsewhere = w.store.get_key(k.elsewhere).await.unwrap().unwrap();
    assert_eq!(elsewhere.sync_state, SyncState::Synced);
    assert_eq!(w.store.count_live_keys(k.second).await.unwrap(), 2);
}

#[tokio::test]
async fn a_cascading_change_from_a_status_the_subscription_is_not_in_is_not_found_and_changes_nothing(
) {
    let w = world().await;
    let k = keys(&w).await;
    let before = all_keys(&w).await;
    let effects = KeyEffects {
        revoke: vec![k.only, k.retiring],
        converge: vec![k.shared],
    };

    for (id, from) in [
        (w.subscription.id, Pending),
        (w.subscription.id, Suspended),
        (SubscriptionId::new(), Active),
    ] {
        let result = w
            .store
            .change_subscription_status_cascading(
                id,
                from,
                Cancelled,
                None,
                &effects,
                at(10),
                &audit("subscription.cancel", "subscription", id),
            )
            .await;
        assert_eq!(result, Err(StoreError::NotFound));
    }

    assert_eq!(all_keys(&w).await, before);
    assert_eq!(
        w.store
            .get_subscription(w.subscription.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Active
    );
    assert_eq!(history(&w.db, w.subscription.id).await.len(), 1);
    assert_eq!(
        audit_actions(&w.db, w.subscription.id).await,
        ["subscription.create"]
    );
    for id in [k.only, k.retiring, k.shared] {
        assert!(jobs_of(&w.db, id).await.is_empty());
    }
}

#[tokio::test]
async fn a_cascading_change_that_fails_half_way_leaves_neither_the_subscription_nor_the_keys_changed(
) {
    let w = world().await;
    let k = keys(&w).await;
    let before = all_keys(&w).await;
    // The last step, queuing the jobs, fails.
    sql(
        &w.db,
        "CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'jobs refused for this test'; END; $$",
    )
    .await
    .unwrap();
    sql(
        &w.db,
        "CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_jobs()",
    )
    .await
    .unwrap();

    let result = w
        .store
        .change_subscription_status_cascading(
            w.subscription.id,
            Active,
            Cancelled,
            None,
            &KeyEffects {
                revoke: vec![k.only, k.retiring],
                converge: vec![k.shared],
            },
            at(10),
            &audit("subscription.cancel", "subscription", w.subscription.id),
        )
        .await;

    assert!(
        matches!(result, Err(StoreError::Unexpected(ref m)) if m.contains("jobs refused")),
        "{result:?}"
    );
    assert_eq!(all_keys(&w).await, before);
    assert_eq!(
        w.store
            .get_subscription(w.subscription.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Active
    );
    assert_eq!(history(&w.db, w.subscription.id).await.len(), 1);
    assert_eq!(
        audit_actions(&w.db, w.subscription.id).await,
        ["subscription.create"]
    );
    assert_eq!(
        audit_actions(&w.db, k.only).await,
        ["api_key.create", "api_key.activate"]
    );
}

#[tokio::test]
async fn a_cascading_change_with_no_effects_is_a_plain_status_change() {
    let w = world().await;
    let k = keys(&w).await;
    let before = all_keys(&w).await;

    let suspended = w
        .store
        .change_subscription_status_cascading(
            w.subscription.id,
            Active,
            Suspended,
            None,
            &KeyEffects::default(),
            at(10),
            &audit("subscription.suspend", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    assert_eq!(suspended.status, Suspended);
    let after = all_keys(&w).await;
    assert_eq!(after.len(), before.len());
    for (after, before) in after.iter().zip(&before) {
        assert_eq!(
            (after.status, after.sync_state),
            (before.status, before.sync_state)
        );
    }
    assert!(jobs_of(&w.db, k.only).await.is_empty());
}

#[tokio::test]
async fn keys_bound_to_answers_the_active_and_retiring_keys_with_all_their_subscriptions_and_models(
) {
    let w = world().await;
    let k = keys(&w).await;
    let provisioning = new_key(w.user.id, "provisioning", &[w.subscription.id]);
    insert_key(&w.store, &provisioning).await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    insert_active_key(&w.store, &new_key(bob.id, "bob's", &[bobs.id])).await;

    let bound = w.store.keys_bound_to(w.subscription.id).await.unwrap();

    let ids: Vec<_> = bound.iter().map(|key| key.id).collect();
    assert_eq!(ids, [k.only, k.shared, k.retiring], "oldest first");
    for key in &bound {
        assert_eq!(w.store.get_key(key.id).await.unwrap().as_ref(), Some(key));
    }
    let shared = &bound[1];
    assert_eq!(shared.subscription_ids.len(), 2);
    assert_eq!(shared.models.len(), 2);
    assert_eq!(
        w.store
            .keys_bound_to(k.second)
            .await
            .unwrap()
            .iter()
            .map(|key| key.id)
            .collect::<Vec<_>>(),
        [k.shared, k.elsewhere]
    );
    assert!(w
        .store
        .keys_bound_to(SubscriptionId::new())
        .await
        .unwrap()
        .is_empty());
}

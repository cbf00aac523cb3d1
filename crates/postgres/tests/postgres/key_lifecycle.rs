//! The durable key lifecycle: updates, rotations, status changes and expiry, each with its job.

use crate::common::*;
use keyport_domain::ids::ApiKeyId;
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::{ApiKeyStatus, KeyUpdate, SyncState};
use keyport_domain::limits::Limits;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::{ConflictKind, StoreError};
use serde_json::json;

fn live_name_conflict<T>() -> Result<T, StoreError> {
    Err(StoreError::Conflict(ConflictKind::KeyNameTaken))
}

#[tokio::test]
async fn revoking_queues_a_converge_job_in_the_same_transaction() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let retiring = new_key(w.user.id, "old", &[w.subscription.id]);
    insert_active_key(&w.store, &retiring).await;
    make_retiring(&w.db, retiring.id, at(3_600)).await;
    let provisioning = new_key(w.user.id, "new", &[w.subscription.id]);
    insert_key(&w.store, &provisioning).await;

    for id in [key.id, retiring.id] {
        let revoked = w
            .store
            .revoke_key(id, at(9), &audit("api_key.revoke", "api_key", id))
            .await
            .unwrap();
        assert_eq!(revoked.retire_at, None, "a revoked key has no deadline");
        assert_eq!(pending_jobs_of(&w.db, id).await, [at(9)]);
    }

    assert_eq!(
        w.store
            .revoke_key(
                provisioning.id,
                at(9),
                &audit("api_key.revoke", "api_key", provisioning.id)
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert!(jobs_of(&w.db, provisioning.id).await.is_empty());
}

#[tokio::test]
async fn updating_a_key_changes_the_given_fields_marks_it_pending_and_queues_a_job() {
    let w = world().await;
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &claude).await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let update = KeyUpdate {
        name: Some("deploy".to_owned()),
        limits: Some(limits("20", "1mo", 2_000, 120)),
        // Duplicates are harmless.
        subscription_ids: Some(vec![second.id, second.id]),
        expires_at: Some(Some(at(7_200))),
    };

    let updated = w
        .store
        .update_key(
            key.id,
            &update,
            at(10),
            &audit("api_key.update", "api_key", key.id),
        )
        .await
        .unwrap();

    assert_eq!(updated.name, "deploy");
    assert_eq!(updated.limits, limits("20", "1mo", 2_000, 120));
    assert_eq!(updated.subscription_ids, [second.id]);
    assert_eq!(updated.models, [claude]);
    assert_eq!(updated.expires_at, Some(at(7_200)));
    assert_eq!(updated.status, ApiKeyStatus::Active);
    assert_eq!(updated.sync_state, SyncState::Pending);
    assert_eq!(updated.synced_at, Some(at(1)), "the last sync is kept");
    assert_eq!(updated.updated_at, at(10));
    assert_eq!(w.store.get_key(key.id).await.unwrap(), Some(updated));
    assert_eq!(pending_jobs_of(&w.db, key.id).await, [at(10)]);
    assert_eq!(
        audit_actions(&w.db, key.id).await,
        ["api_key.create", "api_key.activate", "api_key.update"]
    );
    assert!(w
        .store
        .live_key_name_taken(w.user.id, "deploy")
        .await
        .unwrap());
    assert!(!w.store.live_key_name_taken(w.user.id, "ci").await.unwrap());
}

#[tokio::test]
async fn an_update_leaves_what_it_does_not_name_and_can_make_a_key_unlimited_and_never_expiring() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;

    let renamed = w
        .store
        .update_key(
            key.id,
            &KeyUpdate {
                name: Some("CI".to_owned()),
                ..KeyUpdate::default()
            },
            at(10),
            &audit("api_key.update", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "CI", "its own name in another case is free");
    assert_eq!(renamed.limits, key.limits);
    assert_eq!(renamed.subscription_ids, [w.subscription.id]);
    assert_eq!(renamed.expires_at, key.expires_at);

    let unlimited = w
        .store
        .update_key(
            key.id,
            &KeyUpdate {
                limits: Some(Limits::default()),
                subscription_ids: Some(vec![]),
                expires_at: Some(None),
                ..KeyUpdate::default()
            },
            at(20),
            &audit("api_key.update", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(unlimited.name, "CI");
    assert_eq!(unlimited.limits, Limits::default());
    assert!(unlimited.subscription_ids.is_empty() && unlimited.models.is_empty());
    assert_eq!(unlimited.expires_at, None);
    assert_eq!(
        pending_jobs_of(&w.db, key.id).await,
        [at(10)],
        "one pending job, due at the earlier time"
    );
}

#[tokio::test]
async fn only_an_active_key_can_be_updated_and_a_refused_update_changes_nothing() {
    let w = world().await;
    let provisioning = new_key(w.user.id, "new", &[w.subscription.id]);
    insert_key(&w.store, &provisioning).await;
    let retiring = new_key(w.user.id, "old", &[w.subscription.id]);
    insert_active_key(&w.store, &retiring).await;
    make_retiring(&w.db, retiring.id, at(3_600)).await;

    for id in [provisioning.id, retiring.id, ApiKeyId::new()] {
        let before = w.store.get_key(id).await.unwrap();
        let result = w
            .store
            .update_key(
                id,
                &KeyUpdate {
                    name: Some("renamed".to_owned()),
                    ..KeyUpdate::default()
                },
                at(10),
                &audit("api_key.update", "api_key", id),
            )
            .await;
        assert_eq!(result, Err(StoreError::NotFound));
        assert_eq!(w.store.get_key(id).await.unwrap(), before);
        assert!(jobs_of(&w.db, id).await.is_empty());
        assert!(!audit_actions(&w.db, id)
            .await
            .contains(&"api_key.update".to_owned()));
    }
}

#[tokio::test]
async fn an_update_to_a_name_a_provisioning_or_active_key_holds_conflicts_but_a_retiring_ones_is_free(
) {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let active = new_key(w.user.id, "Prod", &[w.subscription.id]);
    insert_active_key(&w.store, &active).await;
    insert_key(
        &w.store,
        &new_key(w.user.id, "staging", &[w.subscription.id]),
    )
    .await;
    let retiring = new_key(w.user.id, "legacy", &[w.subscription.id]);
    insert_active_key(&w.store, &retiring).await;
    make_retiring(&w.db, retiring.id, at(3_600)).await;
    let rename = |name: &str| KeyUpdate {
        name: Some(name.to_owned()),
        limits: Some(Limits::default()),
        ..KeyUpdate::default()
    };

    for taken in ["prod", "STAGING"] {
        let result = w
            .store
            .update_key(
                key.id,
                &rename(taken),
                at(10),
                &audit("api_key.update", "api_key", key.id),
            )
            .await;
        assert_eq!(result, live_name_conflict());
    }
    let unchanged = w.store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.name.as_str(), &unchanged.limits),
        ("ci", &key.limits)
    );
    assert!(jobs_of(&w.db, key.id).await.is_empty());

    let renamed = w
        .store
        .update_key(
            key.id,
            &rename("legacy"),
            at(11),
            &audit("api_key.update", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "legacy");
}

#[tokio::test]
async fn an_update_binding_a_key_to_another_users_subscription_is_not_found_and_changes_nothing() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let before = w.store.get_key(key.id).await.unwrap();

    let result = w
        .store
        .update_key(
            key.id,
            &KeyUpdate {
                name: Some("stolen".to_owned()),
                subscription_ids: Some(vec![bobs.id]),
                ..KeyUpdate::default()
            },
            at(10),
            &audit("api_key.update", "api_key", key.id),
        )
        .await;

    assert_eq!(result, Err(StoreError::NotFound));
    assert_eq!(w.store.get_key(key.id).await.unwrap(), before);
    assert!(jobs_of(&w.db, key.id).await.is_empty());
}

#[tokio::test]
async fn a_rotations_new_key_cannot_be_provisioned_under_the_name_its_active_predecessor_holds() {
    let w = world().await;
    let old = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &old).await;
    let successor = new_key(w.user.id, "CI", &[w.subscription.id]);

    let result = w
        .store
        .insert_provisioning_key(
            &successor,
            None,
            &audit("api_key.create", "api_key", successor.id),
        )
        .await;

    assert_eq!(result, live_name_conflict());
}

#[tokio::test]
async fn completing_a_rotation_activates_the_new_key_under_the_old_name_and_retires_the_old_one() {
    let w = world().await;
    let old = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &old).await;
    let new = new_key(w.user.id, "ci (rotating)", &[w.subscription.id]);
    insert_key(&w.store, &new).await;
    let event = audit("api_key.rotate", "api_key", old.id);

    let active = w
        .store
        .complete_rotation(new.id, old.id, at(3_600), at(10), &event)
        .await
        .unwrap();

    assert_eq!(active.id, new.id);
    assert_eq!(active.name, "ci", "the new key takes the old key's name");
    assert_eq!(active.status, ApiKeyStatus::Active);
    assert_eq!(active.sync_state, SyncState::Synced);
    assert_eq!(active.synced_at, Some(at(10)));
    assert_eq!((active.retire_at, active.replaced_by), (None, None));
    assert_eq!(w.store.get_key(new.id).await.unwrap(), Some(active));

    let retiring = w.store.get_key(old.id).await.unwrap().unwrap();
    assert_eq!(retiring.status, ApiKeyStatus::Retiring);
    assert_eq!(retiring.name, "ci");
    assert_eq!(retiring.retire_at, Some(at(3_600)));
    assert_eq!(retiring.replaced_by, Some(new.id));
    assert_eq!(retiring.updated_at, at(10));
    assert_eq!(
        pending_jobs_of(&w.db, old.id).await,
        [at(3_600)],
        "the old key is deleted at its deadline"
    );
    assert!(jobs_of(&w.db, new.id).await.is_empty());
    assert_eq!(
        audit_actions(&w.db, old.id).await,
        ["api_key.create", "api_key.activate", "api_key.rotate"]
    );

    // Only the new key holds the name now.
    assert!(w.store.live_key_name_taken(w.user.id, "CI").await.unwrap());
    let third = new_key(w.user.id, "ci", &[w.subscription.id]);
    assert_eq!(
        w.store
            .insert_provisioning_key(&third, None, &audit("api_key.create", "api_key", third.id))
            .await,
        live_name_conflict()
    );
    assert_eq!(w.store.count_live_keys(w.subscription.id).await.unwrap(), 2);
}

#[tokio::test]
async fn a_rotation_is_not_found_and_changes_nothing_unless_new_is_provisioning_and_old_active_and_both_the_same_users(
) {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    let active = new_key(w.user.id, "active", &[w.subscription.id]);
    insert_active_key(&w.store, &active).await;
    let other_active = new_key(w.user.id, "other", &[w.subscription.id]);
    insert_active_key(&w.store, &other_active).await;
    let provisioning = new_key(w.user.id, "provisioning", &[w.subscription.id]);
    insert_key(&w.store, &provisioning).await;
    let revoked = new_key(w.user.id, "revoked", &[w.subscription.id]);
    insert_active_key(&w.store, &revoked).await;
    w.store
        .revoke_key(
            revoked.id,
            at(2),
            &audit("api_key.revoke", "api_key", revoked.id),
        )
        .await
        .unwrap();
    let bobs_new = new_key(bob.id, "bob's", &[bobs.id]);
    insert_key(&w.store, &bobs_new).await;
    let snapshot = || async {
        let mut keys = w.store.list_keys(w.user.id).await.unwrap();
        keys.extend(w.store.list_keys(bob.id).await.unwrap());
        keys
    };
    let before = snapshot().await;

    for (new, old) in [
        (provisioning.id, revoked.id),
        (other_active.id, active.id),
        (bobs_new.id, active.id),
        (ApiKeyId::new(), active.id),
        (provisioning.id, ApiKeyId::new()),
    ] {
        let result = w
            .store
            .complete_rotation(
                new,
                old,
                at(3_600),
                at(10),
                &audit("api_key.rotate", "api_key", old),
            )
            .await;
        assert_eq!(result, Err(StoreError::NotFound), "{new} replacing {old}");
    }

    assert_eq!(snapshot().await, before);
    for key in [active.id, provisioning.id, bobs_new.id] {
        assert!(pending_jobs_of(&w.db, key).await.is_empty());
        assert!(!audit_actions(&w.db, key)
            .await
            .contains(&"api_key.rotate".to_owned()));
    }
}

#[tokio::test]
async fn a_key_an_administrator_blocked_meanwhile_is_not_replaced_by_a_rotation() {
    let w = world().await;
    let old = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &old).await;
    let new = new_key(w.user.id, "ci (rotating)", &[w.subscription.id]);
    insert_key(&w.store, &new).await;
    w.store
        .set_key_block(
            old.id,
            Some("leaked".into()),
            at(5),
            &audit("api_key.block", "api_key", old.id),
        )
        .await
        .unwrap();

    let result = w
        .store
        .complete_rotation(
            new.id,
            old.id,
            at(3_600),
            at(10),
            &audit("api_key.rotate", "api_key", old.id),
        )
        .await;

    assert_eq!(result, Err(StoreError::NotFound));
    let still = w.store.get_key(old.id).await.unwrap().unwrap();
    assert_eq!(
        (still.status, still.is_blocked()),
        (ApiKeyStatus::Active, true)
    );
    assert_eq!(
        w.store.get_key(new.id).await.unwrap().unwrap().status,
        ApiKeyStatus::Provisioning,
        "nothing changed: the successor is left for the provisioning's clean-up"
    );
}

#[tokio::test]
async fn a_status_change_moves_the_key_from_any_given_status_and_queues_a_job() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;

    let lost = w
        .store
        .change_key_status(
            key.id,
            &[ApiKeyStatus::Active, ApiKeyStatus::Retiring],
            ApiKeyStatus::Lost,
            at(10),
            &audit("api_key.lost", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(lost.status, ApiKeyStatus::Lost);
    assert_eq!(lost.sync_state, SyncState::Pending);
    assert_eq!(lost.revoked_at, None);
    assert_eq!(lost.updated_at, at(10));
    assert_eq!(pending_jobs_of(&w.db, key.id).await, [at(10)]);
    assert!(
        !w.store.live_key_name_taken(w.user.id, "ci").await.unwrap(),
        "a lost key gives its name up"
    );

    let revoked = w
        .store
        .change_key_status(
            key.id,
            &[ApiKeyStatus::Lost],
            ApiKeyStatus::Revoked,
            at(20),
            &audit("api_key.revoke", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, ApiKeyStatus::Revoked);
    assert_eq!(revoked.revoked_at, Some(at(20)));
    assert_eq!(w.store.get_key(key.id).await.unwrap(), Some(revoked));
    assert_eq!(pending_jobs_of(&w.db, key.id).await, [at(10)]);
    assert_eq!(
        audit_actions(&w.db, key.id).await,
        [
            "api_key.create",
            "api_key.activate",
            "api_key.lost",
            "api_key.revoke"
        ]
    );
}

#[tokio::test]
async fn a_retiring_key_that_leaves_retiring_gives_up_its_deadline_and_keeps_its_successor() {
    let w = world().await;
    let old = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &old).await;
    let new = new_key(w.user.id, "next", &[w.subscription.id]);
    insert_key(&w.store, &new).await;
    w.store
        .complete_rotation(
            new.id,
            old.id,
            at(100),
            at(10),
            &audit("api_key.rotate", "api_key", old.id),
        )
        .await
        .unwrap();

    let retired = w
        .store
        .change_key_status(
            old.id,
            &[ApiKeyStatus::Retiring],
            ApiKeyStatus::Revoked,
            at(100),
            &audit("api_key.retire", "api_key", old.id),
        )
        .await
        .unwrap();

    assert_eq!(retired.status, ApiKeyStatus::Revoked);
    assert_eq!(retired.retire_at, None);
    assert_eq!(retired.revoked_at, Some(at(100)));
    assert_eq!(retired.replaced_by, Some(new.id));
    assert_eq!(pending_jobs_of(&w.db, old.id).await, [at(100)]);
}

#[tokio::test]
async fn a_status_change_is_not_found_and_changes_nothing_when_the_key_is_in_none_of_from() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let before = w.store.get_key(key.id).await.unwrap();

    for id in [key.id, ApiKeyId::new()] {
        let result = w
            .store
            .change_key_status(
                id,
                &[ApiKeyStatus::Active, ApiKeyStatus::Retiring],
                ApiKeyStatus::Revoked,
                at(10),
                &audit("api_key.revoke", "api_key", id),
            )
            .await;
        assert_eq!(result, Err(StoreError::NotFound));
    }
    assert_eq!(w.store.get_key(key.id).await.unwrap(), before);
    assert!(jobs_of(&w.db, key.id).await.is_empty());
    assert_eq!(audit_actions(&w.db, key.id).await, ["api_key.create"]);
}

#[tokio::test]
async fn a_status_change_to_retiring_or_against_the_state_machine_is_refused_before_anything_happens(
) {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let before = w.store.get_key(key.id).await.unwrap();

    for (from, to) in [
        (vec![ApiKeyStatus::Active], ApiKeyStatus::Retiring),
        (vec![ApiKeyStatus::Active], ApiKeyStatus::Provisioning),
        (
            vec![ApiKeyStatus::Active, ApiKeyStatus::Revoked],
            ApiKeyStatus::Expired,
        ),
        (vec![ApiKeyStatus::Active], ApiKeyStatus::Failed),
    ] {
        let result = w
            .store
            .change_key_status(
                key.id,
                &from,
                to,
                at(10),
                &audit("api_key.change", "api_key", key.id),
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::Unexpected(_))),
            "{from:?} → {to:?}: {result:?}"
        );
    }
    assert_eq!(w.store.get_key(key.id).await.unwrap(), before);
    assert!(jobs_of(&w.db, key.id).await.is_empty());
}

#[tokio::test]
async fn expiring_touches_only_active_and_retiring_keys_at_or_past_their_expiry() {
    let w = world().await;
    let mut keys = Vec::new();
    for (name, expires_at) in [
        ("active due", Some(at(100))),
        ("active long past", Some(at(-100))),
        ("active not yet", Some(at(101))),
        ("active never", None),
        ("retiring due", Some(at(50))),
        ("provisioning due", Some(at(50))),
        ("revoked due", Some(at(50))),
        ("failed due", Some(at(50))),
    ] {
        let mut key = new_key(w.user.id, name, &[w.subscription.id]);
        key.expires_at = expires_at;
        if name.starts_with("provisioning") || name.starts_with("failed") {
            insert_key(&w.store, &key).await;
        } else {
            insert_active_key(&w.store, &key).await;
        }
        if name.starts_with("retiring") {
            make_retiring(&w.db, key.id, at(3_600)).await;
        }
        if name.starts_with("revoked") {
            w.store
                .revoke_key(key.id, at(2), &audit("api_key.revoke", "api_key", key.id))
                .await
                .unwrap();
        }
        if name.starts_with("failed") {
            w.store
                .fail_key(
                    key.id,
                    "no",
                    at(2),
                    &audit("api_key.fail", "api_key", key.id),
                )
                .await
                .unwrap();
        }
        keys.push((name, key.id));
    }
    let before: Vec<_> = w.store.list_keys(w.user.id).await.unwrap();

    let mut expired = w.store.expire_due_keys(at(100)).await.unwrap();

    let due = ["active due", "active long past", "retiring due"];
    let mut expected: Vec<ApiKeyId> = keys
        .iter()
        .filter(|(name, _)| due.contains(name))
        .map(|(_, id)| *id)
        .collect();
    expired.sort_by_key(|id| id.0);
    expected.sort_by_key(|id| id.0);
    assert_eq!(expired, expected);
    for (name, id) in &keys {
        let key = w.store.get_key(*id).await.unwrap().unwrap();
        if due.contains(name) {
            assert_eq!(key.status, ApiKeyStatus::Expired, "{name}");
            assert_eq!(key.sync_state, SyncState::Pending, "{name}");
            assert_eq!((key.retire_at, key.updated_at), (None, at(100)), "{name}");
            assert_eq!(pending_jobs_of(&w.db, *id).await, [at(100)], "{name}");
            let events = audit_events_of(&w.db, id).await;
            let (action, actor, before, after) = events.last().unwrap();
            assert_eq!(action, "api_key.expire");
            assert_eq!(*actor, None, "a system event");
            let was = if name.starts_with("retiring") {
                "retiring"
            } else {
                "active"
            };
            assert_eq!(before.as_ref(), Some(&json!({ "status": was })));
            assert_eq!(after.as_ref(), Some(&json!({ "status": "expired" })));
        } else {
            let unchanged = before.iter().find(|k| k.id == *id).unwrap();
            assert_eq!(&key, unchanged, "{name}");
            assert!(
                !audit_actions(&w.db, id)
                    .await
                    .contains(&"api_key.expire".to_owned()),
                "{name}"
            );
        }
    }

    assert!(w.store.expire_due_keys(at(100)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_key_activated_after_its_subscription_was_cancelled_is_left_pending_with_a_job() {
    use keyport_domain::subscriptions::SubscriptionStatus;
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    w.store
        .change_subscription_status(
            w.subscription.id,
            SubscriptionStatus::Active,
            SubscriptionStatus::Cancelled,
            None,
            None,
            at(1),
            &audit("subscription.cancel", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    let active = w
        .store
        .activate_key(
            key.id,
            at(2),
            std::slice::from_ref(&w.subscription.model_id),
            &audit("api_key.activate", "api_key", key.id),
        )
        .await
        .unwrap();

    assert_eq!(active.models, Vec::<keyport_domain::ids::ModelId>::new());
    assert_eq!(
        active.sync_state,
        SyncState::Pending,
        "LiteLLM still holds the cancelled model"
    );
    assert_eq!(
        pending_jobs_of(&w.db, key.id).await.len(),
        1,
        "a job converges it"
    );
    assert_eq!(
        w.store.get_key(key.id).await.unwrap().unwrap().sync_state,
        SyncState::Pending
    );
}

#[tokio::test]
async fn activating_a_key_whose_subscriptions_are_all_active_queues_nothing() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let active = w
        .store
        .activate_key(
            key.id,
            at(2),
            std::slice::from_ref(&w.subscription.model_id),
            &audit("api_key.activate", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(active.sync_state, SyncState::Synced);
    assert!(jobs_of(&w.db, key.id).await.is_empty());
}

use crate::common::*;
use keyport_domain::ids::{ApiKeyId, SubscriptionId};
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::{ApiKey, ApiKeyStatus, SyncState};
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::{ConflictKind, StoreError};
use keyport_testkit::TestDb;

fn live_name_conflict<T>() -> Result<T, StoreError> {
    Err(StoreError::Conflict(ConflictKind::KeyNameTaken))
}

#[tokio::test]
async fn an_inserted_key_is_provisioning_pending_and_bound_to_its_subscriptions() {
    let w = world().await;
    let second_model = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &second_model).await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id, second.id]);

    insert_key(&w.store, &key).await;

    let stored = w.store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        ApiKey {
            id: key.id,
            user_id: w.user.id,
            name: "ci".to_owned(),
            prefix: key.prefix.clone(),
            hash: key.hash.clone(),
            litellm_alias: key.litellm_alias.clone(),
            status: ApiKeyStatus::Provisioning,
            limits: key.limits.clone(),
            expires_at: key.expires_at,
            // Ordered by model id.
            subscription_ids: vec![second.id, w.subscription.id],
            models: vec![second_model, w.model.clone()],
            spend: None,
            spend_read_at: None,
            budget_reset_at: None,
            sync_state: SyncState::Pending,
            last_sync_error: None,
            synced_at: None,
            created_at: at(0),
            updated_at: at(0),
            revoked_at: None,
            retire_at: None,
            replaced_by: None,
            blocked_at: None,
            block_reason: None,
        }
    );
    assert_eq!(audit_actions(&w.db, key.id).await, ["api_key.create"]);
}

#[tokio::test]
async fn an_unknown_key_is_none() {
    let db = TestDb::new().await;
    assert_eq!(db.store().get_key(ApiKeyId::new()).await.unwrap(), None);
}

#[tokio::test]
async fn a_live_key_name_is_unique_per_user_case_insensitively() {
    let w = world().await;
    insert_key(
        &w.store,
        &new_key(w.user.id, "Deploy", &[w.subscription.id]),
    )
    .await;
    let clash = new_key(w.user.id, "deploy", &[w.subscription.id]);

    let result = w
        .store
        .insert_provisioning_key(&clash, None, &audit("api_key.create", "api_key", clash.id))
        .await;

    assert_eq!(result, live_name_conflict());
    assert!(audit_actions(&w.db, clash.id).await.is_empty());
    assert_eq!(w.store.get_key(clash.id).await.unwrap(), None);
    assert!(w
        .store
        .live_key_name_taken(w.user.id, "DEPLOY")
        .await
        .unwrap());

    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    insert_key(&w.store, &new_key(bob.id, "deploy", &[bobs.id])).await;
}

#[tokio::test]
async fn a_name_is_free_again_once_its_key_is_revoked_or_failed() {
    let w = world().await;
    let first = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &first).await;
    w.store
        .activate_key(
            first.id,
            at(1),
            &[],
            &audit("api_key.activate", "api_key", first.id),
        )
        .await
        .unwrap();
    w.store
        .revoke_key(
            first.id,
            at(2),
            &audit("api_key.revoke", "api_key", first.id),
        )
        .await
        .unwrap();
    assert!(!w.store.live_key_name_taken(w.user.id, "ci").await.unwrap());

    let second = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &second).await;
    assert!(w.store.live_key_name_taken(w.user.id, "ci").await.unwrap());
    w.store
        .fail_key(
            second.id,
            "LiteLLM said no",
            at(3),
            &audit("api_key.fail", "api_key", second.id),
        )
        .await
        .unwrap();

    insert_key(&w.store, &new_key(w.user.id, "ci", &[w.subscription.id])).await;
}

#[tokio::test]
async fn a_known_hash_conflicts_on_api_keys_key_hash() {
    let w = world().await;
    let first = new_key(w.user.id, "one", &[w.subscription.id]);
    insert_key(&w.store, &first).await;
    let mut copy = new_key(w.user.id, "two", &[w.subscription.id]);
    copy.hash = first.hash.clone();

    let result = w
        .store
        .insert_provisioning_key(&copy, None, &audit("api_key.create", "api_key", copy.id))
        .await;

    assert_eq!(
        result,
        Err(StoreError::Conflict(ConflictKind::Other(
            "api_keys_key_hash".into()
        )))
    );
    assert!(audit_actions(&w.db, copy.id).await.is_empty());
}

#[tokio::test]
async fn a_key_cannot_be_bound_to_another_users_or_an_unknown_subscription() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;

    for subscription in [bobs.id, SubscriptionId::new()] {
        let key = new_key(w.user.id, "stolen", &[w.subscription.id, subscription]);
        let result = w
            .store
            .insert_provisioning_key(&key, None, &audit("api_key.create", "api_key", key.id))
            .await;
        assert_eq!(result, Err(StoreError::NotFound));
        assert_eq!(
            w.store.get_key(key.id).await.unwrap(),
            None,
            "nothing is left"
        );
        assert!(audit_actions(&w.db, key.id).await.is_empty());
    }
}

#[tokio::test]
async fn activation_moves_a_provisioning_key_to_active_and_synced_once() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;

    let active = w
        .store
        .activate_key(
            key.id,
            at(5),
            &[],
            &audit("api_key.activate", "api_key", key.id),
        )
        .await
        .unwrap();

    assert_eq!(active.status, ApiKeyStatus::Active);
    assert_eq!(active.sync_state, SyncState::Synced);
    assert_eq!(active.synced_at, Some(at(5)));
    assert_eq!(active.updated_at, at(5));
    assert_eq!(active.subscription_ids, [w.subscription.id]);
    assert_eq!(active.models, std::slice::from_ref(&w.model));
    assert_eq!(w.store.get_key(key.id).await.unwrap(), Some(active));

    let again = w
        .store
        .activate_key(
            key.id,
            at(6),
            &[],
            &audit("api_key.activate", "api_key", key.id),
        )
        .await;
    assert_eq!(again, Err(StoreError::NotFound));
    assert_eq!(
        audit_actions(&w.db, key.id).await,
        ["api_key.create", "api_key.activate"]
    );
}

#[tokio::test]
async fn failing_a_key_keeps_the_reason_and_only_works_while_provisioning() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;

    w.store
        .fail_key(
            key.id,
            "LiteLLM refused the budget",
            at(5),
            &audit("api_key.fail", "api_key", key.id),
        )
        .await
        .unwrap();

    let failed = w.store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(failed.status, ApiKeyStatus::Failed);
    assert_eq!(
        failed.last_sync_error.as_deref(),
        Some("LiteLLM refused the budget")
    );
    assert_eq!(
        w.store
            .fail_key(
                key.id,
                "again",
                at(6),
                &audit("api_key.fail", "api_key", key.id)
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        w.store
            .activate_key(
                key.id,
                at(6),
                &[],
                &audit("api_key.activate", "api_key", key.id)
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        audit_actions(&w.db, key.id).await,
        ["api_key.create", "api_key.fail"]
    );
}

#[tokio::test]
async fn revoking_marks_an_active_or_retiring_key_revoked_with_litellm_pending() {
    let w = world().await;
    let active = new_key(w.user.id, "active", &[w.subscription.id]);
    let retiring = new_key(w.user.id, "retiring", &[w.subscription.id]);
    for key in [&active, &retiring] {
        insert_key(&w.store, key).await;
        w.store
            .activate_key(
                key.id,
                at(1),
                &[],
                &audit("api_key.activate", "api_key", key.id),
            )
            .await
            .unwrap();
    }
    sql(
        &w.db,
        &format!(
            "UPDATE api_keys SET status = 'retiring', retire_at = now() WHERE id = '{}'",
            retiring.id
        ),
    )
    .await
    .unwrap();

    for key in [&active, &retiring] {
        let revoked = w
            .store
            .revoke_key(key.id, at(9), &audit("api_key.revoke", "api_key", key.id))
            .await
            .unwrap();
        assert_eq!(revoked.status, ApiKeyStatus::Revoked);
        assert_eq!(revoked.revoked_at, Some(at(9)));
        assert_eq!(revoked.sync_state, SyncState::Pending);
        assert_eq!(revoked.subscription_ids, [w.subscription.id]);
        assert_eq!(w.store.get_key(key.id).await.unwrap(), Some(revoked));
    }
}

#[tokio::test]
async fn revoking_a_provisioning_revoked_or_unknown_key_is_not_found_and_writes_no_audit_event() {
    let w = world().await;
    let provisioning = new_key(w.user.id, "new", &[w.subscription.id]);
    insert_key(&w.store, &provisioning).await;
    let revoked = new_key(w.user.id, "old", &[w.subscription.id]);
    insert_key(&w.store, &revoked).await;
    w.store
        .activate_key(
            revoked.id,
            at(1),
            &[],
            &audit("api_key.activate", "api_key", revoked.id),
        )
        .await
        .unwrap();
    w.store
        .revoke_key(
            revoked.id,
            at(2),
            &audit("api_key.revoke", "api_key", revoked.id),
        )
        .await
        .unwrap();

    for id in [provisioning.id, revoked.id, ApiKeyId::new()] {
        let result = w
            .store
            .revoke_key(id, at(3), &audit("api_key.revoke.again", "api_key", id))
            .await;
        assert_eq!(result, Err(StoreError::NotFound));
        assert!(!audit_actions(&w.db, id)
            .await
            .contains(&"api_key.revoke.again".to_owned()));
    }
    let still = w.store.get_key(revoked.id).await.unwrap().unwrap();
    assert_eq!(still.revoked_at, Some(at(2)), "the first revocation stands");
}

#[tokio::test]
async fn blocking_records_the_reason_and_a_job_and_changes_a_live_key_only_once() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let jobs_before = pending_jobs_of(&w.db, key.id).await.len();

    let blocked = w
        .store
        .set_key_block(
            key.id,
            Some("leaked".into()),
            at(5),
            &audit("api_key.block", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!(blocked.blocked_at, Some(at(5)));
    assert_eq!(blocked.block_reason.as_deref(), Some("leaked"));
    assert_eq!(
        blocked.status,
        ApiKeyStatus::Active,
        "blocked, still active"
    );
    assert_eq!(
        blocked.sync_state,
        SyncState::Pending,
        "LiteLLM has to follow"
    );
    assert_eq!(blocked.subscription_ids, [w.subscription.id]);
    assert_eq!(w.store.get_key(key.id).await.unwrap(), Some(blocked));
    assert_eq!(
        pending_jobs_of(&w.db, key.id).await.len(),
        jobs_before + 1,
        "a ConvergeKey job brings LiteLLM in line"
    );

    // Blocking a blocked key, or unblocking one that is not, changes nothing and records nothing.
    assert_eq!(
        w.store
            .set_key_block(
                key.id,
                Some("again".into()),
                at(6),
                &audit("api_key.block.again", "api_key", key.id),
            )
            .await,
        Err(StoreError::NotFound)
    );
    let unblocked = w
        .store
        .set_key_block(
            key.id,
            None,
            at(7),
            &audit("api_key.unblock", "api_key", key.id),
        )
        .await
        .unwrap();
    assert_eq!((unblocked.blocked_at, unblocked.block_reason), (None, None));
    assert_eq!(
        w.store
            .set_key_block(
                key.id,
                None,
                at(8),
                &audit("api_key.unblock.again", "api_key", key.id),
            )
            .await,
        Err(StoreError::NotFound)
    );

    // Only a live key: a revoked one (or an unknown one) is not found.
    w.store
        .revoke_key(key.id, at(9), &audit("api_key.revoke", "api_key", key.id))
        .await
        .unwrap();
    for id in [key.id, ApiKeyId::new()] {
        assert_eq!(
            w.store
                .set_key_block(
                    id,
                    Some("late".into()),
                    at(10),
                    &audit("api_key.block.late", "api_key", id),
                )
                .await,
            Err(StoreError::NotFound)
        );
    }
    assert_eq!(
        audit_actions(&w.db, key.id).await,
        [
            "api_key.create",
            "api_key.activate",
            "api_key.block",
            "api_key.unblock",
            "api_key.revoke"
        ]
    );
}

#[tokio::test]
async fn sync_errors_are_recorded_and_cleared_by_a_successful_sync() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    w.store
        .activate_key(
            key.id,
            at(1),
            &[],
            &audit("api_key.activate", "api_key", key.id),
        )
        .await
        .unwrap();

    w.store
        .record_key_sync_error(key.id, "too late", at(2))
        .await
        .unwrap();
    let synced = w.store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(
        (synced.sync_state, synced.last_sync_error),
        (SyncState::Synced, None),
        "a key already synced (a worker got there first) keeps no error"
    );

    w.store
        .revoke_key(key.id, at(2), &audit("api_key.revoke", "api_key", key.id))
        .await
        .unwrap();
    w.store
        .record_key_sync_error(key.id, "LiteLLM timed out", at(2))
        .await
        .unwrap();
    let pending = w.store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(pending.sync_state, SyncState::Pending);
    assert_eq!(
        pending.last_sync_error.as_deref(),
        Some("LiteLLM timed out")
    );
    assert_eq!(pending.synced_at, Some(at(1)));

    w.store.mark_key_synced(key.id, at(3)).await.unwrap();
    let synced = w.store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(synced.sync_state, SyncState::Synced);
    assert_eq!(synced.last_sync_error, None);
    assert_eq!(synced.synced_at, Some(at(3)));

    let unknown = ApiKeyId::new();
    assert_eq!(
        w.store.mark_key_synced(unknown, at(4)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        w.store.record_key_sync_error(unknown, "x", at(4)).await,
        Err(StoreError::NotFound)
    );
}

#[tokio::test]
async fn list_keys_answers_a_users_keys_newest_first_with_subscriptions_and_active_models() {
    let w = world().await;
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &claude).await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    insert_key(&w.store, &new_key(bob.id, "bob's", &[bobs.id])).await;
    let mut expected = Vec::new();
    for n in 0..20 {
        let mut key = new_key(
            w.user.id,
            &format!("key {n}"),
            &[w.subscription.id, second.id],
        );
        key.created_at = at(n);
        insert_key(&w.store, &key).await;
        expected.push(key.id);
    }
    let mut lonely = new_key(w.user.id, "unbound", &[]);
    lonely.created_at = at(-1);
    insert_key(&w.store, &lonely).await;
    w.store
        .change_subscription_status(
            second.id,
            SubscriptionStatus::Active,
            SubscriptionStatus::Cancelled,
            None,
            None,
            at(100),
            &audit("subscription.cancel", "subscription", second.id),
        )
        .await
        .unwrap();

    let keys = w.store.list_keys(w.user.id).await.unwrap();

    let ids: Vec<_> = keys.iter().map(|k| k.id).collect();
    expected.reverse();
    assert_eq!(&ids[..20], expected.as_slice());
    assert_eq!(ids[20], lonely.id);
    assert_eq!(keys.len(), 21, "bob's key is not listed");
    for key in &keys[..20] {
        assert_eq!(key.subscription_ids, [second.id, w.subscription.id]);
        assert_eq!(
            key.models,
            std::slice::from_ref(&w.model),
            "a cancelled subscription gives no model"
        );
    }
    assert!(keys[20].subscription_ids.is_empty() && keys[20].models.is_empty());
    assert!(w
        .store
        .list_keys(insert_user(&w.store, "carol").await.id)
        .await
        .unwrap()
        .is_empty());
}

//! What the reconciler reads and writes: keys by hashes, keys after a cursor, spend readings, the audit
//! log.

use crate::common::*;
use keyport_domain::audit::AuditLog;
use keyport_domain::ids::ApiKeyId;
use keyport_domain::keys::{ApiKey, ApiKeyStatus};
use keyport_domain::keys::{ApiKeyStore, SpendReading};
use keyport_domain::secret::SecretKind;
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_postgres::PgStore;
use std::collections::HashSet;

/// Sets the status of these keys with raw SQL (the lifecycle is tested elsewhere; here only the mix
/// matters).
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed setup must fail the test"
)]
async fn set_status(db: &keyport_testkit::TestDb, ids: &[ApiKeyId], status: ApiKeyStatus) {
    if ids.is_empty() {
        return;
    }
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let revoked_at = if status == ApiKeyStatus::Revoked {
        "now()"
    } else {
        "NULL"
    };
    let updated = sql(
        db,
        &format!(
            "UPDATE api_keys SET status = '{}', revoked_at = {revoked_at} WHERE id IN ({list})",
            status.as_str()
        ),
    )
    .await
    .unwrap();
    assert_eq!(updated, ids.len());
}

/// Each key as `get_key` answers it.
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed setup must fail the test"
)]
async fn as_get_key_has_them(store: &PgStore, keys: &[ApiKey]) {
    for key in keys {
        assert_eq!(
            Some(key),
            store.get_key(key.id).await.unwrap().as_ref(),
            "{}",
            key.id
        );
    }
}

#[tokio::test]
async fn keys_by_hashes_finds_the_known_keys_among_250_hashes_with_subscriptions_and_models() {
    let w = world().await;
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &claude).await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    let mut hashes = Vec::new();
    let mut expected = HashSet::new();
    let (mut active, mut revoked) = (Vec::new(), Vec::new());
    for n in 0..250 {
        if n % 5 >= 3 {
            hashes.push(secret(SecretKind::ApiKey).hash());
            continue;
        }
        let key = if n % 10 == 0 {
            new_key(w.user.id, &format!("unbound {n}"), &[])
        } else if n % 2 == 0 {
            new_key(
                w.user.id,
                &format!("key {n}"),
                &[w.subscription.id, second.id],
            )
        } else {
            new_key(bob.id, &format!("key {n}"), &[bobs.id])
        };
        insert_key(&w.store, &key).await;
        match n % 3 {
            0 => revoked.push(key.id),
            1 => active.push(key.id),
            _ => {}
        }
        hashes.push(key.hash.clone());
        expected.insert(key.id);
    }
    set_status(&w.db, &active, ApiKeyStatus::Active).await;
    set_status(&w.db, &revoked, ApiKeyStatus::Revoked).await;
    // A cancelled subscription stays bound but gives no model.
    w.store
        .change_subscription_status(
            second.id,
            SubscriptionStatus::Active,
            SubscriptionStatus::Cancelled,
            None,
            None,
            at(5),
            &audit("subscription.cancel", "subscription", second.id),
        )
        .await
        .unwrap();
    assert_eq!(hashes.len(), 250);

    let found = w.store.keys_by_hashes(&hashes).await.unwrap();

    assert_eq!(found.len(), 150);
    assert_eq!(found.iter().map(|k| k.id).collect::<HashSet<_>>(), expected);
    assert!(
        found.windows(2).all(|pair| pair[0].id.0 < pair[1].id.0),
        "in id order"
    );
    as_get_key_has_them(&w.store, &found).await;
    let alices_bound = found
        .iter()
        .find(|k| k.user_id == w.user.id && !k.subscription_ids.is_empty())
        .unwrap();
    assert_eq!(alices_bound.subscription_ids.len(), 2);
    assert_eq!(alices_bound.models, std::slice::from_ref(&w.model));
    assert!(found.iter().any(|k| k.status == ApiKeyStatus::Revoked));
    assert!(found.iter().any(|k| k.status == ApiKeyStatus::Provisioning));

    assert!(w.store.keys_by_hashes(&[]).await.unwrap().is_empty());
    assert!(w
        .store
        .keys_by_hashes(&hashes[3..5])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn keys_after_pages_through_250_keys_in_id_order_without_gaps_or_duplicates() {
    let w = world().await;
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &claude).await;
    let mut by_status: Vec<(ApiKeyId, ApiKeyStatus)> = Vec::new();
    let (mut active, mut revoked, mut expired) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..250 {
        let subscriptions = if n % 2 == 0 {
            vec![w.subscription.id]
        } else {
            vec![w.subscription.id, second.id]
        };
        let key = new_key(w.user.id, &format!("key {n}"), &subscriptions);
        insert_key(&w.store, &key).await;
        let status = match n % 4 {
            0 => {
                revoked.push(key.id);
                ApiKeyStatus::Revoked
            }
            1 => {
                active.push(key.id);
                ApiKeyStatus::Active
            }
            2 => ApiKeyStatus::Provisioning,
            _ => {
                expired.push(key.id);
                ApiKeyStatus::Expired
            }
        };
        by_status.push((key.id, status));
    }
    set_status(&w.db, &active, ApiKeyStatus::Active).await;
    set_status(&w.db, &revoked, ApiKeyStatus::Revoked).await;
    set_status(&w.db, &expired, ApiKeyStatus::Expired).await;

    let page_through = async |statuses: &[ApiKeyStatus]| {
        let mut seen: Vec<ApiKey> = Vec::new();
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = w.store.keys_after(cursor, statuses, 100).await.unwrap();
            assert!(page.len() <= 100);
            if let Some(cursor) = cursor {
                assert!(
                    page.iter().all(|k: &ApiKey| k.id.0 > cursor.0),
                    "after the cursor"
                );
            }
            pages.push(page.len());
            let Some(last) = page.last() else { break };
            cursor = Some(last.id);
            seen.extend(page);
        }
        (seen, pages)
    };
    let expected = |statuses: &[ApiKeyStatus]| {
        let mut ids: Vec<ApiKeyId> = by_status
            .iter()
            .filter(|(_, status)| statuses.contains(status))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_by_key(|id| id.0);
        ids
    };

    let (every, pages) = page_through(&ApiKeyStatus::ALL).await;
    assert_eq!(pages, [100, 100, 50, 0]);
    assert_eq!(
        every.iter().map(|k| k.id).collect::<Vec<_>>(),
        expected(&ApiKeyStatus::ALL),
        "every key once, in id order"
    );
    as_get_key_has_them(&w.store, &every).await;
    assert!(every
        .iter()
        .all(|k| !k.subscription_ids.is_empty() && !k.models.is_empty()));

    let live = [ApiKeyStatus::Provisioning, ApiKeyStatus::Active];
    let (keys, pages) = page_through(&live).await;
    assert_eq!(pages, [100, 25, 0]);
    assert_eq!(
        keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        expected(&live)
    );
    assert!(keys.iter().all(|k| live.contains(&k.status)));

    let (keys, _) = page_through(&[ApiKeyStatus::Revoked]).await;
    assert_eq!(keys.len(), 63);
    assert!(keys.iter().all(|k| k.status == ApiKeyStatus::Revoked));
    assert!(page_through(&[ApiKeyStatus::Lost]).await.0.is_empty());

    assert!(w.store.keys_after(None, &[], 100).await.unwrap().is_empty());
    assert!(w
        .store
        .keys_after(None, &ApiKeyStatus::ALL, 0)
        .await
        .unwrap()
        .is_empty());
    let first = w
        .store
        .keys_after(None, &ApiKeyStatus::ALL, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, expected(&ApiKeyStatus::ALL)[0]);
}

#[tokio::test]
async fn record_spend_sets_spend_reading_time_and_budget_reset_for_a_batch() {
    let w = world().await;
    let keys: Vec<_> = (0..3)
        .map(|n| new_key(w.user.id, &format!("key {n}"), &[w.subscription.id]))
        .collect();
    for key in &keys {
        insert_active_key(&w.store, key).await;
    }
    let (a, b, c) = (keys[0].id, keys[1].id, keys[2].id);
    let reading = |key, spend: &str, reset| SpendReading {
        key,
        spend: money(spend),
        budget_reset_at: reset,
    };
    let mut batch = vec![reading(a, "1.25", Some(at(3_600))), reading(b, "0.5", None)];
    // Unknown keys are ignored; of two readings for one key the last counts.
    batch.extend((0..200).map(|_| reading(ApiKeyId::new(), "7", None)));
    batch.push(reading(b, "2.5", Some(at(7_200))));

    w.store.record_spend(&batch, at(10)).await.unwrap();

    let get = async |id| w.store.get_key(id).await.unwrap().unwrap();
    let first = get(a).await;
    assert_eq!(first.spend, Some(money("1.25")));
    assert_eq!(first.spend_read_at, Some(at(10)));
    assert_eq!(first.budget_reset_at, Some(at(3_600)));
    assert_eq!(
        first.updated_at,
        at(1),
        "a reading is not a change of the key"
    );
    let second = get(b).await;
    assert_eq!(second.spend, Some(money("2.5")));
    assert_eq!(second.spend_read_at, Some(at(10)));
    assert_eq!(second.budget_reset_at, Some(at(7_200)));
    let third = get(c).await;
    assert_eq!(
        (third.spend, third.spend_read_at, third.budget_reset_at),
        (None, None, None)
    );

    // An older reading (a slow pass finishing late) does not overwrite a newer one.
    w.store
        .record_spend(&[reading(a, "9", None)], at(5))
        .await
        .unwrap();
    assert_eq!(get(a).await, first);

    // A newer one does, and clears a budget reset LiteLLM no longer reports.
    w.store
        .record_spend(&[reading(a, "3", None), reading(c, "0", None)], at(20))
        .await
        .unwrap();
    let first = get(a).await;
    assert_eq!(
        (first.spend, first.spend_read_at, first.budget_reset_at),
        (Some(money("3")), Some(at(20)), None)
    );
    assert_eq!(get(c).await.spend, Some(money("0")));
    assert_eq!(get(b).await, second);

    w.store.record_spend(&[], at(30)).await.unwrap();
}

#[tokio::test]
async fn the_audit_log_appends_an_event_of_its_own() {
    let w = world().await;
    let event = audit("litellm_key.delete_orphan", "litellm_key", "0123abcd")
        .with_after(serde_json::json!({ "alias": "kp-gone" }));

    w.store.append(&event).await.unwrap();

    assert_eq!(
        audit_events_of(&w.db, "0123abcd").await,
        [(
            "litellm_key.delete_orphan".to_owned(),
            None,
            None,
            Some(serde_json::json!({ "alias": "kp-gone" }))
        )]
    );
}

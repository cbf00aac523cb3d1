//! The cap on a user's live keys, which `insert_provisioning_key` enforces with the owner's row locked, and
//! what it learns of the owner's access on the way.

use crate::common::*;
use keyport_domain::access::AccessStore;
use keyport_domain::keys::NewApiKey;
use keyport_domain::keys::{ApiKeyStore, KeyInserted};
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::{ConflictKind, StoreError};
use keyport_postgres::PgStore;
use std::sync::Arc;

fn cap_reached<T>() -> Result<T, StoreError> {
    Err(StoreError::Conflict(ConflictKind::LiveKeyCapReached))
}

async fn insert_capped(
    store: &PgStore,
    key: &NewApiKey,
    cap: Option<u32>,
) -> Result<KeyInserted, StoreError> {
    store
        .insert_provisioning_key(key, cap, &audit("api_key.create", "api_key", key.id))
        .await
}

#[tokio::test]
async fn at_the_cap_a_new_key_is_refused_on_api_keys_live_cap_and_nothing_is_written() {
    let w = world().await;
    insert_key(&w.store, &new_key(w.user.id, "one", &[w.subscription.id])).await;
    insert_active_key(&w.store, &new_key(w.user.id, "two", &[w.subscription.id])).await;
    let third = new_key(w.user.id, "three", &[w.subscription.id]);

    let result = insert_capped(&w.store, &third, Some(2)).await;

    assert_eq!(result, cap_reached());
    assert_eq!(w.store.get_key(third.id).await.unwrap(), None);
    assert!(audit_actions(&w.db, third.id).await.is_empty());
    assert_eq!(w.store.list_keys(w.user.id).await.unwrap().len(), 2);
    assert!(insert_capped(&w.store, &third, Some(3)).await.is_ok());
}

#[tokio::test]
async fn revoked_failed_and_retiring_keys_do_not_count_towards_the_cap() {
    let w = world().await;
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
    let failed = new_key(w.user.id, "failed", &[w.subscription.id]);
    insert_key(&w.store, &failed).await;
    w.store
        .fail_key(
            failed.id,
            "LiteLLM said no",
            at(2),
            &audit("api_key.fail", "api_key", failed.id),
        )
        .await
        .unwrap();
    let retiring = new_key(w.user.id, "retiring", &[w.subscription.id]);
    insert_active_key(&w.store, &retiring).await;
    make_retiring(&w.db, retiring.id, at(3_600)).await;

    let first = new_key(w.user.id, "first live", &[w.subscription.id]);
    assert!(insert_capped(&w.store, &first, Some(1)).await.is_ok());
    let second = new_key(w.user.id, "second live", &[w.subscription.id]);
    assert_eq!(
        insert_capped(&w.store, &second, Some(1)).await,
        cap_reached(),
        "the provisioning key counts"
    );
}

#[tokio::test]
async fn the_cap_counts_only_the_owners_keys() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;
    insert_key(&w.store, &new_key(bob.id, "bobs", &[bobs.id])).await;

    let alices = new_key(w.user.id, "alices", &[w.subscription.id]);

    assert!(insert_capped(&w.store, &alices, Some(1)).await.is_ok());
}

#[tokio::test]
async fn without_a_cap_a_user_may_hold_more_keys_than_any_cap_allowed() {
    let w = world().await;
    insert_key(&w.store, &new_key(w.user.id, "one", &[w.subscription.id])).await;
    let over = new_key(w.user.id, "two", &[w.subscription.id]);
    assert_eq!(insert_capped(&w.store, &over, Some(1)).await, cap_reached());

    let rotated_in = new_key(w.user.id, "two", &[w.subscription.id]);

    assert!(insert_capped(&w.store, &rotated_in, None).await.is_ok());
    assert_eq!(w.store.list_keys(w.user.id).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_capped_inserts_for_one_user_never_pass_the_cap() {
    const CAP: u32 = 20;
    const INSERTS: usize = 30;
    let w = world().await;
    // A pool of its own, with a connection for every insert.
    let store = keyport_postgres::connect(w.db.url(), INSERTS)
        .await
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(INSERTS));

    let inserts: Vec<_> = (0..INSERTS)
        .map(|i| {
            let store = store.clone();
            let start = start.clone();
            let key = new_key(w.user.id, &format!("key {i}"), &[w.subscription.id]);
            tokio::spawn(async move {
                start.wait().await;
                insert_capped(&store, &key, Some(CAP)).await
            })
        })
        .collect();
    let mut inserted = 0;
    let mut refused = 0;
    for insert in inserts {
        match insert.await.unwrap() {
            Ok(_) => inserted += 1,
            Err(StoreError::Conflict(ConflictKind::LiveKeyCapReached)) => {
                refused += 1;
            }
            Err(other) => panic!("an insert failed otherwise: {other:?}"),
        }
    }

    assert_eq!((inserted, refused), (20, 10));
    assert_eq!(w.store.list_keys(w.user.id).await.unwrap().len(), 20);
}

#[tokio::test]
async fn an_inserted_key_says_whether_its_owners_access_is_pending() {
    let w = world().await;
    let pending = new_key(w.user.id, "pending", &[w.subscription.id]);
    assert_eq!(
        insert_capped(&w.store, &pending, None).await,
        Ok(KeyInserted {
            owner_access_pending: true
        }),
        "nothing synced yet"
    );

    let version = w
        .store
        .access_record(w.user.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    w.store
        .mark_access_synced(w.user.id, version, at(10))
        .await
        .unwrap();
    for (name, cap) in [("synced", None), ("synced and capped", Some(20))] {
        let key = new_key(w.user.id, name, &[w.subscription.id]);
        assert_eq!(
            insert_capped(&w.store, &key, cap).await,
            Ok(KeyInserted {
                owner_access_pending: false
            }),
            "{name}"
        );
    }

    w.store
        .change_subscription_quota(
            w.subscription.id,
            &limits("5", "1d", 1_000, 10),
            at(20),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();
    let changed = new_key(w.user.id, "changed", &[w.subscription.id]);
    assert_eq!(
        insert_capped(&w.store, &changed, Some(20)).await,
        Ok(KeyInserted {
            owner_access_pending: true
        }),
        "the quota changed since"
    );
}

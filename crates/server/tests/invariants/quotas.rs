//! Quotas that hold (docs/quotas.md), proven end to end: the use cases wired as the server wires them, the
//! real PostgreSQL store and LiteLLM client, and the LiteLLM double, which follows LiteLLM's route and role
//! gates, its per-(user, model) spend pools (`model_max_budget`) and per-(team, model) rate pools.
//!
//! The double serves one extra model, `premium`, priced so that one chat request costs exactly $0.50
//! (10 prompt tokens at $0.01, 20 completion tokens at $0.02), so that budgets are reached in a few calls.

use crate::env::Env;
use crate::invariants::{check, mint, user_in_line, Scope};
use chrono::Duration;
use keyport_domain::ids::{ApiKeyId, SubscriptionId};
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::CreateKeyRequest;
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::reconcile::ReconcileOptions;
use keyport_domain::secret::KeySecret;
use keyport_domain::subscriptions::SubscriptionAction;
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::users::{Actor, Role};
use keyport_domain::Error;
use keyport_testkit::double::{DoubleConfig, ModelSpec};
use rust_decimal::Decimal;

const PREMIUM: &str = "premium";
/// What one chat request on [`PREMIUM`] costs.
const REQUEST_COST: f64 = 0.5;

async fn env() -> Env {
    let mut config = DoubleConfig::demo();
    config
        .models
        .push(ModelSpec::chat(PREMIUM, "openai", 0.01, 0.02));
    Env::with_double(rand::random(), config).await
}

fn admin(actor: &Actor) -> Actor {
    Actor {
        roles: vec![Role::Admin],
        ..actor.clone()
    }
}

fn quota(budget: i64, window: Option<&str>, rpm: Option<u64>) -> Limits {
    Limits {
        max_budget: Some(Money::new(Decimal::from(budget)).unwrap()),
        budget_duration: window.map(|w| BudgetDuration::parse(w).unwrap()),
        tpm_limit: None,
        rpm_limit: rpm,
    }
}

/// Subscribes the user to `model` and gives the subscription `quota` as an administrator would.
async fn subscribed(env: &Env, actor: &Actor, model: &str, quota: Limits) -> SubscriptionId {
    let id = env.subscribe(actor, model).await;
    env.clean
        .control
        .execute(&admin(actor), id, SubscriptionAction::ChangeQuota(quota))
        .await
        .unwrap();
    id
}

/// Creates a key with its own limits; answers its id and secret.
async fn key(
    env: &Env,
    actor: &Actor,
    name: &str,
    sub: SubscriptionId,
    limits: Limits,
) -> (ApiKeyId, KeySecret) {
    let created = env
        .clean
        .create
        .execute(
            actor,
            CreateKeyRequest {
                name: name.into(),
                subscription_ids: vec![sub],
                limits,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    (created.key.id, created.secret)
}

/// One chat request with the secret: its status and the error's `type` and message, if any.
async fn chat(env: &Env, secret: &str, model: &str) -> (u16, String, String) {
    let answer = env
        .http
        .post(format!("{}/v1/chat/completions", env.double.base_url()))
        .bearer_auth(secret)
        .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    let kind = body["error"]["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, kind, message)
}

/// What LiteLLM has charged to these keys, together.
fn spent(env: &Env, hashes: &[String]) -> f64 {
    env.double
        .keys()
        .iter()
        .filter(|k| hashes.contains(&k.hash))
        .map(|k| k.spend)
        .sum()
}

async fn hash_of(env: &Env, id: ApiKeyId) -> String {
    env.key(id).await.hash.as_str().to_owned()
}

#[tokio::test]
async fn a_keyport_key_is_refused_every_management_route_and_its_owner_is_in_line() {
    let env = env().await;
    let alice = env.user().await;
    let sub = subscribed(&env, &alice, PREMIUM, quota(10, Some("30d"), None)).await;
    let (id, secret) = key(&env, &alice, "app", sub, Limits::default()).await;
    let hash = hash_of(&env, id).await;
    let base = env.double.base_url();
    for (path, body) in [
        ("/key/generate", serde_json::json!({})),
        ("/key/delete", serde_json::json!({"keys": [hash]})),
        (
            "/key/update",
            serde_json::json!({"key": hash, "max_budget": 1000}),
        ),
        (
            "/user/update",
            serde_json::json!({"user_id": alice.user_id.to_string(), "models": []}),
        ),
        ("/user/new", serde_json::json!({"user_id": "someone-else"})),
    ] {
        let status = env
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(secret.expose())
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(
            status == 401 || status == 403,
            "{path} answered {status} to a keyport key"
        );
    }
    assert_eq!(chat(&env, secret.expose(), PREMIUM).await.0, 200);
    assert!(env.double.key(&hash).is_some(), "the key deleted itself");
    assert_eq!(
        user_in_line(&env, alice.user_id).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn twenty_keys_on_a_ten_dollar_subscription_stop_together_at_ten_dollars() {
    let env = env().await;
    let alice = env.user().await;
    let sub = subscribed(&env, &alice, PREMIUM, quota(10, Some("30d"), None)).await;
    let mut keys = Vec::new();
    for n in 0..20 {
        // Each key on its own may spend the whole quota: only the pool can stop them together.
        let (id, secret) = key(&env, &alice, &format!("k{n}"), sub, Limits::default()).await;
        keys.push((hash_of(&env, id).await, secret));
    }
    let hashes: Vec<String> = keys.iter().map(|(h, _)| h.clone()).collect();
    let mut refusals = 0;
    let mut served = 0;
    for round in 0..200 {
        let (_, secret) = &keys[round % keys.len()];
        let (status, kind, message) = chat(&env, secret.expose(), PREMIUM).await;
        match status {
            200 => {
                served += 1;
                refusals = 0;
            }
            _ => {
                assert_eq!(kind, "budget_exceeded", "{status}: {message}");
                assert!(
                    message.contains("exceeded budget for model=premium"),
                    "refused by the user's pool, not a key's own budget: {message}"
                );
                refusals += 1;
                if refusals == keys.len() {
                    break;
                }
            }
        }
    }
    assert_eq!(
        refusals,
        keys.len(),
        "every key is refused once the pool is spent"
    );
    let total = spent(&env, &hashes);
    assert!(
        (10.0..=10.0 + REQUEST_COST).contains(&total),
        "twenty keys spent ${total} on a $10 subscription ({served} requests)"
    );
}

#[tokio::test]
async fn requests_per_minute_are_pooled_across_the_keys_of_a_subscription() {
    let env = env().await;
    let alice = env.user().await;
    let sub = subscribed(&env, &alice, PREMIUM, quota(1000, Some("30d"), Some(5))).await;
    let (_, first) = key(&env, &alice, "one", sub, Limits::default()).await;
    let (_, second) = key(&env, &alice, "two", sub, Limits::default()).await;
    let mut ok = 0;
    let mut throttled = Vec::new();
    for n in 0..10 {
        let secret = if n % 2 == 0 { &first } else { &second };
        let (status, kind, message) = chat(&env, secret.expose(), PREMIUM).await;
        if status == 200 {
            ok += 1;
        } else {
            throttled.push((status, kind, message));
        }
    }
    assert_eq!(
        ok, 5,
        "two keys together got {ok} requests of a 5 a minute quota"
    );
    for (status, kind, message) in throttled {
        assert_eq!((status, kind.as_str()), (429, "throttling_error"));
        assert!(message.contains("model_per_team"), "{message}");
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_its_spend() {
    let env = env().await;
    let alice = env.user().await;
    let sub = subscribed(&env, &alice, PREMIUM, quota(100, Some("30d"), None)).await;
    let own = quota(2, Some("30d"), None);
    let (id, secret) = key(&env, &alice, "app", sub, own).await;
    for _ in 0..3 {
        assert_eq!(chat(&env, secret.expose(), PREMIUM).await.0, 200);
    }
    let old_spend = env.double.key(&hash_of(&env, id).await).unwrap().spend;
    assert!((old_spend - 3.0 * REQUEST_COST).abs() < 1e-9);

    let rotated = env
        .clean
        .rotate
        .execute(&alice, id, Duration::zero())
        .await
        .unwrap();
    let new_hash = rotated.key.hash.as_str().to_owned();
    let carried = env.double.key(&new_hash).unwrap().spend;
    assert!(
        (carried - old_spend).abs() < 1e-9,
        "the new key starts at ${carried}, not ${old_spend}"
    );
    // $1.50 of its own $2 is spent: one more request fits, the next is refused by the key's own budget.
    let secret = rotated.secret;
    assert_eq!(chat(&env, secret.expose(), PREMIUM).await.0, 200);
    let (status, kind, _) = chat(&env, secret.expose(), PREMIUM).await;
    assert_eq!((status, kind.as_str()), (422, "budget_exceeded"));
}

#[tokio::test]
async fn the_cap_on_live_keys_holds_under_concurrent_creates() {
    let env = env().await;
    let alice = env.user().await;
    let sub = subscribed(&env, &alice, PREMIUM, quota(10, Some("30d"), None)).await;
    let creates = (0..30).map(|n| {
        let create = &env.clean.create;
        let alice = alice.clone();
        async move {
            create
                .execute(
                    &alice,
                    CreateKeyRequest {
                        name: format!("c{n}"),
                        subscription_ids: vec![sub],
                        limits: Limits::default(),
                        expires_at: None,
                    },
                )
                .await
        }
    });
    let results = futures_join_all(creates).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            Err(Error::Conflict { message, .. }) => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(created, 20, "{results:?}");
    assert_eq!(refused.len(), 10, "{results:?}");
    assert!(
        refused.iter().all(|m| m.contains("20 live keys")),
        "{refused:?}"
    );
    let live = env
        .store()
        .list_keys(alice.user_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.status.as_str() == "active")
        .count();
    assert_eq!(live, 20);
}

/// Runs the futures at once (the test binary has no `futures` dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
}

#[tokio::test]
async fn the_reconciler_deletes_a_key_minted_before_the_fix_and_restores_every_restriction() {
    let env = env().await;
    let alice = env.user().await;
    let sub = subscribed(&env, &alice, PREMIUM, quota(10, Some("30d"), None)).await;
    let (id, secret) = key(&env, &alice, "app", sub, Limits::default()).await;
    let hash = hash_of(&env, id).await;

    // How things stood before keyport restricted its keys: no route list on the key, no role on the user.
    let master = env.double.master_key().to_owned();
    let base = env.double.base_url();
    for (path, body) in [
        (
            "/key/update",
            serde_json::json!({"key": hash, "allowed_routes": []}),
        ),
        (
            "/user/update",
            serde_json::json!({"user_id": alice.user_id.to_string(), "user_role": "internal_user"}),
        ),
    ] {
        let status = env
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(&master)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{path}: {status}");
    }
    // The holder mints a key of their own: every model, no budget, invisible to keyport.
    let minted = env
        .http
        .post(format!("{base}/key/generate"))
        .bearer_auth(secret.expose())
        .json(&serde_json::json!({"key_alias": "mine"}))
        .send()
        .await
        .unwrap();
    let status = minted.status().as_u16();
    let minted: serde_json::Value = minted.json().await.unwrap();
    assert_eq!(
        status, 200,
        "LiteLLM lets an unrestricted key mint another: {minted}"
    );
    let minted_secret = minted["key"].as_str().unwrap().to_owned();
    assert_eq!(chat(&env, &minted_secret, PREMIUM).await.0, 200);

    let dry = env
        .clean
        .reconcile
        .execute(
            &ReconcileOptions {
                dry_run: true,
                ..ReconcileOptions::default()
            },
            &|_| {},
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = dry.findings.iter().map(|f| f.kind.as_str()).collect();
    for kind in ["unmanaged key", "drift", "user drift"] {
        assert!(kinds.contains(&kind), "dry run found {kinds:?}");
    }
    assert_eq!(
        chat(&env, &minted_secret, PREMIUM).await.0,
        200,
        "a dry run changes nothing"
    );

    let report = env.reconcile(&env.clean).await.unwrap();
    assert!(
        report.findings.iter().all(|f| f.fixed),
        "{:?}",
        report.findings
    );
    assert_eq!(
        chat(&env, &minted_secret, PREMIUM).await.0,
        401,
        "the minted key is gone"
    );
    assert!(
        mint(&env, secret.expose()).await >= 400,
        "keyport's key is restricted again"
    );
    assert_eq!(chat(&env, secret.expose(), PREMIUM).await.0, 200);
    let audit = env
        .sql
        .query_one(
            "SELECT count(*) FROM audit_events WHERE action = 'reconcile.unmanaged_key_deleted'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(audit, 1);
    env.drain_jobs(&env.clean).await.unwrap();
    assert_eq!(
        check(&env, Scope::Users(&[alice.user_id])).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_suspended_subscription_pauses_its_keys_and_its_reactivation_brings_them_back() {
    let env = env().await;
    let alice = env.user().await;
    let premium = subscribed(&env, &alice, PREMIUM, quota(10, Some("30d"), None)).await;
    let other = env.subscribe(&alice, "gpt-4o-mini").await;
    let (_, only) = key(&env, &alice, "only-premium", premium, Limits::default()).await;
    let both = env
        .clean
        .create
        .execute(
            &alice,
            CreateKeyRequest {
                name: "both".into(),
                subscription_ids: vec![premium, other],
                limits: Limits::default(),
                expires_at: None,
            },
        )
        .await
        .unwrap();

    let suspended = env
        .clean
        .control
        .execute(
            &admin(&alice),
            premium,
            SubscriptionAction::Suspend {
                reason: "over the team's allowance".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(suspended.status, SubscriptionStatus::Suspended);
    assert_eq!(
        chat(&env, only.expose(), PREMIUM).await.0,
        401,
        "paused: blocked"
    );
    let (status, kind, _) = chat(&env, both.secret.expose(), PREMIUM).await;
    assert_eq!((status, kind.as_str()), (403, "key_model_access_denied"));
    assert_eq!(chat(&env, both.secret.expose(), "gpt-4o-mini").await.0, 200);
    env.drain_jobs(&env.clean).await.unwrap();
    assert_eq!(
        check(&env, Scope::Users(&[alice.user_id])).await,
        Vec::<String>::new()
    );

    env.clean
        .control
        .execute(&admin(&alice), premium, SubscriptionAction::Reactivate)
        .await
        .unwrap();
    assert_eq!(chat(&env, only.expose(), PREMIUM).await.0, 200);
    assert_eq!(chat(&env, both.secret.expose(), PREMIUM).await.0, 200);
    env.settle().await.unwrap();
    assert_eq!(
        check(&env, Scope::Users(&[alice.user_id])).await,
        Vec::<String>::new()
    );
}

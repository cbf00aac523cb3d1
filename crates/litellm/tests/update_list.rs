//! `update_key`, `unblock_key` and `list_keys` against the LiteLLM double: what LiteLLM stores afterwards,
//! and what `/v1/chat/completions` then lets through (models, blocked, expiry, budget and rate limits).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[expect(
    dead_code,
    reason = "this file starts its doubles with the suite's team, through `setup`"
)]
mod common;

use common::{routes, Setup};
use keyport_domain::gateway::{Gateway, GatewayKeyStatus, GenerateKey, UpdateKey};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::{BudgetDuration, Limits};
use keyport_domain::secret::{KeyHash, Secret, SecretKind};
use keyport_domain::testing::{money, secret};
use keyport_domain::GatewayError;
use keyport_litellm::UNLIMITED_RATE;
use keyport_litellm_double::{DoubleConfig, Fault, VersionProfile};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

fn models(names: &[&str]) -> Vec<ModelId> {
    names.iter().map(|m| ModelId::parse(*m).unwrap()).collect()
}

/// The LiteLLM team of the suite's keys.
const TEAM: &str = "keyport-test-team";

fn generate(alias: &str, names: &[&str], limits: Limits) -> GenerateKey {
    GenerateKey {
        secret: secret(SecretKind::ApiKey),
        alias: alias.to_owned(),
        user_id: UserId::new(),
        models: models(names),
        limits,
        expires_in_seconds: Some(3600),
        metadata: json!({"keyport_key_id": "k-1"}),
        team_id: TEAM.to_owned(),
        allowed_routes: routes(),
        spend: None,
    }
}

fn limited() -> Limits {
    Limits {
        max_budget: Some(money("12.5")),
        budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
        tpm_limit: Some(1000),
        rpm_limit: Some(60),
    }
}

fn update(hash: &KeyHash, names: &[&str], limits: Limits) -> UpdateKey {
    UpdateKey {
        hash: hash.clone(),
        models: models(names),
        limits,
        expires_in_seconds: None,
        blocked: false,
        metadata: json!({"keyport_key_id": "k-1"}),
        team_id: TEAM.to_owned(),
        allowed_routes: routes(),
    }
}

/// A double with the suite's team, and its client.
async fn setup_with(config: DoubleConfig) -> Setup {
    let s = Setup::start(config).await;
    s.create_team(TEAM).await;
    s
}

async fn setup() -> Setup {
    setup_with(DoubleConfig::demo()).await
}

impl Setup {
    /// A key created through the adapter; answers its secret.
    async fn key(&self, names: &[&str], limits: Limits) -> Secret {
        let request = generate(&format!("k-{}", UserId::new()), names, limits);
        self.client.generate_key(&request).await.unwrap();
        request.secret
    }
}

#[tokio::test]
async fn update_sets_models_limits_expiry_blocked_and_metadata_and_repeating_it_changes_nothing() {
    let s = setup().await;
    let secret = s.key(&["gpt-4o-mini"], limited()).await;
    let hash = secret.hash();
    let desired = UpdateKey {
        hash: hash.clone(),
        models: models(&["gpt-4o-mini", "claude-3-5-sonnet"]),
        limits: Limits {
            max_budget: Some(money("5")),
            budget_duration: Some(BudgetDuration::parse("7d").unwrap()),
            tpm_limit: Some(500),
            rpm_limit: Some(30),
        },
        expires_in_seconds: Some(7200),
        blocked: true,
        metadata: json!({"managed_by": "keyport", "keyport_subscription_ids": ["s-1"]}),
        team_id: TEAM.to_owned(),
        allowed_routes: routes(),
    };
    let key = s.client.update_key(&desired).await.unwrap();
    assert_eq!(key.hash, hash);
    assert_eq!(key.models, ["gpt-4o-mini", "claude-3-5-sonnet"]);
    assert_eq!(key.status, GatewayKeyStatus::Blocked);
    assert_eq!(key.max_budget, Some(money("5")));
    assert_eq!(key.budget_duration.as_deref(), Some("7d"));
    assert_eq!((key.tpm_limit, key.rpm_limit), (Some(500), Some(30)));
    assert_eq!(key.metadata, desired.metadata);
    let left = (key.expires_at.unwrap() - chrono::Utc::now()).num_seconds();
    assert!((7190..=7200).contains(&left), "{left}");

    let stored = s.double.key(hash.as_str()).unwrap();
    assert_eq!(stored.models, ["gpt-4o-mini", "claude-3-5-sonnet"]);
    assert_eq!(stored.max_budget, Some(5.0));
    assert_eq!(stored.budget_duration.as_deref(), Some("7d"));
    assert_eq!((stored.tpm_limit, stored.rpm_limit), (Some(500), Some(30)));
    assert_eq!(stored.blocked, Some(true));
    assert_eq!(
        stored.metadata, desired.metadata,
        "metadata replaced whole: keyport_key_id is gone"
    );
    assert_eq!(
        s.chat(&secret, "claude-3-5-sonnet").await,
        (401, "auth_error".to_owned()),
        "blocked"
    );

    let again = s.client.update_key(&desired).await.unwrap();
    let moved = (again.expires_at.unwrap() - key.expires_at.unwrap()).num_seconds();
    assert!((0..=5).contains(&moved), "{moved}");
    assert_eq!(
        again,
        keyport_domain::gateway::GatewayKey {
            expires_at: again.expires_at,
            ..key
        }
    );
    let restored = s.double.key(hash.as_str()).unwrap();
    assert_eq!(
        restored,
        keyport_litellm_double::KeyRecord {
            updated_at: restored.updated_at,
            expires: restored.expires,
            ..stored
        },
        "a second identical update changes nothing else"
    );
}

#[tokio::test]
async fn chat_follows_an_update_of_models_blocked_and_expiry() {
    let s = setup().await;
    let secret = s.key(&["gpt-4o-mini"], Limits::UNLIMITED).await;
    let hash = secret.hash();
    assert_eq!(s.chat(&secret, "claude-3-5-sonnet").await.0, 403);

    s.client
        .update_key(&update(&hash, &["claude-3-5-sonnet"], Limits::UNLIMITED))
        .await
        .unwrap();
    assert_eq!(s.chat(&secret, "claude-3-5-sonnet").await.0, 200);
    assert_eq!(
        s.chat(&secret, "gpt-4o-mini").await,
        (403, "key_model_access_denied".to_owned())
    );

    let mut blocked = update(&hash, &["claude-3-5-sonnet"], Limits::UNLIMITED);
    blocked.blocked = true;
    s.client.update_key(&blocked).await.unwrap();
    assert_eq!(s.chat(&secret, "claude-3-5-sonnet").await.0, 401);
    blocked.blocked = false;
    s.client.update_key(&blocked).await.unwrap();
    assert_eq!(s.chat(&secret, "claude-3-5-sonnet").await.0, 200);

    let mut expiring = update(&hash, &["claude-3-5-sonnet"], Limits::UNLIMITED);
    expiring.expires_in_seconds = Some(0);
    let key = s.client.update_key(&expiring).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        s.chat(&secret, "claude-3-5-sonnet").await,
        (401, "expired_key".to_owned())
    );
    assert!(key.expires_at.is_some());
    expiring.expires_in_seconds = None;
    let key = s.client.update_key(&expiring).await.unwrap();
    assert_eq!(
        (key.expires_at, key.status),
        (None, GatewayKeyStatus::Active)
    );
    assert_eq!(s.double.key(hash.as_str()).unwrap().expires, None);
    assert_eq!(s.chat(&secret, "claude-3-5-sonnet").await.0, 200);
}

#[tokio::test]
async fn restoring_unlimited_lifts_every_limit_in_litellm_and_in_chat() {
    let s = setup().await;
    let secret = s.key(&["gpt-4o-mini"], Limits::UNLIMITED).await;
    let hash = secret.hash();
    let unlimited = update(&hash, &["gpt-4o-mini"], Limits::UNLIMITED);
    let lifted = |s: &Setup| {
        let stored = s.double.key(hash.as_str()).unwrap();
        assert_eq!(stored.max_budget, None);
        assert_eq!(
            (stored.budget_duration, stored.budget_reset_at),
            (None, None)
        );
        for rate in [stored.tpm_limit, stored.rpm_limit] {
            assert!(
                rate.is_none_or(|r| r >= i64::from(i32::MAX)),
                "no effective rate limit left: {rate:?}"
            );
        }
    };

    // rpm
    let rpm = Limits {
        rpm_limit: Some(1),
        ..Limits::UNLIMITED
    };
    s.client
        .update_key(&update(&hash, &["gpt-4o-mini"], rpm))
        .await
        .unwrap();
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    assert_eq!(
        s.chat(&secret, "gpt-4o-mini").await,
        (429, "throttling_error".to_owned())
    );
    let key = s.client.update_key(&unlimited).await.unwrap();
    assert_eq!((key.tpm_limit, key.rpm_limit), (None, None));
    lifted(&s);
    for _ in 0..3 {
        assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    }

    // tpm: 4 calls of 30 tokens are in the window by now
    let tpm = Limits {
        tpm_limit: Some(60),
        ..Limits::UNLIMITED
    };
    s.client
        .update_key(&update(&hash, &["gpt-4o-mini"], tpm))
        .await
        .unwrap();
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 429);
    s.client.update_key(&unlimited).await.unwrap();
    lifted(&s);
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);

    // budget with a window
    let budget = Limits {
        max_budget: Some(money("0.00001")),
        budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
        ..Limits::UNLIMITED
    };
    let key = s
        .client
        .update_key(&update(&hash, &["gpt-4o-mini"], budget))
        .await
        .unwrap();
    assert!(key.budget_reset_at.is_some());
    assert_eq!(
        s.chat(&secret, "gpt-4o-mini").await,
        (422, "budget_exceeded".to_owned())
    );
    let key = s.client.update_key(&unlimited).await.unwrap();
    assert_eq!(
        (
            key.max_budget,
            key.budget_duration,
            key.budget_reset_at,
            key.tpm_limit,
            key.rpm_limit
        ),
        (None, None, None, None, None)
    );
    lifted(&s);
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
}

#[tokio::test]
async fn rate_limits_are_lifted_even_where_litellm_ignores_null() {
    let s = setup_with(DoubleConfig::demo().with_version(VersionProfile::V1_81)).await;
    let secret = s
        .key(
            &["gpt-4o-mini"],
            Limits {
                rpm_limit: Some(1),
                tpm_limit: Some(1000),
                max_budget: Some(money("100")),
                budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
            },
        )
        .await;
    let hash = secret.hash();
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 429);
    let key = s
        .client
        .update_key(&update(&hash, &["gpt-4o-mini"], Limits::UNLIMITED))
        .await
        .unwrap();
    assert_eq!((key.tpm_limit, key.rpm_limit), (None, None));
    assert_eq!(key.max_budget, None);
    assert_eq!(
        key.budget_duration.as_deref(),
        Some("30d"),
        "1.81 keeps the window (null is its only spelling): inert without a budget, and logged"
    );
    let stored = s.double.key(hash.as_str()).unwrap();
    let sent = i64::try_from(UNLIMITED_RATE).unwrap();
    assert_eq!(
        (stored.tpm_limit, stored.rpm_limit),
        (Some(sent), Some(sent))
    );
    for _ in 0..3 {
        assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    }
}

#[tokio::test]
async fn limits_keyport_cannot_encode_are_refused_without_a_call() {
    let s = setup().await;
    let hash = s.key(&["gpt-4o-mini"], Limits::UNLIMITED).await.hash();
    for (limits, field) in [
        (
            Limits {
                rpm_limit: Some(UNLIMITED_RATE),
                ..Limits::UNLIMITED
            },
            "rpm_limit",
        ),
        (
            Limits {
                tpm_limit: Some(0),
                ..Limits::UNLIMITED
            },
            "tpm_limit",
        ),
    ] {
        let err = s
            .client
            .update_key(&update(&hash, &["gpt-4o-mini"], limits))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, GatewayError::Invalid { field: Some(f), .. } if f == field),
            "{err:?}"
        );
    }
    let mut negative = update(&hash, &["gpt-4o-mini"], Limits::UNLIMITED);
    negative.expires_in_seconds = Some(-1);
    assert!(matches!(
        s.client.update_key(&negative).await.unwrap_err(),
        GatewayError::Invalid { field: Some(f), .. } if f == "expires_in_seconds"
    ));
    let mut odd = update(&hash, &["gpt-4o-mini"], Limits::UNLIMITED);
    odd.metadata = json!([1]);
    assert!(matches!(
        s.client.update_key(&odd).await.unwrap_err(),
        GatewayError::Invalid { field: Some(f), .. } if f == "metadata"
    ));
    assert_eq!(s.double.calls_to("/key/update"), 0);

    odd.metadata = Value::Null;
    let key = s.client.update_key(&odd).await.unwrap();
    assert_eq!(key.metadata, json!({}), "no metadata is an empty object");
}

#[tokio::test]
async fn updating_an_unknown_key_is_not_found() {
    let s = setup().await;
    let unknown = KeyHash::parse(&"e".repeat(64)).unwrap();
    assert_eq!(
        s.client
            .update_key(&update(&unknown, &["gpt-4o-mini"], Limits::UNLIMITED))
            .await
            .unwrap_err(),
        GatewayError::NotFound
    );
    assert_eq!(s.double.calls_to("/key/update"), 1, "a 404 is not retried");
}

#[tokio::test]
async fn an_empty_model_list_is_refused_without_a_call() {
    let s = setup().await;
    let hash = s.key(&["gpt-4o-mini"], Limits::UNLIMITED).await.hash();
    let err = s
        .client
        .update_key(&update(&hash, &[], Limits::UNLIMITED))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::Invalid { field: Some(f), .. } if f == "models"),
        "{err:?}"
    );
    assert_eq!(s.double.calls_to("/key/update"), 0);
    assert_eq!(s.double.key(hash.as_str()).unwrap().models, ["gpt-4o-mini"]);
}

#[tokio::test]
async fn update_is_retried_through_a_passing_503() {
    let s = setup().await;
    let hash = s.key(&["gpt-4o-mini"], limited()).await.hash();
    s.double.inject(Fault::Status(503).on("/key/update"));
    let key = s
        .client
        .update_key(&update(&hash, &["claude-3-5-sonnet"], Limits::UNLIMITED))
        .await
        .unwrap();
    assert_eq!(key.models, ["claude-3-5-sonnet"]);
    assert_eq!(s.double.calls_to("/key/update"), 2);

    s.double.inject(Fault::CommitThenDrop.on("/key/update"));
    let key = s
        .client
        .update_key(&update(&hash, &["gpt-4o-mini"], limited()))
        .await
        .unwrap();
    assert_eq!(key.max_budget, Some(money("12.5")));
    assert_eq!(
        s.double.calls_to("/key/update"),
        4,
        "a lost answer is repeated harmlessly"
    );
}

#[tokio::test]
async fn unblock_after_block_lets_chat_through_again() {
    let s = setup().await;
    let secret = s.key(&["gpt-4o-mini"], Limits::UNLIMITED).await;
    let hash = secret.hash();
    s.client.block_key(&hash).await.unwrap();
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 401);
    s.double.inject(Fault::DropConnection.on("/key/unblock"));
    s.client.unblock_key(&hash).await.unwrap();
    assert_eq!(s.double.calls_to("/key/unblock"), 2, "retried");
    assert_eq!(s.double.key(hash.as_str()).unwrap().blocked, Some(false));
    assert_eq!(
        s.client.key_info(&hash).await.unwrap().unwrap().status,
        GatewayKeyStatus::Active
    );
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    s.client.unblock_key(&hash).await.unwrap();
    assert_eq!(
        s.client
            .unblock_key(&KeyHash::parse(&"f".repeat(64)).unwrap())
            .await
            .unwrap_err(),
        GatewayError::NotFound
    );
}

#[tokio::test]
async fn list_keys_pages_through_every_key_once() {
    let s = setup().await;
    let mut created = BTreeSet::new();
    for i in 0..250 {
        let limits = if i % 2 == 0 {
            limited()
        } else {
            Limits::UNLIMITED
        };
        created.insert(s.key(&["gpt-4o-mini"], limits).await.hash());
    }
    s.double.inject(Fault::Status(503).on("/key/list"));
    let mut seen = BTreeSet::new();
    for page in 1..=3 {
        let listed = s.client.list_keys(page, 100).await.unwrap();
        assert_eq!((listed.total_count, listed.total_pages), (250, 3));
        assert_eq!(listed.keys.len(), if page == 3 { 50 } else { 100 });
        for key in listed.keys {
            assert_eq!(key.models, ["gpt-4o-mini"]);
            assert_eq!(key.status, GatewayKeyStatus::Active);
            if key.max_budget.is_some() {
                assert_eq!((key.tpm_limit, key.rpm_limit), (Some(1000), Some(60)));
            }
            assert!(seen.insert(key.hash), "listed twice");
        }
    }
    assert_eq!(seen, created);
    assert_eq!(s.double.calls_to("/key/list"), 4, "the 503 was retried");
    let beyond = s.client.list_keys(4, 100).await.unwrap();
    assert!(beyond.keys.is_empty());
    assert_eq!(beyond.total_count, 250);
}

#[tokio::test]
async fn list_keys_reads_what_update_wrote_and_refuses_bad_pages_without_a_call() {
    let s = setup().await;
    let secret = s.key(&["gpt-4o-mini"], limited()).await;
    let mut blocked = update(&secret.hash(), &["claude-3-5-sonnet"], Limits::UNLIMITED);
    blocked.blocked = true;
    s.client.update_key(&blocked).await.unwrap();
    let listed = s.client.list_keys(1, 10).await.unwrap();
    let key = &listed.keys[0];
    assert_eq!(key.hash, secret.hash());
    assert_eq!(key.status, GatewayKeyStatus::Blocked);
    assert_eq!(key.models, ["claude-3-5-sonnet"]);
    assert_eq!(
        (key.max_budget, key.tpm_limit, key.rpm_limit),
        (None, None, None),
        "unlimited reads back as None"
    );
    assert_eq!(key.metadata, json!({"keyport_key_id": "k-1"}));

    for (page, size, field) in [(0, 10, "page"), (1, 0, "size"), (1, 101, "size")] {
        let err = s.client.list_keys(page, size).await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Invalid { field: Some(f), .. } if f == field),
            "{err:?}"
        );
    }
    assert_eq!(s.double.calls_to("/key/list"), 1);
}

#[tokio::test]
async fn list_keys_skips_keys_without_a_token_and_refuses_bare_hashes() {
    let s = setup().await;
    let token = "a".repeat(64);
    let body = json!({
        "keys": [
            {"token": null, "key_alias": "ui-session", "models": []},
            {"key_alias": "no-token"},
            {"token": "not-a-hash", "models": []},
            {"token": token, "key_alias": "fine", "models": ["gpt-4o-mini"], "tpm_limit": 2_147_483_647,
             "rpm_limit": 10, "blocked": null, "expires": null, "metadata": {}},
        ],
        "total_count": 4, "current_page": 1, "total_pages": 1,
    });
    s.double
        .inject(Fault::json(200, &body.to_string()).on("/key/list"));
    let listed = s.client.list_keys(1, 10).await.unwrap();
    assert_eq!((listed.total_count, listed.total_pages), (4, 1));
    assert_eq!(listed.keys.len(), 1);
    let key = &listed.keys[0];
    assert_eq!(key.hash.as_str(), token);
    assert_eq!((key.tpm_limit, key.rpm_limit), (None, Some(10)));

    let hashes = json!({"keys": [token], "total_count": 1, "current_page": 1, "total_pages": 1});
    s.double
        .inject(Fault::json(200, &hashes.to_string()).on("/key/list"));
    assert!(matches!(
        s.client.list_keys(1, 10).await.unwrap_err(),
        GatewayError::Unexpected(_)
    ));
}

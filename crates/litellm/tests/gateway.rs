//! The adapter against the LiteLLM double: every call's happy path, every error classification (the
//! double's real 4xx answers, and injected faults for 5xx, timeouts and dropped connections).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[expect(
    dead_code,
    reason = "this file starts its doubles itself and needs no `Setup`"
)]
mod common;

use common::{config, routes};
use keyport_domain::gateway::{Gateway, GatewayKeyStatus, GenerateKey};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::{BudgetDuration, Limits};
use keyport_domain::secret::{KeyHash, SecretKind};
use keyport_domain::testing::{money, secret};
use keyport_domain::GatewayError;
use keyport_litellm::{LiteLlmClient, MasterKey, RetryPolicy};
use keyport_litellm_double::{DoubleConfig, Fault, LiteLlmDouble, VersionProfile};
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;
use std::time::Duration;

fn request(alias: &str, models: &[&str]) -> GenerateKey {
    GenerateKey {
        secret: secret(SecretKind::ApiKey),
        alias: alias.to_owned(),
        user_id: UserId::new(),
        models: models.iter().map(|m| ModelId::parse(*m).unwrap()).collect(),
        limits: Limits {
            max_budget: Some(money("12.5")),
            budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
            tpm_limit: Some(1000),
            rpm_limit: Some(60),
        },
        expires_in_seconds: Some(3600),
        metadata: json!({"keyport_key_id": "k-1"}),
        team_id: "keyport-test-team".to_owned(),
        allowed_routes: routes(),
        spend: None,
    }
}

async fn double_with(config: DoubleConfig) -> LiteLlmDouble {
    LiteLlmDouble::start(config).await.unwrap()
}

async fn setup() -> (LiteLlmDouble, LiteLlmClient) {
    let double = double_with(DoubleConfig::demo()).await;
    let client = LiteLlmClient::new(config(&double)).unwrap();
    (double, client)
}

#[tokio::test]
async fn generate_key_creates_the_key_with_the_callers_secret_and_limits() {
    let (double, client) = setup().await;
    let req = request(
        "alice-k1",
        &["gpt-4o-mini", "meta-llama/Llama-3.1-8B-Instruct"],
    );
    let key = client.generate_key(&req).await.unwrap();

    let hash = req.secret.hash();
    assert_eq!(key.hash, hash);
    assert_eq!(key.alias.as_deref(), Some("alice-k1"));
    assert_eq!(key.user_id, Some(req.user_id.to_string()));
    assert_eq!(
        key.models,
        ["gpt-4o-mini", "meta-llama/Llama-3.1-8B-Instruct"]
    );
    assert_eq!(key.status, GatewayKeyStatus::Active);
    assert_eq!(key.max_budget, Some(money("12.5")));
    assert_eq!(key.budget_duration.as_deref(), Some("30d"));
    assert_eq!((key.tpm_limit, key.rpm_limit), (Some(1000), Some(60)));
    let lifetime = (key.expires_at.unwrap() - chrono::Utc::now()).num_seconds();
    assert!((3590..=3600).contains(&lifetime), "{lifetime}");

    let stored = double.key(hash.as_str()).unwrap();
    assert_eq!(stored.alias.as_deref(), Some("alice-k1"));
    assert_eq!(stored.max_budget, Some(12.5));
    assert_eq!(stored.metadata, json!({"keyport_key_id": "k-1"}));
    assert_eq!(stored.user_id, Some(req.user_id.to_string()));
}

#[tokio::test]
async fn generate_key_without_expiry_or_limits_sends_none_of_them() {
    let (double, client) = setup().await;
    let mut req = request("plain", &["gpt-4o-mini"]);
    req.limits = Limits::UNLIMITED;
    req.expires_in_seconds = None;
    let key = client.generate_key(&req).await.unwrap();
    assert_eq!(
        (key.max_budget, key.expires_at, key.tpm_limit),
        (None, None, None)
    );
    let stored = double.key(req.secret.hash().as_str()).unwrap();
    assert_eq!((stored.max_budget, stored.budget_duration), (None, None));
}

#[tokio::test]
async fn generate_key_never_sends_an_empty_model_list() {
    let (double, client) = setup().await;
    let err = client
        .generate_key(&request("none", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::Invalid { field: Some(f), .. } if f == "models"),
        "{err:?}"
    );
    assert_eq!(double.calls_to("/key/generate"), 0);
}

#[tokio::test]
async fn a_taken_alias_is_a_conflict_on_key_alias() {
    let (_double, client) = setup().await;
    client
        .generate_key(&request("same", &["gpt-4o-mini"]))
        .await
        .unwrap();
    let other = request("same", &["gpt-4o-mini"]);
    let err = client.generate_key(&other).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Conflict { field, .. } if field == "key_alias"),
        "{err:?}"
    );
    assert!(!format!("{err:?}{err}").contains(other.secret.expose()));
}

#[tokio::test]
async fn a_refused_master_key_is_unauthorized() {
    let double = double_with(DoubleConfig::demo()).await;
    let mut cfg = config(&double);
    cfg.master_key = MasterKey::new("sk-wrong-master-key-000");
    let client = LiteLlmClient::new(cfg).unwrap();
    let err = client
        .generate_key(&request("x", &["gpt-4o-mini"]))
        .await
        .unwrap_err();
    assert_eq!(err, GatewayError::Unauthorized);
    assert_eq!(
        client.model_catalog().await.unwrap_err(),
        GatewayError::Unauthorized
    );
}

#[tokio::test]
async fn generate_key_is_never_retried_and_a_5xx_is_uncertain() {
    let (double, client) = setup().await;
    double.inject(Fault::Status(503).on("/key/generate"));
    let err = client
        .generate_key(&request("x", &["gpt-4o-mini"]))
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
    assert!(err.is_uncertain());
    assert_eq!(double.calls_to("/key/generate"), 1);
}

#[tokio::test]
async fn a_lost_answer_after_commit_is_uncertain_and_key_info_then_finds_the_key() {
    let (double, client) = setup().await;
    double.inject(Fault::CommitThenDrop.on("/key/generate"));
    let req = request("lost", &["gpt-4o-mini"]);
    let err = client.generate_key(&req).await.unwrap_err();
    assert!(err.is_uncertain(), "{err:?}");
    assert_eq!(double.calls_to("/key/generate"), 1);
    let found = client.key_info(&req.secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.alias.as_deref(), Some("lost"));
}

#[tokio::test]
async fn a_hanging_generate_times_out_as_unavailable() {
    let double = double_with(DoubleConfig::demo()).await;
    let client =
        LiteLlmClient::new(config(&double).with_timeout(Duration::from_millis(300))).unwrap();
    double.inject(Fault::Timeout.on("/key/generate"));
    let err = client
        .generate_key(&request("slow", &["gpt-4o-mini"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert_eq!(double.calls_to("/key/generate"), 1);
}

#[tokio::test]
async fn key_info_reads_the_key_with_its_spend() {
    let (double, client) = setup().await;
    let req = request("info", &["gpt-4o-mini"]);
    client.generate_key(&req).await.unwrap();
    let hash = req.secret.hash();
    double.update_key(hash.as_str(), |k| k.spend = 0.1 + 0.2);
    let key = client.key_info(&hash).await.unwrap().unwrap();
    assert_eq!(key.hash, hash);
    assert_eq!(key.alias.as_deref(), Some("info"));
    assert_eq!(key.status, GatewayKeyStatus::Active);
    assert_eq!(key.spend, Some(money("0.30000000000000004")));
    assert_eq!(key.max_budget, Some(money("12.5")));
    assert!(key.budget_reset_at.is_some());
    assert_eq!(key.metadata, json!({"keyport_key_id": "k-1"}));
    assert!(
        double.calls().iter().all(|c| !c.query.contains("sk-")),
        "the raw key never travels in a query"
    );
}

#[tokio::test]
async fn key_info_is_none_for_unknown_and_deleted_keys() {
    let (_double, client) = setup().await;
    let unknown = KeyHash::parse(&"0".repeat(64)).unwrap();
    assert_eq!(client.key_info(&unknown).await.unwrap(), None);
    let req = request("gone", &["gpt-4o-mini"]);
    client.generate_key(&req).await.unwrap();
    client.delete_key(&req.secret.hash()).await.unwrap();
    assert_eq!(client.key_info(&req.secret.hash()).await.unwrap(), None);
}

#[tokio::test]
async fn key_info_reports_blocked_and_expired_keys() {
    let (double, client) = setup().await;
    let req = request("st", &["gpt-4o-mini"]);
    client.generate_key(&req).await.unwrap();
    let hash = req.secret.hash();
    double.update_key(hash.as_str(), |k| {
        k.expires = Some(chrono::Utc::now() - chrono::Duration::seconds(5))
    });
    let key = client.key_info(&hash).await.unwrap().unwrap();
    assert_eq!(key.status, GatewayKeyStatus::Expired);
    client.block_key(&hash).await.unwrap();
    let key = client.key_info(&hash).await.unwrap().unwrap();
    assert_eq!(key.status, GatewayKeyStatus::Blocked);
}

#[tokio::test]
async fn against_litellm_1_81_the_status_is_derived_and_deleted_keys_are_none() {
    let double = double_with(DoubleConfig::demo().with_version(VersionProfile::V1_81)).await;
    let client = LiteLlmClient::new(config(&double)).unwrap();
    let req = request("old", &["gpt-4o-mini"]);
    client.generate_key(&req).await.unwrap();
    let hash = req.secret.hash();
    assert_eq!(
        client.key_info(&hash).await.unwrap().unwrap().status,
        GatewayKeyStatus::Active
    );
    client.block_key(&hash).await.unwrap();
    assert_eq!(
        client.key_info(&hash).await.unwrap().unwrap().status,
        GatewayKeyStatus::Blocked
    );
    client.delete_key(&hash).await.unwrap();
    assert_eq!(client.key_info(&hash).await.unwrap(), None);
}

#[tokio::test]
async fn block_and_delete_answer_not_found_for_an_unknown_key() {
    let (double, client) = setup().await;
    let unknown = KeyHash::parse(&"a".repeat(64)).unwrap();
    assert_eq!(
        client.block_key(&unknown).await.unwrap_err(),
        GatewayError::NotFound
    );
    assert_eq!(
        client.delete_key(&unknown).await.unwrap_err(),
        GatewayError::NotFound
    );
    let req = request("del", &["gpt-4o-mini"]);
    client.generate_key(&req).await.unwrap();
    client.block_key(&req.secret.hash()).await.unwrap();
    assert!(double.key(req.secret.hash().as_str()).unwrap().is_blocked());
    client.delete_key(&req.secret.hash()).await.unwrap();
    assert!(double.key(req.secret.hash().as_str()).is_none());
    assert_eq!(
        client.delete_key(&req.secret.hash()).await.unwrap_err(),
        GatewayError::NotFound
    );
}

#[tokio::test]
async fn the_catalog_maps_model_groups_with_exact_decimal_prices() {
    let (_double, client) = setup().await;
    let catalog = client.model_catalog().await.unwrap();
    let ids: Vec<&str> = catalog.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "gpt-4o-mini",
            "claude-3-5-sonnet",
            "meta-llama/Llama-3.1-8B-Instruct",
            "text-embedding-3-small"
        ]
    );
    let mini = &catalog[0];
    assert_eq!(mini.provider.as_deref(), Some("openai"));
    assert_eq!(mini.mode.as_deref(), Some("chat"));
    assert_eq!(mini.context_window, Some(128_000));
    assert_eq!(
        mini.input_price_per_token,
        Some(Decimal::from_str("0.00000015").unwrap())
    );
    assert_eq!(
        mini.output_price_per_token,
        Some(Decimal::from_str("0.0000006").unwrap())
    );
    for capability in ["chat", "vision", "function_calling"] {
        assert!(
            mini.capabilities.iter().any(|c| c == capability),
            "{:?}",
            mini.capabilities
        );
    }
    let embed = &catalog[3];
    assert_eq!(embed.capabilities, ["embedding"]);
    assert_eq!(catalog[2].input_price_per_token, Some(Decimal::ZERO));
}

#[tokio::test]
async fn idempotent_calls_retry_through_a_passing_5xx_or_dropped_connection() {
    let (double, client) = setup().await;
    double.inject(Fault::Status(500).on("/model_group/info"));
    assert_eq!(client.model_catalog().await.unwrap().len(), 4);
    assert_eq!(double.calls_to("/model_group/info"), 2);

    let req = request("r", &["gpt-4o-mini"]);
    client.generate_key(&req).await.unwrap();
    double.inject(Fault::DropConnection.on("/key/block"));
    client.block_key(&req.secret.hash()).await.unwrap();
    assert_eq!(double.calls_to("/key/block"), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_end_unavailable() {
    let (double, client) = setup().await;
    double.inject(Fault::Status(503).on("/key/info").always());
    let err = client
        .key_info(&KeyHash::parse(&"b".repeat(64)).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::Unavailable(m) if m.contains("503")),
        "{err:?}"
    );
    assert_eq!(double.calls_to("/key/info"), 3);
}

#[tokio::test]
async fn a_dropped_connection_and_a_timeout_are_unavailable() {
    let double = double_with(DoubleConfig::demo()).await;
    let client = LiteLlmClient::new(
        config(&double)
            .with_timeout(Duration::from_millis(300))
            .with_retry(RetryPolicy::NONE),
    )
    .unwrap();
    let hash = KeyHash::parse(&"c".repeat(64)).unwrap();
    double.inject(Fault::DropConnection.on("/key/delete"));
    let err = client.delete_key(&hash).await.unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
    double.inject(Fault::Timeout.on("/key/info"));
    let err = client.key_info(&hash).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
}

#[tokio::test]
async fn nobody_listening_is_unavailable() {
    let double = double_with(DoubleConfig::demo()).await;
    let cfg = config(&double).with_retry(RetryPolicy::NONE);
    double.shutdown().await;
    let client = LiteLlmClient::new(cfg).unwrap();
    let err = client.model_catalog().await.unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn every_error_shape_litellm_writes_is_classified() {
    let (double, client) = setup().await;
    let hash = KeyHash::parse(&"d".repeat(64)).unwrap();
    let cases: Vec<(Fault, GatewayError)> = vec![
        (
            Fault::json(
                422,
                r#"{"detail":[{"type":"float_parsing","loc":["body","max_budget"],"msg":"Input should be a valid number, unable to parse string as a number"}]}"#,
            ),
            GatewayError::Invalid {
                field: Some("max_budget".to_owned()),
                message: "Input should be a valid number, unable to parse string as a number"
                    .to_owned(),
            },
        ),
        (
            Fault::json(
                400,
                r#"{"error":{"message":"{'error': \"Invalid budget_duration 'x'. Use a format like '1h', '24h', '7d', or '30d'.\"}","type":"internal_server_error","param":null,"code":"400"}}"#,
            ),
            GatewayError::Invalid {
                field: None,
                message:
                    "Invalid budget_duration 'x'. Use a format like '1h', '24h', '7d', or '30d'."
                        .to_owned(),
            },
        ),
        (
            Fault::json(
                400,
                r#"{"error":{"message":"Invalid key format.","type":"bad_request_error","param":"key","code":400}}"#,
            ),
            GatewayError::Invalid {
                field: Some("key".to_owned()),
                message: "Invalid key format.".to_owned(),
            },
        ),
        (
            Fault::json(
                403,
                r#"{"detail":{"error":"Only proxy admins, team admins, or org admins can call /key/block. user_role=internal_user, user_id=u"}}"#,
            ),
            GatewayError::Unauthorized,
        ),
        (
            Fault::json(
                409,
                r#"{"error":{"message":"{'error': 'User with id u1 already exists'}","type":"internal_server_error","param":null,"code":"409"}}"#,
            ),
            GatewayError::Conflict {
                field: "user_id".to_owned(),
                message: "User with id u1 already exists".to_owned(),
            },
        ),
        (
            Fault::Respond {
                status: 500,
                content_type: "text/plain".to_owned(),
                body: "Internal Server Error".to_owned(),
            },
            GatewayError::Unavailable("LiteLLM answered 500: Internal Server Error".to_owned()),
        ),
        (
            Fault::json(200, r#"{"info": "not an object"}"#),
            GatewayError::Unexpected(String::new()),
        ),
    ];
    for (fault, expected) in cases {
        double.inject(fault.clone().on("/key/info").times(3));
        let got = client.key_info(&hash).await.unwrap_err();
        match (&expected, &got) {
            (GatewayError::Unexpected(_), GatewayError::Unexpected(_)) => {}
            _ => assert_eq!(got, expected, "{fault:?}"),
        }
        double.clear_faults();
    }
}

#[tokio::test]
async fn readiness_is_ok_when_litellm_answers() {
    let (double, client) = setup().await;
    client.readiness().await.unwrap();
    double.inject(Fault::Status(503).on("/health/readiness"));
    assert!(matches!(
        client.readiness().await,
        Err(GatewayError::Unavailable(_))
    ));
}

#[tokio::test]
async fn debug_output_shows_neither_the_master_key_nor_the_secret() {
    let (double, client) = setup().await;
    let printed = format!("{client:?} {:?}", config(&double));
    assert!(!printed.contains(double.master_key()), "{printed}");
    let req = request("dbg", &["gpt-4o-mini"]);
    let printed = format!("{req:?}");
    assert!(!printed.contains(req.secret.expose()), "{printed}");
    let key = client.generate_key(&req).await.unwrap();
    assert!(!format!("{key:?}").contains(req.secret.expose()));
}

//! The adapter against a **real** LiteLLM 1.108.7 without a database, the one `scripts/litellm.sh test`
//! installs, starts with `tests/fixtures/litellm-config.yaml` and points these tests at through
//! `LITELLM_REAL_URL` and `LITELLM_REAL_MASTER_KEY`. What a proxy without a database can serve is checked
//! here: the catalog (and a catalog sync through the domain's use case), readiness, the auth errors (byte for
//! byte against the double's) and how the adapter classifies the "no database" answers of the key routes.
//! The key lifecycle needs a database-backed LiteLLM: that is `contract.rs` with `LITELLM_URL`.
//!
//! Every test is `#[ignore]`d with the reason, so a plain `cargo nextest run` lists them as skipped instead
//! of passing them silently; the script runs them with `--run-ignored only`.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap or a panic is a failed test"
)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyport_domain::catalog::SyncCatalog;
use keyport_domain::catalog::{Availability, CatalogEntry, Model};
use keyport_domain::catalog::{CatalogChanges, ModelStore};
use keyport_domain::gateway::{Gateway, GenerateKey};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::Limits;
use keyport_domain::runtime::Clock;
use keyport_domain::secret::{KeyHash, Secret, SecretKind, RANDOM_BYTES};
use keyport_domain::{GatewayError, StoreError};
use keyport_litellm::{LiteLlmClient, LiteLlmConfig, MasterKey, RetryPolicy};
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The configuration the proxy runs with; the catalog test reads its model names from it.
const CONFIG: &str = include_str!("fixtures/litellm-config.yaml");

/// Where the real proxy is. Running an ignored test without it is an error, never a silent pass.
struct Real {
    url: String,
    master_key: String,
}

fn real() -> Real {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: these tests need a real LiteLLM; run scripts/litellm.sh test"
            )
        })
    };
    Real {
        url: var("LITELLM_REAL_URL").trim_end_matches('/').to_owned(),
        master_key: var("LITELLM_REAL_MASTER_KEY"),
    }
}

impl Real {
    fn client(&self) -> LiteLlmClient {
        self.client_with_key(&self.master_key)
    }

    fn client_with_key(&self, master_key: &str) -> LiteLlmClient {
        LiteLlmClient::new(
            LiteLlmConfig::new(self.url.parse().unwrap(), MasterKey::new(master_key)).with_retry(
                RetryPolicy {
                    max_retries: 1,
                    base_delay: Duration::from_millis(20),
                    max_delay: Duration::from_millis(20),
                },
            ),
        )
        .unwrap()
    }
}

fn id(name: &str) -> ModelId {
    ModelId::parse(name).unwrap()
}

fn dec(text: &str) -> Option<Decimal> {
    Some(Decimal::from_str(text).unwrap())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The `model_name`s of the fixture, in order.
fn configured_models() -> Vec<String> {
    CONFIG
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- model_name:"))
        .map(|name| name.trim().trim_matches('"').to_owned())
        .collect()
}

/// What `/model_group/info` of the fixture turns into: prices from the config, context windows and
/// capabilities from the config or LiteLLM's bundled cost map (`LITELLM_LOCAL_MODEL_COST_MAP=True`).
fn expected_catalog() -> Vec<CatalogEntry> {
    vec![
        CatalogEntry {
            id: id("fake-gpt-4o-mini"),
            provider: Some("openai".into()),
            mode: Some("chat".into()),
            capabilities: strings(&[
                "chat",
                "function_calling",
                "parallel_function_calling",
                "vision",
            ]),
            context_window: Some(128_000),
            input_price_per_token: dec("0.000001"),
            output_price_per_token: dec("0.000002"),
        },
        CatalogEntry {
            id: id("fake-claude"),
            provider: Some("anthropic".into()),
            mode: Some("chat".into()),
            capabilities: strings(&["chat", "function_calling", "reasoning", "vision"]),
            context_window: Some(200_000),
            input_price_per_token: dec("0.000003"),
            output_price_per_token: dec("0.000015"),
        },
        CatalogEntry {
            id: id("meta-llama/Llama-3.1-8B-Instruct"),
            provider: Some("hosted_vllm".into()),
            mode: Some("chat".into()),
            capabilities: strings(&["chat"]),
            context_window: Some(131_072),
            input_price_per_token: dec("0.0000002"),
            output_price_per_token: dec("0.0000004"),
        },
        CatalogEntry {
            id: id("fake-embed"),
            provider: Some("openai".into()),
            mode: Some("embedding".into()),
            capabilities: strings(&["embedding"]),
            context_window: Some(8_191),
            input_price_per_token: dec("0.00000002"),
            output_price_per_token: dec("0"),
        },
    ]
}

// --- catalog and health --------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn the_catalog_lists_every_configured_model_with_its_prices_as_decimals() {
    let catalog = real().client().model_catalog().await.unwrap();
    let names: Vec<&str> = catalog.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        names,
        configured_models(),
        "every configured model group, in order"
    );
    assert_eq!(catalog, expected_catalog());
    // Prices arrive as the digits LiteLLM printed, not as binary float expansions.
    assert_eq!(
        catalog[2].input_price_per_token.unwrap().to_string(),
        "0.0000002"
    );
}

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn readiness_is_ok_and_the_health_answers_are_those_of_the_contract() {
    let real = real();
    real.client().readiness().await.unwrap();
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/health/readiness", real.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        (&ready["status"], &ready["db"]),
        (&"healthy".into(), &"Not connected".into())
    );
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let alive = |base: String| {
        let http = http.clone();
        async move {
            let answer = http
                .get(format!("{base}/health/liveliness"))
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.bytes().await.unwrap())
        }
    };
    let (real_alive, double_alive) = (
        alive(real.url.clone()).await,
        alive(double.base_url()).await,
    );
    assert_eq!(real_alive, (200, "\"I'm alive!\"".into()));
    assert_eq!(real_alive, double_alive);
}

// --- authentication --------------------------------------------------------------------------------------------

/// Request headers, name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// `GET /v1/models` with these headers: status, content type, body.
async fn models_answer(base: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(format!("{base}/v1/models"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.unwrap();
    let content_type = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        answer.status().as_u16(),
        content_type,
        answer.text().await.unwrap(),
    )
}

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn the_401_answers_are_byte_for_byte_those_of_the_double() {
    let real = real();
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let no_key = r#"{"error":{"message":"Authentication Error, No api key passed in.","type":"auth_error","param":"None","code":"401"}}"#;
    let malformed = r#"{"error":{"message":"Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.","type":"auth_error","param":"None","code":"401"}}"#;
    let real_bare = real.master_key.clone();
    let double_bare = double.master_key().to_owned();
    let cases: [(&str, Headers, Headers, &str); 3] = [
        ("no key header", vec![], vec![], no_key),
        (
            "the master key without `Bearer `",
            vec![("authorization", real_bare.as_str())],
            vec![("authorization", double_bare.as_str())],
            malformed,
        ),
        (
            "`Bearer` and nothing else",
            vec![("authorization", "Bearer")],
            vec![("authorization", "Bearer")],
            malformed,
        ),
    ];
    for (case, real_headers, double_headers, body) in cases {
        let from_real = models_answer(&real.url, &real_headers).await;
        let from_double = models_answer(&double.base_url(), &double_headers).await;
        assert_eq!(
            from_real,
            (401, "application/json".to_owned(), body.to_owned()),
            "real LiteLLM, {case}"
        );
        assert_eq!(from_double, from_real, "the double, {case}");
    }
}

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn a_wrong_master_key_without_a_database_is_refused_as_invalid_not_unauthorized() {
    // Without a database LiteLLM cannot tell a wrong master key from a virtual key it would look up: it
    // answers 400 `no_db_connection` "No connected db." (docs/litellm-contract.md#errors) before any 401. The
    // adapter reads that as a certain refusal. Against a database-backed LiteLLM the same mistake is a 401,
    // which `contract.rs` checks is `Unauthorized`.
    let real = real();
    let no_db = GatewayError::Invalid {
        field: None,
        message: "No connected db.".to_owned(),
    };
    for wrong in ["sk-keyport-wrong-master-key", "not-even-sk"] {
        let client = real.client_with_key(wrong);
        assert_eq!(client.model_catalog().await.unwrap_err(), no_db, "{wrong}");
        assert_eq!(
            client.key_info(&unknown_hash()).await.unwrap_err(),
            no_db,
            "{wrong}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn a_master_key_litellm_reads_as_missing_gets_its_401_and_is_unauthorized() {
    // A blank master key goes out as `Bearer ` + spaces, which LiteLLM reads as a malformed header: the
    // one way to get a real 401 through the adapter from a proxy without a database.
    let client = real().client_with_key("  ");
    assert_eq!(
        client.model_catalog().await.unwrap_err(),
        GatewayError::Unauthorized
    );
}

// --- the key routes without a database -----------------------------------------------------------------------

fn fresh_secret() -> Secret {
    let mut bytes = [0u8; RANDOM_BYTES];
    bytes[..16].copy_from_slice(UserId::new().0.as_bytes());
    bytes[16..].copy_from_slice(UserId::new().0.as_bytes());
    Secret::from_random(SecretKind::ApiKey, &bytes)
}

fn unknown_hash() -> KeyHash {
    KeyHash::of(&fresh_secret())
}

/// `Unavailable` carrying LiteLLM's status and message.
fn assert_unavailable(call: &str, err: &GatewayError, says: &str) {
    match err {
        GatewayError::Unavailable(m)
            if m.starts_with("LiteLLM answered 500") && m.contains(says) => {}
        other => panic!(
            "{call}: expected Unavailable(\"LiteLLM answered 500: …{says}…\"), got {other:?}"
        ),
    }
}

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn the_key_routes_without_a_database_are_unavailable_not_a_crash() {
    // Each answers a 500 in a different shape (docs/litellm-contract.md#errors); all are "LiteLLM cannot do
    // this now", which the use cases treat as an uncertain outcome to check again later. None is read as "not
    // found".
    let client = real().client();
    let hash = unknown_hash();
    assert_unavailable(
        "key_info",
        &client.key_info(&hash).await.unwrap_err(),
        "Database not connected.",
    );
    assert_unavailable(
        "block_key (bare `Internal server error` body)",
        &client.block_key(&hash).await.unwrap_err(),
        "Internal server error",
    );
    assert_unavailable(
        "delete_key",
        &client.delete_key(&hash).await.unwrap_err(),
        "Not connected to DB!",
    );
    let request = GenerateKey {
        secret: fresh_secret(),
        alias: format!("keyport-real-proxy-{}", UserId::new()),
        user_id: UserId::new(),
        models: vec![id("fake-gpt-4o-mini")],
        limits: Limits::default(),
        expires_in_seconds: None,
        metadata: serde_json::json!({}),
        team_id: "keyport-test-team".to_owned(),
        allowed_routes: routes(),
        spend: None,
    };
    let err = client.generate_key(&request).await.unwrap_err();
    // The repr `{'error': 'DB not connected. …'}` is unwrapped to its text.
    assert_unavailable(
        "generate_key",
        &err,
        ": DB not connected. This endpoint needs a database",
    );
    assert!(err.is_uncertain());
}

// --- catalog sync through the domain's use case -------------------------------------------------------------

/// A `ModelStore` in memory, applying changes the way the port's contract says.
#[derive(Default)]
struct MemoryModels(Mutex<BTreeMap<ModelId, Model>>);

#[async_trait]
impl ModelStore for MemoryModels {
    async fn list_models(&self) -> Result<Vec<Model>, StoreError> {
        Ok(self.0.lock().unwrap().values().cloned().collect())
    }

    async fn get_model(&self, id: &ModelId) -> Result<Option<Model>, StoreError> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }

    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        let mut models = self.0.lock().unwrap();
        for entry in &changes.upserts {
            let model = models.entry(entry.id.clone()).or_insert_with(|| Model {
                id: entry.id.clone(),
                provider: None,
                display_name: entry.id.as_str().to_owned(),
                description: None,
                capabilities: Vec::new(),
                context_window: None,
                input_price_per_token: None,
                output_price_per_token: None,
                availability: Availability::Available,
                restricted: false,
                hidden: false,
                default_quota: Limits::default(),
                last_synced_at: None,
            });
            model.provider = entry.provider.clone();
            model.capabilities = entry.capabilities.clone();
            model.context_window = entry.context_window;
            model.input_price_per_token = entry.input_price_per_token;
            model.output_price_per_token = entry.output_price_per_token;
            model.availability = Availability::Available;
            model.last_synced_at = Some(changes.synced_at);
        }
        for id in &changes.vanished {
            if let Some(model) = models.get_mut(id) {
                model.availability = Availability::Unavailable;
            }
        }
        Ok(())
    }
}

struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[tokio::test]
#[ignore = "needs a real LiteLLM: run scripts/litellm.sh test"]
async fn a_catalog_sync_adds_the_models_then_finds_them_unchanged_and_marks_vanished_ones() {
    let store = Arc::new(MemoryModels::default());
    let sync = SyncCatalog::new(
        Arc::new(real().client()),
        store.clone(),
        Arc::new(SystemClock),
    );

    let first = sync.execute().await.unwrap();
    let configured: Vec<ModelId> = configured_models().iter().map(|n| id(n)).collect();
    let mut added = first.added.clone();
    added.sort();
    let mut expected = configured.clone();
    expected.sort();
    assert_eq!(added, expected);
    assert_eq!((first.updated.len(), first.unchanged), (0, 0));
    let llama = store
        .get_model(&id("meta-llama/Llama-3.1-8B-Instruct"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(llama.provider.as_deref(), Some("hosted_vllm"));
    assert_eq!(llama.context_window, Some(131_072));
    assert_eq!(llama.input_price_per_token, dec("0.0000002"));
    assert_eq!(llama.availability, Availability::Available);

    // A model keyport knows but LiteLLM no longer lists.
    let mut retired = llama.clone();
    retired.id = id("retired-model");
    store.0.lock().unwrap().insert(retired.id.clone(), retired);

    let second = sync.execute().await.unwrap();
    assert!(
        second.added.is_empty() && second.updated.is_empty(),
        "{second:?}"
    );
    assert_eq!(second.unchanged, configured.len());
    assert_eq!(second.now_unavailable, [id("retired-model")]);
    let retired = store
        .get_model(&id("retired-model"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retired.availability, Availability::Unavailable);
}

fn routes() -> Vec<String> {
    keyport_domain::access::DEFAULT_INFERENCE_ROUTES
        .iter()
        .map(|r| (*r).to_owned())
        .collect()
}

//! What the adapter's test files share: a LiteLLM double with a client in front of it ([`Setup`]), the
//! client configuration they use, and the routes keys are allowed. Each test file uses part of it.

use keyport_domain::secret::Secret;
use keyport_litellm::{LiteLlmClient, LiteLlmConfig, MasterKey, RetryPolicy};
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble};
use serde_json::{json, Value};
use std::time::Duration;

/// The client configuration for `double`: two quick retries.
pub fn config(double: &LiteLlmDouble) -> LiteLlmConfig {
    LiteLlmConfig::new(
        double.base_url().parse().unwrap(),
        MasterKey::new(double.master_key()),
    )
    .with_retry(RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    })
}

/// The routes every key of the suites may call.
pub fn routes() -> Vec<String> {
    keyport_domain::access::DEFAULT_INFERENCE_ROUTES
        .iter()
        .map(|r| (*r).to_owned())
        .collect()
}

/// A running double, the adapter's client in front of it and a plain HTTP client for calling the double
/// as a key's holder would.
pub struct Setup {
    pub double: LiteLlmDouble,
    pub client: LiteLlmClient,
    pub http: reqwest::Client,
}

impl Setup {
    pub async fn start(config: DoubleConfig) -> Self {
        let double = LiteLlmDouble::start(config).await.unwrap();
        let client = LiteLlmClient::new(self::config(&double)).unwrap();
        Self {
            double,
            client,
            http: reqwest::Client::new(),
        }
    }

    pub async fn demo() -> Self {
        Self::start(DoubleConfig::demo()).await
    }

    /// Creates the LiteLLM team `team_id` (LiteLLM refuses an update naming an unknown team).
    pub async fn create_team(&self, team_id: &str) {
        let created = self
            .http
            .post(format!("{}/team/new", self.double.base_url()))
            .bearer_auth(self.double.master_key())
            .json(&json!({ "team_id": team_id }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
    }

    /// A chat completion with the virtual key: status and `error.type` (empty on success).
    pub async fn chat(&self, secret: &Secret, model: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("{}/v1/chat/completions", self.double.base_url()))
            .bearer_auth(secret.expose())
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let kind = body["error"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (status, kind)
    }
}

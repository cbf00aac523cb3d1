//! Shared helpers for the double's contract tests.
#![allow(dead_code, clippy::unwrap_used)]

use keyport_litellm_double::{DoubleConfig, LiteLlmDouble};
use serde_json::Value;

pub const MASTER: &str = "sk-double-master";

pub async fn start() -> LiteLlmDouble {
    LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap()
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

pub fn client(double: &LiteLlmDouble) -> Client {
    Client {
        http: reqwest::Client::new(),
        base: double.base_url(),
    }
}

/// An answer: status and raw body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap(),
    }
}

impl Client {
    pub async fn post(&self, path: &str, key: Option<&str>, body: &str) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Answer {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Answer {
        self.post(path, Some(MASTER), &body.to_string()).await
    }

    pub async fn admin_get(&self, path: &str) -> Answer {
        self.get(path, Some(MASTER)).await
    }

    /// Generates a key and asserts it worked.
    pub async fn generate(&self, body: Value) -> Value {
        let answer = self.admin_post("/key/generate", body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()
    }

    pub async fn chat(&self, key: &str, model: &str) -> Answer {
        let body =
            serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        self.post("/v1/chat/completions", Some(key), &body.to_string())
            .await
    }
}

pub fn sha256_hex(raw: &str) -> String {
    keyport_litellm_double::hash_token(raw)
}

//! keyport's API and LiteLLM's, as the tests call them: bearer-token requests answering (status, JSON
//! body), and the calls many tests make (subscribe, create a key, chat with a key).

use super::App;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

impl App {
    /// Calls one of LiteLLM's admin endpoints with the master key.
    pub async fn litellm_admin(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{}", self.double.base_url(), path))
            .header(
                AUTHORIZATION,
                format!("Bearer {}", self.double.master_key()),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    /// Any method, with a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let r = self
            .client
            .request(method, self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, token, path, body).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, token, path, body).await
    }

    /// Revokes a key (`DELETE /api/v1/api-keys/{id}`), which must succeed, and answers the key.
    pub async fn revoke_key(&self, token: &str, key_id: &str) -> Value {
        let (status, revoked) = self
            .delete(token, &format!("/api/v1/api-keys/{key_id}"))
            .await;
        assert_eq!(status, 200, "{revoked}");
        revoked
    }

    /// The Prometheus text of `/metrics` (no token: the tests run without a metrics token).
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Subscribes the token's user to a model and returns the subscription id.
    pub async fn subscribe(&self, token: &str, model: &str) -> String {
        let (status, body) = self
            .post(
                token,
                "/api/v1/subscriptions",
                serde_json::json!({"model_id": model}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a key (`body` as `POST /api/v1/api-keys` takes it) and answers its id and secret.
    pub async fn create_key(&self, token: &str, body: Value) -> (String, String) {
        let (status, created) = self.post(token, "/api/v1/api-keys", body).await;
        assert_eq!(status, 201, "{created}");
        (
            created["key"]["id"].as_str().unwrap().to_owned(),
            created["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Calls the double's chat endpoint with a virtual key.
    pub async fn chat(&self, secret: &str, model: &str) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/v1/chat/completions", self.double.base_url()))
            .header(AUTHORIZATION, format!("Bearer {secret}"))
            .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        decode(r).await
    }
}

pub async fn decode(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let problem = r
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400
        && body
            .get("type")
            .is_some_and(|t| t.as_str().unwrap_or_default().starts_with("urn:keyport:"))
    {
        assert!(
            problem,
            "a keyport error is served as application/problem+json: {body}"
        );
    }
    (status, body)
}

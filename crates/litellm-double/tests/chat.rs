//! Key enforcement on `/v1/chat/completions` in the order of
//! docs/litellm-contract.md#order-of-the-checks-on-use, and what a successful call charges.

mod common;

use common::{client, sha256_hex, start, MASTER};
use serde_json::json;

const KEY: &str = "sk-chat-test-key-0000000";

#[tokio::test]
async fn a_successful_call_answers_a_mock_completion_and_charges_the_key() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "models": ["gpt-4o-mini"], "user_id": "u1"}))
        .await;
    let a = c.chat(KEY, "gpt-4o-mini").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["usage"],
        json!({"completion_tokens": 20, "prompt_tokens": 10, "total_tokens": 30})
    );
    let expected = 10.0 * 1.5e-7 + 20.0 * 6e-7;
    let key = double.key(&sha256_hex(KEY)).unwrap();
    assert!((key.spend - expected).abs() < 1e-15);
    assert!((key.total_spend - expected).abs() < 1e-15);
    let logs = double.spend_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].api_key, sha256_hex(KEY));
    assert_eq!(logs[0].model_group, "gpt-4o-mini");
    assert_eq!(logs[0].user.as_deref(), Some("u1"));
    assert_eq!((logs[0].prompt_tokens, logs[0].completion_tokens), (10, 20));
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_get_the_auth_errors() {
    let double = start().await;
    let c = client(&double);
    let body = json!({"model": "gpt-4o-mini"}).to_string();
    let a = c.post("/v1/chat/completions", None, &body).await;
    assert_eq!(
        a.body,
        r#"{"error":{"message":"Authentication Error, No api key passed in.","type":"auth_error","param":"None","code":"401"}}"#
    );
    let a = c
        .post("/v1/chat/completions", Some(&"a".repeat(64)), &body)
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            401,
            r#"{"error":{"message":"Authentication Error, LiteLLM Virtual Key expected. Received=aaaa****aaaa, expected to start with 'sk-'.","type":"auth_error","param":"None","code":"401"}}"#
        )
    );
    let a = c.chat("sk-unknown-key-00000000", "gpt-4o-mini").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            401,
            r#"{"error":{"message":"Authentication Error, Invalid API key provided.","type":"token_not_found_in_db","param":"key","code":"401"}}"#
        )
    );
    c.generate(json!({"key": KEY})).await;
    c.admin_post("/key/delete", json!({"keys": [KEY]})).await;
    let a = c.chat(KEY, "gpt-4o-mini").await;
    assert_eq!(
        a.json()["error"]["type"],
        "token_not_found_in_db",
        "a deleted key is unknown"
    );
}

#[tokio::test]
async fn a_blocked_key_is_refused_before_its_model_is_checked() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "models": ["gpt-4o-mini"], "blocked": true}))
        .await;
    let a = c.chat(KEY, "claude-3-5-sonnet").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            401,
            r#"{"error":{"message":"Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.","type":"auth_error","param":"None","code":"401"}}"#
        )
    );
}

#[tokio::test]
async fn an_expired_key_asking_for_a_forbidden_model_gets_403_not_expired() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "models": ["gpt-4o-mini"], "duration": "0d"}))
        .await;
    let a = c.chat(KEY, "claude-3-5-sonnet").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            403,
            r#"{"error":{"message":"The requested model 'claude-3-5-sonnet' is not available for this API key, or the model name is invalid. Check the models available to you and try again.","type":"key_model_access_denied","param":"model","code":"403"}}"#
        )
    );
    let a = c.chat(KEY, "gpt-4o-mini").await;
    assert_eq!(a.status, 401);
    let error = &a.json()["error"];
    assert_eq!(error["type"], "expired_key");
    let hash = sha256_hex(KEY);
    assert_eq!(error["param"], format!("sk-...{}", &hash[60..]).as_str());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Authentication Error - Expired Key. Key Expiry time 20"),
        "{message}"
    );
    assert!(message.contains("+00:00 and current time 20"), "{message}");
}

#[tokio::test]
async fn an_empty_model_list_allows_every_model() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "models": []})).await;
    assert_eq!(
        c.chat(KEY, "meta-llama/Llama-3.1-8B-Instruct").await.status,
        200
    );
    assert_eq!(c.chat(KEY, "claude-3-5-sonnet").await.status, 200);
}

#[tokio::test]
async fn the_budget_trips_when_spend_reaches_max_budget_except_on_free_models() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "key_alias": "b", "max_budget": 0}))
        .await;
    let a = c.chat(KEY, "gpt-4o-mini").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            422,
            r#"{"error":{"message":"Budget has been exceeded! Key=b (sk-...0000) Current cost: 0.0, Max budget: 0.0","type":"budget_exceeded","param":null,"code":"422"}}"#
        )
    );
    assert_eq!(
        c.chat(KEY, "meta-llama/Llama-3.1-8B-Instruct").await.status,
        200
    );

    let other = "sk-chat-test-key-1111111";
    c.generate(json!({"key": other, "max_budget": 1e-5})).await;
    assert_eq!(
        c.chat(other, "gpt-4o-mini").await.status,
        200,
        "spend 0 < budget"
    );
    let a = c.chat(other, "gpt-4o-mini").await;
    assert_eq!(a.status, 422, "spend 1.35e-05 >= 1e-05");
    assert!(
        a.body
            .contains("Key=key (sk-...1111) Current cost: 1.35e-05, Max budget: 1e-05"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn an_unknown_model_is_an_invalid_request() {
    let double = start().await;
    let c = client(&double);
    let a = c.chat(MASTER, "nope").await;
    assert_eq!(a.status, 400);
    assert!(a.body.starts_with(r#"{"error":{"message":"/chat/completions: Invalid model name passed in model=nope. Call `/v1/models` to view available models for your key.","type":"invalid_request_error","param":null,"code":"400""#), "{}", a.body);
}

#[tokio::test]
async fn a_due_budget_reset_starts_a_new_window() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "max_budget": 1e-5, "budget_duration": "1h"}))
        .await;
    assert_eq!(c.chat(KEY, "gpt-4o-mini").await.status, 200);
    assert_eq!(c.chat(KEY, "gpt-4o-mini").await.status, 422);
    let hash = sha256_hex(KEY);
    double.update_key(&hash, |k| {
        k.budget_reset_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1))
    });
    assert_eq!(c.chat(KEY, "gpt-4o-mini").await.status, 200);
    let key = double.key(&hash).unwrap();
    assert!(key.total_spend > key.spend, "total_spend keeps counting");
    assert!(key.budget_reset_at.unwrap() > chrono::Utc::now());
}

#[tokio::test]
async fn rpm_and_tpm_limits_answer_429_within_the_window() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "rpm_limit": 2})).await;
    assert_eq!(c.chat(KEY, "gpt-4o-mini").await.status, 200);
    assert_eq!(c.chat(KEY, "gpt-4o-mini").await.status, 200);
    let a = c.chat(KEY, "gpt-4o-mini").await;
    assert_eq!(a.status, 429, "{}", a.body);
    let error = &a.json()["error"];
    assert_eq!(error["type"], "throttling_error");
    assert_eq!(error["param"], serde_json::Value::Null);
    assert_eq!(error["code"], "429");
    let message = error["message"].as_str().unwrap();
    let hash = sha256_hex(KEY);
    assert!(
        message.starts_with(&format!(
            "Rate limit exceeded for api_key: {hash}. Limit type: requests. Current limit: 2, Remaining: 0. Limit resets at: "
        )),
        "{message}"
    );
    assert!(message.ends_with(" UTC"), "{message}");

    let other = "sk-chat-test-key-1111111";
    c.generate(json!({"key": other, "tpm_limit": 45})).await;
    assert_eq!(c.chat(other, "gpt-4o-mini").await.status, 200);
    assert_eq!(
        c.chat(other, "gpt-4o-mini").await.status,
        200,
        "30 tokens used, under 45"
    );
    let a = c.chat(other, "gpt-4o-mini").await;
    assert_eq!(a.status, 429);
    assert!(
        a.body.contains("Limit type: tokens. Current limit: 45"),
        "{}",
        a.body
    );

    let unlimited = "sk-chat-test-key-2222222";
    c.generate(json!({"key": unlimited})).await;
    for _ in 0..5 {
        assert_eq!(c.chat(unlimited, "gpt-4o-mini").await.status, 200);
    }
}

#[tokio::test]
async fn a_rate_limited_answer_carries_retry_after() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY, "rpm_limit": 1})).await;
    assert_eq!(c.chat(KEY, "gpt-4o-mini").await.status, 200);
    let response = c
        .http
        .post(format!("{}/v1/chat/completions", c.base))
        .bearer_auth(KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(response.headers()["rate_limit_type"], "requests");
    assert!(response.headers()["reset_at"]
        .to_str()
        .unwrap()
        .ends_with(" UTC"));
    assert_eq!(response.headers()["content-type"], "application/json");
}

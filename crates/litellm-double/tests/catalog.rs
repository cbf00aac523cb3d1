//! Catalog and health routes (docs/litellm-contract.md#the-catalog, #health).

mod common;

use common::{client, start};
use serde_json::json;

#[tokio::test]
async fn model_group_info_lists_every_public_model_with_prices_and_capabilities() {
    let double = start().await;
    let c = client(&double);
    let body = c.admin_get("/model_group/info").await.json();
    let groups: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["model_group"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        [
            "gpt-4o-mini",
            "claude-3-5-sonnet",
            "meta-llama/Llama-3.1-8B-Instruct",
            "text-embedding-3-small"
        ]
    );
    let first = &body["data"][0];
    assert_eq!(first["providers"], json!(["openai"]));
    assert_eq!(first["input_cost_per_token"], 1.5e-7);
    assert_eq!(first["max_input_tokens"], 128000);
    assert_eq!(first["supports_vision"], true);
    assert_eq!(first["mode"], "chat");
    let one = c
        .admin_get("/model_group/info?model_group=meta-llama/Llama-3.1-8B-Instruct")
        .await
        .json();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn model_info_has_one_entry_per_deployment() {
    let double = start().await;
    let body = client(&double).admin_get("/model/info").await.json();
    let first = &body["data"][0];
    assert_eq!(first["model_name"], "gpt-4o-mini");
    assert_eq!(first["litellm_params"]["model"], "openai/gpt-4o-mini");
    assert_eq!(first["model_info"]["litellm_provider"], "openai");
    assert_eq!(first["model_info"]["id"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn v1_models_with_a_virtual_key_lists_only_its_models() {
    let double = start().await;
    let c = client(&double);
    let key = "sk-catalog-key-00000000";
    c.generate(json!({"key": key, "models": ["claude-3-5-sonnet"]}))
        .await;
    let body = c.get("/v1/models", Some(key)).await.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["id"], "claude-3-5-sonnet");
    assert_eq!(body["data"][0]["owned_by"], "anthropic");
    let all = c.admin_get("/v1/models").await.json();
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn health_routes_need_no_key() {
    let double = start().await;
    let c = client(&double);
    let a = c.get("/health/liveliness", None).await;
    assert_eq!((a.status, a.body.as_str()), (200, r#""I'm alive!""#));
    let a = c.get("/health/readiness", None).await;
    assert_eq!(a.json(), json!({"status": "healthy", "db": "connected"}));
    let a = c.get("/nope", None).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (404, r#"{"detail":"Not Found"}"#)
    );
}

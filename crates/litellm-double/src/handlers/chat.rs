//! `POST /v1/chat/completions`: enforces a virtual key the way the proxy does (§2.3, in the order of
//! `validate_resolved_virtual_key`: unknown → blocked → model → expired → budget), then answers a mock
//! completion of 10 prompt and 20 completion tokens, charges the key and writes a spend log row.

use crate::auth::{self, Caller};
use crate::errors::{Failure, Param};
use crate::pyfmt;
use crate::state::{hash_token, now_micros, Shared, SpendLogRow};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub const PROMPT_TOKENS: u64 = 10;
pub const COMPLETION_TOKENS: u64 = 20;

pub async fn completions(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authenticate(&req, &shared)?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("None")
        .to_owned();
    let spec = shared.config.models.iter().find(|m| m.name == model);
    let now = now_micros();

    let key_hash = match &caller {
        Caller::Master => hash_token(&shared.config.master_key),
        Caller::Virtual(key) => {
            if !key.allows_model(&model) {
                return Err(Failure::proxy(
                    403,
                    "key_model_access_denied",
                    format!("The requested model '{model}' is not available for this API key, or the model name is invalid. Check the models available to you and try again."),
                    Param::Field("model".to_owned()),
                ));
            }
            if let Some(expires) = key.expires.filter(|at| *at < now) {
                let tail: String = key
                    .hash
                    .chars()
                    .skip(key.hash.len().saturating_sub(4))
                    .collect();
                return Err(Failure::proxy(
                    401,
                    "expired_key",
                    format!(
                        "Authentication Error - Expired Key. Key Expiry time {} and current time {}",
                        pyfmt::datetime_str(expires),
                        pyfmt::datetime_str(now)
                    ),
                    Param::Field(format!("sk-...{tail}")),
                ));
            }
            let priced = spec.is_none_or(|m| !m.is_free());
            if let Some(max) = key.max_budget.filter(|max| priced && key.spend >= *max) {
                return Err(Failure::proxy(
                    shared.config.budget_exceeded_status,
                    "budget_exceeded",
                    format!(
                        "Budget has been exceeded! Key={} ({}) Current cost: {}, Max budget: {}",
                        key.alias.as_deref().unwrap_or("key"),
                        key.key_name,
                        pyfmt::float_repr(key.spend),
                        pyfmt::float_repr(max)
                    ),
                    Param::Null,
                ));
            }
            key.hash.clone()
        }
    };

    let Some(spec) = spec else {
        return Err(Failure::Proxy {
            status: 400,
            message: format!("/chat/completions: Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."),
            kind: "invalid_request_error",
            param: Param::Null,
            extra: Some(Box::new(("provider_specific_fields".to_owned(), json!({})))),
        });
    };

    let cost = PROMPT_TOKENS as f64 * spec.input_cost_per_token
        + COMPLETION_TOKENS as f64 * spec.output_cost_per_token;
    let request_id = format!("chatcmpl-{}", uuid::Uuid::new_v4());
    let key_spend = {
        let mut store = shared.store();
        let mut key_spend = cost;
        let mut user = None;
        if let Some(key) = store.keys.get_mut(&key_hash) {
            key.spend += cost;
            key.total_spend += cost;
            *key.model_spend.entry(spec.name.clone()).or_insert(0.0) += cost;
            key.last_active = Some(now);
            key_spend = key.spend;
            user = key.user_id.clone();
        }
        store.spend_logs.push(SpendLogRow {
            request_id: request_id.clone(),
            api_key: key_hash,
            model: spec.litellm_model(),
            model_group: spec.name.clone(),
            custom_llm_provider: spec.provider.clone(),
            user,
            prompt_tokens: PROMPT_TOKENS,
            completion_tokens: COMPLETION_TOKENS,
            total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS,
            spend: cost,
            start_time: now,
            end_time: now_micros(),
        });
        key_spend
    };

    Ok(HttpResponse::Ok()
        .insert_header(("x-litellm-version", shared.config.version.version_string()))
        .insert_header(("x-litellm-call-id", request_id.clone()))
        .insert_header(("x-litellm-model-id", spec.model_id()))
        .insert_header(("x-litellm-response-cost", pyfmt::float_repr(cost)))
        .insert_header(("x-litellm-key-spend", pyfmt::float_repr(key_spend)))
        .json(json!({
            "id": request_id,
            "created": now.timestamp(),
            "model": spec.upstream,
            "object": "chat.completion",
            "system_fingerprint": null,
            "choices": [{
                "finish_reason": "stop",
                "index": 0,
                "message": {
                    "content": spec.mock_response,
                    "role": "assistant",
                    "tool_calls": null,
                    "function_call": null,
                },
            }],
            "usage": {
                "completion_tokens": COMPLETION_TOKENS,
                "prompt_tokens": PROMPT_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        })))
}

//! The catalog routes (docs/litellm-contract.md#the-catalog): `/model_group/info` (one entry per public name),
//! `/model/info` (one per deployment) and the OpenAI-style `/v1/models`. A virtual key sees only the models it
//! may use.

use crate::auth::{self, Caller};
use crate::config::ModelSpec;
use crate::errors::Failure;
use crate::handlers::query_param;
use crate::state::Shared;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// The models the caller may see, in configuration order.
fn visible<'a>(caller: &Caller, shared: &'a Shared) -> Vec<&'a ModelSpec> {
    shared
        .config
        .models
        .iter()
        .filter(|m| match caller {
            Caller::Master => true,
            Caller::Virtual(key) => key.allows_model(&m.name),
        })
        .collect()
}

fn supported_openai_params(model: &ModelSpec) -> Value {
    if model.mode == "embedding" {
        return json!(["dimensions", "encoding_format", "user"]);
    }
    let mut params = vec![
        "frequency_penalty",
        "logit_bias",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "presence_penalty",
        "response_format",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "user",
    ];
    if model.supports_function_calling {
        params.extend(["tools", "tool_choice", "parallel_tool_calls"]);
    }
    json!(params)
}

pub async fn model_group_info(
    req: HttpRequest,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let only = query_param(&req, "model_group");
    let data: Vec<Value> = visible(&caller, &shared)
        .into_iter()
        .filter(|m| only.as_deref().is_none_or(|g| g == m.name))
        .map(|m| {
            json!({
                "model_group": m.name,
                "providers": [m.provider],
                "max_input_tokens": m.max_input_tokens,
                "max_output_tokens": m.max_output_tokens,
                "input_cost_per_token": m.input_cost_per_token,
                "output_cost_per_token": m.output_cost_per_token,
                "mode": m.mode,
                "tpm": null,
                "rpm": null,
                "supports_parallel_function_calling": m.supports_function_calling,
                "supports_vision": m.supports_vision,
                "supports_function_calling": m.supports_function_calling,
                "supports_web_search": false,
                "supports_reasoning": m.supports_reasoning,
                "supported_openai_params": supported_openai_params(m),
                "configurable_clientside_auth_params": null,
                "is_public_model_group": false,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

pub async fn model_info(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let only = query_param(&req, "litellm_model_id");
    let data: Vec<Value> = visible(&caller, &shared)
        .into_iter()
        .filter(|m| only.as_deref().is_none_or(|id| id == m.model_id()))
        .map(|m| {
            json!({
                "model_name": m.name,
                "litellm_params": {
                    "model": m.litellm_model(),
                    "input_cost_per_token": m.input_cost_per_token,
                    "output_cost_per_token": m.output_cost_per_token,
                    "mock_response": m.mock_response,
                },
                "model_info": {
                    "id": m.model_id(),
                    "db_model": false,
                    "key": m.upstream,
                    "mode": m.mode,
                    "max_tokens": m.max_output_tokens.or(m.max_input_tokens),
                    "max_input_tokens": m.max_input_tokens,
                    "max_output_tokens": m.max_output_tokens,
                    "input_cost_per_token": m.input_cost_per_token,
                    "output_cost_per_token": m.output_cost_per_token,
                    "litellm_provider": m.provider,
                    "supports_function_calling": m.supports_function_calling,
                    "supports_parallel_function_calling": m.supports_function_calling,
                    "supports_vision": m.supports_vision,
                    "supports_reasoning": m.supports_reasoning,
                    "supports_web_search": false,
                    "supported_openai_params": supported_openai_params(m),
                },
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

pub async fn list(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let data: Vec<Value> = visible(&caller, &shared)
        .into_iter()
        .map(|m| {
            json!({
                "id": m.name,
                "object": "model",
                "created": 1_677_610_602,
                "owned_by": m.provider,
                "mode": m.mode,
                "max_input_tokens": m.max_input_tokens,
                "max_output_tokens": m.max_output_tokens,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "object": "list" })))
}

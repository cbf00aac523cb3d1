//! `POST /v1/chat/completions`: enforces a virtual key the way the proxy does
//! (docs/litellm-contract.md#order-of-the-checks-on-use, in the order of `validate_resolved_virtual_key`:
//! unknown → blocked → model → the key's user's budget → expired → budget, then the rate limiter's pre-call
//! hook: `rpm_limit`/`tpm_limit`), then answers a mock completion of 10 prompt and 20 completion tokens,
//! charges the key and its user and writes a spend log row.

use crate::auth::{self, Caller};
use crate::errors::{Failure, Param};
use crate::hashing::hash_token;
use crate::pyfmt;
use crate::state::{now_micros, KeyRecord, Shared, SpendLogRow, TeamRecord, RATE_WINDOW_SECONDS};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

pub const PROMPT_TOKENS: u64 = 10;
pub const COMPLETION_TOKENS: u64 = 20;

pub async fn completions(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
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
                return Err(model_denied(&model, "key_model_access_denied"));
            }
            let priced = spec.is_none_or(|m| !m.is_free());
            let (user, team) = {
                let mut store = shared.store();
                let user = key.user_id.as_ref().and_then(|id| {
                    store.users.get_mut(id).map(|user| {
                        user.reset_budget_if_due(now);
                        user.clone()
                    })
                });
                let team = key
                    .team_id
                    .as_ref()
                    .and_then(|id| store.teams.get(id).cloned());
                (user, team)
            };
            let personal = key.team_id.is_none();
            // `common_checks` 2.1: the user's models bind personal keys only.
            if let Some(user) = user.as_ref().filter(|_| personal) {
                if user.models.iter().any(|m| m == "no-default-models") {
                    return Err(model_denied(&model, "key_model_access_denied"));
                }
                if !models_allow(&user.models, &model) {
                    return Err(model_denied(&model, "user_model_access_denied"));
                }
            }
            if let Some(team) = &team {
                if !models_allow(&team.models, &model) {
                    return Err(model_denied(&model, "team_model_access_denied"));
                }
            }
            // The user's overall budget binds personal keys only (unless
            // `apply_user_budget_to_team_keys`, which the double does not set).
            if let Some(user) = user.as_ref().filter(|_| personal) {
                if let Some(max) = user.max_budget.filter(|max| priced && user.spend >= *max) {
                    return Err(Failure::proxy(
                        shared.config.budget_exceeded_status,
                        "budget_exceeded",
                        format!(
                            "ExceededBudget: User={} over budget. Spend={}, Budget={}",
                            user.user_id,
                            pyfmt::float_repr(user.spend),
                            pyfmt::float_repr(max)
                        ),
                        Param::Null,
                    ));
                }
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
            // "Check 5a": the user's per-model budget caps every key of the user, team keys included.
            if let Some(user) = &user {
                let over = crate::budgets::exceeded(
                    &shared.store(),
                    &user.user_id,
                    &user.model_max_budget,
                    &model,
                    now,
                );
                if over.is_some() {
                    return Err(Failure::proxy(
                        shared.config.budget_exceeded_status,
                        "budget_exceeded",
                        format!(
                            "LiteLLM User: {}, exceeded budget for model={model}",
                            user.user_id
                        ),
                        Param::Null,
                    ));
                }
            }
            admit(&shared, key, team.as_ref(), &model, now)?;
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
            let team = key.team_id.clone();
            store.rate_window(&key_hash, now).tokens += (PROMPT_TOKENS + COMPLETION_TOKENS) as i64;
            if let Some(team) = team {
                store
                    .rate_window(&team_descriptor(&team, &spec.name), now)
                    .tokens += (PROMPT_TOKENS + COMPLETION_TOKENS) as i64;
            }
        }
        if let Some(user) = user.as_ref().and_then(|id| store.users.get_mut(id)) {
            user.spend += cost;
            let budgets = user.model_max_budget.clone();
            if cost > 0.0 && !budgets.is_empty() {
                let id = user.user_id.clone();
                crate::budgets::charge(&mut store, &id, &budgets, &spec.name, cost, now);
            }
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

/// LiteLLM's rate limiter (`parallel_request_limiter_v3`, a pre-call hook, so it runs after the key
/// checks), with two of its descriptors: the key's own (`api_key`: `rpm_limit`/`tpm_limit`) and, for a team
/// key, the team's per-model pool (`model_per_team` = `<team_id>:<model>`, from the team's metadata
/// `model_rpm_limit`/`model_tpm_limit`). A request is refused with 429 once the requests (this one included)
/// or the tokens already used in the current 60 s window go over a limit; an admitted request counts at once
/// in every window, its tokens when it ends.
fn admit(
    shared: &Shared,
    key: &KeyRecord,
    team: Option<&TeamRecord>,
    model: &str,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let mut store = shared.store();
    let mut descriptors = vec![(
        "api_key",
        key.hash.clone(),
        key.hash.clone(),
        key.rpm_limit,
        key.tpm_limit,
    )];
    if let Some(team) = team {
        let rpm = team.model_limit("model_rpm_limit", model);
        let tpm = team.model_limit("model_tpm_limit", model);
        if rpm.is_some() || tpm.is_some() {
            descriptors.push((
                "model_per_team",
                format!("{}:{model}", team.team_id),
                team_descriptor(&team.team_id, model),
                rpm,
                tpm,
            ));
        }
    }
    for (kind, value, window_key, rpm, tpm) in &descriptors {
        let window = store.rate_window(window_key, now);
        let over = match (rpm, tpm) {
            (Some(limit), _) if window.requests + 1 > *limit => Some(("requests", *limit)),
            (_, Some(limit)) if window.tokens >= *limit => Some(("tokens", *limit)),
            _ => None,
        };
        if let Some((limit_type, limit)) = over {
            return Err(rate_limited(kind, value, limit_type, limit, now));
        }
    }
    for (_, _, window_key, _, _) in &descriptors {
        store.rate_window(window_key, now).requests += 1;
    }
    Ok(())
}

/// The rate window of a team's per-model pool.
fn team_descriptor(team_id: &str, model: &str) -> String {
    format!("model_per_team:{team_id}:{model}")
}

/// Whether a `models` list (a user's or a team's) lets `model` through: empty, `*` and `all-proxy-models`
/// allow every model.
fn models_allow(models: &[String], model: &str) -> bool {
    models.is_empty()
        || models
            .iter()
            .any(|m| m == model || m == "*" || m == "all-proxy-models")
}

/// The model-access refusal, whose `type` names the object that refused (`auth/model_access_denied.py`).
fn model_denied(model: &str, kind: &'static str) -> Failure {
    Failure::proxy(
        403,
        kind,
        format!("The requested model '{model}' is not available for this API key, or the model name is invalid. Check the models available to you and try again."),
        Param::Field("model".to_owned()),
    )
}

/// `ProxyRateLimitError` as the chat route renders it: `throttling_error` (the type of LiteLLM's
/// `RateLimitError`), `param: null`, and the
/// limiter's `retry-after`, `rate_limit_type` and `reset_at` headers.
fn rate_limited(
    descriptor: &str,
    value: &str,
    kind: &'static str,
    limit: i64,
    now: DateTime<Utc>,
) -> Failure {
    let reset_at = (now + Duration::seconds(RATE_WINDOW_SECONDS))
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    Failure::proxy(
        429,
        "throttling_error",
        format!(
            "Rate limit exceeded for {descriptor}: {value}. Limit type: {kind}. Current limit: {limit}, Remaining: 0. Limit resets at: {reset_at}"
        ),
        Param::Null,
    )
    .with_headers(vec![
        ("retry-after", RATE_WINDOW_SECONDS.to_string()),
        ("rate_limit_type", kind.to_owned()),
        ("reset_at", reset_at),
    ])
}

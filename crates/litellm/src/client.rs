//! [`LiteLlmClient`]: the domain's [`Gateway`] over LiteLLM's admin API.

use crate::config::{LiteLlmConfig, MasterKey, RetryPolicy};
use crate::problem;
use crate::wire::{
    self, DeleteKeys, GenerateKeyBody, KeyInfoAnswer, KeyListAnswer, KeyRef, MemberAddBody,
    MemberBody, ModelBudgetBody, ModelGroupAnswer, NewTeamBody, NewUserBody, SpendLogsAnswer,
    TeamInfoAnswer, TeamUpdateBody, UpdateKeyBody, UpdateUserBody, UserAccessBody, UserInfoAnswer,
    UserListAnswer, UserUpdateAnswer, WireKey, WireSpendLog, WireUser, WireUserState,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyport_domain::access::{GatewayUserState, UserAccess, GATEWAY_USER_ROLE, NO_MODELS};
use keyport_domain::catalog::CatalogEntry;
use keyport_domain::gateway::{
    Gateway, GatewayKey, GatewayKeyPage, GatewayKeyStatus, GatewayUser, GatewayUserInfo,
    GatewayUserUpdate, GenerateKey, SpendLogEntry, SpendPage, SpendQuery, UpdateKey,
    MAX_USERS_PER_LIST,
};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::{Limits, Money, MAX_RATE_LIMIT};
use keyport_domain::secret::KeyHash;
use keyport_domain::GatewayError;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use rust_decimal::prelude::ToPrimitive;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::time::Instant;
use url::Url;

/// What [`Gateway::update_key`] sends for an unlimited `tpm_limit`/`rpm_limit`: `2147483647` (`i32::MAX`,
/// the largest value LiteLLM's 32-bit columns hold). `null` would clear the column on 1.108.7, but older
/// releases ignore `null` for these fields on updates (docs/litellm-contract.md#traps-seen-in-the-field), so a
/// limit once set could never be lifted there; this value is honoured by every release. It is never a real
/// limit: keyport caps rate limits at [`MAX_RATE_LIMIT`] (`i32::MAX - 1`), and every rate above that reads back
/// as unlimited (`None`).
pub const UNLIMITED_RATE: u64 = MAX_RATE_LIMIT + 1;

/// Largest page `/key/list` serves (`size` ≤ 100; more is a 422).
pub const MAX_LIST_PAGE_SIZE: u32 = 100;

/// Largest page [`Gateway::spend_logs`] asks `/spend/logs/v2` for. 1.108.7 serves up to 1000 rows a
/// page, the route it grew out of (`/spend/logs/ui`) only 100 (a 422 above), so keyport stays at 100.
pub const MAX_SPEND_PAGE_SIZE: u32 = 100;

/// How `/spend/logs/v2` reads `start_date`/`end_date` (UTC, to the second).
const SPEND_DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// LiteLLM's admin API client. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct LiteLlmClient {
    http: reqwest::Client,
    base_url: Url,
    master_key: MasterKey,
    retry: RetryPolicy,
}

impl fmt::Debug for LiteLlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiteLlmClient")
            .field("base_url", &self.base_url.as_str())
            .field("master_key", &self.master_key)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// An answer as received: status and body.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl LiteLlmClient {
    pub fn new(config: LiteLlmConfig) -> Result<Self, GatewayError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.idle_timeout)
            .user_agent(concat!("keyport/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Unexpected(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base_url: config.base_url,
            master_key: config.master_key,
            retry: config.retry,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// `GET /health/readiness`: `Ok` when LiteLLM answers 200 (it then has its database).
    pub async fn readiness(&self) -> Result<(), GatewayError> {
        let answer = self
            .send(Method::GET, "/health/readiness", &[], None)
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(GatewayError::Unavailable(format!(
                "LiteLLM is not ready ({})",
                answer.status.as_u16()
            )))
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, GatewayError> {
        let mut url = Url::parse(&format!(
            "{}{path}",
            self.base_url.as_str().trim_end_matches('/')
        ))
        .map_err(|e| GatewayError::Unexpected(format!("bad LiteLLM URL for {path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// One HTTP exchange. Logs method, path, status and duration; never the query, a header or a body.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, GatewayError> {
        let url = self.url(path, query)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.master_key.expose()))
            .map_err(|_| {
                GatewayError::Unexpected("the master key is not a valid header value".to_owned())
            })?;
        auth.set_sensitive(true);
        let request = || {
            let request = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, auth.clone());
            match &body {
                Some(body) => request
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                    .body(body.clone()),
                None => request,
            }
        };
        let started = Instant::now();
        let outcome = async {
            let response = match request().send().await {
                // No connection was made, so LiteLLM never saw the request: sending it again is safe even
                // for a call that is not idempotent (a pooled connection the other side had just closed).
                Err(e) if e.is_connect() => {
                    tracing::info!(method = %method, path, "litellm connection failed before sending; trying once more");
                    request().send().await?
                }
                other => other?,
            };
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(Answer {
                status,
                body: body.to_vec(),
            })
        }
        .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(answer) => {
                tracing::info!(
                    method = %method,
                    path,
                    status = answer.status.as_u16(),
                    elapsed_ms,
                    "litellm call"
                );
                Ok(answer)
            }
            Err(e) => {
                let reason = transport_failure(&e);
                tracing::warn!(method = %method, path, elapsed_ms, reason, "litellm call failed");
                Err(GatewayError::Unavailable(format!(
                    "{method} {path}: {reason}"
                )))
            }
        }
    }

    /// POSTs an idempotent JSON body (retried like [`Self::retrying`]); the answer's body is not needed.
    async fn post_retrying(&self, path: &str, body: &[u8]) -> Result<(), GatewayError> {
        self.retrying(path, || async {
            let answer = self
                .send(Method::POST, path, &[], Some(body.to_vec()))
                .await?;
            success::<Value>(path, answer).map(drop)
        })
        .await
    }

    /// Repeats an idempotent call on `Unavailable`, with backoff.
    async fn retrying<T, F, Fut>(&self, path: &str, call: F) -> Result<T, GatewayError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, GatewayError>>,
    {
        let mut retry = 0;
        loop {
            match call().await {
                Err(GatewayError::Unavailable(reason)) if retry < self.retry.max_retries => {
                    let delay = self.retry.delay(retry);
                    tracing::warn!(path, retry = retry + 1, delay_ms = delay.as_millis() as u64, %reason, "retrying litellm call");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }
}

/// Why a request got no answer, without the URL (which may carry a key hash in its query).
fn transport_failure(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the connection was lost without an answer"
    }
}

/// The answer's JSON, or the classified error.
fn success<T: DeserializeOwned>(path: &str, answer: Answer) -> Result<T, GatewayError> {
    if !answer.status.is_success() {
        return Err(problem::classify(answer.status, &answer.body));
    }
    // serde's messages can quote values; report only where the answer stopped making sense.
    serde_json::from_slice(&answer.body).map_err(|e| {
        GatewayError::Unexpected(format!(
            "{path}: undecodable answer ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn json_body(value: &impl serde::Serialize) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value)
        .map_err(|e| GatewayError::Unexpected(format!("cannot encode a request: {e}")))
}

fn invalid(field: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field: Some(field.to_owned()),
        message: message.into(),
    }
}

/// A rate limit as LiteLLM stores it: anything above [`MAX_RATE_LIMIT`] (notably [`UNLIMITED_RATE`]) is
/// unlimited.
fn rate(value: Option<u64>) -> Option<u64> {
    value.filter(|v| *v <= MAX_RATE_LIMIT)
}

/// A rate limit to send on update: the limit, or [`UNLIMITED_RATE`].
fn rate_to_send(value: Option<u64>, field: &str) -> Result<u64, GatewayError> {
    match value {
        None => Ok(UNLIMITED_RATE),
        Some(v) if (1..=MAX_RATE_LIMIT).contains(&v) => Ok(v),
        Some(_) => Err(invalid(
            field,
            format!("must be between 1 and {MAX_RATE_LIMIT}, or absent for unlimited"),
        )),
    }
}

/// `duration` on generate and update: `"<n>s"` from now, `None` for never.
fn duration(expires_in_seconds: Option<i64>) -> Result<Option<String>, GatewayError> {
    match expires_in_seconds {
        Some(s) if s < 0 => Err(invalid("expires_in_seconds", "must not be negative")),
        Some(s) => Ok(Some(format!("{s}s"))),
        None => Ok(None),
    }
}

fn no_empty_routes(routes: &[String]) -> Result<(), GatewayError> {
    if routes.is_empty() {
        return Err(invalid(
            "allowed_routes",
            "a key needs at least one route: LiteLLM reads an empty list as no restriction",
        ));
    }
    Ok(())
}

/// A key's starting spend as LiteLLM takes it: a finite, non-negative number.
fn spend_to_send(spend: Option<Money>) -> Result<Option<f64>, GatewayError> {
    spend
        .map(|m| {
            m.amount()
                .to_f64()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| invalid("spend", "must be a finite, non-negative amount"))
        })
        .transpose()
}

fn no_empty_models(models: &[ModelId]) -> Result<(), GatewayError> {
    if models.is_empty() {
        return Err(invalid(
            "models",
            "a key needs at least one model: LiteLLM reads an empty list as every model",
        ));
    }
    Ok(())
}

/// The body of `/key/update` for the key's whole desired state; see [`Gateway::update_key`] on
/// [`LiteLlmClient`] for how each "unlimited" is written.
fn update_body(request: &UpdateKey) -> Result<UpdateKeyBody<'_>, GatewayError> {
    no_empty_models(&request.models)?;
    no_empty_routes(&request.allowed_routes)?;
    let metadata = match &request.metadata {
        Value::Object(_) => request.metadata.clone(),
        Value::Null => Value::Object(serde_json::Map::new()),
        _ => return Err(invalid("metadata", "must be a JSON object")),
    };
    let limits = &request.limits;
    Ok(UpdateKeyBody {
        key: request.hash.as_str(),
        models: request.models.iter().map(ModelId::as_str).collect(),
        max_budget: limits.max_budget.and_then(|m| m.amount().to_f64()),
        budget_duration: limits.budget_duration.as_ref().map(ToString::to_string),
        tpm_limit: rate_to_send(limits.tpm_limit, "tpm_limit")?,
        rpm_limit: rate_to_send(limits.rpm_limit, "rpm_limit")?,
        duration: duration(request.expires_in_seconds)?,
        blocked: request.blocked,
        metadata,
        team_id: &request.team_id,
        allowed_routes: request.allowed_routes.iter().map(String::as_str).collect(),
    })
}

/// The fields of the desired state that LiteLLM's answer does not show (a release that ignored part of the
/// update, e.g. `budget_duration: null` before 1.108).
fn not_applied(request: &UpdateKey, key: &GatewayKey) -> Vec<&'static str> {
    let limits = &request.limits;
    let mut fields = Vec::new();
    if !key
        .models
        .iter()
        .map(String::as_str)
        .eq(request.models.iter().map(ModelId::as_str))
    {
        fields.push("models");
    }
    if key.max_budget != limits.max_budget {
        fields.push("max_budget");
    }
    if key.budget_duration != limits.budget_duration.as_ref().map(ToString::to_string) {
        fields.push("budget_duration");
    }
    if key.tpm_limit != limits.tpm_limit {
        fields.push("tpm_limit");
    }
    if key.rpm_limit != limits.rpm_limit {
        fields.push("rpm_limit");
    }
    if (key.status == GatewayKeyStatus::Blocked) != request.blocked {
        fields.push("blocked");
    }
    if request.expires_in_seconds.is_none() && key.expires_at.is_some() {
        fields.push("expires");
    }
    fields
}

fn money(value: Option<f64>, field: &str) -> Result<Option<Money>, GatewayError> {
    value
        .map(|v| {
            let amount = wire::decimal(v)?;
            Money::new(amount).map_err(|e| {
                GatewayError::Unexpected(format!("LiteLLM sent {field} = {amount}: {}", e.message))
            })
        })
        .transpose()
}

/// A key row as the domain sees it. `hash` is the one keyport asked about or computed.
fn gateway_key(
    hash: KeyHash,
    row: WireKey,
    now: DateTime<Utc>,
) -> Result<GatewayKey, GatewayError> {
    let expires_at = wire::opt_datetime(row.expires.as_deref())?;
    let blocked = row.blocked == Some(true);
    let status = match row.status.as_deref() {
        Some("revoked") => GatewayKeyStatus::Blocked,
        Some("expired") => GatewayKeyStatus::Expired,
        Some("active") => GatewayKeyStatus::Active,
        // Before 1.108 there is no `status`: derive it the way 1.108 does.
        _ if blocked => GatewayKeyStatus::Blocked,
        _ if expires_at.is_some_and(|at| at <= now) => GatewayKeyStatus::Expired,
        _ => GatewayKeyStatus::Active,
    };
    Ok(GatewayKey {
        hash,
        alias: row.key_alias,
        user_id: row.user_id,
        models: row.models,
        status,
        max_budget: money(row.max_budget, "max_budget")?,
        budget_duration: row.budget_duration,
        tpm_limit: rate(row.tpm_limit),
        rpm_limit: rate(row.rpm_limit),
        spend: money(row.spend, "spend")?,
        budget_reset_at: wire::opt_datetime(row.budget_reset_at.as_deref())?,
        expires_at,
        metadata: row.metadata.unwrap_or(serde_json::Value::Null),
        team_id: row.team_id.filter(|t| !t.is_empty()),
        allowed_routes: row.allowed_routes,
    })
}

fn catalog_entry(group: wire::WireModelGroup) -> Result<Option<CatalogEntry>, GatewayError> {
    let id = match ModelId::parse(group.model_group.clone()) {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(model = %group.model_group, reason = %e.message, "skipping a model LiteLLM lists");
            return Ok(None);
        }
    };
    let mut capabilities: Vec<String> = group.mode.iter().cloned().collect();
    capabilities.extend(group.supported());
    let context_window = group
        .max_input_tokens
        .or(group.max_tokens)
        .and_then(|t| i64::try_from(t).ok());
    Ok(Some(CatalogEntry {
        id,
        provider: group.providers.first().cloned(),
        mode: group.mode.clone(),
        capabilities,
        context_window,
        input_price_per_token: group.input_cost_per_token.map(wire::decimal).transpose()?,
        output_price_per_token: group.output_cost_per_token.map(wire::decimal).transpose()?,
    }))
}

/// A text that is there and not blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// A key hash as LiteLLM wrote it (`token`, spend logs' `api_key`), if it is one.
fn key_hash(value: Option<&str>) -> Option<KeyHash> {
    value.and_then(|t| KeyHash::parse(&t.trim().to_ascii_lowercase()).ok())
}

/// The metadata of a user's team: who manages it and the rate pools, each map holding only the models with
/// that limit.
fn team_metadata(access: &UserAccess) -> Result<Value, GatewayError> {
    let mut rpm = serde_json::Map::new();
    let mut tpm = serde_json::Map::new();
    for (model, rates) in &access.rates {
        for (limit, map, field) in [
            (rates.rpm_limit, &mut rpm, "rpm_limit"),
            (rates.tpm_limit, &mut tpm, "tpm_limit"),
        ] {
            if let Some(limit) = limit {
                if !(1..=MAX_RATE_LIMIT).contains(&limit) {
                    return Err(invalid(
                        field,
                        format!("{model}: must be between 1 and {MAX_RATE_LIMIT}"),
                    ));
                }
                map.insert(model.to_string(), Value::from(limit));
            }
        }
    }
    Ok(serde_json::json!({
        "managed_by": "keyport",
        "keyport_user_id": access.user_id.to_string(),
        "model_rpm_limit": rpm,
        "model_tpm_limit": tpm,
    }))
}

impl LiteLlmClient {
    /// The user ids of a team's members (`/team/info`); `None` for a team LiteLLM does not know.
    async fn team_members(&self, team_id: &str) -> Result<Option<Vec<String>>, GatewayError> {
        let path = "/team/info";
        let answer: Result<TeamInfoAnswer, GatewayError> = self
            .retrying(path, || async {
                let answer = self
                    .send(Method::GET, path, &[("team_id", team_id)], None)
                    .await?;
                success(path, answer)
            })
            .await;
        match answer {
            Ok(answer) => Ok(Some(
                answer
                    .team_info
                    .map(|t| t.members_with_roles)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| m.get("user_id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect(),
            )),
            Err(GatewayError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The budget fields of `/user/update` for the desired limits, "unlimited" spelled as
/// [`Gateway::update_key`] on [`LiteLlmClient`] spells it.
fn update_user_body(update: &GatewayUserUpdate) -> Result<UpdateUserBody, GatewayError> {
    let limits = &update.limits;
    Ok(UpdateUserBody {
        user_id: update.user_id.to_string(),
        max_budget: limits.max_budget.and_then(|m| m.amount().to_f64()),
        budget_duration: limits.budget_duration.as_ref().map(ToString::to_string),
        tpm_limit: rate_to_send(limits.tpm_limit, "tpm_limit")?,
        rpm_limit: rate_to_send(limits.rpm_limit, "rpm_limit")?,
    })
}

/// The limits LiteLLM's answer to `/user/update` does not show as sent.
fn user_not_applied(limits: &Limits, row: &WireUser) -> Result<Vec<&'static str>, GatewayError> {
    let mut fields = Vec::new();
    if money(row.max_budget, "max_budget")? != limits.max_budget {
        fields.push("max_budget");
    }
    if row.budget_duration != limits.budget_duration.as_ref().map(ToString::to_string) {
        fields.push("budget_duration");
    }
    if rate(row.tpm_limit) != limits.tpm_limit {
        fields.push("tpm_limit");
    }
    if rate(row.rpm_limit) != limits.rpm_limit {
        fields.push("rpm_limit");
    }
    Ok(fields)
}

fn user_info(
    user_id: UserId,
    row: WireUser,
    keys: Vec<Value>,
) -> Result<GatewayUserInfo, GatewayError> {
    let key_hashes = keys
        .iter()
        .filter_map(|key| {
            let hash = key_hash(key.get("token").and_then(Value::as_str));
            if hash.is_none() {
                tracing::warn!("skipping a key /user/info lists without a readable token");
            }
            hash
        })
        .collect();
    Ok(GatewayUserInfo {
        user_id,
        email: row.user_email,
        alias: row.user_alias,
        models: row.models,
        spend: money(row.spend, "spend")?.unwrap_or(Money::ZERO),
        max_budget: money(row.max_budget, "max_budget")?,
        budget_duration: row.budget_duration,
        budget_reset_at: wire::opt_datetime(row.budget_reset_at.as_deref())?,
        tpm_limit: rate(row.tpm_limit),
        rpm_limit: rate(row.rpm_limit),
        key_hashes,
    })
}

/// A spend-log row as the domain sees it; `None` (skipped, with a warning) without a request id or a
/// start time.
fn spend_entry(row: WireSpendLog) -> Result<Option<SpendLogEntry>, GatewayError> {
    let (Some(request_id), Some(start_time)) = (row.request_id, row.start_time) else {
        tracing::warn!("skipping a spend-log row without request_id or startTime");
        return Ok(None);
    };
    let text = |value: Option<String>| value.filter(|v| !v.is_empty());
    Ok(Some(SpendLogEntry {
        request_id,
        key_hash: key_hash(row.api_key.as_deref()),
        model: text(row.model),
        model_group: text(row.model_group),
        spend: money(row.spend, "spend")?.unwrap_or(Money::ZERO),
        prompt_tokens: row.prompt_tokens.unwrap_or(0),
        completion_tokens: row.completion_tokens.unwrap_or(0),
        total_tokens: row.total_tokens.unwrap_or(0),
        started_at: wire::datetime(&start_time)?,
    }))
}

#[async_trait]
impl Gateway for LiteLlmClient {
    async fn generate_key(&self, request: &GenerateKey) -> Result<GatewayKey, GatewayError> {
        no_empty_models(&request.models)?;
        no_empty_routes(&request.allowed_routes)?;
        let spend = spend_to_send(request.spend)?;
        let duration = duration(request.expires_in_seconds)?;
        let limits = &request.limits;
        let body = GenerateKeyBody {
            key: request.secret.expose(),
            key_alias: &request.alias,
            user_id: request.user_id.to_string(),
            models: request.models.iter().map(ModelId::as_str).collect(),
            max_budget: limits.max_budget.and_then(|m| m.amount().to_f64()),
            budget_duration: limits.budget_duration.as_ref().map(ToString::to_string),
            tpm_limit: limits.tpm_limit,
            rpm_limit: limits.rpm_limit,
            duration,
            metadata: Some(&request.metadata).filter(|m| m.is_object()),
            team_id: &request.team_id,
            allowed_routes: request.allowed_routes.iter().map(String::as_str).collect(),
            spend,
        };
        let path = "/key/generate";
        // Never retried: a second attempt could create a second key (or meet our own alias).
        let answer = self
            .send(Method::POST, path, &[], Some(json_body(&body)?))
            .await?;
        let row: WireKey = success(path, answer)?;
        let hash = request.secret.hash();
        if row.token.as_deref().is_some_and(|t| t != hash.as_str()) {
            tracing::warn!("LiteLLM's token is not the sha256 of the key (LiteLLM before 1.67?); using the computed hash");
        }
        gateway_key(hash, row, Utc::now())
    }

    async fn key_info(&self, hash: &KeyHash) -> Result<Option<GatewayKey>, GatewayError> {
        let path = "/key/info";
        let answer: Result<KeyInfoAnswer, GatewayError> = self
            .retrying(path, || async {
                let answer = self
                    .send(Method::GET, path, &[("key", hash.as_str())], None)
                    .await?;
                success(path, answer)
            })
            .await;
        let info = match answer {
            Ok(answer) => answer.info,
            Err(GatewayError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(info) = info else {
            return Err(GatewayError::Unexpected(format!(
                "{path}: answer without info"
            )));
        };
        if info.status.as_deref() == Some("deleted") {
            return Ok(None);
        }
        gateway_key(hash.clone(), info, Utc::now()).map(Some)
    }

    async fn block_key(&self, hash: &KeyHash) -> Result<(), GatewayError> {
        let path = "/key/block";
        let body = json_body(&KeyRef { key: hash.as_str() })?;
        self.retrying(path, || async {
            let answer = self
                .send(Method::POST, path, &[], Some(body.clone()))
                .await?;
            success::<serde_json::Value>(path, answer).map(drop)
        })
        .await
    }

    async fn delete_key(&self, hash: &KeyHash) -> Result<(), GatewayError> {
        let path = "/key/delete";
        let body = json_body(&DeleteKeys {
            keys: [hash.as_str()],
        })?;
        self.retrying(path, || async {
            let answer = self
                .send(Method::POST, path, &[], Some(body.clone()))
                .await?;
            success::<serde_json::Value>(path, answer).map(drop)
        })
        .await
    }

    /// Sends the key's **whole** desired state, so that repeating it is harmless (retried on `Unavailable`
    /// like the other idempotent calls). `models` must not be empty (`Invalid` without a call: LiteLLM reads
    /// `[]` as every model). Each field is sent explicitly, "unlimited" spelled the way LiteLLM honours on
    /// update (docs/litellm-contract.md#updating-keys, #durations-and-money, #traps-seen-in-the-field):
    ///
    /// - `max_budget`: the amount, or `null` — every release clears the column on `null`, and no number
    ///   means "no budget".
    /// - `budget_duration`: the window, or `null` — the only spelling of "no window" (any string sets
    ///   one). 1.108.7 clears it and `budget_reset_at`; releases that ignore `null` here
    ///   (#traps-seen-in-the-field) keep the old window, which is inert without a `max_budget` but would make
    ///   a lifetime budget reset, so a warning is logged whenever the answer does not show what was sent.
    /// - `tpm_limit`, `rpm_limit`: the limit, or [`UNLIMITED_RATE`] (`2147483647`), because releases
    ///   before 1.108 ignore `null` on these (#traps-seen-in-the-field); read back, it is `None` again.
    /// - `duration`: `"<n>s"` from now, or `null` for never (#durations-and-money; `"-1"` also works on
    ///   1.108.7).
    /// - `blocked`: `true` or `false`, always.
    /// - `metadata`: the full object, which replaces the stored one (`null` sends `{}`).
    ///
    /// `NotFound` when LiteLLM does not know the key.
    async fn update_key(&self, request: &UpdateKey) -> Result<GatewayKey, GatewayError> {
        let path = "/key/update";
        let body = json_body(&update_body(request)?)?;
        let row: WireKey = self
            .retrying(path, || async {
                let answer = self
                    .send(Method::POST, path, &[], Some(body.clone()))
                    .await?;
                success(path, answer)
            })
            .await?;
        let key = gateway_key(request.hash.clone(), row, Utc::now())?;
        let ignored = not_applied(request, &key);
        if !ignored.is_empty() {
            tracing::warn!(fields = ?ignored, "LiteLLM's answer to /key/update does not show every field sent (a release that ignores some of them?)");
        }
        Ok(key)
    }

    async fn unblock_key(&self, hash: &KeyHash) -> Result<(), GatewayError> {
        let path = "/key/unblock";
        let body = json_body(&KeyRef { key: hash.as_str() })?;
        self.retrying(path, || async {
            let answer = self
                .send(Method::POST, path, &[], Some(body.clone()))
                .await?;
            success::<serde_json::Value>(path, answer).map(drop)
        })
        .await
    }

    /// `/key/list?page=&size=&return_full_object=true` (`page` ≥ 1, `size` 1..=100, else `Invalid` without
    /// a call), retried like the other reads. Keys without a readable `token` cannot be keyport's and are
    /// skipped with a warning; an answer of bare hashes (a release that ignores `return_full_object`) is
    /// `Unexpected`, never an empty page.
    async fn list_keys(&self, page: u32, size: u32) -> Result<GatewayKeyPage, GatewayError> {
        if page == 0 {
            return Err(invalid("page", "pages start at 1"));
        }
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&size) {
            return Err(invalid(
                "size",
                format!("must be between 1 and {MAX_LIST_PAGE_SIZE}"),
            ));
        }
        let path = "/key/list";
        let (page_text, size_text) = (page.to_string(), size.to_string());
        let query = [
            ("page", page_text.as_str()),
            ("size", size_text.as_str()),
            ("return_full_object", "true"),
        ];
        let answer: KeyListAnswer = self
            .retrying(path, || async {
                let answer = self.send(Method::GET, path, &query, None).await?;
                success(path, answer)
            })
            .await?;
        let total_count = answer.total_count.ok_or_else(|| {
            GatewayError::Unexpected(format!("{path}: answer without total_count"))
        })?;
        let total_pages = answer
            .total_pages
            .unwrap_or_else(|| total_count.div_ceil(u64::from(size)));
        let now = Utc::now();
        let mut keys = Vec::with_capacity(answer.keys.len());
        for entry in answer.keys {
            match entry {
                Value::Object(_) => {}
                Value::String(_) => {
                    return Err(GatewayError::Unexpected(format!(
                        "{path}: answered key hashes instead of full objects"
                    )))
                }
                _ => {
                    tracing::warn!("skipping a /key/list entry that is not a key object");
                    continue;
                }
            }
            let row: WireKey = serde_json::from_value(entry).map_err(|e| {
                GatewayError::Unexpected(format!(
                    "{path}: undecodable key ({:?} error)",
                    e.classify()
                ))
            })?;
            let token = row.token.as_deref().map(|t| t.trim().to_ascii_lowercase());
            let Some(hash) = token.and_then(|t| KeyHash::parse(&t).ok()) else {
                tracing::warn!(alias = ?row.key_alias, "skipping a key LiteLLM lists without a readable token");
                continue;
            };
            keys.push(gateway_key(hash, row, now)?);
        }
        Ok(GatewayKeyPage {
            keys,
            total_count,
            total_pages: u32::try_from(total_pages).unwrap_or(u32::MAX),
        })
    }

    /// `/model_group/info`, retried like the other reads. `/model/info` is not needed: it describes each
    /// *deployment* (≈ 8 KB each) with the same cost-map fields (context window, prices, provider,
    /// `supports_*`) that `/model_group/info` already gives per model group, the unit keyport sells and
    /// a key's `models` names; it has no description-like fields either, and it can keep serving a
    /// deleted model for a while (docs/litellm-contract.md#traps-seen-in-the-field), which would resurrect
    /// models in a sync.
    async fn model_catalog(&self) -> Result<Vec<CatalogEntry>, GatewayError> {
        let path = "/model_group/info";
        let answer: ModelGroupAnswer = self
            .retrying(path, || async {
                let answer = self.send(Method::GET, path, &[], None).await?;
                success(path, answer)
            })
            .await?;
        let mut entries = Vec::with_capacity(answer.data.len());
        for group in answer.data {
            if let Some(entry) = catalog_entry(group)? {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// `/user/new` with `user_id`, `user_email`/`user_alias` when given (blank ones are left out),
    /// `user_role: "internal_user_viewer"` (inference only: LiteLLM's role gate refuses its keys every key
    /// management route), `models: ["no-default-models"]` (none until [`Gateway::set_user_access`]; `[]`
    /// would be every model) and `auto_create_key: false` (docs/litellm-contract.md#creating-users,
    /// #traps-seen-in-the-field, #route-and-role-gates). LiteLLM's 409 "User with id … already exists" is
    /// success, so the call is idempotent and retried like the reads; its 409 "User with email … already
    /// exists" (another user holds the email) is `Conflict { field: "user_email" }`.
    async fn ensure_user(&self, user: &GatewayUser) -> Result<(), GatewayError> {
        let path = "/user/new";
        let body = json_body(&NewUserBody {
            user_id: user.user_id.to_string(),
            user_email: given(user.email.as_deref()),
            user_alias: given(user.alias.as_deref()),
            user_role: GATEWAY_USER_ROLE,
            models: [NO_MODELS],
            auto_create_key: false,
        })?;
        let outcome = self.post_retrying(path, &body).await;
        match outcome {
            Err(GatewayError::Conflict { field, .. }) if field == "user_id" => Ok(()),
            other => other,
        }
    }

    /// `/user/info?user_id=`, retried like the other reads. 404 (1.81 and later) is `Ok(None)`, and so is
    /// an answer without a user row (older releases answer 200 for an unknown user). Keys listed without
    /// a readable `token` are skipped with a warning.
    async fn user_info(&self, user_id: UserId) -> Result<Option<GatewayUserInfo>, GatewayError> {
        let path = "/user/info";
        let id = user_id.to_string();
        let answer: Result<UserInfoAnswer, GatewayError> = self
            .retrying(path, || async {
                let answer = self
                    .send(Method::GET, path, &[("user_id", id.as_str())], None)
                    .await?;
                success(path, answer)
            })
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(GatewayError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        match answer.user_info {
            Some(row) if row.user_id.is_some() => user_info(user_id, row, answer.keys).map(Some),
            _ => Ok(None),
        }
    }

    /// Sends the user's **whole** desired budget and limits (retried like the other idempotent calls),
    /// each field explicitly, "unlimited" spelled as on [`Gateway::update_key`]: `max_budget: null`,
    /// `budget_duration: null`, `tpm_limit`/`rpm_limit` [`UNLIMITED_RATE`]. LiteLLM's `/user/update` drops
    /// every `null` except `max_budget`'s (docs/litellm-contract.md#traps-seen-in-the-field,
    /// `_update_internal_user_params`), so the rates need the number, and a budget window once set stays
    /// (harmless without a `max_budget`; with one, the budget keeps resetting): a warning is logged whenever
    /// the answer does not show what was sent. A rate outside 1..=[`MAX_RATE_LIMIT`] is `Invalid` without a
    /// call.
    async fn update_user(&self, update: &GatewayUserUpdate) -> Result<(), GatewayError> {
        let path = "/user/update";
        let body = json_body(&update_user_body(update)?)?;
        let answer: UserUpdateAnswer = self
            .retrying(path, || async {
                let answer = self
                    .send(Method::POST, path, &[], Some(body.clone()))
                    .await?;
                success(path, answer)
            })
            .await?;
        match answer.data {
            Some(row) => {
                let ignored = user_not_applied(&update.limits, &row)?;
                if !ignored.is_empty() {
                    tracing::warn!(fields = ?ignored, "LiteLLM's answer to /user/update does not show every field sent (it ignores null for some of them)");
                }
            }
            None => tracing::warn!("LiteLLM answered /user/update without the user row"),
        }
        Ok(())
    }

    /// `/spend/logs/v2?start_date=&end_date=&page=&page_size=` plus `api_key` (the **hash**: v2 matches
    /// it exactly) and `user_id` when given, retried like the other reads. The dates are sent as UTC
    /// `YYYY-MM-DD HH:MM:SS` (fractions dropped); LiteLLM requires both. `page` ≥ 1, `page_size`
    /// 1..=[`MAX_SPEND_PAGE_SIZE`] and `start` ≤ `end`, else `Invalid` without a call. Rows without a
    /// request id or start time are skipped with a warning; an answer without `total` is `Unexpected`.
    async fn spend_logs(&self, query: &SpendQuery) -> Result<SpendPage, GatewayError> {
        if query.page == 0 {
            return Err(invalid("page", "pages start at 1"));
        }
        if !(1..=MAX_SPEND_PAGE_SIZE).contains(&query.page_size) {
            return Err(invalid(
                "page_size",
                format!("must be between 1 and {MAX_SPEND_PAGE_SIZE}"),
            ));
        }
        if query.start > query.end {
            return Err(invalid("start", "must not be after end"));
        }
        let path = "/spend/logs/v2";
        let start = query.start.format(SPEND_DATE_FORMAT).to_string();
        let end = query.end.format(SPEND_DATE_FORMAT).to_string();
        let (page, page_size) = (query.page.to_string(), query.page_size.to_string());
        let user = query.user_id.map(|u| u.to_string());
        let mut params = vec![
            ("start_date", start.as_str()),
            ("end_date", end.as_str()),
            ("page", page.as_str()),
            ("page_size", page_size.as_str()),
        ];
        if let Some(hash) = &query.key_hash {
            params.push(("api_key", hash.as_str()));
        }
        if let Some(user) = &user {
            params.push(("user_id", user.as_str()));
        }
        let answer: SpendLogsAnswer = self
            .retrying(path, || async {
                let answer = self.send(Method::GET, path, &params, None).await?;
                success(path, answer)
            })
            .await?;
        let total = answer
            .total
            .ok_or_else(|| GatewayError::Unexpected(format!("{path}: answer without total")))?;
        let total_pages = answer
            .total_pages
            .unwrap_or_else(|| total.div_ceil(u64::from(query.page_size)));
        let mut entries = Vec::with_capacity(answer.data.len());
        for value in answer.data {
            let row: WireSpendLog = serde_json::from_value(value).map_err(|e| {
                GatewayError::Unexpected(format!(
                    "{path}: undecodable row ({:?} error)",
                    e.classify()
                ))
            })?;
            if let Some(entry) = spend_entry(row)? {
                entries.push(entry);
            }
        }
        Ok(SpendPage {
            entries,
            total,
            total_pages: u32::try_from(total_pages).unwrap_or(u32::MAX),
        })
    }
    /// `/user/update` with the user's whole access, retried like the other idempotent calls:
    /// `user_role: "internal_user_viewer"`, `models` (the subscriptions' models, or `["no-default-models"]`
    /// for none: LiteLLM ignores `models: []` on update, and `[]` would mean every model anyway), and
    /// `model_max_budget` whole (`{model: {"budget_limit", "time_period"}}`, `{}` for none: LiteLLM replaces
    /// the stored value with whatever is sent, `{}` included, and checks no licence on this route).
    async fn set_user_access(&self, access: &UserAccess) -> Result<(), GatewayError> {
        let path = "/user/update";
        let mut models: Vec<String> = access.models.iter().map(ToString::to_string).collect();
        if models.is_empty() {
            models.push(NO_MODELS.to_owned());
        }
        let mut model_max_budget = std::collections::BTreeMap::new();
        for (model, budget) in &access.budgets {
            let budget_limit = budget
                .max_budget
                .amount()
                .to_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| invalid("budgets", format!("{model}: amount out of range")))?;
            model_max_budget.insert(
                model.to_string(),
                ModelBudgetBody {
                    budget_limit,
                    time_period: budget.window.to_string(),
                },
            );
        }
        let body = json_body(&UserAccessBody {
            user_id: access.user_id.to_string(),
            user_role: GATEWAY_USER_ROLE,
            models,
            model_max_budget,
        })?;
        self.post_retrying(path, &body).await
    }

    /// Makes the user's team (`keyport-<user id>`) hold the user and the rate pools, idempotently:
    /// `/team/info`; an unknown team is created with `/team/new` (the user as a `user` member, `models: []`
    /// because the team only pools rates and keys carry their models, and the metadata below); a known one
    /// gets `/team/update` with the whole metadata (LiteLLM replaces it) and `/team/member_add` when the user
    /// is not among its members. Another replica creating the team between the read and `/team/new` (400
    /// "already exists") is treated as a known team; a member added meanwhile ("already in team") is fine.
    ///
    /// The metadata: `{"managed_by": "keyport", "keyport_user_id", "model_rpm_limit": {model: rpm},
    /// "model_tpm_limit": {model: tpm}}`, each map holding only the models with that limit (LiteLLM's
    /// `model_per_team` limiter reads them from there).
    async fn ensure_team(&self, access: &UserAccess) -> Result<(), GatewayError> {
        let team_id = access.team_id();
        let user_id = access.user_id.to_string();
        let metadata = team_metadata(access)?;
        let members = match self.team_members(&team_id).await? {
            Some(members) => members,
            None => {
                let path = "/team/new";
                let body = json_body(&NewTeamBody {
                    team_id: &team_id,
                    team_alias: &team_id,
                    members_with_roles: vec![MemberBody {
                        user_id: user_id.clone(),
                        role: "user",
                    }],
                    models: [],
                    metadata: &metadata,
                })?;
                let created = self.post_retrying(path, &body).await;
                match created {
                    Ok(()) => return Ok(()),
                    // Created meanwhile (by another replica, or by our own attempt whose answer was lost).
                    Err(GatewayError::Invalid { message, .. })
                        if message.contains("already exists") =>
                    {
                        self.team_members(&team_id).await?.unwrap_or_default()
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let path = "/team/update";
        let body = json_body(&TeamUpdateBody {
            team_id: &team_id,
            metadata: &metadata,
        })?;
        self.post_retrying(path, &body).await?;
        if members.contains(&user_id) {
            return Ok(());
        }
        let path = "/team/member_add";
        let body = json_body(&MemberAddBody {
            team_id: &team_id,
            member: vec![MemberBody {
                user_id,
                role: "user",
            }],
        })?;
        let added = self.post_retrying(path, &body).await;
        match added {
            Err(GatewayError::Invalid { message, .. }) if message.contains("already in team") => {
                Ok(())
            }
            other => other,
        }
    }

    /// `/user/list?user_ids=a,b&page_size=100`, retried like the other reads; no call for no ids, `Invalid`
    /// without a call above [`MAX_USERS_PER_LIST`]. LiteLLM matches a **single** id as a case-insensitive
    /// substring (`contains`), so the answer is filtered to the ids asked for. `model_max_budget` entries are
    /// read in either spelling; an entry without a readable budget and window is left out.
    async fn list_users(&self, ids: &[UserId]) -> Result<Vec<GatewayUserState>, GatewayError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_USERS_PER_LIST {
            return Err(invalid(
                "user_ids",
                format!("at most {MAX_USERS_PER_LIST} ids a call"),
            ));
        }
        let path = "/user/list";
        let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let joined = wanted.join(",");
        let page_size = MAX_USERS_PER_LIST.to_string();
        let query = [
            ("user_ids", joined.as_str()),
            ("page_size", page_size.as_str()),
        ];
        let answer: UserListAnswer = self
            .retrying(path, || async {
                let answer = self.send(Method::GET, path, &query, None).await?;
                success(path, answer)
            })
            .await?;
        let mut users = Vec::with_capacity(answer.users.len());
        for value in answer.users {
            let Ok(row) = serde_json::from_value::<WireUserState>(value) else {
                tracing::warn!("skipping a /user/list entry that is not a user object");
                continue;
            };
            let Some(user_id) = row.user_id.filter(|id| wanted.contains(id)) else {
                continue;
            };
            let mut budgets = std::collections::BTreeMap::new();
            for (model, entry) in &row.model_max_budget {
                let Some((limit, window)) = wire::model_budget_entry(entry) else {
                    tracing::warn!(%model, "skipping a model_max_budget entry keyport cannot read");
                    continue;
                };
                match money(Some(limit), "model_max_budget") {
                    Ok(Some(amount)) => {
                        budgets.insert(model.clone(), (amount, window));
                    }
                    _ => {
                        tracing::warn!(%model, "skipping a model_max_budget entry keyport cannot read")
                    }
                }
            }
            users.push(GatewayUserState {
                user_id,
                role: row.user_role,
                models: row.models,
                budgets,
                teams: row.teams,
            });
        }
        Ok(users)
    }
}

//! [`LiteLlmClient`]: the domain's [`Gateway`] over LiteLLM's admin API.

use crate::config::{LiteLlmConfig, MasterKey, RetryPolicy};
use crate::problem;
use crate::wire::{
    self, DeleteKeys, GenerateKeyBody, KeyInfoAnswer, KeyRef, ModelGroupAnswer, WireKey,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyport_domain::ids::ModelId;
use keyport_domain::limits::Money;
use keyport_domain::model::CatalogEntry;
use keyport_domain::ports::{Gateway, GatewayKey, GatewayKeyStatus, GenerateKey};
use keyport_domain::secret::KeyHash;
use keyport_domain::GatewayError;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use rust_decimal::prelude::ToPrimitive;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::time::Instant;
use url::Url;

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
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, auth);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        let started = Instant::now();
        let outcome = async {
            let response = request.send().await?;
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
        tpm_limit: row.tpm_limit,
        rpm_limit: row.rpm_limit,
        spend: money(row.spend, "spend")?,
        budget_reset_at: wire::opt_datetime(row.budget_reset_at.as_deref())?,
        expires_at,
        metadata: row.metadata.unwrap_or(serde_json::Value::Null),
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

#[async_trait]
impl Gateway for LiteLlmClient {
    async fn generate_key(&self, request: &GenerateKey) -> Result<GatewayKey, GatewayError> {
        if request.models.is_empty() {
            return Err(GatewayError::Invalid {
                field: Some("models".to_owned()),
                message:
                    "a key needs at least one model: LiteLLM reads an empty list as every model"
                        .to_owned(),
            });
        }
        let duration = match request.expires_in_seconds {
            Some(s) if s < 0 => {
                return Err(GatewayError::Invalid {
                    field: Some("expires_in_seconds".to_owned()),
                    message: "must not be negative".to_owned(),
                })
            }
            Some(s) => Some(format!("{s}s")),
            None => None,
        };
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
}

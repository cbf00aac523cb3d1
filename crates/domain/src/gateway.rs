//! LiteLLM's admin API, as keyport uses it: the `Gateway` port (implemented by `keyport-litellm`) and the
//! requests and answers it carries. docs/litellm-contract.md says what keyport relies on.

use crate::access::{GatewayUserState, UserAccess};
use crate::catalog::CatalogEntry;
use crate::error::GatewayError;
use crate::ids::{ModelId, UserId};
use crate::limits::{Limits, Money};
use crate::secret::{KeyHash, KeySecret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What keyport asks LiteLLM to create: a virtual key with a secret keyport chose.
#[derive(Debug, Clone)]
pub struct GenerateKey {
    pub secret: KeySecret,
    pub alias: String,
    pub user_id: UserId,
    /// Never empty: LiteLLM reads `[]` as "every model".
    pub models: Vec<ModelId>,
    pub limits: Limits,
    /// Seconds until the key expires, `None` for never.
    pub expires_in_seconds: Option<i64>,
    /// Names the keyport key so that the reconciler can recognise keyport's keys.
    pub metadata: serde_json::Value,
    /// The owner's team ([`crate::access::team_id_of`]): the rate pools of its subscriptions.
    pub team_id: String,
    /// The only routes the key may call (never empty: LiteLLM reads `[]` as no restriction).
    pub allowed_routes: Vec<String>,
    /// The spend the key starts with (a rotated key carries its predecessor's spend in the window).
    pub spend: Option<Money>,
}

/// LiteLLM's status for a key (`/key/info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayKeyStatus {
    Active,
    Expired,
    Blocked,
}

/// A key as LiteLLM reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayKey {
    pub hash: KeyHash,
    pub alias: Option<String>,
    pub user_id: Option<String>,
    pub models: Vec<String>,
    pub status: GatewayKeyStatus,
    pub max_budget: Option<Money>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    pub spend: Option<Money>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub metadata: serde_json::Value,
    pub team_id: Option<String>,
    /// The routes the key may call; empty means no restriction beyond its owner's role.
    pub allowed_routes: Vec<String>,
}

/// LiteLLM's admin API, as keyport uses it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Gateway: Send + Sync {
    /// `/key/generate` with the caller-chosen secret. Not idempotent: on `Unavailable` the key may or may
    /// not exist; ask [`Gateway::key_info`] before deciding.
    async fn generate_key(&self, request: &GenerateKey) -> Result<GatewayKey, GatewayError>;
    /// `/key/info` by hash. `Ok(None)` when LiteLLM does not know the key (or only as deleted).
    async fn key_info(&self, hash: &KeyHash) -> Result<Option<GatewayKey>, GatewayError>;
    /// `/key/block`. `Err(NotFound)` when LiteLLM does not know the key.
    async fn block_key(&self, hash: &KeyHash) -> Result<(), GatewayError>;
    /// `/key/delete`. `Err(NotFound)` when LiteLLM does not know the key.
    async fn delete_key(&self, hash: &KeyHash) -> Result<(), GatewayError>;
    /// The public models (`/model_group/info`): one entry per model group, the name a key's `models`
    /// lists.
    async fn model_catalog(&self) -> Result<Vec<CatalogEntry>, GatewayError>;
    /// `/key/update` with the key's whole desired state (models, limits, expiry, blocked, metadata), so that
    /// repeating it is harmless. `Err(NotFound)` when LiteLLM does not know the key.
    async fn update_key(&self, request: &UpdateKey) -> Result<GatewayKey, GatewayError>;
    /// `/key/unblock`. `Err(NotFound)` when LiteLLM does not know the key.
    async fn unblock_key(&self, hash: &KeyHash) -> Result<(), GatewayError>;
    /// One page (1-based) of every key LiteLLM holds, as full objects (`/key/list?return_full_object=true`).
    async fn list_keys(&self, page: u32, size: u32) -> Result<GatewayKeyPage, GatewayError>;

    /// Makes sure LiteLLM has the user (`/user/new` without a key of its own, with the role
    /// [`crate::access::GATEWAY_USER_ROLE`] and no model until [`Gateway::set_user_access`] gives it its
    /// subscriptions'), e.g. on login. Idempotent: a user that already exists is `Ok` and is left as it is
    /// (its email and alias are not updated). `Err(Conflict { field: "user_email" })` when another LiteLLM user
    /// has that email (compared case-insensitively); `Invalid` for a request LiteLLM refuses; like every
    /// call, `Unavailable` when the outcome is unknown (then simply call again).
    async fn ensure_user(&self, user: &GatewayUser) -> Result<(), GatewayError>;
    /// `/user/info`: the user's spend, budget and keys; `Ok(None)` when LiteLLM does not know the user.
    async fn user_info(&self, user_id: UserId) -> Result<Option<GatewayUserInfo>, GatewayError>;
    /// `/user/update` with the user's whole desired budget and limits, so that repeating it is harmless.
    /// LiteLLM **creates** a user it does not know (an upsert, without email or alias), so this never
    /// answers `NotFound`; call [`Gateway::ensure_user`] first to create users properly. `Invalid`
    /// without a call for a rate limit out of range.
    async fn update_user(&self, update: &GatewayUserUpdate) -> Result<(), GatewayError>;
    /// One page of LiteLLM's spend log (`/spend/logs/v2`), newest first. `Invalid` without a call for a
    /// page below 1, a page size outside what the adapter allows, or `start` after `end`.
    async fn spend_logs(&self, query: &SpendQuery) -> Result<SpendPage, GatewayError>;

    /// `/user/update` with the user's whole access (role, models — `no-default-models` for none —, and
    /// `model_max_budget`, the per-model spend pools, replaced whole), so that repeating it is harmless.
    /// Like [`Gateway::update_user`], an upsert: call [`Gateway::ensure_user`] first.
    async fn set_user_access(&self, access: &UserAccess) -> Result<(), GatewayError>;
    /// Makes sure the user's team ([`UserAccess::team_id`]) exists with the user as a member and the rate
    /// pools (`model_rpm_limit`/`model_tpm_limit` in its metadata, replaced whole): `/team/new`, or
    /// `/team/update` (plus `/team/member_add` when the user is missing) for a team that exists.
    async fn ensure_team(&self, access: &UserAccess) -> Result<(), GatewayError>;
    /// The LiteLLM users with these ids (`/user/list?user_ids=…`), those LiteLLM knows; at most
    /// [`MAX_USERS_PER_LIST`] ids (`Invalid` without a call above).
    async fn list_users(&self, ids: &[UserId]) -> Result<Vec<GatewayUserState>, GatewayError>;
}

/// Most ids [`Gateway::list_users`] takes in one call (LiteLLM's largest `/user/list` page).
pub const MAX_USERS_PER_LIST: usize = 100;

/// A user keyport asks LiteLLM to have (`/user/new`): LiteLLM's `user_id` is keyport's user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUser {
    pub user_id: UserId,
    pub email: Option<String>,
    pub alias: Option<String>,
}

/// A user as LiteLLM reports it (`/user/info`).
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayUserInfo {
    pub user_id: UserId,
    pub email: Option<String>,
    pub alias: Option<String>,
    /// The models the user may call; empty means every model.
    pub models: Vec<String>,
    /// Spend in the current budget window (lifetime without a window), across all the user's keys.
    pub spend: Money,
    pub max_budget: Option<Money>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    /// The hashes of the user's keys.
    pub key_hashes: Vec<KeyHash>,
}

/// The whole desired budget and limits of a LiteLLM user.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayUserUpdate {
    pub user_id: UserId,
    /// `None` fields mean unlimited; the adapter encodes that so that LiteLLM honours it.
    pub limits: Limits,
}

/// Which spend-log rows to read (`/spend/logs/v2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendQuery {
    /// Only this key's rows.
    pub key_hash: Option<KeyHash>,
    /// Only rows of keys owned by this user.
    pub user_id: Option<UserId>,
    /// Rows that started at or after `start` and at or before `end`. LiteLLM takes both to the second
    /// (the adapter drops fractions) and compares its own timestamps, which have fractions, with them.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

/// One LiteLLM spend-log row: one request.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendLogEntry {
    pub request_id: String,
    /// The key that made the request; `None` when LiteLLM's `api_key` is not a key hash (e.g. empty).
    pub key_hash: Option<KeyHash>,
    /// The upstream model (`<provider>/<model>`), when LiteLLM records one.
    pub model: Option<String>,
    /// The public model name (keyport's model id), when LiteLLM records one.
    pub model_group: Option<String>,
    pub spend: Money,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub started_at: DateTime<Utc>,
}

/// One page of spend-log rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendPage {
    pub entries: Vec<SpendLogEntry>,
    /// Rows matching the query, over all pages.
    pub total: u64,
    pub total_pages: u32,
}

/// The whole desired state of a key in LiteLLM.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateKey {
    pub hash: KeyHash,
    /// Never empty: LiteLLM reads `[]` as "every model"; a key without models is revoked instead.
    pub models: Vec<ModelId>,
    /// `None` fields mean unlimited; the adapter encodes that so that LiteLLM honours it.
    pub limits: Limits,
    /// Seconds from now until the key expires; `None` for never.
    pub expires_in_seconds: Option<i64>,
    pub blocked: bool,
    /// The full metadata (LiteLLM replaces it whole).
    pub metadata: serde_json::Value,
    /// The owner's team ([`crate::access::team_id_of`]).
    pub team_id: String,
    /// The only routes the key may call (never empty).
    pub allowed_routes: Vec<String>,
}

/// One page of LiteLLM's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayKeyPage {
    pub keys: Vec<GatewayKey>,
    pub total_count: u64,
    pub total_pages: u32,
}

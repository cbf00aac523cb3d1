//! Rows as diesel reads and writes them, and their conversions to and from the domain's types. A row the
//! domain would refuse (an unknown status, a negative amount) converts to `StoreError::Unexpected`.

use crate::error::corrupt;
use crate::schema::{
    access_tokens, api_keys, audit_events, jobs, models, subscription_status_history,
    subscriptions, users,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::audit::AuditEvent;
use keyport_domain::catalog::{Availability, CatalogEntry, Model};
use keyport_domain::identity::AccessToken;
use keyport_domain::ids::{ApiKeyId, ModelId, SubscriptionId, UserId};
use keyport_domain::jobs::{Job, JobKind, JobStatus};
use keyport_domain::keys::{ApiKey, ApiKeyStatus, NewApiKey, SyncState};
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::secret::{KeyHash, KeyPrefix};
use keyport_domain::subscriptions::{Subscription, SubscriptionStatus};
use keyport_domain::users::{Role, User, UserStatus};
use keyport_domain::StoreError;
use rust_decimal::Decimal;
use uuid::Uuid;

/// The four limit columns, as stored (`NULL` is unlimited).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LimitColumns {
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
}

impl LimitColumns {
    pub fn from_limits(limits: &Limits) -> Result<Self, StoreError> {
        Ok(Self {
            max_budget: limits.max_budget.map(Money::amount),
            budget_duration: limits.budget_duration.as_ref().map(ToString::to_string),
            tpm_limit: limits.tpm_limit.map(rate_to_column).transpose()?,
            rpm_limit: limits.rpm_limit.map(rate_to_column).transpose()?,
        })
    }

    pub fn into_limits(self) -> Result<Limits, StoreError> {
        Ok(Limits {
            max_budget: self
                .max_budget
                .map(|amount| Money::new(amount).map_err(|e| corrupt("max_budget", e)))
                .transpose()?,
            budget_duration: self
                .budget_duration
                .map(|d| BudgetDuration::parse(&d).map_err(|e| corrupt("budget_duration", e)))
                .transpose()?,
            tpm_limit: self.tpm_limit.map(rate_from_column).transpose()?,
            rpm_limit: self.rpm_limit.map(rate_from_column).transpose()?,
        })
    }
}

fn rate_to_column(rate: u64) -> Result<i64, StoreError> {
    i64::try_from(rate)
        .map_err(|_| StoreError::Unexpected(format!("rate limit {rate} is too large")))
}

fn rate_from_column(rate: i64) -> Result<u64, StoreError> {
    u64::try_from(rate).map_err(|e| corrupt("rate limit", e))
}

/// `text[]` columns are `Array<Nullable<Text>>` to diesel; the migrations refuse NULL elements.
fn strings(values: Vec<Option<String>>, what: &str) -> Result<Vec<String>, StoreError> {
    values
        .into_iter()
        .map(|v| v.ok_or_else(|| corrupt(what, "NULL element")))
        .collect()
}

pub(crate) fn nullable_strings<S: AsRef<str>>(values: &[S]) -> Vec<Option<&str>> {
    values.iter().map(|v| Some(v.as_ref())).collect()
}

fn model_id(value: String) -> Result<ModelId, StoreError> {
    ModelId::parse(value).map_err(|e| corrupt("model id", e))
}

fn key_hash(value: &str) -> Result<KeyHash, StoreError> {
    KeyHash::parse(value).map_err(|e| corrupt("hash", e))
}

// ---------------------------------------------------------------------------------------------- users

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<Option<String>>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let roles = strings(row.roles, "role")?
            .iter()
            .map(|r| Role::parse(r).ok_or_else(|| corrupt("role", r)))
            .collect::<Result<_, _>>()?;
        Ok(User {
            id: row.id.into(),
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            roles,
            status: UserStatus::parse(&row.status)
                .ok_or_else(|| corrupt("user status", &row.status))?,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewUserRow<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub roles: Vec<Option<&'a str>>,
    pub status: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a User> for NewUserRow<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id.0,
            username: &user.username,
            email: user.email.as_deref(),
            display_name: user.display_name.as_deref(),
            roles: user.roles.iter().map(|r| Some(r.as_str())).collect(),
            status: user.status.as_str(),
            created_at: user.created_at,
            updated_at: user.created_at,
        }
    }
}

// -------------------------------------------------------------------------------------- access tokens

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = access_tokens, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AccessTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_prefix: String,
    pub token_hash: String,
    pub scopes: Vec<Option<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<AccessTokenRow> for AccessToken {
    type Error = StoreError;
    fn try_from(row: AccessTokenRow) -> Result<Self, StoreError> {
        Ok(AccessToken {
            id: row.id.into(),
            user_id: row.user_id.into(),
            name: row.name,
            prefix: KeyPrefix::from_stored(row.token_prefix),
            hash: key_hash(&row.token_hash)?,
            scopes: strings(row.scopes, "scope")?,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

impl From<&AccessToken> for AccessTokenRow {
    fn from(token: &AccessToken) -> Self {
        Self {
            id: token.id.0,
            user_id: token.user_id.0,
            name: token.name.clone(),
            token_prefix: token.prefix.as_str().to_owned(),
            token_hash: token.hash.as_str().to_owned(),
            scopes: token.scopes.iter().cloned().map(Some).collect(),
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}

// --------------------------------------------------------------------------------------------- models

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = models, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ModelRow {
    pub id: String,
    pub provider: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub capabilities: Vec<Option<String>>,
    pub context_window: Option<i64>,
    pub input_price_per_token: Option<Decimal>,
    pub output_price_per_token: Option<Decimal>,
    pub availability: String,
    pub restricted: bool,
    pub hidden: bool,
    pub default_max_budget: Option<Decimal>,
    pub default_budget_duration: Option<String>,
    pub default_tpm_limit: Option<i64>,
    pub default_rpm_limit: Option<i64>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl TryFrom<ModelRow> for Model {
    type Error = StoreError;
    fn try_from(row: ModelRow) -> Result<Self, StoreError> {
        Ok(Model {
            id: model_id(row.id)?,
            provider: row.provider,
            display_name: row.display_name,
            description: row.description,
            capabilities: strings(row.capabilities, "capability")?,
            context_window: row.context_window,
            input_price_per_token: row.input_price_per_token,
            output_price_per_token: row.output_price_per_token,
            availability: Availability::parse(&row.availability)
                .ok_or_else(|| corrupt("availability", &row.availability))?,
            restricted: row.restricted,
            hidden: row.hidden,
            default_quota: LimitColumns {
                max_budget: row.default_max_budget,
                budget_duration: row.default_budget_duration,
                tpm_limit: row.default_tpm_limit,
                rpm_limit: row.default_rpm_limit,
            }
            .into_limits()?,
            last_synced_at: row.last_synced_at,
        })
    }
}

/// A model as a catalog sync first inserts it: LiteLLM's fields, the id as display name, not restricted,
/// not hidden, no default quota. On conflict only LiteLLM's fields are refreshed.
#[derive(Debug, Insertable)]
#[diesel(table_name = models, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CatalogModelRow<'a> {
    pub id: &'a str,
    pub provider: Option<&'a str>,
    pub display_name: &'a str,
    pub capabilities: Vec<Option<&'a str>>,
    pub context_window: Option<i64>,
    pub input_price_per_token: Option<Decimal>,
    pub output_price_per_token: Option<Decimal>,
    pub availability: &'a str,
    pub last_synced_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> CatalogModelRow<'a> {
    pub fn new(entry: &'a CatalogEntry, synced_at: DateTime<Utc>) -> Self {
        Self {
            id: entry.id.as_str(),
            provider: entry.provider.as_deref(),
            display_name: entry.id.as_str(),
            capabilities: nullable_strings(&entry.capabilities),
            context_window: entry.context_window,
            input_price_per_token: entry.input_price_per_token,
            output_price_per_token: entry.output_price_per_token,
            availability: Availability::Available.as_str(),
            last_synced_at: synced_at,
            created_at: synced_at,
            updated_at: synced_at,
        }
    }
}

// -------------------------------------------------------------------------------------- subscriptions

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = subscriptions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SubscriptionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub model_id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;
    fn try_from(row: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(Subscription {
            id: row.id.into(),
            user_id: row.user_id.into(),
            model_id: model_id(row.model_id)?,
            status: SubscriptionStatus::parse(&row.status)
                .ok_or_else(|| corrupt("subscription status", &row.status))?,
            status_reason: row.status_reason,
            quota: LimitColumns {
                max_budget: row.max_budget,
                budget_duration: row.budget_duration,
                tpm_limit: row.tpm_limit,
                rpm_limit: row.rpm_limit,
            }
            .into_limits()?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = subscriptions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewSubscriptionRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub model_id: &'a str,
    pub status: &'a str,
    pub status_reason: Option<&'a str>,
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> NewSubscriptionRow<'a> {
    pub fn new(subscription: &'a Subscription) -> Result<Self, StoreError> {
        let quota = LimitColumns::from_limits(&subscription.quota)?;
        Ok(Self {
            id: subscription.id.0,
            user_id: subscription.user_id.0,
            model_id: subscription.model_id.as_str(),
            status: subscription.status.as_str(),
            status_reason: subscription.status_reason.as_deref(),
            max_budget: quota.max_budget,
            budget_duration: quota.budget_duration,
            tpm_limit: quota.tpm_limit,
            rpm_limit: quota.rpm_limit,
            created_at: subscription.created_at,
            updated_at: subscription.updated_at,
        })
    }
}

/// A new quota for a subscription; every field is written, `None` as `NULL` (unlimited).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = subscriptions, treat_none_as_null = true)]
pub(crate) struct QuotaChangeset {
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
}

impl From<LimitColumns> for QuotaChangeset {
    fn from(value: LimitColumns) -> Self {
        Self {
            max_budget: value.max_budget,
            budget_duration: value.budget_duration,
            tpm_limit: value.tpm_limit,
            rpm_limit: value.rpm_limit,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = subscription_status_history, check_for_backend(diesel::pg::Pg))]
pub(crate) struct StatusHistoryRow<'a> {
    pub subscription_id: Uuid,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub reason: Option<&'a str>,
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
}

// ------------------------------------------------------------------------------------------- api keys

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ApiKeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub key_prefix: String,
    pub key_hash: String,
    pub litellm_alias: String,
    pub status: String,
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub spend: Option<Decimal>,
    pub spend_read_at: Option<DateTime<Utc>>,
    pub sync_state: String,
    pub last_sync_error: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub retire_at: Option<DateTime<Utc>>,
    pub replaced_by: Option<Uuid>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub blocked_at: Option<DateTime<Utc>>,
    pub block_reason: Option<String>,
}

/// A key's binding to one subscription, with what the key's model list needs to know of it.
#[derive(Debug, Queryable)]
pub(crate) struct KeyLinkRow {
    pub api_key_id: Uuid,
    pub subscription_id: Uuid,
    pub model_id: String,
    pub subscription_status: String,
}

impl ApiKeyRow {
    /// The key with its bindings: `links` are this key's (in the order to report them). `models` are the
    /// models of the bound subscriptions that are active, i.e. what the key may call in LiteLLM: a cancelled
    /// or suspended subscription stays bound (history) but gives no model.
    pub fn into_api_key<'a>(
        self,
        links: impl IntoIterator<Item = &'a KeyLinkRow>,
    ) -> Result<ApiKey, StoreError> {
        let mut subscription_ids = Vec::new();
        let mut models = Vec::new();
        for link in links {
            subscription_ids.push(SubscriptionId::from(link.subscription_id));
            let status = SubscriptionStatus::parse(&link.subscription_status)
                .ok_or_else(|| corrupt("subscription status", &link.subscription_status))?;
            if status == SubscriptionStatus::Active {
                models.push(model_id(link.model_id.clone())?);
            }
        }
        Ok(ApiKey {
            id: self.id.into(),
            user_id: self.user_id.into(),
            name: self.name,
            prefix: KeyPrefix::from_stored(self.key_prefix),
            hash: key_hash(&self.key_hash)?,
            litellm_alias: self.litellm_alias,
            status: ApiKeyStatus::parse(&self.status)
                .ok_or_else(|| corrupt("key status", &self.status))?,
            limits: LimitColumns {
                max_budget: self.max_budget,
                budget_duration: self.budget_duration,
                tpm_limit: self.tpm_limit,
                rpm_limit: self.rpm_limit,
            }
            .into_limits()?,
            expires_at: self.expires_at,
            subscription_ids,
            models,
            spend: self
                .spend
                .map(|s| Money::new(s).map_err(|e| corrupt("spend", e)))
                .transpose()?,
            spend_read_at: self.spend_read_at,
            budget_reset_at: self.budget_reset_at,
            sync_state: SyncState::parse(&self.sync_state)
                .ok_or_else(|| corrupt("sync state", &self.sync_state))?,
            last_sync_error: self.last_sync_error,
            synced_at: self.synced_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revoked_at: self.revoked_at,
            retire_at: self.retire_at,
            replaced_by: self.replaced_by.map(ApiKeyId::from),
            blocked_at: self.blocked_at,
            block_reason: self.block_reason,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewApiKeyRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub key_hash: &'a str,
    pub litellm_alias: &'a str,
    pub status: &'a str,
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub sync_state: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> NewApiKeyRow<'a> {
    /// A key as it is first recorded: `provisioning`, LiteLLM not yet confirmed (`pending`).
    pub fn provisioning(key: &'a NewApiKey) -> Result<Self, StoreError> {
        let limits = LimitColumns::from_limits(&key.limits)?;
        Ok(Self {
            id: key.id.0,
            user_id: key.user_id.0,
            name: &key.name,
            key_prefix: key.prefix.as_str(),
            key_hash: key.hash.as_str(),
            litellm_alias: &key.litellm_alias,
            status: ApiKeyStatus::Provisioning.as_str(),
            max_budget: limits.max_budget,
            budget_duration: limits.budget_duration,
            tpm_limit: limits.tpm_limit,
            rpm_limit: limits.rpm_limit,
            expires_at: key.expires_at,
            sync_state: SyncState::Pending.as_str(),
            created_at: key.created_at,
            updated_at: key.created_at,
        })
    }
}

/// New limits for a key; every field is written, `None` as `NULL` (unlimited).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = api_keys, treat_none_as_null = true)]
pub(crate) struct KeyLimitsChangeset {
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
}

impl From<LimitColumns> for KeyLimitsChangeset {
    fn from(value: LimitColumns) -> Self {
        Self {
            max_budget: value.max_budget,
            budget_duration: value.budget_duration,
            tpm_limit: value.tpm_limit,
            rpm_limit: value.rpm_limit,
        }
    }
}

// ----------------------------------------------------------------------------------------------- jobs

#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub(crate) struct JobRow {
    pub id: i64,
    pub kind: String,
    pub api_key_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub status: String,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: row.id,
            kind: JobKind::parse(&row.kind).ok_or_else(|| corrupt("job kind", &row.kind))?,
            api_key_id: row.api_key_id.map(ApiKeyId::from),
            user_id: row.user_id.map(UserId),
            status: JobStatus::parse(&row.status)
                .ok_or_else(|| corrupt("job status", &row.status))?,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("job attempts", e))?,
            run_at: row.run_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

// ---------------------------------------------------------------------------------------------- audit

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewAuditRow<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<&'a serde_json::Value>,
    pub after: Option<&'a serde_json::Value>,
    pub request_id: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub client_request_id: Option<&'a str>,
}

impl<'a> From<&'a AuditEvent> for NewAuditRow<'a> {
    fn from(event: &'a AuditEvent) -> Self {
        Self {
            actor: event.actor.map(|a| a.0),
            action: &event.action,
            target_type: &event.target_type,
            target_id: &event.target_id,
            before: event.before.as_ref(),
            after: event.after.as_ref(),
            request_id: event.request_id.as_deref(),
            client_addr: event.client_addr.as_deref(),
            at: event.at,
            client_request_id: event.client_request_id.as_deref(),
        }
    }
}

/// The statuses in which a key counts against its subscriptions (provisioning, active, retiring).
pub(crate) fn live_key_statuses() -> Vec<&'static str> {
    ApiKeyStatus::ALL
        .into_iter()
        .filter(|s| s.is_live())
        .map(ApiKeyStatus::as_str)
        .collect()
}

/// The statuses in which a key holds its name among its owner's keys, as `api_keys_live_name` says: a
/// retiring key gives its name up to the key that replaced it.
pub(crate) fn name_holding_statuses() -> [&'static str; 2] {
    [
        ApiKeyStatus::Provisioning.as_str(),
        ApiKeyStatus::Active.as_str(),
    ]
}

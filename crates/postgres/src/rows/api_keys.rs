//! The rows of API keys: read with their subscription links, inserted, their limits changed; and the
//! statuses in which a key counts.

use super::columns::limits_changeset;
use super::columns::{key_hash, model_id, LimitColumns};
use crate::error::corrupt;
use crate::schema::api_keys;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::ids::{ApiKeyId, SubscriptionId};
use keyport_domain::keys::{ApiKey, ApiKeyStatus, NewApiKey, SyncState};
use keyport_domain::limits::Money;
use keyport_domain::secret::KeyPrefix;
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::StoreError;
use rust_decimal::Decimal;
use uuid::Uuid;

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

limits_changeset!(
    /// New limits for a key; every field is written, `None` as `NULL` (unlimited).
    KeyLimitsChangeset,
    api_keys
);

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

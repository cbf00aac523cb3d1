//! The API's request and response bodies. Requests reject unknown fields; conversion into domain types
//! (which can only be built valid) reports each wrong field.

use chrono::{DateTime, Utc};
use keyport_domain::catalog::Model;
use keyport_domain::ids::SubscriptionId;
use keyport_domain::keys::ApiKey;
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::subscriptions::Subscription;
use keyport_domain::FieldError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Spending and rate limits; an absent or null value means unlimited (in answers) or "take the default"
/// (in requests). Amounts are USD, as decimal strings both ways.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsDto {
    /// USD, a decimal string of digits with an optional fraction (`"10.00"`), up to 1000000000 with at most
    /// 6 decimal places; null: unlimited, or the default. A JSON number is refused: it would pass through
    /// binary floating point on the way.
    #[schema(value_type = Option<String>, example = "10.00", pattern = r"^[0-9]+(\.[0-9]+)?$")]
    #[serde(default, deserialize_with = "decimal_string")]
    pub max_budget: Option<Decimal>,
    /// `<n><unit>`: a whole number from 1 to 100000 and a unit, s, m, h, d, w or mo.
    #[schema(example = "30d", pattern = r"^([1-9][0-9]{0,4}|100000)(s|m|h|d|w|mo)$")]
    pub budget_duration: Option<String>,
    /// Tokens per minute, 1 to 2147483646; absent or null for unlimited.
    #[schema(minimum = 1, maximum = 2147483646, example = 100000)]
    pub tpm_limit: Option<u64>,
    /// Requests per minute, 1 to 2147483646; absent or null for unlimited.
    #[schema(minimum = 1, maximum = 2147483646, example = 60)]
    pub rpm_limit: Option<u64>,
}

/// An amount written as the documented decimal string (`^[0-9]+(\.[0-9]+)?$`), or null.
fn decimal_string<'de, D>(deserializer: D) -> Result<Option<Decimal>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text.as_str(), None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return Err(D::Error::custom(
            "an amount is a decimal string of digits, e.g. \"10.00\"",
        ));
    }
    text.parse::<Decimal>()
        .map(Some)
        .map_err(|_| D::Error::custom("an amount this large cannot be a budget"))
}

impl From<&Limits> for LimitsDto {
    fn from(limits: &Limits) -> Self {
        Self {
            max_budget: limits.max_budget.map(Money::amount),
            budget_duration: limits.budget_duration.as_ref().map(ToString::to_string),
            tpm_limit: limits.tpm_limit,
            rpm_limit: limits.rpm_limit,
        }
    }
}

impl LimitsDto {
    /// Into domain limits, reporting wrong fields under `parent`.
    pub fn into_limits(self, parent: &str) -> Result<Limits, Vec<FieldError>> {
        let mut errors = Vec::new();
        let max_budget = self
            .max_budget
            .map(Money::budget)
            .transpose()
            .map_err(|e| errors.push(e.nested(parent)))
            .ok()
            .flatten();
        let budget_duration = self
            .budget_duration
            .as_deref()
            .map(BudgetDuration::parse)
            .transpose()
            .map_err(|e| errors.push(e.nested(parent)))
            .ok()
            .flatten();
        if errors.is_empty() {
            Ok(Limits {
                max_budget,
                budget_duration,
                tpm_limit: self.tpm_limit,
                rpm_limit: self.rpm_limit,
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelDto {
    /// LiteLLM's model name; may contain `/`.
    pub id: String,
    pub provider: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub capabilities: Vec<String>,
    pub context_window: Option<i64>,
    #[schema(value_type = Option<String>)]
    pub input_price_per_token: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub output_price_per_token: Option<Decimal>,
    /// `available` or `unavailable` (gone from LiteLLM).
    #[schema(schema_with = crate::schema::availability)]
    pub availability: String,
    /// Subscribing needs an administrator's approval.
    pub restricted: bool,
    pub hidden: bool,
    pub default_quota: LimitsDto,
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl From<&Model> for ModelDto {
    fn from(m: &Model) -> Self {
        Self {
            id: m.id.to_string(),
            provider: m.provider.clone(),
            display_name: m.display_name.clone(),
            description: m.description.clone(),
            capabilities: m.capabilities.clone(),
            context_window: m.context_window,
            input_price_per_token: m.input_price_per_token,
            output_price_per_token: m.output_price_per_token,
            availability: m.availability.as_str().to_owned(),
            restricted: m.restricted,
            hidden: m.hidden,
            default_quota: (&m.default_quota).into(),
            last_synced_at: m.last_synced_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The model to subscribe to.
    #[schema(example = "gpt-4o-mini")]
    pub model_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: Uuid,
    pub model_id: String,
    /// pending, active, cancelled, suspended or rejected.
    #[schema(schema_with = crate::schema::subscription_status)]
    pub status: String,
    pub status_reason: Option<String>,
    pub quota: LimitsDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Subscription> for SubscriptionDto {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id.0,
            model_id: s.model_id.to_string(),
            status: s.status.as_str().to_owned(),
            status_reason: s.status_reason.clone(),
            quota: (&s.quota).into(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Unique among your live keys; 1 to 64 characters.
    #[schema(example = "ci-pipeline", min_length = 1, max_length = 64)]
    pub name: String,
    /// One or more of your active subscriptions; the key may use their models.
    #[schema(min_items = 1)]
    pub subscription_ids: Vec<Uuid>,
    /// Limits within the subscriptions' quotas; unset ones take the tightest quota.
    #[serde(default)]
    pub limits: Option<LimitsDto>,
    /// When the key stops working; absent for never (or the administrator's maximum lifetime).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl CreateApiKey {
    pub fn into_request(
        self,
    ) -> Result<keyport_domain::keys::CreateKeyRequest, keyport_domain::Error> {
        let limits = self
            .limits
            .unwrap_or_default()
            .into_limits("limits")
            .map_err(keyport_domain::Error::Invalid)?;
        Ok(keyport_domain::keys::CreateKeyRequest {
            name: self.name,
            subscription_ids: self
                .subscription_ids
                .into_iter()
                .map(SubscriptionId)
                .collect(),
            limits,
            expires_at: self.expires_at,
        })
    }
}

/// A change to a key: every field is optional; an absent field stays as it is. `expires_at: null` removes
/// the expiry.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    /// 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    /// The new limits, within the subscriptions' quotas; unset ones take the tightest quota.
    pub limits: Option<LimitsDto>,
    /// The new set of bound subscriptions (your active ones).
    #[schema(min_items = 1)]
    pub subscription_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl UpdateApiKey {
    pub fn into_request(
        self,
    ) -> Result<keyport_domain::keys::UpdateKeyRequest, keyport_domain::Error> {
        let limits = self
            .limits
            .map(|l| l.into_limits("limits"))
            .transpose()
            .map_err(keyport_domain::Error::Invalid)?;
        Ok(keyport_domain::keys::UpdateKeyRequest {
            name: self.name,
            limits,
            subscription_ids: self
                .subscription_ids
                .map(|ids| ids.into_iter().map(SubscriptionId).collect()),
            expires_at: self.expires_at,
        })
    }
}

/// How to rotate a key.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiKey {
    /// How long the old key keeps working beside the new one, in seconds (default 0: it stops at once).
    #[serde(default)]
    pub overlap_seconds: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub name: String,
    /// The start of the key, to recognise it (`sk-kp-AbC123`); the rest is never shown again.
    pub prefix: String,
    /// provisioning, active, retiring, revoked, expired, failed or lost.
    #[schema(schema_with = crate::schema::key_status)]
    pub status: String,
    /// The key is revoked but LiteLLM has not yet confirmed the deletion.
    pub revocation_pending: bool,
    /// `synced` or `pending`.
    #[schema(schema_with = crate::schema::sync_state)]
    pub sync_state: String,
    pub last_sync_error: Option<String>,
    pub models: Vec<String>,
    pub subscription_ids: Vec<Uuid>,
    pub limits: LimitsDto,
    pub expires_at: Option<DateTime<Utc>>,
    /// Spend as LiteLLM last reported it (USD), and when that was read.
    #[schema(value_type = Option<String>)]
    pub spend: Option<Decimal>,
    pub spend_read_at: Option<DateTime<Utc>>,
    /// When LiteLLM resets the key's budget next, as last read with the spend.
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// For a `retiring` key: when it stops working.
    pub retire_at: Option<DateTime<Utc>>,
    /// For a rotated key: the key that replaced it.
    pub replaced_by: Option<Uuid>,
    /// Blocked by an administrator: LiteLLM refuses the key until an administrator unblocks it (its
    /// status stays what it is; a blocked key cannot be rotated).
    pub blocked: bool,
    /// When an administrator blocked the key, and why.
    pub blocked_at: Option<DateTime<Utc>>,
    pub block_reason: Option<String>,
}

impl From<&ApiKey> for ApiKeyDto {
    fn from(k: &ApiKey) -> Self {
        use keyport_domain::keys::{ApiKeyStatus, SyncState};
        Self {
            id: k.id.0,
            name: k.name.clone(),
            prefix: k.prefix.to_string(),
            status: k.status.as_str().to_owned(),
            revocation_pending: k.status == ApiKeyStatus::Revoked
                && k.sync_state == SyncState::Pending,
            sync_state: k.sync_state.as_str().to_owned(),
            last_sync_error: k.last_sync_error.clone(),
            models: k.models.iter().map(ToString::to_string).collect(),
            subscription_ids: k.subscription_ids.iter().map(|s| s.0).collect(),
            limits: (&k.limits).into(),
            expires_at: k.expires_at,
            spend: k.spend.map(Money::amount),
            spend_read_at: k.spend_read_at,
            budget_reset_at: k.budget_reset_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
            revoked_at: k.revoked_at,
            retire_at: k.retire_at,
            replaced_by: k.replaced_by.map(|id| id.0),
            blocked: k.is_blocked(),
            blocked_at: k.blocked_at,
            block_reason: k.block_reason.clone(),
        }
    }
}

/// A newly created key with its secret. The secret is shown this once and never again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: ApiKeyDto,
    /// The key itself (`sk-kp-…`). Store it now: keyport keeps only its hash.
    pub secret: String,
    /// Where to send requests with the key (LiteLLM's OpenAI-compatible base URL).
    pub litellm_base_url: String,
}

/// A list of items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemList<T> {
    pub items: Vec<T>,
}

/// What the browser app and clients need to know about this keyport.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicConfig {
    pub version: String,
    /// LiteLLM's base URL for clients using keys.
    pub litellm_base_url: String,
    /// Whether the development login is enabled (never in production).
    pub dev_login: bool,
    /// Whether single sign-on through an identity provider is configured (`/api/v1/auth/login`).
    pub oidc_enabled: bool,
}

/// One job of the outbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobDto {
    pub id: i64,
    /// What it does, e.g. `converge_key`.
    #[schema(schema_with = crate::schema::job_kind)]
    pub kind: String,
    /// The key a `converge_key` job is about.
    pub api_key_id: Option<Uuid>,
    /// The user a `converge_user` job is about (their LiteLLM role, models and pools).
    pub user_id: Option<Uuid>,
    /// pending, running, done or dead.
    #[schema(schema_with = crate::schema::job_status)]
    pub status: String,
    pub attempts: u32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&keyport_domain::jobs::Job> for JobDto {
    fn from(j: &keyport_domain::jobs::Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind.as_str().to_owned(),
            api_key_id: j.api_key_id.map(|k| k.0),
            user_id: j.user_id.map(|u| u.0),
            status: j.status.as_str().to_owned(),
            attempts: j.attempts,
            run_at: j.run_at,
            last_error: j.last_error.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// The queue's counts and the jobs asked for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobList {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
    /// The earliest due time among pending jobs.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub items: Vec<JobDto>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    #[test]
    fn an_amount_is_the_documented_decimal_string_and_nothing_else() {
        let ok: LimitsDto = parse_json(br#"{"max_budget": "10.50"}"#).unwrap();
        assert_eq!(ok.max_budget, Some(Decimal::new(1050, 2)));
        let none: LimitsDto = parse_json(br#"{"max_budget": null}"#).unwrap();
        assert_eq!(none.max_budget, None);
        // Found by schemathesis: a JSON number was accepted where the document says string.
        for bad in [
            r#"{"max_budget": 10}"#,
            r#"{"max_budget": "1e3"}"#,
            r#"{"max_budget": "-1"}"#,
            r#"{"max_budget": " 1"}"#,
            r#"{"max_budget": "1."}"#,
            r#"{"max_budget": ""}"#,
        ] {
            let err = parse_json::<LimitsDto>(bad.as_bytes()).unwrap_err();
            assert_eq!(err.status.as_u16(), 422, "{bad}");
            assert_eq!(err.errors[0].field, "max_budget", "{bad}");
        }
    }
}

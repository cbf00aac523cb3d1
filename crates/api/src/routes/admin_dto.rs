//! Request and answer bodies of the administration routes. Requests reject unknown fields.

use crate::dto::{ApiKeyDto, LimitsDto, ModelDto, SubscriptionDto};
use chrono::{DateTime, Utc};
use keyport_domain::access::{InferenceRoutes, DEFAULT_MAX_LIVE_KEYS};
use keyport_domain::catalog::ModelUpdated;
use keyport_domain::keys::OwnedKey;
use keyport_domain::settings::SelfServiceSettings;
use keyport_domain::subscriptions::DecisionOutcome;
use keyport_domain::subscriptions::{OwnedSubscription, StatusHistoryEntry};
use keyport_domain::users::User;
use keyport_domain::users::UserOverview;
use keyport_domain::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One page of a list; pass `next_cursor` as `cursor` for the next page (absent on the last one).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminUserDto {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `user` always, then `admin` and `auditor` when held.
    #[schema(schema_with = crate::schema::roles)]
    pub roles: Vec<String>,
    /// `active` or `suspended`.
    #[schema(schema_with = crate::schema::user_status)]
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for AdminUserDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            status: u.status.as_str().to_owned(),
            created_at: u.created_at,
        }
    }
}

/// A user with the number of their keys and subscriptions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminUserDetail {
    #[serde(flatten)]
    pub user: AdminUserDto,
    /// Keys in any status.
    pub keys: u64,
    /// Provisioning, active and retiring keys.
    pub live_keys: u64,
    /// Subscriptions in any status.
    pub subscriptions: u64,
    pub active_subscriptions: u64,
    pub pending_subscriptions: u64,
}

impl From<&UserOverview> for AdminUserDetail {
    fn from(o: &UserOverview) -> Self {
        Self {
            user: (&o.user).into(),
            keys: o.keys,
            live_keys: o.live_keys,
            subscriptions: o.subscriptions,
            active_subscriptions: o.active_subscriptions,
            pending_subscriptions: o.pending_subscriptions,
        }
    }
}

/// The user's new roles (replacing the old ones; `user` is always held).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoles {
    /// Any of `admin`, `auditor`, `user`.
    #[schema(example = json!(["user", "auditor"]), schema_with = crate::schema::roles)]
    pub roles: Vec<String>,
}

/// Anybody's key, with its owner.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminKeyDto {
    #[serde(flatten)]
    pub key: ApiKeyDto,
    pub user_id: Uuid,
    pub owner_username: String,
}

impl From<&OwnedKey> for AdminKeyDto {
    fn from(k: &OwnedKey) -> Self {
        Self {
            key: (&k.key).into(),
            user_id: k.key.user_id.0,
            owner_username: k.owner.clone(),
        }
    }
}

/// Anybody's subscription, with its owner.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminSubscriptionDto {
    #[serde(flatten)]
    pub subscription: SubscriptionDto,
    pub user_id: Uuid,
    pub owner_username: String,
}

impl From<&OwnedSubscription> for AdminSubscriptionDto {
    fn from(s: &OwnedSubscription) -> Self {
        Self {
            subscription: (&s.subscription).into(),
            user_id: s.subscription.user_id.0,
            owner_username: s.owner.clone(),
        }
    }
}

/// One change of a subscription's status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusChangeDto {
    /// Absent for the row that records the subscription's creation.
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: Option<String>,
    /// Who made the change; absent for keyport itself.
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

impl From<&StatusHistoryEntry> for StatusChangeDto {
    fn from(h: &StatusHistoryEntry) -> Self {
        Self {
            from_status: h.from.map(|s| s.as_str().to_owned()),
            to_status: h.to.as_str().to_owned(),
            reason: h.reason.clone(),
            actor_id: h.actor.map(|a| a.0),
            at: h.at,
        }
    }
}

/// Subscribe a user to a model, active at once.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantSubscriptionBody {
    pub user_id: Uuid,
    #[schema(example = "gpt-4o-mini")]
    pub model_id: String,
    /// The quota, within the maximum for subscriptions; absent: the model's default (capped).
    #[serde(default)]
    pub quota: Option<LimitsDto>,
}

/// Why an administrator suspends or revokes a subscription (the user sees it).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionReasonBody {
    /// 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// A subscription's new quota. Every limit replaces what was there: an absent one is unlimited.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionQuotaBody {
    pub quota: LimitsDto,
}

/// Pending subscriptions to approve.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// 1 to 100 subscription ids.
    #[schema(min_items = 1, max_items = 100)]
    pub ids: Vec<Uuid>,
}

/// Pending subscriptions to reject, and why (the users see the reason).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// 1 to 100 subscription ids.
    #[schema(min_items = 1, max_items = 100)]
    pub ids: Vec<Uuid>,
    /// 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

fn decision_outcome() -> utoipa::openapi::Object {
    crate::schema::one_of(["approved", "rejected", "not_pending", "not_found", "failed"])
}

/// What happened to one subscription of a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionItem {
    pub id: Uuid,
    /// `approved`, `rejected`, `not_pending` (decided or withdrawn meanwhile: nothing changed),
    /// `not_found`, or `failed` (nothing changed for this one; try it again).
    #[schema(schema_with = decision_outcome)]
    pub outcome: String,
    /// The subscription's status now, when known.
    #[schema(schema_with = crate::schema::subscription_status_or_null)]
    pub status: Option<String>,
    pub detail: Option<String>,
}

/// The answer to a bulk decision: one item per distinct id, in the order asked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionResult {
    pub results: Vec<DecisionItem>,
    /// How many were approved or rejected by this request.
    pub succeeded: usize,
    /// How many were not.
    pub unchanged: usize,
}

impl DecisionResult {
    pub fn new(outcomes: &[(keyport_domain::ids::SubscriptionId, DecisionOutcome)]) -> Self {
        let results: Vec<DecisionItem> = outcomes
            .iter()
            .map(|(id, outcome)| {
                let (name, status, detail) = match outcome {
                    DecisionOutcome::Approved(s) => ("approved", Some(s.status), None),
                    DecisionOutcome::Rejected(s) => ("rejected", Some(s.status), None),
                    DecisionOutcome::NotPending { status } => (
                        "not_pending",
                        Some(*status),
                        Some(format!("the subscription is {}", status.as_str())),
                    ),
                    DecisionOutcome::NotFound => {
                        ("not_found", None, Some("no such subscription".to_owned()))
                    }
                    DecisionOutcome::Failed { message } => ("failed", None, Some(message.clone())),
                };
                DecisionItem {
                    id: id.0,
                    outcome: name.to_owned(),
                    status: status.map(|s| s.as_str().to_owned()),
                    detail,
                }
            })
            .collect();
        let succeeded = outcomes.iter().filter(|(_, o)| o.succeeded()).count();
        Self {
            unchanged: results.len() - succeeded,
            results,
            succeeded,
        }
    }
}

/// A change to a model: every field is optional; an absent field stays as it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateModelBody {
    /// Subscribing needs an administrator's approval. Setting it to false approves the pending
    /// subscriptions.
    pub restricted: Option<bool>,
    /// Not shown in users' catalog.
    pub hidden: Option<bool>,
    pub display_name: Option<String>,
    /// `null` removes the description.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// The quota new subscriptions get (unset limits: unlimited).
    pub default_quota: Option<LimitsDto>,
}

impl UpdateModelBody {
    pub fn into_changes(
        self,
    ) -> Result<keyport_domain::catalog::ModelChanges, keyport_domain::Error> {
        let default_quota = self
            .default_quota
            .map(|q| q.into_limits("default_quota"))
            .transpose()
            .map_err(keyport_domain::Error::Invalid)?;
        Ok(keyport_domain::catalog::ModelChanges {
            restricted: self.restricted,
            hidden: self.hidden,
            display_name: self.display_name,
            description: self.description,
            default_quota,
        })
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A model after an administrator's change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelUpdatedDto {
    pub model: ModelDto,
    /// The pending subscriptions the change approved (when the model stopped being restricted).
    pub approved_subscription_ids: Vec<Uuid>,
}

impl From<&ModelUpdated> for ModelUpdatedDto {
    fn from(m: &ModelUpdated) -> Self {
        Self {
            model: (&m.model).into(),
            approved_subscription_ids: m.approved.iter().map(|s| s.0).collect(),
        }
    }
}

/// The defaults and maximums for self-service subscriptions and keys. In a `PUT`, every field replaces
/// what was there: an absent limit is unlimited, an absent lifetime none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDto {
    /// The most quota a subscription a user makes gets (a model's default above it is cut down).
    #[serde(default)]
    pub subscription_max_quota: LimitsDto,
    /// What the key forms prefill.
    #[serde(default)]
    pub key_default_limits: LimitsDto,
    /// The most any key may have, on top of its subscriptions' quotas.
    #[serde(default)]
    pub key_max_limits: LimitsDto,
    /// Keys created without an expiry get this lifetime (1 to 36500 days).
    #[serde(default)]
    pub key_default_lifetime_days: Option<u32>,
    /// The longest a key may live (1 to 36500 days); keys without an expiry get it when there is no
    /// default.
    #[serde(default)]
    pub key_max_lifetime_days: Option<u32>,
    /// The only LiteLLM routes keys may call: 1 or more of LiteLLM's inference routes (chat and text
    /// completions, embeddings, model listing, responses, …; never a management route). Absent: the
    /// default (chat and text completions, embeddings, model listing, responses, with and without `/v1`).
    #[serde(default)]
    #[schema(example = json!(["/v1/chat/completions", "/v1/embeddings", "/v1/models"]))]
    pub allowed_routes: Option<Vec<String>>,
    /// How many live (provisioning or active) keys one user may hold, 1 to 1000. Absent: 20.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_live_keys_per_user: Option<u32>,
    /// The longest a personal access token may live (1 to 366 days); absent: no maximum beyond the
    /// built-in 366 days, and tokens may be made without expiry.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub token_max_lifetime_days: Option<u32>,
}

impl From<&SelfServiceSettings> for SettingsDto {
    fn from(s: &SelfServiceSettings) -> Self {
        Self {
            subscription_max_quota: (&s.subscription_max_quota).into(),
            key_default_limits: (&s.key_default_limits).into(),
            key_max_limits: (&s.key_max_limits).into(),
            key_default_lifetime_days: s.key_default_lifetime_days,
            key_max_lifetime_days: s.key_max_lifetime_days,
            allowed_routes: Some(s.allowed_routes.as_slice().to_vec()),
            max_live_keys_per_user: Some(s.max_live_keys_per_user),
            token_max_lifetime_days: s.token_max_lifetime_days,
        }
    }
}

impl SettingsDto {
    pub fn into_settings(self) -> Result<SelfServiceSettings, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut limits = |dto: LimitsDto, name: &str| {
            dto.into_limits(name)
                .map_err(|e| errors.extend(e))
                .unwrap_or_default()
        };
        let subscription_max_quota = limits(self.subscription_max_quota, "subscription_max_quota");
        let key_default_limits = limits(self.key_default_limits, "key_default_limits");
        let key_max_limits = limits(self.key_max_limits, "key_max_limits");
        let allowed_routes = match self.allowed_routes {
            None => InferenceRoutes::default(),
            Some(routes) => InferenceRoutes::parse(routes)
                .map_err(|e| errors.push(e))
                .unwrap_or_default(),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SelfServiceSettings {
            subscription_max_quota,
            key_default_limits,
            key_max_limits,
            key_default_lifetime_days: self.key_default_lifetime_days,
            key_max_lifetime_days: self.key_max_lifetime_days,
            allowed_routes,
            max_live_keys_per_user: self.max_live_keys_per_user.unwrap_or(DEFAULT_MAX_LIVE_KEYS),
            token_max_lifetime_days: self.token_max_lifetime_days,
        })
    }
}

/// The settings in force, and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct AdminSettingsDto {
    #[serde(flatten)]
    pub settings: SettingsDto,
    /// `stored` (an administrator saved them) or `configuration` (the server's flags, until then).
    pub source: String,
    /// Every route `allowed_routes` may list: LiteLLM's inference routes keyport allows.
    pub available_routes: Vec<String>,
}

/// Written by hand: a derived schema would be `allOf` with `SettingsDto`, whose `additionalProperties: false`
/// (right for a `PUT` body) would forbid `source` and `available_routes` in this answer.
impl utoipa::PartialSchema for AdminSettingsDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
        use utoipa::openapi::RefOr;
        let RefOr::T(Schema::Object(mut object)) = <SettingsDto as utoipa::PartialSchema>::schema()
        else {
            return RefOr::T(Schema::Object(ObjectBuilder::new().build()));
        };
        object.description = Some("The settings in force, and where they come from".to_owned());
        object.properties.insert(
            "source".to_owned(),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["stored", "configuration"]))
                .description(Some(
                    "`stored` (an administrator saved them) or `configuration` (the server's flags, until then)",
                ))
                .into(),
        );
        object.properties.insert(
            "available_routes".to_owned(),
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(
                    "Every route `allowed_routes` may list: LiteLLM's inference routes keyport allows",
                ))
                .into(),
        );
        object
            .required
            .extend(["source".to_owned(), "available_routes".to_owned()]);
        RefOr::T(Schema::Object(object))
    }
}

impl utoipa::ToSchema for AdminSettingsDto {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            <LimitsDto as utoipa::ToSchema>::name().into_owned(),
            <LimitsDto as utoipa::PartialSchema>::schema(),
        ));
        <LimitsDto as utoipa::ToSchema>::schemas(schemas);
    }
}

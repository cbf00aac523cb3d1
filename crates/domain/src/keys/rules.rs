//! The rules a key's settings must follow, shared by creating, rotating and updating keys.

use crate::access::{InferenceRoutes, DEFAULT_MAX_LIVE_KEYS};
use crate::ids::{ModelId, SubscriptionId};
use crate::keys::ApiKey;
use crate::limits::Limits;
use crate::settings::SettingsSource;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::{Error, FieldError};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeSet;

/// The most subscriptions one key may be bound to.
pub const MAX_SUBSCRIPTIONS_PER_KEY: usize = 50;

/// What an administrator allows for self-service keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Caps applied on top of the subscriptions' quotas.
    pub max_limits: Limits,
    /// The longest a key may live; keys without an expiry get this one when set (and no default is).
    pub max_lifetime: Option<Duration>,
    /// The lifetime of a key created without an expiry.
    pub default_lifetime: Option<Duration>,
    /// The longest a rotated key may keep working beside its replacement.
    pub max_rotation_overlap: Duration,
    /// The only LiteLLM routes keys may call.
    pub allowed_routes: InferenceRoutes,
    /// How many live (provisioning or active) keys a user may hold.
    pub max_live_keys: u32,
}

/// No caps or lifetimes, no rotation overlap, the default routes and the default cap on live keys (a
/// derived default would cap live keys at 0, refusing every key).
impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            max_limits: Limits::default(),
            max_lifetime: None,
            default_lifetime: None,
            max_rotation_overlap: Duration::zero(),
            allowed_routes: InferenceRoutes::default(),
            max_live_keys: DEFAULT_MAX_LIVE_KEYS,
        }
    }
}

/// Where the key policy comes from: fixed (tests, tools), or the administrator's self-service settings,
/// read each time a key is created, changed or rotated (the settings store may cache them briefly).
#[derive(Debug, Clone)]
pub enum PolicySource {
    Fixed(KeyPolicy),
    Settings {
        settings: SettingsSource,
        /// Not an administrator's setting: the server's configuration.
        max_rotation_overlap: Duration,
    },
}

impl From<KeyPolicy> for PolicySource {
    fn from(policy: KeyPolicy) -> Self {
        Self::Fixed(policy)
    }
}

impl PolicySource {
    /// The longest overlap a rotation may ask for (the server's configuration, never a stored setting).
    pub fn max_rotation_overlap(&self) -> Duration {
        match self {
            Self::Fixed(policy) => policy.max_rotation_overlap,
            Self::Settings {
                max_rotation_overlap,
                ..
            } => *max_rotation_overlap,
        }
    }

    /// The policy in force now.
    pub async fn policy(&self) -> Result<KeyPolicy, Error> {
        match self {
            Self::Fixed(policy) => Ok(policy.clone()),
            Self::Settings {
                settings,
                max_rotation_overlap,
            } => {
                let current = settings.current().await?;
                Ok(KeyPolicy {
                    max_limits: current.key_max_limits.clone(),
                    max_lifetime: current.key_max_lifetime(),
                    default_lifetime: current.key_default_lifetime(),
                    max_rotation_overlap: *max_rotation_overlap,
                    allowed_routes: current.allowed_routes,
                    max_live_keys: current.max_live_keys_per_user,
                })
            }
        }
    }
}

/// Deduplicates the requested ids, keeping their order, and checks their number.
pub(crate) fn requested_subscriptions(
    ids: Vec<SubscriptionId>,
    errors: &mut Vec<FieldError>,
) -> Vec<SubscriptionId> {
    let mut out = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.is_empty() {
        errors.push(FieldError::new(
            "subscription_ids",
            "choose at least one subscription",
        ));
    } else if out.len() > MAX_SUBSCRIPTIONS_PER_KEY {
        errors.push(FieldError::new(
            "subscription_ids",
            format!("a key may be bound to at most {MAX_SUBSCRIPTIONS_PER_KEY} subscriptions"),
        ));
        out.clear();
    }
    out
}

/// Loads the subscriptions and keeps those that are the actor's and active; every other one is an error
/// naming its position (someone else's is reported as if it did not exist).
pub(crate) async fn active_subscriptions(
    store: &dyn SubscriptionStore,
    actor: &Actor,
    ids: &[SubscriptionId],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<Subscription>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = store.get_subscriptions(ids).await?;
    let mut out = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let field = format!("subscription_ids[{index}]");
        match found
            .iter()
            .find(|s| s.id == *id && s.user_id == actor.user_id)
        {
            None => errors.push(FieldError::new(
                field,
                format!("you have no subscription {id}"),
            )),
            Some(s) if s.status == SubscriptionStatus::Pending => errors.push(FieldError::new(
                field,
                format!(
                    "your subscription to '{}' is waiting for approval",
                    s.model_id
                ),
            )),
            Some(s) if s.status != SubscriptionStatus::Active => errors.push(FieldError::new(
                field,
                format!(
                    "your subscription to '{}' is {}",
                    s.model_id,
                    s.status.as_str()
                ),
            )),
            Some(s) => out.push(s.clone()),
        }
    }
    Ok(out)
}

/// The key's limits: what was asked, with each unset limit taken from the tightest quota; every limit
/// above a bound subscription's quota or the administrator's maximum is an error under `limits.`.
pub(crate) fn effective_limits(
    requested: Limits,
    subscriptions: &[Subscription],
    policy: &KeyPolicy,
    errors: &mut Vec<FieldError>,
) -> Limits {
    if let Err(e) = requested.validate() {
        errors.extend(e.into_iter().map(|e| e.nested("limits")));
        return requested;
    }
    let limits = requested.or(&Limits::tightest(
        subscriptions
            .iter()
            .map(|s| &s.quota)
            .chain([&policy.max_limits]),
    ));
    check_within_quotas(&limits, subscriptions, policy, errors);
    limits
}

/// Every limit above a bound subscription's quota or the administrator's maximum, as errors under
/// `limits.`.
pub(crate) fn check_within_quotas(
    limits: &Limits,
    subscriptions: &[Subscription],
    policy: &KeyPolicy,
    errors: &mut Vec<FieldError>,
) {
    for s in subscriptions {
        let quota_name = format!("your subscription to '{}'", s.model_id);
        errors.extend(
            limits
                .exceeding(&s.quota, &quota_name)
                .into_iter()
                .map(|e| e.nested("limits")),
        );
    }
    errors.extend(
        limits
            .exceeding(&policy.max_limits, "the administrator's maximum")
            .into_iter()
            .map(|e| e.nested("limits")),
    );
}

/// The key's expiry: in the future, within the policy's maximum lifetime. A key that asks for none gets the
/// default lifetime, or else the maximum.
pub(crate) fn effective_expiry(
    requested: Option<DateTime<Utc>>,
    policy: &KeyPolicy,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    match (requested, policy.max_lifetime) {
        (Some(at), _) if at <= now => {
            errors.push(FieldError::new("expires_at", "must be in the future"));
            None
        }
        (Some(at), Some(max)) if at > now + max => {
            errors.push(FieldError::new(
                "expires_at",
                format!("keys may live at most {} days", max.num_days()),
            ));
            None
        }
        (Some(at), _) => Some(at),
        (None, max) => {
            let lifetime = match (policy.default_lifetime, max) {
                (Some(default), Some(max)) => Some(default.min(max)),
                (default, max) => default.or(max),
            };
            lifetime.map(|l| now + l)
        }
    }
}

/// The distinct models of some subscriptions, sorted.
pub(crate) fn models_of(subscriptions: &[Subscription]) -> Vec<ModelId> {
    subscriptions
        .iter()
        .map(|s| s.model_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub(crate) fn name_taken(name: &str) -> Error {
    Error::Conflict {
        field: Some("name".into()),
        message: format!("you already have a key named '{name}'"),
    }
}

/// The owner already holds as many live keys as the administrator allows.
pub(crate) fn too_many_keys(cap: u32) -> Error {
    Error::Conflict {
        field: None,
        message: format!(
            "you already have {cap} live keys, the most allowed; revoke one you no longer use first"
        ),
    }
}

/// A key the actor may change: theirs (or any, for an admin) and `active`.
pub(crate) fn require_active(key: &ApiKey, what: &str) -> Result<(), Error> {
    if key.status == crate::keys::ApiKeyStatus::Active {
        Ok(())
    } else {
        Err(Error::Conflict {
            field: None,
            message: format!(
                "only an active key can be {what}; this one is {}",
                key.status.as_str()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_allows_the_default_number_of_live_keys_and_routes() {
        let policy = KeyPolicy::default();
        assert_eq!(policy.max_live_keys, DEFAULT_MAX_LIVE_KEYS);
        assert!(
            policy.max_live_keys > 0,
            "a cap of 0 would refuse every key"
        );
        assert_eq!(policy.allowed_routes, InferenceRoutes::default());
    }
}

//! The rules a key's settings must follow, shared by creating, rotating and updating keys (the
//! administrator's policy is the self-service settings, `SelfServiceSettings`).

use crate::ids::{ModelId, SubscriptionId};
use crate::keys::ApiKey;
use crate::limits::Limits;
use crate::settings::SelfServiceSettings;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::{Error, FieldError};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// The most subscriptions one key may be bound to.
pub const MAX_SUBSCRIPTIONS_PER_KEY: usize = 50;

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
    settings: &SelfServiceSettings,
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
            .chain([&settings.key_max_limits]),
    ));
    check_within_quotas(&limits, subscriptions, settings, errors);
    limits
}

/// Every limit above a bound subscription's quota or the administrator's maximum, as errors under
/// `limits.`.
pub(crate) fn check_within_quotas(
    limits: &Limits,
    subscriptions: &[Subscription],
    settings: &SelfServiceSettings,
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
            .exceeding(&settings.key_max_limits, "the administrator's maximum")
            .into_iter()
            .map(|e| e.nested("limits")),
    );
}

/// The key's expiry: in the future, within the settings' maximum lifetime. A key that asks for none gets the
/// default lifetime (within the maximum), or else the maximum.
pub(crate) fn effective_expiry(
    requested: Option<DateTime<Utc>>,
    settings: &SelfServiceSettings,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    match (requested, settings.key_max_lifetime()) {
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
        (None, _) => settings.key_lifetime_without_expiry().map(|l| now + l),
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

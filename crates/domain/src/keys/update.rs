use crate::audit::AuditEvent;
use crate::ids::{ApiKeyId, SubscriptionId};
use crate::keys::converge_now;
use crate::keys::ApiKeyStore;
use crate::keys::ConvergeKey;
use crate::keys::{
    active_subscriptions, check_within_quotas, effective_expiry, effective_limits, name_taken,
    requested_subscriptions, require_active,
};
use crate::keys::{audit_after, key_for, KeyAccess};
use crate::keys::{validate_key_name, ApiKey, KeyUpdate};
use crate::limits::Limits;
use crate::runtime::Clock;
use crate::settings::SettingsSource;
use crate::subscriptions::SubscriptionStatus;
use crate::subscriptions::SubscriptionStore;
use crate::users::Actor;
use crate::{ConflictKind, Error, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What `PATCH /api-keys/{id}` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateKeyRequest {
    pub name: Option<String>,
    /// The new limits; each unset limit is taken from the tightest quota, as when creating.
    pub limits: Option<Limits>,
    /// The new set of bound subscriptions (all must be the caller's and active).
    pub subscription_ids: Option<Vec<SubscriptionId>>,
    /// `Some(None)` removes the expiry (unless the administrator caps the lifetime).
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// Change an active key's name, limits, subscriptions or expiry under the same rules as creating it. The
/// change and a job for LiteLLM commit together; LiteLLM is then updated at once (full model list, full
/// metadata), and if it cannot be reached the job retries and the key shows the pending change.
pub struct UpdateKey {
    keys: Arc<dyn ApiKeyStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    converge: Arc<ConvergeKey>,
    clock: Arc<dyn Clock>,
    settings: SettingsSource,
}

impl UpdateKey {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        converge: Arc<ConvergeKey>,
        clock: Arc<dyn Clock>,
        settings: SettingsSource,
    ) -> Self {
        Self {
            keys,
            subscriptions,
            converge,
            clock,
            settings,
        }
    }

    /// The owner changes one of their keys (anybody else's is "not found", for administrators too).
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        request: UpdateKeyRequest,
    ) -> Result<ApiKey, Error> {
        self.update(actor, id, request, KeyAccess::Owner, None)
            .await
    }

    /// An administrator changes anybody's key's limits on its owner's behalf, under the same rules as the
    /// owner (within the key's active subscriptions' quotas and the administrator's maximum; each unset
    /// limit taken from the tightest quota); the audit event names the administrator as its actor, the
    /// owner and the reason (auditors are refused).
    pub async fn limits_on_behalf_of_owner(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        limits: Limits,
        reason: Option<&str>,
    ) -> Result<ApiKey, Error> {
        let request = UpdateKeyRequest {
            limits: Some(limits),
            ..UpdateKeyRequest::default()
        };
        self.update(actor, id, request, KeyAccess::Administrator, reason)
            .await
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %id, access = ?access))]
    async fn update(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        request: UpdateKeyRequest,
        access: KeyAccess,
        reason: Option<&str>,
    ) -> Result<ApiKey, Error> {
        let key = key_for(
            self.keys.as_ref(),
            actor,
            id,
            access,
            "change other people's keys",
        )
        .await?;
        require_active(&key, "changed")?;
        let now = self.clock.now();
        let settings = self.settings.current().await?;
        let mut errors = Vec::new();

        let name = request
            .name
            .as_deref()
            .map(validate_key_name)
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let subscriptions = match request.subscription_ids.clone() {
            Some(ids) => {
                let ids = requested_subscriptions(ids, &mut errors);
                active_subscriptions(self.subscriptions.as_ref(), actor, &ids, &mut errors).await?
            }
            None => self
                .subscriptions
                .get_subscriptions(&key.subscription_ids)
                .await?
                .into_iter()
                .filter(|s| s.status == SubscriptionStatus::Active)
                .collect(),
        };
        let limits = match request.limits.clone() {
            Some(limits) if errors.is_empty() => Some(effective_limits(
                limits,
                &subscriptions,
                &settings,
                &mut errors,
            )),
            Some(limits) => Some(limits),
            None => {
                if request.subscription_ids.is_some() && errors.is_empty() {
                    check_within_quotas(&key.limits, &subscriptions, &settings, &mut errors);
                }
                None
            }
        };
        let expires_at = request
            .expires_at
            .map(|at| effective_expiry(at, &settings, now, &mut errors));
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        if let Some(name) = &name {
            if !name.eq_ignore_ascii_case(&key.name)
                && self.keys.live_key_name_taken(key.user_id, name).await?
            {
                return Err(name_taken(name));
            }
        }

        let update = KeyUpdate {
            name,
            limits,
            subscription_ids: request
                .subscription_ids
                .map(|_| subscriptions.iter().map(|s| s.id).collect()),
            expires_at,
        };
        let audit = AuditEvent::by(actor, "api_key.update", "api_key", id, now)
            .with_before(serde_json::json!({
                "name": key.name, "limits": key.limits, "subscription_ids": key.subscription_ids, "expires_at": key.expires_at,
            }))
            .with_after(audit_after(
                serde_json::json!({
                    "name": update.name, "limits": update.limits, "subscription_ids": update.subscription_ids, "expires_at": update.expires_at,
                }),
                access,
                &key,
                reason,
            ));
        self.keys
            .update_key(id, &update, now, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::Conflict {
                    field: None,
                    message: "the key changed meanwhile; reload it and try again".into(),
                },
                StoreError::Conflict(ConflictKind::KeyNameTaken) => {
                    name_taken(update.name.as_deref().unwrap_or(&key.name))
                }
                other => other.into(),
            })?;
        converge_now(&self.converge, self.keys.as_ref(), id, self.clock.now()).await
    }
}

//! Steps 3–6 of docs/lifecycle.md#creating-a-key-step-by-step, shared by creating and rotating a key: record
//! the key as `provisioning`, create it in LiteLLM (checking an uncertain outcome by hash, never creating
//! twice), then finish — mark it `active`, or complete the rotation — and hand out the secret once. A certain
//! refusal marks it `failed`; an unknown outcome, or a database failure after LiteLLM created it, leaves it
//! `provisioning` for the reconciler (nobody has its secret).

use crate::access::ConvergeUser;
use crate::access::{team_id_of, InferenceRoutes};
use crate::audit::AuditEvent;
use crate::gateway::{Gateway, GenerateKey};
use crate::ids::{ApiKeyId, ModelId};
use crate::keys::ApiKeyStore;
use crate::keys::{gateway_failure, CreatedKey};
use crate::keys::{name_taken, too_many_keys};
use crate::keys::{ApiKey, NewApiKey};
use crate::limits::Money;
use crate::runtime::Clock;
use crate::secret::KeySecret;
use crate::users::Actor;
use crate::{ConflictKind, Error, GatewayError, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// How a provisioned key is put into service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Finish {
    /// `provisioning → active`.
    Activate,
    /// The new key becomes `active` and the old one `retiring` until `retire_at`, in one transaction.
    Rotation {
        old: ApiKeyId,
        retire_at: DateTime<Utc>,
    },
}

enum Outcome {
    Created,
    NotCreated(GatewayError),
    Unknown(GatewayError),
}

pub(crate) struct Provisioner {
    pub keys: Arc<dyn ApiKeyStore>,
    pub gateway: Arc<dyn Gateway>,
    pub clock: Arc<dyn Clock>,
    /// Brings the owner's pools into LiteLLM first when their subscriptions changed since it last did.
    pub owner_access: Arc<ConvergeUser>,
}

/// What LiteLLM is told about a new key beyond its row.
pub(crate) struct Provisioning {
    /// The models of the key's active subscriptions.
    pub models: Vec<ModelId>,
    /// The routes the key may call.
    pub allowed_routes: InferenceRoutes,
    /// The cap on the owner's live keys (`None` for a rotation, which replaces a key).
    pub max_live_keys: Option<u32>,
    /// The spend the key starts with (a rotated key carries its predecessor's).
    pub spend: Option<Money>,
}

impl Provisioner {
    pub(crate) async fn provision(
        &self,
        actor: &Actor,
        new_key: NewApiKey,
        secret: KeySecret,
        plan: Provisioning,
        audit: AuditEvent,
        finish: Finish,
    ) -> Result<CreatedKey, Error> {
        let id = new_key.id;
        let name = new_key.name.clone();
        let hash = new_key.hash.clone();
        let now = new_key.created_at;

        // Step 3: record the key before LiteLLM knows it, so that it can never exist unseen. The cap on
        // live keys is checked under a lock on the owner, so that concurrent creates cannot pass it.
        let inserted = self
            .keys
            .insert_provisioning_key(&new_key, plan.max_live_keys, &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(ConflictKind::KeyNameTaken) => name_taken(&new_key.name),
                StoreError::Conflict(ConflictKind::LiveKeyCapReached) => {
                    too_many_keys(plan.max_live_keys.unwrap_or_default())
                }
                other => other.into(),
            })?;

        // The key's models must draw on their pools from its first request: when the owner's
        // subscriptions changed since LiteLLM last got them, LiteLLM gets them now, before the key exists.
        if inserted.owner_access_pending {
            if let Err(error) = self.owner_access.execute(new_key.user_id).await {
                tracing::warn!(key = %id, %error, "the owner's pools are not in LiteLLM yet; no key was created");
                let audit = AuditEvent::by(actor, "api_key.fail", "api_key", id, self.clock.now())
                    .with_after(serde_json::json!({"reason": "the owner's quotas could not be set up in LiteLLM"}));
                if let Err(e) = self
                    .keys
                    .fail_key(
                        id,
                        "the owner's quotas could not be set up in LiteLLM",
                        self.clock.now(),
                        &audit,
                    )
                    .await
                {
                    tracing::error!(key = %id, error = %e, "could not mark a key failed; the reconciler will");
                }
                return Err(match error {
                    Error::GatewayUnavailable { .. } => Error::GatewayUnavailable {
                        detail: "LiteLLM is unavailable: your subscriptions' quotas could not be set up, so no key was issued. Try again in a moment.".into(),
                    },
                    other => other,
                });
            }
        }
        let models = plan.models;
        let granted = models.clone();

        // Step 4: create it in LiteLLM; an uncertain answer is checked, never retried blindly.
        let request = GenerateKey {
            secret: secret.clone(),
            alias: new_key.litellm_alias.clone(),
            user_id: new_key.user_id,
            models,
            limits: new_key.limits.clone(),
            expires_in_seconds: new_key.expires_at.map(|at| (at - now).num_seconds().max(1)),
            metadata: serde_json::json!({
                "managed_by": "keyport",
                "keyport_key_id": id,
                "keyport_user_id": new_key.user_id,
                "keyport_subscription_ids": new_key.subscription_ids,
            }),
            team_id: team_id_of(new_key.user_id),
            allowed_routes: plan.allowed_routes.as_slice().to_vec(),
            spend: plan.spend,
        };
        let outcome = match self.gateway.generate_key(&request).await {
            Ok(_) => Outcome::Created,
            Err(error) if error.is_uncertain() => match self.gateway.key_info(&hash).await {
                Ok(Some(_)) => Outcome::Created,
                Ok(None) => Outcome::NotCreated(error),
                Err(_) => Outcome::Unknown(error),
            },
            Err(error) => Outcome::NotCreated(error),
        };

        match outcome {
            // Step 5.
            Outcome::Created => match self.finish(actor, id, finish, &granted).await {
                Ok(key) => Ok(CreatedKey { key, secret }),
                Err(store_error) => {
                    // Step 6: nobody will ever see this secret, so the key must not stay usable. Try to
                    // remove it now; whatever happens, the row stays `provisioning` for the reconciler.
                    tracing::error!(key = %id, error = %store_error, "recording an active key failed after LiteLLM created it");
                    if let Err(e) = self.gateway.delete_key(&hash).await {
                        tracing::warn!(key = %id, error = %e, "could not delete the unrecorded key in LiteLLM; the reconciler will");
                    }
                    Err(match store_error {
                        StoreError::Conflict(ConflictKind::KeyNameTaken) => name_taken(&name),
                        StoreError::NotFound => Error::Conflict {
                            field: None,
                            message: "the key, or the key it replaces, changed meanwhile; nothing was issued"
                                .into(),
                        },
                        other => other.into(),
                    })
                }
            },
            // Step 6, certain failure.
            Outcome::NotCreated(error) => {
                let reason = error.to_string();
                let audit = AuditEvent::by(actor, "api_key.fail", "api_key", id, self.clock.now())
                    .with_after(serde_json::json!({"reason": reason}));
                if let Err(e) = self
                    .keys
                    .fail_key(id, &reason, self.clock.now(), &audit)
                    .await
                {
                    tracing::error!(key = %id, error = %e, "could not mark a key failed; the reconciler will");
                }
                Err(gateway_failure(error))
            }
            // Step 6, unknown outcome: leave it provisioning.
            Outcome::Unknown(error) => {
                tracing::warn!(key = %id, error = %error, "LiteLLM outcome unknown; key left provisioning for the reconciler");
                Err(Error::GatewayUnavailable {
                    detail: "LiteLLM did not answer; no key was issued, and anything LiteLLM may have created will be removed automatically. Try again in a moment.".into(),
                })
            }
        }
    }

    async fn finish(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        finish: Finish,
        granted: &[ModelId],
    ) -> Result<ApiKey, StoreError> {
        let now = self.clock.now();
        match finish {
            Finish::Activate => {
                let audit = AuditEvent::by(actor, "api_key.activate", "api_key", id, now);
                self.keys.activate_key(id, now, granted, &audit).await
            }
            Finish::Rotation { old, retire_at } => {
                let audit = AuditEvent::by(actor, "api_key.rotate", "api_key", old, now)
                    .with_after(serde_json::json!({"replaced_by": id, "retire_at": retire_at}));
                self.keys
                    .complete_rotation(id, old, retire_at, now, &audit)
                    .await
            }
        }
    }
}

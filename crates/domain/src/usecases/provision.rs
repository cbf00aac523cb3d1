//! Steps 3–6 of DESIGN.md §4, shared by creating and rotating a key: record the key as `provisioning`,
//! create it in LiteLLM (checking an uncertain outcome by hash, never creating twice), then finish — mark
//! it `active`, or complete the rotation — and hand out the secret once. A certain refusal marks it
//! `failed`; an unknown outcome, or a database failure after LiteLLM created it, leaves it `provisioning`
//! for the reconciler (nobody has its secret).

use crate::api_key::{ApiKey, NewApiKey};
use crate::audit::AuditEvent;
use crate::ids::{ApiKeyId, ModelId};
use crate::ports::{ApiKeyStore, Clock, Gateway, GenerateKey};
use crate::secret::KeySecret;
use crate::usecases::create_key::{gateway_failure, CreatedKey};
use crate::usecases::key_rules::name_taken;
use crate::user::Actor;
use crate::{Error, GatewayError, StoreError};
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
}

impl Provisioner {
    pub(crate) async fn provision(
        &self,
        actor: &Actor,
        new_key: NewApiKey,
        secret: KeySecret,
        models: Vec<ModelId>,
        audit: AuditEvent,
        finish: Finish,
    ) -> Result<CreatedKey, Error> {
        let id = new_key.id;
        let name = new_key.name.clone();
        let hash = new_key.hash.clone();
        let now = new_key.created_at;

        // Step 3: record the key before LiteLLM knows it, so that it can never exist unseen.
        self.keys
            .insert_provisioning_key(&new_key, &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { constraint } if constraint == "api_keys_live_name" => {
                    name_taken(&new_key.name)
                }
                other => other.into(),
            })?;

        // Step 4: create it in LiteLLM; an uncertain answer is checked, never retried blindly.
        let request = GenerateKey {
            secret: secret.clone(),
            alias: new_key.litellm_alias.clone(),
            user_id: actor.user_id,
            models,
            limits: new_key.limits.clone(),
            expires_in_seconds: new_key.expires_at.map(|at| (at - now).num_seconds().max(1)),
            metadata: serde_json::json!({
                "managed_by": "keyport",
                "keyport_key_id": id,
                "keyport_user_id": actor.user_id,
                "keyport_subscription_ids": new_key.subscription_ids,
            }),
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
            Outcome::Created => match self.finish(actor, id, finish).await {
                Ok(key) => Ok(CreatedKey { key, secret }),
                Err(store_error) => {
                    // Step 6: nobody will ever see this secret, so the key must not stay usable. Try to
                    // remove it now; whatever happens, the row stays `provisioning` for the reconciler.
                    tracing::error!(key = %id, error = %store_error, "recording an active key failed after LiteLLM created it");
                    if let Err(e) = self.gateway.delete_key(&hash).await {
                        tracing::warn!(key = %id, error = %e, "could not delete the unrecorded key in LiteLLM; the reconciler will");
                    }
                    Err(match store_error {
                        StoreError::Conflict { constraint }
                            if constraint == "api_keys_live_name" =>
                        {
                            name_taken(&name)
                        }
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
    ) -> Result<ApiKey, StoreError> {
        let now = self.clock.now();
        match finish {
            Finish::Activate => {
                let audit = AuditEvent::by(actor, "api_key.activate", "api_key", id, now);
                self.keys.activate_key(id, now, &audit).await
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

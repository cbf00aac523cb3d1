//! What several key use cases share: finding the caller's (or, for administrators, anybody's) key,
//! converging a key right away, and the key a creation or rotation answers with its secret.

use crate::ids::ApiKeyId;
use crate::keys::{ApiKey, ApiKeyStore, ConvergeKey};
use crate::secret::KeySecret;
use crate::users::Actor;
use crate::{Error, GatewayError};
use chrono::{DateTime, Utc};

/// On whose behalf a key use case acts: the member routes act for the owner only, the `/admin` routes for
/// an administrator acting on anybody's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    /// The caller's own key. Anyone else's is "not found", as if it did not exist, for administrators
    /// too: they act on other people's keys through the `/admin` routes.
    Owner,
    /// Any user's key, by an administrator on its owner's behalf (auditors and members are refused). The
    /// key stays its owner's: its LiteLLM user and team, its quotas and its name space are the owner's.
    Administrator,
}

/// Loads a key the actor owns; anybody else's (also for an administrator) is "not found".
pub(crate) async fn owned_key(
    keys: &dyn ApiKeyStore,
    actor: &Actor,
    id: ApiKeyId,
) -> Result<ApiKey, Error> {
    key_for(
        keys,
        actor,
        id,
        KeyAccess::Owner,
        "act on other people's keys",
    )
    .await
}

/// Loads the key the actor may act on under `access`: their own, or, for an administrator acting through
/// the `/admin` routes, anybody's (`what` names the action in the refusal of a non-administrator).
pub(crate) async fn key_for(
    keys: &dyn ApiKeyStore,
    actor: &Actor,
    id: ApiKeyId,
    access: KeyAccess,
    what: &str,
) -> Result<ApiKey, Error> {
    if access == KeyAccess::Administrator {
        actor.require_admin(what)?;
    }
    keys.get_key(id)
        .await?
        .filter(|k| access == KeyAccess::Administrator || k.user_id == actor.user_id)
        .ok_or(Error::NotFound { entity: "api key" })
}

/// The `after` of an audit event about a key, naming, when an administrator acts on the owner's behalf,
/// the owner (the event's subject; the administrator is its actor) and the administrator's reason.
pub(crate) fn audit_after(
    mut after: serde_json::Value,
    access: KeyAccess,
    key: &ApiKey,
    reason: Option<&str>,
) -> serde_json::Value {
    if access == KeyAccess::Administrator {
        if let Some(fields) = after.as_object_mut() {
            fields.insert("owner".into(), serde_json::json!(key.user_id));
            if let Some(reason) = reason {
                fields.insert("reason".into(), serde_json::json!(reason));
            }
        }
    }
    after
}

/// Runs the key's convergence at once, so that the caller sees LiteLLM updated; when that fails the queued
/// job retries it, and the key is answered with its pending state and the error.
pub(crate) async fn converge_now(
    converge: &ConvergeKey,
    keys: &dyn ApiKeyStore,
    id: ApiKeyId,
    now: DateTime<Utc>,
) -> Result<ApiKey, Error> {
    if let Err(error) = converge.execute(id).await {
        tracing::warn!(key = %id, %error, "LiteLLM not updated yet; the job will retry");
        if let Err(e) = keys
            .record_key_sync_error(id, &error.to_string(), now)
            .await
        {
            tracing::warn!(key = %id, error = %e, "could not record the sync error");
        }
    }
    keys.get_key(id)
        .await?
        .ok_or(Error::NotFound { entity: "api key" })
}

/// The new key and its secret: the only time the secret exists outside the caller's hands.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: KeySecret,
}

/// How a certain LiteLLM failure is told to the caller.
pub(crate) fn gateway_failure(error: GatewayError) -> Error {
    match error {
        GatewayError::Unavailable(_) => Error::GatewayUnavailable {
            detail: "LiteLLM is unavailable; nothing was changed. Try again in a moment.".into(),
        },
        GatewayError::Unauthorized => Error::GatewayRejected(
            "LiteLLM refused keyport's credentials; an administrator must check the LiteLLM master key".into(),
        ),
        GatewayError::Invalid { message, .. } | GatewayError::Conflict { message, .. } => {
            Error::GatewayRejected(message)
        }
        GatewayError::NotFound => Error::GatewayRejected("LiteLLM did not find what it was asked to change".into()),
        GatewayError::Unexpected(message) => Error::GatewayRejected(format!("LiteLLM answered unexpectedly: {message}")),
    }
}

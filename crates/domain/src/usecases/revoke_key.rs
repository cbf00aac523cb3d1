use crate::api_key::{ApiKey, ApiKeyStatus, SyncState};
use crate::audit::AuditEvent;
use crate::ids::ApiKeyId;
use crate::ports::{ApiKeyStore, Clock, Gateway};
use crate::usecases::get_key::owned_key;
use crate::user::Actor;
use crate::{Error, GatewayError, StoreError};
use std::sync::Arc;

/// Revoke a key: the row becomes `revoked` first (so keyport never again treats it as live), then LiteLLM
/// deletes it. If LiteLLM cannot be reached the revocation stays pending (`sync_state = pending`, shown as
/// "revocation pending") and is completed later; revoking again retries it. Revoking a revoked key whose
/// deletion is done changes nothing.
pub struct RevokeKey {
    keys: Arc<dyn ApiKeyStore>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
}

impl RevokeKey {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            gateway,
            clock,
        }
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %id))]
    pub async fn execute(&self, actor: &Actor, id: ApiKeyId) -> Result<ApiKey, Error> {
        let key = owned_key(self.keys.as_ref(), actor, id).await?;
        let mut key = match key.status {
            ApiKeyStatus::Revoked if key.sync_state == SyncState::Synced => return Ok(key),
            ApiKeyStatus::Revoked => key,
            ApiKeyStatus::Active | ApiKeyStatus::Retiring => {
                let now = self.clock.now();
                let audit = AuditEvent::by(actor, "api_key.revoke", "api_key", id, now)
                    .with_before(serde_json::json!({"status": key.status.as_str()}))
                    .with_after(serde_json::json!({"status": "revoked"}));
                self.keys
                    .revoke_key(id, now, &audit)
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound => Error::Conflict {
                            field: None,
                            message: "the key changed meanwhile; reload it and try again".into(),
                        },
                        other => other.into(),
                    })?
            }
            other => {
                return Err(Error::Conflict {
                    field: None,
                    message: format!("a key that is {} cannot be revoked", other.as_str()),
                })
            }
        };

        match self.gateway.delete_key(&key.hash).await {
            Ok(()) | Err(GatewayError::NotFound) => {
                let now = self.clock.now();
                match self.keys.mark_key_synced(id, now).await {
                    Ok(()) => {
                        key.sync_state = SyncState::Synced;
                        key.synced_at = Some(now);
                        key.last_sync_error = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "key deleted in LiteLLM but not marked synced")
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "revocation pending: LiteLLM did not delete the key");
                let message = error.to_string();
                if let Err(e) = self
                    .keys
                    .record_key_sync_error(id, &message, self.clock.now())
                    .await
                {
                    tracing::warn!(error = %e, "could not record the pending revocation's error");
                }
                key.last_sync_error = Some(message);
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockApiKeyStore, MockGateway};
    use crate::usecases::fixtures::*;

    fn revoked(mut key: ApiKey) -> ApiKey {
        key.status = ApiKeyStatus::Revoked;
        key.sync_state = SyncState::Pending;
        key.revoked_at = Some(now());
        key
    }

    #[tokio::test]
    async fn revoking_marks_the_key_revoked_then_deletes_it_in_litellm() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (id, hash) = (key.id, key.hash.clone());
        let mut keys = MockApiKeyStore::new();
        let k = key.clone();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(k.clone())));
        let k = key.clone();
        keys.expect_revoke_key()
            .times(1)
            .withf(move |i, _, a| *i == id && a.action == "api_key.revoke")
            .returning(move |_, _, _| Ok(revoked(k.clone())));
        keys.expect_mark_key_synced()
            .times(1)
            .withf(move |i, _| *i == id)
            .returning(|_, _| Ok(()));
        let mut gateway = MockGateway::new();
        gateway
            .expect_delete_key()
            .times(1)
            .withf(move |h| *h == hash)
            .returning(|_| Ok(()));
        let out = RevokeKey::new(Arc::new(keys), Arc::new(gateway), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap();
        assert_eq!(out.status, ApiKeyStatus::Revoked);
        assert_eq!(out.sync_state, SyncState::Synced);
    }

    #[tokio::test]
    async fn when_litellm_is_down_the_revocation_stays_pending_with_the_error() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let id = key.id;
        let mut keys = MockApiKeyStore::new();
        let k = key.clone();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(k.clone())));
        let k = key.clone();
        keys.expect_revoke_key()
            .times(1)
            .returning(move |_, _, _| Ok(revoked(k.clone())));
        keys.expect_mark_key_synced().never();
        keys.expect_record_key_sync_error()
            .times(1)
            .withf(|_, e, _| e.contains("unavailable"))
            .returning(|_, _, _| Ok(()));
        let mut gateway = MockGateway::new();
        gateway
            .expect_delete_key()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("connection refused".into())));
        let out = RevokeKey::new(Arc::new(keys), Arc::new(gateway), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap();
        assert_eq!(out.status, ApiKeyStatus::Revoked);
        assert_eq!(out.sync_state, SyncState::Pending);
        assert!(out.last_sync_error.is_some());
    }

    #[tokio::test]
    async fn revoking_again_retries_a_pending_deletion_and_a_key_already_gone_counts_as_deleted() {
        let key = revoked(api_key(alice().user_id, ApiKeyStatus::Active));
        let id = key.id;
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(key.clone())));
        keys.expect_revoke_key().never();
        keys.expect_mark_key_synced()
            .times(1)
            .returning(|_, _| Ok(()));
        let mut gateway = MockGateway::new();
        gateway
            .expect_delete_key()
            .times(1)
            .returning(|_| Err(GatewayError::NotFound));
        let out = RevokeKey::new(Arc::new(keys), Arc::new(gateway), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap();
        assert_eq!(out.sync_state, SyncState::Synced);
    }

    #[tokio::test]
    async fn someone_elses_key_cannot_be_revoked_and_litellm_is_not_called() {
        let key = api_key(bob().user_id, ApiKeyStatus::Active);
        let id = key.id;
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(key.clone())));
        keys.expect_revoke_key().never();
        let mut gateway = MockGateway::new();
        gateway.expect_delete_key().never();
        let err = RevokeKey::new(Arc::new(keys), Arc::new(gateway), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap_err();
        assert_eq!(err, Error::NotFound { entity: "api key" });
    }

    #[tokio::test]
    async fn a_failed_key_cannot_be_revoked() {
        let key = api_key(alice().user_id, ApiKeyStatus::Failed);
        let id = key.id;
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(key.clone())));
        keys.expect_revoke_key().never();
        let mut gateway = MockGateway::new();
        gateway.expect_delete_key().never();
        let err = RevokeKey::new(Arc::new(keys), Arc::new(gateway), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }
}

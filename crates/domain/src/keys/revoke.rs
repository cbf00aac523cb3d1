use crate::audit::AuditEvent;
use crate::ids::ApiKeyId;
use crate::keys::converge_now;
use crate::keys::ApiKeyStore;
use crate::keys::ConvergeKey;
use crate::keys::{audit_after, key_for, KeyAccess};
use crate::keys::{ApiKey, ApiKeyStatus, SyncState};
use crate::runtime::Clock;
use crate::users::Actor;
use crate::{Error, StoreError};
use std::sync::Arc;

/// Revoke a key: the row becomes `revoked` and a job to delete it in LiteLLM is queued, in one transaction;
/// then LiteLLM is asked at once. If LiteLLM cannot be reached the job retries until it is done, and the key
/// shows `revocation pending` meanwhile. Revoking a revoked key retries a pending deletion, and changes
/// nothing otherwise. A `lost` key (gone from LiteLLM already) can be revoked to put it away.
pub struct RevokeKey {
    keys: Arc<dyn ApiKeyStore>,
    converge: Arc<ConvergeKey>,
    clock: Arc<dyn Clock>,
}

impl RevokeKey {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        converge: Arc<ConvergeKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            converge,
            clock,
        }
    }

    /// The owner revokes one of their keys (anybody else's is "not found", for administrators too).
    pub async fn execute(&self, actor: &Actor, id: ApiKeyId) -> Result<ApiKey, Error> {
        self.revoke(actor, id, KeyAccess::Owner, None).await
    }

    /// An administrator revokes anybody's key on its owner's behalf, exactly as the owner would; the audit
    /// event names the administrator as its actor, the owner and the reason (auditors are refused).
    pub async fn on_behalf_of_owner(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        reason: Option<&str>,
    ) -> Result<ApiKey, Error> {
        self.revoke(actor, id, KeyAccess::Administrator, reason)
            .await
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %id, access = ?access))]
    async fn revoke(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        access: KeyAccess,
        reason: Option<&str>,
    ) -> Result<ApiKey, Error> {
        let key = key_for(
            self.keys.as_ref(),
            actor,
            id,
            access,
            "revoke other people's keys",
        )
        .await?;
        let now = self.clock.now();
        match key.status {
            ApiKeyStatus::Revoked if key.sync_state == SyncState::Synced => return Ok(key),
            ApiKeyStatus::Revoked => {}
            ApiKeyStatus::Active | ApiKeyStatus::Retiring | ApiKeyStatus::Lost => {
                let audit = AuditEvent::by(actor, "api_key.revoke", "api_key", id, now)
                    .with_before(serde_json::json!({"status": key.status.as_str()}))
                    .with_after(audit_after(
                        serde_json::json!({"status": "revoked"}),
                        access,
                        &key,
                        reason,
                    ));
                let revoked = if key.status == ApiKeyStatus::Lost {
                    self.keys
                        .change_key_status(
                            id,
                            &[ApiKeyStatus::Lost],
                            ApiKeyStatus::Revoked,
                            now,
                            &audit,
                        )
                        .await
                } else {
                    self.keys.revoke_key(id, now, &audit).await
                };
                revoked.map_err(|e| match e {
                    StoreError::NotFound => Error::Conflict {
                        field: None,
                        message: "the key changed meanwhile; reload it and try again".into(),
                    },
                    other => other.into(),
                })?;
            }
            other => {
                return Err(Error::Conflict {
                    field: None,
                    message: format!("a key that is {} cannot be revoked", other.as_str()),
                })
            }
        }
        converge_now(&self.converge, self.keys.as_ref(), id, self.clock.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::MockAccessStore;
    use crate::fixtures::*;
    use crate::gateway::MockGateway;
    use crate::keys::MockApiKeyStore;
    use crate::GatewayError;
    use std::sync::Mutex;

    /// A key store holding one key, that revokes and marks it synced as the real one does.
    fn store(key: ApiKey) -> (MockApiKeyStore, Arc<Mutex<ApiKey>>) {
        let state = Arc::new(Mutex::new(key));
        let mut keys = MockApiKeyStore::new();
        let s = state.clone();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(s.lock().unwrap().clone())));
        let s = state.clone();
        keys.expect_revoke_key().returning(move |_, at, audit| {
            assert_eq!(audit.action, "api_key.revoke");
            let mut k = s.lock().unwrap();
            k.status = ApiKeyStatus::Revoked;
            k.sync_state = SyncState::Pending;
            k.revoked_at = Some(at);
            Ok(k.clone())
        });
        let s = state.clone();
        keys.expect_mark_key_synced().returning(move |_, _| {
            s.lock().unwrap().sync_state = SyncState::Synced;
            Ok(())
        });
        let s = state.clone();
        keys.expect_record_key_sync_error()
            .returning(move |_, e, _| {
                s.lock().unwrap().last_sync_error = Some(e.to_owned());
                Ok(())
            });
        (keys, state)
    }

    fn revoke(keys: MockApiKeyStore, gateway: MockGateway) -> RevokeKey {
        let keys: Arc<dyn ApiKeyStore> = Arc::new(keys);
        let converge = ConvergeKey::new(
            keys.clone(),
            Arc::new(MockAccessStore::new()),
            converge_user_offline(),
            Arc::new(gateway),
            fixed_clock(),
            settings_source(),
        );
        RevokeKey::new(keys, Arc::new(converge), fixed_clock())
    }

    /// Alice revokes key `id` as its owner.
    async fn alice_revokes(
        keys: MockApiKeyStore,
        gateway: MockGateway,
        id: ApiKeyId,
    ) -> Result<ApiKey, Error> {
        revoke(keys, gateway).execute(&alice(), id).await
    }

    /// A LiteLLM asked exactly once to delete a key, answering `answer`.
    fn litellm_deleting_once(answer: Result<(), GatewayError>) -> MockGateway {
        let mut gateway = MockGateway::new();
        gateway
            .expect_delete_key()
            .times(1)
            .returning(move |_| answer.clone());
        gateway
    }

    fn litellm_never_deleting() -> MockGateway {
        let mut gateway = MockGateway::new();
        gateway.expect_delete_key().never();
        gateway
    }

    #[tokio::test]
    async fn revoking_marks_the_key_revoked_then_deletes_it_in_litellm() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (id, hash) = (key.id, key.hash.clone());
        let (keys, state) = store(key);
        let mut gateway = MockGateway::new();
        gateway
            .expect_delete_key()
            .times(1)
            .withf(move |h| *h == hash)
            .returning(|_| Ok(()));
        let out = alice_revokes(keys, gateway, id).await.unwrap();
        assert_eq!(
            (out.status, out.sync_state),
            (ApiKeyStatus::Revoked, SyncState::Synced)
        );
        assert_eq!(state.lock().unwrap().status, ApiKeyStatus::Revoked);
    }

    #[tokio::test]
    async fn when_litellm_is_down_the_revocation_stays_pending_with_the_error() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let id = key.id;
        let (keys, _) = store(key);
        let gateway =
            litellm_deleting_once(Err(GatewayError::Unavailable("connection refused".into())));
        let out = alice_revokes(keys, gateway, id).await.unwrap();
        assert_eq!(
            (out.status, out.sync_state),
            (ApiKeyStatus::Revoked, SyncState::Pending)
        );
        assert!(out.last_sync_error.unwrap().contains("connection refused"));
    }

    #[tokio::test]
    async fn revoking_again_retries_a_pending_deletion_and_a_key_already_gone_counts_as_deleted() {
        let mut key = api_key(alice().user_id, ApiKeyStatus::Revoked);
        key.sync_state = SyncState::Pending;
        key.revoked_at = Some(now());
        let id = key.id;
        let (mut keys, _) = store(key);
        keys.checkpoint();
        let (mut keys2, _) = {
            let mut k = api_key(alice().user_id, ApiKeyStatus::Revoked);
            k.id = id;
            k.sync_state = SyncState::Pending;
            store(k)
        };
        std::mem::swap(&mut keys, &mut keys2);
        let gateway = litellm_deleting_once(Err(GatewayError::NotFound));
        let out = alice_revokes(keys, gateway, id).await.unwrap();
        assert_eq!(out.sync_state, SyncState::Synced);
    }

    #[tokio::test]
    async fn someone_elses_key_cannot_be_revoked_and_litellm_is_not_called() {
        let key = api_key(bob().user_id, ApiKeyStatus::Active);
        let id = key.id;
        let (keys, state) = store(key);
        let gateway = litellm_never_deleting();
        let err = alice_revokes(keys, gateway, id).await.unwrap_err();
        assert_eq!(err, Error::NotFound { entity: "api key" });
        assert_eq!(state.lock().unwrap().status, ApiKeyStatus::Active);
    }

    #[tokio::test]
    async fn an_administrator_revokes_someone_elses_key_only_on_the_owners_behalf() {
        let key = api_key(bob().user_id, ApiKeyStatus::Active);
        let id = key.id;
        let (keys, state) = store(key);
        let gateway = litellm_deleting_once(Ok(()));
        let uc = revoke(keys, gateway);
        let mut admin = alice();
        admin.roles.push(crate::users::Role::Admin);
        assert_eq!(
            uc.execute(&admin, id).await.unwrap_err(),
            Error::NotFound { entity: "api key" },
            "the member route acts for the owner only"
        );
        assert_eq!(state.lock().unwrap().status, ApiKeyStatus::Active);
        assert!(matches!(
            uc.on_behalf_of_owner(&alice(), id, None).await.unwrap_err(),
            Error::Forbidden(_)
        ));
        let out = uc
            .on_behalf_of_owner(&admin, id, Some("offboarding"))
            .await
            .unwrap();
        assert_eq!(out.status, ApiKeyStatus::Revoked);
        assert_eq!(out.user_id, bob().user_id, "still the owner's key");
    }

    #[tokio::test]
    async fn a_failed_key_cannot_be_revoked() {
        let key = api_key(alice().user_id, ApiKeyStatus::Failed);
        let id = key.id;
        let (keys, _) = store(key);
        let gateway = litellm_never_deleting();
        let err = alice_revokes(keys, gateway, id).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }
}

use crate::admin::{page_size, paginate, AdminKeyStore, KeyQuery, OwnedKey, Page};
use crate::api_key::{ApiKey, ApiKeyStatus};
use crate::ids::{ApiKeyId, UserId};
use crate::usecases::admin_users::{decode_id_cursor, parse_opt, require_admin, require_oversight};
use crate::usecases::RevokeKey;
use crate::user::Actor;
use crate::Error;
use std::sync::Arc;

/// Filters for everybody's keys.
#[derive(Debug, Clone, Default)]
pub struct ListAllKeysRequest {
    pub user_id: Option<UserId>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Everybody's keys, newest first, with their owner's username. Administrators and auditors only.
pub struct ListAllKeys {
    keys: Arc<dyn AdminKeyStore>,
}

impl ListAllKeys {
    pub fn new(keys: Arc<dyn AdminKeyStore>) -> Self {
        Self { keys }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        request: ListAllKeysRequest,
    ) -> Result<Page<OwnedKey>, Error> {
        require_oversight(actor, "everybody's keys")?;
        let mut errors = Vec::new();
        let status = parse_opt(
            request.status,
            "status",
            ApiKeyStatus::parse,
            "provisioning, active, retiring, revoked, expired, failed, lost",
            &mut errors,
        );
        let after = decode_id_cursor(request.cursor, &mut errors).map(ApiKeyId);
        let limit = page_size(request.limit)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let keys = self
            .keys
            .list_all_keys(&KeyQuery {
                user_id: request.user_id,
                status,
                after,
                limit: limit + 1,
            })
            .await?;
        Ok(paginate(keys, limit, |k| k.key.id.to_string()))
    }
}

/// An administrator revokes anybody's key, exactly as its owner would ([`RevokeKey`]: the row and a job
/// through the outbox in one transaction, then LiteLLM at once); the audit event names the administrator.
/// Administrators only (auditors read, never change).
pub struct AdminRevokeKey {
    revoke: Arc<RevokeKey>,
}

impl AdminRevokeKey {
    pub fn new(revoke: Arc<RevokeKey>) -> Self {
        Self { revoke }
    }

    pub async fn execute(&self, actor: &Actor, id: ApiKeyId) -> Result<ApiKey, Error> {
        require_admin(actor, "revoke other people's keys")?;
        self.revoke.execute(actor, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::MockAdminKeyStore;
    use crate::api_key::SyncState;
    use crate::ports::{ApiKeyStore, MockAccessStore, MockApiKeyStore, MockGateway};
    use crate::usecases::fixtures::*;
    use crate::usecases::ConvergeKey;
    use crate::user::Role;
    use std::sync::Mutex;

    fn admin() -> Actor {
        let mut actor = alice();
        actor.roles.push(Role::Admin);
        actor
    }

    fn auditor() -> Actor {
        let mut actor = alice();
        actor.roles.push(Role::Auditor);
        actor
    }

    #[tokio::test]
    async fn keys_are_filtered_and_paged_by_id() {
        let bob_id = bob().user_id;
        let mut keys = MockAdminKeyStore::new();
        keys.expect_list_all_keys()
            .times(1)
            .withf(move |q| {
                q.user_id == Some(bob_id)
                    && q.status == Some(ApiKeyStatus::Active)
                    && q.limit == 2
                    && q.after.is_none()
            })
            .returning(|_| {
                Ok((0..2)
                    .map(|_| OwnedKey {
                        key: api_key(bob().user_id, ApiKeyStatus::Active),
                        owner: "bob".into(),
                    })
                    .collect())
            });
        let page = ListAllKeys::new(Arc::new(keys))
            .execute(
                &auditor(),
                ListAllKeysRequest {
                    user_id: Some(bob_id),
                    status: Some("active".into()),
                    cursor: None,
                    limit: Some(1),
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            page.next_cursor,
            Some(page.items[0].key.id.to_string()),
            "the cursor is the last id on the page"
        );
    }

    #[tokio::test]
    async fn a_bad_status_or_cursor_is_named_and_users_cannot_list() {
        let mut keys = MockAdminKeyStore::new();
        keys.expect_list_all_keys().never();
        let uc = ListAllKeys::new(Arc::new(keys));
        let err = uc
            .execute(
                &admin(),
                ListAllKeysRequest {
                    status: Some("nope".into()),
                    cursor: Some("nope".into()),
                    ..ListAllKeysRequest::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(e) if e.len() == 2 && e[0].field == "status" && e[1].field == "cursor")
        );
        assert!(matches!(
            uc.execute(&bob(), ListAllKeysRequest::default())
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
    }

    #[tokio::test]
    async fn an_admin_revokes_someone_elses_key_through_the_outbox_and_an_auditor_cannot() {
        let key = api_key(bob().user_id, ApiKeyStatus::Active);
        let id = key.id;
        let state = Arc::new(Mutex::new(key));
        let mut store = MockApiKeyStore::new();
        let s = state.clone();
        store
            .expect_get_key()
            .returning(move |_| Ok(Some(s.lock().unwrap().clone())));
        let s = state.clone();
        store
            .expect_revoke_key()
            .times(1)
            .withf(|_, _, audit| audit.actor == Some(alice().user_id))
            .returning(move |_, at, _| {
                let mut k = s.lock().unwrap();
                k.status = ApiKeyStatus::Revoked;
                k.sync_state = SyncState::Pending;
                k.revoked_at = Some(at);
                Ok(k.clone())
            });
        let s = state.clone();
        store.expect_mark_key_synced().returning(move |_, _| {
            s.lock().unwrap().sync_state = SyncState::Synced;
            Ok(())
        });
        let mut gateway = MockGateway::new();
        gateway.expect_delete_key().times(1).returning(|_| Ok(()));
        let store: Arc<dyn ApiKeyStore> = Arc::new(store);
        let converge = Arc::new(ConvergeKey::new(
            store.clone(),
            Arc::new(MockAccessStore::new()),
            converge_user_offline(),
            Arc::new(gateway),
            fixed_clock(),
            key_policy(),
        ));
        let uc = AdminRevokeKey::new(Arc::new(RevokeKey::new(store, converge, fixed_clock())));
        assert!(matches!(
            uc.execute(&auditor(), id).await.unwrap_err(),
            Error::Forbidden(_)
        ));
        let revoked = uc.execute(&admin(), id).await.unwrap();
        assert_eq!(revoked.status, ApiKeyStatus::Revoked);
    }
}

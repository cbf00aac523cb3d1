use crate::api_key::ApiKey;
use crate::ids::ApiKeyId;
use crate::ports::ApiKeyStore;
use crate::usecases::admin_users::require_admin;
use crate::user::Actor;
use crate::Error;
use std::sync::Arc;

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

/// One of the caller's keys. Someone else's key is "not found", as if it did not exist.
pub struct GetKey {
    keys: Arc<dyn ApiKeyStore>,
}

impl GetKey {
    pub fn new(keys: Arc<dyn ApiKeyStore>) -> Self {
        Self { keys }
    }

    pub async fn execute(&self, actor: &Actor, id: ApiKeyId) -> Result<ApiKey, Error> {
        owned_key(self.keys.as_ref(), actor, id).await
    }
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
        require_admin(actor, what)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_key::ApiKeyStatus;
    use crate::ports::MockApiKeyStore;
    use crate::usecases::fixtures::*;

    #[tokio::test]
    async fn someone_elses_key_is_not_found() {
        let theirs = api_key(bob().user_id, ApiKeyStatus::Active);
        let id = theirs.id;
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(theirs.clone())));
        let uc = GetKey::new(Arc::new(keys));
        assert_eq!(
            uc.execute(&alice(), id).await.unwrap_err(),
            Error::NotFound { entity: "api key" }
        );
        assert_eq!(uc.execute(&bob(), id).await.unwrap().id, id);
    }

    #[tokio::test]
    async fn an_administrator_is_not_the_owner_on_the_member_routes() {
        let theirs = api_key(bob().user_id, ApiKeyStatus::Active);
        let id = theirs.id;
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(theirs.clone())));
        let mut admin = alice();
        admin.roles.push(crate::user::Role::Admin);
        let uc = GetKey::new(Arc::new(keys));
        assert_eq!(
            uc.execute(&admin, id).await.unwrap_err(),
            Error::NotFound { entity: "api key" },
            "an administrator acts on other people's keys through /admin only"
        );
        let any = key_for(uc.keys.as_ref(), &admin, id, KeyAccess::Administrator, "x")
            .await
            .unwrap();
        assert_eq!(any.user_id, bob().user_id);
        let mut auditor = alice();
        auditor.roles.push(crate::user::Role::Auditor);
        assert!(matches!(
            key_for(
                uc.keys.as_ref(),
                &auditor,
                id,
                KeyAccess::Administrator,
                "x"
            )
            .await
            .unwrap_err(),
            Error::Forbidden(_)
        ));
    }
}

use crate::ids::ApiKeyId;
use crate::keys::owned_key;
use crate::keys::ApiKey;
use crate::keys::ApiKeyStore;
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::keys::ApiKeyStatus;
    use crate::keys::MockApiKeyStore;
    use crate::keys::{key_for, KeyAccess};

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
        admin.roles.push(crate::users::Role::Admin);
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
        auditor.roles.push(crate::users::Role::Auditor);
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

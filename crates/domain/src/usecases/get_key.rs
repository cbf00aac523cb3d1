use crate::api_key::ApiKey;
use crate::ids::ApiKeyId;
use crate::ports::ApiKeyStore;
use crate::user::Actor;
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

/// Loads a key the actor owns (admins may load any).
pub(crate) async fn owned_key(
    keys: &dyn ApiKeyStore,
    actor: &Actor,
    id: ApiKeyId,
) -> Result<ApiKey, Error> {
    keys.get_key(id)
        .await?
        .filter(|k| k.user_id == actor.user_id || actor.is_admin())
        .ok_or(Error::NotFound { entity: "api key" })
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
}

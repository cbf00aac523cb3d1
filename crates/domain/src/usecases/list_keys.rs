use crate::api_key::ApiKey;
use crate::ports::ApiKeyStore;
use crate::user::Actor;
use crate::Error;
use std::sync::Arc;

/// The caller's keys, newest first, with their subscriptions, models, status and last known spend. Never a
/// secret: keyport does not have them.
pub struct ListKeys {
    keys: Arc<dyn ApiKeyStore>,
}

impl ListKeys {
    pub fn new(keys: Arc<dyn ApiKeyStore>) -> Self {
        Self { keys }
    }

    pub async fn execute(&self, actor: &Actor) -> Result<Vec<ApiKey>, Error> {
        Ok(self.keys.list_keys(actor.user_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_key::ApiKeyStatus;
    use crate::ports::MockApiKeyStore;
    use crate::usecases::fixtures::*;

    #[tokio::test]
    async fn lists_only_the_callers_keys() {
        let mut keys = MockApiKeyStore::new();
        keys.expect_list_keys()
            .times(1)
            .withf(|user| *user == alice().user_id)
            .returning(|user| Ok(vec![api_key(user, ApiKeyStatus::Active)]));
        let listed = ListKeys::new(Arc::new(keys))
            .execute(&alice())
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].user_id, alice().user_id);
    }
}

use crate::catalog::Model;
use crate::catalog::ModelStore;
use crate::ids::ModelId;
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// The catalog: every model that is not hidden (admins see hidden ones too). Unavailable models stay listed,
/// marked as such, so that users understand their subscriptions to them.
pub struct ListModels {
    models: Arc<dyn ModelStore>,
}

impl ListModels {
    pub fn new(models: Arc<dyn ModelStore>) -> Self {
        Self { models }
    }

    pub async fn execute(&self, actor: &Actor) -> Result<Vec<Model>, Error> {
        let models = self.models.list_models().await?;
        Ok(models
            .into_iter()
            .filter(|m| !m.hidden || actor.can_oversee())
            .collect())
    }
}

/// One model of the catalog (hidden ones only for admins and auditors).
pub struct GetModel {
    models: Arc<dyn ModelStore>,
}

impl GetModel {
    pub fn new(models: Arc<dyn ModelStore>) -> Self {
        Self { models }
    }

    pub async fn execute(&self, actor: &Actor, id: &str) -> Result<Model, Error> {
        let not_found = Error::NotFound { entity: "model" };
        let Ok(id) = ModelId::parse(id) else {
            return Err(not_found);
        };
        self.models
            .get_model(&id)
            .await?
            .filter(|m| !m.hidden || actor.can_oversee())
            .ok_or(not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MockModelStore;
    use crate::fixtures::*;
    use crate::users::Role;

    #[tokio::test]
    async fn hidden_models_are_listed_for_admins_only() {
        let mut store = MockModelStore::new();
        store.expect_list_models().returning(|| {
            let mut hidden = model("internal", false);
            hidden.hidden = true;
            Ok(vec![model("gpt-4o-mini", false), hidden])
        });
        let uc = ListModels::new(Arc::new(store));
        assert_eq!(uc.execute(&alice()).await.unwrap().len(), 1);
        let mut admin = alice();
        admin.roles.push(Role::Admin);
        assert_eq!(uc.execute(&admin).await.unwrap().len(), 2);
    }
}

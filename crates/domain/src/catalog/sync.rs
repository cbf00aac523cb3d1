use crate::catalog::{Availability, CatalogEntry};
use crate::catalog::{CatalogChanges, ModelStore};
use crate::gateway::Gateway;
use crate::ids::ModelId;
use crate::keys::gateway_failure;
use crate::runtime::Clock;
use crate::Error;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a catalog sync found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogSyncReport {
    pub added: Vec<ModelId>,
    pub updated: Vec<ModelId>,
    pub unchanged: usize,
    pub now_unavailable: Vec<ModelId>,
}

/// Bring the models table in line with LiteLLM's public models: new models are added, changed ones
/// refreshed (only the fields LiteLLM owns), vanished ones marked unavailable, never deleted.
pub struct SyncCatalog {
    gateway: Arc<dyn Gateway>,
    models: Arc<dyn ModelStore>,
    clock: Arc<dyn Clock>,
}

impl SyncCatalog {
    pub fn new(
        gateway: Arc<dyn Gateway>,
        models: Arc<dyn ModelStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            gateway,
            models,
            clock,
        }
    }

    pub async fn execute(&self) -> Result<CatalogSyncReport, Error> {
        let upstream = self
            .gateway
            .model_catalog()
            .await
            .map_err(gateway_failure)?;
        let known = self.models.list_models().await?;
        let mut report = CatalogSyncReport::default();
        let upstream_ids: BTreeSet<&ModelId> = upstream.iter().map(|e| &e.id).collect();
        let mut upserts: Vec<CatalogEntry> = Vec::new();
        for entry in &upstream {
            match known.iter().find(|m| m.id == entry.id) {
                None => {
                    report.added.push(entry.id.clone());
                    upserts.push(entry.clone());
                }
                Some(model) => {
                    let same = model.availability == Availability::Available
                        && model.provider == entry.provider
                        && model.capabilities == entry.capabilities
                        && model.context_window == entry.context_window
                        && model.input_price_per_token == entry.input_price_per_token
                        && model.output_price_per_token == entry.output_price_per_token;
                    if same {
                        report.unchanged += 1;
                    } else {
                        report.updated.push(entry.id.clone());
                    }
                    // Refreshed either way, so that `last_synced_at` says when LiteLLM last listed it.
                    upserts.push(entry.clone());
                }
            }
        }
        let vanished: Vec<ModelId> = known
            .iter()
            .filter(|m| m.availability == Availability::Available && !upstream_ids.contains(&m.id))
            .map(|m| m.id.clone())
            .collect();
        report.now_unavailable = vanished.clone();
        self.models
            .apply_catalog(&CatalogChanges {
                upserts,
                vanished,
                synced_at: self.clock.now(),
            })
            .await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MockModelStore;
    use crate::fixtures::*;
    use crate::gateway::MockGateway;
    use crate::GatewayError;

    fn entry(id: &str) -> CatalogEntry {
        let m = model(id, false);
        CatalogEntry {
            id: m.id,
            provider: m.provider,
            mode: Some("chat".into()),
            capabilities: m.capabilities,
            context_window: m.context_window,
            input_price_per_token: None,
            output_price_per_token: None,
        }
    }

    #[tokio::test]
    async fn new_models_are_added_changed_ones_updated_and_vanished_ones_marked_unavailable() {
        let mut gateway = MockGateway::new();
        gateway.expect_model_catalog().returning(|| {
            let mut changed = entry("claude");
            changed.context_window = Some(1);
            Ok(vec![
                entry("gpt-4o-mini"),
                changed,
                entry("meta-llama/Llama-3.1-8B-Instruct"),
            ])
        });
        let mut store = MockModelStore::new();
        store.expect_list_models().returning(|| {
            Ok(vec![
                model("gpt-4o-mini", false),
                model("claude", false),
                model("old", true),
            ])
        });
        store
            .expect_apply_catalog()
            .times(1)
            .withf(|c| {
                c.upserts.len() == 3
                    && c.vanished == vec![ModelId::parse("old").unwrap()]
                    && c.synced_at == now()
            })
            .returning(|_| Ok(()));
        let report = SyncCatalog::new(Arc::new(gateway), Arc::new(store), fixed_clock())
            .execute()
            .await
            .unwrap();
        assert_eq!(
            report.added,
            vec![ModelId::parse("meta-llama/Llama-3.1-8B-Instruct").unwrap()]
        );
        assert_eq!(report.updated, vec![ModelId::parse("claude").unwrap()]);
        assert_eq!(report.unchanged, 1);
        assert_eq!(report.now_unavailable, vec![ModelId::parse("old").unwrap()]);
    }

    #[tokio::test]
    async fn when_litellm_is_down_nothing_is_marked_unavailable() {
        let mut gateway = MockGateway::new();
        gateway
            .expect_model_catalog()
            .returning(|| Err(GatewayError::Unavailable("refused".into())));
        let mut store = MockModelStore::new();
        store.expect_apply_catalog().never();
        store.expect_list_models().never();
        let err = SyncCatalog::new(Arc::new(gateway), Arc::new(store), fixed_clock())
            .execute()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::GatewayUnavailable { .. }));
    }
}

//! `ModelStore`: the catalog.

use crate::error::{diesel_error, Failure};
use crate::rows::{CatalogModelRow, ModelRow};
use crate::schema::models;
use crate::PgStore;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::catalog::{Availability, Model};
use keyport_domain::catalog::{CatalogChanges, ModelStore};
use keyport_domain::ids::ModelId;
use keyport_domain::StoreError;
use std::collections::HashMap;

/// Rows per INSERT: well under PostgreSQL's 65,535 bind parameters at 11 per row.
const UPSERT_CHUNK: usize = 1_000;

#[async_trait]
impl ModelStore for PgStore {
    async fn list_models(&self) -> Result<Vec<Model>, StoreError> {
        let mut conn = self.conn().await?;
        models::table
            .order(models::id)
            .select(ModelRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?
            .into_iter()
            .map(Model::try_from)
            .collect()
    }

    async fn get_model(&self, id: &ModelId) -> Result<Option<Model>, StoreError> {
        let mut conn = self.conn().await?;
        models::table
            .find(id.as_str())
            .select(ModelRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(Model::try_from)
            .transpose()
    }

    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        // One row per id (the last entry wins): PostgreSQL refuses to upsert the same row twice in one
        // statement.
        let mut by_id = HashMap::with_capacity(changes.upserts.len());
        for entry in &changes.upserts {
            by_id.insert(entry.id.as_str(), entry);
        }
        let mut rows: Vec<_> = by_id
            .into_values()
            .map(|entry| CatalogModelRow::new(entry, changes.synced_at))
            .collect();
        rows.sort_by(|a, b| a.id.cmp(b.id));
        let vanished: Vec<&str> = changes.vanished.iter().map(ModelId::as_str).collect();
        let synced_at = changes.synced_at;

        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            for chunk in rows.chunks(UPSERT_CHUNK) {
                // Only the fields LiteLLM owns are refreshed; what an admin edits is left alone.
                diesel::insert_into(models::table)
                    .values(chunk)
                    .on_conflict(models::id)
                    .do_update()
                    .set((
                        models::provider.eq(excluded(models::provider)),
                        models::capabilities.eq(excluded(models::capabilities)),
                        models::context_window.eq(excluded(models::context_window)),
                        models::input_price_per_token.eq(excluded(models::input_price_per_token)),
                        models::output_price_per_token.eq(excluded(models::output_price_per_token)),
                        models::availability.eq(Availability::Available.as_str()),
                        models::last_synced_at.eq(synced_at),
                        models::updated_at.eq(synced_at),
                    ))
                    .execute(conn)
                    .await?;
            }
            if !vanished.is_empty() {
                diesel::update(
                    models::table
                        .filter(models::id.eq_any(&vanished))
                        .filter(models::availability.ne(Availability::Unavailable.as_str())),
                )
                .set((
                    models::availability.eq(Availability::Unavailable.as_str()),
                    models::updated_at.eq(synced_at),
                ))
                .execute(conn)
                .await?;
            }
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }
}

//! `ApiKeyStore`. Listing a user's keys is on the hot path: two queries whatever the number of keys,
//! pipelined on one connection so they cost one round trip.

use crate::error::{diesel_error, Failure};
use crate::rows::{live_key_statuses, ApiKeyRow, KeyLinkRow, NewApiKeyRow};
use crate::schema::{api_key_subscriptions, api_keys, subscriptions};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keyport_domain::api_key::{ApiKey, ApiKeyStatus, NewApiKey, SyncState};
use keyport_domain::audit::AuditEvent;
use keyport_domain::ids::{ApiKeyId, UserId};
use keyport_domain::ports::ApiKeyStore;
use keyport_domain::StoreError;
use std::collections::HashMap;
use uuid::Uuid;

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`: live key names are unique case-insensitively (`api_keys_live_name`).
    fn lower(value: Text) -> Text;
}

#[derive(Insertable)]
#[diesel(table_name = api_key_subscriptions, check_for_backend(diesel::pg::Pg))]
struct LinkRow {
    api_key_id: Uuid,
    subscription_id: Uuid,
    user_id: Uuid,
}

/// The key's bindings, ordered by model id.
async fn links_of_key(
    conn: &mut AsyncPgConnection,
    key: Uuid,
) -> Result<Vec<KeyLinkRow>, diesel::result::Error> {
    api_key_subscriptions::table
        .inner_join(
            subscriptions::table.on(subscriptions::id.eq(api_key_subscriptions::subscription_id)),
        )
        .filter(api_key_subscriptions::api_key_id.eq(key))
        .order(subscriptions::model_id)
        .select((
            api_key_subscriptions::api_key_id,
            api_key_subscriptions::subscription_id,
            subscriptions::model_id,
            subscriptions::status,
        ))
        .load(conn)
        .await
}

/// Moves the key from one of `from` to the state `set` describes, answering `NotFound` (and changing
/// nothing) when the key is in another status; records the audit event; answers the key as it now is.
async fn transition<S>(
    store: &PgStore,
    id: ApiKeyId,
    from: &[ApiKeyStatus],
    set: S,
    audit: &AuditEvent,
) -> Result<ApiKey, StoreError>
where
    S: AsChangeset<Target = api_keys::table> + Send,
    S::Changeset: diesel::query_builder::QueryFragment<diesel::pg::Pg> + Send,
{
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let mut conn = store.conn().await?;
    conn.transaction::<_, Failure, _>(async |conn| {
        let row = diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(id.0))
                .filter(api_keys::status.eq_any(&from)),
        )
        .set(set)
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound)?;
        let links = links_of_key(conn, id.0).await?;
        let key = row.into_api_key(&links)?;
        audit::record(conn, audit).await?;
        Ok(key)
    })
    .await
    .map_err(StoreError::from)
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn insert_provisioning_key(
        &self,
        key: &NewApiKey,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let row = NewApiKeyRow::provisioning(key)?;
        let links: Vec<LinkRow> = key
            .subscription_ids
            .iter()
            .map(|subscription| LinkRow {
                api_key_id: key.id.0,
                subscription_id: subscription.0,
                user_id: key.user_id.0,
            })
            .collect();
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            diesel::insert_into(api_keys::table)
                .values(&row)
                .execute(conn)
                .await?;
            if !links.is_empty() {
                diesel::insert_into(api_key_subscriptions::table)
                    .values(&links)
                    .execute(conn)
                    .await?;
            }
            audit::record(conn, audit).await?;
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn activate_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        transition(
            self,
            id,
            &[ApiKeyStatus::Provisioning],
            (
                api_keys::status.eq(ApiKeyStatus::Active.as_str()),
                api_keys::sync_state.eq(SyncState::Synced.as_str()),
                api_keys::synced_at.eq(at),
                api_keys::last_sync_error.eq(None::<String>),
                api_keys::updated_at.eq(at),
            ),
            audit,
        )
        .await
    }

    async fn fail_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        // A failed key has nothing in LiteLLM (or the reconciler has just removed it): in sync. The
        // reason is kept as the last sync error.
        transition(
            self,
            id,
            &[ApiKeyStatus::Provisioning],
            (
                api_keys::status.eq(ApiKeyStatus::Failed.as_str()),
                api_keys::sync_state.eq(SyncState::Synced.as_str()),
                api_keys::synced_at.eq(at),
                api_keys::last_sync_error.eq(reason),
                api_keys::updated_at.eq(at),
            ),
            audit,
        )
        .await
        .map(drop)
    }

    async fn revoke_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        // LiteLLM still has the key until it is deleted there: pending.
        transition(
            self,
            id,
            &[ApiKeyStatus::Active, ApiKeyStatus::Retiring],
            (
                api_keys::status.eq(ApiKeyStatus::Revoked.as_str()),
                api_keys::revoked_at.eq(at),
                api_keys::sync_state.eq(SyncState::Pending.as_str()),
                api_keys::updated_at.eq(at),
            ),
            audit,
        )
        .await
    }

    async fn mark_key_synced(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let updated = diesel::update(api_keys::table.find(id.0))
            .set((
                api_keys::sync_state.eq(SyncState::Synced.as_str()),
                api_keys::synced_at.eq(at),
                api_keys::last_sync_error.eq(None::<String>),
                api_keys::updated_at.eq(at),
            ))
            .execute(&mut conn)
            .await
            .map_err(diesel_error)?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn record_key_sync_error(
        &self,
        id: ApiKeyId,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let updated = diesel::update(api_keys::table.find(id.0))
            .set((
                api_keys::sync_state.eq(SyncState::Pending.as_str()),
                api_keys::last_sync_error.eq(error),
                api_keys::updated_at.eq(at),
            ))
            .execute(&mut conn)
            .await
            .map_err(diesel_error)?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_key(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        let conn = self.conn().await?;
        let key = api_keys::table
            .find(id.0)
            .select(ApiKeyRow::as_select())
            .first::<ApiKeyRow>(&mut &*conn);
        let links = api_key_subscriptions::table
            .inner_join(
                subscriptions::table
                    .on(subscriptions::id.eq(api_key_subscriptions::subscription_id)),
            )
            .filter(api_key_subscriptions::api_key_id.eq(id.0))
            .order(subscriptions::model_id)
            .select((
                api_key_subscriptions::api_key_id,
                api_key_subscriptions::subscription_id,
                subscriptions::model_id,
                subscriptions::status,
            ))
            .load::<KeyLinkRow>(&mut &*conn);
        let (key, links) = tokio::join!(key, links);
        let Some(key) = key.optional().map_err(diesel_error)? else {
            return Ok(None);
        };
        let links = links.map_err(diesel_error)?;
        key.into_api_key(&links).map(Some)
    }

    async fn list_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let conn = self.conn().await?;
        // Both queries filter on the owner (the links carry it), so they do not depend on each other and
        // go out together.
        let keys = api_keys::table
            .filter(api_keys::user_id.eq(user.0))
            .order((api_keys::created_at.desc(), api_keys::id.desc()))
            .select(ApiKeyRow::as_select())
            .load::<ApiKeyRow>(&mut &*conn);
        let links = api_key_subscriptions::table
            .inner_join(
                subscriptions::table
                    .on(subscriptions::id.eq(api_key_subscriptions::subscription_id)),
            )
            .filter(api_key_subscriptions::user_id.eq(user.0))
            .order((api_key_subscriptions::api_key_id, subscriptions::model_id))
            .select((
                api_key_subscriptions::api_key_id,
                api_key_subscriptions::subscription_id,
                subscriptions::model_id,
                subscriptions::status,
            ))
            .load::<KeyLinkRow>(&mut &*conn);
        let (keys, links) = tokio::try_join!(keys, links).map_err(diesel_error)?;
        let mut links_by_key: HashMap<Uuid, Vec<KeyLinkRow>> = HashMap::new();
        for link in links {
            links_by_key.entry(link.api_key_id).or_default().push(link);
        }
        keys.into_iter()
            .map(|key| {
                let links = links_by_key.remove(&key.id).unwrap_or_default();
                key.into_api_key(&links)
            })
            .collect()
    }

    async fn live_key_name_taken(&self, user: UserId, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        diesel::select(exists(
            api_keys::table
                .filter(api_keys::user_id.eq(user.0))
                .filter(lower(api_keys::name).eq(lower(name)))
                .filter(api_keys::status.eq_any(live_key_statuses())),
        ))
        .get_result(&mut conn)
        .await
        .map_err(diesel_error)
    }
}

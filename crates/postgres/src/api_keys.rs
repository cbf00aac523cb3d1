//! `ApiKeyStore`. Listing a user's keys is on the hot path: two queries whatever the number of keys,
//! pipelined on one connection so they cost one round trip. The reconciler's reads (`keys_by_hashes`,
//! `keys_after`) likewise cost two queries whatever the number of keys, and its spend readings one
//! statement per batch. Every change LiteLLM must follow queues a `ConvergeKey` job in its own transaction
//! ([`crate::jobs::enqueue_converge`]).

use crate::error::{diesel_error, Failure};
use crate::jobs::enqueue_converge;
use crate::rows::{
    name_holding_statuses, ApiKeyRow, KeyLimitsChangeset, KeyLinkRow, LimitColumns, NewApiKeyRow,
};
use crate::schema::{api_key_subscriptions, api_keys, subscriptions, users};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Numeric, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::ids::{ApiKeyId, ModelId, UserId};
use keyport_domain::keys::{ApiKey, ApiKeyStatus, KeyUpdate, NewApiKey, SyncState};
use keyport_domain::keys::{ApiKeyStore, KeyInserted, SpendReading};
use keyport_domain::secret::KeyHash;
use keyport_domain::{ConflictKind, StoreError};
use rust_decimal::Decimal;
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
pub(crate) async fn links_of_key(
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

/// The keys with their bindings, loaded in one more query (the links of exactly these keys: a key that
/// changes meanwhile still comes with all its links), in the keys' order.
pub(crate) async fn load_links(
    conn: &mut AsyncPgConnection,
    keys: Vec<ApiKeyRow>,
) -> Result<Vec<ApiKey>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = keys.iter().map(|key| key.id).collect();
    let links = api_key_subscriptions::table
        .inner_join(
            subscriptions::table.on(subscriptions::id.eq(api_key_subscriptions::subscription_id)),
        )
        .filter(api_key_subscriptions::api_key_id.eq_any(&ids))
        .order((api_key_subscriptions::api_key_id, subscriptions::model_id))
        .select((
            api_key_subscriptions::api_key_id,
            api_key_subscriptions::subscription_id,
            subscriptions::model_id,
            subscriptions::status,
        ))
        .load::<KeyLinkRow>(conn)
        .await
        .map_err(diesel_error)?;
    with_links(keys, links)
}

/// The keys with their bindings: `links` are those of these keys (others are ignored), in the order to
/// report them per key.
fn with_links(keys: Vec<ApiKeyRow>, links: Vec<KeyLinkRow>) -> Result<Vec<ApiKey>, StoreError> {
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

/// The statement behind [`ApiKeyStore::record_spend`]: one row per reading, matched by id (unknown ids
/// match nothing); a key whose stored reading is newer than `$4` keeps it.
const RECORD_SPEND: &str = "\
    UPDATE api_keys AS k \
    SET spend = r.spend, spend_read_at = $4, budget_reset_at = r.budget_reset_at \
    FROM unnest($1::uuid[], $2::numeric[], $3::timestamptz[]) AS r (id, spend, budget_reset_at) \
    WHERE k.id = r.id AND (k.spend_read_at IS NULL OR k.spend_read_at <= $4)";

/// When a transition queues the key's `ConvergeKey` job: the caller's (and so the port's) decision.
#[derive(Debug, Clone, Copy)]
enum Converge<'a> {
    /// LiteLLM already matches (`set` marks the key synced).
    No,
    /// Due at this time (`set` marks the key pending).
    At(DateTime<Utc>),
    /// When the activated key may no longer use one of the models LiteLLM was given
    /// ([`ApiKey::must_converge_after_activation`]): then marked pending, due at once.
    AfterActivation(&'a [ModelId]),
}

/// Moves the key from one of `from` to the state `set` describes, answering `NotFound` (and changing
/// nothing) when the key is in another status; queues its `ConvergeKey` job as `converge` says; records
/// the audit event; answers the key as it now is.
async fn transition<S>(
    store: &PgStore,
    id: ApiKeyId,
    from: &[ApiKeyStatus],
    set: S,
    converge: Converge<'_>,
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
        let mut key = row.into_api_key(&links)?;
        match converge {
            Converge::No => {}
            Converge::At(run_at) => {
                enqueue_converge(conn, &[id.0], run_at, run_at).await?;
            }
            Converge::AfterActivation(granted) => {
                if key.must_converge_after_activation(granted) {
                    diesel::update(api_keys::table.find(id.0))
                        .set(api_keys::sync_state.eq(SyncState::Pending.as_str()))
                        .execute(conn)
                        .await?;
                    key.sync_state = SyncState::Pending;
                    enqueue_converge(conn, &[id.0], audit.at, audit.at).await?;
                }
            }
        }
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
        max_live_keys: Option<u32>,
        audit: &AuditEvent,
    ) -> Result<KeyInserted, StoreError> {
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
            // The owner's row is locked while a capped create counts, so that concurrent creates take
            // turns (FOR NO KEY UPDATE: other tables' foreign-key checks on the user are not blocked).
            let owner = users::table
                .filter(users::id.eq(key.user_id.0))
                .select((users::access_version, users::access_synced_version));
            let versions: Option<(i64, i64)> = if max_live_keys.is_some() {
                owner.for_no_key_update().first(conn).await.optional()?
            } else {
                owner.first(conn).await.optional()?
            };
            if let Some(cap) = max_live_keys {
                let live: i64 = api_keys::table
                    .filter(api_keys::user_id.eq(key.user_id.0))
                    .filter(api_keys::status.eq_any([
                        ApiKeyStatus::Provisioning.as_str(),
                        ApiKeyStatus::Active.as_str(),
                    ]))
                    .count()
                    .get_result(conn)
                    .await?;
                if live >= i64::from(cap) {
                    return Err(StoreError::Conflict(ConflictKind::LiveKeyCapReached).into());
                }
            }
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
            Ok(KeyInserted {
                owner_access_pending: versions.is_some_and(|(v, synced)| synced < v),
            })
        })
        .await
        .map_err(StoreError::from)
    }

    async fn activate_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        granted: &[ModelId],
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
            Converge::AfterActivation(granted),
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
            Converge::No,
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
        // LiteLLM still has the key until the job deletes it there: pending.
        transition(
            self,
            id,
            &[ApiKeyStatus::Active, ApiKeyStatus::Retiring],
            (
                api_keys::status.eq(ApiKeyStatus::Revoked.as_str()),
                api_keys::revoked_at.eq(at),
                api_keys::retire_at.eq(None::<DateTime<Utc>>),
                api_keys::sync_state.eq(SyncState::Pending.as_str()),
                api_keys::updated_at.eq(at),
            ),
            Converge::At(at),
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
        // Only a change still pending records why it is: a worker that synced the key meanwhile wins, or the
        // key would show a pending change that no job is left to clear.
        let updated = diesel::update(
            api_keys::table
                .find(id.0)
                .filter(api_keys::sync_state.eq(SyncState::Pending.as_str())),
        )
        .set((
            api_keys::last_sync_error.eq(error),
            api_keys::updated_at.eq(at),
        ))
        .execute(&mut conn)
        .await
        .map_err(diesel_error)?;
        if updated == 0 {
            let exists: bool = diesel::select(diesel::dsl::exists(api_keys::table.find(id.0)))
                .get_result(&mut conn)
                .await
                .map_err(diesel_error)?;
            if !exists {
                return Err(StoreError::NotFound);
            }
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
        with_links(keys, links)
    }

    async fn live_key_name_taken(&self, user: UserId, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        diesel::select(exists(
            api_keys::table
                .filter(api_keys::user_id.eq(user.0))
                .filter(lower(api_keys::name).eq(lower(name)))
                .filter(api_keys::status.eq_any(name_holding_statuses())),
        ))
        .get_result(&mut conn)
        .await
        .map_err(diesel_error)
    }

    async fn update_key(
        &self,
        id: ApiKeyId,
        update: &KeyUpdate,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let limits = update
            .limits
            .as_ref()
            .map(LimitColumns::from_limits)
            .transpose()?
            .map(KeyLimitsChangeset::from);
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // LiteLLM does not have the change yet: pending, until the job (or an immediate attempt) has
            // brought it in line.
            let row = diesel::update(
                api_keys::table
                    .filter(api_keys::id.eq(id.0))
                    .filter(api_keys::status.eq(ApiKeyStatus::Active.as_str())),
            )
            .set((
                update.name.as_deref().map(|name| api_keys::name.eq(name)),
                limits.as_ref(),
                update
                    .expires_at
                    .map(|expiry| api_keys::expires_at.eq(expiry)),
                api_keys::sync_state.eq(SyncState::Pending.as_str()),
                api_keys::updated_at.eq(at),
            ))
            .returning(ApiKeyRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound)?;
            if let Some(subscription_ids) = &update.subscription_ids {
                let mut ids: Vec<Uuid> = subscription_ids.iter().map(|s| s.0).collect();
                ids.sort_unstable();
                ids.dedup();
                let links: Vec<LinkRow> = ids
                    .into_iter()
                    .map(|subscription_id| LinkRow {
                        api_key_id: row.id,
                        subscription_id,
                        user_id: row.user_id,
                    })
                    .collect();
                diesel::delete(
                    api_key_subscriptions::table.filter(api_key_subscriptions::api_key_id.eq(id.0)),
                )
                .execute(conn)
                .await?;
                if !links.is_empty() {
                    diesel::insert_into(api_key_subscriptions::table)
                        .values(&links)
                        .execute(conn)
                        .await?;
                }
            }
            enqueue_converge(conn, &[id.0], at, at).await?;
            let links = links_of_key(conn, id.0).await?;
            let key = row.into_api_key(&links)?;
            audit::record(conn, audit).await?;
            Ok(key)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn complete_rotation(
        &self,
        new_key: ApiKeyId,
        old_key: ApiKeyId,
        retire_at: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // The old key first: once retiring it no longer holds its name, which the new key takes.
            // LiteLLM keeps the old key as it is until the deadline, when the job deletes it. A key an
            // administrator blocked meanwhile is not replaced: its successor would not be blocked.
            let (owner, name) = diesel::update(
                api_keys::table
                    .filter(api_keys::id.eq(old_key.0))
                    .filter(api_keys::status.eq(ApiKeyStatus::Active.as_str()))
                    .filter(api_keys::blocked_at.is_null()),
            )
            .set((
                api_keys::status.eq(ApiKeyStatus::Retiring.as_str()),
                api_keys::retire_at.eq(retire_at),
                api_keys::replaced_by.eq(new_key.0),
                api_keys::updated_at.eq(at),
            ))
            .returning((api_keys::user_id, api_keys::name))
            .get_result::<(Uuid, String)>(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound)?;
            let row = diesel::update(
                api_keys::table
                    .filter(api_keys::id.eq(new_key.0))
                    .filter(api_keys::user_id.eq(owner))
                    .filter(api_keys::status.eq(ApiKeyStatus::Provisioning.as_str())),
            )
            .set((
                api_keys::status.eq(ApiKeyStatus::Active.as_str()),
                api_keys::name.eq(&name),
                api_keys::sync_state.eq(SyncState::Synced.as_str()),
                api_keys::synced_at.eq(at),
                api_keys::last_sync_error.eq(None::<String>),
                api_keys::updated_at.eq(at),
            ))
            .returning(ApiKeyRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound)?;
            enqueue_converge(conn, &[old_key.0], retire_at, at).await?;
            let links = links_of_key(conn, new_key.0).await?;
            let key = row.into_api_key(&links)?;
            audit::record(conn, audit).await?;
            Ok(key)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn change_key_status(
        &self,
        id: ApiKeyId,
        from: &[ApiKeyStatus],
        to: ApiKeyStatus,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        if to == ApiKeyStatus::Retiring {
            // A retiring key needs its deadline (`api_keys_retire_at_iff_retiring`).
            return Err(StoreError::Unexpected(
                "a key becomes retiring only by complete_rotation".to_owned(),
            ));
        }
        if let Some(illegal) = from.iter().find(|status| !status.can_become(to)) {
            return Err(StoreError::Unexpected(format!(
                "a key cannot go from {} to {}",
                illegal.as_str(),
                to.as_str()
            )));
        }
        // LiteLLM has yet to follow: pending. A key leaving `retiring` gives up its deadline.
        transition(
            self,
            id,
            from,
            (
                api_keys::status.eq(to.as_str()),
                (to == ApiKeyStatus::Revoked).then_some(api_keys::revoked_at.eq(at)),
                api_keys::retire_at.eq(None::<DateTime<Utc>>),
                api_keys::sync_state.eq(SyncState::Pending.as_str()),
                api_keys::updated_at.eq(at),
            ),
            Converge::At(at),
            audit,
        )
        .await
    }

    async fn set_key_block(
        &self,
        id: ApiKeyId,
        reason: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let live = [
            ApiKeyStatus::Active.as_str(),
            ApiKeyStatus::Retiring.as_str(),
        ];
        let blocking = reason.is_some();
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // Only a live key in the other state changes (a concurrent block or unblock loses); LiteLLM has
            // yet to follow: pending, with the job that brings it in line.
            let target = api_keys::table
                .filter(api_keys::id.eq(id.0))
                .filter(api_keys::status.eq_any(live));
            let set = (
                api_keys::blocked_at.eq(blocking.then_some(at)),
                api_keys::block_reason.eq(reason.as_deref()),
                api_keys::sync_state.eq(SyncState::Pending.as_str()),
                api_keys::updated_at.eq(at),
            );
            let row = if blocking {
                diesel::update(target.filter(api_keys::blocked_at.is_null()))
                    .set(set)
                    .returning(ApiKeyRow::as_returning())
                    .get_result(conn)
                    .await
            } else {
                diesel::update(target.filter(api_keys::blocked_at.is_not_null()))
                    .set(set)
                    .returning(ApiKeyRow::as_returning())
                    .get_result(conn)
                    .await
            }
            .optional()?
            .ok_or(StoreError::NotFound)?;
            enqueue_converge(conn, &[id.0], at, at).await?;
            let links = links_of_key(conn, id.0).await?;
            let key = row.into_api_key(&links)?;
            audit::record(conn, audit).await?;
            Ok(key)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn expire_due_keys(&self, now: DateTime<Utc>) -> Result<Vec<ApiKeyId>, StoreError> {
        let live = [
            ApiKeyStatus::Active.as_str(),
            ApiKeyStatus::Retiring.as_str(),
        ];
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // Locked in id order, so that concurrent passes (several replicas) neither deadlock nor expire a
            // key twice: the second waits, then finds the key no longer active or retiring.
            let due: Vec<(Uuid, String)> = api_keys::table
                .filter(api_keys::status.eq_any(live))
                .filter(api_keys::expires_at.le(now))
                .order(api_keys::id)
                .select((api_keys::id, api_keys::status))
                .for_update()
                .load(conn)
                .await?;
            if due.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<Uuid> = due.iter().map(|(id, _)| *id).collect();
            diesel::update(api_keys::table.filter(api_keys::id.eq_any(&ids)))
                .set((
                    api_keys::status.eq(ApiKeyStatus::Expired.as_str()),
                    api_keys::retire_at.eq(None::<DateTime<Utc>>),
                    api_keys::sync_state.eq(SyncState::Pending.as_str()),
                    api_keys::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            enqueue_converge(conn, &ids, now, now).await?;
            let events: Vec<AuditEvent> = due
                .iter()
                .map(|(id, status)| {
                    AuditEvent::system("api_key.expire", "api_key", id, now)
                        .with_before(serde_json::json!({ "status": status }))
                        .with_after(serde_json::json!({ "status": ApiKeyStatus::Expired.as_str() }))
                })
                .collect();
            audit::record_all(conn, &events).await?;
            Ok(ids.into_iter().map(ApiKeyId::from).collect())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn keys_by_hashes(&self, hashes: &[KeyHash]) -> Result<Vec<ApiKey>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let hashes: Vec<&str> = hashes.iter().map(KeyHash::as_str).collect();
        let conn = self.conn().await?;
        // Both queries select by hash (a key's hash never changes), so they do not depend on each other and
        // go out together: one round trip. `= ANY($1)` binds the hashes as one array, however many.
        let keys = api_keys::table
            .filter(api_keys::key_hash.eq_any(&hashes))
            .order(api_keys::id)
            .select(ApiKeyRow::as_select())
            .load::<ApiKeyRow>(&mut &*conn);
        let links = api_key_subscriptions::table
            .inner_join(api_keys::table.on(api_keys::id.eq(api_key_subscriptions::api_key_id)))
            .inner_join(
                subscriptions::table
                    .on(subscriptions::id.eq(api_key_subscriptions::subscription_id)),
            )
            .filter(api_keys::key_hash.eq_any(&hashes))
            .order((api_key_subscriptions::api_key_id, subscriptions::model_id))
            .select((
                api_key_subscriptions::api_key_id,
                api_key_subscriptions::subscription_id,
                subscriptions::model_id,
                subscriptions::status,
            ))
            .load::<KeyLinkRow>(&mut &*conn);
        let (keys, links) = tokio::try_join!(keys, links).map_err(diesel_error)?;
        with_links(keys, links)
    }

    async fn keys_after(
        &self,
        after: Option<ApiKeyId>,
        statuses: &[ApiKeyStatus],
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        if statuses.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let mut conn = self.conn().await?;
        // The page on the primary key, then the links of exactly these keys: a key that changes status
        // meanwhile still comes with all its links.
        let mut page = api_keys::table
            .filter(api_keys::status.eq_any(&statuses))
            .order(api_keys::id)
            .limit(i64::from(limit))
            .select(ApiKeyRow::as_select())
            .into_boxed();
        if let Some(after) = after {
            page = page.filter(api_keys::id.gt(after.0));
        }
        let keys: Vec<ApiKeyRow> = page.load(&mut conn).await.map_err(diesel_error)?;
        load_links(&mut conn, keys).await
    }

    async fn record_spend(
        &self,
        readings: &[SpendReading],
        read_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // One row per key (PostgreSQL would apply only one of several, arbitrarily): the last reading wins.
        let mut by_key: HashMap<Uuid, &SpendReading> = HashMap::with_capacity(readings.len());
        for reading in readings {
            by_key.insert(reading.key.0, reading);
        }
        if by_key.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(by_key.len());
        let mut spends: Vec<Decimal> = Vec::with_capacity(by_key.len());
        let mut resets = Vec::with_capacity(by_key.len());
        for (id, reading) in by_key {
            ids.push(id);
            spends.push(reading.spend.amount());
            resets.push(reading.budget_reset_at);
        }
        let mut conn = self.conn().await?;
        diesel::sql_query(RECORD_SPEND)
            .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
            .bind::<Array<Numeric>, _>(&spends)
            .bind::<Array<Nullable<Timestamptz>>, _>(&resets)
            .bind::<Timestamptz, _>(read_at)
            .execute(&mut conn)
            .await
            .map(drop)
            .map_err(diesel_error)
    }
}

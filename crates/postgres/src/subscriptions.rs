//! `SubscriptionStore`.

use crate::api_keys::load_links;
use crate::error::{diesel_error, Failure};
use crate::jobs::enqueue_converge;
use crate::rows::{
    live_key_statuses, ApiKeyRow, LimitColumns, NewSubscriptionRow, QuotaChangeset,
    StatusHistoryRow, SubscriptionRow,
};
use crate::schema::{api_key_subscriptions, api_keys, subscription_status_history, subscriptions};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::ids::{ModelId, SubscriptionId, UserId};
use keyport_domain::keys::KeyEffects;
use keyport_domain::keys::{ApiKey, ApiKeyStatus, SyncState};
use keyport_domain::limits::Limits;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::subscriptions::{Subscription, SubscriptionStatus};
use keyport_domain::StoreError;
use uuid::Uuid;

fn convert(rows: Vec<SubscriptionRow>) -> Result<Vec<Subscription>, StoreError> {
    rows.into_iter().map(Subscription::try_from).collect()
}

/// A subscription's status change, as both status-changing methods apply it.
struct StatusChange<'a> {
    id: SubscriptionId,
    from: SubscriptionStatus,
    to: SubscriptionStatus,
    reason: Option<&'a str>,
    quota: Option<QuotaChangeset>,
    at: DateTime<Utc>,
    audit: &'a AuditEvent,
}

impl StatusChange<'_> {
    /// Moves the subscription from `from` to `to` (conditional on `from`: `NotFound` otherwise), with its
    /// history row and the audit event.
    async fn apply(&self, conn: &mut AsyncPgConnection) -> Result<Subscription, Failure> {
        // Conditional on the expected status: a concurrent change makes this match nothing.
        let target = subscriptions::table
            .filter(subscriptions::id.eq(self.id.0))
            .filter(subscriptions::status.eq(self.from.as_str()));
        let status = (
            subscriptions::status.eq(self.to.as_str()),
            subscriptions::status_reason.eq(self.reason),
            subscriptions::updated_at.eq(self.at),
        );
        let updated = match &self.quota {
            Some(quota) => {
                diesel::update(target)
                    .set((status, quota))
                    .returning(SubscriptionRow::as_returning())
                    .get_result(conn)
                    .await
            }
            None => {
                diesel::update(target)
                    .set(status)
                    .returning(SubscriptionRow::as_returning())
                    .get_result(conn)
                    .await
            }
        }
        .optional()?
        .ok_or(StoreError::NotFound)?;
        diesel::insert_into(subscription_status_history::table)
            .values(&StatusHistoryRow {
                subscription_id: self.id.0,
                from_status: Some(self.from.as_str()),
                to_status: self.to.as_str(),
                reason: self.reason,
                actor: self.audit.actor.map(|a| a.0),
                at: self.at,
            })
            .execute(conn)
            .await?;
        audit::record(conn, self.audit).await?;
        Ok(Subscription::try_from(updated)?)
    }
}

fn unique(ids: &[keyport_domain::ids::ApiKeyId]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[async_trait]
impl SubscriptionStore for PgStore {
    async fn get_subscription(
        &self,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        let mut conn = self.conn().await?;
        subscriptions::table
            .find(id.0)
            .select(SubscriptionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(Subscription::try_from)
            .transpose()
    }

    async fn get_subscriptions(
        &self,
        ids: &[SubscriptionId],
    ) -> Result<Vec<Subscription>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        let rows = subscriptions::table
            .filter(subscriptions::id.eq_any(&ids))
            .select(SubscriptionRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        convert(rows)
    }

    async fn find_subscription(
        &self,
        user: UserId,
        model: &ModelId,
    ) -> Result<Option<Subscription>, StoreError> {
        let mut conn = self.conn().await?;
        subscriptions::table
            .filter(subscriptions::user_id.eq(user.0))
            .filter(subscriptions::model_id.eq(model.as_str()))
            .select(SubscriptionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(Subscription::try_from)
            .transpose()
    }

    async fn list_subscriptions(&self, user: UserId) -> Result<Vec<Subscription>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = subscriptions::table
            .filter(subscriptions::user_id.eq(user.0))
            .order((subscriptions::created_at.desc(), subscriptions::id.desc()))
            .select(SubscriptionRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        convert(rows)
    }

    async fn insert_subscription(
        &self,
        subscription: &Subscription,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let row = NewSubscriptionRow::new(subscription)?;
        let history = StatusHistoryRow {
            subscription_id: subscription.id.0,
            from_status: None,
            to_status: subscription.status.as_str(),
            reason: subscription.status_reason.as_deref(),
            actor: audit.actor.map(|a| a.0),
            at: subscription.created_at,
        };
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            diesel::insert_into(subscriptions::table)
                .values(&row)
                .execute(conn)
                .await?;
            diesel::insert_into(subscription_status_history::table)
                .values(&history)
                .execute(conn)
                .await?;
            audit::record(conn, audit).await?;
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn change_subscription_status(
        &self,
        id: SubscriptionId,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
        reason: Option<String>,
        quota: Option<Limits>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError> {
        let change = StatusChange {
            id,
            from,
            to,
            reason: reason.as_deref(),
            quota: quota
                .as_ref()
                .map(LimitColumns::from_limits)
                .transpose()?
                .map(QuotaChangeset::from),
            at,
            audit,
        };
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| change.apply(conn).await)
            .await
            .map_err(StoreError::from)
    }

    async fn change_subscription_quota(
        &self,
        id: SubscriptionId,
        quota: &Limits,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError> {
        let quota = QuotaChangeset::from(LimitColumns::from_limits(quota)?);
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // The owner's pools follow through the trigger's converge_user job, in this transaction.
            let updated = diesel::update(
                subscriptions::table
                    .filter(subscriptions::id.eq(id.0))
                    .filter(subscriptions::status.eq_any([
                        SubscriptionStatus::Active.as_str(),
                        SubscriptionStatus::Suspended.as_str(),
                    ])),
            )
            .set((&quota, subscriptions::updated_at.eq(at)))
            .returning(SubscriptionRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound)?;
            audit::record(conn, audit).await?;
            Ok(Subscription::try_from(updated)?)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn change_subscription_status_cascading(
        &self,
        id: SubscriptionId,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
        reason: Option<String>,
        effects: &KeyEffects,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError> {
        let change = StatusChange {
            id,
            from,
            to,
            reason: reason.as_deref(),
            quota: None,
            at,
            audit,
        };
        let revoke = unique(&effects.revoke);
        let converge = unique(&effects.converge);
        let mut every = [revoke.as_slice(), converge.as_slice()].concat();
        every.sort_unstable();
        every.dedup();
        let live = [
            ApiKeyStatus::Active.as_str(),
            ApiKeyStatus::Retiring.as_str(),
        ];
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let subscription = change.apply(conn).await?;
            // The keys to revoke that still can be, locked in id order (as every batch change locks keys).
            let revoked: Vec<(Uuid, String)> = api_keys::table
                .filter(api_keys::id.eq_any(&revoke))
                .filter(api_keys::status.eq_any(live))
                .order(api_keys::id)
                .select((api_keys::id, api_keys::status))
                .for_update()
                .load(conn)
                .await?;
            let revoked_ids: Vec<Uuid> = revoked.iter().map(|(id, _)| *id).collect();
            if !revoked_ids.is_empty() {
                diesel::update(api_keys::table.filter(api_keys::id.eq_any(&revoked_ids)))
                    .set((
                        api_keys::status.eq(ApiKeyStatus::Revoked.as_str()),
                        api_keys::revoked_at.eq(at),
                        api_keys::retire_at.eq(None::<DateTime<Utc>>),
                        api_keys::sync_state.eq(SyncState::Pending.as_str()),
                        api_keys::updated_at.eq(at),
                    ))
                    .execute(conn)
                    .await?;
            }
            // The keys whose models change: LiteLLM has yet to follow.
            if !converge.is_empty() {
                diesel::update(
                    api_keys::table
                        .filter(api_keys::id.eq_any(&converge))
                        .filter(api_keys::status.eq_any(live)),
                )
                .set((
                    api_keys::sync_state.eq(SyncState::Pending.as_str()),
                    api_keys::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
            }
            enqueue_converge(conn, &every, at, at).await?;
            // Each revoked key's own history names the change that revoked it.
            let events: Vec<AuditEvent> = revoked
                .iter()
                .map(|(key, status)| AuditEvent {
                    action: "api_key.revoke".to_owned(),
                    target_type: "api_key".to_owned(),
                    target_id: key.to_string(),
                    before: Some(serde_json::json!({ "status": status })),
                    after: Some(serde_json::json!({
                        "status": ApiKeyStatus::Revoked.as_str(),
                        "reason": "no active subscription left",
                        "subscription_id": id,
                        "subscription_status": to.as_str(),
                    })),
                    ..audit.clone()
                })
                .collect();
            audit::record_all(conn, &events).await?;
            Ok(subscription)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn count_live_keys(&self, id: SubscriptionId) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let count: i64 = api_key_subscriptions::table
            .inner_join(api_keys::table.on(api_keys::id.eq(api_key_subscriptions::api_key_id)))
            .filter(api_key_subscriptions::subscription_id.eq(id.0))
            .filter(api_keys::status.eq_any(live_key_statuses()))
            .count()
            .get_result(&mut conn)
            .await
            .map_err(diesel_error)?;
        u64::try_from(count).map_err(|e| StoreError::Unexpected(e.to_string()))
    }

    async fn keys_bound_to(&self, id: SubscriptionId) -> Result<Vec<ApiKey>, StoreError> {
        let mut conn = self.conn().await?;
        let keys: Vec<ApiKeyRow> = api_keys::table
            .inner_join(
                api_key_subscriptions::table.on(api_key_subscriptions::api_key_id.eq(api_keys::id)),
            )
            .filter(api_key_subscriptions::subscription_id.eq(id.0))
            .filter(api_keys::status.eq_any([
                ApiKeyStatus::Active.as_str(),
                ApiKeyStatus::Retiring.as_str(),
            ]))
            .order((api_keys::created_at, api_keys::id))
            .select(ApiKeyRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        load_links(&mut conn, keys).await
    }
}

//! `SubscriptionStore`.

use crate::error::{diesel_error, Failure};
use crate::rows::{
    live_key_statuses, LimitColumns, NewSubscriptionRow, QuotaChangeset, StatusHistoryRow,
    SubscriptionRow,
};
use crate::schema::{api_key_subscriptions, api_keys, subscription_status_history, subscriptions};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::ids::{ModelId, SubscriptionId, UserId};
use keyport_domain::limits::Limits;
use keyport_domain::ports::SubscriptionStore;
use keyport_domain::subscription::{Subscription, SubscriptionStatus};
use keyport_domain::StoreError;
use uuid::Uuid;

fn convert(rows: Vec<SubscriptionRow>) -> Result<Vec<Subscription>, StoreError> {
    rows.into_iter().map(Subscription::try_from).collect()
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
        let quota = quota
            .as_ref()
            .map(LimitColumns::from_limits)
            .transpose()?
            .map(QuotaChangeset::from);
        let history = StatusHistoryRow {
            subscription_id: id.0,
            from_status: Some(from.as_str()),
            to_status: to.as_str(),
            reason: reason.as_deref(),
            actor: audit.actor.map(|a| a.0),
            at,
        };
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // Conditional on the expected status: a concurrent change makes this match nothing.
            let target = subscriptions::table
                .filter(subscriptions::id.eq(id.0))
                .filter(subscriptions::status.eq(from.as_str()));
            let status = (
                subscriptions::status.eq(to.as_str()),
                subscriptions::status_reason.eq(reason.as_deref()),
                subscriptions::updated_at.eq(at),
            );
            let updated = match &quota {
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
                .values(&history)
                .execute(conn)
                .await?;
            audit::record(conn, audit).await?;
            Ok(Subscription::try_from(updated)?)
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
}

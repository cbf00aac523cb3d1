//! `AccessStore`: each user's LiteLLM access as keyport records it (their subscriptions and which version
//! of them LiteLLM holds). The versions move in the database itself: the `subscriptions_access_changed`
//! trigger (migration `quota_pools`) raises `users.access_version` and queues a `converge_user` job for every
//! change of a subscription's status or quota, in that change's transaction.

use crate::error::diesel_error;
use crate::jobs::enqueue_converge_users;
use crate::rows::{SubscriptionRow, UserRow};
use crate::schema::{subscriptions, users};
use crate::PgStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use keyport_domain::access::{AccessRecord, AccessStore};
use keyport_domain::ids::UserId;
use keyport_domain::subscriptions::Subscription;
use keyport_domain::users::User;
use keyport_domain::StoreError;
use std::collections::HashMap;
use uuid::Uuid;

#[async_trait]
impl AccessStore for PgStore {
    async fn access_record(&self, user: UserId) -> Result<Option<AccessRecord>, StoreError> {
        Ok(self.access_records(&[user]).await?.into_iter().next())
    }

    async fn access_records(&self, ids: &[UserId]) -> Result<Vec<AccessRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        let owners: Vec<(UserRow, i64, i64)> = users::table
            .filter(users::id.eq_any(&ids))
            .order(users::id)
            .select((
                UserRow::as_select(),
                users::access_version,
                users::access_synced_version,
            ))
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let rows: Vec<SubscriptionRow> = subscriptions::table
            .filter(subscriptions::user_id.eq_any(&ids))
            .order((subscriptions::user_id, subscriptions::id))
            .select(SubscriptionRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let mut by_user: HashMap<Uuid, Vec<Subscription>> = HashMap::new();
        for row in rows {
            let subscription = Subscription::try_from(row)?;
            by_user
                .entry(subscription.user_id.0)
                .or_default()
                .push(subscription);
        }
        owners
            .into_iter()
            .map(|(row, version, synced_version)| {
                let user = User::try_from(row)?;
                Ok(AccessRecord {
                    subscriptions: by_user.remove(&user.id.0).unwrap_or_default(),
                    user,
                    version,
                    synced_version,
                })
            })
            .collect()
    }

    async fn mark_access_synced(
        &self,
        user: UserId,
        version: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::update(
            users::table
                .filter(users::id.eq(user.0))
                .filter(users::access_synced_version.lt(version))
                .filter(users::access_version.ge(version)),
        )
        .set((
            users::access_synced_version.eq(version),
            users::access_synced_at.eq(at),
            users::access_sync_error.eq(None::<String>),
        ))
        .execute(&mut conn)
        .await
        .map_err(diesel_error)?;
        Ok(())
    }

    async fn record_access_error(
        &self,
        user: UserId,
        error: &str,
        _at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::update(users::table.find(user.0))
            .set(users::access_sync_error.eq(error))
            .execute(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(())
    }

    async fn enqueue_converge_users(
        &self,
        users: &[UserId],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
        let mut conn = self.conn().await?;
        enqueue_converge_users(&mut conn, &ids, run_at, run_at)
            .await
            .map_err(diesel_error)?;
        Ok(())
    }
}

//! `ApprovalStore`: everybody's subscriptions, their history, and model changes — the one that makes a
//! model open approves its pending subscriptions in the same transaction.

use crate::error::{corrupt, diesel_error, Failure};
use crate::rows::{LimitColumns, ModelRow, StatusHistoryRow, SubscriptionRow};
use crate::schema::{models, subscription_status_history, subscriptions, users};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::catalog::Model;
use keyport_domain::catalog::{ModelChanges, ModelUpdated, ReleasePending};
use keyport_domain::ids::{ModelId, SubscriptionId};
use keyport_domain::subscriptions::{
    ApprovalStore, OwnedSubscription, StatusHistoryEntry, SubscriptionQuery,
};
use keyport_domain::subscriptions::{Subscription, SubscriptionStatus};
use keyport_domain::StoreError;
use rust_decimal::Decimal;
use uuid::Uuid;

/// What an administrator's change writes to a model: `None` leaves a column alone; for nullable columns
/// `Some(None)` writes `NULL`.
#[derive(AsChangeset)]
#[diesel(table_name = models)]
struct ModelChangeset {
    restricted: Option<bool>,
    hidden: Option<bool>,
    display_name: Option<String>,
    description: Option<Option<String>>,
    default_max_budget: Option<Option<Decimal>>,
    default_budget_duration: Option<Option<String>>,
    default_tpm_limit: Option<Option<i64>>,
    default_rpm_limit: Option<Option<i64>>,
    updated_at: DateTime<Utc>,
}

impl ModelChangeset {
    fn new(changes: &ModelChanges, at: DateTime<Utc>) -> Result<Self, StoreError> {
        let quota = changes
            .default_quota
            .as_ref()
            .map(LimitColumns::from_limits)
            .transpose()?;
        Ok(Self {
            restricted: changes.restricted,
            hidden: changes.hidden,
            display_name: changes.display_name.clone(),
            description: changes.description.clone(),
            default_max_budget: quota.as_ref().map(|q| q.max_budget),
            default_budget_duration: quota.as_ref().map(|q| q.budget_duration.clone()),
            default_tpm_limit: quota.as_ref().map(|q| q.tpm_limit),
            default_rpm_limit: quota.as_ref().map(|q| q.rpm_limit),
            updated_at: at,
        })
    }
}

#[async_trait]
impl ApprovalStore for PgStore {
    async fn list_all_subscriptions(
        &self,
        query: &SubscriptionQuery,
    ) -> Result<Vec<OwnedSubscription>, StoreError> {
        let mut page = subscriptions::table
            .inner_join(users::table.on(users::id.eq(subscriptions::user_id)))
            .order(subscriptions::id.desc())
            .limit(i64::from(query.limit))
            .select((SubscriptionRow::as_select(), users::username))
            .into_boxed();
        if let Some(status) = query.status {
            page = page.filter(subscriptions::status.eq(status.as_str()));
        }
        if let Some(user) = query.user_id {
            page = page.filter(subscriptions::user_id.eq(user.0));
        }
        if let Some(model) = &query.model_id {
            page = page.filter(subscriptions::model_id.eq(model.as_str().to_owned()));
        }
        if let Some(after) = query.after {
            page = page.filter(subscriptions::id.lt(after.0));
        }
        let mut conn = self.conn().await?;
        let rows: Vec<(SubscriptionRow, String)> =
            page.load(&mut conn).await.map_err(diesel_error)?;
        rows.into_iter()
            .map(|(row, owner)| {
                Ok(OwnedSubscription {
                    subscription: Subscription::try_from(row)?,
                    owner,
                })
            })
            .collect()
    }

    async fn subscription_history(
        &self,
        id: SubscriptionId,
    ) -> Result<Option<Vec<StatusHistoryEntry>>, StoreError> {
        let mut conn = self.conn().await?;
        let exists: Option<Uuid> = subscriptions::table
            .find(id.0)
            .select(subscriptions::id)
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?;
        if exists.is_none() {
            return Ok(None);
        }
        type Row = (
            Option<String>,
            String,
            Option<String>,
            Option<Uuid>,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = subscription_status_history::table
            .filter(subscription_status_history::subscription_id.eq(id.0))
            .order(subscription_status_history::id)
            .select((
                subscription_status_history::from_status,
                subscription_status_history::to_status,
                subscription_status_history::reason,
                subscription_status_history::actor,
                subscription_status_history::at,
            ))
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let status =
            |s: &str| SubscriptionStatus::parse(s).ok_or_else(|| corrupt("subscription status", s));
        rows.into_iter()
            .map(|(from, to, reason, actor, at)| {
                Ok(StatusHistoryEntry {
                    from: from.as_deref().map(status).transpose()?,
                    to: status(&to)?,
                    reason,
                    actor: actor.map(Into::into),
                    at,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn update_model(
        &self,
        id: &ModelId,
        changes: &ModelChanges,
        release: Option<ReleasePending>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ModelUpdated, StoreError> {
        let changeset = ModelChangeset::new(changes, at)?;
        let model_id = id.as_str().to_owned();
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            // Locked, so that the audit's "before" and what "was restricted" means cannot change under this
            // transaction.
            let locked = models::table
                .find(&model_id)
                .select(ModelRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let locked = Model::try_from(locked)?;
            let was_restricted = locked.restricted;
            let (before, after) = changes.audit_values(&locked);
            let audit = AuditEvent {
                before: Some(before),
                after: Some(after),
                ..audit.clone()
            };
            let row = diesel::update(models::table.find(&model_id))
                .set(&changeset)
                .returning(ModelRow::as_returning())
                .get_result(conn)
                .await?;
            let model = Model::try_from(row)?;
            audit::record(conn, &audit).await?;
            let mut approved = Vec::new();
            if let Some(release) = release
                .as_ref()
                .filter(|_| was_restricted && !model.restricted)
            {
                approved = diesel::update(
                    subscriptions::table
                        .filter(subscriptions::model_id.eq(&model_id))
                        .filter(subscriptions::status.eq(SubscriptionStatus::Pending.as_str())),
                )
                .set((
                    subscriptions::status.eq(SubscriptionStatus::Active.as_str()),
                    subscriptions::status_reason.eq(None::<String>),
                    subscriptions::updated_at.eq(at),
                ))
                .returning(subscriptions::id)
                .get_results::<Uuid>(conn)
                .await?;
                approved.sort_unstable();
                let history: Vec<StatusHistoryRow<'_>> = approved
                    .iter()
                    .map(|sub| StatusHistoryRow {
                        subscription_id: *sub,
                        from_status: Some(SubscriptionStatus::Pending.as_str()),
                        to_status: SubscriptionStatus::Active.as_str(),
                        reason: Some(&release.reason),
                        actor: release.audit.actor.map(|a| a.0),
                        at,
                    })
                    .collect();
                // Well under PostgreSQL's 65,535 bind parameters at 6 per row.
                for chunk in history.chunks(1_000) {
                    diesel::insert_into(subscription_status_history::table)
                        .values(chunk)
                        .execute(conn)
                        .await?;
                }
                let events: Vec<AuditEvent> = approved
                    .iter()
                    .map(|sub| AuditEvent {
                        target_type: "subscription".to_owned(),
                        target_id: sub.to_string(),
                        before: Some(serde_json::json!({"status": "pending"})),
                        after: Some(serde_json::json!({
                            "status": "active",
                            "reason": release.reason,
                        })),
                        at,
                        ..release.audit.clone()
                    })
                    .collect();
                audit::record_all(conn, &events).await?;
            }
            Ok(ModelUpdated {
                model,
                approved: approved.into_iter().map(SubscriptionId).collect(),
            })
        })
        .await
        .map_err(StoreError::from)
    }
}

//! The rows of subscriptions: read, inserted, their quota changed, and their status history.

use super::columns::limits_changeset;
use super::columns::{model_id, LimitColumns};
use crate::error::corrupt;
use crate::schema::{subscription_status_history, subscriptions};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::subscriptions::{Subscription, SubscriptionStatus};
use keyport_domain::StoreError;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = subscriptions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SubscriptionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub model_id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;
    fn try_from(row: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(Subscription {
            id: row.id.into(),
            user_id: row.user_id.into(),
            model_id: model_id(row.model_id)?,
            status: SubscriptionStatus::parse(&row.status)
                .ok_or_else(|| corrupt("subscription status", &row.status))?,
            status_reason: row.status_reason,
            quota: LimitColumns {
                max_budget: row.max_budget,
                budget_duration: row.budget_duration,
                tpm_limit: row.tpm_limit,
                rpm_limit: row.rpm_limit,
            }
            .into_limits()?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = subscriptions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewSubscriptionRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub model_id: &'a str,
    pub status: &'a str,
    pub status_reason: Option<&'a str>,
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> NewSubscriptionRow<'a> {
    pub fn new(subscription: &'a Subscription) -> Result<Self, StoreError> {
        let quota = LimitColumns::from_limits(&subscription.quota)?;
        Ok(Self {
            id: subscription.id.0,
            user_id: subscription.user_id.0,
            model_id: subscription.model_id.as_str(),
            status: subscription.status.as_str(),
            status_reason: subscription.status_reason.as_deref(),
            max_budget: quota.max_budget,
            budget_duration: quota.budget_duration,
            tpm_limit: quota.tpm_limit,
            rpm_limit: quota.rpm_limit,
            created_at: subscription.created_at,
            updated_at: subscription.updated_at,
        })
    }
}

limits_changeset!(
    /// A new quota for a subscription; every field is written, `None` as `NULL` (unlimited).
    QuotaChangeset,
    subscriptions
);

#[derive(Debug, Insertable)]
#[diesel(table_name = subscription_status_history, check_for_backend(diesel::pg::Pg))]
pub(crate) struct StatusHistoryRow<'a> {
    pub subscription_id: Uuid,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub reason: Option<&'a str>,
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
}

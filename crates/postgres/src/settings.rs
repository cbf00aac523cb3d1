//! `SettingsStore`: the one row of self-service settings, and [`CachedSettings`], which keeps it in memory
//! for a few seconds so that creating a key does not cost one more query.

use crate::error::{diesel_error, Failure};
use crate::rows::LimitColumns;
use crate::schema::self_service_settings;
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::access::{InferenceRoutes, DEFAULT_MAX_LIVE_KEYS};
use keyport_domain::audit::AuditEvent;
use keyport_domain::settings::{SelfServiceSettings, SettingsStore};
use keyport_domain::StoreError;
use rust_decimal::Decimal;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = self_service_settings, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct SettingsRow {
    id: bool,
    subscription_max_budget: Option<Decimal>,
    subscription_budget_duration: Option<String>,
    subscription_tpm_limit: Option<i64>,
    subscription_rpm_limit: Option<i64>,
    key_default_max_budget: Option<Decimal>,
    key_default_budget_duration: Option<String>,
    key_default_tpm_limit: Option<i64>,
    key_default_rpm_limit: Option<i64>,
    key_max_max_budget: Option<Decimal>,
    key_max_budget_duration: Option<String>,
    key_max_tpm_limit: Option<i64>,
    key_max_rpm_limit: Option<i64>,
    key_default_lifetime_days: Option<i32>,
    key_max_lifetime_days: Option<i32>,
    updated_at: DateTime<Utc>,
    updated_by: Option<Uuid>,
    allowed_routes: Option<Vec<Option<String>>>,
    max_live_keys_per_user: Option<i32>,
    token_max_lifetime_days: Option<i32>,
}

fn days_to_column(days: Option<u32>) -> Result<Option<i32>, StoreError> {
    days.map(|d| {
        i32::try_from(d).map_err(|_| StoreError::Unexpected(format!("{d} days is too long")))
    })
    .transpose()
}

fn days_from_column(days: Option<i32>) -> Result<Option<u32>, StoreError> {
    days.map(|d| u32::try_from(d).map_err(|e| crate::error::corrupt("lifetime", e)))
        .transpose()
}

impl SettingsRow {
    fn new(
        settings: &SelfServiceSettings,
        at: DateTime<Utc>,
        by: Option<Uuid>,
    ) -> Result<Self, StoreError> {
        let sub = LimitColumns::from_limits(&settings.subscription_max_quota)?;
        let default = LimitColumns::from_limits(&settings.key_default_limits)?;
        let max = LimitColumns::from_limits(&settings.key_max_limits)?;
        Ok(Self {
            id: true,
            subscription_max_budget: sub.max_budget,
            subscription_budget_duration: sub.budget_duration,
            subscription_tpm_limit: sub.tpm_limit,
            subscription_rpm_limit: sub.rpm_limit,
            key_default_max_budget: default.max_budget,
            key_default_budget_duration: default.budget_duration,
            key_default_tpm_limit: default.tpm_limit,
            key_default_rpm_limit: default.rpm_limit,
            key_max_max_budget: max.max_budget,
            key_max_budget_duration: max.budget_duration,
            key_max_tpm_limit: max.tpm_limit,
            key_max_rpm_limit: max.rpm_limit,
            key_default_lifetime_days: days_to_column(settings.key_default_lifetime_days)?,
            key_max_lifetime_days: days_to_column(settings.key_max_lifetime_days)?,
            updated_at: at,
            updated_by: by,
            allowed_routes: Some(
                settings
                    .allowed_routes
                    .as_slice()
                    .iter()
                    .cloned()
                    .map(Some)
                    .collect(),
            ),
            token_max_lifetime_days: days_to_column(settings.token_max_lifetime_days)?,
            max_live_keys_per_user: Some(i32::try_from(settings.max_live_keys_per_user).map_err(
                |_| StoreError::Unexpected("max_live_keys_per_user is too large".into()),
            )?),
        })
    }

    fn into_settings(self) -> Result<SelfServiceSettings, StoreError> {
        Ok(SelfServiceSettings {
            subscription_max_quota: LimitColumns {
                max_budget: self.subscription_max_budget,
                budget_duration: self.subscription_budget_duration,
                tpm_limit: self.subscription_tpm_limit,
                rpm_limit: self.subscription_rpm_limit,
            }
            .into_limits()?,
            key_default_limits: LimitColumns {
                max_budget: self.key_default_max_budget,
                budget_duration: self.key_default_budget_duration,
                tpm_limit: self.key_default_tpm_limit,
                rpm_limit: self.key_default_rpm_limit,
            }
            .into_limits()?,
            key_max_limits: LimitColumns {
                max_budget: self.key_max_max_budget,
                budget_duration: self.key_max_budget_duration,
                tpm_limit: self.key_max_tpm_limit,
                rpm_limit: self.key_max_rpm_limit,
            }
            .into_limits()?,
            key_default_lifetime_days: days_from_column(self.key_default_lifetime_days)?,
            key_max_lifetime_days: days_from_column(self.key_max_lifetime_days)?,
            allowed_routes: match self.allowed_routes {
                None => InferenceRoutes::default(),
                Some(routes) => InferenceRoutes::parse(routes.into_iter().flatten().collect())
                    .map_err(|e| crate::error::corrupt("allowed_routes", e.message))?,
            },
            token_max_lifetime_days: days_from_column(self.token_max_lifetime_days)?,
            max_live_keys_per_user: match self.max_live_keys_per_user {
                None => DEFAULT_MAX_LIVE_KEYS,
                Some(n) => u32::try_from(n)
                    .map_err(|e| crate::error::corrupt("max_live_keys_per_user", e))?,
            },
        })
    }
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn get_settings(&self) -> Result<Option<SelfServiceSettings>, StoreError> {
        let mut conn = self.conn().await?;
        self_service_settings::table
            .select(SettingsRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(SettingsRow::into_settings)
            .transpose()
    }

    async fn put_settings(
        &self,
        settings: &SelfServiceSettings,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<SelfServiceSettings, StoreError> {
        let row = SettingsRow::new(settings, at, audit.actor.map(|a| a.0))?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let before = self_service_settings::table
                .select(SettingsRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .map(SettingsRow::into_settings)
                .transpose()?;
            let saved = diesel::insert_into(self_service_settings::table)
                .values(&row)
                .on_conflict(self_service_settings::id)
                .do_update()
                .set(&row)
                .returning(SettingsRow::as_returning())
                .get_result(conn)
                .await?
                .into_settings()?;
            let mut audit = audit.clone();
            if let Some(before) = before {
                audit.before = serde_json::to_value(&before).ok();
            }
            audit::record(conn, &audit).await?;
            Ok(saved)
        })
        .await
        .map_err(StoreError::from)
    }
}

/// Keeps the settings in memory for `ttl`; saving through it replaces what it holds at once, so this
/// process applies new settings immediately and other replicas within `ttl`.
pub struct CachedSettings<S> {
    inner: S,
    ttl: Duration,
    held: RwLock<Option<(Instant, Option<SelfServiceSettings>)>>,
}

impl<S> CachedSettings<S> {
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            held: RwLock::new(None),
        }
    }

    fn hold(&self, settings: Option<SelfServiceSettings>) {
        if let Ok(mut held) = self.held.write() {
            *held = Some((Instant::now(), settings));
        }
    }
}

#[async_trait]
impl<S: SettingsStore> SettingsStore for CachedSettings<S> {
    async fn get_settings(&self) -> Result<Option<SelfServiceSettings>, StoreError> {
        let fresh = self.held.read().ok().and_then(|held| {
            held.as_ref()
                .filter(|(read_at, _)| read_at.elapsed() < self.ttl)
                .map(|(_, settings)| settings.clone())
        });
        if let Some(settings) = fresh {
            return Ok(settings);
        }
        let settings = self.inner.get_settings().await?;
        self.hold(settings.clone());
        Ok(settings)
    }

    async fn put_settings(
        &self,
        settings: &SelfServiceSettings,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<SelfServiceSettings, StoreError> {
        let saved = self.inner.put_settings(settings, at, audit).await?;
        self.hold(Some(saved.clone()));
        Ok(saved)
    }
}

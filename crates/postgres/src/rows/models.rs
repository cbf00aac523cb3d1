//! The rows of models: `ModelRow` read, `CatalogModelRow` as a catalog sync inserts it.

use super::columns::{model_id, nullable_strings, strings, LimitColumns};
use crate::error::corrupt;
use crate::schema::models;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::catalog::{Availability, CatalogEntry, Model};
use keyport_domain::StoreError;
use rust_decimal::Decimal;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = models, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ModelRow {
    pub id: String,
    pub provider: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub capabilities: Vec<Option<String>>,
    pub context_window: Option<i64>,
    pub input_price_per_token: Option<Decimal>,
    pub output_price_per_token: Option<Decimal>,
    pub availability: String,
    pub restricted: bool,
    pub hidden: bool,
    pub default_max_budget: Option<Decimal>,
    pub default_budget_duration: Option<String>,
    pub default_tpm_limit: Option<i64>,
    pub default_rpm_limit: Option<i64>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl TryFrom<ModelRow> for Model {
    type Error = StoreError;
    fn try_from(row: ModelRow) -> Result<Self, StoreError> {
        Ok(Model {
            id: model_id(row.id)?,
            provider: row.provider,
            display_name: row.display_name,
            description: row.description,
            capabilities: strings(row.capabilities, "capability")?,
            context_window: row.context_window,
            input_price_per_token: row.input_price_per_token,
            output_price_per_token: row.output_price_per_token,
            availability: Availability::parse(&row.availability)
                .ok_or_else(|| corrupt("availability", &row.availability))?,
            restricted: row.restricted,
            hidden: row.hidden,
            default_quota: LimitColumns {
                max_budget: row.default_max_budget,
                budget_duration: row.default_budget_duration,
                tpm_limit: row.default_tpm_limit,
                rpm_limit: row.default_rpm_limit,
            }
            .into_limits()?,
            last_synced_at: row.last_synced_at,
        })
    }
}

/// A model as a catalog sync first inserts it: LiteLLM's fields, the id as display name, not restricted,
/// not hidden, no default quota. On conflict only LiteLLM's fields are refreshed.
#[derive(Debug, Insertable)]
#[diesel(table_name = models, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CatalogModelRow<'a> {
    pub id: &'a str,
    pub provider: Option<&'a str>,
    pub display_name: &'a str,
    pub capabilities: Vec<Option<&'a str>>,
    pub context_window: Option<i64>,
    pub input_price_per_token: Option<Decimal>,
    pub output_price_per_token: Option<Decimal>,
    pub availability: &'a str,
    pub last_synced_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> CatalogModelRow<'a> {
    pub fn new(entry: &'a CatalogEntry, synced_at: DateTime<Utc>) -> Self {
        Self {
            id: entry.id.as_str(),
            provider: entry.provider.as_deref(),
            display_name: entry.id.as_str(),
            capabilities: nullable_strings(&entry.capabilities),
            context_window: entry.context_window,
            input_price_per_token: entry.input_price_per_token,
            output_price_per_token: entry.output_price_per_token,
            availability: Availability::Available.as_str(),
            last_synced_at: synced_at,
            created_at: synced_at,
            updated_at: synced_at,
        }
    }
}

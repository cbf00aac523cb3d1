//! What the rows of several tables share: the four limit columns, and the conversions of single
//! columns (rates, `text[]`, model ids, key hashes) that refuse what the domain would.

use crate::error::corrupt;
use keyport_domain::ids::ModelId;
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::secret::KeyHash;
use keyport_domain::StoreError;
use rust_decimal::Decimal;

/// The four limit columns, as stored (`NULL` is unlimited).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LimitColumns {
    pub max_budget: Option<Decimal>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
}

impl LimitColumns {
    pub fn from_limits(limits: &Limits) -> Result<Self, StoreError> {
        Ok(Self {
            max_budget: limits.max_budget.map(Money::amount),
            budget_duration: limits.budget_duration.as_ref().map(ToString::to_string),
            tpm_limit: limits.tpm_limit.map(rate_to_column).transpose()?,
            rpm_limit: limits.rpm_limit.map(rate_to_column).transpose()?,
        })
    }

    pub fn into_limits(self) -> Result<Limits, StoreError> {
        Ok(Limits {
            max_budget: self
                .max_budget
                .map(|amount| Money::new(amount).map_err(|e| corrupt("max_budget", e)))
                .transpose()?,
            budget_duration: self
                .budget_duration
                .map(|d| BudgetDuration::parse(&d).map_err(|e| corrupt("budget_duration", e)))
                .transpose()?,
            tpm_limit: self.tpm_limit.map(rate_from_column).transpose()?,
            rpm_limit: self.rpm_limit.map(rate_from_column).transpose()?,
        })
    }
}

pub(super) fn rate_to_column(rate: u64) -> Result<i64, StoreError> {
    i64::try_from(rate)
        .map_err(|_| StoreError::Unexpected(format!("rate limit {rate} is too large")))
}

pub(super) fn rate_from_column(rate: i64) -> Result<u64, StoreError> {
    u64::try_from(rate).map_err(|e| corrupt("rate limit", e))
}

/// `text[]` columns are `Array<Nullable<Text>>` to diesel; the migrations refuse NULL elements.
pub(super) fn strings(values: Vec<Option<String>>, what: &str) -> Result<Vec<String>, StoreError> {
    values
        .into_iter()
        .map(|v| v.ok_or_else(|| corrupt(what, "NULL element")))
        .collect()
}

pub(crate) fn nullable_strings<S: AsRef<str>>(values: &[S]) -> Vec<Option<&str>> {
    values.iter().map(|v| Some(v.as_ref())).collect()
}

pub(super) fn model_id(value: String) -> Result<ModelId, StoreError> {
    ModelId::parse(value).map_err(|e| corrupt("model id", e))
}

pub(super) fn key_hash(value: &str) -> Result<KeyHash, StoreError> {
    KeyHash::parse(value).map_err(|e| corrupt("hash", e))
}

/// A changeset that writes all four limit columns of `$table` (every field, `None` as `NULL`: unlimited),
/// built from [`LimitColumns`]. diesel ties a changeset to one table, so keys and subscriptions each get
/// theirs from this one definition.
macro_rules! limits_changeset {
    ($(#[$doc:meta])* $name:ident, $table:ident) => {
        $(#[$doc])*
        #[derive(Debug, diesel::AsChangeset)]
        #[diesel(table_name = $table, treat_none_as_null = true)]
        pub(crate) struct $name {
            pub max_budget: Option<rust_decimal::Decimal>,
            pub budget_duration: Option<String>,
            pub tpm_limit: Option<i64>,
            pub rpm_limit: Option<i64>,
        }

        impl From<$crate::rows::LimitColumns> for $name {
            fn from(value: $crate::rows::LimitColumns) -> Self {
                Self {
                    max_budget: value.max_budget,
                    budget_duration: value.budget_duration,
                    tpm_limit: value.tpm_limit,
                    rpm_limit: value.rpm_limit,
                }
            }
        }
    };
}
pub(super) use limits_changeset;

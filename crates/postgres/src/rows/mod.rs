//! Rows as diesel reads and writes them, and their conversions to and from the domain's types. A row the
//! domain would refuse (an unknown status, a negative amount) converts to `StoreError::Unexpected`.
//! One module per table (or entity); the rest of the crate names them through the re-exports here.

mod access_tokens;
mod api_keys;
mod audit;
mod columns;
mod jobs;
mod models;
mod subscriptions;
mod users;

pub(crate) use access_tokens::AccessTokenRow;
pub(crate) use api_keys::{
    live_key_statuses, name_holding_statuses, ApiKeyRow, KeyLimitsChangeset, KeyLinkRow,
    NewApiKeyRow,
};
pub(crate) use audit::NewAuditRow;
pub(crate) use columns::LimitColumns;
pub(crate) use jobs::JobRow;
pub(crate) use models::{CatalogModelRow, ModelRow};
pub(crate) use subscriptions::{
    NewSubscriptionRow, QuotaChangeset, StatusHistoryRow, SubscriptionRow,
};
pub(crate) use users::{NewUserRow, UserRow};

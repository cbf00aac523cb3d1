//! The use cases, one per file. Each is a plain struct holding the ports it needs as `Arc<dyn …>`, with
//! an `execute` method; the API and the CLI call them and hold no business rules of their own.

mod authenticate;
mod cancel_subscription;
mod create_key;
mod create_user;
mod get_key;
mod list_keys;
mod list_models;
mod list_subscriptions;
mod revoke_key;
mod subscribe;
mod sync_catalog;

pub use authenticate::Authenticate;
pub use cancel_subscription::CancelSubscription;
pub use create_key::{CreateKey, CreateKeyRequest, CreatedKey, KeyPolicy};
pub use create_user::{CreateUser, CreateUserRequest, IssueAccessToken, IssuedToken};
pub use get_key::GetKey;
pub use list_keys::ListKeys;
pub use list_models::{GetModel, ListModels};
pub use list_subscriptions::{GetSubscription, ListSubscriptions};
pub use revoke_key::RevokeKey;
pub use subscribe::Subscribe;
pub use sync_catalog::{CatalogSyncReport, SyncCatalog};

#[cfg(test)]
pub(crate) mod fixtures;

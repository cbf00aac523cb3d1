//! keyport's core, grouped by aggregate: each folder (`keys`, `subscriptions`, `users`, `access`, `identity`,
//! `catalog`, `settings`, `audit`, `jobs`, `reconcile`) holds its model, its ports and its use cases, and
//! re-exports them, so `keyport_domain::keys::CreateKey` and `keyport_domain::keys::ApiKeyStore` sit side by
//! side. What several aggregates share sits at the top: ids, errors, money and limits, secrets, paging, the
//! LiteLLM gateway port and the runtime ports (clock, secret source, leadership). This crate performs no I/O
//! and knows nothing of actix-web, diesel or reqwest; the adapters depend on it, never the reverse.
//! docs/architecture.md has the map.

pub mod access;
pub mod audit;
pub mod catalog;
pub mod error;
pub mod gateway;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod paging;
pub mod reconcile;
pub mod runtime;
pub mod secret;
pub mod settings;
pub mod subscriptions;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod users;

#[cfg(test)]
pub(crate) mod fixtures;

pub use error::{ConflictKind, Error, FieldError, GatewayError, StoreError};

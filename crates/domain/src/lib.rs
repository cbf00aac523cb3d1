//! keyport's core: the entities (users, models, subscriptions, API keys), the value objects that can only be
//! built valid (money, limits, key secrets and their hashes), the ports through which the outside world is
//! reached (stores, the LiteLLM gateway, the clock, secret generation) and the use cases that tie them
//! together. This crate performs no I/O and knows nothing of actix-web, diesel or reqwest; the adapters depend
//! on it, never the reverse.

pub mod access;
pub mod admin;
pub mod api_key;
pub mod audit;
pub mod error;
pub mod ids;
pub mod job;
pub mod limits;
pub mod login;
pub mod model;
pub mod ports;
pub mod rate_limit;
pub mod reconcile_log;
pub mod secret;
pub mod session;
pub mod subscription;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod usecases;
pub mod user;

pub use error::{ConflictKind, Error, FieldError, GatewayError, StoreError};

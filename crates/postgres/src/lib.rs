//! keyport's PostgreSQL adapter: the one place that knows SQL. [`PgStore`] implements every store port of
//! `keyport-domain` (users, access tokens, models, subscriptions, API keys, jobs, the audit log and its hash
//! chain, leadership among replicas as an advisory lock, the rate limits' shared token buckets) over a pool
//! of diesel-async connections, so no blocking database call ever runs on an actix worker thread. The schema is owned by the versioned migrations in
//! `migrations/` at the workspace root, embedded here and applied by [`run_migrations`]; `schema.rs` is generated from them by diesel and checked by `scripts/check-schema.sh`.
//! Each mutating method commits its change and its audit event in one transaction; database constraints
//! (named in the migrations) are what makes illegal states impossible, and their violations come back as the
//! domain's [`StoreError`](keyport_domain::StoreError)s. Changes LiteLLM must follow queue a job (the
//! outbox, `jobs`) in the same transaction.

mod access;
mod access_tokens;
mod admin_approvals;
mod admin_keys;
mod admin_users;
mod api_keys;
mod audit;
mod audit_chain;
mod error;
mod identity;
mod jobs;
mod leadership;
mod migrations;
mod models;
mod rate_limits;
mod reconcile_runs;
mod roles;
mod rows;
pub mod schema;
mod sessions;
mod settings;
mod store;
mod subscriptions;
mod users;

pub use migrations::{run_migrations, APP_ROLE, MIGRATIONS, MIGRATIONS_FINGERPRINT};
pub use roles::AuditExposure;
pub use settings::CachedSettings;
pub use store::{connect, PgPool, PgStore};

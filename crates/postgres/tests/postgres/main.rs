//! The PostgreSQL adapter against a real PostgreSQL: every test has a database of its own
//! (`keyport_testkit::TestDb`), so they run in parallel. One test binary, one module per store.

mod access;
mod access_tokens;
mod admin;
mod api_keys;
mod audit_chain;
mod cascade;
mod common;
mod constraints;
mod identity;
mod jobs;
mod key_cap;
mod key_lifecycle;
mod leadership;
mod migrations;
mod models;
mod rate_limits;
mod reconcile_runs;
mod reconciler;
mod sessions;
mod subscriptions;
mod users;

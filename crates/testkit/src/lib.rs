//! Test support shared by keyport's test suites (a dev-dependency only, never linked into the server).
//!
//! - [`TestDb`] (in [`db`]): a fresh PostgreSQL database per test, copied in milliseconds from a template
//!   that holds exactly the embedded migrations (built once per migration set, under an advisory lock, by
//!   whichever test process comes first) and dropped with the value, so tests run in parallel and leave
//!   nothing behind. It hands out a [`keyport_postgres::PgStore`], its pool for tests that run their own
//!   SQL, and a URL as the unprivileged [`db::SERVE_ROLE`] for tests that serve as `keyport serve` does.
//!   The server comes from `KEYPORT_TEST_DATABASE_URL` (see [`db::server_url`]).
//! - [`double`]: the in-process LiteLLM double (`keyport-litellm-double`), for tests that need a LiteLLM
//!   proxy with its keys, users, spend and injectable faults.

pub mod db;
pub mod double;

pub use db::TestDb;

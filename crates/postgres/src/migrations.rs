//! The embedded migrations and how they are applied.

use crate::error::{connection_error, diesel_error};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use keyport_domain::StoreError;

/// Every migration in the workspace's `migrations/` directory, compiled in.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A fingerprint of the embedded migrations (names and SQL), e.g. to name a template database that holds
/// exactly this schema.
pub const MIGRATIONS_FINGERPRINT: &str = env!("KEYPORT_MIGRATIONS_FINGERPRINT");

/// Serialises migration runs across replicas starting at the same time (the value spells "keyport").
const MIGRATION_LOCK: i64 = 0x006b_6579_706f_7274;

/// Applies the pending migrations to the database at `database_url` and answers the versions applied, in
/// order. Concurrent callers (replicas starting together) wait for each other on an advisory lock.
///
/// diesel's migration harness is synchronous: it runs on a blocking thread through diesel-async's
/// [`AsyncConnectionWrapper`], never on the async executor.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, StoreError> {
    let database_url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&database_url)
            .map_err(connection_error)?;
        diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<BigInt, _>(MIGRATION_LOCK)
            .execute(&mut conn)
            .map_err(diesel_error)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| StoreError::Unexpected(format!("migration failed: {e}")));
        // Closing the connection releases the lock too; unlocking first keeps the session reusable in
        // principle and the intent explicit.
        let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(MIGRATION_LOCK)
            .execute(&mut conn)
            .map_err(diesel_error);
        let applied = applied?;
        unlocked?;
        Ok(applied)
    })
    .await
    .map_err(|e| StoreError::Unexpected(format!("migration task failed: {e}")))?
}

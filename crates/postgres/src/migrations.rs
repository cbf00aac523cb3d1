//! The embedded migrations and how they are applied.

use crate::error::{connection_error, diesel_error};
use diesel::sql_types::{BigInt, Bool};
use diesel::{QueryableByName, RunQueryDsl};
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

/// The group role `keyport serve` may run as (through a LOGIN role that is a member of it): see migration
/// `2026-12-05-000012_serve_role` and docs/security.md.
pub const APP_ROLE: &str = "keyport_app";

#[derive(QueryableByName)]
struct Granted {
    #[diesel(sql_type = Bool)]
    granted: bool,
}

/// Applies the pending migrations to the database at `database_url` and answers the versions applied, in
/// order. Concurrent callers (replicas starting together) wait for each other on an advisory lock.
///
/// Then, migrations or not, it gives [`APP_ROLE`] its privileges again on every table and sequence
/// (`keyport_grant_app_role()`), so that tables of later migrations are covered and a role the DBA created
/// after the migrations ran gets its grants. Run it as the tables' owner.
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
            .map_err(|e| StoreError::Unexpected(format!("migration failed: {e}")))
            .and_then(|applied| {
                grant_app_role(&mut conn)?;
                Ok(applied)
            });
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

fn grant_app_role(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> Result<(), StoreError> {
    let granted = diesel::sql_query("SELECT keyport_grant_app_role() AS granted")
        .get_result::<Granted>(conn)
        .map_err(diesel_error)?
        .granted;
    if granted {
        tracing::debug!(role = APP_ROLE, "serve role privileges granted");
    } else {
        tracing::warn!(
            role = APP_ROLE,
            "role {APP_ROLE} does not exist and the migrating role may not create it: a serve role has no privileges yet (docs/security.md#database-roles)"
        );
    }
    Ok(())
}

//! `Leadership`: one leader among replicas, as a PostgreSQL session-level advisory lock.
//!
//! [`PgStore::try_lead`] takes a connection *out of* the pool (it no longer counts against the pool's size,
//! and never goes back) and asks `pg_try_advisory_lock` on it, with a 64-bit key derived from the name
//! (FNV-1a, stable across builds and PostgreSQL versions, unlike `hashtext`). When the lock is granted the
//! connection becomes the [`LeaderGuard`]; dropping the guard closes the connection, and PostgreSQL releases
//! a session's advisory locks when the session ends. When it is not granted, the connection is closed at
//! once. The connection is taken out before asking, so that a cancelled `try_lead` closes it too and can
//! never leave the lock on a pooled connection.
//!
//! A session lock needs a real session: between keyport and PostgreSQL there must not be a pooler in
//! transaction mode. Leadership also ends, without the guard noticing, when its connection is lost (a
//! network failure, a restarted or a terminating server); another replica may then lead. Hold a guard for
//! a bounded stretch of work (e.g. one reconciliation pass) and keep that work idempotent.

use crate::error::diesel_error;
use crate::PgStore;
use async_trait::async_trait;
use diesel::sql_types::BigInt;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use keyport_domain::runtime::{LeaderGuard, Leadership};
use keyport_domain::StoreError;

diesel::define_sql_function! {
    /// Takes the session-level advisory lock `key` if nobody holds it; never waits.
    fn pg_try_advisory_lock(key: BigInt) -> Bool;
}

/// Names are hashed under this prefix, so that they do not collide with the other advisory locks keyport
/// takes (migrations, test templates).
const NAMESPACE: &str = "keyport.leadership:";

/// The advisory lock key of a leadership name: FNV-1a (64 bits) of the namespaced name.
pub(crate) fn lock_key(name: &str) -> i64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for byte in NAMESPACE.bytes().chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

/// What a [`LeaderGuard`] holds: the connection whose session holds the lock. Dropping it closes the
/// connection (diesel-async shuts the connection task down), which releases the lock.
struct Leader {
    _connection: AsyncPgConnection,
}

#[async_trait]
impl Leadership for PgStore {
    async fn try_lead(&self, name: &str) -> Result<Option<LeaderGuard>, StoreError> {
        let mut connection = Object::take(self.conn().await?);
        let granted = diesel::select(pg_try_advisory_lock(lock_key(name)))
            .get_result::<bool>(&mut connection)
            .await
            .map_err(diesel_error)?;
        Ok(granted.then(|| {
            tracing::info!(name, "leading");
            LeaderGuard(Box::new(Leader {
                _connection: connection,
            }))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_differ_per_name() {
        assert_eq!(lock_key("reconciler"), lock_key("reconciler"));
        assert_ne!(lock_key("reconciler"), lock_key("expiry"));
        // FNV-1a of the empty string is its offset basis; the namespace moves it.
        assert_ne!(
            lock_key(""),
            i64::from_be_bytes(0xcbf2_9ce4_8422_2325_u64.to_be_bytes())
        );
    }
}

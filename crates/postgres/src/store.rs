//! The connection pool and the store that holds it.

use crate::error::{diesel_error, pool_error};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use keyport_domain::StoreError;
use std::fmt;
use std::time::Duration;

/// A pool of asynchronous PostgreSQL connections.
pub type PgPool = Pool<AsyncPgConnection>;

/// How long a request waits for a connection, and how long opening one may take, before the store answers
/// `Unavailable` rather than hanging.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// keyport's stores over PostgreSQL. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

/// Opens a pool of at most `max_size` connections to `database_url` and checks that the database answers.
/// Requests wait at most 5 s for a connection and then get `StoreError::Unavailable`.
pub async fn connect(database_url: &str, max_size: usize) -> Result<PgStore, StoreError> {
    let mut config = ManagerConfig::default();
    // Checking out a connection must not cost a round trip on the hot path: a pooled connection is only
    // checked for a dangling transaction (e.g. after a cancelled request), and a dead one fails its first
    // query and is then discarded.
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let pool = Pool::builder(manager)
        .max_size(max_size.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|e| StoreError::Unexpected(format!("cannot build the connection pool: {e}")))?;
    let store = PgStore::new(pool);
    store.ping().await?;
    Ok(store)
}

impl PgStore {
    /// A store over an existing pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.batch_execute("SELECT 1").await.map_err(diesel_error)
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

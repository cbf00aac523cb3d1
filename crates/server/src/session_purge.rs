//! The session purge of `keyport serve`: ended and expired sessions and logins in progress are deleted every
//! few minutes.

use keyport_domain::identity::SessionStore;
use keyport_postgres::PgStore;
use std::sync::Arc;
use std::time::Duration;

/// How often the purge runs.
const EVERY: Duration = Duration::from_secs(300);

/// Starts the purge on the current (actix) runtime; a session idle longer than `idle` counts as expired.
pub fn spawn(store: Arc<PgStore>, idle: chrono::TimeDelta) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(EVERY);
        loop {
            ticker.tick().await;
            match store.purge_expired(chrono::Utc::now(), idle).await {
                Ok(0) => {}
                Ok(gone) => tracing::debug!(gone, "expired sessions purged"),
                Err(error) => tracing::warn!(%error, "purging expired sessions failed"),
            }
        }
    });
}

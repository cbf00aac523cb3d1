//! The catalog sync of `keyport serve`: once at start (a failure there is logged and the catalog is served as
//! stored), then every few minutes in the background.

use crate::wiring::Wiring;
use keyport_domain::catalog::SyncCatalog;
use std::time::Duration;

/// The sync at start.
pub async fn at_start(wiring: &Wiring) {
    match wiring.sync_catalog().execute().await {
        Ok(report) => tracing::info!(
            added = report.added.len(),
            updated = report.updated.len(),
            unchanged = report.unchanged,
            unavailable = report.now_unavailable.len(),
            "catalog synced"
        ),
        Err(error) => {
            tracing::warn!(%error, "catalog sync at start failed; serving the catalog as stored")
        }
    }
}

/// Starts the periodic sync on the current (actix) runtime: every `every`, the first one `every` after start
/// (the sync at start covers now). Logs at info only when the catalog changed.
pub fn spawn(sync: SyncCatalog, every: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match sync.execute().await {
                Ok(report)
                    if !report.added.is_empty()
                        || !report.updated.is_empty()
                        || !report.now_unavailable.is_empty() =>
                {
                    tracing::info!(
                        added = report.added.len(),
                        updated = report.updated.len(),
                        unavailable = report.now_unavailable.len(),
                        "catalog synced"
                    )
                }
                Ok(_) => tracing::debug!("catalog unchanged"),
                Err(error) => tracing::warn!(%error, "periodic catalog sync failed"),
            }
        }
    });
}

//! The rate-limit pruning of `keyport serve`: buckets that are full again are deleted every minute (a full
//! bucket and a missing one answer the same).

use actix_web::web;
use keyport_api::ApiState;
use std::time::Duration;

/// How often the pruning runs.
const EVERY: Duration = Duration::from_secs(60);

/// Starts the pruning of `state`'s rate limits on the current (actix) runtime.
pub fn spawn(state: web::Data<ApiState>) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(EVERY);
        loop {
            ticker.tick().await;
            match state.limits.prune().await {
                Ok(0) => {}
                Ok(gone) => tracing::debug!(gone, "idle rate-limit buckets pruned"),
                Err(error) => tracing::warn!(%error, "pruning rate-limit buckets failed"),
            }
        }
    });
}

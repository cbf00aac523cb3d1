//! `RateLimitStore`: token buckets in `rate_limits`, shared by every replica.
//!
//! A take is one `INSERT … ON CONFLICT DO UPDATE … RETURNING`: a new bucket is inserted full less the token
//! taken; an existing one is refilled for the time since it was last touched, capped at the burst, and loses
//! a token when it has one. Concurrent takes of one bucket (from any replica) queue on the row's lock and each
//! sees the row the one before left, so no more are granted than the bucket held. The time is the database's
//! (`now()`), one clock for all replicas; a take that waited for the lock sees a `now()` earlier than the row's
//! and refills nothing for it (conservative, never generous). The arithmetic is [`RateLimit::take`]'s.

use crate::error::diesel_error;
use crate::PgStore;
use async_trait::async_trait;
use diesel::sql_types::{Bool, Double, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use keyport_domain::identity::RateLimitStore;
use keyport_domain::identity::{RateDecision, RateLimit};
use keyport_domain::StoreError;
use std::time::Duration;

/// What a take left in the bucket, and whether it took a token.
#[derive(Debug, QueryableByName)]
struct Taken {
    #[diesel(sql_type = Double)]
    tokens: f64,
    #[diesel(sql_type = Bool)]
    granted: bool,
}

/// `$1` limiter, `$2` address group, `$3` capacity (burst), `$4` tokens regained per second.
const TAKE: &str = "\
INSERT INTO rate_limits AS b (limiter, address_group, tokens, granted, updated_at) \
VALUES ($1, $2, $3 - 1, true, now()) \
ON CONFLICT (limiter, address_group) DO UPDATE SET (tokens, granted, updated_at) = ( \
    SELECT CASE WHEN r.tokens >= 1 THEN r.tokens - 1 ELSE r.tokens END, \
           r.tokens >= 1, \
           GREATEST(b.updated_at, now()) \
    FROM (SELECT LEAST($3, b.tokens + $4 * GREATEST(0, EXTRACT(EPOCH FROM now() - b.updated_at))::float8) \
          AS tokens) AS r) \
RETURNING tokens, granted";

#[async_trait]
impl RateLimitStore for PgStore {
    async fn take(
        &self,
        limiter: &str,
        group: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, StoreError> {
        if !limit.enabled() {
            return Ok(RateDecision::Granted);
        }
        let mut conn = self.conn().await?;
        let taken: Taken = diesel::sql_query(TAKE)
            .bind::<Text, _>(limiter)
            .bind::<Text, _>(group)
            .bind::<Double, _>(limit.capacity())
            .bind::<Double, _>(limit.per_second())
            .get_result(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(if taken.granted {
            RateDecision::Granted
        } else {
            RateDecision::Refused {
                retry_after: limit.retry_after(taken.tokens),
            }
        })
    }

    async fn prune(&self, limiter: &str, idle: Duration) -> Result<u64, StoreError> {
        // Capped so that an idle time of "forever" (a limit turned off) stays a valid interval.
        let idle = idle.min(Duration::from_secs(365 * 24 * 3600)).as_secs_f64();
        let mut conn = self.conn().await?;
        let gone = diesel::sql_query(
            "DELETE FROM rate_limits \
             WHERE limiter = $1 AND updated_at < now() - make_interval(secs => $2)",
        )
        .bind::<Text, _>(limiter)
        .bind::<Double, _>(idle)
        .execute(&mut conn)
        .await
        .map_err(diesel_error)?;
        Ok(u64::try_from(gone).unwrap_or(u64::MAX))
    }
}

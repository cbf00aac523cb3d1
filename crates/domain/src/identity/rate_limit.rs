//! Rate limits as token buckets: the arithmetic every implementation of
//! [`RateLimitStore`](crate::identity::RateLimitStore) shares (the in-memory one computes with it, the PostgreSQL
//! one computes the same in SQL and is tested against it).
//!
//! A bucket holds at most `burst` tokens and gains `per_minute / 60` tokens a second; each counted event takes
//! one token, and an event that finds less than one token is refused (and takes nothing). A bucket nobody
//! touched for [`RateLimit::full_after`] is full again, exactly like a bucket never seen, so forgetting it
//! loses nothing.

use crate::error::StoreError;
use std::time::Duration;

use async_trait::async_trait;

/// The size and refill rate of one limiter's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens regained per minute; 0 turns the limit off.
    pub per_minute: u32,
    /// Tokens a full bucket holds: how many events may come at once (at least 1).
    pub burst: u32,
}

/// What one take from a bucket answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateDecision {
    Granted,
    /// No token left; the next one comes after `retry_after`.
    Refused {
        retry_after: Duration,
    },
}

impl RateDecision {
    pub fn is_granted(&self) -> bool {
        matches!(self, Self::Granted)
    }
}

impl RateLimit {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute,
            burst: burst.max(1),
        }
    }

    /// Whether the limit applies at all (`per_minute` > 0).
    pub fn enabled(&self) -> bool {
        self.per_minute > 0
    }

    /// Tokens a full bucket holds.
    pub fn capacity(&self) -> f64 {
        f64::from(self.burst.max(1))
    }

    /// Tokens regained per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// How long an untouched bucket takes to be full again from empty: buckets idle for longer may be
    /// forgotten without changing any answer. `Duration::MAX` when the limit is off.
    pub fn full_after(&self) -> Duration {
        if !self.enabled() {
            return Duration::MAX;
        }
        Duration::from_secs_f64(self.capacity() / self.per_second())
    }

    /// The tokens of a bucket that held `tokens` `elapsed_secs` ago, refilled (never above the capacity).
    pub fn refill(&self, tokens: f64, elapsed_secs: f64) -> f64 {
        (tokens + elapsed_secs.max(0.0) * self.per_second()).min(self.capacity())
    }

    /// One take from a bucket that held `tokens` `elapsed_secs` ago: the tokens it holds now, and the answer.
    /// A new bucket is `take(capacity(), 0.0)`.
    pub fn take(&self, tokens: f64, elapsed_secs: f64) -> (f64, RateDecision) {
        let now = self.refill(tokens, elapsed_secs);
        if now >= 1.0 {
            (now - 1.0, RateDecision::Granted)
        } else {
            (
                now,
                RateDecision::Refused {
                    retry_after: self.retry_after(now),
                },
            )
        }
    }

    /// How long a bucket holding `tokens` (< 1) waits for its next token.
    pub fn retry_after(&self, tokens: f64) -> Duration {
        let missing = (1.0 - tokens).max(0.0);
        if !self.enabled() || missing == 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(missing / self.per_second())
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let secs = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_bucket_grants_the_burst_then_refuses_until_a_token_is_regained() {
        let limit = RateLimit::new(6, 3);
        let mut tokens = limit.capacity();
        for _ in 0..3 {
            let (left, decision) = limit.take(tokens, 0.0);
            assert_eq!(decision, RateDecision::Granted);
            tokens = left;
        }
        assert_eq!(tokens, 0.0);
        // 6 a minute: one token every 10 s.
        let (left, decision) = limit.take(tokens, 4.0);
        assert_eq!(
            decision,
            RateDecision::Refused {
                retry_after: Duration::from_secs(6)
            }
        );
        assert!((left - 0.4).abs() < 1e-9, "a refusal takes nothing: {left}");
        let (left, decision) = limit.take(left, 6.0);
        assert_eq!(decision, RateDecision::Granted);
        assert!(left.abs() < 1e-9, "{left}");
    }

    #[test]
    fn refilling_stops_at_the_capacity_and_ignores_time_going_backwards() {
        let limit = RateLimit::new(60, 5);
        assert_eq!(limit.refill(0.0, 3600.0), 5.0);
        assert_eq!(limit.refill(2.0, -10.0), 2.0);
        assert_eq!(limit.refill(2.0, 1.5), 3.5);
        assert_eq!(limit.full_after(), Duration::from_secs(5));
    }

    #[test]
    fn a_zero_burst_is_one_and_a_zero_rate_is_off() {
        let limit = RateLimit::new(60, 0);
        assert_eq!(limit.capacity(), 1.0);
        assert!(!RateLimit::new(0, 10).enabled());
        assert_eq!(RateLimit::new(0, 10).full_after(), Duration::MAX);
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
        assert_eq!(retry_after_secs(Duration::from_millis(6001)), 7);
    }
}

/// Token buckets shared by every replica (see [`RateLimit`]): one per limiter (`login`,
/// `auth_failures`) and client address group. Only counted events (failed authentications, calls to the
/// login endpoints) reach it, never a request with a valid credential.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes one token from the bucket of `group` under `limiter`, sized by `limit`, as one atomic step: of
    /// any number of concurrent takes, by any number of processes, at most as many are granted as the bucket
    /// held. A bucket not seen before starts full. MUST take nothing when it refuses.
    async fn take(
        &self,
        limiter: &str,
        group: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, StoreError>;
    /// Forgets the buckets of `limiter` untouched for at least `idle` (pass [`RateLimit::full_after`]: they
    /// are full again, so forgetting them changes no answer); answers how many.
    async fn prune(&self, limiter: &str, idle: std::time::Duration) -> Result<u64, StoreError>;
}

//! Per-address rate limits against brute force: a token bucket per client address, in this process's
//! memory (each replica limits on its own, so N replicas allow N times the rate; the limits are sized so
//! that this still defeats guessing a 190-bit secret or hammering the identity provider).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept at most; when more addresses are seen, full (idle) buckets are forgotten first.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per address: `burst` at once, refilled at `per_minute`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        self.per_second > 0.0
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
    }

    fn retry_after(&self, bucket: &Bucket) -> u64 {
        let missing = (1.0 - bucket.tokens).max(0.0);
        (missing / self.per_second).ceil().max(1.0) as u64
    }

    fn with_bucket<T>(&self, addr: IpAddr, f: impl FnOnce(&Self, &mut Bucket) -> T) -> T {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&addr) {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, b| now.saturating_duration_since(b.updated) < full_after);
            if buckets.len() >= MAX_TRACKED {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        self.refill(bucket, now);
        f(self, bucket)
    }

    /// Takes one token: `Err(seconds to wait)` when none is left. Requests without an address pass.
    pub fn hit(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let (Some(addr), true) = (addr, self.enabled()) else {
            return Ok(());
        };
        self.with_bucket(addr, |this, bucket| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(this.retry_after(bucket))
            }
        })
    }

    /// Whether the address has a token left, without taking it.
    pub fn check(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let (Some(addr), true) = (addr, self.enabled()) else {
            return Ok(());
        };
        self.with_bucket(addr, |this, bucket| {
            if bucket.tokens >= 1.0 {
                Ok(())
            } else {
                Err(this.retry_after(bucket))
            }
        })
    }

    /// Takes a token if there is one (a failure to count); never refuses.
    pub fn record(&self, addr: Option<IpAddr>) {
        let _ = self.hit(addr);
    }
}

/// The limits the API applies.
#[derive(Debug)]
pub struct Limits {
    /// Calls to the login endpoints (start, callback, development login).
    pub login: RateLimiter,
    /// Failed authentications (unknown, expired or malformed tokens and session cookies).
    pub failures: RateLimiter,
}

impl Limits {
    pub fn new(login_per_minute: u32, failures_per_minute: u32) -> Self {
        Self {
            login: RateLimiter::new(login_per_minute, login_per_minute.max(1)),
            failures: RateLimiter::new(failures_per_minute, failures_per_minute.max(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn a_burst_passes_then_the_address_waits_while_others_do_not() {
        let limiter = RateLimiter::new(6, 3);
        for _ in 0..3 {
            assert_eq!(limiter.hit(addr(1)), Ok(()));
        }
        // One token comes back every 10 s at 6 per minute.
        let wait = limiter.hit(addr(1)).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(limiter.check(addr(1)), Err(wait));
        assert_eq!(limiter.hit(addr(2)), Ok(()));
        assert_eq!(limiter.hit(None), Ok(()));
    }

    #[test]
    fn recording_failures_blocks_after_the_burst_and_zero_turns_it_off() {
        let limiter = RateLimiter::new(60, 2);
        assert_eq!(limiter.check(addr(1)), Ok(()));
        limiter.record(addr(1));
        limiter.record(addr(1));
        assert!(limiter.check(addr(1)).is_err());
        let off = RateLimiter::new(0, 1);
        for _ in 0..100 {
            assert_eq!(off.hit(addr(1)), Ok(()));
        }
    }
}

//! How to reach LiteLLM: where, with which master key, how long to wait, how often to retry.

use std::fmt;
use std::time::Duration;
use url::Url;

/// LiteLLM's master key. It is never printed: `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(String);

impl MasterKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key itself, for the one place that puts it in a header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Parses a master key from configuration (a flag or `LITELLM_MASTER_KEY`); an empty value is refused.
impl std::str::FromStr for MasterKey {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            Err("the LiteLLM master key is empty".into())
        } else {
            Ok(Self(value.to_owned()))
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Retries of idempotent calls (`key_info`, `update_key`, `block_key`, `unblock_key`, `delete_key`,
/// `list_keys`, `model_catalog`) after an `Unavailable` answer. `generate_key` is never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub base_delay: Duration,
    /// Cap on a single delay.
    pub max_delay: Duration,
}

impl RetryPolicy {
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// The delay before retry number `retry` (0-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// The adapter's configuration.
#[derive(Debug, Clone)]
pub struct LiteLlmConfig {
    /// LiteLLM's base URL, e.g. `http://litellm:4000` (a path prefix is kept).
    pub base_url: Url,
    pub master_key: MasterKey,
    /// Limit for a whole call, connection included (default 10 s).
    pub timeout: Duration,
    /// Limit for establishing the connection (default 3 s).
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept for reuse (default 3 s): below LiteLLM's keep-alive
    /// (uvicorn closes idle connections after 5 s), so that keyport never reuses a connection LiteLLM is
    /// closing at that moment.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

impl LiteLlmConfig {
    pub fn new(base_url: Url, master_key: MasterKey) -> Self {
        Self {
            base_url,
            master_key,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(3),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_key_never_shows_in_debug_output() {
        let config = LiteLlmConfig::new(
            Url::parse("http://localhost:4000").unwrap(),
            MasterKey::new("sk-super-secret-master"),
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("super-secret"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        let delays: Vec<_> = (0..4).map(|r| policy.delay(r).as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
    }
}

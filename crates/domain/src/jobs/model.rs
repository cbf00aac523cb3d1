//! Durable work for LiteLLM (the outbox): a job is written in the same transaction as the state change it
//! serves, claimed by a worker with `FOR UPDATE SKIP LOCKED`, retried with backoff and, after too many
//! attempts, kept as `dead` with its last error for administrators to see.

use crate::ids::{ApiKeyId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Bring LiteLLM in line with the key's row: update models, limits, expiry and blocked state for a live
    /// key; delete a revoked, expired or retired one. Idempotent: it reads both sides and acts on the
    /// difference, so running it twice, or after a crash half way, is safe.
    ConvergeKey,
    /// Bring LiteLLM in line with a user's subscriptions: role, reachable models, per-model spend pools and
    /// the team that pools rates (docs/quotas.md). Idempotent like `ConvergeKey`.
    ConvergeUser,
}

impl JobKind {
    /// Every value, in the order the API documents them.
    pub const ALL: [JobKind; 2] = [JobKind::ConvergeKey, JobKind::ConvergeUser];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConvergeKey => "converge_key",
            Self::ConvergeUser => "converge_user",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "converge_key" => Some(Self::ConvergeKey),
            "converge_user" => Some(Self::ConvergeUser),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    /// Claimed by a worker until its lease ends; a worker that died lets the lease run out and the job is
    /// claimed again.
    Running,
    Done,
    /// Gave up after the maximum number of attempts; the last error is kept.
    Dead,
}

impl JobStatus {
    /// Every value, in the order the API documents them.
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub api_key_id: Option<ApiKeyId>,
    /// The user a `ConvergeUser` job is about.
    pub user_id: Option<UserId>,
    pub status: JobStatus,
    /// Attempts started so far, the current one included.
    pub attempts: u32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How many jobs are in each state, for the admin view and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobSummary {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// Retry schedule: exponential backoff from `base`, capped at `max`, with a jitter of up to ±25% so that
/// jobs failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::seconds(2),
            max: Duration::minutes(10),
            max_attempts: 12,
        }
    }
}

impl Backoff {
    /// When to retry after `attempts` failed attempts, or `None` to give up. `jitter` is a number in
    /// `[0, 1)` (random in production, fixed in tests).
    pub fn next_run(
        &self,
        attempts: u32,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exponent = attempts.saturating_sub(1).min(30);
        let raw = self
            .base
            .num_milliseconds()
            .saturating_mul(1_i64 << exponent);
        let capped = raw.min(self.max.num_milliseconds()) as f64;
        let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
        Some(now + Duration::milliseconds((capped * factor) as i64))
    }
}

/// A LiteLLM failure inside a job: the job retries it.
pub(crate) fn job_error(error: crate::GatewayError) -> crate::Error {
    match error {
        crate::GatewayError::Unavailable(detail) => crate::Error::GatewayUnavailable { detail },
        other => crate::Error::GatewayRejected(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_gives_up_after_the_last_attempt() {
        let b = Backoff::default();
        let now = Utc::now();
        let delay = |attempts| (b.next_run(attempts, now, 0.5).unwrap() - now).num_milliseconds();
        assert_eq!(delay(1), 2_000);
        assert_eq!(delay(2), 4_000);
        assert_eq!(delay(3), 8_000);
        assert_eq!(delay(11), 600_000);
        assert_eq!(b.next_run(12, now, 0.5), None);
        let low = (b.next_run(1, now, 0.0).unwrap() - now).num_milliseconds();
        let high = (b.next_run(1, now, 0.999).unwrap() - now).num_milliseconds();
        assert!(low == 1_500 && high > 2_450, "{low} {high}");
    }
}

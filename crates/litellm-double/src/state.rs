//! The double's memory: live keys (LiteLLM_VerificationToken), the archive of deleted keys
//! (LiteLLM_DeletedVerificationToken), users (LiteLLM_UserTable), spend logs, the calls received and the
//! faults waiting to fire.
//! Everything sits behind one mutex that is never held across an `.await`.

use crate::config::DoubleConfig;
use crate::faults::ArmedFault;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

/// LiteLLM's status of a key, as `/key/info` reports it (1.108.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    /// Blocked (`blocked: true`), whether or not also expired.
    Revoked,
    Deleted,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Deleted => "deleted",
        }
    }
}

/// A virtual key as the double stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// `token`: sha256 hex of the raw key.
    pub hash: String,
    /// `sk-...` + the raw key's last 4 characters.
    pub key_name: String,
    pub alias: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    /// Allowed model names; empty means every model.
    pub models: Vec<String>,
    /// `null` unless set.
    pub blocked: Option<bool>,
    pub metadata: serde_json::Value,
    /// Spend in the current budget window.
    pub spend: f64,
    /// Lifetime spend.
    pub total_spend: f64,
    pub model_spend: BTreeMap<String, f64>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub expires: Option<DateTime<Utc>>,
    pub key_type: String,
    /// The routes the key may call (`allowed_routes`); empty means no restriction beyond its owner's role.
    pub allowed_routes: Vec<String>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_active: Option<DateTime<Utc>>,
}

impl KeyRecord {
    pub fn is_blocked(&self) -> bool {
        self.blocked == Some(true)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|at| at < now)
    }

    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.is_blocked() {
            KeyStatus::Revoked
        } else if self.is_expired(now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// Starts a new budget window when the reset time has passed, as LiteLLM's reset job does: `spend`
    /// goes back to zero (`total_spend` keeps counting) and the next reset is scheduled.
    pub fn reset_budget_if_due(&mut self, now: DateTime<Utc>) {
        let Some(reset_at) = self.budget_reset_at.filter(|at| *at <= now) else {
            return;
        };
        self.spend = 0.0;
        self.budget_reset_at = self
            .budget_duration
            .as_deref()
            .and_then(|d| crate::duration::parse(d).ok())
            .map(|span| span.next_reset(now.max(reset_at)));
    }

    /// Whether the key may call `model` (`[]`, `*` and `all-proxy-models` allow everything).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty()
            || self
                .models
                .iter()
                .any(|m| m == model || m == "*" || m == "all-proxy-models")
    }
}

/// A user (`LiteLLM_UserTable`) as the double stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub user_id: String,
    pub user_email: Option<String>,
    pub user_alias: Option<String>,
    pub user_role: Option<String>,
    /// Model names the user may call; empty means every model (`no-default-models` none).
    pub models: Vec<String>,
    /// Spend in the current budget window (the user's keys add to it on every call).
    pub spend: f64,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: serde_json::Value,
    /// `model_max_budget` as sent (`{model: {budget_limit|max_budget, time_period|budget_duration}}`): one
    /// spend pool per model for every key of the user.
    pub model_max_budget: serde_json::Map<String, serde_json::Value>,
    pub teams: Vec<String>,
    pub sso_user_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRecord {
    /// A user with nothing set but its id (what an upsert inserts before applying the fields sent).
    pub fn new(user_id: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            user_id: user_id.into(),
            user_email: None,
            user_alias: None,
            user_role: None,
            models: Vec::new(),
            spend: 0.0,
            max_budget: None,
            budget_duration: None,
            budget_reset_at: None,
            tpm_limit: None,
            rpm_limit: None,
            max_parallel_requests: None,
            metadata: serde_json::json!({}),
            model_max_budget: serde_json::Map::new(),
            teams: Vec::new(),
            sso_user_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Starts a new budget window when the reset time has passed, like [`KeyRecord::reset_budget_if_due`].
    pub fn reset_budget_if_due(&mut self, now: DateTime<Utc>) {
        let Some(reset_at) = self.budget_reset_at.filter(|at| *at <= now) else {
            return;
        };
        self.spend = 0.0;
        self.budget_reset_at = self
            .budget_duration
            .as_deref()
            .and_then(|d| crate::duration::parse(d).ok())
            .map(|span| span.next_reset(now.max(reset_at)));
    }
}

/// The role LiteLLM acts on for a user: its stored role, `internal_user` when none is stored
/// (`auth_checks.effective_user_role`).
pub fn effective_role(user: Option<&UserRecord>) -> String {
    match user.and_then(|u| u.user_role.as_deref()) {
        Some(role) if ROLES.contains(&role) => role.to_owned(),
        _ => "internal_user".to_owned(),
    }
}

/// LiteLLM's user roles (`LitellmUserRoles`) that `/user/new` and `/user/update` accept.
pub const ROLES: &[&str] = &[
    "proxy_admin",
    "proxy_admin_viewer",
    "internal_user",
    "internal_user_viewer",
];

/// A member of a team (`members_with_roles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
}

/// A team (`LiteLLM_TeamTable`), as far as keyport uses teams: members, models and the per-model rate
/// pools in `metadata.model_rpm_limit`/`metadata.model_tpm_limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamRecord {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub members_with_roles: Vec<TeamMember>,
    /// Empty means every model.
    pub models: Vec<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TeamRecord {
    pub fn has_member(&self, user_id: &str) -> bool {
        self.members_with_roles
            .iter()
            .any(|m| m.user_id.as_deref() == Some(user_id))
    }

    /// The team's per-model limit of `kind` (`model_rpm_limit` or `model_tpm_limit`) for `model`.
    pub fn model_limit(&self, kind: &str, model: &str) -> Option<i64> {
        self.metadata.get(kind)?.get(model)?.as_i64()
    }
}

/// The window of one per-model spend pool (`model_max_budget` of a user): rolling, it starts at the first
/// charged request and ends one budget period later (`model_max_budget_limiter`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetWindow {
    pub started: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    pub spend: f64,
}

/// A deleted key, as kept in the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedKeyRecord {
    pub key: KeyRecord,
    pub deleted_at: DateTime<Utc>,
    pub deleted_by: Option<String>,
    pub litellm_changed_by: Option<String>,
}

/// One row of LiteLLM_SpendLogs.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendLogRow {
    pub request_id: String,
    /// The key's hash.
    pub api_key: String,
    /// The upstream model (`<provider>/<model>`).
    pub model: String,
    /// The public model name.
    pub model_group: String,
    pub custom_llm_provider: String,
    pub user: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub spend: f64,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
}

/// A request the double received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// The raw query string (may be empty).
    pub query: String,
}

/// A key's current rate-limit window: the proxy's limiter counts requests and tokens per key in fixed
/// windows of [`RATE_WINDOW_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateWindow {
    pub started: DateTime<Utc>,
    pub requests: i64,
    pub tokens: i64,
}

/// The rate-limit window of LiteLLM's limiter (`window_size`, 60 s).
pub const RATE_WINDOW_SECONDS: i64 = 60;

pub(crate) struct Store {
    pub keys: HashMap<String, KeyRecord>,
    /// Rate-limit windows by descriptor: a key hash, or `model_per_team:<team_id>:<model>`.
    pub rate_windows: HashMap<String, RateWindow>,
    /// Teams by `team_id`.
    pub teams: BTreeMap<String, TeamRecord>,
    /// Per-model spend windows of users, by (user_id, budget model, budget period).
    pub model_budget_windows: HashMap<(String, String, String), BudgetWindow>,
    pub deleted: Vec<DeletedKeyRecord>,
    /// Users by `user_id`.
    pub users: BTreeMap<String, UserRecord>,
    pub spend_logs: Vec<SpendLogRow>,
    pub calls: Vec<Call>,
    pub faults: Vec<ArmedFault>,
    last_created_at: Option<DateTime<Utc>>,
}

impl Store {
    /// A creation time strictly after the previous one, so that `created_at desc` is a total order.
    pub fn next_created_at(&mut self) -> DateTime<Utc> {
        let mut now = now_micros();
        if let Some(last) = self.last_created_at {
            if now <= last {
                now = last + Duration::microseconds(1);
            }
        }
        self.last_created_at = Some(now);
        now
    }

    /// Applies due budget resets to every live key and user.
    pub fn reset_due_budgets(&mut self, now: DateTime<Utc>) {
        for key in self.keys.values_mut() {
            key.reset_budget_if_due(now);
        }
        for user in self.users.values_mut() {
            user.reset_budget_if_due(now);
        }
    }

    /// The user whose email is `email`, compared as LiteLLM's duplicate check does (trimmed,
    /// case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&UserRecord> {
        let wanted = email.trim().to_lowercase();
        self.users.values().find(|u| {
            u.user_email
                .as_deref()
                .is_some_and(|e| e.trim().to_lowercase() == wanted)
        })
    }

    /// Live keys whose alias is `alias`, other than `except`.
    pub fn alias_taken(&self, alias: &str, except: Option<&str>) -> bool {
        self.keys
            .values()
            .any(|k| k.alias.as_deref() == Some(alias) && Some(k.hash.as_str()) != except)
    }

    /// The key's rate-limit window at `now`, a fresh one when the last has ended.
    pub fn rate_window(&mut self, hash: &str, now: DateTime<Utc>) -> &mut RateWindow {
        let window = self
            .rate_windows
            .entry(hash.to_owned())
            .or_insert(RateWindow {
                started: now,
                requests: 0,
                tokens: 0,
            });
        if now - window.started >= Duration::seconds(RATE_WINDOW_SECONDS) {
            *window = RateWindow {
                started: now,
                requests: 0,
                tokens: 0,
            };
        }
        window
    }

    pub fn deleted_by_hash(&self, hash: &str) -> Option<&DeletedKeyRecord> {
        self.deleted.iter().rev().find(|d| d.key.hash == hash)
    }
}

/// Now, truncated to microseconds (what PostgreSQL and Python keep).
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 1_000))
}

/// Everything a running double shares between its handlers and its owner.
pub(crate) struct Shared {
    pub config: DoubleConfig,
    store: Mutex<Store>,
}

impl Shared {
    pub fn new(config: DoubleConfig) -> Self {
        Self {
            config,
            store: Mutex::new(Store {
                keys: HashMap::new(),
                rate_windows: HashMap::new(),
                teams: BTreeMap::new(),
                model_budget_windows: HashMap::new(),
                deleted: Vec::new(),
                users: BTreeMap::new(),
                spend_logs: Vec::new(),
                calls: Vec::new(),
                faults: Vec::new(),
                last_created_at: None,
            }),
        }
    }

    /// The store; a panic while it was held does not poison it for later tests.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

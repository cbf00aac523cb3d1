//! A LiteLLM test double. keyport cannot run a database-backed LiteLLM here, so its gateway adapter is
//! tested against this HTTP server instead: it reproduces the admin API contract of LiteLLM 1.108.7 as
//! written down in `docs/litellm-contract.md` (key hashing, custom keys, alias uniqueness, merge-patch updates,
//! the archive of deleted keys, users, spend and paged spend logs, catalog shapes and every error body byte
//! for byte), enforces virtual keys on `/v1/chat/completions` like the proxy (blocked, model, expiry,
//! budget, rpm/tpm), and lets a test look inside (keys, users, spend logs, calls received) and make it
//! fail on purpose ([`Fault`]). Start one per test with [`LiteLlmDouble::start`], or run the
//! `litellm-double` binary for manual work and end-to-end tests.

mod auth;
mod budgets;
mod config;
mod duration;
mod errors;
mod faults;
mod handlers;
mod hashing;
mod pyfmt;
mod routes;
mod seed;
mod state;
mod validate;

pub use config::{DoubleConfig, ModelSpec, VersionProfile};
pub use faults::{Fault, FaultRule, Occurrence, PathMatch};
pub use handlers::chat::{COMPLETION_TOKENS, PROMPT_TOKENS};
pub use hashing::hash_token;
pub use seed::SeedKey;
pub use state::{
    BudgetWindow, Call, DeletedKeyRecord, KeyRecord, KeyStatus, SpendLogRow, TeamMember,
    TeamRecord, UserRecord,
};

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use state::Shared;
use std::net::SocketAddr;

/// A running double. Dropping it asks the server to stop; [`LiteLlmDouble::shutdown`] also waits for it.
pub struct LiteLlmDouble {
    shared: web::Data<Shared>,
    addr: SocketAddr,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for LiteLlmDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteLlmDouble")
            .field("addr", &self.addr)
            .field("version", &self.shared.config.version)
            .finish_non_exhaustive()
    }
}

impl LiteLlmDouble {
    /// Binds (a free loopback port unless the config names one) and serves in the background.
    pub async fn start(config: DoubleConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.master_key.starts_with("sk-"),
            "the master key must start with sk-"
        );
        let listener =
            std::net::TcpListener::bind((config.host.as_str(), config.port.unwrap_or(0)))
                .with_context(|| format!("binding {}:{:?}", config.host, config.port))?;
        let addr = listener.local_addr()?;
        let workers = config.workers.max(1);
        let shared = web::Data::new(Shared::new(config));
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(faults::inject))
                .configure(handlers::routes)
                .default_service(web::to(handlers::not_found))
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Self {
            shared,
            addr,
            handle,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn master_key(&self) -> &str {
        &self.shared.config.master_key
    }

    pub fn config(&self) -> &DoubleConfig {
        &self.shared.config
    }

    /// Stops the server: in-flight requests (a hanging fault, say) are dropped.
    pub async fn shutdown(mut self) {
        self.handle.stop(false).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server stops (after a graceful [`ServerHandle::stop`] from elsewhere, e.g. the
    /// binary's Ctrl-C handler).
    pub async fn stop_gracefully(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Every live key, oldest first.
    pub fn keys(&self) -> Vec<KeyRecord> {
        let mut keys: Vec<KeyRecord> = self.shared.store().keys.values().cloned().collect();
        keys.sort_by_key(|k| k.created_at);
        keys
    }

    /// The live key with this hash.
    pub fn key(&self, hash: &str) -> Option<KeyRecord> {
        self.shared.store().keys.get(hash).cloned()
    }

    /// The live key with this alias.
    pub fn key_by_alias(&self, alias: &str) -> Option<KeyRecord> {
        self.shared
            .store()
            .keys
            .values()
            .find(|k| k.alias.as_deref() == Some(alias))
            .cloned()
    }

    /// The archive of deleted keys, in order of deletion.
    pub fn deleted_keys(&self) -> Vec<DeletedKeyRecord> {
        self.shared.store().deleted.clone()
    }

    /// Every spend log row, in order.
    pub fn spend_logs(&self) -> Vec<SpendLogRow> {
        self.shared.store().spend_logs.clone()
    }

    /// Adds a spend log row as if a call had written it (e.g. an old one, to test date filters); the keys
    /// and users are not charged.
    pub fn insert_spend_log(&self, row: SpendLogRow) {
        self.shared.store().spend_logs.push(row);
    }

    /// Every user, by `user_id`.
    pub fn users(&self) -> Vec<UserRecord> {
        self.shared.store().users.values().cloned().collect()
    }

    /// The user with this id.
    pub fn user(&self, user_id: &str) -> Option<UserRecord> {
        self.shared.store().users.get(user_id).cloned()
    }

    /// Changes a stored user directly (to charge it, …); `false` when there is no such user.
    pub fn update_user(&self, user_id: &str, change: impl FnOnce(&mut UserRecord)) -> bool {
        match self.shared.store().users.get_mut(user_id) {
            Some(user) => {
                change(user);
                true
            }
            None => false,
        }
    }

    /// Every team, by `team_id`.
    pub fn teams(&self) -> Vec<TeamRecord> {
        self.shared.store().teams.values().cloned().collect()
    }

    /// The team with this id.
    pub fn team(&self, team_id: &str) -> Option<TeamRecord> {
        self.shared.store().teams.get(team_id).cloned()
    }

    /// The window of a user's per-model spend pool, keyed as LiteLLM keys it: the `model_max_budget` entry's
    /// name and its period.
    pub fn model_budget_window(
        &self,
        user_id: &str,
        budget_model: &str,
        period: &str,
    ) -> Option<BudgetWindow> {
        self.shared
            .store()
            .model_budget_windows
            .get(&(
                user_id.to_owned(),
                budget_model.to_owned(),
                period.to_owned(),
            ))
            .copied()
    }

    /// Moves every per-model spend window `by` into the past, as if that much time had gone by (the way
    /// tests age keys with [`LiteLlmDouble::update_key`]): a window whose end passes is over.
    pub fn age_model_budget_windows(&self, by: chrono::Duration) {
        for window in self.shared.store().model_budget_windows.values_mut() {
            window.started -= by;
            window.ends -= by;
        }
    }

    /// Every request received, in order (including those a fault answered).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.store().calls.clone()
    }

    /// How many requests were received on exactly this path.
    pub fn calls_to(&self, path: &str) -> usize {
        self.shared
            .store()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .count()
    }

    /// Preloads keys without HTTP calls, as if `/key/generate` had stored each [`SeedKey`]: all of them or,
    /// on the first invalid key or taken hash or alias, none. Answers how many were stored. Requests wait
    /// meanwhile (the store is locked), so seed before traffic.
    pub fn seed_keys(&self, keys: impl IntoIterator<Item = SeedKey>) -> anyhow::Result<usize> {
        seed::seed(&mut self.shared.store(), keys.into_iter().map(Ok))
    }

    /// [`LiteLlmDouble::seed_keys`] from JSON lines, one [`SeedKey`] object per line (blank lines skipped):
    /// what `litellm-double --seed-keys FILE` loads.
    pub fn seed_keys_from_json_lines(
        &self,
        reader: impl std::io::BufRead,
    ) -> anyhow::Result<usize> {
        seed::seed(&mut self.shared.store(), seed::json_lines(reader))
    }

    /// Arms a fault: `double.inject(Fault::Status(503).on("/key/info").times(2))`.
    pub fn inject(&self, rule: impl Into<FaultRule>) {
        self.shared.store().faults.push(faults::ArmedFault {
            rule: rule.into(),
            seen: 0,
        });
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.store().faults.clear();
    }

    /// Changes a stored key directly (to age it, charge it, …); `false` when there is no such key.
    pub fn update_key(&self, hash: &str, change: impl FnOnce(&mut KeyRecord)) -> bool {
        match self.shared.store().keys.get_mut(hash) {
            Some(key) => {
                change(key);
                true
            }
            None => false,
        }
    }
}

impl Drop for LiteLlmDouble {
    fn drop(&mut self) {
        // `stop` sends its command at once; the returned future only waits for completion. The server task
        // stays on the runtime to carry the stop out (`shutdown().await` waits for it).
        drop(self.handle.stop(false));
    }
}

//! Decorators around the real adapters that let a test break a flow between any two of its steps: every
//! call a use case makes on a port (a store method or a LiteLLM call) is one numbered step of its "process";
//! a [`Plan`] says what happens at which step — the database is unavailable, a LiteLLM fault is armed in
//! the double, the process dies before, during or after the call, or the process pauses so that the test
//! can run something else (a worker pass, a reconcile pass, another request) in between.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyport_domain::access::{AccessRecord, AccessStore};
use keyport_domain::access::{GatewayUserState, UserAccess};
use keyport_domain::audit::AuditEvent;
use keyport_domain::audit::AuditLog;
use keyport_domain::catalog::{CatalogChanges, ModelStore};
use keyport_domain::catalog::{CatalogEntry, Model};
use keyport_domain::gateway::{
    Gateway, GatewayKey, GatewayKeyPage, GatewayUser, GatewayUserInfo, GatewayUserUpdate,
    GenerateKey, SpendPage, SpendQuery, UpdateKey,
};
use keyport_domain::identity::AccessToken;
use keyport_domain::ids::{ApiKeyId, ModelId, SubscriptionId, UserId};
use keyport_domain::jobs::JobStore;
use keyport_domain::jobs::{Job, JobStatus, JobSummary};
use keyport_domain::keys::{ApiKey, ApiKeyStatus, KeyUpdate, NewApiKey};
use keyport_domain::keys::{ApiKeyStore, KeyEffects, KeyInserted, SpendReading};
use keyport_domain::limits::Limits;
use keyport_domain::secret::KeyHash;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::subscriptions::{Subscription, SubscriptionStatus};
use keyport_domain::users::User;
use keyport_domain::users::UserStore;
use keyport_domain::{GatewayError, StoreError};
use keyport_litellm::LiteLlmClient;
use keyport_postgres::PgStore;
use keyport_testkit::double::{FaultRule, LiteLlmDouble};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Which port a step called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Store,
    Gateway,
}

/// One call a use case made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub port: Port,
    pub name: &'static str,
}

impl Step {
    /// The LiteLLM path a gateway step calls.
    pub fn path(&self) -> Option<&'static str> {
        Some(match self.name {
            "generate_key" => "/key/generate",
            "key_info" => "/key/info",
            "update_key" => "/key/update",
            "delete_key" => "/key/delete",
            "block_key" => "/key/block",
            "unblock_key" => "/key/unblock",
            "list_keys" => "/key/list",
            "model_catalog" => "/model_group/info",
            _ => return None,
        })
        .filter(|_| self.port == Port::Gateway)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Port::Store => write!(f, "store.{}", self.name),
            Port::Gateway => write!(f, "litellm.{}", self.name),
        }
    }
}

/// What happens at a step.
#[derive(Debug, Clone)]
pub enum Act {
    /// A store call answers `Unavailable` (nothing is committed); other calls are unaffected.
    DbFails,
    /// This store call and every later one of the process answer `Unavailable`.
    DbGoesDown,
    /// The process dies just before the call.
    DieBefore,
    /// The call completes (and commits), then the process dies before it sees the answer.
    DieAfter,
    /// The process dies this long into the call (arm a hanging fault with it).
    DieDuring(Duration),
    /// This fault is armed in the double just before the call.
    Arm(FaultRule),
    /// The process stops before the call until the test resumes it (or lets it die).
    Pause,
}

/// What happens at which step (0-based) of a process.
#[derive(Debug, Clone, Default)]
pub struct Plan(pub Vec<(usize, Act)>);

impl Plan {
    pub fn at(step: usize, acts: Vec<Act>) -> Self {
        Self(acts.into_iter().map(|a| (step, a)).collect())
    }
}

/// Where a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Running,
    Paused(usize),
    Dead(usize),
}

struct State {
    steps: Vec<Step>,
    plan: Vec<(usize, Act)>,
    db_down: bool,
}

/// The controller of one process: counts its steps and carries out its plan.
pub struct Ctl {
    state: Mutex<State>,
    events: watch::Sender<Event>,
    resume: Notify,
    double: Arc<LiteLlmDouble>,
}

impl Ctl {
    pub fn new(double: Arc<LiteLlmDouble>, plan: Plan) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                steps: Vec::new(),
                plan: plan.0,
                db_down: false,
            }),
            events: watch::channel(Event::Running).0,
            resume: Notify::new(),
            double,
        })
    }

    /// The steps taken so far.
    pub fn steps(&self) -> Vec<Step> {
        self.state.lock().unwrap().steps.clone()
    }

    pub fn events(&self) -> watch::Receiver<Event> {
        self.events.subscribe()
    }

    /// Lets a paused process go on.
    pub fn resume(&self) {
        self.resume.notify_one();
    }

    async fn die<R>(&self, index: usize) -> R {
        self.events.send_replace(Event::Dead(index));
        std::future::pending().await
    }

    async fn step<T, E>(
        &self,
        port: Port,
        name: &'static str,
        call: impl Future<Output = Result<T, E>> + Send,
        unavailable: impl Fn() -> E + Send,
    ) -> Result<T, E> {
        let (index, acts, db_down) = {
            let mut state = self.state.lock().unwrap();
            let index = state.steps.len();
            state.steps.push(Step { port, name });
            let acts: Vec<Act> = state
                .plan
                .iter()
                .filter(|(at, _)| *at == index)
                .map(|(_, act)| act.clone())
                .collect();
            (index, acts, state.db_down)
        };
        if port == Port::Store && db_down {
            return Err(unavailable());
        }
        let mut during = None;
        let mut die_after = false;
        for act in acts {
            match act {
                Act::Arm(rule) => self.double.inject(rule),
                Act::Pause => {
                    self.events.send_replace(Event::Paused(index));
                    self.resume.notified().await;
                    self.events.send_replace(Event::Running);
                }
                Act::DieBefore => return self.die(index).await,
                Act::DbFails if port == Port::Store => return Err(unavailable()),
                Act::DbGoesDown if port == Port::Store => {
                    self.state.lock().unwrap().db_down = true;
                    return Err(unavailable());
                }
                Act::DbFails | Act::DbGoesDown => {}
                Act::DieAfter => die_after = true,
                Act::DieDuring(after) => during = Some(after),
            }
        }
        let out = match during {
            Some(after) => tokio::select! {
                out = call => out,
                _ = tokio::time::sleep(after) => return self.die(index).await,
            },
            None => call.await,
        };
        if die_after {
            return self.die(index).await;
        }
        out
    }

    async fn store<T>(
        &self,
        name: &'static str,
        call: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        self.step(Port::Store, name, call, || {
            StoreError::Unavailable("injected: the database is unavailable".into())
        })
        .await
    }

    async fn gateway<T>(
        &self,
        name: &'static str,
        call: impl Future<Output = Result<T, GatewayError>> + Send,
    ) -> Result<T, GatewayError> {
        self.step(Port::Gateway, name, call, || {
            GatewayError::Unavailable("injected".into())
        })
        .await
    }
}

/// How a driven operation ended.
#[derive(Debug)]
pub enum Ran<T> {
    Done(T),
    /// The process died at this step.
    Died(usize),
}

/// What to do with a paused process once the test has done its interleaved work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Resume,
    Die,
}

/// Runs `op` (a use case of the process `ctl` controls) until it finishes or its process dies; each time it
/// pauses, `on_pause` runs (the other work of the test) and says whether the process goes on or dies.
pub async fn drive<T, F, P, PF>(ctl: &Ctl, op: F, mut on_pause: P) -> Ran<T>
where
    F: Future<Output = T>,
    P: FnMut(usize) -> PF,
    PF: Future<Output = Then>,
{
    let mut events = ctl.events();
    let mut op = std::pin::pin!(op);
    let mut handled = None;
    loop {
        let event = *events.borrow_and_update();
        match event {
            Event::Dead(step) => return Ran::Died(step),
            Event::Paused(step) if handled != Some(step) => {
                handled = Some(step);
                match on_pause(step).await {
                    Then::Resume => ctl.resume(),
                    Then::Die => return Ran::Died(step),
                }
            }
            _ => {}
        }
        tokio::select! {
            biased;
            out = &mut op => return Ran::Done(out),
            changed = events.changed() => {
                if changed.is_err() {
                    return Ran::Died(usize::MAX);
                }
            }
        }
    }
}

/// Every store port over the real [`PgStore`], through a process's [`Ctl`].
pub struct FaultyStore {
    pub inner: PgStore,
    pub ctl: Arc<Ctl>,
}

/// The gateway port over the real [`LiteLlmClient`], through a process's [`Ctl`].
pub struct FaultyGateway {
    pub inner: LiteLlmClient,
    pub ctl: Arc<Ctl>,
}

#[async_trait]
impl UserStore for FaultyStore {
    async fn insert_user(
        &self,
        user: &User,
        token: Option<AccessToken>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let call = self.inner.insert_user(user, token, audit);
        self.ctl.store("insert_user", call).await
    }
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.ctl.store("get_user", self.inner.get_user(id)).await
    }
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let call = self.inner.find_user_by_username(username);
        self.ctl.store("find_user_by_username", call).await
    }
    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        self.ctl.store("get_users", self.inner.get_users(ids)).await
    }
    async fn change_user_status(
        &self,
        id: UserId,
        status: keyport_domain::users::UserStatus,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let call = self.inner.change_user_status(id, status, at, audit);
        self.ctl.store("change_user_status", call).await
    }
    async fn set_user_roles(
        &self,
        id: UserId,
        roles: &[keyport_domain::users::Role],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let call = self.inner.set_user_roles(id, roles, at, audit);
        self.ctl.store("set_user_roles", call).await
    }
}

#[async_trait]
impl ModelStore for FaultyStore {
    async fn list_models(&self) -> Result<Vec<Model>, StoreError> {
        self.ctl
            .store("list_models", self.inner.list_models())
            .await
    }
    async fn get_model(&self, id: &ModelId) -> Result<Option<Model>, StoreError> {
        self.ctl.store("get_model", self.inner.get_model(id)).await
    }
    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError> {
        let call = self.inner.apply_catalog(changes);
        self.ctl.store("apply_catalog", call).await
    }
}

#[async_trait]
impl SubscriptionStore for FaultyStore {
    async fn get_subscription(
        &self,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        let call = self.inner.get_subscription(id);
        self.ctl.store("get_subscription", call).await
    }
    async fn get_subscriptions(
        &self,
        ids: &[SubscriptionId],
    ) -> Result<Vec<Subscription>, StoreError> {
        let call = self.inner.get_subscriptions(ids);
        self.ctl.store("get_subscriptions", call).await
    }
    async fn find_subscription(
        &self,
        user: UserId,
        model: &ModelId,
    ) -> Result<Option<Subscription>, StoreError> {
        let call = self.inner.find_subscription(user, model);
        self.ctl.store("find_subscription", call).await
    }
    async fn list_subscriptions(&self, user: UserId) -> Result<Vec<Subscription>, StoreError> {
        let call = self.inner.list_subscriptions(user);
        self.ctl.store("list_subscriptions", call).await
    }
    async fn insert_subscription(
        &self,
        subscription: &Subscription,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let call = self.inner.insert_subscription(subscription, audit);
        self.ctl.store("insert_subscription", call).await
    }
    async fn change_subscription_status(
        &self,
        id: SubscriptionId,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
        reason: Option<String>,
        quota: Option<Limits>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError> {
        let call = self
            .inner
            .change_subscription_status(id, from, to, reason, quota, at, audit);
        self.ctl.store("change_subscription_status", call).await
    }
    async fn change_subscription_status_cascading(
        &self,
        id: SubscriptionId,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
        reason: Option<String>,
        effects: &KeyEffects,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError> {
        let call = self
            .inner
            .change_subscription_status_cascading(id, from, to, reason, effects, at, audit);
        self.ctl
            .store("change_subscription_status_cascading", call)
            .await
    }
    async fn change_subscription_quota(
        &self,
        id: SubscriptionId,
        quota: &Limits,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError> {
        let call = self.inner.change_subscription_quota(id, quota, at, audit);
        self.ctl.store("change_subscription_quota", call).await
    }
    async fn count_live_keys(&self, id: SubscriptionId) -> Result<u64, StoreError> {
        let call = self.inner.count_live_keys(id);
        self.ctl.store("count_live_keys", call).await
    }
    async fn keys_bound_to(&self, id: SubscriptionId) -> Result<Vec<ApiKey>, StoreError> {
        self.ctl
            .store("keys_bound_to", self.inner.keys_bound_to(id))
            .await
    }
}

#[async_trait]
impl ApiKeyStore for FaultyStore {
    async fn insert_provisioning_key(
        &self,
        key: &NewApiKey,
        max_live_keys: Option<u32>,
        audit: &AuditEvent,
    ) -> Result<KeyInserted, StoreError> {
        let call = self
            .inner
            .insert_provisioning_key(key, max_live_keys, audit);
        self.ctl.store("insert_provisioning_key", call).await
    }
    async fn activate_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        granted: &[ModelId],
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let call = self.inner.activate_key(id, at, granted, audit);
        self.ctl.store("activate_key", call).await
    }
    async fn fail_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let call = self.inner.fail_key(id, reason, at, audit);
        self.ctl.store("fail_key", call).await
    }
    async fn revoke_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let call = self.inner.revoke_key(id, at, audit);
        self.ctl.store("revoke_key", call).await
    }
    async fn mark_key_synced(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let call = self.inner.mark_key_synced(id, at);
        self.ctl.store("mark_key_synced", call).await
    }
    async fn record_key_sync_error(
        &self,
        id: ApiKeyId,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.record_key_sync_error(id, error, at);
        self.ctl.store("record_key_sync_error", call).await
    }
    async fn get_key(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.ctl.store("get_key", self.inner.get_key(id)).await
    }
    async fn list_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        self.ctl
            .store("list_keys", self.inner.list_keys(user))
            .await
    }
    async fn live_key_name_taken(&self, user: UserId, name: &str) -> Result<bool, StoreError> {
        let call = self.inner.live_key_name_taken(user, name);
        self.ctl.store("live_key_name_taken", call).await
    }
    async fn set_key_block(
        &self,
        id: ApiKeyId,
        reason: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let call = self.inner.set_key_block(id, reason, at, audit);
        self.ctl.store("set_key_block", call).await
    }
    async fn update_key(
        &self,
        id: ApiKeyId,
        update: &KeyUpdate,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let call = self.inner.update_key(id, update, at, audit);
        self.ctl.store("update_key", call).await
    }
    async fn complete_rotation(
        &self,
        new_key: ApiKeyId,
        old_key: ApiKeyId,
        retire_at: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let call = self
            .inner
            .complete_rotation(new_key, old_key, retire_at, at, audit);
        self.ctl.store("complete_rotation", call).await
    }
    async fn change_key_status(
        &self,
        id: ApiKeyId,
        from: &[ApiKeyStatus],
        to: ApiKeyStatus,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError> {
        let call = self.inner.change_key_status(id, from, to, at, audit);
        self.ctl.store("change_key_status", call).await
    }
    async fn expire_due_keys(&self, now: DateTime<Utc>) -> Result<Vec<ApiKeyId>, StoreError> {
        let call = self.inner.expire_due_keys(now);
        self.ctl.store("expire_due_keys", call).await
    }
    async fn keys_by_hashes(&self, hashes: &[KeyHash]) -> Result<Vec<ApiKey>, StoreError> {
        let call = self.inner.keys_by_hashes(hashes);
        self.ctl.store("keys_by_hashes", call).await
    }
    async fn keys_after(
        &self,
        after: Option<ApiKeyId>,
        statuses: &[ApiKeyStatus],
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let call = self.inner.keys_after(after, statuses, limit);
        self.ctl.store("keys_after", call).await
    }
    async fn record_spend(
        &self,
        readings: &[SpendReading],
        read_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.record_spend(readings, read_at);
        self.ctl.store("record_spend", call).await
    }
}

#[async_trait]
impl JobStore for FaultyStore {
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let call = self.inner.claim_jobs(now, lease_until, limit);
        self.ctl.store("claim_jobs", call).await
    }
    async fn complete_job(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let call = self.inner.complete_job(id, at);
        self.ctl.store("complete_job", call).await
    }
    async fn retry_job(
        &self,
        id: i64,
        error: &str,
        run_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.retry_job(id, error, run_at, at);
        self.ctl.store("retry_job", call).await
    }
    async fn bury_job(&self, id: i64, error: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let call = self.inner.bury_job(id, error, at);
        self.ctl.store("bury_job", call).await
    }
    async fn enqueue_converge(
        &self,
        key: ApiKeyId,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.enqueue_converge(key, run_at);
        self.ctl.store("enqueue_converge", call).await
    }
    async fn job_summary(&self) -> Result<JobSummary, StoreError> {
        self.ctl
            .store("job_summary", self.inner.job_summary())
            .await
    }
    async fn list_jobs(&self, status: JobStatus, limit: u32) -> Result<Vec<Job>, StoreError> {
        let call = self.inner.list_jobs(status, limit);
        self.ctl.store("list_jobs", call).await
    }
}

#[async_trait]
impl AccessStore for FaultyStore {
    async fn access_record(&self, user: UserId) -> Result<Option<AccessRecord>, StoreError> {
        let call = self.inner.access_record(user);
        self.ctl.store("access_record", call).await
    }
    async fn access_records(&self, users: &[UserId]) -> Result<Vec<AccessRecord>, StoreError> {
        let call = self.inner.access_records(users);
        self.ctl.store("access_records", call).await
    }
    async fn mark_access_synced(
        &self,
        user: UserId,
        version: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.mark_access_synced(user, version, at);
        self.ctl.store("mark_access_synced", call).await
    }
    async fn record_access_error(
        &self,
        user: UserId,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.record_access_error(user, error, at);
        self.ctl.store("record_access_error", call).await
    }
    async fn enqueue_converge_users(
        &self,
        users: &[UserId],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let call = self.inner.enqueue_converge_users(users, run_at);
        self.ctl.store("enqueue_converge_users", call).await
    }
}

#[async_trait]
impl AuditLog for FaultyStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.ctl.store("append", self.inner.append(event)).await
    }
}

#[async_trait]
impl Gateway for FaultyGateway {
    async fn generate_key(&self, request: &GenerateKey) -> Result<GatewayKey, GatewayError> {
        let call = self.inner.generate_key(request);
        self.ctl.gateway("generate_key", call).await
    }
    async fn key_info(&self, hash: &KeyHash) -> Result<Option<GatewayKey>, GatewayError> {
        self.ctl
            .gateway("key_info", self.inner.key_info(hash))
            .await
    }
    async fn block_key(&self, hash: &KeyHash) -> Result<(), GatewayError> {
        self.ctl
            .gateway("block_key", self.inner.block_key(hash))
            .await
    }
    async fn delete_key(&self, hash: &KeyHash) -> Result<(), GatewayError> {
        self.ctl
            .gateway("delete_key", self.inner.delete_key(hash))
            .await
    }
    async fn model_catalog(&self) -> Result<Vec<CatalogEntry>, GatewayError> {
        self.ctl
            .gateway("model_catalog", self.inner.model_catalog())
            .await
    }
    async fn update_key(&self, request: &UpdateKey) -> Result<GatewayKey, GatewayError> {
        let call = self.inner.update_key(request);
        self.ctl.gateway("update_key", call).await
    }
    async fn unblock_key(&self, hash: &KeyHash) -> Result<(), GatewayError> {
        self.ctl
            .gateway("unblock_key", self.inner.unblock_key(hash))
            .await
    }
    async fn list_keys(&self, page: u32, size: u32) -> Result<GatewayKeyPage, GatewayError> {
        let call = self.inner.list_keys(page, size);
        self.ctl.gateway("list_keys", call).await
    }
    async fn ensure_user(&self, user: &GatewayUser) -> Result<(), GatewayError> {
        let call = self.inner.ensure_user(user);
        self.ctl.gateway("ensure_user", call).await
    }
    async fn user_info(&self, user_id: UserId) -> Result<Option<GatewayUserInfo>, GatewayError> {
        let call = self.inner.user_info(user_id);
        self.ctl.gateway("user_info", call).await
    }
    async fn update_user(&self, update: &GatewayUserUpdate) -> Result<(), GatewayError> {
        let call = self.inner.update_user(update);
        self.ctl.gateway("update_user", call).await
    }
    async fn spend_logs(&self, query: &SpendQuery) -> Result<SpendPage, GatewayError> {
        let call = self.inner.spend_logs(query);
        self.ctl.gateway("spend_logs", call).await
    }
    async fn set_user_access(&self, access: &UserAccess) -> Result<(), GatewayError> {
        let call = self.inner.set_user_access(access);
        self.ctl.gateway("set_user_access", call).await
    }
    async fn ensure_team(&self, access: &UserAccess) -> Result<(), GatewayError> {
        let call = self.inner.ensure_team(access);
        self.ctl.gateway("ensure_team", call).await
    }
    async fn list_users(&self, ids: &[UserId]) -> Result<Vec<GatewayUserState>, GatewayError> {
        let call = self.inner.list_users(ids);
        self.ctl.gateway("list_users", call).await
    }
}

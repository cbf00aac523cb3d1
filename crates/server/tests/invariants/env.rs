//! One test world: a fresh database, an in-process LiteLLM double with the demo models, a clock the test
//! moves, a secret source that remembers every secret it made, and "processes" — sets of use cases built
//! from the real adapters behind the fault-injecting decorators, as the server wires them. A process that
//! dies is simply dropped (its pool and HTTP connections with it); a restart is a new process on the same
//! database and double.

use crate::capture;
use crate::faulty::{Ctl, FaultyGateway, FaultyStore, Plan};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use keyport_domain::access::ConvergeUser;
use keyport_domain::audit::AuditEvent;
use keyport_domain::catalog::SyncCatalog;
use keyport_domain::ids::{ApiKeyId, SubscriptionId, UserId};
use keyport_domain::jobs::Backoff;
use keyport_domain::jobs::RunJobs;
use keyport_domain::keys::ApiKey;
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::{
    ConvergeKey, CreateKey, CreateKeyRequest, RevokeKey, RotateKey, UpdateKey,
};
use keyport_domain::limits::Limits;
use keyport_domain::reconcile::{Reconcile, ReconcileOptions, ReconcileReport};
use keyport_domain::runtime::{Clock, SecretGenerator};
use keyport_domain::secret::{KeyHash, KeySecret, Secret, SecretKind, RANDOM_BYTES};
use keyport_domain::settings::{SelfServiceSettings, SettingsSource};
use keyport_domain::subscriptions::{CancelSubscription, ControlSubscription, Subscribe};
use keyport_domain::users::UserStore;
use keyport_domain::users::{Actor, Role, User, UserStatus};
use keyport_litellm::{LiteLlmClient, LiteLlmConfig, MasterKey, RetryPolicy};
use keyport_postgres::PgStore;
use keyport_testkit::double::{DoubleConfig, LiteLlmDouble};
use keyport_testkit::TestDb;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// keyport's LiteLLM timeout in these tests.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);
/// Retries of idempotent LiteLLM calls after the first attempt.
pub const RETRIES: u32 = 1;
/// A LiteLLM answer slower than [`TIMEOUT`]: keyport gives up, LiteLLM commits later.
pub const SLOWER_THAN_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(450);

/// The wall clock, shifted forward by however much the test has advanced it.
pub struct TestClock {
    offset: Mutex<Duration>,
}

impl TestClock {
    fn new() -> Self {
        Self {
            offset: Mutex::new(Duration::zero()),
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }

    /// Moves the clock to `at` unless it is already past it.
    pub fn reach(&self, at: DateTime<Utc>) {
        let now = self.now();
        if now < at {
            self.advance(at - now);
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        (Utc::now() + *self.offset.lock().unwrap()).trunc_subsecs(6)
    }
}

/// Random bytes from a seeded generator, each secret remembered so that the invariants can look for it
/// everywhere (including secrets of keys that never became usable).
pub struct RecordingSecrets {
    rng: Mutex<StdRng>,
    made: Mutex<Vec<[u8; RANDOM_BYTES]>>,
}

impl SecretGenerator for RecordingSecrets {
    fn random_bytes(&self) -> [u8; RANDOM_BYTES] {
        let mut out = [0u8; RANDOM_BYTES];
        self.rng.lock().unwrap().fill_bytes(&mut out);
        self.made.lock().unwrap().push(out);
        out
    }
}

impl RecordingSecrets {
    /// Every API key secret made so far, by hash (the job worker's jitter draws from the same source;
    /// those "secrets" were never used and are simply never found).
    pub fn secrets(&self) -> HashMap<KeyHash, KeySecret> {
        self.made
            .lock()
            .unwrap()
            .iter()
            .map(|bytes| {
                let secret = Secret::from_random(SecretKind::ApiKey, bytes);
                (secret.hash(), secret)
            })
            .collect()
    }
}

/// The use cases of one process, wired like the server wires them, over the decorated adapters.
pub struct Process {
    pub ctl: Arc<Ctl>,
    pub create: CreateKey,
    pub revoke: RevokeKey,
    pub rotate: RotateKey,
    pub update: UpdateKey,
    pub cancel: CancelSubscription,
    pub control: ControlSubscription,
    pub subscribe: Subscribe,
    pub jobs: RunJobs,
    pub reconcile: Reconcile,
    pub sync: SyncCatalog,
}

pub struct Env {
    pub db: TestDb,
    pub double: Arc<LiteLlmDouble>,
    pub clock: Arc<TestClock>,
    pub secrets: Arc<RecordingSecrets>,
    pub sql: tokio_postgres::Client,
    pub http: reqwest::Client,
    /// A process without faults, for setting up, the worker and the reconciler between scenarios.
    pub clean: Process,
    /// Hashes of keys the test deleted in LiteLLM behind keyport's back (those may become `lost`).
    pub deleted_in_litellm: Mutex<BTreeSet<String>>,
    /// Every error a use case answered, as printed (`Debug` and `Display`), to search for secrets.
    pub errors: Mutex<String>,
    /// Set when a LiteLLM answer slower than the timeout may still be on its way.
    pub late_commits: AtomicBool,
    users: AtomicU64,
}

/// The self-service settings every process obeys: the defaults.
pub fn self_service() -> SelfServiceSettings {
    SelfServiceSettings::default()
}

/// Those settings, fixed, with rotations allowed to overlap for up to a day.
pub fn settings() -> SettingsSource {
    SettingsSource::fixed(self_service()).with_max_rotation_overlap(Duration::days(1))
}

fn gateway(double: &LiteLlmDouble) -> LiteLlmClient {
    let config = LiteLlmConfig::new(
        double.base_url().parse().unwrap(),
        MasterKey::new(double.master_key()),
    )
    .with_timeout(TIMEOUT)
    .with_connect_timeout(TIMEOUT)
    .with_retry(RetryPolicy {
        max_retries: RETRIES,
        base_delay: std::time::Duration::from_millis(5),
        max_delay: std::time::Duration::from_millis(5),
    });
    LiteLlmClient::new(config).unwrap()
}

fn process(
    pg: PgStore,
    double: &Arc<LiteLlmDouble>,
    clock: &Arc<TestClock>,
    secrets: &Arc<RecordingSecrets>,
    plan: Plan,
) -> Process {
    let ctl = Ctl::new(double.clone(), plan);
    let store = Arc::new(FaultyStore {
        inner: pg,
        ctl: ctl.clone(),
    });
    let gateway = Arc::new(FaultyGateway {
        inner: gateway(double),
        ctl: ctl.clone(),
    });
    let clock: Arc<dyn Clock> = clock.clone();
    let secrets: Arc<dyn SecretGenerator> = secrets.clone();
    let converge_user = Arc::new(ConvergeUser::new(
        store.clone(),
        gateway.clone(),
        clock.clone(),
    ));
    let converge = Arc::new(ConvergeKey::new(
        store.clone(),
        store.clone(),
        converge_user.clone(),
        gateway.clone(),
        clock.clone(),
        settings(),
    ));
    Process {
        ctl,
        create: CreateKey::new(
            store.clone(),
            store.clone(),
            gateway.clone(),
            clock.clone(),
            secrets.clone(),
            settings(),
            converge_user.clone(),
        ),
        revoke: RevokeKey::new(store.clone(), converge.clone(), clock.clone()),
        rotate: RotateKey::new(
            store.clone(),
            store.clone(),
            gateway.clone(),
            clock.clone(),
            secrets.clone(),
            settings(),
            converge.clone(),
            converge_user.clone(),
        ),
        update: UpdateKey::new(
            store.clone(),
            store.clone(),
            converge.clone(),
            clock.clone(),
            settings(),
        ),
        cancel: CancelSubscription::new(store.clone(), converge.clone(), clock.clone()),
        subscribe: Subscribe::new(store.clone(), store.clone(), clock.clone()),
        control: ControlSubscription::new(
            store.clone(),
            converge.clone(),
            converge_user.clone(),
            clock.clone(),
        ),
        jobs: RunJobs::new(
            store.clone(),
            store.clone(),
            converge,
            converge_user.clone(),
            clock.clone(),
            secrets,
            Backoff::default(),
        ),
        reconcile: Reconcile::new(
            store.clone(),
            store.clone(),
            converge_user,
            store.clone(),
            gateway.clone(),
            clock.clone(),
            settings(),
        ),
        sync: SyncCatalog::new(gateway, store, clock),
    }
}

impl Env {
    pub async fn new() -> Env {
        Self::with_seed(rand::random()).await
    }

    pub async fn with_seed(seed: u64) -> Env {
        Self::with_double(seed, DoubleConfig::demo()).await
    }

    /// A world whose LiteLLM double serves `config` (e.g. with a model priced for budget tests).
    pub async fn with_double(seed: u64, config: DoubleConfig) -> Env {
        capture::install();
        let db = TestDb::new().await;
        let double = Arc::new(LiteLlmDouble::start(config).await.unwrap());
        let clock = Arc::new(TestClock::new());
        let secrets = Arc::new(RecordingSecrets {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            made: Mutex::new(Vec::new()),
        });
        let (sql, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let clean = process(db.store(), &double, &clock, &secrets, Plan::default());
        clean.sync.execute().await.unwrap();
        Env {
            db,
            double,
            clock,
            secrets,
            sql,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap(),
            clean,
            deleted_in_litellm: Mutex::new(BTreeSet::new()),
            errors: Mutex::new(String::new()),
            late_commits: AtomicBool::new(false),
            users: AtomicU64::new(0),
        }
    }

    /// A fresh process (its own connection pool and HTTP client) following `plan`.
    pub async fn process(&self, plan: Plan) -> Process {
        let pg = keyport_postgres::connect(self.db.url(), 4).await.unwrap();
        process(pg, &self.double, &self.clock, &self.secrets, plan)
    }

    /// The real store, without faults, for reading state.
    pub fn store(&self) -> PgStore {
        self.db.store()
    }

    /// Keeps an error a use case answered, to search it for secrets.
    pub fn note_error(&self, error: &keyport_domain::Error) {
        let mut errors = self.errors.lock().unwrap();
        errors.push_str(&format!("{error:?} | {error}\n"));
    }

    /// A new user (of its own, so that scenarios sharing a database do not meet).
    pub async fn user(&self) -> Actor {
        let n = self.users.fetch_add(1, Ordering::Relaxed);
        let id = UserId::new();
        let now = self.clock.now();
        let user = User {
            id,
            username: format!("user-{n}-{}", &id.to_string()[..8]),
            email: None,
            display_name: None,
            roles: vec![Role::User],
            status: UserStatus::Active,
            created_at: now,
        };
        self.store()
            .insert_user(
                &user,
                None,
                &AuditEvent::system("user.create", "user", id, now),
            )
            .await
            .unwrap();
        Actor::user(id)
    }

    pub async fn subscribe(&self, actor: &Actor, model: &str) -> SubscriptionId {
        self.clean.subscribe.execute(actor, model).await.unwrap().id
    }

    pub async fn create_key(
        &self,
        actor: &Actor,
        name: &str,
        subscriptions: &[SubscriptionId],
    ) -> ApiKeyId {
        let request = CreateKeyRequest {
            name: name.into(),
            subscription_ids: subscriptions.to_vec(),
            limits: Limits::default(),
            expires_at: None,
        };
        self.clean
            .create
            .execute(actor, request)
            .await
            .unwrap()
            .key
            .id
    }

    pub async fn key(&self, id: ApiKeyId) -> ApiKey {
        self.store().get_key(id).await.unwrap().unwrap()
    }

    /// When the next job is due (a pending job's `run_at`, a running job's lease end), if any.
    async fn next_job_due(&self) -> Option<DateTime<Utc>> {
        let row = self
            .sql
            .query_one(
                "SELECT (extract(epoch FROM min(t)) * 1000000)::bigint FROM ( \
                     SELECT run_at AS t FROM jobs WHERE status = 'pending' \
                     UNION ALL SELECT locked_until FROM jobs WHERE status = 'running') due",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, Option<i64>>(0)
            .and_then(DateTime::from_timestamp_micros)
    }

    /// Runs the job worker until no job is left to run, moving the clock to each job that is due later
    /// (backoff, a retirement deadline, the lease of a job whose worker died).
    pub async fn drain_jobs(&self, worker: &Process) -> Result<(), String> {
        for _ in 0..500 {
            let report = worker
                .jobs
                .run_once(50)
                .await
                .map_err(|e| format!("job worker pass failed: {e}"))?;
            if report.claimed > 0 || report.expired_keys > 0 {
                continue;
            }
            match self.next_job_due().await {
                Some(at) => self.clock.reach(at + Duration::milliseconds(1)),
                None => return Ok(()),
            }
        }
        Err("the jobs never settled".into())
    }

    /// One reconcile pass that treats every provisioning row as stale (the clock moves forward first).
    pub async fn reconcile(&self, process: &Process) -> Result<ReconcileReport, String> {
        self.clock.advance(Duration::seconds(1));
        let options = ReconcileOptions {
            stale_after: Duration::zero(),
            ..ReconcileOptions::default()
        };
        process
            .reconcile
            .execute(&options, &|_| {})
            .await
            .map_err(|e| format!("reconcile pass failed: {e}"))
    }

    /// After a scenario: LiteLLM recovers, answers still on their way land, the job worker runs until
    /// nothing is left, one reconcile pass runs, and the worker runs what it queued.
    pub async fn settle(&self) -> Result<ReconcileReport, String> {
        self.double.clear_faults();
        if self.late_commits.swap(false, Ordering::Relaxed) {
            tokio::time::sleep(SLOWER_THAN_TIMEOUT + std::time::Duration::from_millis(100)).await;
        }
        self.drain_jobs(&self.clean).await?;
        // No fault is left, but on a loaded machine the double can still miss keyport's short test timeout
        // (a CI run beside a benchmark once timed out a `GET /key/list`): a pass that found LiteLLM
        // unavailable is run again, a few times, before it counts as a failure. A pass is idempotent.
        let mut attempt = 0;
        let report = loop {
            attempt += 1;
            match self.reconcile(&self.clean).await {
                Err(e) if attempt < 5 && e.contains("LiteLLM unavailable") => {
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
                other => break other?,
            }
        };
        self.drain_jobs(&self.clean).await?;
        Ok(report)
    }
}

//! Seeded random sequences: each a handful of operations of one fresh user (subscribe, create, revoke,
//! rotate, update, cancel, plus job worker passes, reconcile passes, a key deleted behind keyport's back),
//! each operation with random trouble — a LiteLLM fault armed in the double (which later operations may
//! meet too), the database failing at some step, the process dying before or after some step or at an
//! arbitrary moment while LiteLLM hangs, or the process pausing while a worker, the reconciler or another
//! request acts — then the system settles and the invariants are checked for the user.
//!
//! `KEYPORT_RANDOM_SEQUENCES` (default 200) sets how many, `KEYPORT_RANDOM_SEED` the seed (random when
//! unset), `KEYPORT_RANDOM_ONLY=<n>` runs only sequence n of the seed. A failure prints the seed, the
//! sequence and what each operation did. Sequences run in lanes (each its own database and double) at once.

use crate::env::{Env, Process, SLOWER_THAN_TIMEOUT};
use crate::faulty::{drive, Act, Plan, Ran, Then};
use crate::invariants::{check, Scope};
use chrono::Duration;
use keyport_domain::ids::ApiKeyId;
use keyport_domain::keys::ApiKeyStatus;
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::{CreateKeyRequest, UpdateKeyRequest};
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::reconcile::ReconcileOptions;
use keyport_domain::subscriptions::SubscriptionAction;
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::users::{Actor, Role};
use keyport_testkit::double::{Fault, FaultRule};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const MODELS: [&str; 3] = [
    "gpt-4o-mini",
    "claude-3-5-sonnet",
    "meta-llama/Llama-3.1-8B-Instruct",
];
const PATHS: [&str; 9] = [
    "/key/generate",
    "/key/info",
    "/key/update",
    "/key/delete",
    "/key/list",
    "/user/new",
    "/user/update",
    "/team/new",
    "/team/info",
];
/// Lanes run at once, each with its own database and double.
const LANES: u64 = 8;

#[derive(Debug, Clone)]
enum Trouble {
    None,
    /// Armed in the double before the operation; what it does not use, later ones may meet.
    Litellm(FaultRule),
    DbFails {
        step: usize,
    },
    DbGoesDown {
        step: usize,
    },
    DieBefore {
        step: usize,
    },
    DieAfter {
        step: usize,
    },
    /// LiteLLM hangs on this path (committing first or not) and the process dies `ms` into the operation,
    /// wherever it is then.
    DieAnywhere {
        ms: u64,
        hang: FaultRule,
    },
    /// The process pauses before this step; meanwhile another process acts; then it goes on or dies.
    Pause {
        step: usize,
        meanwhile: Box<Op>,
        then: Then,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Subscribe {
        model: usize,
    },
    Create {
        subs: Vec<usize>,
        trouble: Trouble,
    },
    Revoke {
        key: usize,
        trouble: Trouble,
    },
    Rotate {
        key: usize,
        overlap_secs: i64,
        trouble: Trouble,
    },
    Update {
        key: usize,
        subs: Option<Vec<usize>>,
        rpm: Option<u64>,
        trouble: Trouble,
    },
    Cancel {
        sub: usize,
        trouble: Trouble,
    },
    /// An administrator suspends, reactivates or re-quotas one of the user's subscriptions.
    Admin {
        sub: usize,
        action: AdminAction,
        trouble: Trouble,
    },
    Worker {
        trouble: Trouble,
    },
    Reconcile {
        stale_minutes: i64,
        trouble: Trouble,
    },
    DeleteInLitellm {
        key: usize,
    },
    ClearFaults,
}

#[derive(Debug, Clone)]
enum AdminAction {
    Suspend,
    Reactivate,
    Quota { rpm: u64, budget: i64 },
}

fn fault(rng: &mut StdRng) -> (Fault, bool) {
    match rng.random_range(0..8) {
        0 => (Fault::Latency(std::time::Duration::from_millis(50)), false),
        1 => (Fault::Latency(SLOWER_THAN_TIMEOUT), true),
        2 => (Fault::Status(500), false),
        3 => (Fault::Status(503), false),
        4 => (Fault::Timeout, false),
        5 => (Fault::CommitThenTimeout, false),
        6 => (Fault::DropConnection, false),
        _ => (Fault::CommitThenDrop, false),
    }
}

fn trouble(rng: &mut StdRng) -> Trouble {
    let step = rng.random_range(0..9);
    match rng.random_range(0..100) {
        0..35 => Trouble::None,
        35..60 => {
            let (fault, _) = fault(rng);
            let rule = match fault {
                // LiteLLM down for a while: every call until the faults are cleared.
                Fault::Status(503) | Fault::DropConnection if rng.random_bool(0.2) => {
                    FaultRule::from(fault).always()
                }
                fault => fault
                    .on(PATHS.choose(rng).copied().unwrap_or("/key/generate"))
                    .times(rng.random_range(1..=3)),
            };
            Trouble::Litellm(rule)
        }
        60..65 => Trouble::DbFails { step },
        65..68 => Trouble::DbGoesDown { step },
        68..75 => Trouble::DieBefore { step },
        75..82 => Trouble::DieAfter { step },
        82..87 => {
            let hang = if rng.random_bool(0.5) {
                Fault::CommitThenTimeout
            } else {
                Fault::Timeout
            };
            Trouble::DieAnywhere {
                ms: rng.random_range(0..250),
                hang: hang.on(PATHS.choose(rng).copied().unwrap_or("/key/generate")),
            }
        }
        _ => Trouble::Pause {
            step: rng.random_range(0..7),
            meanwhile: Box::new(meanwhile(rng)),
            then: if rng.random_bool(0.3) {
                Then::Die
            } else {
                Then::Resume
            },
        },
    }
}

/// What another process does while one is paused: mostly something that conflicts with it.
fn meanwhile(rng: &mut StdRng) -> Op {
    let key = rng.random_range(0..16);
    match rng.random_range(0..100) {
        0..35 => Op::Cancel {
            sub: rng.random_range(0..MODELS.len()),
            trouble: Trouble::None,
        },
        35..55 => Op::Revoke {
            key,
            trouble: Trouble::None,
        },
        55..70 => Op::Worker {
            trouble: Trouble::None,
        },
        70..85 => Op::Reconcile {
            stale_minutes: 0,
            trouble: Trouble::None,
        },
        85..93 => Op::Update {
            key,
            subs: Some(subset(rng)),
            rpm: None,
            trouble: Trouble::None,
        },
        _ => Op::Rotate {
            key,
            overlap_secs: 0,
            trouble: Trouble::None,
        },
    }
}

fn subset(rng: &mut StdRng) -> Vec<usize> {
    let mut out: Vec<usize> = (0..MODELS.len()).filter(|_| rng.random_bool(0.5)).collect();
    if out.is_empty() {
        out.push(rng.random_range(0..MODELS.len()));
    }
    out
}

fn op(rng: &mut StdRng) -> Op {
    let key = rng.random_range(0..16);
    match rng.random_range(0..100) {
        0..10 => Op::Subscribe {
            model: rng.random_range(0..MODELS.len()),
        },
        10..32 => Op::Create {
            subs: subset(rng),
            trouble: trouble(rng),
        },
        32..45 => Op::Revoke {
            key,
            trouble: trouble(rng),
        },
        45..57 => Op::Rotate {
            key,
            overlap_secs: *[0, 0, 60, 3600].choose(rng).unwrap_or(&0),
            trouble: trouble(rng),
        },
        57..70 => Op::Update {
            key,
            subs: rng.random_bool(0.6).then(|| subset(rng)),
            rpm: rng.random_bool(0.5).then(|| rng.random_range(1..1000)),
            trouble: trouble(rng),
        },
        70..80 => Op::Cancel {
            sub: rng.random_range(0..MODELS.len()),
            trouble: trouble(rng),
        },
        80..89 => Op::Worker {
            trouble: trouble(rng),
        },
        89..93 => Op::Reconcile {
            stale_minutes: *[0, 5].choose(rng).unwrap_or(&0),
            trouble: trouble(rng),
        },
        93..97 => Op::Admin {
            sub: rng.random_range(0..MODELS.len()),
            action: match rng.random_range(0..3) {
                0 => AdminAction::Suspend,
                1 => AdminAction::Reactivate,
                _ => AdminAction::Quota {
                    rpm: rng.random_range(1..1000),
                    budget: rng.random_range(1..100),
                },
            },
            trouble: trouble(rng),
        },
        97..98 => Op::DeleteInLitellm { key },
        _ => Op::ClearFaults,
    }
}

/// Sequence `index` of `seed`: subscriptions and a key to start from, then 3 to 8 random operations.
fn sequence(seed: u64, index: u64) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut ops = vec![
        Op::Subscribe {
            model: rng.random_range(0..MODELS.len()),
        },
        Op::Subscribe {
            model: rng.random_range(0..MODELS.len()),
        },
        Op::Create {
            subs: subset(&mut rng),
            trouble: Trouble::None,
        },
    ];
    for _ in 0..rng.random_range(3..=8) {
        ops.push(op(&mut rng));
    }
    ops
}

/// The user's keys that can still be acted on (live or lost), oldest first.
async fn pick_key(env: &Env, actor: &Actor, n: usize) -> Option<ApiKeyId> {
    let mut keys: Vec<_> = env
        .store()
        .list_keys(actor.user_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| {
            matches!(
                k.status,
                ApiKeyStatus::Active | ApiKeyStatus::Retiring | ApiKeyStatus::Lost
            )
        })
        .collect();
    keys.sort_by_key(|k| (k.created_at, k.id));
    (!keys.is_empty()).then(|| keys[n % keys.len()].id)
}

/// The user's subscriptions to these models, if any.
async fn subscriptions(
    env: &Env,
    actor: &Actor,
    models: &[usize],
    active_only: bool,
) -> Vec<keyport_domain::ids::SubscriptionId> {
    let subs = env.store().list_subscriptions(actor.user_id).await.unwrap();
    models
        .iter()
        .filter_map(|m| {
            subs.iter().find(|s| {
                s.model_id.as_str() == MODELS[*m]
                    && (!active_only || s.status == SubscriptionStatus::Active)
            })
        })
        .map(|s| s.id)
        .collect()
}

fn describe<T>(
    env: &Env,
    result: Result<T, keyport_domain::Error>,
    ok: impl FnOnce(T) -> String,
) -> String {
    match result {
        Ok(value) => ok(value),
        Err(error) => {
            env.note_error(&error);
            format!("answered: {error}")
        }
    }
}

/// Runs one operation in `process`; answers what it did.
async fn perform(env: &Env, p: &Process, actor: &Actor, op: &Op) -> String {
    match op {
        Op::Subscribe { model } => {
            describe(env, p.subscribe.execute(actor, MODELS[*model]).await, |s| {
                format!("subscribed, {}", s.status.as_str())
            })
        }
        Op::Create { subs, .. } => {
            let subscription_ids = subscriptions(env, actor, subs, true).await;
            if subscription_ids.is_empty() {
                return "skipped: no active subscription".into();
            }
            let request = CreateKeyRequest {
                name: format!("k{}", rand::random::<u16>()),
                subscription_ids,
                limits: Limits::default(),
                expires_at: None,
            };
            describe(env, p.create.execute(actor, request).await, |c| {
                format!("created, {}", c.key.status.as_str())
            })
        }
        Op::Revoke { key, .. } => match pick_key(env, actor, *key).await {
            None => "skipped: no key".into(),
            Some(id) => describe(env, p.revoke.execute(actor, id).await, |k| {
                format!("{}, {}", k.status.as_str(), k.sync_state.as_str())
            }),
        },
        Op::Rotate {
            key, overlap_secs, ..
        } => match pick_key(env, actor, *key).await {
            None => "skipped: no key".into(),
            Some(id) => describe(
                env,
                p.rotate
                    .execute(actor, id, Duration::seconds(*overlap_secs))
                    .await,
                |c| format!("rotated, new key {}", c.key.status.as_str()),
            ),
        },
        Op::Update { key, subs, rpm, .. } => match pick_key(env, actor, *key).await {
            None => "skipped: no key".into(),
            Some(id) => {
                let subscription_ids = match subs {
                    Some(models) => Some(subscriptions(env, actor, models, false).await),
                    None => None,
                };
                let request = UpdateKeyRequest {
                    name: None,
                    limits: rpm.map(|rpm| Limits {
                        rpm_limit: Some(rpm),
                        ..Limits::default()
                    }),
                    subscription_ids,
                    expires_at: None,
                };
                describe(env, p.update.execute(actor, id, request).await, |k| {
                    format!("updated, {}", k.sync_state.as_str())
                })
            }
        },
        Op::Cancel { sub, .. } => match subscriptions(env, actor, &[*sub], false).await.first() {
            None => "skipped: no such subscription".into(),
            Some(id) => describe(env, p.cancel.execute(actor, *id).await, |s| {
                s.status.as_str().to_owned()
            }),
        },
        Op::Admin { sub, action, .. } => {
            match subscriptions(env, actor, &[*sub], false).await.first() {
                None => "skipped: no such subscription".into(),
                Some(id) => {
                    let admin = Actor {
                        roles: vec![Role::Admin],
                        ..actor.clone()
                    };
                    let action = match action {
                        AdminAction::Suspend => SubscriptionAction::Suspend {
                            reason: "random suspension".into(),
                        },
                        AdminAction::Reactivate => SubscriptionAction::Reactivate,
                        AdminAction::Quota { rpm, budget } => {
                            SubscriptionAction::ChangeQuota(Limits {
                                max_budget: Some(
                                    Money::new(rust_decimal::Decimal::from(*budget)).unwrap(),
                                ),
                                budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
                                tpm_limit: None,
                                rpm_limit: Some(*rpm),
                            })
                        }
                    };
                    describe(env, p.control.execute(&admin, *id, action).await, |s| {
                        format!("admin: {}", s.status.as_str())
                    })
                }
            }
        }
        Op::Worker { .. } => describe(env, p.jobs.run_once(20).await, |r| format!("{r:?}")),
        Op::Reconcile { stale_minutes, .. } => {
            env.clock.advance(Duration::seconds(1));
            let options = ReconcileOptions {
                stale_after: Duration::minutes(*stale_minutes),
                ..ReconcileOptions::default()
            };
            describe(env, p.reconcile.execute(&options, &|_| {}).await, |r| {
                format!("reconciled: {:?}", r.findings)
            })
        }
        Op::DeleteInLitellm { key } => match pick_key(env, actor, *key).await {
            None => "skipped: no key".into(),
            Some(id) => {
                let hash = env.key(id).await.hash.as_str().to_owned();
                // The armed faults apply to this call too, and it may land late: the key counts as deleted
                // by the test whatever the answer.
                env.deleted_in_litellm.lock().unwrap().insert(hash.clone());
                let answer = env
                    .http
                    .post(format!("{}/key/delete", env.double.base_url()))
                    .bearer_auth(env.double.master_key())
                    .timeout(std::time::Duration::from_secs(1))
                    .json(&serde_json::json!({"keys": [hash]}))
                    .send()
                    .await
                    .map(|r| r.status().to_string());
                format!("deleted in LiteLLM behind keyport's back ({answer:?})")
            }
        },
        Op::ClearFaults => {
            env.double.clear_faults();
            "LiteLLM recovered".into()
        }
    }
}

fn trouble_of(op: &Op) -> Trouble {
    match op {
        Op::Create { trouble, .. }
        | Op::Revoke { trouble, .. }
        | Op::Rotate { trouble, .. }
        | Op::Update { trouble, .. }
        | Op::Cancel { trouble, .. }
        | Op::Admin { trouble, .. }
        | Op::Worker { trouble }
        | Op::Reconcile { trouble, .. } => trouble.clone(),
        _ => Trouble::None,
    }
}

/// Runs one operation with its trouble, in a process of its own; notes what happened meanwhile.
async fn perform_with_trouble(
    env: &Env,
    actor: &Actor,
    op: &Op,
    notes: &std::sync::Mutex<Vec<String>>,
) -> String {
    let trouble = trouble_of(op);
    let plan = match &trouble {
        Trouble::None | Trouble::Litellm(_) | Trouble::DieAnywhere { .. } => Plan::default(),
        Trouble::DbFails { step } => Plan::at(*step, vec![Act::DbFails]),
        Trouble::DbGoesDown { step } => Plan::at(*step, vec![Act::DbGoesDown]),
        Trouble::DieBefore { step } => Plan::at(*step, vec![Act::DieBefore]),
        Trouble::DieAfter { step } => Plan::at(*step, vec![Act::DieAfter]),
        Trouble::Pause { step, .. } => Plan::at(*step, vec![Act::Pause]),
    };
    match &trouble {
        Trouble::Litellm(rule) => {
            if matches!(rule.fault, Fault::Latency(d) if d >= SLOWER_THAN_TIMEOUT) {
                env.late_commits.store(true, Ordering::Relaxed);
            }
            env.double.inject(rule.clone());
        }
        Trouble::DieAnywhere { hang, .. } => env.double.inject(hang.clone()),
        _ => {}
    }
    let process = env.process(plan).await;
    let work = perform(env, &process, actor, op);
    let deadline = match &trouble {
        Trouble::DieAnywhere { ms, .. } => std::time::Duration::from_millis(*ms),
        _ => std::time::Duration::from_secs(3600),
    };
    let ran = drive(
        &process.ctl,
        async { tokio::time::timeout(deadline, work).await.ok() },
        |_| async {
            if let Trouble::Pause {
                meanwhile, then, ..
            } = &trouble
            {
                let done = perform(env, &env.clean, actor, meanwhile).await;
                notes
                    .lock()
                    .unwrap()
                    .push(format!("      meanwhile {meanwhile:?}\n      => {done}"));
                *then
            } else {
                Then::Resume
            }
        },
    )
    .await;
    match ran {
        Ran::Done(Some(done)) => done,
        Ran::Done(None) => "the process died (at an arbitrary moment)".into(),
        Ran::Died(step) => format!("the process died at step {step}"),
    }
}

/// Runs sequence `index` for a fresh user of `env`; answers its log, or the log and the violations.
async fn run_sequence(env: &Env, ops: &[Op]) -> Result<Vec<String>, Vec<String>> {
    let actor = env.user().await;
    let mut log = Vec::new();
    let notes = std::sync::Mutex::new(Vec::new());
    for (n, op) in ops.iter().enumerate() {
        let done = perform_with_trouble(env, &actor, op, &notes).await;
        log.push(format!("  {n}. {op:?}\n      => {done}"));
        log.append(&mut notes.lock().unwrap());
    }
    match env.settle().await {
        Ok(report) => log.push(format!("  settled; reconcile found {:?}", report.findings)),
        Err(error) => {
            log.push(format!("  settling failed: {error}"));
            return Err(log);
        }
    }
    let violations = check(env, Scope::Users(&[actor.user_id])).await;
    if violations.is_empty() {
        Ok(log)
    } else {
        log.push("  violations:".into());
        log.extend(violations.into_iter().map(|v| format!("  - {v}")));
        Err(log)
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeded_random_sequences_keep_every_invariant() {
    let count = env_number("KEYPORT_RANDOM_SEQUENCES").unwrap_or(200);
    let seed = env_number("KEYPORT_RANDOM_SEED").unwrap_or_else(rand::random);
    let only = env_number("KEYPORT_RANDOM_ONLY");
    eprintln!("random sequences: KEYPORT_RANDOM_SEED={seed} KEYPORT_RANDOM_SEQUENCES={count}");
    let indices: Vec<u64> = match only {
        Some(n) => vec![n],
        None => (0..count).collect(),
    };
    let started = std::time::Instant::now();
    let mut lanes = Vec::new();
    for lane in 0..LANES.min(indices.len() as u64) {
        let mine: Vec<u64> = indices
            .iter()
            .copied()
            .filter(|i| i % LANES.min(indices.len() as u64) == lane)
            .collect();
        lanes.push(tokio::spawn(async move {
            let env = Arc::new(Env::with_seed(seed ^ lane).await);
            let mut failures = Vec::new();
            for index in mine {
                let ops = sequence(seed, index);
                let task = {
                    let env = env.clone();
                    let ops = ops.clone();
                    tokio::spawn(async move { run_sequence(&env, &ops).await })
                };
                let failure = match task.await {
                    Ok(Ok(log)) if only.is_some() => {
                        eprintln!("sequence {index}:\n{}", log.join("\n"));
                        None
                    }
                    Ok(Ok(_)) => None,
                    Ok(Err(log)) => Some(log.join("\n")),
                    Err(panic) => Some(format!("  panicked: {panic}\n  operations: {ops:#?}")),
                };
                if let Some(log) = failure {
                    failures.push(format!(
                        "sequence {index} (reproduce: KEYPORT_RANDOM_SEED={seed} KEYPORT_RANDOM_ONLY={index}):\n{log}"
                    ));
                    // The lane's database is no longer a clean slate for global checks; go on with the
                    // other lanes' sequences only.
                    break;
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for lane in lanes {
        failures.extend(lane.await.unwrap());
    }
    eprintln!(
        "{} sequences in {:.1} s",
        indices.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "seed {seed}: {} sequence(s) broke an invariant (each lane stops at its first failure):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

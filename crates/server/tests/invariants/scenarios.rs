//! Every flow broken at every step. A test takes one flow (create, revoke, rotate, update, cancel a
//! subscription) and one kind of trouble; it first runs the flow cleanly to learn its steps (each store
//! call and each LiteLLM call), then, for each step and each variant of the trouble, runs the flow again
//! for a fresh user with the trouble at that step, lets the system settle (LiteLLM recovers, the job
//! worker runs until nothing is left, one reconcile pass, the worker again) and checks the invariants.
//! Every failing step is reported, not only the first.

use crate::env::{Env, Process, RETRIES, SLOWER_THAN_TIMEOUT};
use crate::faulty::{drive, Act, Plan, Port, Ran, Step, Then};
use crate::invariants::{check, Scope};
use chrono::Duration;
use keyport_domain::ids::{ApiKeyId, SubscriptionId};
use keyport_domain::keys::{CreateKeyRequest, UpdateKeyRequest};
use keyport_domain::limits::Limits;
use keyport_domain::users::Actor;
use keyport_testkit::double::{Fault, FaultRule};
use std::sync::atomic::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Create,
    Revoke,
    Rotate,
    Update,
    Cancel,
}

/// What a flow starts from: a user with two subscriptions (gpt-4o-mini, claude-3-5-sonnet) and the keys
/// the flow works on.
pub struct Setup {
    pub actor: Actor,
    pub subscriptions: Vec<SubscriptionId>,
    pub keys: Vec<ApiKeyId>,
}

impl Flow {
    async fn setup(self, env: &Env) -> Setup {
        let actor = env.user().await;
        let a = env.subscribe(&actor, "gpt-4o-mini").await;
        let b = env.subscribe(&actor, "claude-3-5-sonnet").await;
        let keys = match self {
            Flow::Create => vec![],
            Flow::Revoke | Flow::Update => vec![env.create_key(&actor, "k", &[a]).await],
            Flow::Rotate => vec![env.create_key(&actor, "k", &[a, b]).await],
            // Cancelling `a` revokes the first key and takes a model from the second.
            Flow::Cancel => vec![
                env.create_key(&actor, "only-a", &[a]).await,
                env.create_key(&actor, "a-and-b", &[a, b]).await,
            ],
        };
        Setup {
            actor,
            subscriptions: vec![a, b],
            keys,
        }
    }

    async fn run(self, p: &Process, s: &Setup) -> Result<String, keyport_domain::Error> {
        Ok(match self {
            Flow::Create => {
                let request = CreateKeyRequest {
                    name: "new".into(),
                    subscription_ids: s.subscriptions.clone(),
                    limits: Limits::default(),
                    expires_at: None,
                };
                let created = p.create.execute(&s.actor, request).await?;
                format!("created, {}", created.key.status.as_str())
            }
            Flow::Revoke => {
                let key = p.revoke.execute(&s.actor, s.keys[0]).await?;
                format!("{}, {}", key.status.as_str(), key.sync_state.as_str())
            }
            Flow::Rotate => {
                let created = p
                    .rotate
                    .execute(&s.actor, s.keys[0], Duration::zero())
                    .await?;
                format!("rotated, new key {}", created.key.status.as_str())
            }
            Flow::Update => {
                let request = UpdateKeyRequest {
                    name: Some("renamed".into()),
                    limits: Some(Limits {
                        rpm_limit: Some(100),
                        tpm_limit: Some(50_000),
                        ..Limits::default()
                    }),
                    subscription_ids: Some(s.subscriptions.clone()),
                    expires_at: None,
                };
                let key = p.update.execute(&s.actor, s.keys[0], request).await?;
                format!("updated, {}", key.sync_state.as_str())
            }
            Flow::Cancel => {
                let sub = p.cancel.execute(&s.actor, s.subscriptions[0]).await?;
                sub.status.as_str().to_owned()
            }
        })
    }
}

/// The kinds of trouble, each a test per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LitellmSlow,
    Litellm5xx,
    TimeoutBeforeCommit,
    TimeoutAfterCommit,
    DroppedConnection,
    LitellmGoesDown,
    DatabaseUnavailable,
    ProcessDies,
    WorkerAndReconcilerMeanwhile,
    ConcurrentChange,
}

/// Something that happens while a flow is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meanwhile {
    Reconcile,
    Worker,
    CancelEverySubscription,
    RevokeEveryKey,
}

/// One way to break a flow at one step.
#[derive(Debug, Clone)]
pub struct Variant {
    pub label: String,
    pub acts: Vec<Act>,
    /// A LiteLLM answer may land after keyport gave up on it.
    pub late: bool,
    pub meanwhile: Option<Meanwhile>,
}

fn variant(label: impl Into<String>, acts: Vec<Act>) -> Variant {
    Variant {
        label: label.into(),
        acts,
        late: false,
        meanwhile: None,
    }
}

/// The fault on the call at this step, as the flow sees it: `/key/generate` is never retried; the
/// idempotent calls are retried, so the fault covers the retries too.
fn on_call(fault: Fault, step: &Step) -> Option<Act> {
    let path = step.path()?;
    let times = if step.name == "generate_key" {
        1
    } else {
        1 + RETRIES
    };
    Some(Act::Arm(fault.on(path).times(times)))
}

impl Kind {
    fn variants(self, flow: Flow, step: &Step) -> Vec<Variant> {
        let gateway = step.port == Port::Gateway;
        let store = step.port == Port::Store;
        let litellm = |label: &str, fault: Fault| -> Vec<Variant> {
            on_call(fault, step)
                .map(|act| variant(label, vec![act]))
                .into_iter()
                .collect()
        };
        match self {
            Kind::LitellmSlow => {
                let mut out = litellm(
                    "LiteLLM answers in 50 ms",
                    Fault::Latency(std::time::Duration::from_millis(50)),
                );
                out.extend(
                    litellm(
                        "LiteLLM answers after keyport gave up (and commits then)",
                        Fault::Latency(SLOWER_THAN_TIMEOUT),
                    )
                    .into_iter()
                    .map(|v| Variant { late: true, ..v }),
                );
                out
            }
            Kind::Litellm5xx => {
                let mut out = litellm("LiteLLM answers 500", Fault::Status(500));
                out.extend(litellm("LiteLLM answers 503", Fault::Status(503)));
                out
            }
            Kind::TimeoutBeforeCommit => {
                litellm("LiteLLM never answers (nothing committed)", Fault::Timeout)
            }
            Kind::TimeoutAfterCommit => litellm(
                "LiteLLM commits, then never answers",
                Fault::CommitThenTimeout,
            ),
            Kind::DroppedConnection => {
                let mut out = litellm(
                    "the connection drops before LiteLLM acts",
                    Fault::DropConnection,
                );
                out.extend(litellm(
                    "LiteLLM commits, then the connection drops",
                    Fault::CommitThenDrop,
                ));
                out
            }
            Kind::LitellmGoesDown if gateway => vec![variant(
                "LiteLLM answers 503 to everything from this call on",
                vec![Act::Arm(FaultRule::from(Fault::Status(503)).always())],
            )],
            Kind::DatabaseUnavailable if store => vec![
                variant("the database fails this call", vec![Act::DbFails]),
                variant(
                    "the database is unavailable from this call on",
                    vec![Act::DbGoesDown],
                ),
            ],
            Kind::ProcessDies => {
                let mut out = vec![
                    variant("the process dies before the call", vec![Act::DieBefore]),
                    variant(
                        "the process dies after the call, before using its answer",
                        vec![Act::DieAfter],
                    ),
                ];
                let during = Act::DieDuring(std::time::Duration::from_millis(60));
                if let Some(hang) = on_call(Fault::Timeout, step) {
                    out.push(variant(
                        "the process dies while LiteLLM works (nothing committed yet)",
                        vec![hang, during.clone()],
                    ));
                }
                if let Some(hang) = on_call(Fault::CommitThenTimeout, step) {
                    out.push(variant(
                        "the process dies while LiteLLM's answer is on its way (committed)",
                        vec![hang, during],
                    ));
                }
                out
            }
            Kind::WorkerAndReconcilerMeanwhile => vec![
                Variant {
                    meanwhile: Some(Meanwhile::Worker),
                    ..variant("a job worker pass runs before the call", vec![Act::Pause])
                },
                Variant {
                    meanwhile: Some(Meanwhile::Reconcile),
                    ..variant(
                        "a reconcile pass (every provisioning row stale) runs before the call",
                        vec![Act::Pause],
                    )
                },
            ],
            Kind::ConcurrentChange => {
                let mut out = vec![Variant {
                    meanwhile: Some(Meanwhile::CancelEverySubscription),
                    ..variant(
                        "another request cancels every subscription of the user before the call",
                        vec![Act::Pause],
                    )
                }];
                if flow != Flow::Create {
                    out.push(Variant {
                        meanwhile: Some(Meanwhile::RevokeEveryKey),
                        ..variant(
                            "another request revokes the keys before the call",
                            vec![Act::Pause],
                        )
                    });
                }
                out
            }
            Kind::LitellmGoesDown | Kind::DatabaseUnavailable => vec![],
        }
    }
}

/// Runs what happens while the flow is paused, in another process (another replica, or another request).
async fn meanwhile(env: &Env, setup: &Setup, what: Option<Meanwhile>) -> Then {
    let other = &env.clean;
    match what {
        None => {}
        Some(Meanwhile::Worker) => {
            if let Err(e) = other.jobs.run_once(50).await {
                env.note_error(&e);
            }
        }
        Some(Meanwhile::Reconcile) => {
            if let Err(e) = env.reconcile(other).await {
                panic!("{e}");
            }
        }
        Some(Meanwhile::CancelEverySubscription) => {
            for sub in &setup.subscriptions {
                if let Err(e) = other.cancel.execute(&setup.actor, *sub).await {
                    env.note_error(&e);
                }
            }
        }
        Some(Meanwhile::RevokeEveryKey) => {
            for key in &setup.keys {
                if let Err(e) = other.revoke.execute(&setup.actor, *key).await {
                    env.note_error(&e);
                }
            }
        }
    }
    Then::Resume
}

/// The flow, broken in every way `kind` knows at every step it takes.
pub async fn each_step(flow: Flow, kind: Kind) {
    let env = Env::new().await;
    let setup = flow.setup(&env).await;
    let clean = env.process(Plan::default()).await;
    let outcome = flow.run(&clean, &setup).await;
    assert!(
        outcome.is_ok(),
        "{flow:?} fails without faults: {outcome:?}"
    );
    let steps = clean.ctl.steps();
    drop(clean);
    env.settle().await.unwrap();
    let baseline = check(&env, Scope::Everyone).await;
    assert!(
        baseline.is_empty(),
        "{flow:?} without faults: {baseline:#?}"
    );

    let mut failures = Vec::new();
    let mut runs = 0;
    for (index, step) in steps.iter().enumerate() {
        for variant in kind.variants(flow, step) {
            runs += 1;
            let setup = flow.setup(&env).await;
            let process = env.process(Plan::at(index, variant.acts.clone())).await;
            if variant.late {
                env.late_commits.store(true, Ordering::Relaxed);
            }
            let paused = std::cell::Cell::new(false);
            let ran = drive(&process.ctl, flow.run(&process, &setup), |_| {
                paused.set(true);
                meanwhile(&env, &setup, variant.meanwhile)
            })
            .await;
            let died = matches!(ran, Ran::Died(_));
            let dies = variant
                .acts
                .iter()
                .any(|a| matches!(a, Act::DieBefore | Act::DieAfter | Act::DieDuring(_)));
            if died != dies || paused.get() != variant.meanwhile.is_some() {
                failures.push(format!(
                    "{flow:?}, step {index} ({step}), {}: did not take effect ({ran:?})",
                    variant.label
                ));
            }
            let outcome = match ran {
                Ran::Done(Ok(done)) => done,
                Ran::Done(Err(error)) => {
                    env.note_error(&error);
                    format!("answered: {error}")
                }
                Ran::Died(at) => format!("the process died at step {at}"),
            };
            drop(process);
            let (report, violations) = match env.settle().await {
                Ok(report) => {
                    let violations = check(&env, Scope::Users(&[setup.actor.user_id])).await;
                    (format!("{:?}", report.findings), violations)
                }
                Err(error) => (String::new(), vec![error]),
            };
            eprintln!("step {index} ({step}), {}: {outcome}", variant.label);
            if !violations.is_empty() {
                failures.push(format!(
                    "{flow:?}, step {index} ({step}), {}: {outcome}\n    reconcile found: {report}\n    - {}",
                    variant.label,
                    violations.join("\n    - ")
                ));
            }
        }
    }
    let after_all = check(&env, Scope::Everyone).await;
    assert!(
        runs > 0,
        "{kind:?} applies to no step of {flow:?}: {steps:?}"
    );
    assert!(
        failures.is_empty() && after_all.is_empty(),
        "{} of {runs} runs broke an invariant:\n{}\nafter all runs: {after_all:#?}\nsteps of the flow: {}",
        failures.len(),
        failures.join("\n"),
        steps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    );
}

macro_rules! scenarios {
    ($($flow:ident => $module:ident),* $(,)?) => {$(
        mod $module {
            use super::{each_step, Flow, Kind};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn litellm_slow_at_each_call() {
                each_step(Flow::$flow, Kind::LitellmSlow).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn litellm_5xx_at_each_call() {
                each_step(Flow::$flow, Kind::Litellm5xx).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn litellm_timeout_before_commit_at_each_call() {
                each_step(Flow::$flow, Kind::TimeoutBeforeCommit).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn litellm_timeout_after_commit_at_each_call() {
                each_step(Flow::$flow, Kind::TimeoutAfterCommit).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn litellm_connection_dropped_before_and_after_commit_at_each_call() {
                each_step(Flow::$flow, Kind::DroppedConnection).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn litellm_going_down_at_each_call() {
                each_step(Flow::$flow, Kind::LitellmGoesDown).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn database_unavailable_at_each_store_call() {
                each_step(Flow::$flow, Kind::DatabaseUnavailable).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn process_dying_before_during_and_after_each_step() {
                each_step(Flow::$flow, Kind::ProcessDies).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn worker_and_reconciler_running_before_each_step() {
                each_step(Flow::$flow, Kind::WorkerAndReconcilerMeanwhile).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_cancel_or_revoke_before_each_step() {
                each_step(Flow::$flow, Kind::ConcurrentChange).await
            }
        }
    )*};
}

scenarios!(
    Create => create,
    Revoke => revoke,
    Rotate => rotate,
    Update => update,
    Cancel => cancel_subscription,
);

/// A race between a request and a job worker: the request's immediate attempt at LiteLLM fails; before it
/// records that error, a worker runs the change's job, which succeeds and marks the key synced; the request
/// then records its (stale) error, which puts the key back to `pending` with no job left to clear it.
async fn stale_sync_error_after_a_worker_converged(flow: Flow) {
    let env = Env::new().await;
    let setup = flow.setup(&env).await;
    let clean = env.process(Plan::default()).await;
    flow.run(&clean, &setup).await.unwrap();
    let steps = clean.ctl.steps();
    drop(clean);
    let (call, step) = steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.port == Port::Gateway)
        .unwrap();
    let fault = Fault::Status(503)
        .on(step.path().unwrap())
        .times(1 + RETRIES);
    let setup = flow.setup(&env).await;
    let process = env
        .process(Plan(vec![(call, Act::Arm(fault)), (call + 1, Act::Pause)]))
        .await;
    let outcome = drive(&process.ctl, flow.run(&process, &setup), |_| {
        meanwhile(&env, &setup, Some(Meanwhile::Worker))
    })
    .await;
    drop(process);
    env.settle().await.unwrap();
    let violations = check(&env, Scope::Users(&[setup.actor.user_id])).await;
    assert!(violations.is_empty(), "{outcome:?}: {violations:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_failing_at_once_while_a_worker_deletes_the_key_does_not_stay_pending() {
    stale_sync_error_after_a_worker_converged(Flow::Revoke).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_failing_at_once_while_a_worker_applies_it_does_not_stay_pending() {
    stale_sync_error_after_a_worker_converged(Flow::Update).await
}

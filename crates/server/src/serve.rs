//! `keyport serve`, top-down: prepare (check the flags, migrate, connect, sync the catalog), start the
//! background tasks (catalog sync, job workers, reconciler, audit sealer; each in its own file), build the
//! API's state, start the upkeep (rate-limit pruning, session purge), then serve HTTP until SIGINT/SIGTERM
//! (graceful: in-flight requests finish).

use crate::config::{Common, ServeArgs};
use crate::metrics::{Counters, Prometheus};
use crate::wiring::Wiring;
use crate::{audit, catalog_sync, rate_limit_prune, reconcile, session_purge, worker};
use actix_web::{web, HttpServer};
use anyhow::Context;
use async_trait::async_trait;
use keyport_api::{
    ApiConfig, ApiState, OidcLogin, Readiness, ReadinessCheck, ServicePolicy, Services,
};
use keyport_domain::jobs::Backoff;
use keyport_domain::reconcile::ReconcileOptions;
use std::sync::Arc;
use std::time::Duration;

pub fn run(common: Common, args: ServeArgs) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(serve(common, args))
}

struct Dependencies {
    wiring: Wiring,
}

#[async_trait]
impl Readiness for Dependencies {
    async fn check(&self) -> Vec<ReadinessCheck> {
        let database = self.wiring.store.ping().await;
        let litellm = self.wiring.gateway.readiness().await;
        vec![
            ReadinessCheck {
                name: "database",
                ok: database.is_ok(),
                detail: database.err().map(|e| e.to_string()),
            },
            ReadinessCheck {
                name: "litellm",
                ok: litellm.is_ok(),
                detail: litellm.err().map(|e| e.to_string()),
            },
        ]
    }
}

/// Says at start whether the role keyport serves as could rewrite the audit log (docs/security.md).
async fn report_audit_exposure(wiring: &Wiring) {
    match wiring.store.audit_exposure().await {
        Ok(exposure) if exposure.append_only() => tracing::info!(
            role = %exposure.role,
            "serving as a database role that can only read and append to the audit log"
        ),
        Ok(exposure) => tracing::warn!(
            role = %exposure.role,
            superuser = exposure.superuser,
            owner = exposure.owner,
            beyond_append = exposure.beyond_append,
            "serving as a database role that can drop or disable the audit log's triggers; run keyport serve as a member of keyport_app and migrate with KEYPORT_MIGRATE_DATABASE_URL (docs/security.md#database-roles)"
        ),
        Err(error) => {
            tracing::warn!(%error, "cannot tell what the database role may do to the audit log")
        }
    }
}

async fn serve(common: Common, args: ServeArgs) -> anyhow::Result<()> {
    let wiring = prepare(&common, &args).await?;
    let counters = Arc::new(Counters::default());
    start_background_tasks(&wiring, &args, &counters);
    let state = build_state(&common, &args, &wiring, counters).await?;
    start_upkeep(&state, &wiring, &args);
    listen(state, &args).await
}

/// Checks the flags, migrates (unless told not to), connects, and syncs the catalog once.
async fn prepare(common: &Common, args: &ServeArgs) -> anyhow::Result<Wiring> {
    args.validate()?;
    if args.dev_login {
        tracing::warn!(
            "the DEVELOPMENT LOGIN is on (KEYPORT_DEV_LOGIN=true): anyone who can reach this server can sign in as any user, admin included; never use it in production"
        );
    }
    if !args.no_migrate {
        // With KEYPORT_MIGRATE_DATABASE_URL the owner role migrates (and grants keyport_app its privileges)
        // on a connection of its own that is closed before serving; the server then works as DATABASE_URL.
        keyport_postgres::run_migrations(common.migrate_database_url()?).await?;
        tracing::info!(as_owner_role = common.split_roles(), "migrations applied");
    }
    let wiring = Wiring::connect(common).await?;
    report_audit_exposure(&wiring).await;
    catalog_sync::at_start(&wiring).await;
    Ok(wiring)
}

/// Starts the tasks that run use cases in the background, each unless its interval (or count) is 0: the
/// periodic catalog sync, the job workers, the reconciler and the audit sealer.
fn start_background_tasks(wiring: &Wiring, args: &ServeArgs, counters: &Arc<Counters>) {
    if args.sync_interval_secs > 0 {
        catalog_sync::spawn(
            wiring.sync_catalog(),
            Duration::from_secs(args.sync_interval_secs),
        );
    }
    if args.job_workers > 0 {
        let backoff = Backoff {
            max_attempts: args.job_max_attempts.max(1),
            ..Backoff::default()
        };
        worker::spawn(
            worker::run_jobs(wiring, backoff),
            args.job_workers,
            Duration::from_millis(args.job_poll_ms.max(10)),
            counters.clone(),
        );
    }
    if args.reconcile_interval_secs > 0 {
        reconcile::spawn(
            wiring.clone(),
            Duration::from_secs(args.reconcile_interval_secs),
            ReconcileOptions {
                quarantine_orphans: args.reconcile_quarantine,
                ..ReconcileOptions::default()
            },
            counters.clone(),
        );
    }
    if args.audit_seal_interval_ms > 0 {
        audit::spawn(
            wiring.store.clone(),
            Duration::from_millis(args.audit_seal_interval_ms),
            counters.clone(),
        );
    }
}

/// The initial self-service settings from the flags, the use cases (with single sign-on when configured)
/// and the settings the API shows or obeys.
async fn build_state(
    common: &Common,
    args: &ServeArgs,
    wiring: &Wiring,
    counters: Arc<Counters>,
) -> anyhow::Result<web::Data<ApiState>> {
    let (litellm_url, _) = common.litellm()?;
    let initial = args.initial_settings();
    if let Err(errors) = initial.validate() {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("the key flags are invalid: {}", errors.join("; "));
    }
    let oidc = match args.oidc.settings(&args.public_url()?)? {
        Some((config, mapping)) => {
            let issuer = config.issuer.clone();
            let provider = keyport_oidc::OidcProvider::discover(config)
                .await
                .with_context(|| format!("OIDC: cannot use the identity provider {issuer}"))?;
            tracing::info!(
                issuer = %issuer,
                groups_claim = %mapping.groups_claim,
                sync_roles = mapping.sync_roles,
                allowed_groups = ?mapping.allowed_groups,
                "single sign-on enabled"
            );
            Some(OidcLogin {
                provider: Arc::new(provider),
                mapping,
            })
        }
        None => None,
    };
    let services = Services::new(
        &wiring.ports(initial, args.max_rotation_overlap()),
        ServicePolicy {
            sessions: args.session_policy(),
            dev_login: args.dev_login,
            oidc,
        },
    );
    Ok(web::Data::new(ApiState {
        services,
        config: ApiConfig {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            litellm_public_url: args
                .public_litellm_url
                .clone()
                .unwrap_or_else(|| litellm_url.as_str().trim_end_matches('/').to_owned()),
            dev_login: args.dev_login,
            secure_cookies: args.secure_cookies()?,
            trusted_proxies: args.trusted_proxies.iter().map(|p| p.0).collect(),
            hsts: args.public_url()?.scheme() == "https",
            metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        },
        readiness: Arc::new(Dependencies {
            wiring: wiring.clone(),
        }),
        metrics: Arc::new(Prometheus {
            counters,
            jobs: wiring.store.clone(),
            audit: wiring.store.clone(),
        }),
        limits: wiring.rate_limits(args.login_rate_per_minute, args.auth_failures_per_minute),
    }))
}

/// Starts the housekeeping tasks: the rate-limit pruning (every minute) and the session purge (every five).
fn start_upkeep(state: &web::Data<ApiState>, wiring: &Wiring, args: &ServeArgs) {
    rate_limit_prune::spawn(state.clone());
    session_purge::spawn(wiring.store.clone(), args.session_policy().idle);
}

/// Serves HTTP until SIGINT/SIGTERM; in-flight requests get 20 seconds to finish.
async fn listen(state: web::Data<ApiState>, args: &ServeArgs) -> anyhow::Result<()> {
    let mut server = HttpServer::new(move || keyport_api::app(state.clone())).shutdown_timeout(20);
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    let server = server.bind(args.bind)?;
    for addr in server.addrs() {
        println!("keyport listening on http://{addr}");
    }
    server.run().await?;
    tracing::info!("stopped");
    Ok(())
}

//! The `keyport` binary: parses the configuration, wires the adapters into the use cases and runs the
//! command (serve, migrate, sync, reconcile, admin, audit). It is the only place that knows every concrete
//! type.

mod admin;
mod audit;
mod catalog_sync;
mod config;
mod metrics;
mod rate_limit_prune;
mod reconcile;
mod serve;
mod session_purge;
mod wiring;
mod worker;

use clap::Parser;
use config::{Cli, Command, LogFormat, SyncWhat};
use std::process::ExitCode;

fn init_tracing(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.common.log, cli.common.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(cli.common, *args),
        other => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(run_command(cli.common, other))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keyport: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_command(common: config::Common, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => unreachable_serve(),
        Command::Migrate => {
            // KEYPORT_MIGRATE_DATABASE_URL (the owner role) when set, else DATABASE_URL.
            keyport_postgres::run_migrations(common.migrate_database_url()?).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Sync {
            what: SyncWhat::Models,
        } => {
            let wiring = wiring::Wiring::connect(&common).await?;
            let report = wiring.sync_catalog().execute().await?;
            eprintln!(
                "catalog synced: {} added, {} updated, {} unchanged, {} now unavailable",
                report.added.len(),
                report.updated.len(),
                report.unchanged,
                report.now_unavailable.len()
            );
            for id in &report.added {
                eprintln!("  + {id}");
            }
            for id in &report.now_unavailable {
                eprintln!("  - {id} (unavailable)");
            }
            Ok(())
        }
        Command::Admin { command } => admin::run(&common, command).await,
        Command::Audit {
            command: config::AuditCommand::Verify { expect_head },
        } => {
            let store = wiring::Wiring::connect_store(&common).await?;
            let report = audit::verify(store, expect_head.as_deref()).await?;
            print!("{}", audit::summary(&report));
            if report.intact() {
                Ok(())
            } else {
                anyhow::bail!(
                    "the audit chain is not intact: {} found",
                    audit::count(report.problems.len() as u64, "problem")
                )
            }
        }
        Command::Reconcile {
            dry_run,
            quarantine,
            stale_after_secs,
        } => {
            let wiring = wiring::Wiring::connect(&common).await?;
            let options = keyport_domain::reconcile::ReconcileOptions {
                dry_run,
                quarantine_orphans: quarantine,
                stale_after: chrono::Duration::seconds(i64::from(stale_after_secs)),
                ..Default::default()
            };
            let report = reconcile::run_once(&wiring, options).await?;
            print!("{}", reconcile::summary(&report));
            Ok(())
        }
    }
}

fn unreachable_serve() -> anyhow::Result<()> {
    anyhow::bail!("serve runs on its own runtime")
}

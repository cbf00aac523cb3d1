//! `litellm-double`: the LiteLLM test double as a standalone server, for manual work and end-to-end tests.

use anyhow::Context;
use clap::Parser;
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble, VersionProfile};

#[derive(Debug, Parser)]
#[command(name = "litellm-double", about = "A LiteLLM admin API test double")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 4000)]
    port: u16,
    #[arg(long, env = "LITELLM_MASTER_KEY")]
    master_key: String,
    /// Serve the demo models (otherwise none).
    #[arg(long)]
    demo_models: bool,
    /// The LiteLLM release to imitate: 1.108 or 1.81.
    #[arg(long, default_value = "1.108", value_parser = ["1.108", "1.81"])]
    litellm_version: String,
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Preload the keys of this JSON lines file (one `SeedKey` object per line: `key_hash` or `key`,
    /// `alias`, `user_id`, `models`, `metadata`, limits, …) before announcing the address.
    #[arg(long, value_name = "FILE")]
    seed_keys: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = DoubleConfig::default().with_master_key(args.master_key);
    if args.demo_models {
        config.models = DoubleConfig::demo_models();
    }
    config.version = if args.litellm_version == "1.81" {
        VersionProfile::V1_81
    } else {
        VersionProfile::V1_108
    };
    config.host = args.host;
    config.port = Some(args.port);
    config.workers = args.workers;
    let double = LiteLlmDouble::start(config).await?;
    if let Some(path) = &args.seed_keys {
        let started = std::time::Instant::now();
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let seeded = double
            .seed_keys_from_json_lines(std::io::BufReader::new(file))
            .with_context(|| format!("seeding keys from {}", path.display()))?;
        eprintln!(
            "seeded {seeded} keys from {} in {} ms",
            path.display(),
            started.elapsed().as_millis()
        );
    }
    println!("listening on {}", double.base_url());
    tokio::signal::ctrl_c().await?;
    eprintln!("shutting down");
    double.stop_gracefully().await;
    Ok(())
}

//! Black-box harness: a fresh database, the LiteLLM double, and the real `keyport` binary on a random port.
//!
//! keyport runs with the two database roles of docs/security.md wherever the test server allows it: the
//! binary (`serve` and every command) works as the serve role (`DATABASE_URL`, a member of `keyport_app` that
//! owns nothing), and migrates as the owner (`KEYPORT_MIGRATE_DATABASE_URL`, the server's own role). Where
//! the serve role cannot be created, everything runs as the owner, as a single-URL install does.
//!
//! `http.rs`: the API calls of the tests; `audit.rs`: reading the audit log through the API.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failure to set up is a failed test"
)]
#![expect(
    dead_code,
    reason = "every test binary compiles this module and uses part of it"
)]

mod audit;
pub mod http;

use keyport_testkit::double::{DoubleConfig, LiteLlmDouble};
use keyport_testkit::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct App {
    pub db: TestDb,
    /// The URL keyport works with: the serve role's when the split is available, else the owner's.
    pub database_url: String,
    pub double: LiteLlmDouble,
    pub base: String,
    pub client: reqwest::Client,
    child: Child,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `keyport` binary with a clean environment: `database_url` to work with, the owner's URL of `db` to
/// migrate with, the double as its LiteLLM, quiet logs and a small pool.
pub fn keyport(db: &TestDb, database_url: &str, double: &LiteLlmDouble) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyport"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("KEYPORT_MIGRATE_DATABASE_URL", db.url())
        .env("LITELLM_URL", double.base_url())
        .env("LITELLM_MASTER_KEY", double.master_key())
        .env("KEYPORT_LOG", "warn")
        .env("KEYPORT_DB_POOL_SIZE", "4");
    cmd
}

impl App {
    pub async fn start() -> App {
        Self::start_with(DoubleConfig::demo()).await
    }

    pub async fn start_with(config: DoubleConfig) -> App {
        Self::start_with_env(config, &[]).await
    }

    pub async fn start_with_env(config: DoubleConfig, env: &[(&str, &str)]) -> App {
        let db = TestDb::new().await;
        let database_url = match db.serve_url().await {
            Ok(url) => url,
            Err(error) => {
                eprintln!("keyport runs as the database owner in this test: {error}");
                db.url().to_owned()
            }
        };
        Self::start_as(db, database_url, config, env).await
    }

    /// Like [`App::start_with_env`], but keyport must serve as the serve role (the test fails otherwise).
    pub async fn start_as_serve_role(env: &[(&str, &str)]) -> App {
        let db = TestDb::new().await;
        let database_url = db
            .serve_url()
            .await
            .unwrap_or_else(|e| panic!("the serve role is needed here: {e}"));
        Self::start_as(db, database_url, DoubleConfig::demo(), env).await
    }

    async fn start_as(
        db: TestDb,
        database_url: String,
        config: DoubleConfig,
        env: &[(&str, &str)],
    ) -> App {
        let double = LiteLlmDouble::start(config).await.expect("double starts");
        let mut child = keyport(&db, &database_url, &double)
            .envs(env.iter().copied())
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--sync-interval-secs",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("keyport starts");
        let base = listening_address(&mut child).await;
        App {
            db,
            database_url,
            double,
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            child,
        }
    }

    /// Creates a user with the CLI and returns their token.
    pub fn create_user(&self, name: &str, admin: bool) -> String {
        let mut cmd = keyport(&self.db, &self.database_url, &self.double);
        cmd.args(["admin", "create-user", name]);
        if admin {
            cmd.arg("--admin");
        }
        let out = cmd.output().expect("create-user runs");
        assert!(
            out.status.success(),
            "create-user failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(
            token.starts_with("kp_pat_"),
            "stdout is the token alone: {token}"
        );
        token
    }

    /// Runs a `keyport` command against this app's database and LiteLLM; answers (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = keyport(&self.db, &self.database_url, &self.double)
            .args(args)
            .output()
            .expect("keyport runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Reads the first line `keyport serve` prints (its stdout must be piped) and answers the address it
/// listens on.
pub async fn listening_address(child: &mut std::process::Child) -> String {
    let stdout = child.stdout.take().expect("keyport's stdout is piped");
    tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("a line");
        line.trim()
            .strip_prefix("keyport listening on ")
            .map(str::to_owned)
    })
    .await
    .unwrap()
    .unwrap_or_else(|| panic!("keyport did not print its address"))
}

/// Polls until `check` holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A PostgreSQL session at `url`, for what keyport itself never does.
pub async fn sql(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

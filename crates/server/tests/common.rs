//! Black-box harness: a fresh database, the LiteLLM double, and the real `keyport` binary on a random port.
//!
//! keyport runs with the two database roles of docs/security.md wherever the test server allows it: the
//! binary (`serve` and every command) works as the serve role (`DATABASE_URL`, a member of `keyport_app` that
//! owns nothing), and migrates as the owner (`KEYPORT_MIGRATE_DATABASE_URL`, the server's own role). Where
//! the serve role cannot be created, everything runs as the owner, as a single-URL install does.

// Test support: a failure to set up is a test failure, so unwrap/expect/panic are the right tools here.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyport_testkit::double::{DoubleConfig, LiteLlmDouble};
use keyport_testkit::TestDb;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

fn keyport(db: &TestDb, database_url: &str, double: &LiteLlmDouble) -> Command {
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

    /// Calls one of LiteLLM's admin endpoints with the master key.
    pub async fn litellm_admin(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{}", self.double.base_url(), path))
            .header(
                AUTHORIZATION,
                format!("Bearer {}", self.double.master_key()),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    /// Subscribes the token's user to a model and returns the subscription id.
    pub async fn subscribe(&self, token: &str, model: &str) -> String {
        let (status, body) = self
            .post(
                token,
                "/api/v1/subscriptions",
                serde_json::json!({"model_id": model}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Calls the double's chat endpoint with a virtual key.
    pub async fn chat(&self, secret: &str, model: &str) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/v1/chat/completions", self.double.base_url()))
            .header(AUTHORIZATION, format!("Bearer {secret}"))
            .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        decode(r).await
    }
}

pub async fn decode(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let problem = r
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400
        && body
            .get("type")
            .is_some_and(|t| t.as_str().unwrap_or_default().starts_with("urn:keyport:"))
    {
        assert!(
            problem,
            "a keyport error is served as application/problem+json: {body}"
        );
    }
    (status, body)
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

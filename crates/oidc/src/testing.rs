//! Test support (feature `testing`): the real OIDC provider of `tests/oidc-provider` (panva/node-oidc-provider)
//! started on loopback, its test switch, and a browser-less driver of its login form. Used by this crate's
//! tests and by the server's end-to-end tests.
//!
//! [`TestProvider::start`] answers `None` — and says so loudly on stderr — only when `node` is not
//! installed; with `KEYPORT_REQUIRE_OIDC_PROVIDER=1` (set by `scripts/test.sh`) that is a failure instead.
//! When the provider's npm packages are missing it installs them (`npm ci`) first.

// Test support: a failure to set up is a test failure.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the test provider may take to print its issuer (a loaded machine is slow to start Node).
const PROVIDER_START_TIMEOUT: Duration = Duration::from_secs(120);
/// How many times a stalled start of the provider is tried.
const PROVIDER_START_ATTEMPTS: usize = 3;

/// The test provider's client credentials (see `tests/oidc-provider/server.mjs`).
pub const CLIENT_ID: &str = "keyport";
pub const CLIENT_SECRET: &str = "keyport-test-secret";

/// How the provider's token endpoint answers (its `/__test/id-token` switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMode {
    Normal,
    ForeignAudience,
    Expired,
    WrongNonce,
    WrongIssuer,
    BadSignature,
    AlgNone,
    Hs256,
    RotatedKey,
}

impl TokenMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ForeignAudience => "foreign-audience",
            Self::Expired => "expired",
            Self::WrongNonce => "wrong-nonce",
            Self::WrongIssuer => "wrong-issuer",
            Self::BadSignature => "bad-signature",
            Self::AlgNone => "alg-none",
            Self::Hs256 => "hs256",
            Self::RotatedKey => "rotated-key",
        }
    }
}

/// The directory of the test provider (`tests/oidc-provider` at the workspace root).
pub fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider")
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the provider's npm packages when they are missing, one process at a time.
fn ensure_packages() {
    let dir = provider_dir();
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let lock = dir.join(".install-lock");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while std::fs::create_dir(&lock).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited 5 minutes for another npm ci in {}; remove {} if it is stale",
            dir.display(),
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        eprintln!(
            "installing the test OIDC provider's npm packages (npm ci in {})",
            dir.display()
        );
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status();
        let _ = std::fs::remove_dir(&lock);
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "npm ci failed in {}: {status:?}",
            dir.display()
        );
    } else {
        let _ = std::fs::remove_dir(&lock);
    }
}

/// A running test provider; killed when dropped.
pub struct TestProvider {
    pub issuer: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider's process and waits for its issuer; a start that prints none within
/// [`PROVIDER_START_TIMEOUT`] is killed and described.
fn spawn_provider(redirect: &str) -> Result<(String, Child), String> {
    let mut child = Command::new("node")
        .arg(provider_dir().join("server.mjs"))
        .args(["--port", "0", "--redirect-uri", redirect])
        .current_dir(provider_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts the test OIDC provider");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    // Keep the provider's warnings out of the way, but show its errors (and keep them all for a failure
    // report).
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = said.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !line.contains("WARNING") {
                eprintln!("[oidc-provider] {line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line.trim().to_owned());
    });
    match rx.recv_timeout(PROVIDER_START_TIMEOUT) {
        Ok(issuer) => Ok((issuer, child)),
        Err(_) => {
            let state = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("State:"))
                .unwrap_or("State: unknown")
                .to_owned();
            let _ = child.kill();
            let _ = child.wait();
            Err(format!(
                "the provider (pid {}, {state}) printed no issuer within {} s; its stderr: {:?}",
                child.id(),
                PROVIDER_START_TIMEOUT.as_secs(),
                said.lock().unwrap()
            ))
        }
    }
}

impl TestProvider {
    /// Starts the provider with keyport's client registered for `redirect_uri` (and its origin's `/` as
    /// post-logout redirect). `None` when node is missing (after a loud message), unless
    /// `KEYPORT_REQUIRE_OIDC_PROVIDER=1`, which turns that into a panic.
    pub async fn start(redirect_uri: &str) -> Option<TestProvider> {
        if !node_available() {
            assert!(
                std::env::var("KEYPORT_REQUIRE_OIDC_PROVIDER").as_deref() != Ok("1"),
                "node is not installed, and KEYPORT_REQUIRE_OIDC_PROVIDER=1 forbids skipping the OIDC tests"
            );
            eprintln!(
                "\n*** SKIPPED: node is not installed, so the real OIDC provider cannot run; \
                 install Node.js 20+ (apt-get install nodejs npm) to run this test ***\n"
            );
            return None;
        }
        let redirect = redirect_uri.to_owned();
        tokio::task::spawn_blocking(ensure_packages).await.unwrap();
        // Node loads oidc-provider in about a second when idle, but over 30 s has been seen while the
        // machine compiled and ran other suites at once, and a start has been seen to stall for good (the
        // process asleep, one line of stderr): a stalled start is killed and tried again, up to
        // PROVIDER_START_ATTEMPTS times, each with a generous bound; the panic says what each attempt did.
        let mut attempts = Vec::new();
        let (issuer, child) = loop {
            let redirect = redirect.clone();
            match tokio::task::spawn_blocking(move || spawn_provider(&redirect))
                .await
                .unwrap()
            {
                Ok(started) => break started,
                Err(stalled) => {
                    eprintln!("[oidc-provider] {stalled}");
                    attempts.push(stalled);
                    assert!(
                        attempts.len() < PROVIDER_START_ATTEMPTS,
                        "the test OIDC provider did not start in {PROVIDER_START_ATTEMPTS} attempts: {attempts:#?}"
                    );
                }
            }
        };
        assert!(
            issuer.starts_with("http://127.0.0.1:"),
            "the test OIDC provider did not print its issuer (got {issuer:?})"
        );
        Some(TestProvider {
            issuer,
            child,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        })
    }

    /// Sets how the token endpoint answers from now on.
    pub async fn set_token_mode(&self, mode: TokenMode) {
        let response = self
            .http
            .post(format!("{}/__test/id-token", self.issuer))
            .json(&serde_json::json!({"mode": mode.as_str()}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
}

/// A cookie-keeping client that does not follow redirects, as a browser-less "browser".
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response, base: &str) -> String {
    let value = response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", response.status()))
        .to_str()
        .unwrap();
    url::Url::parse(base)
        .unwrap()
        .join(value)
        .unwrap()
        .to_string()
}

/// Goes from the provider's authorization URL through its login form as `account` (any password) to the
/// redirect back to the client; answers that redirect's URL (`<redirect_uri>?code=…&state=…`) without
/// calling it. `browser` must keep cookies and not follow redirects (see [`browser`]).
pub async fn log_in_at_provider(
    browser: &reqwest::Client,
    authorization_url: &str,
    account: &str,
    redirect_uri: &str,
) -> String {
    let mut url = authorization_url.to_owned();
    for _ in 0..10 {
        if url.starts_with(redirect_uri) {
            return url;
        }
        let response = browser.get(&url).send().await.unwrap();
        let status = response.status();
        if status.is_redirection() {
            url = location(&response, &url);
            continue;
        }
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "{status} at {url}: {body}");
        assert!(
            body.contains("name=\"login\""),
            "expected the provider's login form at {url}, got: {body}"
        );
        let action = body
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the login form's action");
        let submit = url::Url::parse(&url).unwrap().join(action).unwrap();
        let response = browser
            .post(submit.clone())
            .form(&[("prompt", "login"), ("login", account), ("password", "any")])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "the login form answered {}",
            response.status()
        );
        url = location(&response, submit.as_str());
    }
    panic!("the provider did not redirect back to {redirect_uri}; last URL {url}");
}

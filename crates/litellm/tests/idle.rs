//! Upstream connections that fail cleanly. LiteLLM (uvicorn) closes connections left idle for 5 s; a
//! create that keyport sends on a pooled connection at the moment LiteLLM closes it is lost ("connection
//! closed before message completed"), and keyport may not blindly send a create twice. So keyport keeps an
//! idle connection for less than the upstream's keep-alive and never reuses one the other side may be
//! closing.
//!
//! The race is reproduced with a proxy in front of the double that plays the upstream's side of it: a
//! request arriving on a connection idle for at least the keep-alive is met with the connection closing.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use keyport_domain::access::{team_id_of, DEFAULT_INFERENCE_ROUTES};
use keyport_domain::gateway::{Gateway, GenerateKey};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::Limits;
use keyport_domain::secret::{Secret, SecretKind, RANDOM_BYTES};
use keyport_litellm::{LiteLlmClient, LiteLlmConfig, MasterKey, RetryPolicy};
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const UPSTREAM_KEEP_ALIVE: Duration = Duration::from_millis(600);

/// Forwards to `upstream`; a connection idle for [`UPSTREAM_KEEP_ALIVE`] is closed when its next request
/// arrives, unanswered, as when the upstream's keep-alive expires just as the request is sent.
async fn closing_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, upstream));
        }
    });
    addr
}

async fn relay(client: TcpStream, upstream: SocketAddr) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let last = Arc::new(Mutex::new(Instant::now()));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let seen = last.clone();
    let answers = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = server_read.read(&mut buf).await {
            if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            *seen.lock().unwrap() = Instant::now();
        }
    });
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = client_read.read(&mut buf).await {
        let idle = last.lock().unwrap().elapsed();
        if n == 0 || idle >= UPSTREAM_KEEP_ALIVE || server_write.write_all(&buf[..n]).await.is_err()
        {
            break;
        }
        *last.lock().unwrap() = Instant::now();
    }
    answers.abort();
}

fn request() -> GenerateKey {
    let mut bytes = [0u8; RANDOM_BYTES];
    bytes[..16].copy_from_slice(UserId::new().0.as_bytes());
    let user_id = UserId::new();
    GenerateKey {
        secret: Secret::from_random(SecretKind::ApiKey, &bytes),
        alias: format!("idle-{}", UserId::new()),
        user_id,
        models: vec![ModelId::parse("gpt-4o-mini").unwrap()],
        limits: Limits::UNLIMITED,
        expires_in_seconds: None,
        metadata: serde_json::json!({}),
        team_id: team_id_of(user_id),
        allowed_routes: DEFAULT_INFERENCE_ROUTES
            .iter()
            .map(|r| (*r).to_owned())
            .collect(),
        spend: None,
    }
}

/// Creates a key, pauses past the upstream's keep-alive, creates another, a few times; answers the failures.
async fn paced_creates(idle_timeout: Duration) -> (Vec<String>, usize) {
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let proxy = closing_proxy(
        double
            .base_url()
            .trim_start_matches("http://")
            .parse()
            .unwrap(),
    )
    .await;
    let client = LiteLlmClient::new(
        LiteLlmConfig::new(
            format!("http://{proxy}").parse().unwrap(),
            MasterKey::new(double.master_key()),
        )
        .with_idle_timeout(idle_timeout)
        // A create is never retried blindly: a lost one is a failed create.
        .with_retry(RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        }),
    )
    .unwrap();
    let mut failed = Vec::new();
    for n in 0..4 {
        // The pause is the scenario (a pooled connection left idle past the keep-alive), not a wait.
        if n > 0 {
            tokio::time::sleep(UPSTREAM_KEEP_ALIVE + Duration::from_millis(100)).await;
        }
        if let Err(error) = client.generate_key(&request()).await {
            failed.push(format!("create {n}: {error}"));
        }
    }
    (failed, double.keys().len())
}

#[tokio::test]
async fn a_connection_kept_idle_past_the_upstreams_keep_alive_loses_creates() {
    // What keyport did before: keep idle connections for 90 s (reqwest's default).
    let (failed, created) = paced_creates(Duration::from_secs(90)).await;
    // Each create after a pause meets a closing connection, unless the one before it failed (and so
    // opened a fresh connection): at least one of the three is lost.
    assert!(!failed.is_empty(), "the proxy reproduces the race");
    assert!(
        failed.iter().all(|f| f.contains("without an answer")),
        "{failed:?}"
    );
    assert_eq!(created, 4 - failed.len());
}

#[tokio::test]
async fn keeping_idle_connections_shorter_than_the_upstream_loses_no_create() {
    let (failed, created) = paced_creates(UPSTREAM_KEEP_ALIVE / 2).await;
    assert_eq!(failed, Vec::<String>::new());
    assert_eq!(created, 4);
}

//! What the adapter logs: method, path, status and duration of each call; never the master key, a
//! secret, a key hash in a query or a request body.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use keyport_domain::gateway::{Gateway, GenerateKey};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::Limits;
use keyport_domain::secret::{Secret, SecretKind, RANDOM_BYTES};
use keyport_litellm::{LiteLlmClient, LiteLlmConfig, MasterKey, RetryPolicy};
use keyport_litellm_double::{DoubleConfig, Fault, LiteLlmDouble};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A subscriber that writes every event and span field into one string.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Fields(&mut self.0.lock().unwrap()));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut out = self.0.lock().unwrap();
        event.record(&mut Fields(&mut out));
        out.push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn logs_name_the_call_but_never_a_secret() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let client = LiteLlmClient::new(
        LiteLlmConfig::new(
            double.base_url().parse().unwrap(),
            MasterKey::new(double.master_key()),
        )
        .with_timeout(Duration::from_millis(300))
        .with_retry(RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        }),
    )
    .unwrap();
    let secret = Secret::from_random(SecretKind::ApiKey, &[7u8; RANDOM_BYTES]);
    let request = GenerateKey {
        secret: secret.clone(),
        alias: "logged".to_owned(),
        user_id: UserId::new(),
        models: vec![ModelId::parse("gpt-4o-mini").unwrap()],
        limits: Limits::UNLIMITED,
        expires_in_seconds: None,
        metadata: serde_json::json!({}),
        team_id: "keyport-test-team".to_owned(),
        allowed_routes: routes(),
        spend: None,
    };
    client.generate_key(&request).await.unwrap();
    let hash = secret.hash();
    client.key_info(&hash).await.unwrap();
    double.inject(Fault::DropConnection.on("/key/block"));
    client.block_key(&hash).await.unwrap();
    double.inject(Fault::Timeout.on("/key/generate"));
    let _ = client.generate_key(&request).await;

    let logged = capture.0.lock().unwrap().clone();
    assert!(logged.contains("path=\"/key/generate\""), "{logged}");
    assert!(logged.contains("status=200"), "{logged}");
    assert!(logged.contains("elapsed_ms="), "{logged}");
    assert!(logged.contains("retrying litellm call"), "{logged}");
    assert!(!logged.contains(double.master_key()), "{logged}");
    assert!(!logged.contains(secret.expose()), "{logged}");
    assert!(!logged.contains(hash.as_str()), "{logged}");
}

fn routes() -> Vec<String> {
    keyport_domain::access::DEFAULT_INFERENCE_ROUTES
        .iter()
        .map(|r| (*r).to_owned())
        .collect()
}

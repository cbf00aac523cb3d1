//! The adapter's side of pooled quotas and locked-down keys, against the double: what `generate_key`,
//! `set_user_access`, `ensure_team` and `list_users` send, refuse without a call, and how they survive a
//! race with another replica.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "this file needs only the client configuration")]
mod common;

use common::routes;
use keyport_domain::access::{team_id_of, ModelRates, UserAccess};
use keyport_domain::gateway::{Gateway, GatewayUser, GenerateKey, MAX_USERS_PER_LIST};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::Limits;
use keyport_domain::secret::SecretKind;
use keyport_domain::testing::{money, secret};
use keyport_domain::GatewayError;
use keyport_litellm::{LiteLlmClient, RetryPolicy};
use keyport_litellm_double::{DoubleConfig, Fault, LiteLlmDouble};
use serde_json::json;
use std::time::Duration;

async fn setup() -> (LiteLlmDouble, LiteLlmClient) {
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    // One quick retry, instead of the shared two.
    let config = common::config(&double).with_retry(RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    });
    (double, LiteLlmClient::new(config).unwrap())
}

fn request(user_id: UserId) -> GenerateKey {
    GenerateKey {
        secret: secret(SecretKind::ApiKey),
        alias: format!("k-{}", UserId::new()),
        user_id,
        models: vec![ModelId::parse("gpt-4o-mini").unwrap()],
        limits: Limits::UNLIMITED,
        expires_in_seconds: None,
        metadata: json!({}),
        team_id: team_id_of(user_id),
        allowed_routes: routes(),
        spend: Some(money("1.25")),
    }
}

#[tokio::test]
async fn generate_sends_team_routes_and_spend_and_never_a_key_type() {
    let (double, client) = setup().await;
    let req = request(UserId::new());
    let key = client.generate_key(&req).await.unwrap();
    let stored = double.key(req.secret.hash().as_str()).unwrap();
    assert_eq!(stored.team_id.as_deref(), Some(req.team_id.as_str()));
    assert_eq!(stored.allowed_routes, req.allowed_routes);
    assert_eq!(stored.key_type, "default", "no preset overwrote the routes");
    assert_eq!(stored.spend, 1.25);
    assert_eq!(
        (key.team_id, key.allowed_routes),
        (Some(req.team_id.clone()), req.allowed_routes.clone())
    );

    let no_routes = GenerateKey {
        allowed_routes: vec![],
        ..request(UserId::new())
    };
    let err = client.generate_key(&no_routes).await.unwrap_err();
    assert!(
        matches!(err, GatewayError::Invalid { field: Some(ref f), .. } if f == "allowed_routes"),
        "{err:?}"
    );
    assert_eq!(
        double.calls_to("/key/generate"),
        1,
        "refused without a call"
    );
}

#[tokio::test]
async fn list_users_refuses_too_many_ids_calls_nothing_for_none_and_keeps_exact_ids() {
    let (double, client) = setup().await;
    let too_many: Vec<UserId> = (0..=MAX_USERS_PER_LIST).map(|_| UserId::new()).collect();
    assert!(matches!(
        client.list_users(&too_many).await.unwrap_err(),
        GatewayError::Invalid { .. }
    ));
    assert!(client.list_users(&[]).await.unwrap().is_empty());
    assert_eq!(double.calls_to("/user/list"), 0);

    let user = UserId::new();
    client
        .ensure_user(&GatewayUser {
            user_id: user,
            email: None,
            alias: None,
        })
        .await
        .unwrap();
    // LiteLLM matches a single id with `contains`: a user whose id holds this one's must not come back.
    let longer = format!("{user}-shadow");
    reqwest::Client::new()
        .post(format!("{}/user/new", double.base_url()))
        .bearer_auth(double.master_key())
        .json(&json!({"user_id": longer, "auto_create_key": false}))
        .send()
        .await
        .unwrap();
    let listed = client.list_users(&[user]).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user_id, user.to_string());
    let call = double
        .calls()
        .into_iter()
        .rfind(|c| c.path == "/user/list")
        .unwrap();
    assert!(call.query.contains("page_size=100"), "{}", call.query);
}

#[tokio::test]
async fn ensure_team_creates_updates_joins_and_survives_a_team_created_meanwhile() {
    let (double, client) = setup().await;
    let user = UserId::new();
    let access = UserAccess {
        rates: [(
            ModelId::parse("gpt-4o-mini").unwrap(),
            ModelRates {
                rpm_limit: Some(7),
                tpm_limit: None,
            },
        )]
        .into(),
        ..UserAccess::of(user, None, None, &[])
    };
    client.ensure_team(&access).await.unwrap();
    let team = double.team(&access.team_id()).unwrap();
    assert!(team.has_member(&user.to_string()));
    assert!(team.models.is_empty());
    assert_eq!(
        serde_json::Value::Object(team.metadata.clone()),
        json!({"managed_by": "keyport", "keyport_user_id": user.to_string(), "model_rpm_limit": {"gpt-4o-mini": 7}, "model_tpm_limit": {}})
    );

    // Another replica created the team between our /team/info and /team/new.
    let other = UserId::new();
    let other_access = UserAccess::of(other, None, None, &[]);
    reqwest::Client::new()
        .post(format!("{}/team/new", double.base_url()))
        .bearer_auth(double.master_key())
        .json(&json!({"team_id": other_access.team_id(), "metadata": {"stale": true}}))
        .send()
        .await
        .unwrap();
    double.inject(Fault::json(404, r#"{"error":{"message":"{'message': 'Team not found'}","type":"auth_error","param":"None","code":"404"}}"#).on("/team/info"));
    client.ensure_team(&other_access).await.unwrap();
    let team = double.team(&other_access.team_id()).unwrap();
    assert!(team.has_member(&other.to_string()), "joined");
    assert_eq!(team.metadata["managed_by"], "keyport", "metadata replaced");
    assert!(!team.metadata.contains_key("stale"));
    client.ensure_team(&other_access).await.unwrap();
    assert_eq!(
        double
            .team(&other_access.team_id())
            .unwrap()
            .members_with_roles
            .len(),
        1
    );
}

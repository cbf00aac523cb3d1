//! The portable part of the adapter's suite: it only talks HTTP, so it runs against a real database-backed
//! LiteLLM when `LITELLM_URL` and `LITELLM_MASTER_KEY` are set, and against a fresh double otherwise.
//! Keys it creates have unique aliases (`keyport-contract-…`) and are deleted at the end; users it creates
//! have emails `keyport-contract-…@example.invalid` and are removed at the end with `/user/delete` (a route
//! keyport itself does not use; best effort, the double does not serve it).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use keyport_domain::access::{
    team_id_of, user_drift, ModelBudget, ModelRates, UserAccess, DEFAULT_INFERENCE_ROUTES,
    GATEWAY_USER_ROLE, NO_MODELS,
};
use keyport_domain::gateway::{
    Gateway, GatewayKey, GatewayKeyStatus, GatewayUser, GatewayUserUpdate, GenerateKey, SpendQuery,
    UpdateKey,
};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::secret::{KeyHash, SecretKind};
use keyport_domain::testing::{money, secret};
use keyport_domain::GatewayError;
use keyport_litellm::{LiteLlmClient, LiteLlmConfig, MasterKey};
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble};
use rust_decimal::Decimal;

struct Target {
    _double: Option<LiteLlmDouble>,
    url: String,
    master_key: String,
}

async fn target() -> Target {
    match (
        std::env::var("LITELLM_URL"),
        std::env::var("LITELLM_MASTER_KEY"),
    ) {
        (Ok(url), Ok(master_key)) => Target {
            _double: None,
            url,
            master_key,
        },
        _ => {
            let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
            Target {
                url: double.base_url(),
                master_key: double.master_key().to_owned(),
                _double: Some(double),
            }
        }
    }
}

impl Target {
    /// Removes users the suite created, best effort (`/user/delete` is not part of the adapter).
    async fn delete_users(&self, ids: &[UserId]) {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let _ = reqwest::Client::new()
            .post(format!("{}/user/delete", self.url.trim_end_matches('/')))
            .bearer_auth(&self.master_key)
            .json(&serde_json::json!({ "user_ids": ids }))
            .send()
            .await;
    }

    fn client(&self) -> LiteLlmClient {
        LiteLlmClient::new(LiteLlmConfig::new(
            self.url.parse().unwrap(),
            MasterKey::new(self.master_key.clone()),
        ))
        .unwrap()
    }
}

fn unique_alias() -> String {
    format!("keyport-contract-{}", UserId::new())
}

async fn some_model(client: &LiteLlmClient) -> ModelId {
    let catalog = client.model_catalog().await.unwrap();
    catalog
        .iter()
        .find(|e| e.mode.as_deref() == Some("chat"))
        .or(catalog.first())
        .expect("LiteLLM serves at least one model")
        .id
        .clone()
}

fn request(model: ModelId) -> GenerateKey {
    let user_id = UserId::new();
    GenerateKey {
        secret: secret(SecretKind::ApiKey),
        alias: unique_alias(),
        user_id,
        models: vec![model],
        limits: Limits {
            max_budget: Some(Money::new(Decimal::new(25, 1)).unwrap()),
            budget_duration: Some(BudgetDuration::parse("1mo").unwrap()),
            tpm_limit: Some(10_000),
            rpm_limit: Some(100),
        },
        expires_in_seconds: Some(86_400),
        metadata: serde_json::json!({"keyport_contract_test": true}),
        team_id: team_id_of(user_id),
        allowed_routes: routes(),
        spend: None,
    }
}

fn routes() -> Vec<String> {
    DEFAULT_INFERENCE_ROUTES
        .iter()
        .map(|r| (*r).to_owned())
        .collect()
}

/// The access of a user with nothing (the team then only holds the user).
fn bare_access(user_id: UserId) -> UserAccess {
    UserAccess::of(user_id, None, None, &[])
}

#[tokio::test]
async fn a_key_goes_through_create_read_block_and_delete() {
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let req = request(model.clone());
    let hash = req.secret.hash();

    let created = client.generate_key(&req).await.unwrap();
    assert_eq!(created.hash, hash);
    let read = client.key_info(&hash).await.unwrap().unwrap();
    assert_eq!(read.alias.as_deref(), Some(req.alias.as_str()));
    assert_eq!(read.models, [model.as_str()]);
    assert_eq!(read.status, GatewayKeyStatus::Active);
    assert_eq!(read.max_budget, req.limits.max_budget);
    assert_eq!((read.tpm_limit, read.rpm_limit), (Some(10_000), Some(100)));
    assert!(read.expires_at.is_some());

    client.block_key(&hash).await.unwrap();
    let read = client.key_info(&hash).await.unwrap().unwrap();
    assert_eq!(read.status, GatewayKeyStatus::Blocked);

    client.delete_key(&hash).await.unwrap();
    assert_eq!(client.key_info(&hash).await.unwrap(), None);
    assert_eq!(
        client.delete_key(&hash).await.unwrap_err(),
        GatewayError::NotFound
    );
    assert_eq!(
        client.block_key(&hash).await.unwrap_err(),
        GatewayError::NotFound
    );
}

#[tokio::test]
async fn a_second_key_with_the_same_alias_is_a_conflict() {
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let first = request(model.clone());
    client.generate_key(&first).await.unwrap();
    let mut second = request(model);
    second.alias = first.alias.clone();
    let err = client.generate_key(&second).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Conflict { field, .. } if field == "key_alias"),
        "{err:?}"
    );
    assert_eq!(client.key_info(&second.secret.hash()).await.unwrap(), None);
    client.delete_key(&first.secret.hash()).await.unwrap();
}

#[tokio::test]
async fn unknown_keys_are_absent_and_a_wrong_master_key_is_unauthorized() {
    let target = target().await;
    let client = target.client();
    let unknown = KeyHash::of(&secret(SecretKind::ApiKey));
    assert_eq!(client.key_info(&unknown).await.unwrap(), None);
    let wrong = LiteLlmClient::new(LiteLlmConfig::new(
        target.url.parse().unwrap(),
        MasterKey::new("sk-keyport-wrong-master-key"),
    ))
    .unwrap();
    assert_eq!(
        wrong.key_info(&unknown).await.unwrap_err(),
        GatewayError::Unauthorized
    );
}

/// Pages through `/key/list` until the key shows up (a real LiteLLM may hold many keys).
async fn listed(client: &LiteLlmClient, hash: &KeyHash) -> Option<GatewayKey> {
    let mut page = 1;
    loop {
        let listed = client.list_keys(page, 100).await.unwrap();
        if let Some(key) = listed.keys.into_iter().find(|k| &k.hash == hash) {
            return Some(key);
        }
        if page >= listed.total_pages {
            return None;
        }
        page += 1;
    }
}

#[tokio::test]
async fn a_key_is_updated_to_a_whole_state_back_to_unlimited_listed_and_unblocked() {
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let req = request(model.clone());
    let hash = req.secret.hash();
    client.ensure_team(&bare_access(req.user_id)).await.unwrap();
    client.generate_key(&req).await.unwrap();

    let desired = UpdateKey {
        hash: hash.clone(),
        models: vec![model.clone()],
        limits: Limits {
            max_budget: Some(Money::new(Decimal::new(5, 0)).unwrap()),
            budget_duration: Some(BudgetDuration::parse("7d").unwrap()),
            tpm_limit: Some(500),
            rpm_limit: Some(30),
        },
        expires_in_seconds: Some(7200),
        blocked: true,
        metadata: serde_json::json!({"keyport_contract_test": true, "step": "update"}),
        team_id: req.team_id.clone(),
        allowed_routes: req.allowed_routes.clone(),
    };
    let updated = client.update_key(&desired).await.unwrap();
    assert_eq!(updated.hash, hash);
    assert_eq!(updated.status, GatewayKeyStatus::Blocked);
    assert_eq!(updated.models, [model.as_str()]);
    assert_eq!(updated.max_budget, desired.limits.max_budget);
    assert_eq!(updated.budget_duration.as_deref(), Some("7d"));
    assert_eq!(
        (updated.tpm_limit, updated.rpm_limit),
        (Some(500), Some(30))
    );
    assert_eq!(updated.metadata["step"], "update");
    let read = client.key_info(&hash).await.unwrap().unwrap();
    assert_eq!(read.status, GatewayKeyStatus::Blocked);
    assert_eq!((read.tpm_limit, read.rpm_limit), (Some(500), Some(30)));
    assert!(read.expires_at.is_some());

    let unlimited = UpdateKey {
        limits: Limits::UNLIMITED,
        expires_in_seconds: None,
        blocked: false,
        ..desired.clone()
    };
    let key = client.update_key(&unlimited).await.unwrap();
    let again = client.update_key(&unlimited).await.unwrap();
    assert_eq!(key, again, "repeating an update changes nothing");
    let read = client.key_info(&hash).await.unwrap().unwrap();
    for key in [&key, &read] {
        assert_eq!(key.status, GatewayKeyStatus::Active);
        assert_eq!(
            (
                key.max_budget,
                key.budget_duration.as_deref(),
                key.expires_at
            ),
            (None, None, None)
        );
        assert_eq!((key.tpm_limit, key.rpm_limit), (None, None));
    }

    client.block_key(&hash).await.unwrap();
    client.unblock_key(&hash).await.unwrap();
    let found = listed(&client, &hash).await.expect("the key is listed");
    assert_eq!(found.alias.as_deref(), Some(req.alias.as_str()));
    assert_eq!(found.models, [model.as_str()]);
    assert_eq!(found.status, GatewayKeyStatus::Active);

    client.delete_key(&hash).await.unwrap();
    assert_eq!(
        client.update_key(&unlimited).await.unwrap_err(),
        GatewayError::NotFound
    );
    assert_eq!(
        client.unblock_key(&hash).await.unwrap_err(),
        GatewayError::NotFound
    );
    assert_eq!(listed(&client, &hash).await, None);
}

fn contract_user() -> GatewayUser {
    let id = UserId::new();
    GatewayUser {
        user_id: id,
        email: Some(format!("keyport-contract-{id}@example.invalid")),
        alias: Some("keyport contract test".to_owned()),
    }
}

#[tokio::test]
async fn a_user_is_ensured_read_limited_and_lifted_back_to_unlimited() {
    let target = target().await;
    let client = target.client();
    let user = contract_user();
    client.ensure_user(&user).await.unwrap();
    client
        .ensure_user(&user)
        .await
        .expect("a user that exists is fine");

    let info = client.user_info(user.user_id).await.unwrap().unwrap();
    assert_eq!(info.user_id, user.user_id);
    assert_eq!(info.email, user.email);
    assert_eq!(info.alias, user.alias);
    assert_eq!(
        info.models,
        [NO_MODELS],
        "no model until its subscriptions give it some"
    );
    assert_eq!(info.max_budget, None);
    assert!(info.key_hashes.is_empty(), "no key created with the user");

    let limits = Limits {
        max_budget: Some(Money::new(Decimal::new(25, 1)).unwrap()),
        budget_duration: Some(BudgetDuration::parse("1mo").unwrap()),
        tpm_limit: Some(10_000),
        rpm_limit: Some(100),
    };
    client
        .update_user(&GatewayUserUpdate {
            user_id: user.user_id,
            limits: limits.clone(),
        })
        .await
        .unwrap();
    let model = some_model(&client).await;
    let key = GenerateKey {
        user_id: user.user_id,
        ..request(model)
    };
    client.generate_key(&key).await.unwrap();
    let info = client.user_info(user.user_id).await.unwrap().unwrap();
    assert_eq!(info.max_budget, limits.max_budget);
    assert_eq!(info.budget_duration.as_deref(), Some("1mo"));
    assert!(info.budget_reset_at.is_some());
    assert_eq!((info.tpm_limit, info.rpm_limit), (Some(10_000), Some(100)));
    assert_eq!(info.key_hashes, [key.secret.hash()]);

    client
        .update_user(&GatewayUserUpdate {
            user_id: user.user_id,
            limits: Limits::UNLIMITED,
        })
        .await
        .unwrap();
    let info = client.user_info(user.user_id).await.unwrap().unwrap();
    assert_eq!(
        (info.max_budget, info.tpm_limit, info.rpm_limit),
        (None, None, None)
    );

    client.delete_key(&key.secret.hash()).await.unwrap();
    target.delete_users(&[user.user_id]).await;
}

#[tokio::test]
async fn an_email_another_user_holds_is_a_conflict_and_unknown_users_are_absent() {
    let target = target().await;
    let client = target.client();
    let first = contract_user();
    client.ensure_user(&first).await.unwrap();
    let second = GatewayUser {
        email: first.email.as_deref().map(str::to_uppercase),
        ..contract_user()
    };
    let err = client.ensure_user(&second).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Conflict { field, .. } if field == "user_email"),
        "{err:?}"
    );
    assert_eq!(client.user_info(second.user_id).await.unwrap(), None);
    target.delete_users(&[first.user_id, second.user_id]).await;
}

#[tokio::test]
async fn spend_logs_answer_pages_and_nothing_for_a_key_without_calls() {
    let target = target().await;
    let client = target.client();
    let now = chrono::Utc::now();
    let window = SpendQuery {
        key_hash: None,
        user_id: None,
        start: now - chrono::Duration::days(1),
        end: now + chrono::Duration::minutes(5),
        page: 1,
        page_size: 5,
    };
    let page = client.spend_logs(&window).await.unwrap();
    assert!(page.entries.len() <= 5);
    assert_eq!(u64::from(page.total_pages), page.total.div_ceil(5));
    assert!(page
        .entries
        .windows(2)
        .all(|w| w[0].started_at >= w[1].started_at));

    let quiet = client
        .spend_logs(&SpendQuery {
            key_hash: Some(KeyHash::of(&secret(SecretKind::ApiKey))),
            user_id: Some(UserId::new()),
            ..window
        })
        .await
        .unwrap();
    assert_eq!((quiet.total, quiet.total_pages), (0, 0));
    assert!(quiet.entries.is_empty());
}

/// A raw call with a virtual key as bearer: status and body.
async fn call_as(target: &Target, key: &str, path: &str, body: serde_json::Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", target.url.trim_end_matches('/')))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn chat_body(model: &ModelId) -> serde_json::Value {
    serde_json::json!({"model": model.as_str(), "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_key_limited_to_inference_routes_cannot_mint_or_delete_keys_but_an_unrestricted_one_can()
{
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let req = request(model.clone());
    client.ensure_team(&bare_access(req.user_id)).await.unwrap();
    client.generate_key(&req).await.unwrap();
    let own = req.secret.expose().to_owned();

    let (status, body) = call_as(&target, &own, "/key/generate", serde_json::json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("Virtual key is not allowed to call this route"),
        "{body}"
    );
    let (status, body) = call_as(
        &target,
        &own,
        "/key/delete",
        serde_json::json!({"keys": [own]}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        client.key_info(&req.secret.hash()).await.unwrap().is_some(),
        "the key is still there"
    );

    // What keyport did before: a key without routes, owned by a user without a role, mints at will.
    let raw = secret(SecretKind::ApiKey);
    let (status, body) = call_as(
        &target,
        &target.master_key,
        "/key/generate",
        serde_json::json!({"key": raw.expose(), "user_id": UserId::new().to_string()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call_as(
        &target,
        raw.expose(),
        "/key/generate",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        status, 200,
        "an unrestricted key of an internal user mints keys: {body}"
    );
    let minted: serde_json::Value = serde_json::from_str(&body).unwrap();
    let minted_hash = minted["token"].as_str().unwrap().to_owned();

    for hash in [
        req.secret.hash(),
        raw.hash(),
        KeyHash::parse(&minted_hash).unwrap(),
    ] {
        client.delete_key(&hash).await.unwrap();
    }
}

#[tokio::test]
async fn user_access_and_the_team_are_set_idempotently_and_read_back() {
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let user = contract_user();
    client.ensure_user(&user).await.unwrap();
    let listed = client.list_users(&[user.user_id]).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role.as_deref(), Some(GATEWAY_USER_ROLE));
    assert_eq!(listed[0].models, [NO_MODELS]);

    let access = UserAccess {
        user_id: user.user_id,
        email: user.email.clone(),
        alias: None,
        models: vec![model.clone()],
        budgets: [(
            model.clone(),
            ModelBudget {
                max_budget: money("10.00"),
                window: BudgetDuration::parse("30d").unwrap(),
            },
        )]
        .into(),
        rates: [(
            model.clone(),
            ModelRates {
                rpm_limit: Some(5),
                tpm_limit: None,
            },
        )]
        .into(),
    };
    for _ in 0..2 {
        client.set_user_access(&access).await.unwrap();
        client.ensure_team(&access).await.unwrap();
    }
    let listed = client.list_users(&[user.user_id]).await.unwrap();
    assert_eq!(listed.len(), 1, "exactly the user asked for");
    let held = &listed[0];
    assert_eq!(held.user_id, user.user_id.to_string());
    assert!(
        user_drift(&access, held).is_empty(),
        "{:?}",
        user_drift(&access, held)
    );

    let nothing = UserAccess {
        models: vec![],
        budgets: Default::default(),
        rates: Default::default(),
        ..access
    };
    client.set_user_access(&nothing).await.unwrap();
    client.ensure_team(&nothing).await.unwrap();
    let held = client.list_users(&[user.user_id]).await.unwrap().remove(0);
    assert!(
        user_drift(&nothing, &held).is_empty(),
        "{:?}",
        user_drift(&nothing, &held)
    );
    assert!(client.list_users(&[]).await.unwrap().is_empty());
    target.delete_users(&[user.user_id]).await;
}

#[tokio::test]
async fn a_users_model_budget_is_one_pool_for_all_its_keys() {
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let user = contract_user();
    client.ensure_user(&user).await.unwrap();
    let access = UserAccess {
        user_id: user.user_id,
        email: None,
        alias: None,
        models: vec![model.clone()],
        // A few requests' worth on the double's prices.
        budgets: [(
            model.clone(),
            ModelBudget {
                max_budget: Money::new(Decimal::new(4, 5)).unwrap(),
                window: BudgetDuration::parse("30d").unwrap(),
            },
        )]
        .into(),
        rates: Default::default(),
    };
    client.set_user_access(&access).await.unwrap();
    client.ensure_team(&access).await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let req = GenerateKey {
            user_id: user.user_id,
            team_id: access.team_id(),
            limits: Limits {
                max_budget: Some(money("10.00")),
                ..Limits::UNLIMITED
            },
            ..request(model.clone())
        };
        client.generate_key(&req).await.unwrap();
        keys.push(req.secret);
    }
    let mut refused = None;
    for i in 0..40 {
        let key = &keys[i % 2];
        let (status, body) = call_as(
            &target,
            key.expose(),
            "/v1/chat/completions",
            chat_body(&model),
        )
        .await;
        if status != 200 {
            refused = Some((i, status, body));
            break;
        }
    }
    let (served, status, body) = refused.expect("the pool runs out");
    assert!(
        served >= 2,
        "both keys were served before the pool ran out ({served})"
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("budget_exceeded"), "{body}");
    assert!(
        body.contains(&format!("LiteLLM User: {}", user.user_id)),
        "{body}"
    );
    for key in keys {
        let (status, _) = call_as(
            &target,
            key.expose(),
            "/v1/chat/completions",
            chat_body(&model),
        )
        .await;
        assert_eq!(status, 422, "every key of the user is stopped");
        client.delete_key(&key.hash()).await.unwrap();
    }
    target.delete_users(&[user.user_id]).await;
}

#[tokio::test]
async fn a_key_starts_with_the_spend_it_is_generated_with() {
    let target = target().await;
    let client = target.client();
    let model = some_model(&client).await;
    let req = GenerateKey {
        spend: Some(money("2.00")),
        ..request(model)
    };
    let created = client.generate_key(&req).await.unwrap();
    assert_eq!(created.team_id.as_deref(), Some(req.team_id.as_str()));
    assert_eq!(created.allowed_routes, req.allowed_routes);
    let read = client.key_info(&req.secret.hash()).await.unwrap().unwrap();
    assert_eq!(read.spend, Some(money("2.00")));
    assert_eq!(read.allowed_routes, req.allowed_routes);
    assert_eq!(read.team_id, Some(req.team_id.clone()));
    client.delete_key(&req.secret.hash()).await.unwrap();
}

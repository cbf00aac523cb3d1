//! The portable part of the adapter's suite: it only talks HTTP, so it runs against a real database-backed
//! LiteLLM when `LITELLM_URL` and `LITELLM_MASTER_KEY` are set, and against a fresh double otherwise.
//! Keys it creates have unique aliases (`keyport-contract-…`) and are deleted at the end; users it creates
//! have emails `keyport-contract-…@example.invalid` and are removed at the end with `/user/delete` (a route
//! keyport itself does not use; best effort, the double does not serve it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::ports::{
    Gateway, GatewayKey, GatewayKeyStatus, GatewayUser, GatewayUserUpdate, GenerateKey, SpendQuery,
    UpdateKey,
};
use keyport_domain::secret::{KeyHash, Secret, SecretKind, RANDOM_BYTES};
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

fn fresh_secret() -> Secret {
    let mut bytes = [0u8; RANDOM_BYTES];
    bytes[..16].copy_from_slice(UserId::new().0.as_bytes());
    bytes[16..].copy_from_slice(UserId::new().0.as_bytes());
    Secret::from_random(SecretKind::ApiKey, &bytes)
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
    GenerateKey {
        secret: fresh_secret(),
        alias: unique_alias(),
        user_id: UserId::new(),
        models: vec![model],
        limits: Limits {
            max_budget: Some(Money::new(Decimal::new(25, 1)).unwrap()),
            budget_duration: Some(BudgetDuration::parse("1mo").unwrap()),
            tpm_limit: Some(10_000),
            rpm_limit: Some(100),
        },
        expires_in_seconds: Some(86_400),
        metadata: serde_json::json!({"keyport_contract_test": true}),
    }
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
    let unknown = KeyHash::of(&fresh_secret());
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
    assert_eq!(info.models, Vec::<String>::new(), "every model");
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
            key_hash: Some(KeyHash::of(&fresh_secret())),
            user_id: Some(UserId::new()),
            ..window
        })
        .await
        .unwrap();
    assert_eq!((quiet.total, quiet.total_pages), (0, 0));
    assert!(quiet.entries.is_empty());
}

//! The `/user/*` contract of docs/litellm-contract.md#user-and-team-routes and #traps-seen-in-the-field, bodies
//! compared byte for byte where the tables give them.

mod common;

use common::{client, start, MASTER};
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble, VersionProfile};
use serde_json::json;

#[tokio::test]
async fn a_user_is_created_without_a_key_when_auto_create_key_is_false() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "u1", "user_email": "Alice@Example.com", "user_alias": "Alice",
                   "auto_create_key": false, "models": [], "max_budget": 5, "budget_duration": "30d"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(body["user_id"], "u1");
    assert_eq!(body["key"], "");
    assert_eq!(body["user_email"], "Alice@Example.com");
    assert_eq!(body["user_alias"], "Alice");
    assert_eq!(body["models"], json!([]));
    assert_eq!(body["max_budget"], 5.0);
    let created = body["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z'),
        "a response model writes Z: {created}"
    );
    assert!(double.keys().is_empty(), "no stray key");

    let user = double.user("u1").unwrap();
    assert_eq!(user.user_email.as_deref(), Some("Alice@Example.com"));
    assert_eq!(user.models, Vec::<String>::new());
    assert_eq!(user.max_budget, Some(5.0));
    assert!(user.budget_reset_at.is_some());
}

#[tokio::test]
async fn by_default_user_new_also_creates_a_key_for_the_user() {
    let double = start().await;
    let c = client(&double);
    let body = c
        .admin_post("/user/new", json!({"user_id": "u2", "key_alias": "u2-key"}))
        .await
        .json();
    let key = body["key"].as_str().unwrap();
    assert!(key.starts_with("sk-") && key.len() == 25, "{key}");
    let stored = double.key_by_alias("u2-key").unwrap();
    assert_eq!(stored.user_id.as_deref(), Some("u2"));
    let a = c.chat(key, "gpt-4o-mini").await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_taken_user_id_or_email_is_a_409_naming_the_stored_value() {
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "u1", "user_email": "Alice@Example.com", "auto_create_key": false}),
    )
    .await;
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "u1", "user_email": "other@example.com", "auto_create_key": false}),
        )
        .await;
    assert_eq!(a.status, 409);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"{'error': 'User with id u1 already exists'}","type":"internal_server_error","param":null,"code":"409"}}"#
    );
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "u9", "user_email": "  alice@EXAMPLE.com ", "auto_create_key": false}),
        )
        .await;
    assert_eq!(a.status, 409);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"{'error': 'User with email Alice@Example.com already exists'}","type":"internal_server_error","param":null,"code":"409"}}"#
    );
    assert!(double.user("u9").is_none());
}

#[tokio::test]
async fn user_new_checks_the_budget_duration_and_the_body() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "u1", "budget_duration": "soon", "auto_create_key": false}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"{'error': \"Invalid budget_duration 'soon'. Use a format like '1h', '24h', '7d', or '30d'.\"}","type":"internal_server_error","param":null,"code":"400"}}"#
    );
    let a = c
        .admin_post("/user/new", json!({"user_id": "u1", "max_budget": "abc"}))
        .await;
    assert_eq!(a.status, 422);
    assert!(
        a.body.contains(r#""loc":["body","max_budget"]"#),
        "{}",
        a.body
    );
    assert!(double.users().is_empty());
}

#[tokio::test]
async fn user_routes_are_for_the_master_key() {
    let double = start().await;
    let c = client(&double);
    let a = c.post("/user/new", None, "{}").await;
    assert_eq!(a.status, 401);
    let body = c
        .generate(json!({"key": "sk-user-route-key-0000", "user_id": "u1"}))
        .await;
    let key = body["key"].as_str().unwrap();
    let a = c.post("/user/new", Some(key), r#"{"user_id":"u3"}"#).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("Only proxy admin"), "{}", a.body);
}

#[tokio::test]
async fn user_info_answers_the_row_its_keys_and_teams() {
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "u1", "user_email": "a@example.com", "auto_create_key": false, "models": [],
               "max_budget": 10, "budget_duration": "1mo", "tpm_limit": 100}),
    )
    .await;
    let key = c
        .generate(
            json!({"key": "sk-user-info-key-00000", "user_id": "u1", "models": ["gpt-4o-mini"]}),
        )
        .await;
    c.generate(json!({"key": "sk-other-user-key-0000", "user_id": "u2"}))
        .await;
    let a = c.chat(key["key"].as_str().unwrap(), "gpt-4o-mini").await;
    assert_eq!(a.status, 200, "{}", a.body);

    let a = c.admin_get("/user/info?user_id=u1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(body["user_id"], "u1");
    assert_eq!(body["teams"], json!([]));
    let info = &body["user_info"];
    assert_eq!(info["user_email"], "a@example.com");
    assert_eq!(info["max_budget"], 10.0);
    assert_eq!(info["budget_duration"], "1mo");
    assert_eq!(info["tpm_limit"], 100);
    let expected = 10.0 * 1.5e-7 + 20.0 * 6e-7;
    assert!(
        (info["spend"].as_f64().unwrap() - expected).abs() < 1e-15,
        "{info}"
    );
    assert!(info["budget_reset_at"].as_str().unwrap().ends_with('Z'));
    assert!(info.get("password").is_none());
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["token"], key["token"]);
    assert_eq!(keys[0]["team_alias"], "None");
    assert!(keys[0]["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn user_info_of_an_unknown_user_is_404_in_both_profiles() {
    for version in [VersionProfile::V1_108, VersionProfile::V1_81] {
        let double = LiteLlmDouble::start(DoubleConfig::demo().with_version(version))
            .await
            .unwrap();
        let a = client(&double).admin_get("/user/info?user_id=nobody").await;
        assert_eq!(a.status, 404, "{version:?}");
        assert_eq!(
            a.body,
            r#"{"error":{"message":"User nobody not found","type":"internal_server_error","param":null,"code":"404"}}"#
        );
    }
}

#[tokio::test]
async fn a_key_may_read_only_its_own_user() {
    let double = start().await;
    let c = client(&double);
    for id in ["u1", "u2"] {
        c.admin_post(
            "/user/new",
            json!({"user_id": id, "auto_create_key": false}),
        )
        .await;
    }
    let body = c
        .generate(json!({"key": "sk-own-user-key-000000", "user_id": "u1"}))
        .await;
    let key = body["key"].as_str().unwrap();
    assert_eq!(c.get("/user/info?user_id=u1", Some(key)).await.status, 200);
    assert_eq!(c.get("/user/info", Some(key)).await.json()["user_id"], "u1");
    let a = c.get("/user/info?user_id=u2", Some(key)).await;
    assert_eq!(a.status, 403);
    assert!(a
        .body
        .contains("key not allowed to access this user's info"));
}

#[tokio::test]
async fn the_admin_summary_lists_every_key() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"user_id": "u1"})).await;
    c.generate(json!({"user_id": "u2"})).await;
    let body = c.get("/user/info", Some(MASTER)).await.json();
    assert_eq!(body["user_id"], "default_user_id");
    assert_eq!(body["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn user_update_writes_values_but_ignores_null_except_for_max_budget() {
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "u1", "auto_create_key": false, "models": ["gpt-4o-mini"],
               "max_budget": 10, "budget_duration": "30d", "tpm_limit": 100, "rpm_limit": 10,
               "metadata": {"a": 1}}),
    )
    .await;
    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "u1", "max_budget": 20, "budget_duration": "7d", "tpm_limit": 200,
                   "user_alias": "Alice"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(body["user_id"], "u1");
    assert_eq!(body["data"]["max_budget"], 20.0);
    assert_eq!(body["data"]["tpm_limit"], 200);
    assert_eq!(body["data"]["rpm_limit"], 10);
    assert_eq!(body["data"]["budget_duration"], "7d");
    assert!(body["data"]["updated_at"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));

    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "u1", "max_budget": null, "budget_duration": null, "tpm_limit": null,
                   "rpm_limit": null, "models": [], "metadata": {}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let user = double.user("u1").unwrap();
    assert_eq!(user.max_budget, None, "null clears max_budget");
    assert_eq!(
        user.budget_duration.as_deref(),
        Some("7d"),
        "null is ignored"
    );
    assert_eq!((user.tpm_limit, user.rpm_limit), (Some(200), Some(10)));
    assert_eq!(user.models, ["gpt-4o-mini"], "[] is ignored");
    assert_eq!(user.metadata, json!({"a": 1}), "{{}} is ignored");
    assert_eq!(user.user_alias.as_deref(), Some("Alice"));

    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "u1", "tpm_limit": 2147483647}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(double.user("u1").unwrap().tpm_limit, Some(2_147_483_647));
}

#[tokio::test]
async fn user_update_inserts_a_missing_user() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "new-one", "max_budget": 3}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["user_id"], "new-one");
    assert_eq!(double.user("new-one").unwrap().max_budget, Some(3.0));

    let a = c
        .admin_post(
            "/user/update",
            json!({"user_email": "b@example.com", "user_alias": "B"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let row = a.json();
    assert_eq!(row["user_email"], "b@example.com", "a bare row: {row}");
    let id = row["user_id"].as_str().unwrap().to_owned();
    let a = c
        .admin_post(
            "/user/update",
            json!({"user_email": "b@example.com", "max_budget": 1}),
        )
        .await;
    assert_eq!(a.json()["user_id"], id.as_str(), "found by email");
    assert_eq!(double.users().len(), 2);
}

#[tokio::test]
async fn user_update_errors_are_auth_errors() {
    let double = start().await;
    let c = client(&double);
    let a = c.admin_post("/user/update", json!({"max_budget": 1})).await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.body,
        r#"{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, Either user_id or user_email must be provided"}]}"#
    );
    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "u1", "budget_duration": "x"}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"{'error': \"Invalid budget_duration 'x'. Use a format like '1h', '24h', '7d', or '30d'.\"}","type":"auth_error","param":"None","code":"400"}}"#
    );
    assert!(double.user("u1").is_none());
}

#[tokio::test]
async fn on_1_81_a_user_created_without_models_gets_no_default_models() {
    let double = LiteLlmDouble::start(DoubleConfig::demo().with_version(VersionProfile::V1_81))
        .await
        .unwrap();
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "bare", "auto_create_key": false}),
    )
    .await;
    c.admin_post(
        "/user/new",
        json!({"user_id": "open", "auto_create_key": false, "models": []}),
    )
    .await;
    assert_eq!(double.user("bare").unwrap().models, ["no-default-models"]);
    assert_eq!(double.user("open").unwrap().models, Vec::<String>::new());
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "bare", "auto_create_key": false}),
    )
    .await;
    assert_eq!(double.user("bare").unwrap().models, Vec::<String>::new());
}

#[tokio::test]
async fn a_user_over_its_budget_is_refused_on_every_key() {
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "u1", "auto_create_key": false, "max_budget": 0.5}),
    )
    .await;
    let body = c
        .generate(json!({"key": "sk-user-budget-key-000", "user_id": "u1"}))
        .await;
    let key = body["key"].as_str().unwrap();
    assert_eq!(c.chat(key, "gpt-4o-mini").await.status, 200);
    double.update_user("u1", |u| u.spend = 0.75);
    let a = c.chat(key, "gpt-4o-mini").await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"ExceededBudget: User=u1 over budget. Spend=0.75, Budget=0.5","type":"budget_exceeded","param":null,"code":"422"}}"#
    );
    assert_eq!(
        c.chat(key, "meta-llama/Llama-3.1-8B-Instruct").await.status,
        200,
        "free models skip budgets"
    );
}

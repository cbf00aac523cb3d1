//! LiteLLM's route and role gates for virtual keys, and what a non-admin key may then do in the key
//! handlers (docs/litellm-contract.md#route-and-role-gates).

mod common;

use common::{client, sha256_hex, start, Client};
use serde_json::json;

const HOLDER: &str = "sk-holder-key-0000000001";

/// A key the master key made for `user` (no routes unless given), as keyport did before routes.
async fn master_made(c: &Client, user: &str, extra: serde_json::Value) {
    let mut body =
        json!({"key": HOLDER, "user_id": user, "models": ["gpt-4o-mini"], "max_budget": 1});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    c.generate(body).await;
}

#[tokio::test]
async fn a_key_of_a_user_without_a_role_mints_an_unlimited_key_and_deletes_the_master_made_one() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "holder-user", "auto_create_key": false}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    master_made(&c, "holder-user", json!({})).await;

    let a = c.post("/key/generate", Some(HOLDER), "{}").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let minted = a.json();
    assert_eq!(minted["user_id"], "holder-user");
    let stored = double.key(minted["token"].as_str().unwrap()).unwrap();
    assert!(stored.models.is_empty(), "every model");
    assert_eq!(stored.max_budget, None, "no budget");
    assert_eq!(stored.created_by.as_deref(), Some("holder-user"));

    let a = c
        .post(
            "/key/generate",
            Some(HOLDER),
            &json!({"user_id": "someone-else"}).to_string(),
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.json()["error"]["message"],
        "User can only create keys for themselves. Got user_id=someone-else, Your ID=holder-user"
    );
    let a = c
        .post(
            "/key/generate",
            Some(HOLDER),
            &json!({"allowed_routes": ["/key/generate"]}).to_string(),
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.json()["error"]["message"],
        "{'error': 'Only proxy admins can set `allowed_routes` on a key. Use `key_type` to pick a preset route bucket instead.'}"
    );
    let a = c
        .post(
            "/key/generate",
            Some(HOLDER),
            &json!({"key_type": "llm_api"}).to_string(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["allowed_routes"], json!(["llm_api_routes"]));
    let a = c
        .post(
            "/key/generate",
            Some(HOLDER),
            &json!({"key_type": "management"}).to_string(),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);

    // Another user's key may not be deleted; its own, even the master key's, may.
    c.generate(json!({"key": "sk-other-user-key-000001", "user_id": "other"}))
        .await;
    let a = c
        .post(
            "/key/delete",
            Some(HOLDER),
            &json!({"keys": ["sk-other-user-key-000001"]}).to_string(),
        )
        .await;
    assert_eq!(
        (a.status, a.json()["error"]["message"].clone()),
        (
            403,
            json!("{'error': 'You are not authorized to delete this key'}")
        )
    );
    let a = c
        .post(
            "/key/delete",
            Some(HOLDER),
            &json!({"keys": [HOLDER]}).to_string(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(double.key(&sha256_hex(HOLDER)).is_none());
    assert_eq!(
        double.deleted_keys()[0].deleted_by.as_deref(),
        Some("holder-user")
    );
}

#[tokio::test]
async fn a_key_limited_to_chat_routes_gets_fastapis_403_on_management_routes() {
    let double = start().await;
    let c = client(&double);
    master_made(
        &c,
        "holder-user",
        json!({"allowed_routes": ["/chat/completions", "/v1/chat/completions"]}),
    )
    .await;
    for (path, body) in [
        ("/key/generate", json!({})),
        ("/key/delete", json!({"keys": [HOLDER]})),
        (
            "/user/update",
            json!({"user_id": "holder-user", "max_budget": 100}),
        ),
    ] {
        let a = c.post(path, Some(HOLDER), &body.to_string()).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (
                403,
                format!(
                    r#"{{"detail":"Virtual key is not allowed to call this route. Only allowed to call routes: ['/chat/completions', '/v1/chat/completions']. Tried to call route: {path}"}}"#
                )
                .as_str()
            )
        );
    }
    assert_eq!(c.chat(HOLDER, "gpt-4o-mini").await.status, 200);
    let a = c.get("/v1/models", Some(HOLDER)).await;
    assert_eq!(a.status, 403, "not among the key's routes");
}

#[tokio::test]
async fn a_view_only_users_key_is_refused_key_management_by_role() {
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "viewer-0001", "user_role": "internal_user_viewer", "auto_create_key": false}),
    )
    .await;
    master_made(&c, "viewer-0001", json!({})).await;
    for path in [
        "/key/generate",
        "/key/delete",
        "/key/update",
        "/user/new",
        "/team/new",
    ] {
        let a = c.post(path, Some(HOLDER), "{}").await;
        assert_eq!(a.status, 401, "{path}: {}", a.body);
        assert_eq!(
            a.json()["error"]["message"],
            format!("Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={path}. Your role=internal_user_viewer. Your user_id=viewer***01")
        );
    }
    assert_eq!(
        c.chat(HOLDER, "gpt-4o-mini").await.status,
        200,
        "inference passes"
    );
    let a = c
        .get(&format!("/key/info?key={HOLDER}"), Some(HOLDER))
        .await;
    assert_eq!(a.status, 200, "info routes pass: {}", a.body);
}

#[tokio::test]
async fn the_holder_may_not_update_a_master_made_key_but_may_change_its_own_minted_key_short_of_budget(
) {
    let double = start().await;
    let c = client(&double);
    master_made(&c, "holder-user", json!({})).await;
    let a = c
        .post(
            "/key/update",
            Some(HOLDER),
            &json!({"key": HOLDER, "models": []}).to_string(),
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.json()["error"],
        json!({"message": "{'error': 'Only proxy admins, team admins, or org admins can call /key/update. user_role=internal_user, user_id=holder-user'}", "type": "auth_error", "param": "None", "code": "403"})
    );
    let minted = c.post("/key/generate", Some(HOLDER), "{}").await.json();
    let token = minted["token"].as_str().unwrap();
    let a = c
        .post(
            "/key/update",
            Some(HOLDER),
            &json!({"key": token, "models": ["gpt-4o-mini"]}).to_string(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .post(
            "/key/update",
            Some(HOLDER),
            &json!({"key": token, "max_budget": 100}).to_string(),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("/key/update (max_budget/spend)"));
    // The master key sets routes and reads them back.
    let a = c
        .admin_post(
            "/key/update",
            json!({"key": HOLDER, "allowed_routes": ["llm_api_routes"]}),
        )
        .await;
    assert_eq!(a.json()["allowed_routes"], json!(["llm_api_routes"]));
    let info = c.admin_get(&format!("/key/info?key={HOLDER}")).await.json();
    assert_eq!(info["info"]["allowed_routes"], json!(["llm_api_routes"]));
}

#[tokio::test]
async fn faults_apply_to_the_new_routes() {
    let double = start().await;
    let c = client(&double);
    double.inject(keyport_litellm_double::Fault::Status(503).on("/team/new"));
    assert_eq!(
        c.admin_post("/team/new", json!({"team_id": "t"}))
            .await
            .status,
        503
    );
    assert_eq!(
        c.admin_post("/team/new", json!({"team_id": "t"}))
            .await
            .status,
        200
    );
    double.inject(keyport_litellm_double::Fault::Status(502).on("/user/list"));
    assert_eq!(c.admin_get("/user/list").await.status, 502);
}

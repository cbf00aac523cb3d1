//! The journey of the "Done when" of the foundation, against the real binary, a fresh database and the
//! LiteLLM double: subscribe, create a key bound to the subscription, see it listed without its secret, use
//! it, revoke it, and see LiteLLM reject it.

mod common;

use common::App;
use serde_json::json;

#[tokio::test]
async fn a_user_subscribes_creates_a_bound_key_uses_it_revokes_it_and_litellm_then_rejects_it() {
    let app = App::start().await;
    let token = app.create_user("alice", false);

    let (status, models) = app.get(&token, "/api/v1/models").await;
    assert_eq!(status, 200);
    let ids: Vec<_> = models["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().any(|i| i == "gpt-4o-mini"),
        "catalog synced at start: {ids:?}"
    );

    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    let (status, created) = app
        .post(
            &token,
            "/api/v1/api-keys",
            json!({"name": "my-first-key", "subscription_ids": [sub]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-kp-"));
    assert_eq!(created["key"]["status"], "active");
    assert_eq!(created["key"]["models"], json!(["gpt-4o-mini"]));
    assert_eq!(
        created["litellm_base_url"],
        app.double.base_url().trim_end_matches('/')
    );
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();

    let (status, listed) = app.get(&token, "/api/v1/api-keys").await;
    assert_eq!(status, 200);
    let key = &listed["items"][0];
    assert_eq!(key["id"], key_id.as_str());
    assert_eq!(key["prefix"], &secret[..12]);
    assert_eq!(key["models"], json!(["gpt-4o-mini"]));
    assert_eq!(key["status"], "active");
    assert!(
        !listed.to_string().contains(&secret[12..]),
        "the list never carries the secret"
    );

    let (status, answer) = app.chat(&secret, "gpt-4o-mini").await;
    assert_eq!(status, 200, "the key works on LiteLLM: {answer}");
    let (status, answer) = app.chat(&secret, "claude-3-5-sonnet").await;
    assert_eq!(
        status, 403,
        "the key is bound to its subscription's model only: {answer}"
    );

    let revoked = app.revoke_key(&token, &key_id).await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_pending"], false);

    let (status, answer) = app.chat(&secret, "gpt-4o-mini").await;
    assert_eq!(status, 401, "a revoked key stops working: {answer}");
    assert!(app.double.keys().is_empty(), "nothing left in LiteLLM");
}

#[tokio::test]
async fn another_user_sees_none_of_my_subscriptions_or_keys() {
    let app = App::start().await;
    let alice = app.create_user("alice", false);
    let bob = app.create_user("bob", false);
    let sub = app.subscribe(&alice, "gpt-4o-mini").await;
    let (_, created) = app
        .post(
            &alice,
            "/api/v1/api-keys",
            json!({"name": "k", "subscription_ids": [sub]}),
        )
        .await;
    let key_id = created["key"]["id"].as_str().unwrap();

    assert_eq!(
        app.get(&bob, &format!("/api/v1/api-keys/{key_id}")).await.0,
        404
    );
    assert_eq!(
        app.get(&bob, &format!("/api/v1/subscriptions/{sub}"))
            .await
            .0,
        404
    );
    assert_eq!(
        app.delete(&bob, &format!("/api/v1/api-keys/{key_id}"))
            .await
            .0,
        404
    );
    assert_eq!(
        app.post(
            &bob,
            &format!("/api/v1/subscriptions/{sub}/cancel"),
            json!({})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.get(&bob, "/api/v1/api-keys").await.1["items"],
        json!([])
    );
    let (status, body) = app
        .post(
            &bob,
            "/api/v1/api-keys",
            json!({"name": "k", "subscription_ids": [sub]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "subscription_ids[0]");
    assert_eq!(
        app.get(&alice, &format!("/api/v1/api-keys/{key_id}"))
            .await
            .0,
        200,
        "still alice's"
    );
}

#[tokio::test]
async fn my_key_list_comes_a_page_at_a_time_newest_first_like_the_admin_lists() {
    let app = App::start().await;
    let alice = app.create_user("alice", false);
    let bob = app.create_user("bob", false);
    let sub = app.subscribe(&alice, "gpt-4o-mini").await;
    let mut ids = Vec::new();
    for name in ["k1", "k2", "k3", "k4", "k5"] {
        let (status, created) = app
            .post(
                &alice,
                "/api/v1/api-keys",
                json!({"name": name, "subscription_ids": [sub]}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        ids.push(created["key"]["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = app
        .delete(&alice, &format!("/api/v1/api-keys/{}", ids[1]))
        .await;
    assert_eq!(status, 200);
    let bobs = app.subscribe(&bob, "gpt-4o-mini").await;
    let (status, _) = app
        .post(
            &bob,
            "/api/v1/api-keys",
            json!({"name": "bobs", "subscription_ids": [bobs]}),
        )
        .await;
    assert_eq!(status, 201);

    // Two at a time: k5 k4 | k3 k2 | k1, each page pointing at the next, the last at none.
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/api-keys?limit=2&cursor={c}"),
            None => "/api/v1/api-keys?limit=2".to_owned(),
        };
        let (status, page) = app.get(&alice, &path).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        names.extend(items.iter().map(|k| k["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(sizes.len() < 10, "the pages never end: {names:?}");
    }
    assert_eq!(
        names,
        ["k5", "k4", "k3", "k2", "k1"],
        "newest first, bob's not among them"
    );
    assert_eq!(sizes, [2, 2, 1]);

    // Without a limit, one page of up to 50, and the last one.
    let (_, all) = app.get(&alice, "/api/v1/api-keys").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], serde_json::Value::Null);
    // The status filter of the admin list.
    let (status, revoked) = app.get(&alice, "/api/v1/api-keys?status=revoked").await;
    assert_eq!(status, 200, "{revoked}");
    let revoked: Vec<_> = revoked["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, [ids[1].as_str()]);

    // Its objections, named as the admin list names them.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("status=nope", "status"),
        ("cursor=nope", "cursor"),
    ] {
        let (status, problem) = app.get(&alice, &format!("/api/v1/api-keys?{query}")).await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}: {problem}");
    }
    let (status, problem) = app.get(&alice, "/api/v1/api-keys?user_id=x").await;
    assert_eq!(
        status, 400,
        "no owner filter for members, and an unknown parameter is refused: {problem}"
    );
}

#[tokio::test]
async fn model_ids_with_a_slash_are_reachable() {
    let app = App::start().await;
    let token = app.create_user("alice", false);
    let (status, model) = app
        .get(&token, "/api/v1/models/meta-llama/Llama-3.1-8B-Instruct")
        .await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["id"], "meta-llama/Llama-3.1-8B-Instruct");
    assert_eq!(app.get(&token, "/api/v1/models/nope/nope").await.0, 404);
}

#[tokio::test]
async fn a_cancelled_subscription_revokes_its_only_key_backs_no_new_key_and_resubscribing_reuses_it(
) {
    let app = App::start().await;
    let token = app.create_user("alice", false);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    let (_, created) = app
        .post(
            &token,
            "/api/v1/api-keys",
            json!({"name": "k", "subscription_ids": [sub]}),
        )
        .await;
    let key_id = created["key"]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/subscriptions/{sub}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    assert_eq!(
        app.get(&token, &format!("/api/v1/api-keys/{key_id}"))
            .await
            .1["status"],
        "revoked"
    );
    let (status, body) = app
        .post(
            &token,
            "/api/v1/api-keys",
            json!({"name": "k2", "subscription_ids": [sub]}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("subscription_ids[0]"))
    );
    assert_eq!(
        app.subscribe(&token, "gpt-4o-mini").await,
        sub,
        "one subscription per user and model"
    );
}

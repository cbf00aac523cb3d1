//! Quotas pooled across keys: a user's per-model budget (`model_max_budget`), a team's per-model rates,
//! a key's starting spend; users' access fields and `/user/list`; teams.

mod common;

use common::{client, start, Client};
use keyport_litellm_double::COMPLETION_TOKENS;
use serde_json::json;

/// What one chat on `gpt-4o-mini` costs on the demo prices.
const COST: f64 = 10.0 * 1.5e-7 + COMPLETION_TOKENS as f64 * 6e-7;

async fn user_with_team(c: &Client, user: &str, team: &str, metadata: serde_json::Value) {
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": user, "user_role": "internal_user_viewer", "auto_create_key": false}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .admin_post(
            "/team/new",
            json!({"team_id": team, "team_alias": team, "members_with_roles": [{"user_id": user, "role": "user"}], "models": [], "metadata": metadata}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn twenty_keys_of_one_user_stop_together_at_the_users_model_budget() {
    let double = start().await;
    let c = client(&double);
    user_with_team(&c, "pool-user", "keyport-pool-user", json!({})).await;
    let budget = 10.0 * COST;
    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "pool-user", "models": ["gpt-4o-mini"], "model_max_budget": {"gpt-4o-mini": {"budget_limit": budget, "time_period": "30d"}}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let keys: Vec<String> = (0..20).map(|i| format!("sk-pool-key-{i:012}")).collect();
    for key in &keys {
        c.generate(json!({"key": key, "user_id": "pool-user", "team_id": "keyport-pool-user", "models": ["gpt-4o-mini"], "max_budget": 100}))
            .await;
    }
    let mut served = 0;
    'outer: for _ in 0..5 {
        for key in &keys {
            let a = c.chat(key, "gpt-4o-mini").await;
            if a.status != 200 {
                assert_eq!(a.status, 422, "{}", a.body);
                assert_eq!(
                    a.json()["error"],
                    json!({"message": "LiteLLM User: pool-user, exceeded budget for model=gpt-4o-mini", "type": "budget_exceeded", "param": null, "code": "422"})
                );
                break 'outer;
            }
            served += 1;
        }
    }
    let spent = f64::from(served) * COST;
    assert!(
        spent >= budget - 1e-12 && spent <= budget + COST + 1e-12,
        "{served} requests"
    );
    for key in &keys {
        assert_eq!(
            c.chat(key, "gpt-4o-mini").await.status,
            422,
            "every key stops"
        );
    }
    let info = c.admin_get("/user/info?user_id=pool-user").await.json();
    let usage = &info["user_info"]["model_max_budget_usage"]["gpt-4o-mini"];
    assert_eq!(usage["budget_limit"], budget);
    assert_eq!(usage["time_period"], "30d");
    assert!(usage["budget_reset_at"].is_string());

    // The window is rolling: once it has ended, the pool is fresh.
    double.age_model_budget_windows(chrono::Duration::days(31));
    assert_eq!(c.chat(&keys[0], "gpt-4o-mini").await.status, 200);
}

#[tokio::test]
async fn a_teams_per_model_rpm_is_one_pool_for_two_keys() {
    let double = start().await;
    let c = client(&double);
    user_with_team(
        &c,
        "rate-user",
        "keyport-rate-user",
        json!({"model_rpm_limit": {"gpt-4o-mini": 3}}),
    )
    .await;
    for key in ["sk-rate-key-a-0000000", "sk-rate-key-b-0000000"] {
        c.generate(json!({"key": key, "user_id": "rate-user", "team_id": "keyport-rate-user", "models": ["gpt-4o-mini", "claude-3-5-sonnet"]}))
            .await;
    }
    assert_eq!(
        c.chat("sk-rate-key-a-0000000", "gpt-4o-mini").await.status,
        200
    );
    assert_eq!(
        c.chat("sk-rate-key-b-0000000", "gpt-4o-mini").await.status,
        200
    );
    assert_eq!(
        c.chat("sk-rate-key-a-0000000", "gpt-4o-mini").await.status,
        200
    );
    let a = c.chat("sk-rate-key-b-0000000", "gpt-4o-mini").await;
    assert_eq!(a.status, 429, "{}", a.body);
    let error = &a.json()["error"];
    assert_eq!(error["type"], "throttling_error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Rate limit exceeded for model_per_team: keyport-rate-user:gpt-4o-mini. Limit type: requests. Current limit: 3, Remaining: 0. Limit resets at: "),
        "{message}"
    );
    assert_eq!(
        c.chat("sk-rate-key-b-0000000", "claude-3-5-sonnet")
            .await
            .status,
        200,
        "another model has its own pool"
    );
}

#[tokio::test]
async fn a_key_generated_with_spend_starts_there_against_its_budget() {
    let double = start().await;
    let c = client(&double);
    let answer = c
        .generate(json!({"key": "sk-carried-spend-00001", "models": ["gpt-4o-mini"], "max_budget": 1.0, "spend": 1.0}))
        .await;
    assert_eq!(answer["spend"], 1.0);
    let a = c.chat("sk-carried-spend-00001", "gpt-4o-mini").await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.json()["error"]["type"], "budget_exceeded");
}

#[tokio::test]
async fn user_update_ignores_empty_models_but_replaces_model_max_budget_even_with_nothing() {
    let double = start().await;
    let c = client(&double);
    c.admin_post(
        "/user/new",
        json!({"user_id": "u1", "models": ["no-default-models"], "auto_create_key": false}),
    )
    .await;
    c.admin_post(
        "/user/update",
        json!({"user_id": "u1", "models": ["gpt-4o-mini"], "model_max_budget": {"gpt-4o-mini": {"max_budget": 5, "budget_duration": "7d"}}}),
    )
    .await;
    let a = c
        .admin_post("/user/update", json!({"user_id": "u1", "models": []}))
        .await;
    assert_eq!(a.status, 200);
    let user = double.user("u1").unwrap();
    assert_eq!(user.models, ["gpt-4o-mini"], "models: [] is ignored");
    assert_eq!(user.model_max_budget.len(), 1, "not sent, not touched");
    c.admin_post(
        "/user/update",
        json!({"user_id": "u1", "model_max_budget": {}}),
    )
    .await;
    assert!(double.user("u1").unwrap().model_max_budget.is_empty());
    let a = c
        .admin_post(
            "/user/update",
            json!({"user_id": "u1", "user_role": "boss"}),
        )
        .await;
    assert_eq!(a.status, 422);
}

#[tokio::test]
async fn user_new_refuses_model_max_budget_without_a_licence() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "u2", "model_max_budget": {"m": {"budget_limit": 1, "time_period": "1d"}}}),
        )
        .await;
    assert_eq!(a.status, 500);
    let error = &a.json()["error"];
    assert_eq!(error["type"], "internal_server_error");
    assert!(error["message"].as_str().unwrap().starts_with(
        "Invalid model_max_budget: You must have an enterprise license to set model_max_budget."
    ));
    assert!(double.user("u2").is_none());
}

#[tokio::test]
async fn user_list_pages_filters_by_ids_and_matches_a_single_id_as_a_substring() {
    let double = start().await;
    let c = client(&double);
    for id in ["alpha", "alphabet", "beta", "gamma"] {
        c.admin_post(
            "/user/new",
            json!({"user_id": id, "auto_create_key": false}),
        )
        .await;
    }
    c.generate(json!({"user_id": "beta"})).await;
    let page = c
        .admin_get("/user/list?user_ids=alpha,beta&page_size=100")
        .await
        .json();
    assert_eq!(page["total"], 2);
    let ids: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["beta", "alpha"], "newest first");
    assert_eq!(page["users"][0]["key_count"], 1);
    let single = c.admin_get("/user/list?user_ids=ALPHA").await.json();
    assert_eq!(
        single["total"], 2,
        "`contains`, case-insensitive: alpha and alphabet"
    );
    let paged = c.admin_get("/user/list?page=2&page_size=3").await.json();
    assert_eq!(
        (
            paged["total"].clone(),
            paged["total_pages"].clone(),
            paged["users"].as_array().unwrap().len()
        ),
        (json!(4), json!(2), 1)
    );
    assert_eq!(c.admin_get("/user/list?page_size=101").await.status, 422);
    assert_eq!(c.admin_get("/user/list?page_size=0").await.status, 422);
}

#[tokio::test]
async fn teams_are_created_once_read_updated_and_joined() {
    let double = start().await;
    let c = client(&double);
    user_with_team(&c, "t-user", "keyport-t", json!({"managed_by": "keyport"})).await;
    let a = c
        .admin_post("/team/new", json!({"team_id": "keyport-t"}))
        .await;
    assert_eq!(
        (a.status, a.json()["error"]["message"].clone()),
        (
            400,
            json!(
                "{'error': 'Team id = keyport-t already exists. Please use a different team id.'}"
            )
        )
    );
    let a = c.admin_get("/team/info?team_id=nope").await;
    assert_eq!(a.status, 404);
    let info = c.admin_get("/team/info?team_id=keyport-t").await.json();
    assert_eq!(info["team_id"], "keyport-t");
    assert_eq!(
        info["team_info"]["members_with_roles"][0]["user_id"],
        "t-user"
    );
    let a = c
        .admin_post(
            "/team/update",
            json!({"team_id": "keyport-t", "metadata": {"model_rpm_limit": {"m": 1}}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.json()["data"]["metadata"],
        json!({"model_rpm_limit": {"m": 1}}),
        "replaced"
    );
    let a = c
        .admin_post(
            "/team/member_add",
            json!({"team_id": "keyport-t", "member": {"user_id": "t-user", "role": "user"}}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"]["type"], "team_member_already_in_team");
    let a = c
        .admin_post(
            "/team/member_add",
            json!({"team_id": "keyport-t", "member": [{"user_id": "newcomer", "role": "user"}]}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(double.user("newcomer").unwrap().teams, ["keyport-t"]);
    assert_eq!(double.user("t-user").unwrap().teams, ["keyport-t"]);
}

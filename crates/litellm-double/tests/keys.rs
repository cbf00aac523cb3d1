//! The `/key/*` contract of docs/litellm-contract.md (#authentication to #key-routes), bodies compared byte for
//! byte where the tables give them.

mod common;

use common::{client, sha256_hex, start, MASTER};
use keyport_litellm_double::{DoubleConfig, LiteLlmDouble, VersionProfile};
use serde_json::json;

const CUSTOM: &str = "sk-custom-key-0123456789";

#[tokio::test]
async fn a_custom_key_is_stored_under_its_sha256_and_the_answer_echoes_the_request() {
    let double = start().await;
    let c = client(&double);
    let body = c
        .generate(json!({
            "key": CUSTOM, "key_alias": "alice-prod", "models": ["gpt-4o-mini"],
            "max_budget": 10, "budget_duration": "30d", "duration": "3600s",
            "tpm_limit": 1000, "rpm_limit": 60, "metadata": {"keyport_key_id": "k1"}, "user_id": "u1",
        }))
        .await;
    let hash = sha256_hex(CUSTOM);
    assert_eq!(body["key"], CUSTOM);
    assert_eq!(body["token"], hash.as_str());
    assert_eq!(body["token_id"], hash.as_str());
    assert_eq!(body["key_name"], "sk-...6789");
    assert_eq!(body["key_alias"], "alice-prod");
    assert_eq!(body["max_budget"], 10.0);
    assert_eq!(body["metadata"]["keyport_key_id"], "k1");
    let expires = body["expires"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "pydantic writes Z: {expires}");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    let lifetime = expires
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((3590..=3600).contains(&lifetime), "{lifetime}");

    let stored = double.key(&hash).unwrap();
    assert_eq!(stored.alias.as_deref(), Some("alice-prod"));
    assert_eq!(stored.models, ["gpt-4o-mini"]);
    assert_eq!(stored.max_budget, Some(10.0));
    assert_eq!(stored.tpm_limit, Some(1000));
    assert_eq!(stored.user_id.as_deref(), Some("u1"));
    assert!(stored.budget_reset_at.is_some());
}

#[tokio::test]
async fn a_generated_key_is_sk_plus_22_url_safe_characters() {
    let double = start().await;
    let body = client(&double).generate(json!({})).await;
    let key = body["key"].as_str().unwrap();
    assert_eq!(key.len(), 25);
    assert!(key.starts_with("sk-"));
    assert_eq!(body["token"], sha256_hex(key).as_str());
    assert_eq!(body["expires"], serde_json::Value::Null);
}

#[tokio::test]
async fn custom_keys_must_start_with_sk_and_be_sixteen_characters_long() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/key/generate",
            json!({"key": "abcdefghijklmnopqrstuvwxyz"}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"{'error': \"Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: abcd****wxyz\"}","type":"internal_server_error","param":null,"code":"400"}}"#
    );
    let a = c.admin_post("/key/generate", json!({"key": "short"})).await;
    assert!(a.body.contains("Received: ****"), "{}", a.body);
    let a = c
        .admin_post("/key/generate", json!({"key": "sk-short"}))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"{'error': 'Invalid key format. LiteLLM Virtual Key must be at least 16 characters long.'}","type":"internal_server_error","param":null,"code":"400"}}"#
    );
    assert!(double.keys().is_empty());
}

#[tokio::test]
async fn a_duplicate_alias_is_refused_with_bad_request_error_on_key_alias() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key_alias": "dup"})).await;
    let a = c
        .admin_post("/key/generate", json!({"key_alias": "dup"}))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"Key with alias 'dup' already exists. Unique key aliases across all keys are required.","type":"bad_request_error","param":"key_alias","code":"400"}}"#
    );
    assert_eq!(double.keys().len(), 1);
}

#[tokio::test]
async fn the_same_custom_key_again_without_alias_answers_200_and_leaves_the_row_unchanged() {
    let double = start().await;
    let c = client(&double);
    let first = c
        .generate(json!({"key": CUSTOM, "key_alias": "a", "models": ["gpt-4o-mini"]}))
        .await;
    let retry = c
        .generate(json!({"key": CUSTOM, "models": ["claude-3-5-sonnet"], "max_budget": 3}))
        .await;
    assert_eq!(retry["token"], first["token"]);
    assert_eq!(retry["created_at"], first["created_at"]);
    assert_eq!(
        retry["models"],
        json!(["claude-3-5-sonnet"]),
        "echoes the request"
    );
    let stored = double.key(&sha256_hex(CUSTOM)).unwrap();
    assert_eq!(stored.models, ["gpt-4o-mini"]);
    assert_eq!(stored.alias.as_deref(), Some("a"));
    assert_eq!(stored.max_budget, None);
    assert_eq!(double.keys().len(), 1);
    // With the alias again, the alias check answers first.
    let a = c
        .admin_post("/key/generate", json!({"key": CUSTOM, "key_alias": "a"}))
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn budgets_and_durations_are_validated_like_litellm() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post("/key/generate", json!({"max_budget": -1}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            r#"{"error":{"message":"{'error': 'max_budget must be a non-negative finite number. Received: -1.0'}","type":"internal_server_error","param":null,"code":"400"}}"#
        )
    );
    let a = c
        .admin_post("/key/generate", json!({"budget_duration": "x"}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            r#"{"error":{"message":"{'error': \"Invalid budget_duration 'x'. Use a format like '1h', '24h', '7d', or '30d'.\"}","type":"internal_server_error","param":null,"code":"400"}}"#
        )
    );
    let a = c
        .admin_post("/key/generate", json!({"duration": "soon"}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            500,
            r#"{"error":{"message":"Invalid duration format","type":"internal_server_error","param":null,"code":"500"}}"#
        )
    );
    let a = c
        .admin_post("/key/generate", json!({"max_budget": "abc"}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            422,
            r#"{"detail":[{"type":"float_parsing","loc":["body","max_budget"],"msg":"Input should be a valid number, unable to parse string as a number"}]}"#
        )
    );
    assert!(double.keys().is_empty());
}

#[tokio::test]
async fn management_needs_the_master_key_in_any_supported_header() {
    let double = start().await;
    let c = client(&double);
    let a = c.post("/key/generate", None, "{}").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            401,
            r#"{"error":{"message":"Authentication Error, No api key passed in.","type":"auth_error","param":"None","code":"401"}}"#
        )
    );
    let a = c
        .http
        .post(format!("{}/key/generate", c.base))
        .header("authorization", MASTER)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 401);
    assert_eq!(
        a.text().await.unwrap(),
        r#"{"error":{"message":"Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.","type":"auth_error","param":"None","code":"401"}}"#
    );
    let a = c
        .post("/key/generate", Some("sk-not-the-master-key"), "{}")
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            401,
            r#"{"error":{"message":"Authentication Error, Invalid API key provided.","type":"token_not_found_in_db","param":"key","code":"401"}}"#
        )
    );
    for header in ["x-litellm-api-key", "authorization"] {
        let a = c
            .http
            .post(format!("{}/key/generate", c.base))
            .header(header, format!("Bearer {MASTER}"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), 200, "{header}");
    }
    let a = c
        .http
        .post(format!("{}/key/generate", c.base))
        .header("x-litellm-api-key", MASTER)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
}

#[tokio::test]
async fn a_key_of_a_view_only_user_may_not_manage_keys() {
    let double = start().await;
    let c = client(&double);
    let a = c
        .admin_post(
            "/user/new",
            json!({"user_id": "user-0123456789", "user_role": "internal_user_viewer", "auto_create_key": false}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    c.generate(json!({"key": CUSTOM, "user_id": "user-0123456789"}))
        .await;
    let a = c.post("/key/generate", Some(CUSTOM), "{}").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            401,
            r#"{"error":{"message":"Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=/key/generate. Your role=internal_user_viewer. Your user_id=user-0*******89","type":"auth_error","param":"None","code":"401"}}"#
        )
    );
}

#[tokio::test]
async fn key_info_answers_by_hash_or_raw_key_without_the_token() {
    let double = start().await;
    let c = client(&double);
    c.generate(
        json!({"key": CUSTOM, "key_alias": "k", "models": ["gpt-4o-mini"], "max_budget": 5}),
    )
    .await;
    let hash = sha256_hex(CUSTOM);
    for asked in [hash.as_str(), CUSTOM] {
        let a = c.admin_get(&format!("/key/info?key={asked}")).await;
        assert_eq!(a.status, 200);
        let body = a.json();
        assert_eq!(body["key"], asked);
        let info = &body["info"];
        assert!(info.get("token").is_none());
        assert_eq!(info["status"], "active");
        assert_eq!(info["key_alias"], "k");
        assert_eq!(info["max_budget"], 5.0);
        assert_eq!(info["total_spend"], 0.0);
        assert_eq!(info["blocked"], serde_json::Value::Null);
        assert!(info["created_at"].as_str().unwrap().ends_with("+00:00"));
    }
    let a = c
        .admin_get(&format!("/key/info?key={}", "0".repeat(64)))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            404,
            r#"{"error":{"message":"Key not found in database","type":"not_found_error","param":"key","code":"404"}}"#
        )
    );
}

#[tokio::test]
async fn key_info_reports_revoked_expired_and_deleted_keys() {
    let double = start().await;
    let c = client(&double);
    let hash = sha256_hex(CUSTOM);
    c.generate(json!({"key": CUSTOM, "duration": "0d"})).await;
    let info = c.admin_get(&format!("/key/info?key={hash}")).await.json();
    assert_eq!(info["info"]["status"], "expired");
    c.admin_post("/key/block", json!({"key": hash})).await;
    let info = c.admin_get(&format!("/key/info?key={hash}")).await.json();
    assert_eq!(
        info["info"]["status"], "revoked",
        "blocked wins over expired"
    );
    assert_eq!(info["info"]["blocked"], true);
    let a = c
        .http
        .post(format!("{}/key/delete", c.base))
        .bearer_auth(MASTER)
        .header("litellm-changed-by", "portal-user-1")
        .body(json!({"keys": [hash]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    let info = c.admin_get(&format!("/key/info?key={hash}")).await.json();
    assert_eq!(info["info"]["status"], "deleted");
    assert_eq!(info["info"]["litellm_changed_by"], "portal-user-1");
    assert!(info["info"]["deleted_at"].is_string());
    assert_eq!(double.deleted_keys().len(), 1);
}

#[tokio::test]
async fn version_1_81_answers_404_for_a_deleted_key_and_has_no_status() {
    let double = LiteLlmDouble::start(DoubleConfig::demo().with_version(VersionProfile::V1_81))
        .await
        .unwrap();
    let c = client(&double);
    let hash = sha256_hex(CUSTOM);
    c.generate(json!({"key": CUSTOM})).await;
    let info = c.admin_get(&format!("/key/info?key={hash}")).await.json();
    assert!(info["info"].get("status").is_none());
    assert!(info["info"].get("total_spend").is_none());
    c.admin_post("/key/delete", json!({"keys": [CUSTOM]})).await;
    let a = c.admin_get(&format!("/key/info?key={hash}")).await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn block_and_unblock_check_the_format_and_the_existence_of_the_key() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": CUSTOM})).await;
    let a = c
        .admin_post("/key/block", json!({"key": "sk-bad key!"}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            r#"{"error":{"message":"Invalid key format.","type":"bad_request_error","param":"key","code":"400"}}"#
        )
    );
    let a = c
        .admin_post("/key/block", json!({"key": "f".repeat(64)}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            404,
            r#"{"error":{"message":"Key not found.","type":"not_found_error","param":"key","code":"404"}}"#
        )
    );
    let a = c.admin_post("/key/block", json!({"key": CUSTOM})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["blocked"], true);
    assert_eq!(a.json()["token"], sha256_hex(CUSTOM).as_str());
    let a = c
        .admin_post("/key/unblock", json!({"key": sha256_hex(CUSTOM)}))
        .await;
    assert_eq!(a.json()["blocked"], false);
    assert!(!double.key(&sha256_hex(CUSTOM)).unwrap().is_blocked());
}

#[tokio::test]
async fn delete_needs_keys_or_aliases_and_answers_404_only_when_nothing_exists() {
    let double = start().await;
    let c = client(&double);
    let a = c.admin_post("/key/delete", json!({})).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            422,
            r#"{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, At least one of 'keys' or 'key_aliases' must be provided."}]}"#
        )
    );
    let a = c
        .admin_post("/key/delete", json!({"keys": ["sk-never-existed-000000"]}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            404,
            r#"{"error":{"message":"{'error': 'No keys found'}","type":"internal_server_error","param":null,"code":"404"}}"#
        )
    );
    c.generate(json!({"key": CUSTOM})).await;
    c.generate(json!({"key_alias": "by-alias"})).await;
    let sent = json!({"keys": [CUSTOM, "sk-never-existed-000000"]});
    let a = c.admin_post("/key/delete", sent.clone()).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"deleted_keys": sent["keys"]}));
    let a = c
        .admin_post("/key/delete", json!({"key_aliases": ["by-alias"]}))
        .await;
    assert_eq!(a.json(), json!({"deleted_keys": ["by-alias"]}));
    assert!(double.keys().is_empty());
    assert_eq!(double.deleted_keys().len(), 2);
}

#[tokio::test]
async fn update_is_a_merge_patch_with_metadata_replaced_whole() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({
        "key": CUSTOM, "key_alias": "a", "models": ["gpt-4o-mini"], "max_budget": 10,
        "tpm_limit": 100, "metadata": {"x": 1, "y": 2},
    }))
    .await;
    let hash = sha256_hex(CUSTOM);
    let a = c
        .admin_post(
            "/key/update",
            json!({"key": hash, "models": ["gpt-4o-mini", "claude-3-5-sonnet"], "metadata": {"z": 3}, "tpm_limit": null}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(body["key"], hash.as_str());
    assert_eq!(body["token"], hash.as_str());
    let stored = double.key(&hash).unwrap();
    assert_eq!(stored.models, ["gpt-4o-mini", "claude-3-5-sonnet"]);
    assert_eq!(stored.metadata, json!({"z": 3}));
    assert_eq!(
        stored.max_budget,
        Some(10.0),
        "omitted fields keep their value"
    );
    assert_eq!(stored.tpm_limit, None, "null clears");
    assert_eq!(stored.alias.as_deref(), Some("a"));

    let a = c
        .admin_post("/key/update", json!({"key_alias": "a", "blocked": true}))
        .await;
    assert_eq!(
        a.json()["key"],
        hash.as_str(),
        "identified by alias: the stored hash"
    );
    assert!(double.key(&hash).unwrap().is_blocked());

    let a = c
        .admin_post(
            "/key/update",
            json!({"key": "0".repeat(64), "max_budget": 1}),
        )
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            404,
            r#"{"error":{"message":"Key not found.","type":"not_found_error","param":"key","code":"404"}}"#
        )
    );
    let a = c.admin_post("/key/update", json!({"max_budget": 1})).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            422,
            r#"{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, either key or key_alias must be provided"}]}"#
        )
    );
    let a = c
        .admin_post("/key/update", json!({"key": hash, "budget_duration": "x"}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            r#"{"error":{"message":"{'error': \"Invalid budget_duration 'x'. Use a format like '1h', '24h', '7d', or '30d'.\"}","type":"auth_error","param":"None","code":"400"}}"#
        )
    );
    let a = c
        .admin_post("/key/update", json!({"key": hash, "duration": "soon"}))
        .await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            r#"{"error":{"message":"Authentication Error, Invalid duration format","type":"auth_error","param":"None","code":"400"}}"#
        )
    );
    c.generate(json!({"key_alias": "other"})).await;
    let a = c
        .admin_post("/key/update", json!({"key": hash, "key_alias": "other"}))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"]["param"], "key_alias");
    let a = c
        .admin_post("/key/update", json!({"key": hash, "key_alias": "a"}))
        .await;
    assert_eq!(a.status, 200, "its own alias is no clash");
}

#[tokio::test]
async fn list_pages_hashes_newest_first_and_filters() {
    let double = start().await;
    let c = client(&double);
    let mut hashes = Vec::new();
    for i in 0..5 {
        let body = c
            .generate(json!({"key_alias": format!("k{i}"), "user_id": if i % 2 == 0 { "even" } else { "odd" }}))
            .await;
        hashes.push(body["token"].as_str().unwrap().to_owned());
    }
    hashes.reverse();
    let page = c.admin_get("/key/list?page=1&size=2").await.json();
    assert_eq!(page["keys"], json!(hashes[..2]));
    assert_eq!(page["total_count"], 5);
    assert_eq!(page["total_pages"], 3);
    assert_eq!(page["current_page"], 1);
    let page = c.admin_get("/key/list?page=3&size=2").await.json();
    assert_eq!(page["keys"], json!(hashes[4..]));
    let even = c.admin_get("/key/list?user_id=even").await.json();
    assert_eq!(even["total_count"], 3);
    let one = c
        .admin_get("/key/list?key_alias=k3&return_full_object=true")
        .await
        .json();
    assert_eq!(one["keys"][0]["key_alias"], "k3");
    assert!(one["keys"][0]["token"].is_string());
    let none = c.admin_get("/key/list?key_alias=nope").await.json();
    assert_eq!(
        none,
        json!({"keys": [], "total_count": 0, "current_page": 1, "total_pages": 0})
    );
    let a = c.admin_get("/key/list?size=101").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            422,
            r#"{"detail":[{"type":"less_than_equal","loc":["query","size"],"msg":"Input should be less than or equal to 100"}]}"#
        )
    );
}

#[tokio::test]
async fn version_1_81_ignores_null_for_rate_limits_and_budget_duration_on_update() {
    let double = LiteLlmDouble::start(DoubleConfig::demo().with_version(VersionProfile::V1_81))
        .await
        .unwrap();
    let c = client(&double);
    c.generate(json!({
        "key": CUSTOM, "max_budget": 5, "budget_duration": "30d", "tpm_limit": 100, "rpm_limit": 10,
    }))
    .await;
    let hash = sha256_hex(CUSTOM);
    let a = c
        .admin_post(
            "/key/update",
            json!({"key": hash, "max_budget": null, "budget_duration": null, "tpm_limit": null, "rpm_limit": null}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let stored = double.key(&hash).unwrap();
    assert_eq!(stored.max_budget, None, "max_budget: null still clears");
    assert_eq!(
        (stored.tpm_limit, stored.rpm_limit),
        (Some(100), Some(10)),
        "null ignored"
    );
    assert_eq!(stored.budget_duration.as_deref(), Some("30d"));
    assert!(stored.budget_reset_at.is_some());
    c.admin_post(
        "/key/update",
        json!({"key": hash, "tpm_limit": 2_147_483_647, "rpm_limit": 2_147_483_647}),
    )
    .await;
    let stored = double.key(&hash).unwrap();
    assert_eq!(
        (stored.tpm_limit, stored.rpm_limit),
        (Some(2_147_483_647), Some(2_147_483_647))
    );

    let latest = start().await;
    let c = client(&latest);
    c.generate(json!({"key": CUSTOM, "budget_duration": "30d", "tpm_limit": 100}))
        .await;
    c.admin_post(
        "/key/update",
        json!({"key": hash, "budget_duration": null, "tpm_limit": null}),
    )
    .await;
    let stored = latest.key(&hash).unwrap();
    assert_eq!(
        (
            stored.tpm_limit,
            stored.budget_duration,
            stored.budget_reset_at
        ),
        (None, None, None),
        "1.108 clears on null"
    );
}

#[tokio::test]
async fn update_sets_blocked_and_expiry_explicitly_and_answers_the_row() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": CUSTOM, "duration": "1h"})).await;
    let hash = sha256_hex(CUSTOM);
    let a = c
        .admin_post(
            "/key/update",
            json!({"key": hash, "blocked": true, "duration": "2h"}),
        )
        .await;
    assert_eq!(a.json()["blocked"], true);
    let stored = double.key(&hash).unwrap();
    let left = (stored.expires.unwrap() - chrono::Utc::now()).num_seconds();
    assert!((7190..=7200).contains(&left), "{left}");
    let a = c
        .admin_post(
            "/key/update",
            json!({"key": hash, "blocked": false, "duration": null}),
        )
        .await;
    assert_eq!(a.json()["blocked"], false);
    assert_eq!(a.json()["expires"], serde_json::Value::Null);
    c.admin_post("/key/update", json!({"key": hash, "duration": "1h"}))
        .await;
    c.admin_post("/key/update", json!({"key": hash, "duration": "-1"}))
        .await;
    let stored = double.key(&hash).unwrap();
    assert_eq!((stored.blocked, stored.expires), (Some(false), None));
}

#[tokio::test]
async fn list_pages_full_objects_without_gaps_or_repeats() {
    let double = start().await;
    let c = client(&double);
    for i in 0..25 {
        c.generate(json!({"key_alias": format!("k{i:02}"), "models": ["gpt-4o-mini"]}))
            .await;
    }
    let mut seen = std::collections::BTreeSet::new();
    for page in 1..=3 {
        let a = c
            .admin_get(&format!(
                "/key/list?page={page}&size=10&return_full_object=true"
            ))
            .await
            .json();
        assert_eq!(
            (a["total_count"].clone(), a["total_pages"].clone()),
            (json!(25), json!(3))
        );
        let keys = a["keys"].as_array().unwrap();
        assert_eq!(keys.len(), if page == 3 { 5 } else { 10 });
        for key in keys {
            assert_eq!(key["models"], json!(["gpt-4o-mini"]));
            assert!(seen.insert(key["token"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen.len(), 25);
    let beyond = c.admin_get("/key/list?page=4&size=10").await.json();
    assert_eq!(beyond["keys"], json!([]));
}

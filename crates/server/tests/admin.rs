//! The administration API through the real binary, PostgreSQL and the LiteLLM double: restricted models
//! and approvals, the un-restrict that approves, grants, suspension blocking keys in LiteLLM, revoking
//! someone's key, roles, and the self-service settings applied to keys and subscriptions.

#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

mod common;

use common::{eventually, App};
use keyport_testkit::double::DoubleConfig;
use serde_json::{json, Value};
use std::time::Duration;

const ENV: &[(&str, &str)] = &[
    ("KEYPORT_JOB_POLL_MS", "100"),
    ("KEYPORT_LITELLM_TIMEOUT_SECS", "2"),
    ("KEYPORT_KEY_MAX_LIFETIME_DAYS", "90"),
];

const MODEL: &str = "gpt-4o-mini";
/// An id nothing has.
const UNKNOWN: &str = "018f2c1e-0000-7000-8000-000000000000";

struct Admin {
    app: App,
    root: String,
    alice: String,
    alice_id: String,
}

async fn setup() -> Admin {
    let app = App::start_with_env(DoubleConfig::demo(), ENV).await;
    let root = app.create_user("root", true);
    let alice = app.create_user("alice", false);
    let alice_id = user_id(&app, &root, "alice").await;
    Admin {
        app,
        root,
        alice,
        alice_id,
    }
}

async fn user_id(app: &App, token: &str, username: &str) -> String {
    let (status, page) = app
        .get(token, &format!("/api/v1/admin/users?q={username}"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in {page}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn restrict(a: &Admin, restricted: bool) -> Value {
    let (status, body) = a
        .app
        .patch(
            &a.root,
            &format!("/api/v1/admin/models/{MODEL}"),
            json!({"restricted": restricted}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"]["restricted"], restricted);
    body
}

#[tokio::test]
async fn a_restricted_model_gives_pending_subscriptions_that_a_bulk_approval_makes_usable() {
    let a = setup().await;
    let app = &a.app;
    restrict(&a, true).await;
    let (status, sub) = app
        .post(
            &a.alice,
            "/api/v1/subscriptions",
            json!({"model_id": MODEL}),
        )
        .await;
    assert_eq!(
        (status, sub["status"].as_str()),
        (201, Some("pending")),
        "{sub}"
    );
    let sub_id = sub["id"].as_str().unwrap().to_owned();
    let (status, refused) = app
        .post(
            &a.alice,
            "/api/v1/api-keys",
            json!({"name": "ci", "subscription_ids": [sub_id]}),
        )
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (422, Some("subscription_ids[0]")),
        "{refused}"
    );

    let (status, queue) = app
        .get(
            &a.root,
            &format!("/api/v1/admin/subscriptions?status=pending&model_id={MODEL}"),
        )
        .await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["items"][0]["id"], sub_id.as_str());
    assert_eq!(queue["items"][0]["owner_username"], "alice");

    let unknown = UNKNOWN;
    let (status, decided) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions/approve",
            json!({"ids": [sub_id, unknown]}),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["results"][0]["outcome"], "approved");
    assert_eq!(decided["results"][0]["status"], "active");
    assert_eq!(decided["results"][1]["outcome"], "not_found");
    assert_eq!(
        (decided["succeeded"].as_u64(), decided["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, again) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions/approve",
            json!({"ids": [sub_id]}),
        )
        .await;
    assert_eq!(again["results"][0]["outcome"], "not_pending", "{again}");

    let (_, secret) = app
        .create_key(
            &a.alice,
            json!({"name": "ci", "subscription_ids": [sub_id]}),
        )
        .await;
    assert_eq!(app.chat(&secret, MODEL).await.0, 200);

    let root_id = user_id(app, &a.root, "root").await;
    let (status, history) = app
        .get(
            &a.root,
            &format!("/api/v1/admin/subscriptions/{sub_id}/history"),
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let rows = history["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{history}");
    assert_eq!(
        (rows[0]["from_status"].clone(), rows[0]["to_status"].clone()),
        (Value::Null, json!("pending"))
    );
    assert_eq!(rows[0]["actor_id"], a.alice_id.as_str());
    assert_eq!(
        (rows[1]["from_status"].clone(), rows[1]["to_status"].clone()),
        (json!("pending"), json!("active"))
    );
    assert_eq!(rows[1]["actor_id"], root_id.as_str());
    // Users may not approve, nor read the queue.
    assert_eq!(
        app.post(
            &a.alice,
            "/api/v1/admin/subscriptions/approve",
            json!({"ids": [sub_id]})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.get(&a.alice, "/api/v1/admin/subscriptions").await.0,
        403
    );
}

#[tokio::test]
async fn a_rejection_needs_a_reason_the_user_may_ask_again_and_opening_the_model_approves_the_request(
) {
    let a = setup().await;
    let app = &a.app;
    restrict(&a, true).await;
    let sub_id = app.subscribe(&a.alice, MODEL).await;

    let (status, missing) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions/reject",
            json!({"ids": [sub_id]}),
        )
        .await;
    assert_eq!(
        (status, missing["field"].as_str()),
        (422, Some("reason")),
        "{missing}"
    );
    let (status, blank) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions/reject",
            json!({"ids": [sub_id], "reason": "   "}),
        )
        .await;
    assert_eq!(
        (status, blank["field"].as_str()),
        (422, Some("reason")),
        "{blank}"
    );
    let (status, long) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions/reject",
            json!({"ids": [sub_id], "reason": "x".repeat(501)}),
        )
        .await;
    assert_eq!(
        (status, long["field"].as_str()),
        (422, Some("reason")),
        "{long}"
    );

    let (status, decided) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions/reject",
            json!({"ids": [sub_id], "reason": "not for this project"}),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["results"][0]["outcome"], "rejected");
    let (_, mine) = app
        .get(&a.alice, &format!("/api/v1/subscriptions/{sub_id}"))
        .await;
    assert_eq!(mine["status"], "rejected");
    assert_eq!(mine["status_reason"], "not for this project");

    // Asking again reuses the subscription, pending once more.
    let again = app.subscribe(&a.alice, MODEL).await;
    assert_eq!(again, sub_id);
    let (_, mine) = app
        .get(&a.alice, &format!("/api/v1/subscriptions/{sub_id}"))
        .await;
    assert_eq!(mine["status"], "pending");

    let opened = restrict(&a, false).await;
    assert_eq!(opened["approved_subscription_ids"], json!([sub_id]));
    let (_, mine) = app
        .get(&a.alice, &format!("/api/v1/subscriptions/{sub_id}"))
        .await;
    assert_eq!(mine["status"], "active");
    let (_, history) = app
        .get(
            &a.root,
            &format!("/api/v1/admin/subscriptions/{sub_id}/history"),
        )
        .await;
    let to: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        ["pending", "rejected", "pending", "active"],
        "the history is kept"
    );
}

#[tokio::test]
async fn an_admin_grants_a_restricted_model_at_once_within_the_maximum() {
    let a = setup().await;
    let app = &a.app;
    restrict(&a, true).await;
    let (status, over) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions",
            json!({"user_id": a.alice_id, "model_id": MODEL, "quota": {"rpm_limit": 0}}),
        )
        .await;
    assert_eq!(
        (status, over["field"].as_str()),
        (422, Some("quota.rpm_limit")),
        "{over}"
    );
    let (status, granted) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions",
            json!({"user_id": a.alice_id, "model_id": MODEL, "quota": {"max_budget": "3", "rpm_limit": 5}}),
        )
        .await;
    assert_eq!(status, 201, "{granted}");
    assert_eq!(granted["status"], "active");
    assert_eq!(granted["quota"]["rpm_limit"], 5);
    let (status, twice) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions",
            json!({"user_id": a.alice_id, "model_id": MODEL}),
        )
        .await;
    assert_eq!(
        (status, twice["field"].as_str()),
        (409, Some("model_id")),
        "{twice}"
    );
    let (status, nobody) = app
        .post(
            &a.root,
            "/api/v1/admin/subscriptions",
            json!({"user_id": UNKNOWN, "model_id": MODEL}),
        )
        .await;
    assert_eq!(
        (status, nobody["field"].as_str()),
        (422, Some("user_id")),
        "{nobody}"
    );
    let sub = granted["id"].as_str().unwrap();
    let (_, secret) = app
        .create_key(&a.alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    assert_eq!(app.chat(&secret, MODEL).await.0, 200);
}

#[tokio::test]
async fn suspending_blocks_the_users_keys_in_litellm_and_reactivating_restores_them() {
    let a = setup().await;
    let app = &a.app;
    let sub = app.subscribe(&a.alice, MODEL).await;
    let (_, secret) = app
        .create_key(&a.alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    assert_eq!(app.chat(&secret, MODEL).await.0, 200);

    let (status, suspended) = app
        .post(
            &a.root,
            &format!("/api/v1/admin/users/{}/suspend", a.alice_id),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, suspended["status"].as_str()),
        (200, Some("suspended")),
        "{suspended}"
    );
    assert!(
        eventually(Duration::from_secs(15), || async {
            matches!(app.chat(&secret, MODEL).await.0, 401 | 403)
        })
        .await,
        "the key is blocked in LiteLLM"
    );
    assert_eq!(
        app.get(&a.alice, "/api/v1/api-keys").await.0,
        401,
        "tokens stop too"
    );
    let (status, detail) = app
        .get(&a.root, &format!("/api/v1/admin/users/{}", a.alice_id))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        (detail["status"].as_str(), detail["live_keys"].as_u64()),
        (Some("suspended"), Some(1))
    );

    let root_id = user_id(app, &a.root, "root").await;
    let (status, myself) = app
        .post(
            &a.root,
            &format!("/api/v1/admin/users/{root_id}/suspend"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "nobody suspends themselves: {myself}");

    let (status, _) = app
        .post(
            &a.root,
            &format!("/api/v1/admin/users/{}/reactivate", a.alice_id),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(15), || async {
            app.chat(&secret, MODEL).await.0 == 200
        })
        .await,
        "the key works again"
    );
    assert_eq!(app.get(&a.alice, "/api/v1/api-keys").await.0, 200);
}

#[tokio::test]
async fn an_admin_sees_and_revokes_someone_elses_key() {
    let a = setup().await;
    let app = &a.app;
    let sub = app.subscribe(&a.alice, MODEL).await;
    let (key_id, secret) = app
        .create_key(&a.alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    let (status, keys) = app
        .get(
            &a.root,
            &format!(
                "/api/v1/admin/api-keys?user_id={}&status=active",
                a.alice_id
            ),
        )
        .await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["items"][0]["id"], key_id.as_str());
    assert_eq!(keys["items"][0]["owner_username"], "alice");
    assert!(!keys.to_string().contains(&secret[6..]), "never the secret");
    let (status, bad) = app
        .get(&a.root, "/api/v1/admin/api-keys?user_id=nope")
        .await;
    assert_eq!((status, bad["field"].as_str()), (422, Some("user_id")));
    assert_eq!(app.get(&a.alice, "/api/v1/admin/api-keys").await.0, 403);

    let (status, revoked) = app
        .post(
            &a.root,
            &format!("/api/v1/admin/api-keys/{key_id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, revoked["status"].as_str()),
        (200, Some("revoked")),
        "{revoked}"
    );
    assert_eq!(app.chat(&secret, MODEL).await.0, 401, "deleted in LiteLLM");
    let (_, mine) = app
        .get(&a.alice, &format!("/api/v1/api-keys/{key_id}"))
        .await;
    assert_eq!(mine["status"], "revoked");
}

#[tokio::test]
async fn an_admin_acts_on_someone_elses_key_only_through_the_admin_routes_and_never_sees_its_secret(
) {
    let a = setup().await;
    let app = &a.app;
    let sub = app.subscribe(&a.alice, MODEL).await;
    let (key_id, secret) = app
        .create_key(&a.alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    let mine = format!("/api/v1/api-keys/{key_id}");
    let theirs = format!("/api/v1/admin/api-keys/{key_id}");

    // The member routes act for the owner only: to the administrator, alice's key does not exist there.
    use reqwest::Method;
    for (method, path, body) in [
        (Method::GET, mine.clone(), json!(null)),
        (Method::PATCH, mine.clone(), json!({"name": "taken-over"})),
        (Method::POST, format!("{mine}/rotate"), json!({})),
        (Method::POST, format!("{mine}/revoke"), json!({})),
        (Method::DELETE, mine.clone(), json!(null)),
    ] {
        let (status, problem) = app.send(method.clone(), &a.root, &path, body).await;
        assert_eq!(status, 404, "{method} {path} as an admin: {problem}");
        assert_eq!(problem["type"], "urn:keyport:problem:not-found");
    }
    let (status, key) = app.get(&a.alice, &mine).await;
    assert_eq!(
        (status, key["name"].as_str(), key["status"].as_str()),
        (200, Some("ci"), Some("active")),
        "untouched: {key}"
    );

    // Through /admin: the key with its owner, never its secret.
    let (status, key) = app.get(&a.root, &theirs).await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(
        (key["owner_username"].as_str(), key["user_id"].as_str()),
        (Some("alice"), Some(a.alice_id.as_str()))
    );
    assert_eq!(key["blocked"], false);
    assert!(!key.to_string().contains(&secret[6..]), "never the secret");
    assert_eq!(app.get(&a.alice, &theirs).await.0, 403);

    // Block, with the reason the owner sees; LiteLLM refuses the key at once; no rotation around it.
    let (status, problem) = app
        .post(&a.root, &format!("{theirs}/block"), json!({}))
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("reason")),
        "{problem}"
    );
    assert_eq!(
        app.post(
            &a.alice,
            &format!("{theirs}/block"),
            json!({"reason": "mine"})
        )
        .await
        .0,
        403
    );
    let (status, blocked) = app
        .post(
            &a.root,
            &format!("{theirs}/block"),
            json!({"reason": "leaked in a support ticket"}),
        )
        .await;
    assert_eq!(status, 200, "{blocked}");
    assert_eq!(
        (blocked["blocked"].as_bool(), blocked["status"].as_str()),
        (Some(true), Some("active"))
    );
    assert!(!blocked.to_string().contains(&secret[6..]));
    assert!(
        matches!(app.chat(&secret, MODEL).await.0, 401 | 403),
        "blocked in LiteLLM"
    );
    let (_, seen) = app.get(&a.alice, &mine).await;
    assert_eq!(seen["blocked"], true);
    assert_eq!(seen["block_reason"], "leaked in a support ticket");
    let (status, problem) = app
        .post(&a.alice, &format!("{mine}/rotate"), json!({}))
        .await;
    assert_eq!(status, 409, "a rotation must not lift the block: {problem}");
    let (status, _) = app
        .post(
            &a.root,
            &format!("{theirs}/block"),
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(status, 409, "already blocked");

    let (status, unblocked) = app
        .post(&a.root, &format!("{theirs}/unblock"), json!({}))
        .await;
    assert_eq!(
        (status, unblocked["blocked"].as_bool()),
        (200, Some(false)),
        "{unblocked}"
    );
    assert_eq!(
        app.chat(&secret, MODEL).await.0,
        200,
        "unblocked in LiteLLM"
    );

    // The limits, under the owner's rules; LiteLLM follows.
    let (status, problem) = app
        .put(
            &a.root,
            &format!("{theirs}/limits"),
            json!({"limits": {"rpm_limit": 0}}),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("limits.rpm_limit")),
        "{problem}"
    );
    let (status, limited) = app
        .put(
            &a.root,
            &format!("{theirs}/limits"),
            json!({"limits": {"rpm_limit": 7}, "reason": "fair use"}),
        )
        .await;
    assert_eq!(status, 200, "{limited}");
    assert_eq!(limited["limits"]["rpm_limit"], 7);
    assert_eq!(limited["sync_state"], "synced", "{limited}");
    let remote = app
        .double
        .keys()
        .into_iter()
        .find(|k| k.metadata["keyport_key_id"] == key_id.as_str())
        .unwrap();
    assert_eq!(remote.rpm_limit, Some(7));
    assert_eq!(
        remote.user_id.as_deref(),
        Some(a.alice_id.as_str()),
        "still alice's key in LiteLLM"
    );

    // Revoke, with a reason kept in the audit log.
    let (status, revoked) = app
        .post(
            &a.root,
            &format!("{theirs}/revoke"),
            json!({"reason": "offboarding"}),
        )
        .await;
    assert_eq!(
        (
            status,
            revoked["status"].as_str(),
            revoked["owner_username"].as_str()
        ),
        (200, Some("revoked"), Some("alice")),
        "{revoked}"
    );
    assert_eq!(app.chat(&secret, MODEL).await.0, 401, "deleted in LiteLLM");

    // Every change names the administrator as its actor and alice as the owner.
    let root_id = user_id(app, &a.root, "root").await;
    let (status, audit) = app
        .get(
            &a.root,
            &format!("/api/v1/admin/audit?target_type=api_key&target_id={key_id}&actor={root_id}"),
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let mut actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["after"]["owner"], a.alice_id.as_str(), "{e}");
            e["action"].as_str().unwrap()
        })
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "api_key.block",
            "api_key.revoke",
            "api_key.unblock",
            "api_key.update"
        ]
    );
}

#[tokio::test]
async fn the_cli_blocks_unblocks_and_revokes_a_key_as_the_named_admin() {
    let a = setup().await;
    let app = &a.app;
    let sub = app.subscribe(&a.alice, MODEL).await;
    let (key_id, secret) = app
        .create_key(&a.alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    let mine = format!("/api/v1/api-keys/{key_id}");

    let (ok, _, err) = app.cli(&[
        "admin", "key", "block", &key_id, "--reason", "x", "--by", "alice",
    ]);
    assert!(
        !ok && err.contains("administrators"),
        "only an administrator: {err}"
    );
    let (ok, out, err) = app.cli(&[
        "admin", "key", "block", &key_id, "--reason", "leaked", "--by", "root",
    ]);
    assert!(ok, "{err}");
    assert!(out.is_empty(), "nothing on stdout, never a secret: {out}");
    assert!(err.contains("blocked") && err.contains("alice"), "{err}");
    let (_, key) = app.get(&a.alice, &mine).await;
    assert_eq!(
        (key["blocked"].as_bool(), key["block_reason"].as_str()),
        (Some(true), Some("leaked"))
    );
    assert!(matches!(app.chat(&secret, MODEL).await.0, 401 | 403));

    let (ok, _, err) = app.cli(&["admin", "key", "unblock", &key_id, "--by", "root"]);
    assert!(ok, "{err}");
    assert_eq!(app.chat(&secret, MODEL).await.0, 200);

    let (ok, _, err) = app.cli(&["admin", "key", "revoke", &key_id, "--by", "root"]);
    assert!(ok, "{err}");
    let (_, key) = app.get(&a.alice, &mine).await;
    assert_eq!(key["status"], "revoked");
    assert_eq!(app.chat(&secret, MODEL).await.0, 401);
}

#[tokio::test]
async fn roles_change_but_one_active_admin_always_remains() {
    let a = setup().await;
    let app = &a.app;
    let root_id = user_id(app, &a.root, "root").await;
    let (status, own) = app
        .patch(
            &a.root,
            &format!("/api/v1/admin/users/{root_id}"),
            json!({"roles": ["user"]}),
        )
        .await;
    assert_eq!(
        (status, own["field"].as_str()),
        (409, Some("roles")),
        "{own}"
    );
    let (status, auditor) = app
        .patch(
            &a.root,
            &format!("/api/v1/admin/users/{}", a.alice_id),
            json!({"roles": ["auditor"]}),
        )
        .await;
    assert_eq!(status, 200, "{auditor}");
    assert_eq!(auditor["roles"], json!(["user", "auditor"]));
    // Her token predates the role and has no `admin` scope: through it she is still a plain member, and it
    // cannot make itself a wider token.
    assert_eq!(app.get(&a.alice, "/api/v1/admin/settings").await.0, 403);
    let (status, wider) = app
        .send(
            reqwest::Method::POST,
            &a.alice,
            "/api/v1/access-tokens",
            json!({"name": "wider", "scopes": ["read", "admin"]}),
        )
        .await;
    assert_eq!(
        (status, wider["field"].as_str()),
        (422, Some("scopes[1]")),
        "{wider}"
    );
    let (ok, token, err) = app.cli(&["admin", "create-token", "alice"]);
    assert!(ok, "{err}");
    let alice = token.trim().to_owned();
    // An auditor reads but does not change.
    assert_eq!(
        app.get(&alice, "/api/v1/admin/users?role=admin").await.0,
        200
    );
    assert_eq!(app.get(&alice, "/api/v1/admin/settings").await.0, 200);
    assert_eq!(
        app.patch(
            &alice,
            &format!("/api/v1/admin/users/{root_id}"),
            json!({"roles": ["user"]})
        )
        .await
        .0,
        403
    );
    let (status, bad) = app
        .patch(
            &a.root,
            &format!("/api/v1/admin/users/{}", a.alice_id),
            json!({"roles": ["root"]}),
        )
        .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (422, Some("roles[0]")),
        "{bad}"
    );
    let (status, page) = app.get(&a.root, "/api/v1/admin/users?limit=1").await;
    assert_eq!(status, 200);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .get(
            &a.root,
            &format!("/api/v1/admin/users?limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(
        (
            page["items"][0]["username"].as_str(),
            next["items"][0]["username"].as_str()
        ),
        (Some("alice"), Some("root"))
    );
    let (status, bad) = app.get(&a.root, "/api/v1/admin/users?limit=0").await;
    assert_eq!((status, bad["field"].as_str()), (422, Some("limit")));
}

#[tokio::test]
async fn the_self_service_settings_start_from_the_flags_and_once_saved_cap_keys_and_subscriptions()
{
    let a = setup().await;
    let app = &a.app;
    let (status, initial) = app.get(&a.alice, "/api/v1/settings/self-service").await;
    assert_eq!(status, 200, "{initial}");
    assert_eq!(
        initial["key_max_lifetime_days"], 90,
        "from KEYPORT_KEY_MAX_LIFETIME_DAYS"
    );
    let (_, admin_view) = app.get(&a.root, "/api/v1/admin/settings").await;
    assert_eq!(admin_view["source"], "configuration");
    assert_eq!(app.get(&a.alice, "/api/v1/admin/settings").await.0, 403);

    let (status, bad) = app
        .put(
            &a.root,
            "/api/v1/admin/settings",
            json!({"key_default_lifetime_days": 100, "key_max_lifetime_days": 30}),
        )
        .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (422, Some("key_default_lifetime_days")),
        "{bad}"
    );
    assert_eq!(
        app.put(&a.alice, "/api/v1/admin/settings", json!({}))
            .await
            .0,
        403
    );
    let (status, saved) = app
        .put(
            &a.root,
            "/api/v1/admin/settings",
            json!({
                "subscription_max_quota": {"rpm_limit": 7},
                "key_default_limits": {"rpm_limit": 3},
                "key_max_limits": {"rpm_limit": 5},
                "key_default_lifetime_days": 30,
                "key_max_lifetime_days": 60
            }),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["source"], "stored");
    let (_, seen) = app.get(&a.alice, "/api/v1/settings/self-service").await;
    assert_eq!(seen["key_default_limits"]["rpm_limit"], 3);

    let (status, sub) = app
        .post(
            &a.alice,
            "/api/v1/subscriptions",
            json!({"model_id": MODEL}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    assert_eq!(
        sub["quota"]["rpm_limit"], 7,
        "the subscription quota is capped"
    );
    let sub_id = sub["id"].as_str().unwrap();
    let (status, over) = app
        .post(
            &a.alice,
            "/api/v1/api-keys",
            json!({"name": "ci", "subscription_ids": [sub_id], "limits": {"rpm_limit": 6}}),
        )
        .await;
    assert_eq!(
        (status, over["field"].as_str()),
        (422, Some("limits.rpm_limit")),
        "{over}"
    );
    let (status, created) = app
        .post(
            &a.alice,
            "/api/v1/api-keys",
            json!({"name": "ci", "subscription_ids": [sub_id]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["key"]["limits"]["rpm_limit"], 5,
        "the maximum applies"
    );
    let expires: chrono::DateTime<chrono::Utc> = created["key"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!(
        (29.9..=30.1).contains(&days),
        "the default lifetime: {days} days"
    );
}

#[tokio::test]
async fn admins_see_and_revoke_anyones_tokens_and_cap_how_long_tokens_live() {
    let a = setup().await;
    let app = &a.app;
    let (status, saved) = app
        .put(
            &a.root,
            "/api/v1/admin/settings",
            json!({"token_max_lifetime_days": 30}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["token_max_lifetime_days"], 30);
    for days in [Value::Null, json!(31)] {
        let (status, refused) = app
            .send(
                reqwest::Method::POST,
                &a.alice,
                "/api/v1/access-tokens",
                json!({"name": "long", "scopes": ["read"], "expires_in_days": days}),
            )
            .await;
        assert_eq!(
            (status, refused["field"].as_str()),
            (422, Some("expires_in_days")),
            "{refused}"
        );
    }
    let (status, made) = app
        .send(
            reqwest::Method::POST,
            &a.alice,
            "/api/v1/access-tokens",
            json!({"name": "ci", "scopes": ["read"], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&secret, "/api/v1/models").await.0, 200);

    let path = format!("/api/v1/admin/users/{}/access-tokens", a.alice_id);
    assert_eq!(app.get(&a.alice, &path).await.0, 403);
    let (status, listed) = app.get(&a.root, &path).await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"ci"), "{listed}");
    assert!(!listed.to_string().contains(&secret), "never a secret");

    let (status, revoked) = app
        .send(
            reqwest::Method::POST,
            &a.root,
            &format!("{path}/{}/revoke", made["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, revoked["status"].as_str()),
        (200, Some("revoked")),
        "{revoked}"
    );
    assert_eq!(app.get(&secret, "/api/v1/models").await.0, 401);
}

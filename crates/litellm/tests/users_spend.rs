//! `ensure_user`, `user_info`, `update_user` and `spend_logs` against the LiteLLM double: what LiteLLM
//! stores and answers, what `/v1/chat/completions` then enforces and records, and how every failure of
//! these calls is classified.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "this file's keys need no team of their own")]
mod common;

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use common::{routes, Setup};
use keyport_domain::gateway::{
    Gateway, GatewayUser, GatewayUserUpdate, GenerateKey, SpendPage, SpendQuery,
};
use keyport_domain::ids::{ModelId, UserId};
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::secret::{KeyHash, Secret, SecretKind};
use keyport_domain::testing::{money, secret};
use keyport_domain::GatewayError;
use keyport_litellm::{
    LiteLlmClient, LiteLlmConfig, MasterKey, MAX_SPEND_PAGE_SIZE, UNLIMITED_RATE,
};
use keyport_litellm_double::{DoubleConfig, Fault, LiteLlmDouble, SpendLogRow, VersionProfile};
use serde_json::json;

fn user(email: Option<&str>) -> GatewayUser {
    GatewayUser {
        user_id: UserId::new(),
        email: email.map(str::to_owned),
        alias: Some("Alice".to_owned()),
    }
}

fn limited() -> Limits {
    Limits {
        max_budget: Some(money("12.5")),
        budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
        tpm_limit: Some(1000),
        rpm_limit: Some(60),
    }
}

impl Setup {
    /// A key of `user` created through the adapter; answers its secret.
    async fn key(&self, user: UserId) -> Secret {
        let request = GenerateKey {
            secret: secret(SecretKind::ApiKey),
            alias: format!("k-{}", UserId::new()),
            user_id: user,
            models: vec![
                ModelId::parse("gpt-4o-mini").unwrap(),
                ModelId::parse("meta-llama/Llama-3.1-8B-Instruct").unwrap(),
            ],
            limits: Limits::UNLIMITED,
            expires_in_seconds: None,
            metadata: json!({}),
            team_id: keyport_domain::access::team_id_of(user),
            allowed_routes: routes(),
            spend: None,
        };
        self.client.generate_key(&request).await.unwrap();
        request.secret
    }
}

fn query(page: u32, page_size: u32) -> SpendQuery {
    let now = Utc::now();
    SpendQuery {
        key_hash: None,
        user_id: None,
        start: now - TimeDelta::hours(1),
        end: now + TimeDelta::hours(1),
        page,
        page_size,
    }
}

// --- ensure_user ---------------------------------------------------------------------------------

#[tokio::test]
async fn ensure_user_creates_a_view_only_user_with_no_model_and_no_key_and_is_idempotent() {
    let s = Setup::demo().await;
    let alice = user(Some("alice@example.com"));
    s.client.ensure_user(&alice).await.unwrap();
    s.client.ensure_user(&alice).await.unwrap();
    assert_eq!(s.double.calls_to("/user/new"), 2);
    let stored = s.double.user(&alice.user_id.to_string()).unwrap();
    assert_eq!(stored.user_email.as_deref(), Some("alice@example.com"));
    assert_eq!(stored.user_alias.as_deref(), Some("Alice"));
    assert_eq!(stored.models, [keyport_domain::access::NO_MODELS]);
    assert_eq!(
        stored.user_role.as_deref(),
        Some(keyport_domain::access::GATEWAY_USER_ROLE)
    );
    assert!(s.double.keys().is_empty(), "auto_create_key: false");
    assert_eq!(s.double.users().len(), 1);
}

#[tokio::test]
async fn ensure_user_sends_no_default_models_explicitly_on_every_release() {
    let s = Setup::start(DoubleConfig::demo().with_version(VersionProfile::V1_81)).await;
    let bob = user(None);
    s.client.ensure_user(&bob).await.unwrap();
    assert_eq!(
        s.double.user(&bob.user_id.to_string()).unwrap().models,
        [keyport_domain::access::NO_MODELS]
    );
    let secret = s.key(bob.user_id).await;
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
}

#[tokio::test]
async fn ensure_user_leaves_blank_email_and_alias_out() {
    let s = Setup::demo().await;
    let carol = GatewayUser {
        email: Some("  ".to_owned()),
        alias: Some(String::new()),
        ..user(None)
    };
    s.client.ensure_user(&carol).await.unwrap();
    let stored = s.double.user(&carol.user_id.to_string()).unwrap();
    assert_eq!((stored.user_email, stored.user_alias), (None, None));
}

#[tokio::test]
async fn an_email_held_by_another_user_is_a_conflict_on_user_email() {
    let s = Setup::demo().await;
    s.client
        .ensure_user(&user(Some("Dana@Example.com")))
        .await
        .unwrap();
    let other = user(Some("dana@example.COM"));
    let err = s.client.ensure_user(&other).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Conflict { field, message } if field == "user_email" && message.contains("Dana@Example.com")),
        "{err:?}"
    );
    assert!(s.double.user(&other.user_id.to_string()).is_none());
    assert_eq!(
        s.double.calls_to("/user/new"),
        2,
        "a conflict is not retried"
    );
}

#[tokio::test]
async fn ensure_user_retries_a_lost_answer_and_reads_already_exists_as_success() {
    let s = Setup::demo().await;
    s.double.inject(Fault::CommitThenDrop.on("/user/new"));
    let erin = user(Some("erin@example.com"));
    s.client.ensure_user(&erin).await.unwrap();
    assert_eq!(s.double.calls_to("/user/new"), 2);
    assert_eq!(s.double.users().len(), 1);
}

// --- user_info -----------------------------------------------------------------------------------

#[tokio::test]
async fn user_info_reads_spend_budget_and_the_users_keys() {
    let s = Setup::demo().await;
    let frank = user(Some("frank@example.com"));
    s.client.ensure_user(&frank).await.unwrap();
    s.client
        .update_user(&GatewayUserUpdate {
            user_id: frank.user_id,
            limits: limited(),
        })
        .await
        .unwrap();
    let first = s.key(frank.user_id).await;
    let second = s.key(frank.user_id).await;
    s.key(UserId::new()).await;
    assert_eq!(s.chat(&first, "gpt-4o-mini").await.0, 200);
    assert_eq!(s.chat(&second, "gpt-4o-mini").await.0, 200);
    s.double
        .update_user(&frank.user_id.to_string(), |u| u.spend = 0.1 + 0.2);

    let info = s.client.user_info(frank.user_id).await.unwrap().unwrap();
    assert_eq!(info.user_id, frank.user_id);
    assert_eq!(info.email.as_deref(), Some("frank@example.com"));
    assert_eq!(info.alias.as_deref(), Some("Alice"));
    assert_eq!(info.models, [keyport_domain::access::NO_MODELS]);
    assert_eq!(info.spend, money("0.30000000000000004"));
    assert_eq!(info.max_budget, Some(money("12.5")));
    assert_eq!(info.budget_duration.as_deref(), Some("30d"));
    assert!(info.budget_reset_at.unwrap() > Utc::now());
    assert_eq!((info.tpm_limit, info.rpm_limit), (Some(1000), Some(60)));
    let mut hashes = info.key_hashes.clone();
    hashes.sort();
    let mut expected = vec![first.hash(), second.hash()];
    expected.sort();
    assert_eq!(hashes, expected);
}

#[tokio::test]
async fn chat_charges_the_user_that_user_info_then_reports() {
    let s = Setup::demo().await;
    let gina = user(None);
    s.client.ensure_user(&gina).await.unwrap();
    let secret = s.key(gina.user_id).await;
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    let info = s.client.user_info(gina.user_id).await.unwrap().unwrap();
    assert_eq!(info.spend, money("0.0000135"), "10 × 1.5e-7 + 20 × 6e-7");
}

#[tokio::test]
async fn user_info_is_none_for_an_unknown_user_in_both_profiles() {
    for version in [VersionProfile::V1_108, VersionProfile::V1_81] {
        let s = Setup::start(DoubleConfig::demo().with_version(version)).await;
        assert_eq!(s.client.user_info(UserId::new()).await.unwrap(), None);
    }
}

#[tokio::test]
async fn an_old_release_answering_200_without_a_user_row_reads_as_none() {
    let s = Setup::demo().await;
    s.double.inject(Fault::json(
        200,
        r#"{"user_id":"x","user_info":{"spend":0},"keys":[],"teams":[]}"#,
    ));
    assert_eq!(s.client.user_info(UserId::new()).await.unwrap(), None);
    s.double.inject(Fault::json(
        200,
        r#"{"user_id":null,"user_info":null,"keys":[],"teams":[]}"#,
    ));
    assert_eq!(s.client.user_info(UserId::new()).await.unwrap(), None);
}

// --- update_user ---------------------------------------------------------------------------------

#[tokio::test]
async fn update_user_sets_the_budget_and_limits_that_chat_then_enforces() {
    let s = Setup::demo().await;
    let hank = user(None);
    s.client.ensure_user(&hank).await.unwrap();
    let desired = GatewayUserUpdate {
        user_id: hank.user_id,
        limits: Limits {
            max_budget: Some(money("0.00001")),
            ..limited()
        },
    };
    s.client.update_user(&desired).await.unwrap();
    s.client.update_user(&desired).await.unwrap();
    let stored = s.double.user(&hank.user_id.to_string()).unwrap();
    assert_eq!(stored.max_budget, Some(0.00001));
    assert_eq!(stored.budget_duration.as_deref(), Some("30d"));
    assert_eq!((stored.tpm_limit, stored.rpm_limit), (Some(1000), Some(60)));

    // keyport's keys are team keys, and LiteLLM applies a user's overall budget to personal keys only
    // (`_user_max_budget_check` unless `apply_user_budget_to_team_keys`): per-model pools
    // (`set_user_access`) are what bind them.
    let secret = s.key(hank.user_id).await;
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
}

#[tokio::test]
async fn update_user_back_to_unlimited_lifts_budget_and_rates() {
    let s = Setup::demo().await;
    let ivy = user(None);
    s.client.ensure_user(&ivy).await.unwrap();
    s.client
        .update_user(&GatewayUserUpdate {
            user_id: ivy.user_id,
            limits: limited(),
        })
        .await
        .unwrap();
    s.client
        .update_user(&GatewayUserUpdate {
            user_id: ivy.user_id,
            limits: Limits::UNLIMITED,
        })
        .await
        .unwrap();
    let stored = s.double.user(&ivy.user_id.to_string()).unwrap();
    assert_eq!(stored.max_budget, None, "max_budget: null clears it");
    let unlimited = i64::try_from(UNLIMITED_RATE).unwrap();
    assert_eq!(
        (stored.tpm_limit, stored.rpm_limit),
        (Some(unlimited), Some(unlimited))
    );
    assert_eq!(
        stored.budget_duration.as_deref(),
        Some("30d"),
        "/user/update ignores budget_duration: null (inert without a budget)"
    );
    let info = s.client.user_info(ivy.user_id).await.unwrap().unwrap();
    assert_eq!(
        (info.max_budget, info.tpm_limit, info.rpm_limit),
        (None, None, None),
        "2147483647 reads back as unlimited"
    );
}

#[tokio::test]
async fn update_user_creates_a_user_litellm_does_not_know() {
    let s = Setup::demo().await;
    let id = UserId::new();
    s.client
        .update_user(&GatewayUserUpdate {
            user_id: id,
            limits: limited(),
        })
        .await
        .unwrap();
    let info = s.client.user_info(id).await.unwrap().unwrap();
    assert_eq!(info.max_budget, Some(money("12.5")));
    assert_eq!(info.email, None);
}

#[tokio::test]
async fn update_user_refuses_a_rate_out_of_range_without_a_call() {
    let s = Setup::demo().await;
    let err = s
        .client
        .update_user(&GatewayUserUpdate {
            user_id: UserId::new(),
            limits: Limits {
                tpm_limit: Some(UNLIMITED_RATE),
                ..Limits::UNLIMITED
            },
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::Invalid { field: Some(f), .. } if f == "tpm_limit"),
        "{err:?}"
    );
    assert_eq!(s.double.calls_to("/user/update"), 0);
}

// --- spend_logs ----------------------------------------------------------------------------------

#[tokio::test]
async fn spend_logs_serves_the_chat_calls_with_their_key_model_spend_and_tokens() {
    let s = Setup::demo().await;
    let jo = user(None);
    let secret = s.key(jo.user_id).await;
    assert_eq!(s.chat(&secret, "gpt-4o-mini").await.0, 200);
    assert_eq!(
        s.chat(&secret, "meta-llama/Llama-3.1-8B-Instruct").await.0,
        200
    );
    let page = s.client.spend_logs(&query(1, 10)).await.unwrap();
    assert_eq!((page.total, page.total_pages), (2, 1));
    let logs = s.double.spend_logs();
    let newest = &page.entries[0];
    assert_eq!(newest.request_id, logs[1].request_id);
    assert_eq!(
        newest.model_group.as_deref(),
        Some("meta-llama/Llama-3.1-8B-Instruct")
    );
    assert_eq!(newest.spend, Money::ZERO);
    let oldest = &page.entries[1];
    assert_eq!(oldest.key_hash, Some(secret.hash()));
    assert_eq!(oldest.model.as_deref(), Some("openai/gpt-4o-mini"));
    assert_eq!(oldest.model_group.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(oldest.spend, money("0.0000135"));
    assert_eq!(
        (
            oldest.prompt_tokens,
            oldest.completion_tokens,
            oldest.total_tokens
        ),
        (10, 20, 30)
    );
    assert_eq!(
        oldest.started_at.timestamp_micros(),
        logs[0].start_time.timestamp_micros()
    );
}

#[tokio::test]
async fn spend_logs_filter_by_key_hash_and_user() {
    let s = Setup::demo().await;
    let (kim, lee) = (UserId::new(), UserId::new());
    let a = s.key(kim).await;
    let b = s.key(lee).await;
    s.chat(&a, "gpt-4o-mini").await;
    s.chat(&b, "gpt-4o-mini").await;
    s.chat(&b, "gpt-4o-mini").await;
    let by_key = s
        .client
        .spend_logs(&SpendQuery {
            key_hash: Some(b.hash()),
            ..query(1, 10)
        })
        .await
        .unwrap();
    assert_eq!(by_key.total, 2);
    assert!(by_key.entries.iter().all(|e| e.key_hash == Some(b.hash())));
    let by_user = s
        .client
        .spend_logs(&SpendQuery {
            user_id: Some(kim),
            ..query(1, 10)
        })
        .await
        .unwrap();
    assert_eq!(by_user.total, 1);
    assert_eq!(by_user.entries[0].key_hash, Some(a.hash()));
    let call = s
        .double
        .calls()
        .into_iter()
        .rfind(|c| c.path == "/spend/logs/v2")
        .unwrap();
    assert!(!call.query.contains("sk-"), "the hash, never the secret");
    let with_key = s
        .double
        .calls()
        .into_iter()
        .find(|c| c.path == "/spend/logs/v2" && c.query.contains("api_key="))
        .unwrap();
    assert!(
        with_key.query.contains(b.hash().as_str()),
        "{}",
        with_key.query
    );
}

#[tokio::test]
async fn spend_logs_pages_through_every_row_once() {
    let s = Setup::demo().await;
    let secret = s.key(UserId::new()).await;
    for _ in 0..5 {
        s.chat(&secret, "gpt-4o-mini").await;
    }
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let SpendPage {
            entries,
            total,
            total_pages,
        } = s.client.spend_logs(&query(page, 2)).await.unwrap();
        assert_eq!((total, total_pages), (5, 3));
        seen.extend(entries.into_iter().map(|e| e.request_id));
        if page >= total_pages {
            break;
        }
        page += 1;
    }
    let mut expected: Vec<String> = s
        .double
        .spend_logs()
        .into_iter()
        .rev()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(seen.len(), 5);
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn spend_logs_take_the_window_to_the_second_with_both_ends_included() {
    let s = Setup::demo().await;
    let secret = s.key(UserId::new()).await;
    s.chat(&secret, "gpt-4o-mini").await;
    let template = s.double.spend_logs()[0].clone();
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 8, 30, 0).unwrap();
    for (id, offset) in [("before", -1), ("start", 0), ("end", 60), ("after", 61)] {
        let when = at + TimeDelta::seconds(offset);
        s.double.insert_spend_log(SpendLogRow {
            request_id: id.to_owned(),
            start_time: when,
            end_time: when,
            ..template.clone()
        });
    }
    let page = s
        .client
        .spend_logs(&SpendQuery {
            start: at + TimeDelta::milliseconds(400),
            end: at + TimeDelta::seconds(60) + TimeDelta::milliseconds(900),
            ..query(1, 10)
        })
        .await
        .unwrap();
    let ids: Vec<&str> = page.entries.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["end", "start"]);
    let call = s.double.calls().pop().unwrap();
    assert!(
        call.query.contains("start_date=2026-03-01+08%3A30%3A00")
            && call.query.contains("end_date=2026-03-01+08%3A31%3A00"),
        "{}",
        call.query
    );
}

#[tokio::test]
async fn spend_logs_refuses_bad_pages_and_windows_without_a_call() {
    let s = Setup::demo().await;
    for (bad, field) in [
        (query(0, 10), "page"),
        (query(1, 0), "page_size"),
        (query(1, MAX_SPEND_PAGE_SIZE + 1), "page_size"),
        (
            SpendQuery {
                start: Utc::now(),
                end: Utc::now() - TimeDelta::seconds(1),
                ..query(1, 10)
            },
            "start",
        ),
    ] {
        let err = s.client.spend_logs(&bad).await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Invalid { field: Some(f), .. } if f == field),
            "{err:?}"
        );
    }
    assert_eq!(s.double.calls_to("/spend/logs/v2"), 0);
    s.client
        .spend_logs(&query(1, MAX_SPEND_PAGE_SIZE))
        .await
        .unwrap();
}

#[tokio::test]
async fn spend_rows_without_a_key_hash_or_model_are_read_leniently() {
    let s = Setup::demo().await;
    s.double.inject(Fault::json(
        200,
        r#"{"data":[
            {"request_id":"r1","api_key":"","model":"","model_group":null,"spend":"0.5","prompt_tokens":null,"startTime":"2026-03-01T08:30:00.123000Z"},
            {"request_id":"r2"},
            {"request_id":"r3","api_key":"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789","startTime":"2026-03-01 08:30:00+00:00","total_tokens":7.0}
        ],"total":3,"page":1,"page_size":10}"#,
    ));
    let page = s.client.spend_logs(&query(1, 10)).await.unwrap();
    assert_eq!((page.total, page.total_pages), (3, 1));
    assert_eq!(page.entries.len(), 2, "r2 has no start time");
    let r1 = &page.entries[0];
    assert_eq!(
        (r1.key_hash.as_ref(), &r1.model, &r1.model_group),
        (None, &None, &None)
    );
    assert_eq!(r1.spend, money("0.5"));
    assert_eq!(r1.prompt_tokens, 0);
    let r3 = &page.entries[1];
    assert_eq!(
        r3.key_hash,
        Some(
            KeyHash::parse("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
                .unwrap()
        )
    );
    assert_eq!(r3.total_tokens, 7);
}

// --- errors --------------------------------------------------------------------------------------

/// One call of each new method, against whatever the double answers.
async fn each_call(client: &LiteLlmClient) -> Vec<(&'static str, Result<(), GatewayError>)> {
    let id = UserId::new();
    vec![
        (
            "/user/new",
            client
                .ensure_user(&GatewayUser {
                    user_id: id,
                    email: None,
                    alias: None,
                })
                .await,
        ),
        ("/user/info", client.user_info(id).await.map(drop)),
        (
            "/user/update",
            client
                .update_user(&GatewayUserUpdate {
                    user_id: id,
                    limits: Limits::UNLIMITED,
                })
                .await,
        ),
        (
            "/spend/logs/v2",
            client.spend_logs(&query(1, 10)).await.map(drop),
        ),
    ]
}

#[tokio::test]
async fn a_refused_master_key_is_unauthorized_for_every_call() {
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let client = LiteLlmClient::new(LiteLlmConfig::new(
        double.base_url().parse().unwrap(),
        MasterKey::new("sk-wrong-master-key-000"),
    ))
    .unwrap();
    for (path, outcome) in each_call(&client).await {
        assert_eq!(outcome, Err(GatewayError::Unauthorized), "{path}");
    }
}

#[tokio::test]
async fn every_call_is_retried_through_a_passing_5xx_and_ends_unavailable() {
    let s = Setup::demo().await;
    for path in ["/user/new", "/user/info", "/user/update", "/spend/logs/v2"] {
        s.double.inject(Fault::Status(503).on(path));
    }
    for (path, outcome) in each_call(&s.client).await {
        assert!(outcome.is_ok(), "{path}: {outcome:?}");
        assert_eq!(s.double.calls_to(path), 2, "{path}");
    }
    for path in ["/user/new", "/user/info", "/user/update", "/spend/logs/v2"] {
        s.double.inject(Fault::Status(503).on(path).always());
    }
    for (path, outcome) in each_call(&s.client).await {
        assert!(
            matches!(&outcome, Err(GatewayError::Unavailable(m)) if m.contains("503")),
            "{path}: {outcome:?}"
        );
        assert_eq!(
            s.double.calls_to(path),
            5,
            "{path}: 2 before, then 1 + 2 retries"
        );
    }
}

#[tokio::test]
async fn every_call_classifies_litellms_error_shapes() {
    type Check = Box<dyn Fn(&str, &Result<(), GatewayError>) -> bool>;
    let s = Setup::demo().await;
    let cases: Vec<(Fault, Check)> = vec![
        (
            Fault::json(
                422,
                r#"{"detail":[{"type":"float_parsing","loc":["body","max_budget"],"msg":"Input should be a valid number"}]}"#,
            ),
            Box::new(
                |_, r| matches!(r, Err(GatewayError::Invalid { field: Some(f), .. }) if f == "max_budget"),
            ),
        ),
        (
            Fault::json(
                400,
                r#"{"error":{"message":"{'error': \"Invalid budget_duration 'x'. Use a format like '1h', '24h', '7d', or '30d'.\"}","type":"auth_error","param":"None","code":"400"}}"#,
            ),
            Box::new(
                |_, r| matches!(r, Err(GatewayError::Invalid { field: None, message }) if message.starts_with("Invalid budget_duration 'x'")),
            ),
        ),
        (
            Fault::json(
                403,
                r#"{"error":{"message":"License is over limit.","type":"internal_server_error","param":null,"code":"403"}}"#,
            ),
            Box::new(|_, r| *r == Err(GatewayError::Unauthorized)),
        ),
        (
            Fault::json(
                404,
                r#"{"error":{"message":"Not Found","type":"not_found_error","param":null,"code":"404"}}"#,
            ),
            // `user_info` reads a 404 as "no such user".
            Box::new(|path, r| {
                if path == "/user/info" {
                    r.is_ok()
                } else {
                    *r == Err(GatewayError::NotFound)
                }
            }),
        ),
        (
            Fault::Respond {
                status: 200,
                content_type: "text/plain".to_owned(),
                body: "not json".to_owned(),
            },
            Box::new(|_, r| matches!(r, Err(GatewayError::Unexpected(_)))),
        ),
        (
            Fault::Respond {
                status: 302,
                content_type: "text/plain".to_owned(),
                body: String::new(),
            },
            Box::new(|_, r| matches!(r, Err(GatewayError::Unexpected(_)))),
        ),
    ];
    for (fault, expected) in cases {
        s.double
            .inject(fault.clone().on("/user/").prefix().always());
        s.double.inject(fault.clone().on("/spend/logs/v2").always());
        for (path, outcome) in each_call(&s.client).await {
            assert!(expected(path, &outcome), "{path} {fault:?}: {outcome:?}");
        }
        s.double.clear_faults();
    }
}

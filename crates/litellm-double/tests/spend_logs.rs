//! `GET /spend/logs/v2` (docs/litellm-contract.md#spend-logs): the rows chat calls write, filtered and paged.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{client, sha256_hex, start};
use keyport_litellm_double::SpendLogRow;
use serde_json::{json, Value};

const KEY_A: &str = "sk-spend-logs-key-a-000";
const KEY_B: &str = "sk-spend-logs-key-b-000";

fn window() -> String {
    let now = Utc::now();
    format!(
        "start_date={}&end_date={}",
        (now - Duration::hours(1)).format("%Y-%m-%d%%20%H:%M:%S"),
        (now + Duration::hours(1)).format("%Y-%m-%d%%20%H:%M:%S"),
    )
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["request_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn chat_calls_are_served_newest_first_with_the_row_columns() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY_A, "user_id": "u1"})).await;
    for _ in 0..3 {
        assert_eq!(c.chat(KEY_A, "gpt-4o-mini").await.status, 200);
    }
    let a = c.admin_get(&format!("/spend/logs/v2?{}", window())).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(
        (
            &body["total"],
            &body["page"],
            &body["page_size"],
            &body["total_pages"]
        ),
        (&json!(3), &json!(1), &json!(50), &json!(1))
    );
    let logs = double.spend_logs();
    let newest_first: Vec<String> = logs.iter().rev().map(|r| r.request_id.clone()).collect();
    assert_eq!(ids(&body), newest_first);
    let row = &body["data"][0];
    assert_eq!(row["api_key"], sha256_hex(KEY_A).as_str());
    assert_eq!(row["model"], "openai/gpt-4o-mini");
    assert_eq!(row["model_group"], "gpt-4o-mini");
    assert_eq!(row["user"], "u1");
    assert_eq!(
        (
            &row["prompt_tokens"],
            &row["completion_tokens"],
            &row["total_tokens"]
        ),
        (&json!(10), &json!(20), &json!(30))
    );
    assert_eq!(row["spend"], 10.0 * 1.5e-7 + 20.0 * 6e-7);
    assert!(row["startTime"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(row["status"], "success");
}

#[tokio::test]
async fn filters_by_key_hash_user_and_dates() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY_A, "user_id": "u1"})).await;
    c.generate(json!({"key": KEY_B, "user_id": "u2"})).await;
    c.chat(KEY_A, "gpt-4o-mini").await;
    c.chat(KEY_B, "gpt-4o-mini").await;
    c.chat(KEY_B, "claude-3-5-sonnet").await;
    let w = window();
    let by_hash = c
        .admin_get(&format!("/spend/logs/v2?{w}&api_key={}", sha256_hex(KEY_B)))
        .await
        .json();
    assert_eq!(by_hash["total"], 2);
    let raw = c
        .admin_get(&format!("/spend/logs/v2?{w}&api_key={KEY_B}"))
        .await
        .json();
    assert_eq!(raw["total"], 0, "v2 does not hash a raw key");
    let by_user = c
        .admin_get(&format!("/spend/logs/v2?{w}&user_id=u1"))
        .await
        .json();
    assert_eq!(by_user["total"], 1);
    assert_eq!(by_user["data"][0]["api_key"], sha256_hex(KEY_A).as_str());

    let old = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
    double.insert_spend_log(SpendLogRow {
        request_id: "old".to_owned(),
        start_time: old,
        end_time: old,
        ..double.spend_logs()[0].clone()
    });
    let january = c
        .admin_get("/spend/logs/v2?start_date=2026-01-15%2012:00:00&end_date=2026-01-15%2012:00:00")
        .await
        .json();
    assert_eq!(ids(&january), ["old"], "both bounds are inclusive");
    let before = c
        .admin_get("/spend/logs/v2?start_date=2026-01-01%2000:00:00&end_date=2026-01-15%2011:59:59")
        .await
        .json();
    assert_eq!(before["total"], 0);
}

#[tokio::test]
async fn pages_split_the_rows() {
    let double = start().await;
    let c = client(&double);
    c.generate(json!({"key": KEY_A})).await;
    for _ in 0..5 {
        c.chat(KEY_A, "gpt-4o-mini").await;
    }
    let w = window();
    let mut seen = Vec::new();
    for page in 1..=3 {
        let body = c
            .admin_get(&format!("/spend/logs/v2?{w}&page={page}&page_size=2"))
            .await
            .json();
        assert_eq!(body["total_pages"], 3);
        assert_eq!(body["total"], 5);
        seen.extend(ids(&body));
    }
    assert_eq!(seen.len(), 5);
    let empty = c
        .admin_get(&format!("/spend/logs/v2?{w}&page=4&page_size=2"))
        .await
        .json();
    assert_eq!(empty["data"], json!([]));
    assert_eq!(double.spend_logs().len(), 5);
}

#[tokio::test]
async fn bad_queries_get_litellms_answers() {
    let double = start().await;
    let c = client(&double);
    let a = c.admin_get("/spend/logs/v2").await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"Start date and end date are required","type":"bad_request","param":"None","code":"400"}}"#
    );
    let a = c
        .admin_get("/spend/logs/v2?start_date=2026-01-01&end_date=2026-01-02")
        .await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.body,
        r#"{"error":{"message":"time data '2026-01-01' does not match format '%Y-%m-%d %H:%M:%S'","type":"internal_server_error","param":null,"code":"500"}}"#
    );
    let w = window();
    let a = c
        .admin_get(&format!("/spend/logs/v2?{w}&page_size=1001"))
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.body,
        r#"{"detail":[{"type":"less_than_equal","loc":["query","page_size"],"msg":"Input should be less than or equal to 1000"}]}"#
    );
    let a = c.admin_get(&format!("/spend/logs/v2?{w}&page=0")).await;
    assert_eq!(a.status, 422);
    let a = c.get(&format!("/spend/logs/v2?{w}"), None).await;
    assert_eq!(a.status, 401);
}

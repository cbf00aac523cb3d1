//! Preloading keys without HTTP (`LiteLlmDouble::seed_keys`, `litellm-double --seed-keys FILE`): a seeded
//! key reads like a generated one, a seed is all or nothing, and a large seed pages like any other keys.

mod common;

use common::{client, sha256_hex, start, MASTER};
use keyport_litellm_double::SeedKey;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};

/// `/key/info`'s `info` without what differs between two keys created at different times.
fn comparable(answer: &Value) -> Value {
    let mut info = answer["info"].clone();
    if let Some(fields) = info.as_object_mut() {
        for field in [
            "key_name",
            "key_alias",
            "created_at",
            "updated_at",
            "budget_reset_at",
        ] {
            fields.remove(field);
        }
    }
    info
}

#[tokio::test]
async fn a_seeded_key_reads_like_a_generated_one() {
    let double = start().await;
    let c = client(&double);
    let fields = json!({
        "user_id": "u1", "models": ["gpt-4o-mini"], "max_budget": 25.0, "budget_duration": "30d",
        "tpm_limit": 1000, "rpm_limit": 60, "metadata": {"managed_by": "keyport", "keyport_key_id": "k1"},
    });
    let mut generate = fields.clone();
    generate["key"] = json!("sk-generated-0000001");
    generate["key_alias"] = json!("generated");
    c.generate(generate).await;
    let mut seed = fields;
    seed["key"] = json!("sk-seeded-000000001");
    seed["alias"] = json!("seeded");
    let seed: SeedKey = serde_json::from_value(seed).unwrap();
    assert_eq!(double.seed_keys([seed]).unwrap(), 1);

    let generated = c.admin_get("/key/info?key=sk-generated-0000001").await;
    let seeded = c.admin_get("/key/info?key=sk-seeded-000000001").await;
    assert_eq!(seeded.status, 200, "{}", seeded.body);
    assert_eq!(comparable(&seeded.json()), comparable(&generated.json()));
    let stored = double.key(&sha256_hex("sk-seeded-000000001")).unwrap();
    assert_eq!(stored.key_name, "sk-...0001");
    assert_eq!(stored.alias.as_deref(), Some("seeded"));
    assert!(stored.budget_reset_at.is_some());
}

#[tokio::test]
async fn a_key_seeded_by_hash_keeps_its_hash_limits_expiry_and_spend() {
    let double = start().await;
    let hash = sha256_hex("sk-kp-bench00000001");
    let expires = chrono::DateTime::parse_from_rfc3339("2031-01-02T03:04:05.123456+00:00").unwrap();
    let seed = SeedKey {
        key_hash: Some(hash.clone()),
        alias: Some("keyport-1".into()),
        blocked: Some(true),
        expires: Some(expires.into()),
        spend: Some(1.5),
        ..SeedKey::default()
    };
    double.seed_keys([seed]).unwrap();
    let key = double.key(&hash).unwrap();
    assert_eq!(key.key_name, format!("sk-...{}", &hash[60..]));
    assert_eq!((key.spend, key.total_spend), (1.5, 1.5));
    assert_eq!(key.expires, Some(expires.into()));
    assert!(key.is_blocked());
    assert_eq!(key.metadata, json!({}));
    assert_eq!(key.budget_reset_at, None);
}

#[tokio::test]
async fn a_seed_is_all_or_nothing() {
    let double = start().await;
    client(&double)
        .generate(json!({"key": "sk-existing-00000001", "key_alias": "taken"}))
        .await;
    let key = |raw: &str, alias: &str| SeedKey {
        key: Some(raw.into()),
        alias: Some(alias.into()),
        ..SeedKey::default()
    };
    let refusals = [
        (
            vec![
                key("sk-a-000000000001", "a"),
                key("sk-b-000000000001", "taken"),
            ],
            "alias taken is taken",
        ),
        (
            vec![key("sk-a-000000000001", "a"), key("sk-a-000000000001", "b")],
            "exists already",
        ),
        (
            vec![
                key("sk-a-000000000001", "a"),
                key("sk-existing-00000001", "c"),
            ],
            "exists already",
        ),
        (
            vec![key("sk-a-000000000001", "a"), key("sk-b-000000000001", "a")],
            "alias a is taken",
        ),
        (vec![key("no-sk-prefix-00001", "a")], "must start with sk-"),
        (
            vec![SeedKey {
                key_hash: Some("ABC".into()),
                ..SeedKey::default()
            }],
            "64 lower-case hex",
        ),
        (vec![SeedKey::default()], "exactly one of key and key_hash"),
        (
            vec![SeedKey {
                key: Some("sk-a-000000000001".into()),
                max_budget: Some(-1.0),
                ..SeedKey::default()
            }],
            "max_budget must be a non-negative",
        ),
        (
            vec![SeedKey {
                key: Some("sk-a-000000000001".into()),
                budget_duration: Some("soon".into()),
                ..SeedKey::default()
            }],
            "Invalid budget_duration",
        ),
    ];
    for (keys, expected) in refusals {
        let error = format!("{:#}", double.seed_keys(keys).unwrap_err());
        assert!(error.contains(expected), "{error} should say {expected}");
        assert_eq!(double.keys().len(), 1, "nothing stored after: {error}");
    }
}

#[tokio::test]
async fn json_lines_name_the_bad_line_and_refuse_unknown_fields() {
    let double = start().await;
    let good = "{\"key\": \"sk-a-000000000001\"}\n\n{\"key\": \"sk-b-000000000001\", \"key_alias\": \"b\"}\n";
    assert_eq!(
        double.seed_keys_from_json_lines(good.as_bytes()).unwrap(),
        2
    );
    assert_eq!(
        double
            .key(&sha256_hex("sk-b-000000000001"))
            .unwrap()
            .alias
            .as_deref(),
        Some("b")
    );
    let bad =
        "{\"key\": \"sk-c-000000000001\"}\n{\"key\": \"sk-d-000000000001\", \"modles\": []}\n";
    let error = format!(
        "{:#}",
        double
            .seed_keys_from_json_lines(bad.as_bytes())
            .unwrap_err()
    );
    assert!(
        error.contains("line 2") && error.contains("unknown field `modles`"),
        "{error}"
    );
    assert_eq!(double.keys().len(), 2);
}

#[tokio::test]
async fn five_thousand_seeded_keys_page_through_key_list_without_gaps() {
    let double = start().await;
    let keys = (0..5_000).map(|i| SeedKey {
        key_hash: Some(sha256_hex(&format!("sk-kp-bench{i:08}"))),
        alias: Some(format!("keyport-{i}")),
        models: vec!["gpt-4o-mini".into()],
        metadata: Some(
            json!({"managed_by": "keyport"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..SeedKey::default()
    });
    assert_eq!(double.seed_keys(keys).unwrap(), 5_000);
    let c = client(&double);
    let mut seen = std::collections::HashSet::new();
    for page in 1..=50 {
        let a = c
            .admin_get(&format!(
                "/key/list?page={page}&size=100&return_full_object=true"
            ))
            .await
            .json();
        assert_eq!(
            (a["total_count"].clone(), a["total_pages"].clone()),
            (json!(5_000), json!(50))
        );
        for key in a["keys"].as_array().unwrap() {
            assert!(seen.insert(key["token"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen.len(), 5_000);
    assert!(seen.contains(&sha256_hex("sk-kp-bench00004999")));
}

/// The binary loads `--seed-keys FILE` before it announces its address.
#[tokio::test]
async fn the_binary_seeds_keys_from_a_file() {
    let dir = std::env::temp_dir().join(format!("litellm-double-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.jsonl");
    let mut out = std::fs::File::create(&file).unwrap();
    for i in 0..3 {
        writeln!(
            out,
            "{}",
            json!({"key": format!("sk-file-{i:010}"), "alias": format!("f{i}")})
        )
        .unwrap();
    }
    drop(out);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_litellm-double"))
        .args(["--port", "0", "--master-key", MASTER, "--seed-keys"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().strip_prefix("listening on ").map(str::to_owned);
    let listed = match &base {
        Some(base) => reqwest::Client::new()
            .get(format!("{base}/key/list"))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        None => Value::Null,
    };
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        base.is_some(),
        "no address announced: {line:?}; stderr: {stderr}"
    );
    assert!(stderr.contains("seeded 3 keys from"), "{stderr}");
    assert_eq!(listed["total_count"], 3);
    assert!(listed["keys"]
        .as_array()
        .unwrap()
        .contains(&json!(sha256_hex("sk-file-0000000001"))));
}

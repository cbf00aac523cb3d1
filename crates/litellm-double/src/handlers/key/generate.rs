//! `POST /key/generate` (§3.1): custom keys, alias uniqueness, upsert of a known custom key, an answer that
//! echoes the request.

use super::{alias_taken, budget_duration_problem, max_budget_problem};
use crate::auth::{self, ADMIN_USER_ID};
use crate::duration;
use crate::errors::Failure;
use crate::pyfmt;
use crate::state::{hash_token, KeyRecord, Shared};
use crate::validate::{self, as_bool, as_f64, as_i64, as_str, as_str_list, read, Kind};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

const FIELDS: &[(&str, Kind)] = &[
    ("key", Kind::Str),
    ("key_alias", Kind::Str),
    ("models", Kind::StrList),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("budget_duration", Kind::Str),
    ("duration", Kind::Str),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("max_parallel_requests", Kind::Int),
    ("metadata", Kind::Dict),
    ("user_id", Kind::Str),
    ("team_id", Kind::Str),
    ("blocked", Kind::Bool),
    ("key_type", Kind::Str),
];

/// LiteLLM's `MINIMUM_CUSTOM_KEY_LENGTH`.
const MIN_CUSTOM_KEY_LEN: usize = 16;

fn check_custom_key(key: &str) -> Result<(), Failure> {
    if !key.starts_with("sk-") {
        return Err(Failure::handled(
            400,
            &format!(
                "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: {}",
                pyfmt::mask_secret(key)
            ),
        ));
    }
    if key.chars().count() < MIN_CUSTOM_KEY_LEN {
        return Err(Failure::handled(
            400,
            "Invalid key format. LiteLLM Virtual Key must be at least 16 characters long.",
        ));
    }
    Ok(())
}

/// `"sk-" + secrets.token_urlsafe(16)`: 22 url-safe characters.
pub fn new_raw_key() -> String {
    const URLSAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let chars: String = bytes
        .iter()
        .flat_map(|u| u.as_bytes().to_vec())
        .take(22)
        .map(|b| char::from(URLSAFE[usize::from(b % 64)]))
        .collect();
    format!("sk-{chars}")
}

pub fn key_name(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("sk-...{tail}")
}

pub async fn handle(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    auth::require_admin(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;

    let max_budget = read(&map, "max_budget", as_f64).value();
    if let Some(problem) = max_budget_problem(max_budget) {
        return Err(Failure::handled(400, &problem));
    }
    let budget_duration = read(&map, "budget_duration", as_str).value();
    if let Some(problem) = budget_duration_problem(budget_duration.as_deref()) {
        return Err(Failure::handled(400, &problem));
    }
    let raw = match read(&map, "key", as_str).value() {
        Some(key) => {
            check_custom_key(&key)?;
            key
        }
        None => new_raw_key(),
    };
    let alias = read(&map, "key_alias", as_str).value();
    let expiry = read(&map, "duration", as_str)
        .value()
        .map(|d| duration::parse(&d));
    let hash = hash_token(&raw);

    let (stored, expires) = {
        let mut store = shared.store();
        if let Some(alias) = &alias {
            if store.alias_taken(alias, None) {
                return Err(alias_taken(alias));
            }
        }
        let now = store.next_created_at();
        let expires = match expiry {
            Some(Ok(span)) => Some(span.after(now)),
            Some(Err(e)) => return Err(Failure::handled_plain(500, e.message())),
            None => None,
        };
        // An upsert with an empty update: a known custom key keeps its row untouched.
        let stored = match store.keys.get(&hash) {
            Some(existing) => existing.clone(),
            None => {
                let record = KeyRecord {
                    hash: hash.clone(),
                    key_name: key_name(&raw),
                    alias: alias.clone(),
                    user_id: read(&map, "user_id", as_str).value(),
                    team_id: read(&map, "team_id", as_str).value(),
                    models: read(&map, "models", as_str_list)
                        .value()
                        .unwrap_or_default(),
                    blocked: read(&map, "blocked", as_bool).value(),
                    metadata: map
                        .get("metadata")
                        .cloned()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({})),
                    spend: 0.0,
                    total_spend: 0.0,
                    model_spend: Default::default(),
                    max_budget,
                    soft_budget: read(&map, "soft_budget", as_f64).value(),
                    budget_reset_at: budget_duration
                        .as_deref()
                        .and_then(|d| duration::parse(d).ok())
                        .map(|span| span.next_reset(now)),
                    budget_duration: budget_duration.clone(),
                    tpm_limit: read(&map, "tpm_limit", as_i64).value(),
                    rpm_limit: read(&map, "rpm_limit", as_i64).value(),
                    max_parallel_requests: read(&map, "max_parallel_requests", as_i64).value(),
                    expires,
                    key_type: read(&map, "key_type", as_str)
                        .value()
                        .unwrap_or_else(|| "default".to_owned()),
                    created_by: Some(ADMIN_USER_ID.to_owned()),
                    updated_by: Some(ADMIN_USER_ID.to_owned()),
                    created_at: now,
                    updated_at: now,
                    last_active: None,
                };
                store.keys.insert(hash.clone(), record.clone());
                record
            }
        };
        (stored, expires)
    };
    Ok(HttpResponse::Ok().json(response(&map, &raw, &stored, expires)))
}

/// `GenerateKeyResponse`: the request as sent (pydantic-coerced) with the expiry it asked for, plus the
/// secret and the stored row's identity and times.
fn response(
    request: &Map<String, Value>,
    raw: &str,
    stored: &KeyRecord,
    expires: Option<chrono::DateTime<chrono::Utc>>,
) -> Value {
    let mut out = match json!({
        "key_alias": null, "duration": null, "models": [], "spend": 0.0, "max_budget": null,
        "user_id": null, "team_id": null, "max_parallel_requests": null, "metadata": {},
        "tpm_limit": null, "rpm_limit": null, "budget_duration": null, "allowed_cache_controls": [],
        "soft_budget": null, "config": {}, "permissions": {}, "model_max_budget": {},
        "model_rpm_limit": null, "model_tpm_limit": null, "guardrails": null, "blocked": null,
        "aliases": {}, "key_type": "default", "tags": null, "enforced_params": null,
        "allowed_routes": [], "organization_id": null, "project_id": null, "budget_id": null,
        "litellm_budget_table": null, "created_by": ADMIN_USER_ID, "updated_by": ADMIN_USER_ID,
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (name, value) in request {
        out.insert(name.clone(), value.clone());
    }
    for name in ["max_budget", "soft_budget"] {
        if let Some(v) = read(request, name, as_f64).value() {
            out.insert(name.into(), Value::from(v));
        }
    }
    for name in ["tpm_limit", "rpm_limit", "max_parallel_requests"] {
        if let Some(v) = read(request, name, as_i64).value() {
            out.insert(name.into(), Value::from(v));
        }
    }
    if let Some(v) = read(request, "blocked", as_bool).value() {
        out.insert("blocked".into(), Value::from(v));
    }
    out.insert("key".into(), Value::from(raw));
    out.insert("key_name".into(), Value::from(key_name(raw)));
    out.insert(
        "expires".into(),
        expires.map_or(Value::Null, |t| Value::from(pyfmt::iso_zulu(t))),
    );
    out.insert("token".into(), Value::from(stored.hash.as_str()));
    out.insert("token_id".into(), Value::from(stored.hash.as_str()));
    out.insert(
        "created_at".into(),
        Value::from(pyfmt::iso_zulu(stored.created_at)),
    );
    out.insert(
        "updated_at".into(),
        Value::from(pyfmt::iso_zulu(stored.updated_at)),
    );
    Value::Object(out)
}

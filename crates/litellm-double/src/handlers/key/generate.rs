//! `POST /key/generate` (docs/litellm-contract.md#generating-keys): custom keys, alias uniqueness, upsert of a
//! known custom key, an answer that echoes the request.

use super::{alias_taken, budget_duration_problem, max_budget_problem};
use crate::auth::{self, Caller, ADMIN_USER_ID};
use crate::duration;
use crate::errors::Failure;
use crate::hashing::hash_token;
use crate::pyfmt;
use crate::state::{KeyRecord, Shared};
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
    ("allowed_routes", Kind::StrList),
    ("spend", Kind::Float),
];

/// `LiteLLMKeyType`'s values, in the enum's order (pydantic names them so in its 422).
const KEY_TYPES: &[&str] = &["llm_api", "management", "read_only", "default"];

/// The presets a non-admin may get through `key_type` (`_NON_ADMIN_SAFE_ALLOWED_ROUTES_PRESETS`).
const SAFE_PRESETS: &[&str] = &["llm_api_routes", "info_routes"];

/// `_check_allowed_routes_caller_permission`'s refusal.
pub const ROUTES_ADMIN_ONLY: &str = "Only proxy admins can set `allowed_routes` on a key. Use `key_type` to pick a preset route bucket instead.";

/// `handle_key_type`: the routes a `key_type` preset stores (it overwrites any `allowed_routes` sent).
pub fn preset_routes(key_type: &str) -> Option<Vec<String>> {
    let group = match key_type {
        "llm_api" => "llm_api_routes",
        "management" => "management_routes",
        "read_only" => "info_routes",
        _ => return None,
    };
    Some(vec![group.to_owned()])
}

/// `key_type` checked against `LiteLLMKeyType` (pydantic's 422 `enum` item otherwise).
fn key_type_of(map: &Map<String, Value>) -> Result<String, Failure> {
    match map.get("key_type") {
        None | Some(Value::Null) => Ok("default".to_owned()),
        Some(Value::String(t)) if KEY_TYPES.contains(&t.as_str()) => Ok(t.clone()),
        Some(_) => Err(Failure::validation(vec![crate::errors::DetailItem::body(
            "enum",
            &["key_type"],
            "Input should be 'llm_api', 'management', 'read_only' or 'default'",
        )])),
    }
}

/// What a non-admin caller's `/key/generate` must pass before the key is written, in LiteLLM's order
/// (`generate_key_fn` → `key_generation_check` → `common_key_access_checks` → `handle_key_type`), answering
/// the `user_id` the key gets (the caller's unless sent).
fn check_non_admin(
    map: &Map<String, Value>,
    caller: &KeyRecord,
    key_type: &str,
    store: &crate::state::Store,
) -> Result<Option<String>, Failure> {
    if map.contains_key("allowed_routes") {
        return Err(Failure::handled(403, ROUTES_ADMIN_ONLY));
    }
    let user_id = read(map, "user_id", as_str)
        .value()
        .or_else(|| caller.user_id.clone());
    if let Some(team_id) = read(map, "team_id", as_str).value() {
        let Some(team) = store.teams.get(&team_id) else {
            return Err(Failure::handled_plain(
                400,
                format!("Team not found for team_id={team_id}. Non-admin users cannot create keys for non-existent teams."),
            ));
        };
        for id in [user_id.as_deref(), caller.user_id.as_deref()]
            .into_iter()
            .flatten()
        {
            if !team.has_member(id) {
                return Err(Failure::handled_plain(
                    400,
                    format!("User={id} not assigned to team={team_id}"),
                ));
            }
        }
    }
    if let Some(asked) = &user_id {
        if caller.user_id.as_deref() != Some(asked.as_str()) {
            return Err(Failure::handled_plain(
                403,
                format!(
                    "User can only create keys for themselves. Got user_id={asked}, Your ID={}",
                    caller.user_id.as_deref().unwrap_or("None")
                ),
            ));
        }
    }
    if let Some(routes) = preset_routes(key_type) {
        if !routes.iter().all(|r| SAFE_PRESETS.contains(&r.as_str())) {
            return Err(Failure::handled(403, ROUTES_ADMIN_ONLY));
        }
    }
    Ok(user_id)
}

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
    let caller = auth::authorize(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;
    let key_type = key_type_of(&map)?;

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
        // Who the key is for and who made it: a non-admin mints for itself only.
        let (user_id, creator) = match &caller {
            Caller::Master => (
                read(&map, "user_id", as_str).value(),
                ADMIN_USER_ID.to_owned(),
            ),
            Caller::Virtual(own) => (
                check_non_admin(&map, own, &key_type, &store)?,
                own.user_id.clone().unwrap_or_default(),
            ),
        };
        let allowed_routes = preset_routes(&key_type)
            .or_else(|| read(&map, "allowed_routes", as_str_list).value())
            .unwrap_or_default();
        let spend = read(&map, "spend", as_f64).value().unwrap_or(0.0);
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
                    user_id: user_id.clone(),
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
                    spend,
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
                    key_type: key_type.clone(),
                    allowed_routes,
                    created_by: Some(creator.clone()),
                    updated_by: Some(creator.clone()),
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

/// The request as LiteLLM echoes it, with what it derived: the `user_id` it assigned, the stored routes
/// and type, the creator.
fn echoed(map: &Map<String, Value>, stored: &KeyRecord) -> Map<String, Value> {
    let mut out = map.clone();
    out.insert("user_id".into(), json!(stored.user_id));
    out.insert("key_type".into(), Value::from(stored.key_type.as_str()));
    out.insert("allowed_routes".into(), json!(stored.allowed_routes));
    out.insert("created_by".into(), json!(stored.created_by));
    out.insert("updated_by".into(), json!(stored.updated_by));
    out
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
    for (name, value) in echoed(request, stored) {
        out.insert(name, value);
    }
    for name in ["max_budget", "soft_budget", "spend"] {
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

//! `/user/new`, `/user/info` and `/user/update` (docs/litellm-contract.md#user-and-team-routes): LiteLLM's
//! internal users, the owners of keys whose `max_budget`/`budget_duration`/limits apply across all of them.
//!
//! - `/user/new` checks `budget_duration`, then a taken `user_id` (exact) and a taken `user_email` (trimmed,
//!   case-insensitive), each a 409 through `handle_exception_on_proxy` naming the **stored** value; it
//!   creates a key for the user unless `auto_create_key: false` (the answer's `key` is then `""`). The 1.81
//!   profile gives a user created without `models` the list `["no-default-models"]`
//!   (#traps-seen-in-the-field).
//! - `/user/info` answers the user row, its keys (with `token` and `team_alias: "None"`) and its teams
//!   (none: the double has no teams); an unknown user is 404 `User <id> not found` in both profiles
//!   (#traps-seen-in-the-field: from 1.81 on).
//! - `/user/update` writes only the fields sent with a value: `null`, `[]` and `{}` are dropped (LiteLLM's
//!   `_update_internal_user_params`, so `tpm_limit: null` cannot lift a limit, #traps-seen-in-the-field),
//!   except `max_budget`, whose `null` clears it. Identified by `user_id` it is an upsert (a missing user is
//!   inserted); by `user_email` alone it updates the first user with exactly that email or inserts one with
//!   a new id. Errors are re-typed `auth_error` like `/key/update`'s.

use super::key::generate::{key_name, new_raw_key};
use super::key::{alias_taken, budget_duration_problem, row as key_row};
use super::rows::{opt_time, team_row, time, user_row};
use crate::auth::{self, Caller, ADMIN_USER_ID};
use crate::config::VersionProfile;
use crate::duration;
use crate::errors::{DetailItem, Failure};
use crate::handlers::query_param;
use crate::hashing::hash_token;
use crate::state::{now_micros, KeyRecord, Shared, UserRecord};
use crate::validate::{self, as_bool, as_f64, as_i64, as_str, as_str_list, read, Kind, Patch};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The fields of `NewUserRequest`/`UpdateUserRequest` the double reads (every other field is ignored).
const FIELDS: &[(&str, Kind)] = &[
    ("user_id", Kind::Str),
    ("user_email", Kind::Str),
    ("user_alias", Kind::Str),
    ("user_role", Kind::Str),
    ("max_budget", Kind::Float),
    ("budget_duration", Kind::Str),
    ("models", Kind::StrList),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("max_parallel_requests", Kind::Int),
    ("metadata", Kind::Dict),
    ("spend", Kind::Float),
    ("sso_user_id", Kind::Str),
    ("auto_create_key", Kind::Bool),
    ("send_invite_email", Kind::Bool),
    ("duration", Kind::Str),
    ("key_alias", Kind::Str),
];

/// `CommonProxyErrors.not_premium_user`.
const NOT_PREMIUM: &str = "You must be a LiteLLM Enterprise user to use this feature. If you have a license please set `LITELLM_LICENSE` in your env. Get a 7 day trial key here: https://www.litellm.ai/enterprise#trial. \nPricing: https://www.litellm.ai/#pricing";

/// `user_role` checked against the roles `NewUserRequest`/`UpdateUserRequest` accept (pydantic's 422).
fn check_role(map: &Map<String, Value>) -> Result<(), Failure> {
    match map.get("user_role") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(r)) if crate::state::ROLES.contains(&r.as_str()) => Ok(()),
        Some(_) => Err(Failure::validation(vec![DetailItem::body(
            "literal_error",
            &["user_role"],
            "Input should be 'proxy_admin', 'proxy_admin_viewer', 'internal_user' or 'internal_user_viewer'",
        )])),
    }
}

/// What `/user/new` gives a user created without `models` on 1.81
/// (docs/litellm-contract.md#traps-seen-in-the-field).
pub const NO_DEFAULT_MODELS: &str = "no-default-models";

/// A datetime string as a pydantic response model writes it: `…+00:00` becomes `…Z`.
fn zulu_string(value: &mut Value) {
    if let Value::String(s) = value {
        if let Some(stripped) = s.strip_suffix("+00:00") {
            *s = format!("{stripped}Z");
        }
    }
}

/// A key of the user as `/user/info` lists it: the full row with `token`, `team_alias` (`"None"` for a
/// personal key), datetimes with `Z`.
fn user_key(key: &KeyRecord, version: VersionProfile) -> Map<String, Value> {
    let mut out = key_row(key, version, true);
    for field in [
        "expires",
        "budget_reset_at",
        "created_at",
        "updated_at",
        "last_active",
    ] {
        if let Some(value) = out.get_mut(field) {
            zulu_string(value);
        }
    }
    out.insert("litellm_budget_table".into(), Value::Null);
    let team_alias = if key.team_id.is_some() {
        Value::Null
    } else {
        Value::from("None")
    };
    out.insert("team_alias".into(), team_alias);
    out
}

fn duplicate(what: &str, stored: &str) -> Failure {
    Failure::handled(409, &format!("User with {what} {stored} already exists"))
}

/// The team ids of `teams` (plain ids or `{"team_id": …}` objects).
fn team_ids(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|teams| {
            teams
                .iter()
                .filter_map(|t| {
                    t.as_str()
                        .or_else(|| t.get("team_id").and_then(Value::as_str))
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `POST /user/new`.
pub async fn new(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    auth::require_admin(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;
    check_role(&map)?;
    let budget_duration = read(&map, "budget_duration", as_str).value();
    if let Some(problem) = budget_duration_problem(budget_duration.as_deref()) {
        return Err(Failure::handled(400, &problem));
    }
    let user_id = read(&map, "user_id", as_str)
        .value()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let email = read(&map, "user_email", as_str).value();
    let auto_create_key = read(&map, "auto_create_key", as_bool)
        .value()
        .unwrap_or(true);
    let key_alias = read(&map, "key_alias", as_str).value();
    let key_expiry = read(&map, "duration", as_str)
        .value()
        .map(|d| duration::parse(&d));
    let version = shared.config.version;

    let mut store = shared.store();
    if let Some(existing) = store.users.get(user_id.trim()) {
        return Err(duplicate("id", &existing.user_id));
    }
    if let Some(email) = email.as_deref().filter(|e| !e.trim().is_empty()) {
        if let Some(existing) = store.user_by_email(email) {
            return Err(duplicate(
                "email",
                existing.user_email.as_deref().unwrap_or_default(),
            ));
        }
    }
    if auto_create_key {
        if let Some(alias) = &key_alias {
            if store.alias_taken(alias, None) {
                return Err(alias_taken(alias));
            }
        }
    }
    // `generate_key_helper_fn` → `validate_model_max_budget`: a per-model budget needs a licence on
    // `/user/new` (a ValueError, so a 500 through `handle_exception_on_proxy`); `/user/update` has no such
    // gate.
    if map
        .get("model_max_budget")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
    {
        return Err(Failure::handled_plain(
            500,
            format!(
                "Invalid model_max_budget: You must have an enterprise license to set model_max_budget. {NOT_PREMIUM}. Example of valid model_max_budget: https://docs.litellm.ai/docs/proxy/users"
            ),
        ));
    }
    let now = store.next_created_at();
    let models = match read(&map, "models", as_str_list) {
        Patch::Value(models) => models,
        _ if version == VersionProfile::V1_81 => vec![NO_DEFAULT_MODELS.to_owned()],
        _ => Vec::new(),
    };
    let user = UserRecord {
        user_email: email,
        user_alias: read(&map, "user_alias", as_str).value(),
        user_role: read(&map, "user_role", as_str).value(),
        models,
        spend: read(&map, "spend", as_f64).value().unwrap_or(0.0),
        max_budget: read(&map, "max_budget", as_f64).value(),
        budget_reset_at: budget_duration
            .as_deref()
            .and_then(|d| duration::parse(d).ok())
            .map(|span| span.next_reset(now)),
        budget_duration,
        tpm_limit: read(&map, "tpm_limit", as_i64).value(),
        rpm_limit: read(&map, "rpm_limit", as_i64).value(),
        max_parallel_requests: read(&map, "max_parallel_requests", as_i64).value(),
        metadata: map
            .get("metadata")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({})),
        teams: team_ids(map.get("teams")),
        sso_user_id: read(&map, "sso_user_id", as_str).value(),
        ..UserRecord::new(user_id.clone(), now)
    };

    // The stray key LiteLLM creates unless told not to (docs/litellm-contract.md#creating-users).
    let mut raw_key = String::new();
    let mut expires = None;
    if auto_create_key {
        expires = match key_expiry {
            Some(Ok(span)) => Some(span.after(now)),
            Some(Err(e)) => return Err(Failure::handled_plain(500, e.message())),
            None => None,
        };
        raw_key = new_raw_key();
        let hash = hash_token(&raw_key);
        store.keys.insert(
            hash.clone(),
            KeyRecord {
                hash,
                key_name: key_name(&raw_key),
                alias: key_alias.clone(),
                user_id: Some(user_id.clone()),
                team_id: None,
                models: user.models.clone(),
                blocked: None,
                metadata: json!({}),
                spend: 0.0,
                total_spend: 0.0,
                model_spend: Default::default(),
                max_budget: None,
                soft_budget: None,
                budget_duration: None,
                budget_reset_at: None,
                tpm_limit: None,
                rpm_limit: None,
                max_parallel_requests: None,
                expires,
                key_type: "default".to_owned(),
                allowed_routes: Vec::new(),
                created_by: Some(ADMIN_USER_ID.to_owned()),
                updated_by: Some(ADMIN_USER_ID.to_owned()),
                created_at: now,
                updated_at: now,
                last_active: None,
            },
        );
    }
    store.users.insert(user_id.clone(), user.clone());
    drop(store);

    // `NewUserResponse`: a pydantic response model (datetimes with `Z`).
    Ok(HttpResponse::Ok().json(json!({
        "key_alias": if auto_create_key { key_alias } else { None },
        "duration": read(&map, "duration", as_str).value(),
        "models": user.models,
        "spend": user.spend,
        "max_budget": user.max_budget,
        "user_id": user.user_id,
        "team_id": null,
        "max_parallel_requests": user.max_parallel_requests,
        "metadata": user.metadata,
        "tpm_limit": user.tpm_limit,
        "rpm_limit": user.rpm_limit,
        "budget_duration": user.budget_duration,
        "allowed_cache_controls": [],
        "soft_budget": null,
        "config": {},
        "permissions": {},
        "model_max_budget": {},
        "model_rpm_limit": null,
        "model_tpm_limit": null,
        "guardrails": null,
        "blocked": null,
        "aliases": {},
        "key": raw_key,
        "key_name": if auto_create_key { Some(key_name(&raw_key)) } else { None },
        "expires": opt_time(expires, true),
        "token_id": null,
        "user_email": user.user_email,
        "user_role": user.user_role,
        "teams": user.teams,
        "user_alias": user.user_alias,
        "sso_user_id": user.sso_user_id,
        "budget_reset_at": opt_time(user.budget_reset_at, true),
        "created_at": time(user.created_at, true),
        "updated_at": time(user.updated_at, true),
    })))
}

/// `GET /user/info?user_id=`.
pub async fn info(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let asked = query_param(&req, "user_id");
    let version = shared.config.version;
    let mut store = shared.store();
    store.reset_due_budgets(now_micros());
    let user_id = match (&caller, asked) {
        (Caller::Virtual(key), Some(asked)) => {
            if key.user_id.as_deref() != Some(asked.as_str()) {
                return Err(Failure::handled_plain(
                    403,
                    format!(
                        "key not allowed to access this user's info. user_id={asked}, key's user_id={}",
                        key.user_id.as_deref().unwrap_or("None")
                    ),
                ));
            }
            asked
        }
        (Caller::Virtual(key), None) => key.user_id.clone().unwrap_or_default(),
        (Caller::Master, Some(asked)) => asked,
        // The admin's summary: its own row (if any), every key, every team.
        (Caller::Master, None) => {
            let mut keys: Vec<&KeyRecord> = store
                .keys
                .values()
                .filter(|k| k.team_id.as_deref() != Some("litellm-dashboard"))
                .collect();
            keys.sort_by_key(|k| k.created_at);
            let keys: Vec<Value> = keys
                .into_iter()
                .map(|k| Value::Object(user_key(k, version)))
                .collect();
            let own = store
                .users
                .get(ADMIN_USER_ID)
                .map(|u| Value::Object(user_row(u, true)));
            return Ok(HttpResponse::Ok().json(json!({
                "user_id": ADMIN_USER_ID,
                "user_info": own,
                "keys": keys,
                "teams": [],
            })));
        }
    };
    let Some(user) = store.users.get(&user_id) else {
        return Err(Failure::handled_plain(
            404,
            format!("User {user_id} not found"),
        ));
    };
    let mut keys: Vec<&KeyRecord> = store
        .keys
        .values()
        .filter(|k| k.user_id.as_deref() == Some(user_id.as_str()))
        .filter(|k| k.team_id.as_deref() != Some("litellm-dashboard"))
        .collect();
    keys.sort_by_key(|k| k.created_at);
    let keys: Vec<Value> = keys
        .into_iter()
        .map(|k| Value::Object(user_key(k, version)))
        .collect();
    let mut row = user_row(user, true);
    row.insert(
        "model_max_budget_usage".into(),
        crate::budgets::usage(&store, &user_id, &user.model_max_budget, now_micros()),
    );
    let teams: Vec<Value> = user
        .teams
        .iter()
        .filter_map(|t| store.teams.get(t))
        .map(|t| Value::Object(team_row(t)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "user_id": user_id,
        "user_info": row,
        "keys": keys,
        "teams": teams,
    })))
}

/// A value `/user/update` writes: present and neither `null`, `[]` nor `{}`.
fn sent(map: &Map<String, Value>, field: &str) -> bool {
    match map.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(fields)) => !fields.is_empty(),
        Some(_) => true,
    }
}

/// `POST /user/update`.
pub async fn update(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    auth::require_admin(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;
    check_role(&map)?;
    let user_id = read(&map, "user_id", as_str).value();
    let email = read(&map, "user_email", as_str).value();
    if user_id.is_none() && email.is_none() {
        return Err(Failure::validation(vec![DetailItem::model_value_error(
            "Either user_id or user_email must be provided",
        )]));
    }
    if sent(&map, "budget_duration") {
        let value = read(&map, "budget_duration", as_str).value();
        if let Some(problem) = budget_duration_problem(value.as_deref()) {
            return Err(Failure::update_wrapped(400, &problem));
        }
    }
    if let Some(problem) = map
        .get("model_max_budget")
        .filter(|v| !v.is_null())
        .and_then(crate::budgets::shape_problem)
    {
        return Err(Failure::proxy(
            400,
            "auth_error",
            problem,
            crate::errors::Param::NoneString,
        ));
    }

    let now = now_micros();
    let mut store = shared.store();
    let (id, insert_by_email) = match (user_id.filter(|id| !id.is_empty()), email) {
        (Some(id), _) => (id, false),
        (None, Some(email)) => {
            let mut found: Vec<&UserRecord> = store
                .users
                .values()
                .filter(|u| u.user_email.as_deref() == Some(email.as_str()))
                .collect();
            found.sort_by_key(|u| u.created_at);
            match found.first() {
                Some(user) => (user.user_id.clone(), false),
                None => (uuid::Uuid::new_v4().to_string(), true),
            }
        }
        (None, None) => {
            return Err(Failure::update_plain(
                "Either user_id or user_email must be provided",
            ))
        }
    };
    let user = store.users.entry(id.clone()).or_insert_with(|| {
        let mut user = UserRecord::new(id.clone(), now);
        if insert_by_email {
            user.user_email = read(&map, "user_email", as_str).value();
        }
        user
    });
    apply(user, &map, now);
    let row = user_row(user, false);
    if insert_by_email {
        return Ok(HttpResponse::Ok().json(row));
    }
    Ok(HttpResponse::Ok().json(json!({"user_id": id, "data": row})))
}

/// Writes the fields `/user/update` keeps (see the module docs).
fn apply(user: &mut UserRecord, map: &Map<String, Value>, now: DateTime<Utc>) {
    if map.contains_key("max_budget") {
        user.max_budget = read(map, "max_budget", as_f64).value();
    }
    let text = |field: &str| sent(map, field).then(|| read(map, field, as_str).value());
    let int = |field: &str| sent(map, field).then(|| read(map, field, as_i64).value());
    if let Some(v) = text("user_email") {
        user.user_email = v;
    }
    if let Some(v) = text("user_alias") {
        user.user_alias = v;
    }
    if let Some(v) = text("user_role") {
        user.user_role = v;
    }
    if let Some(v) = text("sso_user_id") {
        user.sso_user_id = v;
    }
    if let Some(v) = int("tpm_limit") {
        user.tpm_limit = v;
    }
    if let Some(v) = int("rpm_limit") {
        user.rpm_limit = v;
    }
    if let Some(v) = int("max_parallel_requests") {
        user.max_parallel_requests = v;
    }
    if sent(map, "models") {
        if let Patch::Value(models) = read(map, "models", as_str_list) {
            user.models = models;
        }
    }
    if sent(map, "metadata") {
        if let Some(metadata) = map.get("metadata") {
            user.metadata = metadata.clone();
        }
    }
    if sent(map, "spend") {
        if let Some(spend) = read(map, "spend", as_f64).value() {
            user.spend = spend;
        }
    }
    // Sent at all (even `{}` or `null`, read as `{}`), `model_max_budget` replaces the stored one whole.
    if let Some(budgets) = map.get("model_max_budget") {
        user.model_max_budget = budgets.as_object().cloned().unwrap_or_default();
    }
    if sent(map, "teams") {
        user.teams = team_ids(map.get("teams"));
    }
    if let Some(Some(window)) = text("budget_duration") {
        user.budget_reset_at = duration::parse(&window)
            .ok()
            .map(|span| span.next_reset(now));
        user.budget_duration = Some(window);
    }
    user.updated_at = now;
}

/// `GET /user/list` (`get_users`): `role`, `user_ids` (comma-separated; a **single** id is matched as a
/// case-insensitive substring, Prisma's `contains`, several ids exactly), `page` ≥ 1, `page_size` 1..=100
/// (FastAPI's 422 outside), newest first; each user with its `key_count`. A self-managed route: the handler
/// lets only proxy admins (and organisation admins, which the double has none of) list users.
pub async fn list(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let pairs = crate::handlers::query_pairs(&req);
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut errors = Vec::new();
    let page = crate::handlers::int_param(param("page"), "page", 1, None, &mut errors);
    let page_size =
        crate::handlers::int_param(param("page_size"), "page_size", 25, Some(100), &mut errors);
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    if let Caller::Virtual(_) = caller {
        return Err(Failure::handled(
            403,
            "Only proxy admins and organization admins can list users.",
        ));
    }
    let ids: Vec<String> = param("user_ids")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let role = param("role").filter(|r| !r.is_empty());
    let store = shared.store();
    let mut users: Vec<&UserRecord> = store
        .users
        .values()
        .filter(|u| role.is_none_or(|r| u.user_role.as_deref() == Some(r)))
        .filter(|u| match ids.as_slice() {
            [] => true,
            [one] => u.user_id.to_lowercase().contains(&one.to_lowercase()),
            many => many.contains(&u.user_id),
        })
        .collect();
    users.sort_by_key(|u| std::cmp::Reverse(u.created_at));
    let total = users.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let listed: Vec<Value> = users
        .into_iter()
        .skip(skip)
        .take(usize::try_from(page_size).unwrap_or(100))
        .map(|u| {
            let mut row = user_row(u, true);
            let count = store
                .keys
                .values()
                .filter(|k| k.user_id.as_deref() == Some(u.user_id.as_str()))
                .count();
            row.insert("key_count".into(), Value::from(count));
            Value::Object(row)
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "users": listed,
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total.div_ceil(page_size),
    })))
}

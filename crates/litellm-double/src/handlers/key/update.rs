//! `POST /key/update` (docs/litellm-contract.md#updating-keys): a merge patch on one key, identified by `key`
//! (raw or hash) or, failing that, by a `key_alias` that names exactly one key. `metadata` replaces the stored
//! object whole. 1.108.7 clears a column on an explicit `null`; the 1.81 profile ignores `null` for the fields
//! in [`NULL_IGNORED_BY_1_81`] (docs/litellm-contract.md#traps-seen-in-the-field), so "unlimited" cannot be
//! restored that way there.

use super::{alias_taken, budget_duration_problem, max_budget_problem, row};
use crate::auth::{self, Caller, ADMIN_USER_ID};
use crate::config::VersionProfile;
use crate::duration;
use crate::errors::{DetailItem, Failure, Param};
use crate::hashing::hash_if_needed;
use crate::state::{now_micros, KeyRecord, Shared};
use crate::validate::{self, as_bool, as_f64, as_i64, as_str, as_str_list, read, Kind, Patch};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value};

const FIELDS: &[(&str, Kind)] = &[
    ("key", Kind::Str),
    ("key_alias", Kind::Str),
    ("models", Kind::StrList),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("spend", Kind::Float),
    ("budget_duration", Kind::Str),
    ("duration", Kind::Str),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("max_parallel_requests", Kind::Int),
    ("metadata", Kind::Dict),
    ("user_id", Kind::Str),
    ("team_id", Kind::Str),
    ("blocked", Kind::Bool),
    ("allowed_routes", Kind::StrList),
];

/// `_check_key_admin_access`'s refusal, re-typed by `/key/update`.
fn key_admin_only(route: &str, role: &str, user_id: Option<&str>) -> Failure {
    Failure::update_wrapped(
        403,
        &format!(
            "Only proxy admins, team admins, or org admins can call {route}. user_role={role}, user_id={}",
            user_id.unwrap_or("None")
        ),
    )
}

/// What a non-admin may change on `key` (`_validate_update_key_data`): a key it minted itself and still
/// owns (or a key of a team it belongs to), and then nothing touching the budget; an `allowed_routes`
/// change only between the safe presets; never another owner or a team that does not exist.
fn check_non_admin(
    map: &Map<String, Value>,
    key: &KeyRecord,
    caller: &KeyRecord,
    role: &str,
    store: &crate::state::Store,
) -> Result<(), Failure> {
    let me = caller.user_id.as_deref();
    if map.contains_key("allowed_routes") {
        let wanted = read(map, "allowed_routes", as_str_list)
            .value()
            .unwrap_or_default();
        let safe = |routes: &[String]| {
            !routes.is_empty()
                && routes
                    .iter()
                    .all(|r| r == "llm_api_routes" || r == "info_routes")
        };
        // `_is_safe_preset_route_transition`: between safe presets, and a read-only key stays read-only.
        let read_only = key.allowed_routes == ["info_routes"];
        if !(safe(&wanted)
            && safe(&key.allowed_routes)
            && (!read_only || wanted == key.allowed_routes))
        {
            return Err(Failure::update_wrapped(
                403,
                super::generate::ROUTES_ADMIN_ONLY,
            ));
        }
    }
    if let Some(user_id) = map.get("user_id") {
        match user_id.as_str().filter(|id| !id.is_empty()) {
            None => {
                return Err(Failure::proxy(
                    403,
                    "auth_error",
                    "Non-admin users cannot remove the user_id from a key.",
                    Param::NoneString,
                ))
            }
            Some(id) if Some(id) != key.user_id.as_deref() => {
                return Err(Failure::proxy(
                    403,
                    "auth_error",
                    format!(
                    "Non-admin caller is not allowed to rebind the key from user={} to user={id}",
                    key.user_id.as_deref().unwrap_or("None")
                ),
                    Param::NoneString,
                ))
            }
            Some(_) => {}
        }
    }
    let budget_change = read(map, "max_budget", as_f64)
        .value()
        .is_some_and(|b| Some(b) != key.max_budget)
        || read(map, "spend", as_f64).value().is_some()
        || map.contains_key("soft_budget");
    let creator = me.is_some() && key.created_by.as_deref() == me && key.user_id.as_deref() == me;
    let team = key.team_id.as_deref().and_then(|t| store.teams.get(t));
    let member = team.is_some_and(|t| me.is_some_and(|id| t.has_member(id)));
    if !((creator || member) && !budget_change) {
        let team_admin = team.is_some_and(|t| {
            t.members_with_roles
                .iter()
                .any(|m| m.user_id.as_deref() == me && m.role == "admin")
        });
        if !team_admin {
            let route = if budget_change {
                "/key/update (max_budget/spend)"
            } else {
                "/key/update"
            };
            return Err(key_admin_only(route, role, me));
        }
    }
    if let Some(team_id) = read(map, "team_id", as_str).value() {
        if !store.teams.contains_key(&team_id) {
            return Err(Failure::update_wrapped(
                400,
                &format!("Team not found for team_id={team_id}. Non-admin users cannot set keys to non-existent teams."),
            ));
        }
    }
    Ok(())
}

/// Fields whose explicit `null` LiteLLM 1.81 ignores on update (the stored value stays), per the field
/// notes of the portal that ran on it (docs/litellm-contract.md#traps-seen-in-the-field).
pub const NULL_IGNORED_BY_1_81: &[&str] = &["tpm_limit", "rpm_limit", "budget_duration"];

fn set<T>(slot: &mut Option<T>, patch: Patch<T>) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *slot = None,
        Patch::Value(v) => *slot = Some(v),
    }
}

pub async fn handle(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let role = match &caller {
        Caller::Master => "proxy_admin".to_owned(),
        Caller::Virtual(own) => auth::caller_role(&shared, own),
    };
    let mut map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;
    if shared.config.version == VersionProfile::V1_81 {
        for field in NULL_IGNORED_BY_1_81 {
            if map.get(*field).is_some_and(Value::is_null) {
                map.remove(*field);
            }
        }
    }
    let by_key = read(&map, "key", as_str).value();
    let alias = read(&map, "key_alias", as_str);
    if by_key.is_none() && !matches!(alias, Patch::Value(_)) {
        return Err(Failure::validation(vec![DetailItem::model_value_error(
            "either key or key_alias must be provided",
        )]));
    }

    let mut store = shared.store();
    let hash = match &by_key {
        Some(key) => {
            let hash = hash_if_needed(key);
            if !store.keys.contains_key(&hash) {
                return Err(Failure::proxy(
                    404,
                    "not_found_error",
                    "Key not found.",
                    Param::Field("key".to_owned()),
                ));
            }
            hash
        }
        None => {
            let name = alias.clone().value().unwrap_or_default();
            let matches: Vec<String> = store
                .keys
                .values()
                .filter(|k| k.alias.as_deref() == Some(name.as_str()))
                .map(|k| k.hash.clone())
                .collect();
            match matches.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(Failure::proxy(
                        404,
                        "not_found_error",
                        format!("Key not found. No key with key_alias='{name}'."),
                        Param::Field("key_alias".to_owned()),
                    ))
                }
                _ => {
                    return Err(Failure::proxy(
                        400,
                        "bad_request_error",
                        format!("Multiple keys share key_alias='{name}', so it cannot be used as an identifier."),
                        Param::Field("key_alias".to_owned()),
                    ))
                }
            }
        }
    };

    let max_budget = read(&map, "max_budget", as_f64);
    if let Some(problem) = max_budget_problem(max_budget.clone().value()) {
        return Err(Failure::update_wrapped(400, &problem));
    }
    let budget_duration = read(&map, "budget_duration", as_str);
    if let Some(problem) = budget_duration_problem(budget_duration.clone().value().as_deref()) {
        return Err(Failure::update_wrapped(400, &problem));
    }
    let now = now_micros();
    let expires = match read(&map, "duration", as_str) {
        Patch::Absent => Patch::Absent,
        Patch::Null => Patch::Null,
        Patch::Value(d) if d == "-1" => Patch::Null,
        Patch::Value(d) => match duration::parse(&d) {
            Ok(span) => Patch::Value(span.after(now)),
            Err(e) => return Err(Failure::update_plain(&e.message())),
        },
    };
    if by_key.is_some() {
        if let Patch::Value(new_alias) = &alias {
            if store.alias_taken(new_alias, Some(&hash)) {
                return Err(alias_taken(new_alias));
            }
        }
    }

    if let Some(existing) = store.keys.get(&hash) {
        match &caller {
            Caller::Virtual(own) => check_non_admin(&map, existing, own, &role, &store)?,
            Caller::Master => {
                // `get_team_object` for the team the key would belong to: the admin may name any team
                // that exists.
                if let Some(team_id) = read(&map, "team_id", as_str).value() {
                    if !store.teams.contains_key(&team_id) {
                        return Err(Failure::update_wrapped(
                            404,
                            &format!("Team doesn't exist in db. Team={team_id}. Create team via `/team/new` call."),
                        ));
                    }
                }
            }
        }
    }
    let editor = match &caller {
        Caller::Master => ADMIN_USER_ID.to_owned(),
        Caller::Virtual(own) => own.user_id.clone().unwrap_or_default(),
    };
    let Some(key) = store.keys.get_mut(&hash) else {
        return Err(Failure::Unhandled);
    };
    if by_key.is_some() {
        set(&mut key.alias, alias);
    }
    apply(key, &map, max_budget, budget_duration, expires, now);
    key.updated_by = Some(editor);
    let mut body = Map::new();
    body.insert(
        "key".into(),
        Value::from(by_key.unwrap_or_else(|| hash.clone())),
    );
    body.extend(row(key, shared.config.version, true));
    Ok(HttpResponse::Ok().json(body))
}

fn apply(
    key: &mut KeyRecord,
    map: &Map<String, Value>,
    max_budget: Patch<f64>,
    budget_duration: Patch<String>,
    expires: Patch<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) {
    match read(map, "models", as_str_list) {
        Patch::Absent => {}
        Patch::Null => key.models.clear(),
        Patch::Value(models) => key.models = models,
    }
    match map.get("metadata") {
        None => {}
        Some(Value::Object(m)) => key.metadata = Value::Object(m.clone()),
        Some(_) => key.metadata = Value::Object(Map::new()),
    }
    set(&mut key.max_budget, max_budget);
    set(&mut key.soft_budget, read(map, "soft_budget", as_f64));
    set(&mut key.tpm_limit, read(map, "tpm_limit", as_i64));
    set(&mut key.rpm_limit, read(map, "rpm_limit", as_i64));
    set(
        &mut key.max_parallel_requests,
        read(map, "max_parallel_requests", as_i64),
    );
    set(&mut key.user_id, read(map, "user_id", as_str));
    set(&mut key.team_id, read(map, "team_id", as_str));
    set(&mut key.blocked, read(map, "blocked", as_bool));
    match read(map, "allowed_routes", as_str_list) {
        Patch::Absent => {}
        Patch::Null => key.allowed_routes.clear(),
        Patch::Value(routes) => key.allowed_routes = routes,
    }
    set(&mut key.expires, expires);
    match budget_duration {
        Patch::Absent => {}
        Patch::Null => {
            key.budget_duration = None;
            key.budget_reset_at = None;
        }
        Patch::Value(d) => {
            let due = key.budget_reset_at.is_some_and(|at| at <= now);
            // Re-sending the stored window while its reset is due keeps the reset time for the reset job.
            if !(due && key.budget_duration.as_deref() == Some(d.as_str())) {
                key.budget_reset_at = duration::parse(&d).ok().map(|span| span.next_reset(now));
            }
            key.budget_duration = Some(d);
        }
    }
    if let Patch::Value(spend) = read(map, "spend", as_f64) {
        key.spend = spend;
    }
    key.updated_at = now;
    key.updated_by = Some(ADMIN_USER_ID.to_owned());
}

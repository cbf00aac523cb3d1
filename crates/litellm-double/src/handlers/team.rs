//! `/team/new`, `/team/info`, `/team/update` and `/team/member_add` (team_endpoints.py), as far as keyport
//! uses teams: one team per keyport user, whose metadata carries the per-model rate pools
//! (`model_rpm_limit`/`model_tpm_limit`, enforced on inference as `model_per_team`).
//!
//! - `/team/new` is a management route (admins only, by the role gate); a taken `team_id` is 400
//!   `{'error': 'Team id = … already exists. Please use a different team id.'}` through
//!   `handle_exception_on_proxy`. Top-level `model_rpm_limit`/`model_tpm_limit` are stored into `metadata`
//!   (`LiteLLM_ManagementEndpoint_MetadataFields`). Members become users (created when unknown) with the team
//!   in their `teams`.
//! - `/team/info?team_id=` answers `{"team_id", "team_info", "keys", "team_memberships"}`; an unknown team is
//!   404 `auth_error` with the message `{'message': 'Team not found, passed team id: <id>.'}` (the handler
//!   re-raises its HTTPException as a ProxyException whose message is the detail dict).
//! - `/team/update` merges the fields sent; a `metadata` sent replaces the stored one except the keys LiteLLM
//!   manages itself (`team_member_budget_id`). Answer `{"team_id", "data": <row>}`; unknown team 404
//!   `{'error': 'Team not found, passed team_id=<id>'}`.
//! - `/team/member_add` takes `member` as one object or a list; a member already in the team is 400
//!   `team_member_already_in_team` (`param: "member"`).
//!
//! `/team/update` and `/team/member_add` are self-managed routes (the role gate lets every role through): a
//! non-admin caller gets a 403 from the handler here (LiteLLM lets team admins in; keyport's users never are
//! one). `/team/info` lets a member read its own team.

use super::rows::{team_row, user_row};
use crate::auth::{self, Caller};
use crate::errors::{DetailItem, Failure, Param};
use crate::handlers::query_param;
use crate::pyfmt;
use crate::state::{now_micros, Shared, TeamMember, TeamRecord, UserRecord};
use crate::validate::{self, as_str, as_str_list, read, Kind};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

const FIELDS: &[(&str, Kind)] = &[
    ("team_id", Kind::Str),
    ("team_alias", Kind::Str),
    ("models", Kind::StrList),
    ("metadata", Kind::Dict),
    ("model_rpm_limit", Kind::Dict),
    ("model_tpm_limit", Kind::Dict),
];

/// Metadata keys LiteLLM keeps out of a caller's hands (`strip_system_managed_metadata_keys`).
const SYSTEM_METADATA: &[&str] = &["team_member_budget_id"];

/// A member as pydantic prints it in LiteLLM's messages.
fn member_repr(m: &TeamMember) -> String {
    let opt = |v: &Option<String>| v.as_deref().map_or("None".to_owned(), pyfmt::str_repr);
    format!(
        "Member(user_id={}, user_email={}, role={})",
        opt(&m.user_id),
        opt(&m.user_email),
        pyfmt::str_repr(&m.role)
    )
}

/// Members from `members_with_roles` or `member`: objects with `user_id`/`user_email` and a role `admin` or
/// `user` (pydantic's 422 otherwise).
fn members(
    value: &Value,
    field: &str,
    default_role: Option<&str>,
) -> Result<Vec<TeamMember>, Failure> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let loc = |rest: &str| {
            let mut loc = vec![Value::from("body"), Value::from(field), Value::from(i)];
            if !rest.is_empty() {
                loc.push(Value::from(rest));
            }
            loc
        };
        let Some(obj) = item.as_object() else {
            return Err(Failure::validation(vec![DetailItem::new(
                "value_error",
                loc(""),
                "Value error, input needs to be a dictionary",
            )]));
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let (user_id, user_email) = (text("user_id"), text("user_email"));
        if user_id.is_none() && user_email.is_none() {
            return Err(Failure::validation(vec![DetailItem::new(
                "value_error",
                loc(""),
                "Value error, Either user id or user email must be provided",
            )]));
        }
        let role = match (obj.get("role"), default_role) {
            (Some(Value::String(r)), _) if r == "admin" || r == "user" => r.clone(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => {
                return Err(Failure::validation(vec![DetailItem::new(
                    "missing",
                    loc("role"),
                    "Field required",
                )]))
            }
            _ => {
                return Err(Failure::validation(vec![DetailItem::new(
                    "literal_error",
                    loc("role"),
                    "Input should be 'admin' or 'user'",
                )]))
            }
        };
        out.push(TeamMember {
            user_id,
            user_email,
            role,
        });
    }
    Ok(out)
}

/// Puts the team in each member's `teams`, creating users LiteLLM does not know yet.
fn enrol(store: &mut crate::state::Store, team_id: &str, members: &[TeamMember]) {
    let now = now_micros();
    for m in members {
        let Some(user_id) = &m.user_id else { continue };
        let user = store
            .users
            .entry(user_id.clone())
            .or_insert_with(|| UserRecord::new(user_id.clone(), now));
        if !user.teams.iter().any(|t| t == team_id) {
            user.teams.push(team_id.to_owned());
        }
    }
}

/// `model_rpm_limit`/`model_tpm_limit` sent at the top level, moved into the metadata.
fn metadata_fields(map: &Map<String, Value>, metadata: &mut Map<String, Value>) {
    for field in ["model_rpm_limit", "model_tpm_limit"] {
        if let Some(value) = map.get(field).filter(|v| !v.is_null()) {
            metadata.insert(field.to_owned(), value.clone());
        }
    }
}

fn refuse_non_admin(caller: &Caller, route: &str) -> Result<(), Failure> {
    match caller {
        Caller::Master => Ok(()),
        Caller::Virtual(key) => Err(Failure::handled(
            403,
            &format!(
                "Only proxy admins or team admins can call {route}. user_id={}",
                key.user_id.as_deref().unwrap_or("None")
            ),
        )),
    }
}

/// `POST /team/new`.
pub async fn new(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    auth::require_admin(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;
    let joined = members(
        map.get("members_with_roles").unwrap_or(&Value::Null),
        "members_with_roles",
        Some("user"),
    )?;
    let team_id = read(&map, "team_id", as_str)
        .value()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut store = shared.store();
    if store.teams.contains_key(&team_id) {
        return Err(Failure::handled(
            400,
            &format!("Team id = {team_id} already exists. Please use a different team id."),
        ));
    }
    let mut metadata = map
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    metadata_fields(&map, &mut metadata);
    let now = store.next_created_at();
    let team = TeamRecord {
        team_id: team_id.clone(),
        team_alias: read(&map, "team_alias", as_str).value(),
        members_with_roles: joined.clone(),
        models: read(&map, "models", as_str_list)
            .value()
            .unwrap_or_default(),
        metadata,
        created_at: now,
        updated_at: now,
    };
    store.teams.insert(team_id.clone(), team.clone());
    enrol(&mut store, &team_id, &joined);
    Ok(HttpResponse::Ok().json(team_row(&team)))
}

fn not_found_info(team_id: &str) -> Failure {
    Failure::proxy(
        404,
        "auth_error",
        format!(
            "{{'message': {}}}",
            pyfmt::str_repr(&format!("Team not found, passed team id: {team_id}."))
        ),
        Param::NoneString,
    )
}

/// `GET /team/info?team_id=`.
pub async fn info(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let Some(team_id) = query_param(&req, "team_id").filter(|t| !t.is_empty()) else {
        return Err(Failure::proxy(
            422,
            "auth_error",
            "{'message': 'Malformed request. No team id passed in.'}",
            Param::NoneString,
        ));
    };
    let store = shared.store();
    let Some(team) = store.teams.get(&team_id) else {
        return Err(not_found_info(&team_id));
    };
    if let Caller::Virtual(key) = &caller {
        if !key.user_id.as_deref().is_some_and(|id| team.has_member(id)) {
            return Err(Failure::handled_plain(
                403,
                format!(
                    "User={} not authorized to access this team={team_id}",
                    key.user_id.as_deref().unwrap_or("None")
                ),
            ));
        }
    }
    let mut keys: Vec<_> = store
        .keys
        .values()
        .filter(|k| k.team_id.as_deref() == Some(team_id.as_str()))
        .collect();
    keys.sort_by_key(|k| k.created_at);
    let keys: Vec<Value> = keys
        .into_iter()
        .map(|k| Value::Object(super::key::row(k, shared.config.version, true)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "team_id": team_id,
        "team_info": team_row(team),
        "keys": keys,
        "team_memberships": [],
    })))
}

fn team_id_required(map: &Map<String, Value>) -> Result<String, Failure> {
    read(map, "team_id", as_str).value().ok_or_else(|| {
        Failure::validation(vec![DetailItem::body(
            "missing",
            &["team_id"],
            "Field required",
        )])
    })
}

fn not_found_update(team_id: &str) -> Failure {
    Failure::handled(404, &format!("Team not found, passed team_id={team_id}"))
}

/// `POST /team/update`.
pub async fn update(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, FIELDS)?;
    let team_id = team_id_required(&map)?;
    refuse_non_admin(&caller, "/team/update")?;
    let mut store = shared.store();
    let now = store.next_created_at();
    let Some(team) = store.teams.get_mut(&team_id) else {
        return Err(not_found_update(&team_id));
    };
    if let Some(alias) = read(&map, "team_alias", as_str).value() {
        team.team_alias = Some(alias);
    }
    if let Some(models) = read(&map, "models", as_str_list).value() {
        team.models = models;
    }
    if let Some(Value::Object(sent)) = map.get("metadata") {
        let mut metadata = sent.clone();
        for key in SYSTEM_METADATA {
            metadata.remove(*key);
            if let Some(kept) = team.metadata.get(*key) {
                metadata.insert((*key).to_owned(), kept.clone());
            }
        }
        team.metadata = metadata;
    }
    metadata_fields(&map, &mut team.metadata);
    team.updated_at = now;
    Ok(HttpResponse::Ok().json(json!({"team_id": team_id, "data": team_row(team)})))
}

/// `POST /team/member_add`.
pub async fn member_add(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, &[("team_id", Kind::Str)])?;
    let team_id = team_id_required(&map)?;
    let Some(sent) = map.get("member") else {
        return Err(Failure::validation(vec![DetailItem::body(
            "missing",
            &["member"],
            "Field required",
        )]));
    };
    let single = sent.is_object();
    let wanted = members(sent, "member", None)?;
    refuse_non_admin(&caller, "/team/member_add")?;
    let mut store = shared.store();
    let now = store.next_created_at();
    let Some(team) = store.teams.get_mut(&team_id) else {
        return Err(not_found_update(&team_id));
    };
    let existing = format!(
        "[{}]",
        team.members_with_roles
            .iter()
            .map(member_repr)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let is_in = |m: &TeamMember, team: &TeamRecord| {
        team.members_with_roles.iter().any(|e| {
            (m.user_id.is_some() && e.user_id == m.user_id)
                || (m.user_email.is_some() && e.user_email == m.user_email)
        })
    };
    let fresh: Vec<TeamMember> = wanted.iter().filter(|m| !is_in(m, team)).cloned().collect();
    if fresh.is_empty() {
        let message = match wanted.first() {
            Some(m) if single => format!(
                "User already in team. Member: user_id={}, user_email={}. Existing members={existing}",
                m.user_id.as_deref().unwrap_or("None"),
                m.user_email.as_deref().unwrap_or("None")
            ),
            _ => format!("All users are already in team. Existing members={existing}"),
        };
        return Err(Failure::proxy(
            400,
            "team_member_already_in_team",
            message,
            Param::Field("member".to_owned()),
        ));
    }
    team.members_with_roles.extend(fresh.iter().cloned());
    team.updated_at = now;
    let row = team_row(team);
    enrol(&mut store, &team_id, &fresh);
    let updated_users: Vec<Value> = fresh
        .iter()
        .filter_map(|m| m.user_id.as_deref())
        .filter_map(|id| store.users.get(id))
        .map(|u| Value::Object(user_row(u, true)))
        .collect();
    let mut answer = row;
    answer.insert("updated_users".into(), Value::from(updated_users));
    answer.insert("updated_team_memberships".into(), json!([]));
    Ok(HttpResponse::Ok().json(answer))
}

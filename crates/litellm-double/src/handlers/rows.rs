//! The rows of LiteLLM's tables as its answers carry them: `LiteLLM_UserTable` and `LiteLLM_TeamTable`.
//! Users and teams answer each other's rows (`/user/info` lists the user's teams, `/team/member_add` the
//! users it updated), so the rows live here and not in either handler.

use crate::pyfmt;
use crate::state::{TeamMember, TeamRecord, UserRecord};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// A datetime as LiteLLM writes it: with `Z` (`zulu`) or `+00:00`.
pub(super) fn time(at: DateTime<Utc>, zulu: bool) -> Value {
    Value::from(if zulu {
        pyfmt::iso_zulu(at)
    } else {
        pyfmt::iso_offset(at)
    })
}

pub(super) fn opt_time(at: Option<DateTime<Utc>>, zulu: bool) -> Value {
    at.map_or(Value::Null, |t| time(t, zulu))
}

/// The `LiteLLM_UserTable` row (without `password`). Routes with a pydantic response model write
/// datetimes with `Z` (`zulu`), plain-dict routes with `+00:00`.
pub(super) fn user_row(user: &UserRecord, zulu: bool) -> Map<String, Value> {
    match json!({
        "user_id": user.user_id,
        "user_alias": user.user_alias,
        "team_id": null,
        "sso_user_id": user.sso_user_id,
        "organization_id": null,
        "object_permission_id": null,
        "teams": user.teams,
        "user_role": user.user_role,
        "max_budget": user.max_budget,
        "spend": user.spend,
        "user_email": user.user_email,
        "models": user.models,
        "metadata": user.metadata,
        "max_parallel_requests": user.max_parallel_requests,
        "tpm_limit": user.tpm_limit,
        "rpm_limit": user.rpm_limit,
        "budget_duration": user.budget_duration,
        "budget_reset_at": opt_time(user.budget_reset_at, zulu),
        "allowed_cache_controls": [],
        "model_spend": {},
        "model_max_budget": user.model_max_budget,
        "created_at": time(user.created_at, zulu),
        "updated_at": time(user.updated_at, zulu),
        "object_permission": null,
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The `LiteLLM_TeamTable` row.
pub(super) fn team_row(team: &TeamRecord) -> Map<String, Value> {
    let members: Vec<Value> = team.members_with_roles.iter().map(member_json).collect();
    let admins: Vec<Value> = team
        .members_with_roles
        .iter()
        .filter(|m| m.role == "admin")
        .filter_map(|m| m.user_id.clone().map(Value::from))
        .collect();
    let plain: Vec<Value> = team
        .members_with_roles
        .iter()
        .filter(|m| m.role == "user")
        .filter_map(|m| m.user_id.clone().map(Value::from))
        .collect();
    match json!({
        "team_id": team.team_id,
        "team_alias": team.team_alias,
        "organization_id": null,
        "admins": admins,
        "members": plain,
        "members_with_roles": members,
        "metadata": team.metadata,
        "tpm_limit": null,
        "rpm_limit": null,
        "max_budget": null,
        "budget_duration": null,
        "models": team.models,
        "blocked": false,
        "spend": 0.0,
        "max_parallel_requests": null,
        "budget_reset_at": null,
        "model_id": null,
        "litellm_model_table": null,
        "model_max_budget": {},
        "created_at": pyfmt::iso_zulu(team.created_at),
        "updated_at": pyfmt::iso_zulu(team.updated_at),
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn member_json(m: &TeamMember) -> Value {
    json!({"user_id": m.user_id, "user_email": m.user_email, "role": m.role})
}

//! `/key/*`: the virtual-key management routes (docs/litellm-contract.md#key-routes), and how a stored key is
//! rendered in their answers.

pub mod block;
pub mod delete;
pub mod generate;
pub mod info;
pub mod list;
pub mod update;

use crate::config::VersionProfile;
use crate::duration;
use crate::errors::{Failure, Param};
use crate::pyfmt;
use crate::state::{DeletedKeyRecord, KeyRecord};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

fn opt_time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| Value::from(pyfmt::iso_offset(t)))
}

/// The `LiteLLM_VerificationToken` row as plain-dict routes (`/key/info`, `/key/update`, `/key/block`,
/// `/key/list`) write it.
pub fn row(key: &KeyRecord, version: VersionProfile, with_token: bool) -> Map<String, Value> {
    let mut out = Map::new();
    if with_token {
        out.insert("token".into(), Value::from(key.hash.as_str()));
    }
    let fields = json!({
        "key_name": key.key_name,
        "key_alias": key.alias,
        "spend": key.spend,
        "max_budget": key.max_budget,
        "expires": opt_time(key.expires),
        "models": key.models,
        "aliases": {},
        "config": {},
        "user_id": key.user_id,
        "team_id": key.team_id,
        "permissions": {},
        "max_parallel_requests": key.max_parallel_requests,
        "metadata": key.metadata,
        "blocked": key.blocked,
        "tpm_limit": key.tpm_limit,
        "rpm_limit": key.rpm_limit,
        "budget_duration": key.budget_duration,
        "budget_reset_at": opt_time(key.budget_reset_at),
        "allowed_cache_controls": [],
        "allowed_routes": key.allowed_routes,
        "soft_budget_cooldown": false,
        "model_spend": key.model_spend,
        "model_max_budget": {},
        "budget_id": null,
        "organization_id": null,
        "project_id": null,
        "key_type": key.key_type,
        "created_at": pyfmt::iso_offset(key.created_at),
        "created_by": key.created_by,
        "updated_at": pyfmt::iso_offset(key.updated_at),
        "updated_by": key.updated_by,
        "last_active": opt_time(key.last_active),
        "object_permission_id": null,
        "object_permission": null,
    });
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    if version == VersionProfile::V1_108 {
        out.insert("total_spend".into(), Value::from(key.total_spend));
    }
    out
}

/// `/key/info`'s `info` of a live key: the row without `token`, with `status` (1.108.7).
pub fn info(key: &KeyRecord, version: VersionProfile, now: DateTime<Utc>) -> Map<String, Value> {
    let mut out = row(key, version, false);
    out.insert("litellm_budget_table".into(), Value::Null);
    if version == VersionProfile::V1_108 {
        out.insert("status".into(), Value::from(key.status(now).as_str()));
    }
    out
}

/// `/key/info`'s `info` of a deleted key, served from the archive (1.108.7 only).
pub fn deleted_info(deleted: &DeletedKeyRecord, version: VersionProfile) -> Map<String, Value> {
    let mut out = row(&deleted.key, version, false);
    out.insert("litellm_budget_table".into(), Value::Null);
    out.insert("status".into(), Value::from("deleted"));
    out.insert(
        "deleted_at".into(),
        Value::from(pyfmt::iso_offset(deleted.deleted_at)),
    );
    out.insert("deleted_by".into(), json!(deleted.deleted_by));
    out.insert("deleted_by_api_key".into(), Value::Null);
    out.insert(
        "litellm_changed_by".into(),
        json!(deleted.litellm_changed_by),
    );
    out
}

/// The alias clash on generate and update.
pub fn alias_taken(alias: &str) -> Failure {
    Failure::proxy(
        400,
        "bad_request_error",
        format!(
            "Key with alias '{alias}' already exists. Unique key aliases across all keys are required."
        ),
        Param::Field("key_alias".to_owned()),
    )
}

/// The text of the `max_budget` refusal, or `None` when the budget is acceptable.
pub fn max_budget_problem(budget: Option<f64>) -> Option<String> {
    budget.filter(|b| !(b.is_finite() && *b >= 0.0)).map(|b| {
        format!(
            "max_budget must be a non-negative finite number. Received: {}",
            pyfmt::float_repr(b)
        )
    })
}

/// The text of the `budget_duration` refusal, or `None` when it is a positive duration.
pub fn budget_duration_problem(value: Option<&str>) -> Option<String> {
    let value = value?;
    match duration::parse(value) {
        Ok(span) if span.is_positive() => None,
        _ => Some(format!(
            "Invalid budget_duration '{value}'. Use a format like '1h', '24h', '7d', or '30d'."
        )),
    }
}

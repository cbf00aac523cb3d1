//! `GET /key/list` (docs/litellm-contract.md#listing-keys): filters, pages, hashes only unless
//! `return_full_object=true`.

use super::row;
use crate::auth::{self, Caller};
use crate::errors::Failure;
use crate::handlers::{int_param, query_pairs};
use crate::state::{now_micros, KeyRecord, KeyStatus, Shared};
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::cmp::Ordering;

const SORT_FIELDS: &[&str] = &[
    "spend",
    "max_budget",
    "created_at",
    "updated_at",
    "token",
    "key_alias",
];

fn bad_query(text: &str) -> Failure {
    Failure::proxy(
        400,
        "internal_server_error",
        crate::pyfmt::error_dict_repr(text),
        crate::errors::Param::NoneString,
    )
}

fn compare(a: &KeyRecord, b: &KeyRecord, field: &str) -> Ordering {
    let f = |x: Option<f64>| x.unwrap_or(f64::NEG_INFINITY);
    match field {
        "spend" => a.spend.total_cmp(&b.spend),
        "max_budget" => f(a.max_budget).total_cmp(&f(b.max_budget)),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "token" => a.hash.cmp(&b.hash),
        "key_alias" => a.alias.cmp(&b.alias),
        _ => a.created_at.cmp(&b.created_at),
    }
}

pub async fn handle(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let mut pairs = query_pairs(&req);
    // Non-admins are scoped to their own user (`list_keys`).
    if let Caller::Virtual(own) = &caller {
        let me = own.user_id.clone().unwrap_or_default();
        pairs.retain(|(k, _)| k != "user_id");
        pairs.push(("user_id".to_owned(), me));
    }
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut errors = Vec::new();
    let page = int_param(param("page"), "page", 1, None, &mut errors);
    let size = int_param(param("size"), "size", 10, Some(100), &mut errors);
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    let truthy = |name: &str| {
        param(name)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
    };
    let sort_by = param("sort_by").unwrap_or("created_at");
    if !SORT_FIELDS.contains(&sort_by) {
        return Err(bad_query(&format!(
            "Invalid sort_by: {sort_by}. Must be one of {}",
            SORT_FIELDS.join(", ")
        )));
    }
    let descending = match param("sort_order").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => {
            return Err(bad_query(&format!(
                "Invalid sort_order: {other}. Must be 'asc' or 'desc'"
            )))
        }
    };
    let status = match param("status") {
        None => None,
        Some("active") => Some(KeyStatus::Active),
        Some("expired") => Some(KeyStatus::Expired),
        Some("revoked") => Some(KeyStatus::Revoked),
        Some("deleted") => Some(KeyStatus::Deleted),
        Some(other) => {
            return Err(bad_query(&format!(
                "Invalid status: {other}. Must be one of active, expired, revoked, deleted"
            )))
        }
    };
    let substring = truthy("substring_matching");
    let text_matches = |stored: Option<&str>, wanted: Option<&str>| match wanted {
        None => true,
        Some(w) => stored.is_some_and(|s| if substring { s.contains(w) } else { s == w }),
    };
    let now = now_micros();
    let mut store = shared.store();
    store.reset_due_budgets(now);
    let candidates: Vec<&KeyRecord> = if status == Some(KeyStatus::Deleted) {
        store.deleted.iter().map(|d| &d.key).collect()
    } else {
        store.keys.values().collect()
    };
    let mut keys: Vec<&KeyRecord> = candidates
        .into_iter()
        .filter(|k| k.team_id.as_deref() != Some("litellm-dashboard"))
        .filter(|k| text_matches(k.user_id.as_deref(), param("user_id")))
        .filter(|k| text_matches(k.alias.as_deref(), param("key_alias")))
        .filter(|k| param("team_id").is_none_or(|t| k.team_id.as_deref() == Some(t)))
        .filter(|k| param("key_hash").is_none_or(|h| k.hash == h))
        .filter(|k| match status {
            None | Some(KeyStatus::Deleted) => true,
            Some(s) => k.status(now) == s,
        })
        .collect();
    keys.sort_by(|a, b| {
        let order = compare(a, b, sort_by).then_with(|| a.hash.cmp(&b.hash));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    let total = keys.len() as u64;
    let start = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let full = truthy("return_full_object") || param("expand") == Some("user");
    let version = shared.config.version;
    let listed: Vec<Value> = keys
        .into_iter()
        .skip(start)
        .take(usize::try_from(size).unwrap_or(100))
        .map(|k| {
            if full {
                Value::Object(row(k, version, true))
            } else {
                Value::from(k.hash.as_str())
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "keys": listed,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size),
    })))
}

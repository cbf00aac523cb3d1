//! `POST /key/block` and `POST /key/unblock` (docs/litellm-contract.md#blocking-keys).

use super::row;
use crate::auth::{self, Caller};
use crate::errors::{DetailItem, Failure, Param};
use crate::hashing::hash_if_needed;
use crate::state::{now_micros, Shared};
use crate::validate::{self, Kind};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

pub async fn block(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    set_blocked(req, body, shared, true)
}

pub async fn unblock(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    set_blocked(req, body, shared, false)
}

/// `^sk-[A-Za-z0-9_-]+$` or 64 hex characters, 3 to 100 characters long.
fn well_formed(key: &str) -> bool {
    let raw = key.strip_prefix("sk-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let hash = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
    (3..=100).contains(&key.len()) && (raw || hash)
}

fn set_blocked(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
    blocked: bool,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(&map, &[("key", Kind::Str)])?;
    let Some(key) = map.get("key").and_then(Value::as_str) else {
        return Err(Failure::validation(vec![DetailItem::body(
            "missing",
            &["key"],
            "Field required",
        )]));
    };
    if !well_formed(key) {
        return Err(Failure::proxy(
            400,
            "bad_request_error",
            "Invalid key format.",
            Param::Field("key".to_owned()),
        ));
    }
    let hash = hash_if_needed(key);
    if let Caller::Virtual(own) = caller {
        return Err(refuse_non_admin(&req, &shared, &own, &hash));
    }
    let mut store = shared.store();
    let Some(record) = store.keys.get_mut(&hash) else {
        return Err(Failure::proxy(
            404,
            "not_found_error",
            "Key not found.",
            Param::Field("key".to_owned()),
        ));
    };
    record.blocked = Some(blocked);
    record.updated_at = now_micros();
    Ok(HttpResponse::Ok().json(row(record, shared.config.version, true)))
}

/// Non-admin callers get FastAPI's bare `{"detail": {"error": …}}` shape.
fn refuse_non_admin(
    req: &HttpRequest,
    shared: &Shared,
    caller: &crate::state::KeyRecord,
    hash: &str,
) -> Failure {
    if !shared.store().keys.contains_key(hash) {
        return Failure::DetailError {
            status: 404,
            error: format!("Key not found: {hash}"),
        };
    }
    Failure::DetailError {
        status: 403,
        error: format!(
            "Only proxy admins, team admins, or org admins can call {}. user_role={}, user_id={}",
            req.path(),
            crate::auth::caller_role(shared, caller),
            caller.user_id.as_deref().unwrap_or("None")
        ),
    }
}

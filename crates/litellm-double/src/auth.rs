//! Who is calling (docs/litellm-contract.md#authentication): the key is read from the headers in LiteLLM's
//! precedence, then resolved to the master key or a live virtual key, failing with LiteLLM's exact auth errors.
//! The checks that depend on the route (admin-only routes, model access, expiry, budget) are the handlers' own.

use crate::errors::{Failure, Param};
use crate::hashing::hash_token;
use crate::pyfmt;
use crate::routes;
use crate::state::{effective_role, KeyRecord, Shared};
use actix_web::HttpRequest;

/// Who a request authenticated as.
#[derive(Debug, Clone)]
pub enum Caller {
    Master,
    Virtual(Box<KeyRecord>),
}

/// The key as `get_api_key` reads it: `None` when no key header is present at all, `Some("")` for a
/// malformed `Authorization` header.
fn presented_key(req: &HttpRequest) -> Option<String> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(value) = header("x-litellm-api-key") {
        return Some(strip_bearer(&value).unwrap_or(value));
    }
    if let Some(value) = header("authorization") {
        let value = value.trim().to_owned();
        if let Some(key) = strip_bearer(&value) {
            return Some(key);
        }
        if let Some(key) = value.strip_prefix("Basic ") {
            return Some(key.trim().to_owned());
        }
        return Some(String::new());
    }
    for name in [
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
    ] {
        if let Some(value) = header(name) {
            return Some(value);
        }
    }
    None
}

fn strip_bearer(value: &str) -> Option<String> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(|k| k.trim().to_owned())
}

/// Authenticates the request: the master key, or a live, unblocked virtual key.
pub fn authenticate(req: &HttpRequest, shared: &Shared) -> Result<Caller, Failure> {
    let Some(key) = presented_key(req) else {
        return Err(Failure::auth(
            401,
            "Authentication Error, No api key passed in.",
        ));
    };
    if key.is_empty() {
        return Err(Failure::auth(
            401,
            "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
        ));
    }
    if key == shared.config.master_key {
        return Ok(Caller::Master);
    }
    if !key.starts_with("sk-") {
        return Err(Failure::auth(
            401,
            format!(
                "Authentication Error, LiteLLM Virtual Key expected. Received={}, expected to start with 'sk-'.",
                pyfmt::mask_secret(&key)
            ),
        ));
    }
    let hash = hash_token(&key);
    let record = {
        let mut store = shared.store();
        store.keys.get_mut(&hash).map(|key| {
            key.reset_budget_if_due(crate::state::now_micros());
            key.clone()
        })
    };
    let Some(record) = record else {
        return Err(Failure::proxy(
            401,
            "token_not_found_in_db",
            "Authentication Error, Invalid API key provided.",
            Param::Field("key".to_owned()),
        ));
    };
    if record.is_blocked() {
        return Err(Failure::auth(
            401,
            "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
        ));
    }
    Ok(Caller::Virtual(Box::new(record)))
}

/// Authenticates the request, then runs LiteLLM's route and role gates on a virtual key
/// ([`crate::routes`]). A key whose owner is a `proxy_admin` acts as the master key does.
pub fn authorize(req: &HttpRequest, shared: &Shared) -> Result<Caller, Failure> {
    let caller = authenticate(req, shared)?;
    let Caller::Virtual(key) = caller else {
        return Ok(caller);
    };
    let user = key
        .user_id
        .as_deref()
        .and_then(|id| shared.store().users.get(id).cloned());
    routes::check_allowed_routes(req.path(), &key)?;
    routes::check_role(req.path(), &key, user.as_ref())?;
    if effective_role(user.as_ref()) == "proxy_admin" {
        return Ok(Caller::Master);
    }
    Ok(Caller::Virtual(key))
}

/// [`authorize`], for a route whose handler serves only an admin: a virtual key that passed the gates (an
/// owner's role that the gates let through) is refused like LiteLLM's admin-only exception.
pub fn require_admin(req: &HttpRequest, shared: &Shared) -> Result<(), Failure> {
    match authorize(req, shared)? {
        Caller::Master => Ok(()),
        Caller::Virtual(key) => Err(admin_only(req.path(), &key, shared)),
    }
}

/// The admin-only refusal of the role gate, for a key the gate let through.
pub fn admin_only(route: &str, key: &KeyRecord, shared: &Shared) -> Failure {
    let user = key
        .user_id
        .as_deref()
        .and_then(|id| shared.store().users.get(id).cloned());
    let (role, user_id) = match &user {
        Some(u) => (
            u.user_role.clone().unwrap_or_else(|| "unknown".to_owned()),
            pyfmt::mask_user_id(&u.user_id),
        ),
        None => ("unknown".to_owned(), "*******".to_owned()),
    };
    Failure::auth(
        401,
        format!(
            "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={route}. Your role={role}. Your user_id={user_id}"
        ),
    )
}

/// The role LiteLLM acts on for the owner of `key` (`internal_user` when it has none).
pub fn caller_role(shared: &Shared, key: &KeyRecord) -> String {
    let store = shared.store();
    effective_role(key.user_id.as_deref().and_then(|id| store.users.get(id)))
}

/// Who LiteLLM records as the author of a change (`litellm-changed-by` overrides nothing but is kept).
pub fn changed_by(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("litellm-changed-by")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The proxy admin's user id when the master key is used.
pub const ADMIN_USER_ID: &str = "default_user_id";

//! LiteLLM's route and role gates for virtual keys (docs/litellm-contract.md#route-and-role-gates), as 1.108.7
//! runs them before any handler (`user_api_key_auth._authorize_authenticated_request`):
//!
//! 1. `RouteChecks.is_virtual_key_allowed_to_call_route`: a key with a non-empty `allowed_routes` may call
//!    only a route that an entry names exactly, as a prefix followed by `/`, as a `LiteLLMRoutes` group, or
//!    as a trailing-`*` wildcard. It runs outside the auth exception handler, so its `HTTPException(403)`
//!    reaches FastAPI's default handler: `{"detail": "Virtual key is not allowed to call this route. …"}`.
//! 2. `RouteChecks.non_proxy_admin_allowed_routes_check`, by the role of the key's owner (a NULL role acts
//!    as `internal_user`): inference and info routes pass for everyone, `internal_user` may use the key
//!    management and spend routes, `internal_user_viewer` only the spend ones, self-managed routes reach
//!    their handler; everything else is the plain `Exception` that the auth handler turns into
//!    401 `auth_error` "Authentication Error, Only proxy admin can be used to …".
//!
//! The group memberships are LiteLLM's own (`_types.LiteLLMRoutes`), printed from 1.108.7 for the routes the
//! double serves; a group the double does not list here matches none of its routes.

use crate::errors::Failure;
use crate::pyfmt;
use crate::state::{KeyRecord, UserRecord};

/// `RouteChecks.is_llm_api_route` for the routes the double serves.
const LLM_API: &[&str] = &[
    "/chat/completions",
    "/v1/chat/completions",
    "/completions",
    "/v1/completions",
    "/embeddings",
    "/v1/embeddings",
    "/models",
    "/v1/models",
    "/responses",
    "/v1/responses",
];

/// `LiteLLMRoutes.info_routes` (and `is_info_route`) for the routes the double serves.
const INFO: &[&str] = &[
    "/key/info",
    "/key/list",
    "/user/info",
    "/team/info",
    "/model_group/info",
    "/model/info",
    "/v1/model/info",
    "/models",
    "/v1/models",
];

/// `LiteLLMRoutes.key_management_routes` (which carries the spend-log routes too).
const KEY_MANAGEMENT: &[&str] = &[
    "/key/generate",
    "/key/info",
    "/key/block",
    "/key/unblock",
    "/key/delete",
    "/key/update",
    "/key/list",
    "/spend/logs",
    "/spend/logs/v2",
];

/// `LiteLLMRoutes.spend_tracking_routes` (also all the double serves of `internal_user_view_only_routes`
/// beyond the info routes).
const SPEND_TRACKING: &[&str] = &["/spend/logs", "/spend/logs/v2"];

/// `LiteLLMRoutes.self_managed_routes`: the handler authorises.
const SELF_MANAGED: &[&str] = &["/user/list", "/team/update", "/team/member_add"];

/// `LiteLLMRoutes.model_info_routes`.
const MODEL_INFO: &[&str] = &["/model_group/info", "/model/info", "/v1/model/info"];

/// `LiteLLMRoutes.management_routes` beyond the key management routes.
const OTHER_MANAGEMENT: &[&str] = &[
    "/user/new",
    "/user/info",
    "/user/update",
    "/user/list",
    "/team/new",
    "/team/info",
    "/team/update",
    "/team/member_add",
    "/model/info",
];

/// The routes of a `LiteLLMRoutes` group, as far as the double serves them; `None` for a name that is
/// no group the double knows.
fn group(name: &str) -> Option<Vec<&'static str>> {
    let mut routes: Vec<&'static str> = match name {
        "llm_api_routes" => [LLM_API, MODEL_INFO].concat(),
        "openai_routes" => LLM_API.to_vec(),
        "info_routes" => INFO.to_vec(),
        "model_info_routes" => MODEL_INFO.to_vec(),
        "management_routes" => [KEY_MANAGEMENT, OTHER_MANAGEMENT].concat(),
        "key_management_routes" | "internal_user_routes" => KEY_MANAGEMENT.to_vec(),
        "spend_tracking_routes" | "internal_user_view_only_routes" => SPEND_TRACKING.to_vec(),
        "self_managed_routes" => SELF_MANAGED.to_vec(),
        "public_routes" => vec!["/health/liveliness", "/health/liveness"],
        _ => return None,
    };
    routes.dedup();
    Some(routes)
}

/// `_route_matches_allowed_route` or `route_matches_wildcard_pattern` or a group that holds the route.
fn entry_allows(entry: &str, route: &str) -> bool {
    if entry == route || route.starts_with(&format!("{entry}/")) {
        return true;
    }
    if let Some(routes) = group(entry) {
        if routes.contains(&route) {
            return true;
        }
    }
    entry
        .strip_suffix('*')
        .is_some_and(|p| route.starts_with(p))
}

/// Step 1: the key's own `allowed_routes`.
pub fn check_allowed_routes(route: &str, key: &KeyRecord) -> Result<(), Failure> {
    if key.allowed_routes.is_empty() || key.allowed_routes.iter().any(|e| entry_allows(e, route)) {
        return Ok(());
    }
    let listed: Vec<String> = key
        .allowed_routes
        .iter()
        .map(|r| pyfmt::str_repr(r))
        .collect();
    Err(Failure::Detail {
        status: 403,
        detail: format!(
            "Virtual key is not allowed to call this route. Only allowed to call routes: [{}]. Tried to call route: {route}",
            listed.join(", ")
        ),
    })
}

/// Step 2: the owner's role. `user` is the key owner's row, if LiteLLM has one.
pub fn check_role(route: &str, key: &KeyRecord, user: Option<&UserRecord>) -> Result<(), Failure> {
    let stored_role = user.and_then(|u| u.user_role.as_deref());
    let role = crate::state::effective_role(user);
    if role == "proxy_admin" || LLM_API.contains(&route) || INFO.contains(&route) {
        return Ok(());
    }
    let allowed = match role.as_str() {
        "internal_user" => KEY_MANAGEMENT.contains(&route),
        "internal_user_viewer" | "proxy_admin_viewer" => SPEND_TRACKING.contains(&route),
        _ => false,
    };
    // The last branch: an `allowed_routes` entry (exact, prefix or wildcard, no group) lets the route through.
    let listed = key.allowed_routes.iter().any(|entry| {
        entry == route
            || route.starts_with(&format!("{entry}/"))
            || entry
                .strip_suffix('*')
                .is_some_and(|p| route.starts_with(p))
    });
    if allowed || SELF_MANAGED.contains(&route) || listed {
        return Ok(());
    }
    // `_raise_admin_only_route_exception` prints the **stored** role (`unknown` for NULL) and the user id
    // masked, or `unknown` for both when LiteLLM has no user row.
    let (shown_role, user_id) = match user {
        Some(u) => (
            stored_role.unwrap_or("unknown").to_owned(),
            u.user_id.clone(),
        ),
        None => ("unknown".to_owned(), "unknown".to_owned()),
    };
    Err(Failure::auth(
        401,
        format!(
            "Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={route}. Your role={shown_role}. Your user_id={}",
            mask_user_id(&user_id)
        ),
    ))
}

/// `RouteChecks._mask_user_id`: `***` up to 4 characters, else the first 6 and last 2 shown.
fn mask_user_id(user_id: &str) -> String {
    if user_id.chars().count() <= 4 {
        return "***".to_owned();
    }
    pyfmt::mask_user_id(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_exactly_as_prefix_as_group_or_as_wildcard() {
        assert!(entry_allows("/chat/completions", "/chat/completions"));
        assert!(entry_allows("/key", "/key/generate"));
        assert!(!entry_allows("/ke", "/key/generate"));
        assert!(entry_allows("llm_api_routes", "/v1/chat/completions"));
        assert!(!entry_allows("llm_api_routes", "/key/generate"));
        assert!(entry_allows("management_routes", "/user/update"));
        assert!(entry_allows("/key/*", "/key/delete"));
        assert!(!entry_allows("info_routes", "/key/delete"));
    }

    #[test]
    fn short_user_ids_are_fully_masked() {
        assert_eq!(mask_user_id("abc"), "***");
        assert_eq!(mask_user_id("unknown"), "*******");
        assert_eq!(mask_user_id("user-123456"), "user-1***56");
    }
}

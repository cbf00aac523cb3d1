//! Who may call what: the one authorization table, and the middleware that enforces it before any handler
//! runs.
//!
//! Every route under `/api/v1` has exactly one [`Rule`] in [`RULES`]. The middleware finds the rule of the
//! matched route and method, authenticates the caller (a personal access token in `Authorization: Bearer`,
//! or the session cookie), checks the token's scope or the session's CSRF token, checks the role, and only
//! then lets the request through with the caller attached (the [`crate::extract::Authenticated`]
//! extractor reads it). A documented route without a rule is refused (deny by default), and the route ×
//! role matrix test fails. Ownership (your key, not someone else's) is the use cases' business: they answer
//! 404 for what is not the caller's.
//!
//! Failed authentications and calls to the login endpoints are rate-limited per client address group
//! (`ratelimit.rs`); failures are counted after authenticating, so a valid credential always passes.

use crate::cookies::CSRF_HEADER;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{ClientRequestId, RequestId};
use crate::ApiState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use chrono::{DateTime, Utc};
use keyport_domain::users::{Actor, User};
use keyport_domain::Error;
use subtle::ConstantTimeEq;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in, active user; use cases limit them to what they own.
    Member,
    /// Administrators and auditors (auditors read only: give this to safe methods only).
    Oversight,
    /// Administrators only.
    Admin,
}

/// The rule of one route and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub method: &'static str,
    /// The path as the OpenAPI document writes it, e.g. `/api/v1/api-keys/{id}`.
    pub path: &'static str,
    pub access: Access,
    /// Counted against the per-address limit for login endpoints.
    pub throttled: bool,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        access,
        throttled: false,
    }
}

const fn throttled(method: &'static str, path: &'static str) -> Rule {
    Rule {
        method,
        path,
        access: Access::Public,
        throttled: true,
    }
}

use Access::{Admin, Member, Oversight, Public};

/// The authorization table: every API route, once.
pub const RULES: &[Rule] = &[
    // meta
    rule("GET", "/api/v1/config", Public),
    rule("GET", "/api/v1/openapi.json", Public),
    // signing in and out
    throttled("GET", "/api/v1/auth/login"),
    throttled("GET", "/api/v1/auth/callback"),
    throttled("POST", "/api/v1/auth/dev-login"),
    rule("POST", "/api/v1/auth/logout", Member),
    rule("GET", "/api/v1/me", Member),
    // personal access tokens
    rule("GET", "/api/v1/access-tokens", Member),
    rule("POST", "/api/v1/access-tokens", Member),
    rule("POST", "/api/v1/access-tokens/{id}/revoke", Member),
    // catalog, subscriptions, keys: the caller's own
    rule("GET", "/api/v1/models", Member),
    rule("GET", "/api/v1/models/{id}", Member),
    rule("GET", "/api/v1/subscriptions", Member),
    rule("POST", "/api/v1/subscriptions", Member),
    rule("GET", "/api/v1/subscriptions/{id}", Member),
    rule("POST", "/api/v1/subscriptions/{id}/cancel", Member),
    rule("GET", "/api/v1/api-keys", Member),
    rule("POST", "/api/v1/api-keys", Member),
    rule("GET", "/api/v1/api-keys/{id}", Member),
    rule("PATCH", "/api/v1/api-keys/{id}", Member),
    rule("DELETE", "/api/v1/api-keys/{id}", Member),
    rule("POST", "/api/v1/api-keys/{id}/rotate", Member),
    rule("POST", "/api/v1/api-keys/{id}/revoke", Member),
    // administration
    rule("GET", "/api/v1/admin/jobs", Oversight),
    rule("GET", "/api/v1/admin/reconcile", Oversight),
    rule("GET", "/api/v1/admin/users", Oversight),
    rule("GET", "/api/v1/admin/users/{id}", Oversight),
    rule("PATCH", "/api/v1/admin/users/{id}", Admin),
    rule("POST", "/api/v1/admin/users/{id}/suspend", Admin),
    rule("POST", "/api/v1/admin/users/{id}/reactivate", Admin),
    rule("GET", "/api/v1/admin/users/{id}/access-tokens", Oversight),
    rule(
        "POST",
        "/api/v1/admin/users/{id}/access-tokens/{token_id}/revoke",
        Admin,
    ),
    rule("GET", "/api/v1/admin/api-keys", Oversight),
    rule("GET", "/api/v1/admin/api-keys/{id}", Oversight),
    rule("POST", "/api/v1/admin/api-keys/{id}/block", Admin),
    rule("POST", "/api/v1/admin/api-keys/{id}/unblock", Admin),
    rule("POST", "/api/v1/admin/api-keys/{id}/revoke", Admin),
    rule("PUT", "/api/v1/admin/api-keys/{id}/limits", Admin),
    rule("GET", "/api/v1/admin/subscriptions", Oversight),
    rule("POST", "/api/v1/admin/subscriptions", Admin),
    rule("POST", "/api/v1/admin/subscriptions/approve", Admin),
    rule("POST", "/api/v1/admin/subscriptions/reject", Admin),
    rule("GET", "/api/v1/admin/subscriptions/{id}/history", Oversight),
    rule("POST", "/api/v1/admin/subscriptions/{id}/suspend", Admin),
    rule("POST", "/api/v1/admin/subscriptions/{id}/reactivate", Admin),
    rule("POST", "/api/v1/admin/subscriptions/{id}/revoke", Admin),
    rule("PUT", "/api/v1/admin/subscriptions/{id}/quota", Admin),
    rule("PATCH", "/api/v1/admin/models/{id}", Admin),
    rule("GET", "/api/v1/admin/settings", Oversight),
    rule("PUT", "/api/v1/admin/settings", Admin),
    // the defaults and maximums, read-only, for everyone's forms
    rule("GET", "/api/v1/settings/self-service", Member),
    rule("GET", "/api/v1/admin/audit", Oversight),
];

/// The rules of one path, ignoring route regexes (`{id:.+}` is `{id}`).
pub fn rules_for_path(path: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    RULES.iter().filter(move |r| r.path == path)
}

/// The rule for a method on a path; `HEAD` follows `GET`.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    rules_for_path(path).find(|r| r.method == method)
}

/// An actix route pattern as the OpenAPI document writes it: `{id:.+}` becomes `{id}`.
pub fn normalize_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    // Depth of braces, and whether the current `{name:regex}` segment's regex is being skipped.
    let (mut depth, mut skipping) = (0u32, false);
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if !skipping {
                    out.push(c);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    skipping = false;
                    out.push(c);
                }
            }
            ':' if depth == 1 => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A personal access token with these scopes, expiring then (`None`: never).
    Token {
        scopes: Vec<String>,
        expires_at: Option<DateTime<Utc>>,
    },
    /// A browser session with its CSRF token.
    Session {
        csrf_token: String,
        expires_at: DateTime<Utc>,
    },
}

/// The authenticated caller of a request, attached by the middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub user: User,
    pub credential: Credential,
}

/// 429 for an address that used up a limit: `what` says which (`login attempts`, `failed
/// authentications`).
fn too_many(what: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        ProblemCode::RateLimited,
        format!("too many {what} from your address; try again in {retry_after} s"),
    )
    .with_retry_after(retry_after)
}

/// Checks the request against [`RULES`]; see the module documentation.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(pattern) = req.match_pattern() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if !pattern.starts_with("/api/v1/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let path = normalize_pattern(&pattern);
    let rule = match rule_for(req.method(), &path) {
        Some(rule) => rule,
        // Another method of a known path: actix answers 405.
        None if rules_for_path(&path).next().is_some() => {
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
        None => {
            tracing::error!(path = %path, method = %req.method(), "API route without an authorization rule");
            return Ok(req.error_response(ApiError::new(
                ProblemCode::NoAccessRule,
                "this route has no access rule, so nobody may call it",
            )));
        }
    };
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Ok(req.error_response(ApiError::new(
            ProblemCode::Internal,
            "the API is not configured",
        )));
    };
    let addr = crate::client::client_ip(req.request(), &state.config.trusted_proxies);
    if rule.throttled {
        if let Err(retry) = state.limits.login.hit(addr).await {
            return Ok(req.error_response(too_many("login attempts", retry)));
        }
    }
    if rule.access == Access::Public {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }

    // Authentication comes first and the failure limit only after it: a valid credential is never refused
    // because of failures from its address (a NAT, a proxy not in KEYPORT_TRUSTED_PROXIES, a broken script
    // next door). A request with a valid credential never reaches the limiter, so it costs no extra query
    // and its answer and timing do not depend on the address's failures.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_owned());
    let cookie = crate::cookies::session_value(req.request(), &state.config);
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let client_request_id = req
        .extensions()
        .get::<ClientRequestId>()
        .map(|r| r.0.clone());
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);

    let presented = bearer.is_some() || cookie.is_some();
    let authenticated = match (bearer, cookie) {
        (Some(token), _) => {
            state
                .services
                .authenticate
                .execute(&token)
                .await
                .map(|(actor, user, grant)| Caller {
                    actor,
                    user,
                    credential: Credential::Token {
                        scopes: grant.scopes,
                        expires_at: grant.expires_at,
                    },
                })
        }
        (None, Some(cookie)) => state
            .services
            .authenticate_session
            .execute(&cookie)
            .await
            .map(|c| Caller {
                actor: c.actor,
                user: c.user,
                credential: Credential::Session {
                    csrf_token: c.csrf_token,
                    expires_at: c.session.expires_at,
                },
            }),
        (None, None) => Err(Error::Unauthenticated),
    };
    let mut caller = match authenticated {
        Ok(caller) => caller,
        // Presenting nothing guesses nothing: not counted (a browser that is not signed in asks `/me`).
        Err(Error::Unauthenticated) if !presented => {
            return Ok(req.error_response(ApiError::unauthenticated()));
        }
        // A failed credential takes a token from the address's failure budget; once the budget is spent
        // the answer is 429 with Retry-After instead of 401, which tells only what the address's own
        // failures already told (the credential is checked all the same, and a valid one is let through).
        Err(Error::Unauthenticated) => {
            if let Err(retry) = state.limits.failures.hit(addr).await {
                return Ok(req.error_response(too_many("failed authentications", retry)));
            }
            return Ok(req.error_response(ApiError::unauthenticated()));
        }
        Err(other) => return Ok(req.error_response(ApiError::from(other))),
    };

    match &caller.credential {
        Credential::Token { scopes, .. } => {
            let needed = if unsafe_method { "write" } else { "read" };
            let ok = scopes.iter().any(|s| s == "write" || s == needed);
            if !ok {
                return Ok(req.error_response(ApiError::new(
                    ProblemCode::InsufficientScope,
                    format!("this token lacks the '{needed}' scope"),
                )));
            }
        }
        Credential::Session { csrf_token, .. } if unsafe_method => {
            let presented = req
                .headers()
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default();
            if presented.ct_eq(csrf_token.as_bytes()).unwrap_u8() != 1 {
                return Ok(req.error_response(ApiError::new(
                    ProblemCode::Csrf,
                    format!(
                        "a change made with the session cookie needs the '{CSRF_HEADER}' header from /api/v1/me"
                    ),
                )
                ));
            }
        }
        Credential::Session { .. } => {}
    }

    let allowed = match rule.access {
        Access::Public | Access::Member => true,
        Access::Oversight => caller.actor.can_oversee(),
        Access::Admin => caller.actor.is_admin(),
    };
    if !allowed {
        let who = match rule.access {
            Access::Admin => "administrators",
            _ => "administrators and auditors",
        };
        return Ok(req.error_response(ApiError::new(
            ProblemCode::Forbidden,
            format!("only {who} may do this"),
        )));
    }

    caller.actor.request_id = request_id;
    caller.actor.client_request_id = client_request_id;
    caller.actor.client_addr = addr.map(|a| a.to_string());
    req.extensions_mut().insert(caller);
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_lose_their_regexes() {
        assert_eq!(
            normalize_pattern("/api/v1/models/{id:.+}"),
            "/api/v1/models/{id}"
        );
        assert_eq!(
            normalize_pattern("/api/v1/api-keys/{id}/rotate"),
            "/api/v1/api-keys/{id}/rotate"
        );
        assert_eq!(normalize_pattern("/a/{x:[0-9]{2}}/b/{y}"), "/a/{x}/b/{y}");
    }

    #[test]
    fn every_rule_is_unique_and_well_formed() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(a.path.starts_with("/api/v1/"), "{a:?}");
            assert!(
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&a.method),
                "{a:?}"
            );
            assert!(
                !(a.access == Access::Oversight && a.method != "GET"),
                "auditors only read: {a:?}"
            );
            for b in &RULES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "two rules for {} {}",
                    a.method,
                    a.path
                );
            }
        }
        assert_eq!(
            rule_for(&Method::HEAD, "/api/v1/models").map(|r| r.access),
            Some(Access::Member)
        );
    }
}

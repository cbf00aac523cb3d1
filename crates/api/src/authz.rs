//! Who may call what: the authorization table, and the middleware that enforces it before any handler runs.
//!
//! Every handler under `/api/v1` declares its access in its own `#[utoipa::path]`, as the extension
//! [`ACCESS_EXTENSION`] (`extensions(("x-keyport-access" = json!("member")))`); [`Rules::from_document`] reads
//! the declarations from the OpenAPI document utoipa-actix-web collects when the app is built, once per route
//! and method. The middleware finds the rule of the matched route and method, authenticates the caller (a
//! personal access token in `Authorization: Bearer`, or the session cookie), checks the token's scope or the
//! session's CSRF token, checks the role, and only then lets the request through with the caller attached
//! (the [`crate::extract::Authenticated`] extractor reads it). A route without a valid declaration is refused
//! (deny by default), and `every_operation_declares_its_access` below fails naming it. Ownership (your key,
//! not someone else's) is the use cases' business: they answer 404 for what is not the caller's.
//!
//! Failed authentications and calls to the login endpoints are rate-limited per client address group
//! (`ratelimit.rs`); failures are counted after authenticating, so a valid credential always passes.

use crate::cookies::CSRF_HEADER;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{Caller, ClientRequestId, Credential, RequestId};
use crate::ApiState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
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

/// The OpenAPI extension in which a handler declares its access, in its own `#[utoipa::path]`:
/// `extensions(("x-keyport-access" = json!("member")))`. The value is one of `public`, `public-throttled`
/// (public, and counted against the per-address login limit), `member`, `oversight` or `admin`.
pub const ACCESS_EXTENSION: &str = "x-keyport-access";

/// The rule of one route and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub method: String,
    /// The path as the OpenAPI document writes it, e.g. `/api/v1/api-keys/{id}`.
    pub path: String,
    pub access: Access,
    /// Counted against the per-address limit for login endpoints.
    pub throttled: bool,
}

/// An operation of the document that declares no access, or one this module does not know: nobody may call
/// it (deny by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    pub method: String,
    pub path: String,
    /// What is wrong with its declaration.
    pub why: String,
}

/// What the middleware does with a request to a route.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Check the caller against this rule.
    Apply(&'a Rule),
    /// A documented path, but not with this method: let actix answer 405.
    OtherMethod,
    /// A route without a (valid) access declaration, or not in the document at all: refuse.
    Refuse,
}

/// The authorization table, derived at start from the OpenAPI document that the handlers' attributes make
/// (so a route's access is written once, beside its handler).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    undeclared: Vec<Undeclared>,
}

/// What an access declaration means: `(access, throttled)`.
fn parse_access(value: &serde_json::Value) -> Result<(Access, bool), String> {
    match value.as_str() {
        Some("public") => Ok((Access::Public, false)),
        Some("public-throttled") => Ok((Access::Public, true)),
        Some("member") => Ok((Access::Member, false)),
        Some("oversight") => Ok((Access::Oversight, false)),
        Some("admin") => Ok((Access::Admin, false)),
        _ => Err(format!(
            "{ACCESS_EXTENSION} is {value}, not one of \"public\", \"public-throttled\", \"member\", \"oversight\", \"admin\""
        )),
    }
}

impl Rules {
    /// The rules the operations of `document` declare in [`ACCESS_EXTENSION`]; those without a valid
    /// declaration are kept apart as [`Undeclared`] and refused.
    pub fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        let mut table = Self::default();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
                ("HEAD", &item.head),
                ("OPTIONS", &item.options),
                ("TRACE", &item.trace),
            ] {
                let Some(operation) = operation else {
                    continue;
                };
                let declared = operation
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(ACCESS_EXTENSION))
                    .ok_or_else(|| format!("no {ACCESS_EXTENSION} in its #[utoipa::path]"))
                    .and_then(parse_access);
                match declared {
                    Ok((access, throttled)) => table.rules.push(Rule {
                        method: method.to_owned(),
                        path: path.clone(),
                        access,
                        throttled,
                    }),
                    Err(why) => table.undeclared.push(Undeclared {
                        method: method.to_owned(),
                        path: path.clone(),
                        why,
                    }),
                }
            }
        }
        table
    }

    /// Every rule, once per route and method.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The operations that declare no valid access (refused); a test keeps this empty.
    pub fn undeclared(&self) -> &[Undeclared] {
        &self.undeclared
    }

    /// The rule for a method on a path as the document writes it (`{id}`, not actix's `{id:.+}`: see
    /// [`normalize_pattern`]); `HEAD` follows `GET`.
    pub fn rule_for(&self, method: &Method, path: &str) -> Option<&Rule> {
        let method = if method == Method::HEAD {
            "GET"
        } else {
            method.as_str()
        };
        self.rules
            .iter()
            .find(|r| r.path == path && r.method == method)
    }

    /// What to do with a request for `method` on the route `path` (as the document writes it).
    pub fn decide(&self, method: &Method, path: &str) -> Decision<'_> {
        if let Some(rule) = self.rule_for(method, path) {
            return Decision::Apply(rule);
        }
        let undeclared = self.undeclared.iter().any(|u| {
            u.path == path
                && (u.method == method.as_str() || (method == Method::HEAD && u.method == "GET"))
        });
        if !undeclared && self.rules.iter().any(|r| r.path == path) {
            Decision::OtherMethod
        } else {
            Decision::Refuse
        }
    }
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

/// 429 for an address that used up a limit: `what` says which (`login attempts`, `failed
/// authentications`).
fn too_many(what: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        ProblemCode::RateLimited,
        format!("too many {what} from your address; try again in {retry_after} s"),
    )
    .with_retry_after(retry_after)
}

/// Checks the request against the [`Rules`] of the app; see the module documentation.
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
    let Some(rules) = req.app_data::<web::Data<Rules>>().cloned() else {
        return Ok(req.error_response(ApiError::new(
            ProblemCode::Internal,
            "the API is not configured",
        )));
    };
    let rule = match rules.decide(req.method(), &path) {
        Decision::Apply(rule) => rule,
        // Another method of a known path: actix answers 405.
        Decision::OtherMethod => {
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
        Decision::Refuse => {
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
    fn every_operation_declares_its_access() {
        let rules = crate::openapi::rules();
        let missing: Vec<String> = rules
            .undeclared()
            .iter()
            .map(|u| format!("{} {}: {}", u.method, u.path, u.why))
            .collect();
        assert!(
            missing.is_empty(),
            "operations without a valid access, refused to everybody: {missing:#?}"
        );
        // One rule per operation of the document.
        let operations: usize = crate::openapi::document()
            .paths
            .paths
            .values()
            .map(|item| {
                [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                    .iter()
                    .filter(|o| o.is_some())
                    .count()
            })
            .sum();
        assert_eq!(rules.rules().len(), operations);
    }

    #[test]
    fn every_rule_is_unique_and_well_formed() {
        let rules = crate::openapi::rules();
        let rules = rules.rules();
        for (i, a) in rules.iter().enumerate() {
            assert!(a.path.starts_with("/api/v1/"), "{a:?}");
            assert!(
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&a.method.as_str()),
                "{a:?}"
            );
            assert!(
                !(a.access == Access::Oversight && a.method != "GET"),
                "auditors only read: {a:?}"
            );
            assert!(
                !a.throttled || a.access == Access::Public,
                "only public login endpoints are throttled: {a:?}"
            );
            for b in &rules[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "two rules for {} {}",
                    a.method,
                    a.path
                );
            }
        }
        let throttled: Vec<_> = rules
            .iter()
            .filter(|r| r.throttled)
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(
            throttled.len(),
            3,
            "the login endpoints and only they: {throttled:?}"
        );
        assert!(throttled.iter().all(|p| p.starts_with("/api/v1/auth/")));
    }

    /// A document of three operations: one declared, one without a declaration, one with a wrong one.
    fn document() -> utoipa::openapi::OpenApi {
        use utoipa::openapi::extensions::ExtensionsBuilder;
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
        let operation = |access: Option<&str>| {
            let builder = OperationBuilder::new();
            match access {
                Some(access) => builder.extensions(Some(
                    ExtensionsBuilder::new()
                        .add(ACCESS_EXTENSION, serde_json::json!(access))
                        .build(),
                )),
                None => builder,
            }
        };
        let mut keys = PathItem::new(HttpMethod::Get, operation(Some("member")));
        keys.post = Some(operation(None).build());
        let paths = PathsBuilder::new()
            .path("/api/v1/keys", keys)
            .path(
                "/api/v1/admin/keys",
                PathItem::new(HttpMethod::Delete, operation(Some("admn"))),
            )
            .build();
        utoipa::openapi::OpenApiBuilder::new().paths(paths).build()
    }

    #[test]
    fn an_operation_without_a_valid_declaration_is_refused() {
        let rules = Rules::from_document(&document());
        assert_eq!(
            rules.decide(&Method::GET, "/api/v1/keys"),
            Decision::Apply(&Rule {
                method: "GET".into(),
                path: "/api/v1/keys".into(),
                access: Access::Member,
                throttled: false,
            })
        );
        // HEAD follows GET.
        assert!(matches!(
            rules.decide(&Method::HEAD, "/api/v1/keys"),
            Decision::Apply(r) if r.access == Access::Member
        ));
        // Undeclared, or declared with an unknown access: refused, and named.
        assert_eq!(
            rules.decide(&Method::POST, "/api/v1/keys"),
            Decision::Refuse
        );
        assert_eq!(
            rules.decide(&Method::DELETE, "/api/v1/admin/keys"),
            Decision::Refuse
        );
        let undeclared: Vec<_> = rules
            .undeclared()
            .iter()
            .map(|u| (u.method.as_str(), u.path.as_str()))
            .collect();
        assert_eq!(
            undeclared,
            [("DELETE", "/api/v1/admin/keys"), ("POST", "/api/v1/keys")]
        );
        assert!(rules.undeclared()[0].why.contains("\"admn\""));
        // Another method of a declared path: left to actix (405); an unknown path: refused.
        assert_eq!(
            rules.decide(&Method::PUT, "/api/v1/keys"),
            Decision::OtherMethod
        );
        assert_eq!(
            rules.decide(&Method::GET, "/api/v1/nowhere"),
            Decision::Refuse
        );
    }
}

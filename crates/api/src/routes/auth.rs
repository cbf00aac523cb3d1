//! The OIDC login: the redirect to the identity provider and its callback.
//!
//! A failed callback answers `application/problem+json` with a stable code; when the request prefers
//! HTML (a browser following the provider's redirect) it is instead sent to the web app's
//! `/login?error=<code>`, so that the person sees the login page with the reason rather than a JSON
//! document. The codes: `login-state-invalid`, `login-browser-mismatch`, `login-rejected`,
//! `login-forbidden`, `identity-provider-unavailable` (and `oidc-not-configured` when no provider is set
//! up).
//!
//! The login is bound to the browser that started it: `/auth/login` sets a 10-minute HttpOnly login
//! cookie (`__Host-keyport_login` over HTTPS) holding a random secret whose hash is stored with the state,
//! and the callback refuses (`login-browser-mismatch`, the state used up) a browser that does not present
//! it. A victim's browser made to open an attacker's callback (login CSRF), or a leaked callback URL opened
//! elsewhere, then logs nobody in.

use crate::cookies;
use crate::error::{ApiError, Problem, ProblemCode};
use crate::routes::session::client_info;
use crate::ApiState;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{get, web, HttpRequest, HttpResponse};
use keyport_domain::identity::Callback;
use keyport_domain::identity::LoginError;
use serde::Deserialize;
use utoipa::IntoParams;

/// Where to land after the login.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LoginQuery {
    /// A path on this keyport starting with a single `/` (default `/`); anything else is refused.
    pub return_to: Option<String>,
}

/// What the identity provider sends back.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The authorization code (on success).
    pub code: Option<String>,
    /// The `state` keyport sent.
    pub state: Option<String>,
    /// The provider's error code (on failure), e.g. `access_denied`.
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer (RFC 9207), when the provider sends it; the ID token's issuer is what keyport checks.
    pub iss: Option<String>,
}

fn not_configured() -> ApiError {
    ApiError::new(
        ProblemCode::OidcNotConfigured,
        "this keyport has no identity provider configured (KEYPORT_OIDC_ISSUER)",
    )
}

/// The one mapping from a login failure to HTTP.
pub fn login_error(error: LoginError) -> ApiError {
    match error {
        LoginError::StateInvalid => ApiError::new(
            ProblemCode::LoginStateInvalid,
            "this login is unknown, was already finished, or took longer than 10 minutes; start again",
        ),
        LoginError::BrowserMismatch => ApiError::new(
            ProblemCode::LoginBrowserMismatch,
            "this login was not started in this browser (its login cookie is missing or different); start again here, with cookies enabled",
        ),
        LoginError::Rejected(reason) => ApiError::new(ProblemCode::LoginRejected, reason),
        LoginError::Forbidden(reason) => ApiError::new(ProblemCode::LoginForbidden, reason),
        LoginError::ProviderUnavailable(reason) => {
            tracing::warn!(%reason, "identity provider unavailable");
            ApiError::new(
                ProblemCode::IdentityProviderUnavailable,
                "the identity provider did not answer; try again in a moment",
            )
        }
        LoginError::Other(other) => ApiError::from(other),
    }
}

/// Whether the caller is a browser navigating (it asks for HTML).
fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// Log in through the organisation's identity provider.
///
/// Answers 302 to the provider's authorization endpoint (authorization code flow with PKCE and a nonce;
/// the login state is kept server-side for 10 minutes, so any replica can finish it), and sets the login
/// cookie (`__Host-keyport_login`; `keyport_login` on plain-HTTP localhost development): HttpOnly,
/// SameSite=Lax, 10 minutes, a random secret that binds the login to this browser (only its hash is
/// stored). The callback requires it.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("public-throttled"))),
    tag = "session",
    params(LoginQuery),
    responses(
        (status = 302, description = "To the identity provider, with the login cookie that binds the login to this browser", headers(("Location" = String), ("Set-Cookie" = String, description = "`__Host-keyport_login` (`keyport_login` on plain-HTTP localhost development): HttpOnly; SameSite=Lax; Path=/; Max-Age=600"))),
        (status = 404, description = "No identity provider is configured (oidc-not-configured)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "return_to is not a local path", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/login")]
pub async fn login(
    state: web::Data<ApiState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
    let begin = state
        .services
        .begin_login
        .as_ref()
        .ok_or_else(not_configured)?;
    let redirect = begin
        .execute(query.return_to.as_deref())
        .await
        .map_err(login_error)?;
    let mut response = HttpResponse::Found();
    response
        .insert_header(no_store())
        .insert_header((header::LOCATION, redirect.url.as_str()));
    cookies::attach_login_binding(&mut response, &redirect.browser_binding, &state.config);
    Ok(response.finish())
}

/// The identity provider's redirect back.
///
/// Requires the login cookie set by `/auth/login` in this browser. On success: 303 to the `return_to` of
/// the login with the session cookies (`__Host-keyport_session`, `__Host-keyport_csrf`; unprefixed on
/// plain-HTTP localhost development) and the login cookie cleared. On failure: problem+json with one of
/// the codes `login-state-invalid` (400: unknown, replayed or expired state), `login-browser-mismatch`
/// (400: the login cookie is missing or belongs to another login; the state is used up),
/// `login-rejected` (401: the provider
/// refused, or its ID token failed a check — audience, expiry, signature, nonce, issuer),
/// `login-forbidden` (403: not in an allowed group, or suspended), `identity-provider-unavailable`
/// (503); a request that accepts `text/html` gets 303 to `/login?error=<code>` instead.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("public-throttled"))),
    tag = "session",
    params(CallbackQuery),
    responses(
        (status = 303, description = "Logged in (session cookies set), or a browser sent to /login?error=<code>", headers(("Location" = String))),
        (status = 400, description = "login-state-invalid, login-browser-mismatch", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "login-rejected", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "login-forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "oidc-not-configured", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "identity-provider-unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/callback")]
pub async fn callback(
    state: web::Data<ApiState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let finish = state
        .services
        .finish_login
        .as_ref()
        .ok_or_else(not_configured)?;
    let query = query.into_inner();
    let callback = Callback {
        state: query.state,
        code: query.code,
        error: query.error,
        error_description: query.error_description,
        browser_binding: cookies::login_binding_value(&req, &state.config),
    };
    match finish.execute(&callback, &client_info(&req)).await {
        Ok(logged_in) => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header(no_store());
            response.insert_header((header::LOCATION, logged_in.return_to));
            cookies::attach_session(&mut response, &logged_in.session, &state.config);
            cookies::clear_login_binding(&mut response, &state.config);
            Ok(response.finish())
        }
        Err(error) => {
            let error = login_error(error);
            if error.status.is_client_error() {
                tracing::info!(code = error.code.as_str(), detail = %error.detail, "login failed");
            }
            if wants_html(&req) {
                return Ok(HttpResponse::SeeOther()
                    .insert_header(no_store())
                    .insert_header((header::LOCATION, format!("/login?error={}", error.code)))
                    .finish());
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyport_domain::Error;

    #[test]
    fn each_login_failure_has_its_stable_code_and_status() {
        let cases = [
            (LoginError::StateInvalid, 400, "login-state-invalid"),
            (LoginError::BrowserMismatch, 400, "login-browser-mismatch"),
            (LoginError::Rejected("aud".into()), 401, "login-rejected"),
            (
                LoginError::Forbidden("group".into()),
                403,
                "login-forbidden",
            ),
            (
                LoginError::ProviderUnavailable("timeout".into()),
                503,
                "identity-provider-unavailable",
            ),
            (
                LoginError::Other(Error::StoreUnavailable),
                503,
                "database-unavailable",
            ),
        ];
        for (error, status, code) in cases {
            let api = login_error(error);
            assert_eq!((api.status.as_u16(), api.code.as_str()), (status, code));
        }
    }

    #[test]
    fn the_providers_internal_reason_is_not_shown_when_it_is_unreachable() {
        let api = login_error(LoginError::ProviderUnavailable(
            "connect to 10.1.2.3:8443 refused".into(),
        ));
        assert!(!api.detail.contains("10.1.2.3"));
    }
}

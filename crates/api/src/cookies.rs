//! The session cookies: `keyport_session` (the session id; HttpOnly, so scripts cannot read it) and
//! `keyport_csrf` (the CSRF token, readable by the page, which echoes it in the `X-CSRF-Token` header of
//! every change). Both are SameSite=Lax and Secure unless keyport explicitly serves plain-HTTP localhost.

use crate::ApiConfig;
use actix_web::cookie::time::OffsetDateTime;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpResponseBuilder;
use keyport_domain::session::IssuedSession;

pub const SESSION_COOKIE: &str = "keyport_session";
pub const CSRF_COOKIE: &str = "keyport_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

fn base<'c>(name: &'c str, value: String, config: &ApiConfig) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies)
        .finish()
}

/// Sets both cookies of a new session; they expire with the session's absolute deadline.
pub fn attach_session(
    response: &mut HttpResponseBuilder,
    issued: &IssuedSession,
    config: &ApiConfig,
) {
    let expires = OffsetDateTime::from_unix_timestamp(issued.expires_at.timestamp()).ok();
    let mut session = base(SESSION_COOKIE, issued.secret.expose().to_owned(), config);
    session.set_http_only(true);
    let mut csrf = base(CSRF_COOKIE, issued.csrf_token.clone(), config);
    csrf.set_http_only(false);
    if let Some(expires) = expires {
        session.set_expires(expires);
        csrf.set_expires(expires);
    }
    response.cookie(session).cookie(csrf);
}

/// Clears both cookies (logout).
pub fn clear_session(response: &mut HttpResponseBuilder, config: &ApiConfig) {
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let mut cookie = base(name, String::new(), config);
        cookie.make_removal();
        response.cookie(cookie);
    }
}

//! keyport's cookies: the session id (HttpOnly, so scripts cannot read it), the CSRF token (readable by
//! the page, which echoes it in the `X-CSRF-Token` header of every change), and, during a single sign-on,
//! the login cookie that binds the login to the browser that started it (HttpOnly, 10 minutes). All are
//! SameSite=Lax and Path=/, with no Domain.
//!
//! Where keyport serves HTTPS ([`ApiConfig::secure_cookies`]) they are Secure and named with the
//! `__Host-` prefix (`__Host-keyport_session`, `__Host-keyport_csrf`, `__Host-keyport_login`): a browser
//! accepts such a cookie only from a secure origin, with Secure, Path=/ and no Domain, so a sibling
//! subdomain or a plain-HTTP response cannot plant or overwrite one (cookie tossing). On plain-HTTP
//! localhost development, where Secure cookies cannot be set, the names are unprefixed
//! (`keyport_session`, `keyport_csrf`, `keyport_login`). keyport reads only the names of its profile.

use crate::ApiConfig;
use actix_web::cookie::time::{Duration, OffsetDateTime};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponseBuilder};
use keyport_domain::identity::IssuedSession;
use keyport_domain::identity::LOGIN_STATE_TTL;
use keyport_domain::secret::Secret;

/// The session cookie's name on plain-HTTP localhost development.
pub const SESSION_COOKIE: &str = "keyport_session";
/// The CSRF cookie's name on plain-HTTP localhost development.
pub const CSRF_COOKIE: &str = "keyport_csrf";
/// The login (browser-binding) cookie's name on plain-HTTP localhost development.
pub const LOGIN_COOKIE: &str = "keyport_login";
/// The session cookie's name where keyport serves HTTPS.
pub const HOST_SESSION_COOKIE: &str = "__Host-keyport_session";
/// The CSRF cookie's name where keyport serves HTTPS.
pub const HOST_CSRF_COOKIE: &str = "__Host-keyport_csrf";
/// The login (browser-binding) cookie's name where keyport serves HTTPS.
pub const HOST_LOGIN_COOKIE: &str = "__Host-keyport_login";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The names of keyport's cookies in one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
    pub login: &'static str,
}

const PLAIN_NAMES: CookieNames = CookieNames {
    session: SESSION_COOKIE,
    csrf: CSRF_COOKIE,
    login: LOGIN_COOKIE,
};

const HOST_NAMES: CookieNames = CookieNames {
    session: HOST_SESSION_COOKIE,
    csrf: HOST_CSRF_COOKIE,
    login: HOST_LOGIN_COOKIE,
};

/// The cookie names of this keyport: `__Host-` prefixed when its cookies are Secure.
pub fn names(config: &ApiConfig) -> CookieNames {
    names_for(config.secure_cookies)
}

fn names_for(secure: bool) -> CookieNames {
    if secure {
        HOST_NAMES
    } else {
        PLAIN_NAMES
    }
}

fn base(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// Sets both cookies of a new session; they expire with the session's absolute deadline.
pub fn attach_session(
    response: &mut HttpResponseBuilder,
    issued: &IssuedSession,
    config: &ApiConfig,
) {
    session_cookies(response, issued, config.secure_cookies);
}

fn session_cookies(response: &mut HttpResponseBuilder, issued: &IssuedSession, secure: bool) {
    let names = names_for(secure);
    let expires = OffsetDateTime::from_unix_timestamp(issued.expires_at.timestamp()).ok();
    let mut session = base(names.session, issued.secret.expose().to_owned(), secure);
    session.set_http_only(true);
    let mut csrf = base(names.csrf, issued.csrf_token.clone(), secure);
    csrf.set_http_only(false);
    if let Some(expires) = expires {
        session.set_expires(expires);
        csrf.set_expires(expires);
    }
    response.cookie(session).cookie(csrf);
}

/// Clears both cookies (logout).
pub fn clear_session(response: &mut HttpResponseBuilder, config: &ApiConfig) {
    clear_session_cookies(response, config.secure_cookies);
}

fn clear_session_cookies(response: &mut HttpResponseBuilder, secure: bool) {
    let names = names_for(secure);
    for name in [names.session, names.csrf] {
        let mut cookie = base(name, String::new(), secure);
        cookie.make_removal();
        response.cookie(cookie);
    }
}

/// The session cookie's value, under this profile's name only.
pub fn session_value(req: &HttpRequest, config: &ApiConfig) -> Option<String> {
    cookie_value(req, names(config).session)
}

fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_owned())
}

/// Sets the login cookie: the browser-binding secret of the login just started, HttpOnly, for as long
/// as the login state lives. SameSite=Lax still sends it with the provider's top-level GET redirect back
/// to the callback.
pub fn attach_login_binding(
    response: &mut HttpResponseBuilder,
    binding: &Secret,
    config: &ApiConfig,
) {
    login_cookie(response, binding, config.secure_cookies);
}

fn login_cookie(response: &mut HttpResponseBuilder, binding: &Secret, secure: bool) {
    let mut cookie = base(names_for(secure).login, binding.expose().to_owned(), secure);
    cookie.set_http_only(true);
    cookie.set_max_age(Duration::seconds(LOGIN_STATE_TTL.num_seconds()));
    response.cookie(cookie);
}

/// The login cookie's value, under this profile's name only.
pub fn login_binding_value(req: &HttpRequest, config: &ApiConfig) -> Option<String> {
    cookie_value(req, names(config).login)
}

/// Clears the login cookie (the login it bound is finished).
pub fn clear_login_binding(response: &mut HttpResponseBuilder, config: &ApiConfig) {
    clear_login_cookie(response, config.secure_cookies);
}

fn clear_login_cookie(response: &mut HttpResponseBuilder, secure: bool) {
    let mut cookie = base(names_for(secure).login, String::new(), secure);
    cookie.set_http_only(true);
    cookie.make_removal();
    response.cookie(cookie);
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::HttpResponse;
    use keyport_domain::secret::SecretKind;

    fn binding() -> Secret {
        Secret::from_random(SecretKind::LoginBinding, &[5; 32])
    }

    /// The `Set-Cookie` headers of a response built by `build`.
    fn set_cookies(build: impl FnOnce(&mut HttpResponseBuilder)) -> Vec<String> {
        let mut response = HttpResponse::Ok();
        build(&mut response);
        let response = response.finish();
        response
            .headers()
            .get_all(actix_web::http::header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    fn issued() -> IssuedSession {
        use keyport_domain::ids::UserId;
        use keyport_domain::users::{Role, User, UserStatus};
        let now = chrono::Utc::now();
        IssuedSession {
            secret: Secret::from_random(SecretKind::Session, &[6; 32]),
            csrf_token: "csrf-value".into(),
            expires_at: now + chrono::TimeDelta::hours(12),
            user: User {
                id: UserId::new(),
                username: "alice".into(),
                email: None,
                display_name: None,
                roles: vec![Role::User],
                status: UserStatus::Active,
                created_at: now,
            },
        }
    }

    /// What every `__Host-` cookie must carry for a browser to accept it.
    fn assert_host_cookie(cookie: &str) {
        assert!(cookie.starts_with("__Host-keyport_"), "{cookie}");
        let attributes: Vec<&str> = cookie.split(';').skip(1).map(str::trim).collect();
        assert!(attributes.contains(&"Secure"), "{cookie}");
        assert!(attributes.contains(&"Path=/"), "{cookie}");
        assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
        assert!(
            !attributes
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("domain")),
            "{cookie}"
        );
    }

    #[test]
    fn over_https_every_cookie_is_host_prefixed_secure_path_root_and_without_domain() {
        assert_eq!(
            names_for(true),
            CookieNames {
                session: "__Host-keyport_session",
                csrf: "__Host-keyport_csrf",
                login: "__Host-keyport_login",
            }
        );
        let session = set_cookies(|r| session_cookies(r, &issued(), true));
        assert_eq!(session.len(), 2, "{session:?}");
        for cookie in &session {
            assert_host_cookie(cookie);
        }
        assert!(session[0].starts_with("__Host-keyport_session=kp_sess_"));
        assert!(session[0].contains("HttpOnly"), "{}", session[0]);
        assert!(session[1].starts_with("__Host-keyport_csrf=csrf-value"));
        assert!(!session[1].contains("HttpOnly"), "the page reads it");

        let login = set_cookies(|r| login_cookie(r, &binding(), true));
        assert_eq!(login.len(), 1);
        assert_host_cookie(&login[0]);
        assert!(login[0].starts_with(&format!("__Host-keyport_login={}", binding().expose())));
        assert!(login[0].contains("HttpOnly"), "{}", login[0]);
        assert!(login[0].contains("Max-Age=600"), "{}", login[0]);

        // Clearing uses the same names and attributes, or the browser would keep the cookie.
        for cleared in set_cookies(|r| {
            clear_session_cookies(r, true);
            clear_login_cookie(r, true);
        }) {
            assert_host_cookie(&cleared);
            assert!(cleared.contains("Max-Age=0"), "{cleared}");
        }
    }

    #[test]
    fn on_plain_http_localhost_the_names_are_unprefixed_and_not_secure() {
        assert_eq!(
            names_for(false),
            CookieNames {
                session: "keyport_session",
                csrf: "keyport_csrf",
                login: "keyport_login",
            }
        );
        let cookies = set_cookies(|r| {
            session_cookies(r, &issued(), false);
            login_cookie(r, &binding(), false);
        });
        assert_eq!(cookies.len(), 3, "{cookies:?}");
        for cookie in &cookies {
            assert!(cookie.starts_with("keyport_"), "{cookie}");
            assert!(!cookie.contains("Secure"), "{cookie}");
            assert!(cookie.contains("Path=/"), "{cookie}");
            assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        }
    }

    #[test]
    fn only_the_profiles_own_names_are_read() {
        use actix_web::test::TestRequest;
        let with = |name: &'static str| {
            TestRequest::default()
                .cookie(Cookie::new(name, "v"))
                .to_http_request()
        };
        // Over HTTPS an unprefixed cookie (which anyone able to set a cookie for the site could plant) is
        // ignored; on plain HTTP the prefixed one cannot exist.
        for (secure, name, read) in [
            (true, SESSION_COOKIE, false),
            (true, LOGIN_COOKIE, false),
            (true, HOST_SESSION_COOKIE, true),
            (true, HOST_LOGIN_COOKIE, true),
            (false, SESSION_COOKIE, true),
            (false, LOGIN_COOKIE, true),
            (false, HOST_SESSION_COOKIE, false),
        ] {
            let names = names_for(secure);
            let req = with(name);
            let found = [names.session, names.login]
                .into_iter()
                .filter_map(|n| cookie_value(&req, n))
                .next();
            assert_eq!(found.is_some(), read, "{secure} {name}");
        }
    }
}

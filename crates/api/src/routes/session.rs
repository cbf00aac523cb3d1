//! Who am I, the development login, and logout.

use crate::cookies;
use crate::error::{ApiError, Problem, ProblemCode};
use crate::extract::{Caller, ClientRequestId, Credential, JsonBody, RequestId};
use crate::ApiState;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use keyport_domain::identity::{ClientInfo, IssuedSession};
use keyport_domain::users::{Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A user as they see themselves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeUser {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `user`, plus `admin` and/or `auditor` when held.
    #[schema(schema_with = crate::schema::roles)]
    pub roles: Vec<String>,
    /// `active` or `suspended`.
    #[schema(schema_with = crate::schema::user_status)]
    pub status: String,
}

impl From<&User> for MeUser {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            status: u.status.as_str().to_owned(),
        }
    }
}

/// The signed-in caller.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub user: MeUser,
    /// `session` (browser cookie) or `token` (personal access token).
    pub auth: String,
    /// For sessions: the value to send as `X-CSRF-Token` with every change.
    pub csrf_token: Option<String>,
    /// For sessions: when the session ends at the latest.
    pub session_expires_at: Option<DateTime<Utc>>,
    /// For tokens: the token's scopes.
    pub scopes: Option<Vec<String>>,
}

fn me_of_session(issued: &IssuedSession) -> Me {
    Me {
        user: MeUser::from(&issued.user),
        auth: "session".into(),
        csrf_token: Some(issued.csrf_token.clone()),
        session_expires_at: Some(issued.expires_at),
        scopes: None,
    }
}

/// Who you are: your user, roles and how you authenticated; for a browser session also the CSRF token.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "session",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Me),
    )
)]
#[get("/me")]
pub async fn me(caller: Caller) -> HttpResponse {
    let user = MeUser::from(&caller.user);
    let body = match caller.credential {
        Credential::Session {
            csrf_token,
            expires_at,
        } => Me {
            user,
            auth: "session".into(),
            csrf_token: Some(csrf_token),
            session_expires_at: Some(expires_at),
            scopes: None,
        },
        Credential::Token { scopes, .. } => Me {
            user,
            auth: "token".into(),
            csrf_token: None,
            session_expires_at: None,
            scopes: Some(scopes),
        },
    };
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(body)
}

/// Development login: which user, in which role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevLoginRequest {
    /// Created on first use.
    #[schema(min_length = 1)]
    pub username: String,
    /// `user`, `auditor` or `admin`.
    #[schema(schema_with = crate::schema::role)]
    pub role: String,
}

pub(crate) fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        addr: {
            let trusted = req
                .app_data::<web::Data<ApiState>>()
                .map(|s| s.config.trusted_proxies.as_slice())
                .unwrap_or_default();
            crate::client::client_ip(req, trusted).map(|ip| ip.to_string())
        },
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        client_request_id: req
            .extensions()
            .get::<ClientRequestId>()
            .map(|r| r.0.clone()),
    }
}

/// Sign in without an identity provider, as any user and role. Only when the server runs with
/// `KEYPORT_DEV_LOGIN=true` (never in production); otherwise 404. Sets the session cookies.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("public-throttled"))),
    tag = "session",
    request_body = DevLoginRequest,
    responses(
        (status = 200, body = Me),
        (status = 403, description = "The user is suspended", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The development login is off", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/dev-login")]
pub async fn dev_login(
    state: web::Data<ApiState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<DevLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    if !state.services.dev_login.enabled() {
        return Err(ApiError::new(
            ProblemCode::DevLoginDisabled,
            "the development login is off on this server; sign in through your identity provider",
        ));
    }
    let role = Role::parse(body.role.trim()).ok_or_else(|| {
        ApiError::validation(vec![keyport_domain::FieldError::new(
            "role",
            "one of 'user', 'auditor', 'admin'",
        )])
    })?;
    let issued = state
        .services
        .dev_login
        .execute(&body.username, role, client_info(&req))
        .await?;
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]));
    cookies::attach_session(&mut response, &issued, &state.config);
    Ok(response.json(me_of_session(&issued)))
}

/// What to do after logging out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoggedOut {
    /// The identity provider's logout page, to end the single sign-on session too; null when there is
    /// none (development login, or a provider without RP-initiated logout).
    pub logout_url: Option<String>,
}

/// Log out: ends this browser session on the server and clears its cookies. With a personal access token
/// nothing is ended (revoke the token instead).
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "session",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, body = LoggedOut),
        (status = 403, description = "Missing or wrong X-CSRF-Token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]));
    let mut logout_url = None;
    if let Some(cookie) = cookies::session_value(&req, &state.config) {
        let ended = state
            .services
            .end_session
            .execute(&caller.actor, &cookie)
            .await?;
        if let Some(session) = ended {
            logout_url = state.logout_url(&session);
        }
        cookies::clear_session(&mut response, &state.config);
    }
    Ok(response.json(LoggedOut { logout_url }))
}

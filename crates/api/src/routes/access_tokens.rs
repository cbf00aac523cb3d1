//! Your personal access tokens for the REST API.

use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, Caller, Credential, JsonBody};
use crate::ApiState;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use keyport_domain::identity::AccessToken;
use keyport_domain::identity::{CreateTokenRequest, TokenGrant};
use keyport_domain::ids::{AccessTokenId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A personal access token as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessTokenDto {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// `read` (safe requests), `write` (every request), `admin` (the owner's administrator or auditor role).
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `active`, `expired` or `revoked`.
    #[schema(schema_with = token_status)]
    pub status: String,
}

fn token_status() -> utoipa::openapi::Object {
    crate::schema::one_of(["active", "expired", "revoked"])
}

impl AccessTokenDto {
    fn of(t: &AccessToken, now: DateTime<Utc>) -> Self {
        Self {
            id: t.id.0,
            name: t.name.clone(),
            prefix: t.prefix.as_str().to_owned(),
            scopes: t.scopes.clone(),
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
            status: t.status(now).to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessTokenList {
    pub items: Vec<AccessTokenDto>,
}

/// A token's scope (documentation only: the handler checks the strings, naming the wrong one).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Write,
    Admin,
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessToken {
    /// 1 to 64 characters, e.g. what uses it.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// `read`, `write` (every request) and, for administrators and auditors, `admin` (without it a token
    /// acts as a plain member). A request made with a token can give the new one only scopes it has itself.
    #[schema(min_items = 1, inline, value_type = Vec<TokenScope>)]
    pub scopes: Vec<String>,
    /// Days until it expires (1 to 366); null or absent for a token that does not expire. A request made
    /// with a token that expires must make one that expires no later.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: Option<u32>,
}

/// A token just made: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAccessToken {
    #[serde(flatten)]
    pub token: AccessTokenDto,
    /// The token, `kp_pat_…`: shown once, keyport keeps only its hash.
    pub secret: String,
}

/// Your personal access tokens, newest first (revoked and expired ones included). Never a secret.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "access-tokens",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = AccessTokenList),
    )
)]
#[get("/access-tokens")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.services.access_tokens.list(&actor).await?;
    let now = Utc::now();
    Ok(HttpResponse::Ok().json(AccessTokenList {
        items: tokens.iter().map(|t| AccessTokenDto::of(t, now)).collect(),
    }))
}

/// Create a personal access token for the REST API (`Authorization: Bearer kp_pat_…`). The answer carries
/// the secret, once.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "access-tokens",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateAccessToken,
    responses(
        (status = 201, body = CreatedAccessToken, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 409, description = "Too many live tokens", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/access-tokens")]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateAccessToken>,
) -> Result<HttpResponse, ApiError> {
    let parent = match &caller.credential {
        Credential::Token { scopes, expires_at } => Some(TokenGrant {
            scopes: scopes.clone(),
            expires_at: *expires_at,
        }),
        Credential::Session { .. } => None,
    };
    let issued = state
        .services
        .access_tokens
        .create(
            &caller.actor,
            CreateTokenRequest {
                name: body.name,
                scopes: body.scopes,
                expires_in_days: body.expires_in_days,
                parent,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(CreatedAccessToken {
            token: AccessTokenDto::of(&issued.token, issued.token.created_at),
            secret: issued.secret.expose().to_owned(),
        }))
}

/// Revoke one of your tokens; it stops working at once.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "access-tokens",
    security(("bearer" = []), ("session" = [])),
    params(("id" = Uuid, Path, description = "The token's id")),
    responses(
        (status = 200, body = AccessTokenDto),
        (status = 404, description = "No such live token of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/access-tokens/{id}/revoke")]
pub async fn revoke(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let token = state
        .services
        .access_tokens
        .revoke(&actor, AccessTokenId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(AccessTokenDto::of(&token, Utc::now())))
}

/// A user's personal access tokens, newest first (revoked and expired ones included), never a secret.
/// Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, body = AccessTokenList),
    )
)]
#[get("/admin/users/{id}/access-tokens")]
pub async fn list_of_user(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state
        .services
        .access_tokens
        .list_of(&actor, UserId(id.into_inner()))
        .await?;
    let now = Utc::now();
    Ok(HttpResponse::Ok().json(AccessTokenList {
        items: tokens.iter().map(|t| AccessTokenDto::of(t, now)).collect(),
    }))
}

/// Revoke a user's token; it stops working at once (audited under the administrator). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("token_id" = Uuid, Path, description = "The token's id"),
    ),
    responses(
        (status = 200, body = AccessTokenDto),
        (status = 404, description = "No such live token of that user", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/users/{id}/access-tokens/{token_id}/revoke")]
pub async fn revoke_of_user(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (user, token) = path.into_inner();
    let token = state
        .services
        .access_tokens
        .revoke_of(&actor, UserId(user), AccessTokenId(token))
        .await?;
    Ok(HttpResponse::Ok().json(AccessTokenDto::of(&token, Utc::now())))
}

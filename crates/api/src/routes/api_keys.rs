use crate::dto::{ApiKeyDto, CreateApiKey, CreatedApiKey, RotateApiKey, UpdateApiKey};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, JsonBody};
use crate::ApiState;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use keyport_domain::ids::ApiKeyId;
use uuid::Uuid;

/// The filters of your key list: those of the administrators' list (`GET /admin/api-keys`), without the owner.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OwnKeysQuery {
    /// Only keys in this status.
    #[param(schema_with = crate::schema::key_status, required = false)]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
    /// Keys per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Your API keys, newest first, a page at a time: prefix, models, status, limits, last known spend. Never a
/// secret. Pass `next_cursor` as `cursor` for the next page; it is null on the last one.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    params(OwnKeysQuery),
    responses(
        (status = 200, body = crate::routes::admin_dto::Page<ApiKeyDto>),
        (status = 422, description = "A malformed status, cursor or limit; `errors` names each", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api-keys")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<OwnKeysQuery>,
) -> Result<HttpResponse, ApiError> {
    let OwnKeysQuery {
        status,
        cursor,
        limit,
    } = query.into_inner();
    let page = state
        .services
        .list_keys
        .execute(
            &actor,
            keyport_domain::keys::ListKeysRequest {
                status,
                cursor,
                limit,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(crate::routes::admin_dto::Page {
        items: page.items.iter().map(ApiKeyDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a key bound to one or more of your active subscriptions. The answer carries the secret, once
/// (`Cache-Control: no-store`); keyport keeps only its hash.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    request_body = CreateApiKey,
    responses(
        (status = 201, body = CreatedApiKey, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 409, description = "Name already used by a live key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input; `errors` names each field", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "LiteLLM refused the key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "LiteLLM or the database is unavailable; no key was issued", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api-keys")]
pub async fn create(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_request()?;
    let created = state.services.create_key.execute(&actor, request).await?;
    Ok(secret_response(&state, &created))
}

/// 201 with the new key and its secret, never cached.
fn secret_response(state: &ApiState, created: &keyport_domain::keys::CreatedKey) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(("Location", format!("/api/v1/api-keys/{}", created.key.id)))
        .json(CreatedApiKey {
            key: ApiKeyDto::from(&created.key),
            secret: created.secret.expose().to_owned(),
            litellm_base_url: state.config.litellm_public_url.clone(),
        })
}

/// Change a key's name, limits, subscriptions or expiry, under the same rules as creating it. LiteLLM is
/// updated at once; if it cannot be reached, the change is kept and applied when it can
/// (`sync_state: pending`).
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = UpdateApiKey,
    responses(
        (status = 200, body = ApiKeyDto),
        (status = 409, description = "The key is not active, or the name is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api-keys/{id}")]
pub async fn update(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<UpdateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_request()?;
    let key = state
        .services
        .update_key
        .execute(&actor, ApiKeyId(id.into_inner()), request)
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(&key)))
}

/// Rotate a key: a new key with the same name, subscriptions, limits and expiry (its secret is in the
/// answer, once); the old key keeps working for `overlap_seconds` (default 0), then is deleted.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = RotateApiKey,
    responses(
        (status = 201, body = CreatedApiKey, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 409, description = "The key is not active", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Overlap beyond the maximum", body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api-keys/{id}/rotate")]
pub async fn rotate(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<RotateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let overlap = chrono::Duration::seconds(i64::from(body.overlap_seconds));
    let created = state
        .services
        .rotate_key
        .execute(&actor, ApiKeyId(id.into_inner()), overlap)
        .await?;
    Ok(secret_response(&state, &created))
}

/// One of your keys.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ApiKeyDto),
    )
)]
#[get("/api-keys/{id}")]
pub async fn get(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .get_key
        .execute(&actor, ApiKeyId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(&key)))
}

async fn revoke_key(
    state: web::Data<ApiState>,
    actor: keyport_domain::users::Actor,
    id: Uuid,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .revoke_key
        .execute(&actor, ApiKeyId(id))
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(&key)))
}

/// Revoke one of your keys: it stops working at once. If LiteLLM cannot be reached, the key is still
/// revoked in keyport and `revocation_pending` is true until LiteLLM confirms; revoking again retries.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ApiKeyDto),
        (status = 409, description = "The key is not in a state that can be revoked", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api-keys/{id}")]
pub async fn revoke(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    revoke_key(state, actor, id.into_inner()).await
}

/// The same as `DELETE /api-keys/{id}`, for clients that cannot send DELETE.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ApiKeyDto),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api-keys/{id}/revoke")]
pub async fn revoke_post(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    revoke_key(state, actor, id.into_inner()).await
}

//! `/admin/api-keys`: everybody's keys.

use crate::dto::ApiKeyDto;
use crate::error::{ApiError, Problem};
use crate::extract::Authenticated;
use crate::routes::admin_dto::{AdminKeyDto, Page};
use crate::routes::admin_users::query_uuid;
use crate::ApiState;
use actix_web::{get, post, web, HttpResponse};
use keyport_domain::ids::{ApiKeyId, UserId};
use keyport_domain::usecases::ListAllKeysRequest;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyListQuery {
    /// Only this user's keys.
    pub user_id: Option<String>,
    /// provisioning, active, retiring, revoked, expired, failed or lost.
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// Everybody's keys, newest first, with their owner. Administrators and auditors.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(KeyListQuery),
    responses(
        (status = 200, body = Page<AdminKeyDto>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/api-keys")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<KeyListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let user_id = query_uuid(query.user_id.as_deref(), "user_id")?.map(UserId);
    let page = state
        .services
        .list_all_keys
        .execute(
            &actor,
            ListAllKeysRequest {
                user_id,
                status: query.status,
                cursor: query.cursor,
                limit: query.limit,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        items: page.items.iter().map(AdminKeyDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revoke anybody's key, as its owner would: it is revoked in keyport and deleted in LiteLLM through the
/// outbox (`revocation_pending` until LiteLLM confirms). Administrators only.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ApiKeyDto),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is not in a state that can be revoked", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/api-keys/{id}/revoke")]
pub async fn revoke(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .admin_revoke_key
        .execute(&actor, ApiKeyId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(&key)))
}

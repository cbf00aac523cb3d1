//! `/admin/api-keys`: everybody's keys, and what administrators do to them on their owners' behalf
//! (block, unblock, revoke, change the limits; never a secret, never a rotation). The member routes under
//! `/api-keys` act for the owner only: anybody else's key is "not found" there, for administrators too.

use crate::dto::LimitsDto;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, JsonBody};
use crate::routes::admin_dto::{AdminKeyDto, Page};
use crate::routes::admin_users::query_uuid;
use crate::ApiState;
use actix_web::{get, post, put, web, HttpResponse};
use keyport_domain::ids::{ApiKeyId, UserId};
use keyport_domain::keys::ListAllKeysRequest;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyListQuery {
    /// Only this user's keys.
    #[param(value_type = Option<Uuid>)]
    pub user_id: Option<String>,
    /// provisioning, active, retiring, revoked, expired, failed or lost.
    #[param(schema_with = crate::schema::key_status, required = false)]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Everybody's keys, newest first, with their owner. Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(KeyListQuery),
    responses(
        (status = 200, body = Page<AdminKeyDto>),
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

/// The reason an administrator gives for blocking a key.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockKeyBody {
    /// 1 to 500 characters; the key's owner sees it.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// An optional reason for an administrator's change, kept in the audit log.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminKeyReasonBody {
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// A key's new limits, set by an administrator, and why.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminKeyLimitsBody {
    /// Within the quotas of the key's active subscriptions and the administrators' maximum; an unset limit
    /// takes the tightest quota, as when the owner changes it.
    pub limits: LimitsDto,
    /// At most 500 characters, kept in the audit log.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Anybody's key with its owner (never a secret). Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdminKeyDto),
    )
)]
#[get("/admin/api-keys/{id}")]
pub async fn get(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .admin_keys
        .get(&actor, ApiKeyId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(AdminKeyDto::from(&key)))
}

/// Block anybody's active or retiring key, with a reason its owner sees: LiteLLM refuses it until it is
/// unblocked (the block is recorded with a job through the outbox, then LiteLLM is told at once;
/// `sync_state: pending` until it confirms). The key keeps its status, subscriptions and limits, and
/// cannot be rotated while blocked. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = BlockKeyBody,
    responses(
        (status = 200, body = AdminKeyDto),
        (status = 409, description = "The key is not active or retiring, is already blocked, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/api-keys/{id}/block")]
pub async fn block(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<BlockKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .admin_keys
        .block(&actor, ApiKeyId(id.into_inner()), &body.reason)
        .await?;
    Ok(HttpResponse::Ok().json(AdminKeyDto::from(&key)))
}

/// Lift an administrator's block: LiteLLM accepts the key again (unless its owner or all its
/// subscriptions are suspended). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdminKeyDto),
        (status = 409, description = "The key is not active or retiring, is not blocked, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/api-keys/{id}/unblock")]
pub async fn unblock(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .admin_keys
        .unblock(&actor, ApiKeyId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(AdminKeyDto::from(&key)))
}

/// Revoke anybody's key, as its owner would: it is revoked in keyport and deleted in LiteLLM through the
/// outbox (`revocation_pending` until LiteLLM confirms), with an optional reason kept in the audit log.
/// Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = AdminKeyReasonBody,
    responses(
        (status = 200, body = AdminKeyDto),
        (status = 409, description = "The key is not in a state that can be revoked", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/api-keys/{id}/revoke")]
pub async fn revoke(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<AdminKeyReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .admin_keys
        .revoke(&actor, ApiKeyId(id.into_inner()), body.reason.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(AdminKeyDto::from(&key)))
}

/// Replace anybody's active key's limits, under the rules its owner follows (within the quotas of the
/// key's active subscriptions and the administrators' maximum; an unset limit takes the tightest quota).
/// LiteLLM is updated at once, or through the outbox (`sync_state: pending`). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = AdminKeyLimitsBody,
    responses(
        (status = 200, body = AdminKeyDto),
        (status = 409, description = "The key is not active, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A limit above a quota or the maximum; `errors` names each field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin/api-keys/{id}/limits")]
pub async fn set_limits(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<AdminKeyLimitsBody>,
) -> Result<HttpResponse, ApiError> {
    let limits = body
        .limits
        .into_limits("limits")
        .map_err(keyport_domain::Error::Invalid)?;
    let key = state
        .services
        .admin_keys
        .set_limits(
            &actor,
            ApiKeyId(id.into_inner()),
            limits,
            body.reason.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(AdminKeyDto::from(&key)))
}

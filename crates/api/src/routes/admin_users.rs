//! `/admin/users`: the user directory, roles, suspension.

use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, JsonBody};
use crate::routes::admin_dto::{AdminUserDetail, AdminUserDto, ChangeRoles, Page};
use crate::ApiState;
use actix_web::{get, patch, post, web, HttpResponse};
use keyport_domain::ids::UserId;
use keyport_domain::users::ListUsersRequest;
use keyport_domain::users::UserStatus;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Found anywhere in the username, email or display name (case-insensitive; at most 100 characters).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `admin`, `auditor` or `user`.
    #[param(schema_with = crate::schema::role, required = false)]
    pub role: Option<String>,
    /// `active` or `suspended`.
    #[param(schema_with = crate::schema::user_status, required = false)]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-fA-F]{2})+$")]
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Users, by username: search and filter. Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(UserListQuery),
    responses(
        (status = 200, body = Page<AdminUserDto>),
    )
)]
#[get("/admin/users")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<UserListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = state
        .services
        .list_users
        .execute(
            &actor,
            ListUsersRequest {
                q: query.q,
                role: query.role,
                status: query.status,
                cursor: query.cursor,
                limit: query.limit,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        items: page.items.iter().map(AdminUserDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One user, with the number of their keys and subscriptions. Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdminUserDetail),
    )
)]
#[get("/admin/users/{id}")]
pub async fn get(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let overview = state
        .services
        .get_user
        .execute(&actor, UserId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserDetail::from(&overview)))
}

/// Replace a user's roles. You cannot remove your own admin role, and one active administrator always
/// remains (409 naming `roles`). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = ChangeRoles,
    responses(
        (status = 200, body = AdminUserDto),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/admin/users/{id}")]
pub async fn update(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<ChangeRoles>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .services
        .change_user_roles
        .execute(&actor, UserId(id.into_inner()), &body.roles)
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserDto::from(&user)))
}

async fn set_status(
    state: web::Data<ApiState>,
    actor: keyport_domain::users::Actor,
    id: Uuid,
    status: UserStatus,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .services
        .set_user_status
        .execute(&actor, UserId(id), status)
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserDto::from(&user)))
}

/// Suspend a user: their tokens and sessions stop working at once, and their keys are blocked in LiteLLM
/// (by jobs queued in the same transaction). You cannot suspend yourself (409). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdminUserDto),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/users/{id}/suspend")]
pub async fn suspend(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_status(state, actor, id.into_inner(), UserStatus::Suspended).await
}

/// Reactivate a suspended user: their tokens work again and their keys are unblocked. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdminUserDto),
    )
)]
#[post("/admin/users/{id}/reactivate")]
pub async fn reactivate(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_status(state, actor, id.into_inner(), UserStatus::Active).await
}

/// A uuid from a query parameter, as a 422 naming the parameter when it is not one.
pub(crate) fn query_uuid(value: Option<&str>, field: &str) -> Result<Option<Uuid>, ApiError> {
    value
        .map(|v| {
            Uuid::parse_str(v.trim()).map_err(|_| {
                ApiError::validation(vec![keyport_domain::FieldError::new(field, "not a uuid")])
            })
        })
        .transpose()
}

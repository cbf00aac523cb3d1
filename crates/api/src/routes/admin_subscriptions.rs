//! `/admin/subscriptions`: everybody's subscriptions, their history, grants and approvals.

use crate::dto::ItemList;
use crate::dto::SubscriptionDto;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, JsonBody};
use crate::routes::admin_dto::{
    AdminSubscriptionDto, ApproveBody, DecisionResult, GrantSubscriptionBody, Page, RejectBody,
    StatusChangeDto, SubscriptionQuotaBody, SubscriptionReasonBody,
};
use crate::routes::admin_users::query_uuid;
use crate::ApiState;
use actix_web::{get, post, put, web, HttpResponse};
use keyport_domain::ids::{SubscriptionId, UserId};
use keyport_domain::subscriptions::{
    Decision, GrantSubscriptionRequest, ListAllSubscriptionsRequest, SubscriptionAction,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionListQuery {
    /// pending, active, cancelled, suspended or rejected.
    #[param(schema_with = crate::schema::subscription_status, required = false)]
    pub status: Option<String>,
    /// Only this user's subscriptions.
    #[param(value_type = Option<Uuid>)]
    pub user_id: Option<String>,
    /// Only subscriptions to this model.
    pub model_id: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Everybody's subscriptions, newest first, with their owner (`status=pending`: the approval queue).
/// Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(SubscriptionListQuery),
    responses(
        (status = 200, body = Page<AdminSubscriptionDto>),
    )
)]
#[get("/admin/subscriptions")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<SubscriptionListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let user_id = query_uuid(query.user_id.as_deref(), "user_id")?.map(UserId);
    let page = state
        .services
        .list_all_subscriptions
        .execute(
            &actor,
            ListAllSubscriptionsRequest {
                status: query.status,
                user_id,
                model_id: query.model_id,
                cursor: query.cursor,
                limit: query.limit,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        items: page.items.iter().map(AdminSubscriptionDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A subscription's status history, oldest first: who changed it, when and why. Administrators and
/// auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ItemList<StatusChangeDto>),
    )
)]
#[get("/admin/subscriptions/{id}/history")]
pub async fn history(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let history = state
        .services
        .subscription_history
        .execute(&actor, SubscriptionId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(ItemList {
        items: history
            .iter()
            .map(StatusChangeDto::from)
            .collect::<Vec<_>>(),
    }))
}

/// Subscribe a user to a model, `active` at once, also for a restricted model (a pending, cancelled or
/// rejected subscription becomes active in place). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    request_body = GrantSubscriptionBody,
    responses(
        (status = 201, body = SubscriptionDto),
        (status = 409, description = "The user already has an active or suspended subscription to the model", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such user or model, or a quota above the maximum", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/subscriptions")]
pub async fn grant(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<GrantSubscriptionBody>,
) -> Result<HttpResponse, ApiError> {
    let quota = body
        .quota
        .map(|q| q.into_limits("quota"))
        .transpose()
        .map_err(ApiError::validation)?;
    let sub = state
        .services
        .grant_subscription
        .execute(
            &actor,
            GrantSubscriptionRequest {
                user_id: UserId(body.user_id),
                model_id: body.model_id,
                quota,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/subscriptions/{}", sub.id)))
        .json(SubscriptionDto::from(&sub)))
}

/// Approve pending subscriptions. Each is decided on its own: the answer says, per id, whether it was
/// approved or why not (no longer pending, unknown, or failed — nothing half-done). Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    request_body = ApproveBody,
    responses(
        (status = 200, body = DecisionResult),
    )
)]
#[post("/admin/subscriptions/approve")]
pub async fn approve(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    let ids = body.ids.into_iter().map(SubscriptionId).collect();
    let outcomes = state
        .services
        .decide_subscriptions
        .execute(&actor, ids, Decision::Approve)
        .await?;
    Ok(HttpResponse::Ok().json(DecisionResult::new(&outcomes)))
}

/// Reject pending subscriptions with a reason (required, 1 to 500 characters; the users see it). Each is
/// decided on its own, as for approvals. A rejected user may ask again. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    request_body = RejectBody,
    responses(
        (status = 200, body = DecisionResult),
    )
)]
#[post("/admin/subscriptions/reject")]
pub async fn reject(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<RejectBody>,
) -> Result<HttpResponse, ApiError> {
    let ids = body.ids.into_iter().map(SubscriptionId).collect();
    let outcomes = state
        .services
        .decide_subscriptions
        .execute(
            &actor,
            ids,
            Decision::Reject {
                reason: body.reason,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(DecisionResult::new(&outcomes)))
}

async fn control(
    state: &ApiState,
    actor: &keyport_domain::users::Actor,
    id: Uuid,
    action: SubscriptionAction,
) -> Result<HttpResponse, ApiError> {
    let subscription = state
        .services
        .control_subscription
        .execute(actor, SubscriptionId(id), action)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionDto::from(&subscription)))
}

/// Suspend an active subscription, with a reason the user sees: its model leaves the user's keys and
/// LiteLLM pool at once; a key that served only suspended subscriptions is blocked (not revoked) until one
/// is reactivated. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = SubscriptionReasonBody,
    responses(
        (status = 200, body = SubscriptionDto),
        (status = 409, description = "The subscription is not active, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/subscriptions/{id}/suspend")]
pub async fn suspend(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<SubscriptionReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let action = SubscriptionAction::Suspend {
        reason: body.reason,
    };
    control(&state, &actor, id.into_inner(), action).await
}

/// Reactivate a suspended subscription: its model returns to the keys bound to it and to the user's
/// LiteLLM pool. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SubscriptionDto),
        (status = 409, description = "The subscription is not suspended, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/subscriptions/{id}/reactivate")]
pub async fn reactivate(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    control(
        &state,
        &actor,
        id.into_inner(),
        SubscriptionAction::Reactivate,
    )
    .await
}

/// Revoke a pending, active or suspended subscription, with a reason the user sees: it becomes
/// `cancelled`; keys that served only it are revoked, the others lose its model. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = SubscriptionReasonBody,
    responses(
        (status = 200, body = SubscriptionDto),
        (status = 409, description = "The subscription is already cancelled or rejected, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/subscriptions/{id}/revoke")]
pub async fn revoke(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<SubscriptionReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let action = SubscriptionAction::Revoke {
        reason: body.reason,
    };
    control(&state, &actor, id.into_inner(), action).await
}

/// Change an active or suspended subscription's quota (its pool in LiteLLM follows at once: the budget
/// per window shared by all the user's keys on the model, and the requests and tokens per minute). Keys'
/// own limits stay as sub-limits within it. Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = SubscriptionQuotaBody,
    responses(
        (status = 200, body = SubscriptionDto),
        (status = 409, description = "The subscription is not active or suspended, or changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin/subscriptions/{id}/quota")]
pub async fn change_quota(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<SubscriptionQuotaBody>,
) -> Result<HttpResponse, ApiError> {
    let quota = body
        .quota
        .into_limits("quota")
        .map_err(keyport_domain::Error::Invalid)?;
    control(
        &state,
        &actor,
        id.into_inner(),
        SubscriptionAction::ChangeQuota(quota),
    )
    .await
}

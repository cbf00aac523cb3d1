use crate::dto::{CreateSubscription, ItemList, SubscriptionDto};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, JsonBody};
use crate::ApiState;
use actix_web::{get, post, web, HttpResponse};
use keyport_domain::ids::SubscriptionId;
use uuid::Uuid;

/// Your subscriptions, newest first.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "subscriptions",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ItemList<SubscriptionDto>),
    )
)]
#[get("/subscriptions")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let subs = state.services.list_subscriptions.execute(&actor).await?;
    Ok(HttpResponse::Ok().json(ItemList {
        items: subs.iter().map(SubscriptionDto::from).collect::<Vec<_>>(),
    }))
}

/// Subscribe to a model. Open models answer an `active` subscription, restricted ones a `pending` one that
/// an administrator approves. Subscribing again after cancelling reuses the subscription.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "subscriptions",
    security(("bearer" = [])),
    request_body = CreateSubscription,
    responses(
        (status = 201, body = SubscriptionDto),
        (status = 409, description = "Already subscribed, or the model is unavailable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such model", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/subscriptions")]
pub async fn create(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    let sub = state
        .services
        .subscribe
        .execute(&actor, &body.model_id)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/subscriptions/{}", sub.id)))
        .json(SubscriptionDto::from(&sub)))
}

/// One of your subscriptions.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "subscriptions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SubscriptionDto),
    )
)]
#[get("/subscriptions/{id}")]
pub async fn get(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let sub = state
        .services
        .get_subscription
        .execute(&actor, SubscriptionId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionDto::from(&sub)))
}

/// Cancel one of your subscriptions. Refused (409) while live keys use it: revoke them first.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "subscriptions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SubscriptionDto),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/subscriptions/{id}/cancel")]
pub async fn cancel(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let sub = state
        .services
        .cancel_subscription
        .execute(&actor, SubscriptionId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionDto::from(&sub)))
}

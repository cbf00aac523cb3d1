//! `/admin/models`: what administrators decide about a model.

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody};
use crate::routes::admin_dto::{ModelUpdatedDto, UpdateModelBody};
use crate::ApiState;
use actix_web::{patch, web, HttpResponse};

/// Change a model: restricted (needs approval), hidden, display name, description, default quota of new
/// subscriptions. Making it no longer restricted approves its pending subscriptions in the same change.
/// Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The model's id (LiteLLM model name; may contain `/`)")),
    request_body = UpdateModelBody,
    responses(
        (status = 200, body = ModelUpdatedDto),
    )
)]
#[patch("/admin/models/{id:.+}")]
pub async fn update(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<UpdateModelBody>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_changes()?;
    let updated = state
        .services
        .update_model
        .execute(&actor, &id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(ModelUpdatedDto::from(&updated)))
}

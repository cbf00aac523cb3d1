//! `/admin/settings` (defaults and maximums for self-service subscriptions and keys) and their read-only
//! view for everyone, `/settings/self-service`.

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody};
use crate::routes::admin_dto::{AdminSettingsDto, SettingsDto};
use crate::ApiState;
use actix_web::{get, put, web, HttpResponse};

fn with_source(
    settings: &keyport_domain::settings::SelfServiceSettings,
    stored: bool,
) -> AdminSettingsDto {
    AdminSettingsDto {
        settings: settings.into(),
        source: if stored { "stored" } else { "configuration" }.to_owned(),
        available_routes: keyport_domain::access::INFERENCE_ROUTES
            .iter()
            .map(|r| (*r).to_owned())
            .collect(),
    }
}

/// The self-service settings in force, and whether an administrator saved them (`stored`) or they are
/// still the server's configuration. Administrators and auditors.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AdminSettingsDto),
    )
)]
#[get("/admin/settings")]
pub async fn get(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (settings, stored) = state.services.read_settings.execute(&actor).await?;
    Ok(HttpResponse::Ok().json(with_source(&settings, stored)))
}

/// Replace the self-service settings (every field: an absent limit is unlimited, an absent lifetime none).
/// They apply at once to new subscriptions and to keys created, changed or rotated from now on.
/// Administrators only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("admin"))),
    tag = "admin",
    security(("bearer" = [])),
    request_body = SettingsDto,
    responses(
        (status = 200, body = AdminSettingsDto),
    )
)]
#[put("/admin/settings")]
pub async fn put(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<SettingsDto>,
) -> Result<HttpResponse, ApiError> {
    let settings = body.into_settings().map_err(ApiError::validation)?;
    let saved = state
        .services
        .save_settings
        .execute(&actor, settings)
        .await?;
    Ok(HttpResponse::Ok().json(with_source(&saved, true)))
}

/// The defaults and maximums for what you may ask for: the quota cap of new subscriptions, the limits key
/// forms prefill, the most a key may have, and key lifetimes. Any signed-in user.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "meta",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SettingsDto),
    )
)]
#[get("/settings/self-service")]
pub async fn self_service(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let settings = state.services.read_settings.self_service(&actor).await?;
    Ok(HttpResponse::Ok().json(SettingsDto::from(&settings)))
}

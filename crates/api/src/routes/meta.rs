use crate::dto::PublicConfig;
use crate::ApiState;
use actix_web::{get, web, HttpResponse};
use std::sync::Arc;

/// The rendered OpenAPI document, made once at start.
pub struct OpenApiJson(pub Arc<String>);

/// Public facts about this keyport: version, LiteLLM's URL for clients, enabled login methods.
#[utoipa::path(extensions(("x-keyport-access" = json!("public"))), tag = "meta", responses((status = 200, body = PublicConfig)))]
#[get("/config")]
pub async fn config(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(PublicConfig {
        version: state.config.version.clone(),
        litellm_base_url: state.config.litellm_public_url.clone(),
        dev_login: state.config.dev_login,
        oidc_enabled: state.services.begin_login.is_some(),
    })
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(extensions(("x-keyport-access" = json!("public"))), tag = "meta", responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
#[get("/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.as_str().to_owned())
}

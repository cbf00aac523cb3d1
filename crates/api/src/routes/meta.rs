use crate::dto::PublicConfig;
use crate::ApiState;
use actix_web::{get, web, HttpResponse};

/// Public facts about this keyport: version, LiteLLM's URL for clients, enabled login methods.
#[utoipa::path(tag = "meta", responses((status = 200, body = PublicConfig)))]
#[get("/config")]
pub async fn config(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(PublicConfig {
        version: state.config.version.clone(),
        litellm_base_url: state.config.litellm_public_url.clone(),
        dev_login: false,
    })
}

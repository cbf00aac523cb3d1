use crate::dto::{ItemList, ModelDto};
use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::ApiState;
use actix_web::{get, web, HttpResponse};

/// The model catalog: every model you may see, with prices, context window and whether it needs approval.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "models",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ItemList<ModelDto>),
    )
)]
#[get("/models")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let models = state.services.list_models.execute(&actor).await?;
    Ok(HttpResponse::Ok().json(ItemList {
        items: models.iter().map(ModelDto::from).collect::<Vec<_>>(),
    }))
}

/// One model. Its id may contain `/` (e.g. `meta-llama/Llama-3.1-8B-Instruct`).
#[utoipa::path(
    extensions(("x-keyport-access" = json!("member"))),
    tag = "models",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The model's id (LiteLLM model name)")),
    responses(
        (status = 200, body = ModelDto),
    )
)]
#[get("/models/{id:.+}")]
pub async fn get(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = state.services.get_model.execute(&actor, &id).await?;
    Ok(HttpResponse::Ok().json(ModelDto::from(&model)))
}

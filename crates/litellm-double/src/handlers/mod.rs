//! The routes, one module per area of LiteLLM's API.

pub mod chat;
pub mod health;
pub mod key;
pub mod models;
mod rows;
pub mod spend;
pub mod team;
pub mod user;

use crate::errors::{DetailItem, Failure};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

/// Registers every route the double serves; a known path with the wrong method answers 405.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str, route: actix_web::Route| {
        web::resource(path)
            .route(route)
            .default_service(web::to(method_not_allowed))
    };
    cfg.service(resource(
        "/key/generate",
        web::post().to(key::generate::handle),
    ))
    .service(resource("/key/info", web::get().to(key::info::handle)))
    .service(resource("/key/block", web::post().to(key::block::block)))
    .service(resource(
        "/key/unblock",
        web::post().to(key::block::unblock),
    ))
    .service(resource("/key/delete", web::post().to(key::delete::handle)))
    .service(resource("/key/update", web::post().to(key::update::handle)))
    .service(resource("/key/list", web::get().to(key::list::handle)))
    .service(resource("/user/new", web::post().to(user::new)))
    .service(resource("/user/info", web::get().to(user::info)))
    .service(resource("/user/update", web::post().to(user::update)))
    .service(resource("/user/list", web::get().to(user::list)))
    .service(resource("/team/new", web::post().to(team::new)))
    .service(resource("/team/info", web::get().to(team::info)))
    .service(resource("/team/update", web::post().to(team::update)))
    .service(resource(
        "/team/member_add",
        web::post().to(team::member_add),
    ))
    .service(resource("/spend/logs/v2", web::get().to(spend::logs_v2)))
    .service(resource(
        "/model_group/info",
        web::get().to(models::model_group_info),
    ))
    .service(resource("/model/info", web::get().to(models::model_info)))
    .service(resource(
        "/v1/model/info",
        web::get().to(models::model_info),
    ))
    .service(resource("/v1/models", web::get().to(models::list)))
    .service(resource("/models", web::get().to(models::list)))
    .service(resource(
        "/v1/chat/completions",
        web::post().to(chat::completions),
    ))
    .service(resource(
        "/chat/completions",
        web::post().to(chat::completions),
    ))
    .service(resource(
        "/health/readiness",
        web::get().to(health::readiness),
    ))
    .service(resource(
        "/health/liveliness",
        web::get().to(health::liveliness),
    ))
    .service(resource(
        "/health/liveness",
        web::get().to(health::liveliness),
    ));
}

async fn method_not_allowed() -> Result<HttpResponse, Failure> {
    Err(Failure::Detail {
        status: 405,
        detail: "Method Not Allowed".to_owned(),
    })
}

/// FastAPI's answer for a path it does not know.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, Failure> {
    Err(Failure::Detail {
        status: 404,
        detail: "Not Found".to_owned(),
    })
}

/// The query string as pairs (lenient: an undecodable query reads as empty).
pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

pub fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    query_pairs(req)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A bounded integer query parameter, with FastAPI's 422 items.
pub fn int_param(
    value: Option<&str>,
    name: &str,
    default: u64,
    max: Option<u64>,
    errors: &mut Vec<DetailItem>,
) -> u64 {
    let loc = || vec![Value::from("query"), Value::from(name)];
    let Some(raw) = value else {
        return default;
    };
    match raw.trim().parse::<i64>() {
        Err(_) => {
            errors.push(DetailItem::new(
                "int_parsing",
                loc(),
                "Input should be a valid integer, unable to parse string as an integer",
            ));
            default
        }
        Ok(n) if n < 1 => {
            errors.push(DetailItem::new(
                "greater_than_equal",
                loc(),
                "Input should be greater than or equal to 1",
            ));
            default
        }
        Ok(n) if max.is_some_and(|m| n.unsigned_abs() > m) => {
            errors.push(DetailItem::new(
                "less_than_equal",
                loc(),
                format!(
                    "Input should be less than or equal to {}",
                    max.unwrap_or_default()
                ),
            ));
            default
        }
        Ok(n) => n.unsigned_abs(),
    }
}

/// An optional float query parameter, with FastAPI's 422 item when it is not a number.
pub fn float_param(value: Option<&str>, name: &str, errors: &mut Vec<DetailItem>) -> Option<f64> {
    let raw = value?;
    match raw.trim().parse::<f64>() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push(DetailItem::new(
                "float_parsing",
                vec![Value::from("query"), Value::from(name)],
                "Input should be a valid number, unable to parse string as a number",
            ));
            None
        }
    }
}

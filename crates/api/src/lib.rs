//! keyport's REST API: the actix-web routes under `/api/v1`, the authenticated-caller and JSON-body
//! extractors, the problem+json error mapping and the OpenAPI document generated from the handlers. Handlers
//! only parse, call a use case from `keyport-domain` and map the answer; the server crate builds the
//! [`Services`] from concrete adapters and mounts [`app`].

pub mod authz;
pub mod client;
pub mod cookies;
pub mod dto;
pub mod error;
pub mod extract;
mod middleware;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod schema;
mod state;
#[path = "web.rs"] // `web` is actix-web's module here
mod web_ui;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpRequest, HttpResponse};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use utoipa_actix_web::AppExt;

pub use error::{ApiError, Problem, ProblemCode};
pub use state::{
    ApiConfig, ApiState, Metrics, OidcLogin, Ports, Readiness, ReadinessCheck, ServicePolicy,
    Services, HSTS,
};

/// The whole HTTP application: `/api/v1/*`, `/api/v1/openapi.json`, `/api/docs`, `/healthz`, `/readyz`, and
/// a fallback that answers problem+json for unknown API paths and serves the web app (`web.rs`, with the SPA
/// fallback) everywhere else.
pub fn app(
    state: web::Data<ApiState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, document) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(state)
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::new(ProblemCode::NotFound, format!("no such resource: {err}")).into()
        }))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _| ApiError::malformed(err.to_string()).into()),
        )
        .service(utoipa_actix_web::scope("/api/v1").configure(routes::configure))
        .split_for_parts();
    let document = Arc::new(openapi::finish(document));
    let json = Arc::new(document.to_pretty_json().unwrap_or_default());
    let routes = Arc::new(RouteTable::from_document(&document));
    let rules = web::Data::new(authz::Rules::from_document(&document));
    for undeclared in rules.undeclared() {
        tracing::error!(method = %undeclared.method, path = %undeclared.path, why = %undeclared.why, "API route without a valid access declaration: refused to everybody");
    }
    app.app_data(web::Data::new(routes::meta::OpenApiJson(json)))
        .app_data(rules)
        .route("/api/docs", web::route().to(api_docs))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .default_service(web::to(move |req: HttpRequest| {
            fallback(req, routes.clone())
        }))
        .wrap(actix_web::middleware::from_fn(authz::authorize))
        .wrap(actix_web::middleware::from_fn(middleware::request_context))
        .wrap(actix_web::middleware::from_fn(middleware::edge_headers))
}

/// The API reference page (`web.rs`): served from the binary under the web app's CSP, no CDN.
async fn api_docs(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    web_ui::api_docs(&req, &web_ui::Embedded)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn metrics(state: web::Data<ApiState>, req: HttpRequest) -> HttpResponse {
    if let Some(wanted) = &state.config.metrics_token {
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if presented.as_bytes().ct_eq(wanted.as_bytes()).unwrap_u8() != 1 {
            return HttpResponse::Unauthorized()
                .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
                .content_type("text/plain")
                .body("the metrics need KEYPORT_METRICS_TOKEN as a bearer token\n");
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render().await)
}

async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let checks = state.readiness.check().await;
    let ready = checks.iter().all(|c| c.ok);
    for check in checks.iter().filter(|c| !c.ok) {
        tracing::warn!(
            check = check.name,
            detail = check.detail.as_deref().unwrap_or("-"),
            "not ready"
        );
    }
    let body =
        serde_json::json!({"status": if ready { "ready" } else { "not ready" }, "checks": checks});
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The API's paths and their methods, from the OpenAPI document, to tell "no such route" (404) from "not
/// with this method" (405).
struct RouteTable(Vec<(Vec<String>, Vec<String>)>);

impl RouteTable {
    fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        Self(
            document
                .paths
                .paths
                .iter()
                .map(|(path, item)| {
                    let segments = path.split('/').map(str::to_owned).collect();
                    let value = serde_json::to_value(item).unwrap_or_default();
                    let methods = value
                        .as_object()
                        .map(|o| {
                            o.keys()
                                .filter(|k| {
                                    !matches!(k.as_str(), "parameters" | "summary" | "description")
                                })
                                .map(|k| k.to_ascii_uppercase())
                                .collect()
                        })
                        .unwrap_or_default();
                    (segments, methods)
                })
                .collect(),
        )
    }

    fn methods_for(&self, path: &str) -> Option<&[String]> {
        let actual: Vec<&str> = path.split('/').collect();
        self.0.iter().find_map(|(template, methods)| {
            let matches = template.len() == actual.len()
                && template
                    .iter()
                    .zip(&actual)
                    .all(|(t, a)| t == a || (t.starts_with('{') && !a.is_empty()));
            matches.then_some(methods.as_slice())
        })
    }
}

async fn fallback(req: HttpRequest, routes: Arc<RouteTable>) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") {
        if let Some(methods) = routes.methods_for(path) {
            let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
            return Err(ApiError::method_not_allowed(
                req.method().as_str(),
                path,
                &methods,
            ));
        }
        return Err(ApiError::route_not_found(path));
    }
    web_ui::serve(&req, &web_ui::Embedded)
}

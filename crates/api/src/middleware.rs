//! Request context: keyport's own request id for every request (a new UUID v4; a client's `x-request-id` is
//! kept apart as the client's id, never used as keyport's), one access-log line, and a guarantee that every error answer under `/api` is problem+json, including the ones actix-web makes itself
//! (405 for a wrong method, for example).

use crate::error::{ApiError, ProblemCode, PROBLEM_JSON};
use crate::extract::{ClientRequestId, RequestId};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};
use std::time::Instant;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    // keyport's id is always its own, so that the audit log's `request_id` names one request of keyport's
    // and a client cannot plant one (or make two requests share one); what the client sent is kept apart.
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = client_request_id(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    if let Some(client) = &client_request_id {
        req.extensions_mut().insert(ClientRequestId(client.clone()));
    }
    let method = req.method().clone();
    let path = req.path().to_owned();

    // PostgreSQL's text cannot hold NUL: an API path or query value carrying `%00` is refused (422, naming the
    // parameter; the request is well formed, the value is not allowed) before it gets there.
    let is_api = path == "/api" || path.starts_with("/api/");
    let nul_in = if !is_api {
        None
    } else if req.uri().path().contains("%00") {
        Some("path".to_owned())
    } else {
        req.query_string()
            .split('&')
            .find(|pair| pair.contains("%00"))
            .map(|pair| pair.split('=').next().unwrap_or_default().to_owned())
    };
    let response = match nul_in {
        Some(field) => {
            req.error_response(ApiError::validation(vec![keyport_domain::FieldError::new(
                field,
                "must not contain NUL characters (%00)",
            )]))
        }
        None => next.call(req).await?.map_into_boxed_body(),
    };
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let mut response =
        if (path == "/api" || path.starts_with("/api/")) && status.as_u16() >= 400 && !is_problem {
            let (req, _) = response.into_parts();
            let error = match status {
                StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                    ProblemCode::MethodNotAllowed,
                    format!("{method} is not allowed on {path}"),
                ),
                StatusCode::NOT_FOUND => ApiError::route_not_found(&path),
                s if s.is_server_error() => ApiError::new(
                    ProblemCode::Internal,
                    "something went wrong on keyport's side; it has been logged",
                )
                .with_status(s),
                s => ApiError::new(
                    ProblemCode::HttpError,
                    s.canonical_reason().unwrap_or("request refused"),
                )
                .with_status(s),
            };
            ServiceResponse::new(req, error.error_response())
        } else {
            response
        };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    tracing::info!(
        request_id = %request_id,
        client_request_id = client_request_id.as_deref(),
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(response)
}

/// The client's `x-request-id` when it is 1 to 128 printable ASCII characters (no spaces, no control
/// characters); anything else is dropped.
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
}

/// Headers every answer carries, errors and the web app included: `X-Content-Type-Options: nosniff`
/// (browsers never guess a type keyport did not send), and `Strict-Transport-Security` when keyport's public
/// URL is https.
pub async fn edge_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let hsts = req
        .app_data::<actix_web::web::Data<crate::ApiState>>()
        .is_some_and(|state| state.config.hsts);
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(crate::HSTS),
        );
    }
    Ok(response)
}

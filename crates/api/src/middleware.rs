//! Request context: a request id for every request (from `x-request-id` or new), one access-log line, and a
//! guarantee that every error answer under `/api` is problem+json, including the ones actix-web makes itself
//! (405 for a wrong method, for example).

use crate::error::{ApiError, PROBLEM_JSON};
use crate::extract::RequestId;
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
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let path = req.path().to_owned();

    let response = next.call(req).await?.map_into_boxed_body();
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
                    status,
                    "method-not-allowed",
                    "Method not allowed",
                    format!("{method} is not allowed on {path}"),
                ),
                StatusCode::NOT_FOUND => ApiError::route_not_found(&path),
                s if s.is_server_error() => ApiError::new(
                    s,
                    "internal",
                    "Internal error",
                    "something went wrong on keyport's side; it has been logged",
                ),
                s => ApiError::new(
                    s,
                    "http-error",
                    "Request refused",
                    s.canonical_reason().unwrap_or("request refused").to_owned(),
                ),
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
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(response)
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

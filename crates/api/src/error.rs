//! Every error the API answers is an RFC 9457 `application/problem+json` document with a stable `type`
//! (`urn:keyport:problem:<code>`), a human `detail`, and `errors[]` naming the fields that were wrong. This is
//! the one place that maps domain errors to HTTP.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use keyport_domain::{Error, FieldError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every problem `code` keyport answers, so that clients can switch on them; the OpenAPI document declares
/// `Problem.code` as this enum, and docs/api.md explains each. A test keeps the list and the code in step.
pub const PROBLEM_CODES: &[&str] = &[
    "validation",
    "malformed-request",
    "unsupported-media-type",
    "payload-too-large",
    "unauthenticated",
    "forbidden",
    "insufficient-scope",
    "csrf",
    "no-access-rule",
    "not-found",
    "route-not-found",
    "method-not-allowed",
    "conflict",
    "rate-limited",
    "dev-login-disabled",
    "oidc-not-configured",
    "login-state-invalid",
    "login-browser-mismatch",
    "login-rejected",
    "login-forbidden",
    "identity-provider-unavailable",
    "litellm-rejected",
    "litellm-unavailable",
    "database-unavailable",
    "http-error",
    "internal",
];

/// One wrong input.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's path in the request, e.g. `limits.max_budget` or `subscription_ids[1]`.
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable, machine-readable: `urn:keyport:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The same code without its prefix, e.g. `validation`; one of a fixed list (docs/api.md, "Errors").
    #[schema(schema_with = problem_code_schema)]
    pub code: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The first field that was wrong, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

fn problem_code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(PROBLEM_CODES.iter().copied()))
        .description(Some("The problem's stable code, e.g. `validation`"))
        .build()
}

/// The API layer's error: a status, a stable code and what to tell the caller.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldProblem>,
    /// Seconds to wait before trying again (`Retry-After`), for 429 and 503 answers.
    pub retry_after: Option<u64>,
    /// The methods the resource answers (`Allow`), for 405 answers (RFC 9110 §15.5.6).
    pub allow: Option<Box<str>>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            allow: None,
        }
    }

    /// 405 for a method the resource does not answer, with the `Allow` header listing the ones it does.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> Self {
        let allow = allowed.join(", ");
        let mut out = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not allowed on {path}; use {allow}"),
        );
        out.allow = Some(allow.into_boxed_str());
        out
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldProblem {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut out = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
            detail,
        );
        out.errors = errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field,
                message: e.message,
            })
            .collect();
        out
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "sign in, or send a valid personal access token as 'Authorization: Bearer kp_pat_…'",
        )
    }

    pub fn route_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "route-not-found",
            "No such API route",
            format!("there is no API route {path}; see /api/v1/openapi.json"),
        )
    }

    pub fn problem(&self) -> Problem {
        debug_assert!(
            PROBLEM_CODES.contains(&self.code),
            "problem code {} is not in PROBLEM_CODES",
            self.code
        );
        Problem {
            problem_type: format!("urn:keyport:problem:{}", self.code),
            code: self.code.to_owned(),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.errors.first().map(|e| e.field.clone()),
            errors: self.errors.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code = self.code, detail = %self.detail, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, &**allow));
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(errors) => Self::validation(errors),
            Error::NotFound { entity } => Self::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                format!("no such {entity}"),
            ),
            Error::Conflict { field, message } => {
                let out = Self::new(StatusCode::CONFLICT, "conflict", "Conflict", message.clone());
                match field {
                    Some(field) => out.with_field(field, message),
                    None => out,
                }
            }
            Error::Forbidden(detail) => Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail),
            Error::Unauthenticated => Self::unauthenticated(),
            Error::GatewayRejected(reason) => {
                // LiteLLM's own words can name its internals (tables, routes, other keys); they go to the log.
                tracing::warn!(%reason, "LiteLLM refused a change");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "litellm-rejected",
                    "LiteLLM refused the change",
                    "LiteLLM refused the change; an administrator finds LiteLLM's reason in keyport's log",
                )
            }
            Error::GatewayUnavailable { detail } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "litellm-unavailable",
                "LiteLLM is unavailable",
                detail,
            ),
            Error::StoreUnavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "The database is unavailable",
                "keyport's database did not answer; nothing was changed that you were told about. Try again in a moment.",
            ),
            Error::Internal(message) => {
                tracing::error!(%message, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "something went wrong on keyport's side; it has been logged",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn a_validation_error_is_problem_json_naming_the_fields() {
        let err: ApiError = Error::Invalid(vec![
            FieldError::new("name", "too long"),
            FieldError::new("limits.rpm_limit", "too high"),
        ])
        .into();
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["type"], "urn:keyport:problem:validation");
        assert_eq!(body["field"], "name");
        assert_eq!(body["errors"][1]["field"], "limits.rpm_limit");
        assert_eq!(body["status"], 422);
    }

    /// Every code literal handed to an `ApiError` in this crate's source is declared, every declared code is
    /// used, and docs/api.md explains each one.
    #[test]
    fn the_declared_problem_codes_are_exactly_the_ones_answered_and_documented() {
        fn sources(dir: &std::path::Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut source = String::new();
        sources(&root.join("src"), &mut source);
        // A code is the first string literal after a status (`StatusCode::X, "…"`), a status variable
        // (`ApiError::new(s, "…"`) or in `forbidden("…"`.
        let mut used = std::collections::BTreeSet::new();
        let mut rest = source.as_str();
        while let Some(at) = rest.find(['S', 'f']) {
            rest = &rest[at..];
            let after = if let Some(tail) = rest.strip_prefix("StatusCode::") {
                let end = tail
                    .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                    .unwrap_or(tail.len());
                tail[end..]
                    .trim_start()
                    .strip_prefix(',')
                    .map(str::trim_start)
            } else {
                rest.strip_prefix("forbidden(").map(str::trim_start)
            };
            if let Some(code) = after.and_then(|a| a.strip_prefix('"')) {
                let end = code.find('"').unwrap();
                if code[..end]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
                {
                    used.insert(code[..end].to_owned());
                }
            }
            rest = &rest[1..];
        }
        for (at, _) in source.match_indices("ApiError::new(") {
            let args = &source[at + "ApiError::new(".len()..];
            let second = args.split(',').nth(1).map(str::trim).unwrap_or_default();
            if let Some(code) = second.strip_prefix('"').and_then(|c| c.split('"').next()) {
                if code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                    used.insert(code.to_owned());
                }
            }
        }
        used.remove("no-store");
        let declared: std::collections::BTreeSet<String> =
            PROBLEM_CODES.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(
            used, declared,
            "codes answered (left) vs PROBLEM_CODES (right)"
        );
        let api_md = std::fs::read_to_string(root.join("../../docs/api.md")).unwrap();
        for code in PROBLEM_CODES {
            assert!(
                api_md.contains(&format!("| `{code}` |")),
                "docs/api.md's error table lacks `{code}`"
            );
        }
    }

    #[test]
    fn a_method_not_allowed_lists_the_allowed_ones_and_litellms_words_stay_in_the_log() {
        let response = ApiError::method_not_allowed("PUT", "/api/v1/models", &["GET", "HEAD"])
            .error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
        let err: ApiError =
            Error::GatewayRejected("table LiteLLM_VerificationToken: boom".into()).into();
        assert_eq!(err.status, StatusCode::BAD_GATEWAY);
        assert!(!err.problem().detail.contains("LiteLLM_VerificationToken"));
    }

    #[test]
    fn internal_details_are_not_shown_to_the_caller() {
        let err: ApiError = Error::Internal("connection string postgres://secret".into()).into();
        assert!(!err.problem().detail.contains("secret"));
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}

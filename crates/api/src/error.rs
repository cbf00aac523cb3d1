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

/// Declares [`ProblemCode`] from one row per code: its variant, its wire string, its status and its title, so
/// that [`ProblemCode::ALL`] cannot miss one.
macro_rules! problem_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, $title:literal;)*) => {
        /// Every problem `code` keyport answers, so that clients can switch on them: the OpenAPI document
        /// declares `Problem.code` as the enum of [`ProblemCode::ALL`], and docs/api.md ("Errors") explains
        /// each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($(#[$doc])* $variant,)*
        }

        impl ProblemCode {
            /// Every code, in the order the OpenAPI document lists them.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The code on the wire: `code`, and `type` after `urn:keyport:problem:`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The status the code is answered with. `http-error` and `internal` also stand for the other
            /// statuses of their class that actix answers before keyport's handlers; those answers pass the
            /// status on with [`ApiError::with_status`].
            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }

            /// The problem's `title`: the same for every answer with this code.
            pub const fn title(self) -> &'static str {
                match self {
                    $(Self::$variant => $title,)*
                }
            }
        }
    };
}

problem_codes! {
    Validation = "validation", UNPROCESSABLE_ENTITY, "Invalid input";
    MalformedRequest = "malformed-request", BAD_REQUEST, "Malformed request";
    UnsupportedMediaType = "unsupported-media-type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type";
    PayloadTooLarge = "payload-too-large", PAYLOAD_TOO_LARGE, "Body too large";
    Unauthenticated = "unauthenticated", UNAUTHORIZED, "Authentication required";
    Forbidden = "forbidden", FORBIDDEN, "Forbidden";
    InsufficientScope = "insufficient-scope", FORBIDDEN, "Forbidden";
    Csrf = "csrf", FORBIDDEN, "Forbidden";
    NoAccessRule = "no-access-rule", FORBIDDEN, "Forbidden";
    NotFound = "not-found", NOT_FOUND, "Not found";
    RouteNotFound = "route-not-found", NOT_FOUND, "No such API route";
    MethodNotAllowed = "method-not-allowed", METHOD_NOT_ALLOWED, "Method not allowed";
    Conflict = "conflict", CONFLICT, "Conflict";
    RateLimited = "rate-limited", TOO_MANY_REQUESTS, "Too many requests";
    DevLoginDisabled = "dev-login-disabled", NOT_FOUND, "Development login is off";
    OidcNotConfigured = "oidc-not-configured", NOT_FOUND, "Single sign-on is not configured";
    LoginStateInvalid = "login-state-invalid", BAD_REQUEST, "Login expired or invalid";
    LoginBrowserMismatch = "login-browser-mismatch", BAD_REQUEST, "Login started in another browser";
    LoginRejected = "login-rejected", UNAUTHORIZED, "Login rejected";
    LoginForbidden = "login-forbidden", FORBIDDEN, "Login not allowed";
    IdentityProviderUnavailable = "identity-provider-unavailable", SERVICE_UNAVAILABLE,
        "The identity provider is unavailable";
    LitellmRejected = "litellm-rejected", BAD_GATEWAY, "LiteLLM refused the change";
    LitellmUnavailable = "litellm-unavailable", SERVICE_UNAVAILABLE, "LiteLLM is unavailable";
    DatabaseUnavailable = "database-unavailable", SERVICE_UNAVAILABLE, "The database is unavailable";
    /// A refusal made before keyport's handlers that no other code names: 400, or the 4xx it relays.
    HttpError = "http-error", BAD_REQUEST, "Request refused";
    /// A bug: 500, or the 5xx made before keyport's handlers that it relays.
    Internal = "internal", INTERNAL_SERVER_ERROR, "Internal error";
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

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
    pub code: ProblemCode,
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
        .enum_values(Some(ProblemCode::ALL.iter().map(|c| c.as_str())))
        .description(Some("The problem's stable code, e.g. `validation`"))
        .build()
}

/// The API layer's error: a stable code, its status and what to tell the caller.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ProblemCode,
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
    /// An answer with `code`, at the code's status.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
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
            ProblemCode::MethodNotAllowed,
            format!("{method} is not allowed on {path}; use {allow}"),
        );
        out.allow = Some(allow.into_boxed_str());
        out
    }

    /// Answers with `status` rather than the code's own, for a code that stands for several
    /// ([`ProblemCode::status`]).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
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
        let mut out = Self::new(ProblemCode::Validation, detail);
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
        Self::new(ProblemCode::MalformedRequest, detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ProblemCode::Unauthenticated,
            "sign in, or send a valid personal access token as 'Authorization: Bearer kp_pat_…'",
        )
    }

    pub fn route_not_found(path: &str) -> Self {
        Self::new(
            ProblemCode::RouteNotFound,
            format!("there is no API route {path}; see /api/v1/openapi.json"),
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:keyport:problem:{}", self.code),
            code: self.code,
            title: self.code.title().to_owned(),
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
            tracing::error!(status = self.status.as_u16(), code = self.code.as_str(), detail = %self.detail, "request failed");
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
            Error::NotFound { entity } => {
                Self::new(ProblemCode::NotFound, format!("no such {entity}"))
            }
            Error::Conflict { field, message } => {
                let out = Self::new(ProblemCode::Conflict, message.clone());
                match field {
                    Some(field) => out.with_field(field, message),
                    None => out,
                }
            }
            Error::Forbidden(detail) => Self::new(ProblemCode::Forbidden, detail),
            Error::Unauthenticated => Self::unauthenticated(),
            Error::GatewayRejected(reason) => {
                // LiteLLM's own words can name its internals (tables, routes, other keys); they go to the log.
                tracing::warn!(%reason, "LiteLLM refused a change");
                Self::new(
                    ProblemCode::LitellmRejected,
                    "LiteLLM refused the change; an administrator finds LiteLLM's reason in keyport's log",
                )
            }
            Error::GatewayUnavailable { detail } => Self::new(ProblemCode::LitellmUnavailable, detail),
            Error::StoreUnavailable => Self::new(
                ProblemCode::DatabaseUnavailable,
                "keyport's database did not answer; nothing was changed that you were told about. Try again in a moment.",
            ),
            Error::Internal(message) => {
                tracing::error!(%message, "internal error");
                Self::new(
                    ProblemCode::Internal,
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

    /// docs/api.md's error table has a row `| `code` | status | … |` for every code, with the code's status
    /// (or its class, as `4xx`), and no row for a code keyport does not answer.
    #[test]
    fn every_problem_code_is_explained_in_the_api_docs_with_its_status() {
        let api_md = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
        )
        .unwrap();
        let table: std::collections::BTreeMap<&str, &str> = api_md
            .lines()
            .skip_while(|line| *line != "## Errors")
            .skip(1)
            .take_while(|line| !line.starts_with("## "))
            .filter_map(|line| {
                let mut cells = line.strip_prefix("| `")?.split(" | ");
                let code = cells.next()?.strip_suffix('`')?;
                let status = cells
                    .next()
                    .filter(|s| s.starts_with(|c: char| c.is_ascii_digit()))?;
                Some((code, status))
            })
            .collect();
        for code in ProblemCode::ALL {
            let status = code.status().as_u16().to_string();
            let documented = table.get(code.as_str()).copied();
            assert!(
                documented == Some(status.as_str())
                    || documented.is_some_and(|d| d.ends_with("xx") && status.starts_with(&d[..1])),
                "docs/api.md's error table gives `{code}` the status {documented:?}, not {status}"
            );
        }
        let answered: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        for documented in table.keys() {
            assert!(
                answered.contains(documented),
                "docs/api.md explains `{documented}`, which keyport does not answer"
            );
        }
    }

    #[test]
    fn a_code_stands_for_one_wire_string() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ProblemCode::ALL {
            assert!(seen.insert(code.as_str()), "`{code}` twice");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'));
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

//! Request extractors: a JSON body that reports the exact field that was wrong, and the authenticated
//! caller.

use crate::error::{ApiError, ProblemCode};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use futures::future::LocalBoxFuture;
use futures::future::{ready, Ready};
use futures::StreamExt;
use keyport_domain::users::{Actor, User};
use serde::de::DeserializeOwned;

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// keyport's id of the request: a UUID v4 the request-context middleware generates for every request (never
/// the client's), in the log lines, the audit log and the answer's `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The `x-request-id` the client sent (when it is 1 to 128 printable ASCII characters), kept apart from
/// keyport's [`RequestId`]: logged and recorded in the audit log as the client's correlation id only.
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// A JSON request body. Wrong content type → 415, too large → 413, not JSON → 400, JSON of the wrong shape
/// (wrong type, unknown or missing field) → 422 naming the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    ProblemCode::UnsupportedMediaType,
                    "send the body as JSON with 'Content-Type: application/json'",
                ));
            }
            let too_large = || {
                ApiError::new(
                    ProblemCode::PayloadTooLarge,
                    format!("the body may be at most {MAX_BODY_BYTES} bytes"),
                )
            };
            if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::malformed(format!("could not read the body: {e}")))?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

/// Whether a JSON text holds the escape `\u0000` (a NUL character: PostgreSQL's text cannot store one). Raw
/// control characters are not valid JSON, so the escape is the only way in; `\\u0000` (a backslash, then
/// `u0000`) is not one.
fn holds_nul_escape(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(at, w)| {
        w == b"\\u0000" && body[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// Parses a JSON object, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Every body keyport takes is an object; serde would also build a struct from an array (`[]` read as a
    // struct whose fields all default: found by schemathesis, it reset every setting).
    if body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b != b'{')
    {
        return Err(ApiError::validation(vec![keyport_domain::FieldError::new(
            "body",
            "send a JSON object",
        )]));
    }
    if holds_nul_escape(body) {
        return Err(ApiError::validation(vec![keyport_domain::FieldError::new(
            "body",
            "text must not contain NUL characters (\\u0000)",
        )]));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end()
                .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
            Ok(value)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = strip_position(&inner.to_string());
                    // The path names the field at fault, an unknown one included; a missing field is
                    // reported at its parent, so its name comes from the message.
                    let field = match (path.as_str(), missing_field(&message)) {
                        (".", Some(name)) => name,
                        (".", None) => "body".to_owned(),
                        (p, Some(name)) => format!("{p}.{name}"),
                        (p, None) => p.to_owned(),
                    };
                    Err(ApiError::validation(vec![keyport_domain::FieldError::new(
                        field, message,
                    )]))
                }
                _ => Err(ApiError::malformed(format!(
                    "the body is not valid JSON: {inner}"
                ))),
            }
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn quoted(message: &str, after: &str) -> Option<String> {
    let rest = &message[message.find(after)? + after.len()..];
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn missing_field(message: &str) -> Option<String> {
    quoted(message, "missing field ")
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A personal access token with these scopes, expiring then (`None`: never).
    Token {
        scopes: Vec<String>,
        expires_at: Option<DateTime<Utc>>,
    },
    /// A browser session with its CSRF token.
    Session {
        csrf_token: String,
        expires_at: DateTime<Utc>,
    },
}

/// The authenticated caller of a request, attached by the middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub user: User,
    pub credential: Credential,
}

/// The authenticated caller of an API request, as the authorization middleware (`authz.rs`)
/// attached it: a handler taking this runs only for callers its route's rule admits.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .map(|c| Authenticated(c.actor.clone()))
                .ok_or_else(ApiError::unauthenticated),
        )
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(ApiError::unauthenticated),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(
        dead_code,
        reason = "only deserialized, to see which field a parse error names"
    )]
    struct Body {
        name: String,
        limits: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(
        dead_code,
        reason = "only deserialized, to see which field a parse error names"
    )]
    struct Inner {
        rpm_limit: Option<u64>,
    }

    fn field_of(body: &str) -> (u16, Option<String>) {
        let err = parse_json::<Body>(body.as_bytes()).unwrap_err();
        (
            err.status.as_u16(),
            err.errors.first().map(|e| e.field.clone()),
        )
    }

    #[test]
    fn json_errors_name_the_field_at_fault() {
        assert_eq!(field_of(r#"{"name": 1}"#), (422, Some("name".into())));
        // Found by schemathesis: an array read as a struct of defaults, a NUL reaching PostgreSQL (500).
        assert_eq!(field_of("[]"), (422, Some("body".into())));
        assert_eq!(
            field_of(r#"{"description": "a\u0000b"}"#),
            (422, Some("body".into()))
        );
        assert!(!holds_nul_escape(br#"{"description": "a\\u0000b"}"#));
        assert_eq!(
            field_of(r#"{"name": "a", "nope": 1}"#),
            (422, Some("nope".into()))
        );
        assert_eq!(
            field_of(r#"{"name": "a", "limits": {"rpm_limit": -1}}"#),
            (422, Some("limits.rpm_limit".into()))
        );
        assert_eq!(
            field_of(r#"{"name": "a", "limits": {"x": 1}}"#),
            (422, Some("limits.x".into()))
        );
        assert_eq!(field_of(r#"{}"#), (422, Some("name".into())));
        assert_eq!(field_of(r#"{"name": "a""#), (400, None));
        assert_eq!(field_of(r#"{"name": "a"} trailing"#), (400, None));
    }
}

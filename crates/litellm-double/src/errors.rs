//! Error bodies exactly as LiteLLM 1.108.7 writes them (docs/litellm-contract.md#errors). Every failure a
//! handler answers is a [`Failure`]; its constructors are named after the LiteLLM code path that produces the
//! shape, so a handler says *how* LiteLLM fails, and this module alone knows what that looks like on the wire.

use crate::pyfmt;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

/// The `param` of a ProxyException: a field name, the literal string `"None"`, or JSON `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Field(String),
    NoneString,
    Null,
}

impl Serialize for Param {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Field(name) => serializer.serialize_str(name),
            Self::NoneString => serializer.serialize_str("None"),
            Self::Null => serializer.serialize_none(),
        }
    }
}

/// One item of a FastAPI/pydantic 422 answer; LiteLLM strips everything but these three keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetailItem {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
}

impl DetailItem {
    pub fn new(kind: &str, loc: Vec<serde_json::Value>, msg: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
        }
    }

    /// An item located in the request body, e.g. `["body", "max_budget"]`.
    pub fn body(kind: &str, path: &[&str], msg: impl Into<String>) -> Self {
        let mut loc = vec![serde_json::Value::from("body")];
        loc.extend(path.iter().map(|p| serde_json::Value::from(*p)));
        Self::new(kind, loc, msg)
    }

    /// A model-level validator's error: `"loc": ["body"]`, message prefixed `Value error, `.
    pub fn model_value_error(msg: &str) -> Self {
        Self::body("value_error", &[], format!("Value error, {msg}"))
    }
}

/// A failure answer of the double.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// `{"error": {"message", "type", "param", "code"}}`; `extra` fields go after `code`.
    Proxy {
        status: u16,
        message: String,
        kind: &'static str,
        param: Param,
        extra: Option<Box<(String, serde_json::Value)>>,
    },
    /// 422 `{"detail": [...]}`.
    Validation(Vec<DetailItem>),
    /// FastAPI's bare `{"detail": {"error": "…"}}`.
    DetailError { status: u16, error: String },
    /// `{"detail": "…"}` (unknown route, wrong method).
    Detail { status: u16, detail: String },
    /// An unhandled exception in a route: 500 without `param` or `code`.
    Unhandled,
    /// A body that is not JSON at all (a crash in middleware, a proxy in front).
    PlainText { status: u16, text: String },
    /// Another failure, answered with extra response headers (e.g. `retry-after` on a 429).
    WithHeaders {
        failure: Box<Failure>,
        headers: Vec<(&'static str, String)>,
    },
}

impl Failure {
    /// A `ProxyException` raised directly: clean message, meaningful type.
    pub fn proxy(
        status: u16,
        kind: &'static str,
        message: impl Into<String>,
        param: Param,
    ) -> Self {
        Self::Proxy {
            status,
            message: message.into(),
            kind,
            param,
            extra: None,
        }
    }

    /// `HTTPException(status, detail={"error": text})` passed through `handle_exception_on_proxy`.
    pub fn handled(status: u16, text: &str) -> Self {
        Self::proxy(
            status,
            "internal_server_error",
            pyfmt::error_dict_repr(text),
            Param::Null,
        )
    }

    /// A plain exception (or a plain-string detail) passed through `handle_exception_on_proxy`.
    pub fn handled_plain(status: u16, text: impl Into<String>) -> Self {
        Self::proxy(status, "internal_server_error", text, Param::Null)
    }

    /// `HTTPException(status, detail={"error": text})` re-wrapped inside `/key/update`.
    pub fn update_wrapped(status: u16, text: &str) -> Self {
        Self::proxy(
            status,
            "auth_error",
            pyfmt::error_dict_repr(text),
            Param::NoneString,
        )
    }

    /// A plain exception re-wrapped inside `/key/update`: 400 `Authentication Error, <text>`.
    pub fn update_plain(text: &str) -> Self {
        Self::proxy(
            400,
            "auth_error",
            format!("Authentication Error, {text}"),
            Param::NoneString,
        )
    }

    /// A generic authentication failure (`auth_error`, `param: "None"`).
    pub fn auth(status: u16, message: impl Into<String>) -> Self {
        Self::proxy(status, "auth_error", message, Param::NoneString)
    }

    pub fn validation(items: Vec<DetailItem>) -> Self {
        Self::Validation(items)
    }

    /// The same failure, answered with these extra headers.
    pub fn with_headers(self, headers: Vec<(&'static str, String)>) -> Self {
        Self::WithHeaders {
            failure: Box::new(self),
            headers,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Proxy { status, .. }
            | Self::DetailError { status, .. }
            | Self::Detail { status, .. }
            | Self::PlainText { status, .. } => *status,
            Self::Validation(_) => 422,
            Self::Unhandled => 500,
            Self::WithHeaders { failure, .. } => failure.status(),
        }
    }

    /// The body, byte for byte.
    pub fn body(&self) -> String {
        let value = match self {
            Self::Proxy {
                status,
                message,
                kind,
                param,
                extra,
            } => {
                #[derive(Serialize)]
                struct Inner<'a> {
                    message: &'a str,
                    #[serde(rename = "type")]
                    kind: &'a str,
                    param: &'a Param,
                    code: String,
                }
                let inner = Inner {
                    message,
                    kind,
                    param,
                    code: status.to_string(),
                };
                let mut text = serde_json::to_string(&inner).unwrap_or_default();
                if let Some(extra) = extra {
                    let (name, value) = extra.as_ref();
                    text.pop();
                    text.push_str(&format!(
                        ",{}:{}}}",
                        serde_json::Value::from(name.as_str()),
                        value
                    ));
                }
                return format!("{{\"error\":{text}}}");
            }
            Self::Validation(items) => {
                #[derive(Serialize)]
                struct Detail<'a> {
                    detail: &'a [DetailItem],
                }
                return serde_json::to_string(&Detail { detail: items }).unwrap_or_default();
            }
            Self::DetailError { error, .. } => serde_json::json!({ "detail": { "error": error } }),
            Self::Detail { detail, .. } => serde_json::json!({ "detail": detail }),
            Self::Unhandled => {
                return r#"{"error":{"message":"Internal server error","type":"internal_server_error"}}"#
                    .to_owned()
            }
            Self::PlainText { text, .. } => return text.clone(),
            Self::WithHeaders { failure, .. } => return failure.body(),
        };
        value.to_string()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.body())
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let (inner, headers) = match self {
            Self::WithHeaders { failure, headers } => (failure.as_ref(), headers.as_slice()),
            other => (other, &[][..]),
        };
        let content_type = match inner {
            Self::PlainText { .. } => "text/plain; charset=utf-8",
            _ => "application/json",
        };
        let mut response = HttpResponse::build(self.status_code());
        for (name, value) in headers {
            response.insert_header((*name, value.as_str()));
        }
        response.content_type(content_type).body(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_errors_have_a_string_code_and_the_param_forms() {
        let f = Failure::auth(401, "Authentication Error, No api key passed in.");
        assert_eq!(
            f.body(),
            r#"{"error":{"message":"Authentication Error, No api key passed in.","type":"auth_error","param":"None","code":"401"}}"#
        );
        assert_eq!(
            Failure::handled(404, "No keys found").body(),
            r#"{"error":{"message":"{'error': 'No keys found'}","type":"internal_server_error","param":null,"code":"404"}}"#
        );
    }

    #[test]
    fn validation_items_carry_exactly_type_loc_msg() {
        let f = Failure::validation(vec![DetailItem::body(
            "float_parsing",
            &["max_budget"],
            "Input should be a valid number, unable to parse string as a number",
        )]);
        assert_eq!(
            f.body(),
            r#"{"detail":[{"type":"float_parsing","loc":["body","max_budget"],"msg":"Input should be a valid number, unable to parse string as a number"}]}"#
        );
    }
}

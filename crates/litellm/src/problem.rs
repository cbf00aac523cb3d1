//! LiteLLM's error answers, in every shape it writes them (docs/litellm-contract.md#errors), decoded leniently
//! and classified into the domain's [`GatewayError`] by HTTP status first and `error.type` second.

use keyport_domain::GatewayError;
use reqwest::StatusCode;
use serde_json::Value;

/// What an error answer says, whatever its shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// A clean message (the text inside a `{'error': …}` repr, if that is what LiteLLM sent).
    pub message: String,
    /// `error.type`, when there is one.
    pub kind: Option<String>,
    /// The field at fault: `error.param` unless `"None"`/null, or the `loc` of a 422 item.
    pub field: Option<String>,
}

/// Longest message kept from a body that is not JSON.
const MAX_TEXT: usize = 200;

/// Decodes any error body: `{"error": {...}}`, `{"error": "…"}`, `{"detail": [...]}`,
/// `{"detail": {"error": …}}`, `{"detail": "…"}` or plain text.
pub fn decode(body: &[u8]) -> Problem {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let mut message: String = text.chars().take(MAX_TEXT).collect();
        if message.is_empty() {
            message = "(empty answer)".to_owned();
        }
        return Problem {
            message,
            ..Problem::default()
        };
    };
    if let Some(error) = value.get("error") {
        return match error {
            Value::Object(error) => Problem {
                message: clean_message(&text_of(error.get("message"))),
                kind: error.get("type").and_then(Value::as_str).map(str::to_owned),
                field: error.get("param").and_then(param_field),
            },
            other => Problem {
                message: clean_message(&text_of(Some(other))),
                ..Problem::default()
            },
        };
    }
    match value.get("detail") {
        Some(Value::Array(items)) => {
            let message = items
                .iter()
                .map(|item| text_of(item.get("msg")))
                .collect::<Vec<_>>()
                .join("; ");
            let field = items
                .first()
                .and_then(|item| item.get("loc"))
                .and_then(field_of_loc);
            Problem {
                message,
                kind: items
                    .first()
                    .and_then(|item| item.get("type"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                field,
            }
        }
        Some(Value::Object(detail)) => Problem {
            message: clean_message(&text_of(detail.get("error").or(detail.get("message")))),
            ..Problem::default()
        },
        Some(other) => Problem {
            message: clean_message(&text_of(Some(other))),
            ..Problem::default()
        },
        None => Problem {
            message: value.to_string().chars().take(MAX_TEXT).collect(),
            ..Problem::default()
        },
    }
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `param` names a field unless it is null or Python's `"None"`.
fn param_field(param: &Value) -> Option<String> {
    match param {
        Value::String(s) if !s.is_empty() && s != "None" => Some(s.clone()),
        _ => None,
    }
}

/// `["body", "max_budget"]` → `max_budget`; `["body", "models", 0]` → `models.0`; `["body"]` → none.
fn field_of_loc(loc: &Value) -> Option<String> {
    let parts: Vec<String> = loc
        .as_array()?
        .iter()
        .skip_while(|p| matches!(p.as_str(), Some("body" | "query" | "path" | "header")))
        .map(|p| match p {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

/// The text inside a Python repr `{'error': '…'}` or `{'error': "…"}`, unescaped; other messages as they
/// are.
pub fn clean_message(message: &str) -> String {
    let trimmed = message.trim();
    let Some(rest) = trimmed.strip_prefix("{'error': ") else {
        return trimmed.to_owned();
    };
    let Some(inner) = rest.strip_suffix('}') else {
        return trimmed.to_owned();
    };
    match inner.chars().next() {
        Some(q @ ('\'' | '"')) if inner.len() >= 2 && inner.ends_with(q) => {}
        _ => return trimmed.to_owned(),
    }
    let body = &inner[1..inner.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The field a `/user/new` 409 is about (it names none in `param`): `User with id … already exists` →
/// `user_id`, `User with email … already exists` → `user_email` (docs/litellm-contract.md#errors).
fn conflicting_user_field(message: &str) -> Option<&'static str> {
    if !message.ends_with(" already exists") {
        return None;
    }
    if message.starts_with("User with id ") {
        Some("user_id")
    } else if message.starts_with("User with email ") {
        Some("user_email")
    } else {
        None
    }
}

/// Classifies a non-success answer of a management call.
pub fn classify(status: StatusCode, body: &[u8]) -> GatewayError {
    let problem = decode(body);
    let code = status.as_u16();
    // `/key/update` naming a team LiteLLM does not have answers 404 too; it is not the key that is missing.
    if problem.message.starts_with("Team doesn't exist in db") {
        return GatewayError::Invalid {
            field: Some("team_id".to_owned()),
            message: problem.message,
        };
    }
    if code == 404 || problem.kind.as_deref() == Some("not_found_error") {
        return GatewayError::NotFound;
    }
    match code {
        401 | 403 => GatewayError::Unauthorized,
        409 => GatewayError::Conflict {
            field: problem
                .field
                .or_else(|| conflicting_user_field(&problem.message).map(str::to_owned))
                .unwrap_or_else(|| "unknown".to_owned()),
            message: problem.message,
        },
        400 if problem.field.as_deref() == Some("key_alias")
            && problem.message.contains("already exists") =>
        {
            GatewayError::Conflict {
                field: "key_alias".to_owned(),
                message: problem.message,
            }
        }
        // `/user/new` of a LiteLLM without its database (docs/litellm-contract.md#errors): not the request's
        // fault.
        400 if problem.message.starts_with("DB not connected") => {
            GatewayError::Unavailable(format!("LiteLLM answered {code}: {}", problem.message))
        }
        400 | 422 => GatewayError::Invalid {
            field: problem.field,
            message: problem.message,
        },
        408 | 429 | 500..=599 => {
            GatewayError::Unavailable(format!("LiteLLM answered {code}: {}", problem.message))
        }
        _ => GatewayError::Unexpected(format!("LiteLLM answered {code}: {}", problem.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn repr_messages_are_unwrapped_in_both_quote_styles() {
        assert_eq!(clean_message("{'error': 'No keys found'}"), "No keys found");
        assert_eq!(
            clean_message(r#"{'error': "Invalid budget_duration 'x'. Use a format like '1h'."}"#),
            "Invalid budget_duration 'x'. Use a format like '1h'."
        );
        assert_eq!(clean_message(r"{'error': 'it\'s'}"), "it's");
        assert_eq!(clean_message("Key not found."), "Key not found.");
    }

    #[test]
    fn code_may_be_a_number_and_param_none_names_no_field() {
        let p =
            decode(br#"{"error":{"message":"m","type":"auth_error","param":"None","code":401}}"#);
        assert_eq!(p.field, None);
        assert_eq!(p.kind.as_deref(), Some("auth_error"));
        let p = decode(br#"{"error":{"message":"m","type":"x","param":null,"code":"400"}}"#);
        assert_eq!(p.field, None);
        let p =
            decode(br#"{"error":{"message":"m","type":"x","param":"key","code":"404","extra":1}}"#);
        assert_eq!(p.field.as_deref(), Some("key"));
    }

    #[test]
    fn validation_lists_name_the_field_from_loc() {
        let body = br#"{"detail":[{"type":"float_parsing","loc":["body","max_budget"],"msg":"Input should be a valid number"}]}"#;
        assert_eq!(
            classify(status(422), body),
            GatewayError::Invalid {
                field: Some("max_budget".to_owned()),
                message: "Input should be a valid number".to_owned()
            }
        );
        let body = br#"{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, x"}]}"#;
        assert!(matches!(
            classify(status(422), body),
            GatewayError::Invalid { field: None, .. }
        ));
        let body = br#"{"detail":[{"type":"string_type","loc":["body","models",0],"msg":"m"}]}"#;
        assert!(
            matches!(classify(status(422), body), GatewayError::Invalid { field: Some(f), .. } if f == "models.0")
        );
    }

    #[test]
    fn every_shape_is_classified() {
        assert_eq!(
            classify(status(404), br#"{"error":{"message":"{'error': 'No keys found'}","type":"internal_server_error","param":null,"code":"404"}}"#),
            GatewayError::NotFound
        );
        assert_eq!(
            classify(
                status(403),
                br#"{"detail":{"error":"Only proxy admins ..."}}"#
            ),
            GatewayError::Unauthorized
        );
        assert!(matches!(
            classify(status(500), b"Internal Server Error"),
            GatewayError::Unavailable(m) if m.contains("Internal Server Error")
        ));
        assert!(matches!(
            classify(
                status(500),
                br#"{"error":{"message":"Internal server error","type":"internal_server_error"}}"#
            ),
            GatewayError::Unavailable(_)
        ));
        assert_eq!(
            classify(status(400), br#"{"error":{"message":"Key with alias 'a' already exists. Unique key aliases across all keys are required.","type":"bad_request_error","param":"key_alias","code":"400"}}"#),
            GatewayError::Conflict {
                field: "key_alias".to_owned(),
                message: "Key with alias 'a' already exists. Unique key aliases across all keys are required.".to_owned()
            }
        );
        assert_eq!(
            classify(status(400), br#"{"error":{"message":"{'error': 'max_budget must be a non-negative finite number. Received: -1.0'}","type":"internal_server_error","param":null,"code":"400"}}"#),
            GatewayError::Invalid {
                field: None,
                message: "max_budget must be a non-negative finite number. Received: -1.0".to_owned()
            }
        );
        assert_eq!(
            classify(status(409), br#"{"error":{"message":"{'error': 'User with email A@b.c already exists'}","type":"internal_server_error","param":null,"code":"409"}}"#),
            GatewayError::Conflict {
                field: "user_email".to_owned(),
                message: "User with email A@b.c already exists".to_owned()
            }
        );
        assert!(matches!(
            classify(status(409), br#"{"error":{"message":"{'error': 'Team exists'}","type":"internal_server_error","param":null,"code":"409"}}"#),
            GatewayError::Conflict { field, .. } if field == "unknown"
        ));
        assert!(matches!(
            classify(status(400), br#"{"error":{"message":"DB not connected. See https://docs.litellm.ai/docs/proxy/virtual_keys","type":"internal_server_error","param":null,"code":"400"}}"#),
            GatewayError::Unavailable(m) if m.contains("DB not connected")
        ));
        assert!(matches!(
            classify(status(302), b""),
            GatewayError::Unexpected(_)
        ));
    }
}

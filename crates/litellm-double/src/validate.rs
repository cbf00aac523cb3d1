//! Request bodies checked the way FastAPI and pydantic v2 (lax mode) check them, answering their 422
//! `{"detail": [...]}` with pydantic's types and messages, then read with pydantic's coercions
//! (`"10"` is a valid float, `3.0` a valid integer).

use crate::errors::{DetailItem, Failure};
use serde_json::{Map, Value};

/// A field's declared type (every field is optional, so `null` always passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Float,
    Int,
    Bool,
    StrList,
    Dict,
}

/// Parses a JSON object body, answering FastAPI's 422 for a missing, malformed or non-object body.
pub fn object_body(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::validation(vec![DetailItem::body(
            "missing",
            &[],
            "Field required",
        )]));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::validation(vec![DetailItem::body(
            "model_attributes_type",
            &[],
            "Input should be a valid dictionary or object to extract fields from",
        )])),
        Err(e) => {
            let offset = byte_offset(body, e.line(), e.column());
            Err(Failure::validation(vec![DetailItem::new(
                "json_invalid",
                vec![Value::from("body"), Value::from(offset)],
                "JSON decode error",
            )]))
        }
    }
}

fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, text) in body.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1);
        }
        offset += text.len() + 1;
    }
    body.len()
}

/// Checks every declared field present in `map`; unknown fields are ignored, as pydantic does.
pub fn check(map: &Map<String, Value>, fields: &[(&str, Kind)]) -> Result<(), Failure> {
    let mut items = Vec::new();
    for (name, kind) in fields {
        if let Some(value) = map.get(*name) {
            check_value(name, *kind, value, &mut items);
        }
    }
    if items.is_empty() {
        Ok(())
    } else {
        Err(Failure::validation(items))
    }
}

fn check_value(name: &str, kind: Kind, value: &Value, items: &mut Vec<DetailItem>) {
    if value.is_null() {
        return;
    }
    let item = |t: &str, msg: &str| DetailItem::body(t, &[name], msg);
    match kind {
        Kind::Str => {
            if !value.is_string() {
                items.push(item("string_type", "Input should be a valid string"));
            }
        }
        Kind::Float => match value {
            Value::Number(_) | Value::Bool(_) => {}
            Value::String(s) if s.trim().parse::<f64>().is_ok() => {}
            Value::String(_) => items.push(item(
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            )),
            _ => items.push(item("float_type", "Input should be a valid number")),
        },
        Kind::Int => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => {}
            Value::Number(n) => {
                if n.as_f64().is_some_and(|f| f.fract() != 0.0) {
                    items.push(item(
                        "int_from_float",
                        "Input should be a valid integer, got a number with a fractional part",
                    ));
                }
            }
            Value::Bool(_) => {}
            Value::String(s) if s.trim().parse::<i64>().is_ok() => {}
            Value::String(_) => items.push(item(
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            )),
            _ => items.push(item("int_type", "Input should be a valid integer")),
        },
        Kind::Bool => match value {
            Value::Bool(_) => {}
            Value::Number(n) if n.as_i64().is_some_and(|i| i == 0 || i == 1) => {}
            Value::String(s) if lax_bool(s).is_some() => {}
            Value::String(_) | Value::Number(_) => items.push(item(
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            )),
            _ => items.push(item("bool_type", "Input should be a valid boolean")),
        },
        Kind::StrList => match value {
            Value::Array(list) => {
                for (i, v) in list.iter().enumerate() {
                    if !v.is_string() {
                        items.push(DetailItem::new(
                            "string_type",
                            vec![Value::from("body"), Value::from(name), Value::from(i)],
                            "Input should be a valid string",
                        ));
                    }
                }
            }
            _ => items.push(item("list_type", "Input should be a valid list")),
        },
        Kind::Dict => {
            if !value.is_object() {
                items.push(item("dict_type", "Input should be a valid dictionary"));
            }
        }
    }
}

fn lax_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
        "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// A field's presence in a merge patch: absent, explicitly `null`, or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// Reads an already checked field with pydantic's coercions.
pub fn read<T>(
    map: &Map<String, Value>,
    name: &str,
    convert: impl Fn(&Value) -> Option<T>,
) -> Patch<T> {
    match map.get(name) {
        None => Patch::Absent,
        Some(Value::Null) => Patch::Null,
        Some(v) => convert(v).map_or(Patch::Null, Patch::Value),
    }
}

pub fn as_str(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i == 1),
        Value::String(s) => lax_bool(s),
        _ => None,
    }
}

pub fn as_str_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()
        .map(|list| list.iter().filter_map(as_str).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_budget_that_is_not_a_number_gets_pydantics_float_parsing() {
        let map = object_body(br#"{"max_budget":"abc"}"#).unwrap();
        let err = check(&map, &[("max_budget", Kind::Float)]).unwrap_err();
        assert_eq!(
            err.body(),
            r#"{"detail":[{"type":"float_parsing","loc":["body","max_budget"],"msg":"Input should be a valid number, unable to parse string as a number"}]}"#
        );
        let map = object_body(br#"{"max_budget":"10"}"#).unwrap();
        assert!(check(&map, &[("max_budget", Kind::Float)]).is_ok());
        assert_eq!(read(&map, "max_budget", as_f64), Patch::Value(10.0));
    }

    #[test]
    fn malformed_bodies_get_fastapi_answers() {
        assert_eq!(object_body(b"").unwrap_err().status(), 422);
        assert!(object_body(b"[1]")
            .unwrap_err()
            .body()
            .contains("model_attributes_type"));
        assert!(object_body(b"{nope")
            .unwrap_err()
            .body()
            .contains("json_invalid"));
    }
}

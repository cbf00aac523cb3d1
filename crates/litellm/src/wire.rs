//! LiteLLM's JSON, as the adapter sends and reads it. Reading is lenient
//! (docs/litellm-contract.md#release-differences): unknown fields are ignored, numbers may come as strings,
//! datetimes with `Z` or `+00:00` or without offset.

use chrono::{DateTime, NaiveDateTime, Utc};
use keyport_domain::GatewayError;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The body of `/key/generate`. Holds the secret: deliberately not `Debug`.
#[derive(Serialize)]
pub struct GenerateKeyBody<'a> {
    pub key: &'a str,
    pub key_alias: &'a str,
    pub user_id: String,
    pub models: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a Value>,
    pub team_id: &'a str,
    /// Never empty (LiteLLM reads `[]` as no restriction). No `key_type` is sent with it: LiteLLM's
    /// `handle_key_type` would overwrite explicit routes with a preset.
    pub allowed_routes: Vec<&'a str>,
    /// The spend the key starts with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<f64>,
}

/// The body of `/key/update`: the key's whole desired state. Every field is always sent, `null` included
/// (a merge patch: an absent field would keep LiteLLM's value). How "unlimited" is written is decided in
/// `client.rs` (`update_body`).
#[derive(Debug, Serialize)]
pub struct UpdateKeyBody<'a> {
    pub key: &'a str,
    pub models: Vec<&'a str>,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub tpm_limit: u64,
    pub rpm_limit: u64,
    pub duration: Option<String>,
    pub blocked: bool,
    pub metadata: Value,
    pub team_id: &'a str,
    pub allowed_routes: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct KeyRef<'a> {
    pub key: &'a str,
}

#[derive(Debug, Serialize)]
pub struct DeleteKeys<'a> {
    pub keys: [&'a str; 1],
}

/// The body of `/user/new`: a user without a key of its own (`auto_create_key: false`), with the view-only
/// role (no key management) and no model until `/user/update` gives it its subscriptions'
/// (`["no-default-models"]`: `[]` would be every model).
#[derive(Debug, Serialize)]
pub struct NewUserBody<'a> {
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_alias: Option<&'a str>,
    pub user_role: &'static str,
    pub models: [&'static str; 1],
    pub auto_create_key: bool,
}

/// The body of `/user/update` for a user's whole access: role, models and `model_max_budget` (replaced
/// whole, `{}` for none).
#[derive(Debug, Serialize)]
pub struct UserAccessBody {
    pub user_id: String,
    pub user_role: &'static str,
    pub models: Vec<String>,
    pub model_max_budget: BTreeMap<String, ModelBudgetBody>,
}

/// One `model_max_budget` entry, in `BudgetConfig`'s `budget_limit`/`time_period` spelling.
#[derive(Debug, Serialize)]
pub struct ModelBudgetBody {
    pub budget_limit: f64,
    pub time_period: String,
}

/// A team member as `/team/new` and `/team/member_add` take it.
#[derive(Debug, Serialize)]
pub struct MemberBody {
    pub user_id: String,
    pub role: &'static str,
}

/// The body of `/team/new`.
#[derive(Debug, Serialize)]
pub struct NewTeamBody<'a> {
    pub team_id: &'a str,
    pub team_alias: &'a str,
    pub members_with_roles: Vec<MemberBody>,
    pub models: [&'static str; 0],
    pub metadata: &'a Value,
}

/// The body of `/team/update`: the metadata, whole.
#[derive(Debug, Serialize)]
pub struct TeamUpdateBody<'a> {
    pub team_id: &'a str,
    pub metadata: &'a Value,
}

/// The body of `/team/member_add`.
#[derive(Debug, Serialize)]
pub struct MemberAddBody<'a> {
    pub team_id: &'a str,
    pub member: Vec<MemberBody>,
}

/// `/team/info`'s answer: the team row, of which keyport reads the members.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TeamInfoAnswer {
    #[serde(deserialize_with = "lenient_object")]
    pub team_info: Option<WireTeam>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireTeam {
    #[serde(deserialize_with = "lenient_values")]
    pub members_with_roles: Vec<Value>,
}

/// `/user/list`'s answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserListAnswer {
    #[serde(deserialize_with = "lenient_values")]
    pub users: Vec<Value>,
}

/// A user row of `/user/list`, the fields keyport compares with what it wants.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireUserState {
    pub user_id: Option<String>,
    pub user_role: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    pub models: Vec<String>,
    #[serde(deserialize_with = "lenient_map")]
    pub model_max_budget: BTreeMap<String, Value>,
    #[serde(deserialize_with = "lenient_strings")]
    pub teams: Vec<String>,
}

/// A `model_max_budget` entry as budget and window, in either `BudgetConfig` spelling
/// (`budget_limit`/`time_period` or `max_budget`/`budget_duration`; numbers may be strings); `None` when
/// either is missing.
pub fn model_budget_entry(value: &Value) -> Option<(f64, String)> {
    let entry = value.as_object()?;
    let limit = match entry
        .get("budget_limit")
        .or_else(|| entry.get("max_budget"))?
    {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    let window = entry
        .get("time_period")
        .or_else(|| entry.get("budget_duration"))?
        .as_str()?
        .to_owned();
    Some((limit, window))
}

fn lenient_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    })
}

/// The body of `/user/update`: the user's whole desired budget and limits, every field sent. How
/// "unlimited" is written is decided in `client.rs` (`Gateway::update_user`).
#[derive(Debug, Serialize)]
pub struct UpdateUserBody {
    pub user_id: String,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub tpm_limit: u64,
    pub rpm_limit: u64,
}

/// A user row as `/user/info` (`user_info`) and `/user/update` (`data`) write it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireUser {
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub user_alias: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    pub models: Vec<String>,
    #[serde(deserialize_with = "lenient_f64")]
    pub spend: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<String>,
    #[serde(deserialize_with = "lenient_u64")]
    pub tpm_limit: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub rpm_limit: Option<u64>,
}

/// `/user/info`'s answer. `keys` are full key rows (with `token`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserInfoAnswer {
    #[serde(deserialize_with = "lenient_object")]
    pub user_info: Option<WireUser>,
    #[serde(deserialize_with = "lenient_values")]
    pub keys: Vec<Value>,
}

/// `/user/update`'s answer: `{"user_id", "data": <row>}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserUpdateAnswer {
    #[serde(deserialize_with = "lenient_object")]
    pub data: Option<WireUser>,
}

/// One row of `/spend/logs/v2` (`LiteLLM_SpendLogs` columns).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireSpendLog {
    pub request_id: Option<String>,
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub model_group: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    pub spend: Option<f64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub prompt_tokens: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub completion_tokens: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub total_tokens: Option<u64>,
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
}

/// `/spend/logs/v2`'s answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpendLogsAnswer {
    #[serde(deserialize_with = "lenient_values")]
    pub data: Vec<Value>,
    #[serde(deserialize_with = "lenient_u64")]
    pub total: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub total_pages: Option<u64>,
}

/// A key row as `/key/generate`, `/key/info` (`info`), `/key/list` and `/key/update` write it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireKey {
    pub token: Option<String>,
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    pub models: Vec<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub blocked: Option<bool>,
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    #[serde(deserialize_with = "lenient_u64")]
    pub tpm_limit: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub rpm_limit: Option<u64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub spend: Option<f64>,
    pub budget_reset_at: Option<String>,
    pub expires: Option<String>,
    pub metadata: Option<Value>,
    pub team_id: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    pub allowed_routes: Vec<String>,
}

/// `/key/info`'s answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyInfoAnswer {
    pub info: Option<WireKey>,
}

/// `/key/list`'s answer. `keys` holds full objects with `return_full_object=true`, hashes otherwise.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyListAnswer {
    #[serde(deserialize_with = "lenient_values")]
    pub keys: Vec<Value>,
    #[serde(deserialize_with = "lenient_u64")]
    pub total_count: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub total_pages: Option<u64>,
}

/// One entry of `/model_group/info`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireModelGroup {
    pub model_group: String,
    #[serde(deserialize_with = "lenient_strings")]
    pub providers: Vec<String>,
    pub mode: Option<String>,
    #[serde(deserialize_with = "lenient_u64")]
    pub max_input_tokens: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub max_tokens: Option<u64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub input_cost_per_token: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub output_cost_per_token: Option<f64>,
    /// Everything else, where the `supports_*` flags are found.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl WireModelGroup {
    /// The names of the `supports_<name>: true` flags, sorted.
    pub fn supported(&self) -> Vec<String> {
        self.other
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .filter_map(|(k, _)| k.strip_prefix("supports_").map(str::to_owned))
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ModelGroupAnswer {
    pub data: Vec<WireModelGroup>,
}

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// An object read as `T`; `null` or anything else as `None`.
fn lenient_object<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(match Value::deserialize(d)? {
        value @ Value::Object(_) => serde_json::from_value(value).ok(),
        _ => None,
    })
}

fn lenient_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    })
}

/// A LiteLLM float as a decimal: its shortest round-trip digits (what Python printed), not the binary
/// expansion (`0.1`, not `0.1000000000000000055511151231257827`).
pub fn decimal(value: f64) -> Result<Decimal, GatewayError> {
    if !value.is_finite() {
        return Err(GatewayError::Unexpected(format!(
            "LiteLLM sent a non-finite amount ({value})"
        )));
    }
    let text = value.to_string();
    text.parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_f64_retain(value))
        .map(|d| d.normalize())
        .ok_or_else(|| {
            GatewayError::Unexpected(format!("LiteLLM sent an amount out of range ({text})"))
        })
}

/// A LiteLLM datetime: RFC 3339 with `Z` or an offset, or a naive datetime read as UTC.
pub fn datetime(value: &str) -> Result<DateTime<Utc>, GatewayError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(at) = DateTime::parse_from_str(value, format) {
            return Ok(at.with_timezone(&Utc));
        }
        if let Ok(at) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(at.and_utc());
        }
    }
    Err(GatewayError::Unexpected(format!(
        "LiteLLM sent a datetime keyport cannot read: {value:?}"
    )))
}

pub fn opt_datetime(value: Option<&str>) -> Result<Option<DateTime<Utc>>, GatewayError> {
    value.map(datetime).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_become_the_decimals_python_printed() {
        assert_eq!(decimal(0.1).unwrap().to_string(), "0.1");
        assert_eq!(decimal(1.35e-5).unwrap().to_string(), "0.0000135");
        assert_eq!(decimal(10.0).unwrap().to_string(), "10");
        assert_eq!(decimal(1.5e-7).unwrap().to_string(), "0.00000015");
        assert!(decimal(f64::NAN).is_err());
    }

    #[test]
    fn datetimes_are_read_in_every_form_litellm_writes() {
        let zulu = datetime("2026-12-24T12:00:00.123456Z").unwrap();
        assert_eq!(datetime("2026-12-24T12:00:00.123456+00:00").unwrap(), zulu);
        assert_eq!(datetime("2026-12-24T12:00:00.123456").unwrap(), zulu);
        assert_eq!(datetime("2026-12-24 12:00:00.123456+00:00").unwrap(), zulu);
        assert!(datetime("soon").is_err());
    }

    #[test]
    fn key_rows_are_read_leniently() {
        let row: WireKey = serde_json::from_str(
            r#"{"token":"t","models":null,"max_budget":"10.5","tpm_limit":100.0,"blocked":null,"unknown":[1]}"#,
        )
        .unwrap();
        assert_eq!(row.models, Vec::<String>::new());
        assert_eq!(row.max_budget, Some(10.5));
        assert_eq!(row.tpm_limit, Some(100));
        assert_eq!(row.blocked, None);
    }
}

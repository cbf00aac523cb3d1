//! `GET /spend/logs/v2` (docs/litellm-contract.md#spend-logs): the spend-log rows chat calls wrote, filtered
//! and paged, newest first (`startTime desc`; rows of the same instant latest-written first).
//!
//! - `start_date` and `end_date` are required (400 `bad_request` "Start date and end date are required",
//!   as LiteLLM's paged spend-log route answers) and read as UTC `YYYY-MM-DD HH:MM:SS`; both bounds are
//!   inclusive. Another format is Python's `strptime` error through `handle_exception_on_proxy` (500).
//! - `api_key` is matched exactly (v2 does not hash a raw key: pass the hash), `user_id` against the row's
//!   `user`; `request_id`, `team_id` (the double's rows have none), `model`, `min_spend`/`max_spend` and
//!   `status_filter` (every row is a `success`) filter too.
//! - `page` ≥ 1 (default 1), `page_size` 1–1000 (default 50), else FastAPI's 422.
//! - Answer: `{"data": [...], "total": n, "page": p, "page_size": s, "total_pages": ceil(n / s)}`.

use crate::auth;
use crate::errors::{Failure, Param};
use crate::handlers::{float_param, int_param, query_pairs};
use crate::pyfmt;
use crate::state::{Shared, SpendLogRow};
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

/// Largest `page_size` `/spend/logs/v2` accepts (1.108.7).
pub const MAX_PAGE_SIZE: u64 = 1000;

const DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

fn date(value: &str) -> Result<DateTime<Utc>, Failure> {
    NaiveDateTime::parse_from_str(value, DATE_FORMAT)
        .map(|at| at.and_utc())
        .map_err(|_| {
            Failure::handled_plain(
                500,
                format!(
                    "time data {} does not match format {}",
                    pyfmt::str_repr(value),
                    pyfmt::str_repr(DATE_FORMAT)
                ),
            )
        })
}

/// One row as the route writes it (the `LiteLLM_SpendLogs` columns; datetimes `…+00:00`).
fn render(row: &SpendLogRow, shared: &Shared) -> Value {
    let model_id = shared
        .config
        .models
        .iter()
        .find(|m| m.name == row.model_group)
        .map(|m| m.model_id())
        .unwrap_or_default();
    json!({
        "request_id": row.request_id,
        "call_type": "acompletion",
        "api_key": row.api_key,
        "spend": row.spend,
        "total_tokens": row.total_tokens,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "startTime": pyfmt::iso_offset(row.start_time),
        "endTime": pyfmt::iso_offset(row.end_time),
        "completionStartTime": pyfmt::iso_offset(row.end_time),
        "model": row.model,
        "model_id": model_id,
        "model_group": row.model_group,
        "custom_llm_provider": row.custom_llm_provider,
        "api_base": "",
        "user": row.user.as_deref().unwrap_or_default(),
        "metadata": {},
        "cache_hit": "False",
        "cache_key": "Cache OFF",
        "request_tags": [],
        "team_id": null,
        "organization_id": null,
        "end_user": "",
        "requester_ip_address": "",
        "messages": {},
        "response": {},
        "session_id": null,
        "status": "success",
        "proxy_server_request": {},
    })
}

pub async fn logs_v2(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let mut pairs = query_pairs(&req);
    // A non-admin reads only its own rows (`resolve_spend_log_read_scope`).
    if let auth::Caller::Virtual(own) = &caller {
        pairs.retain(|(k, _)| k != "user_id");
        pairs.push((
            "user_id".to_owned(),
            own.user_id.clone().unwrap_or_default(),
        ));
    }
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut errors = Vec::new();
    let page = int_param(param("page"), "page", 1, None, &mut errors);
    let page_size = int_param(
        param("page_size"),
        "page_size",
        50,
        Some(MAX_PAGE_SIZE),
        &mut errors,
    );
    let min_spend = float_param(param("min_spend"), "min_spend", &mut errors);
    let max_spend = float_param(param("max_spend"), "max_spend", &mut errors);
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    let (Some(start), Some(end)) = (param("start_date"), param("end_date")) else {
        return Err(Failure::proxy(
            400,
            "bad_request",
            "Start date and end date are required",
            Param::NoneString,
        ));
    };
    let (start, end) = (date(start)?, date(end)?);

    let store = shared.store();
    let mut rows: Vec<(usize, &SpendLogRow)> = store
        .spend_logs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.start_time >= start && r.start_time <= end)
        .filter(|(_, r)| param("api_key").is_none_or(|k| r.api_key == k))
        .filter(|(_, r)| param("user_id").is_none_or(|u| r.user.as_deref() == Some(u)))
        .filter(|(_, r)| param("request_id").is_none_or(|id| r.request_id == id))
        .filter(|(_, r)| param("model").is_none_or(|m| r.model == m))
        .filter(|_| param("team_id").is_none())
        .filter(|_| param("status_filter").is_none_or(|s| s == "success"))
        .filter(|(_, r)| min_spend.is_none_or(|min| r.spend >= min))
        .filter(|(_, r)| max_spend.is_none_or(|max| r.spend <= max))
        .collect();
    rows.sort_by(|(ia, a), (ib, b)| b.start_time.cmp(&a.start_time).then(ib.cmp(ia)));
    let total = rows.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let data: Vec<Value> = rows
        .into_iter()
        .skip(skip)
        .take(usize::try_from(page_size).unwrap_or(usize::MAX))
        .map(|(_, r)| render(r, &shared))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "data": data,
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total.div_ceil(page_size),
    })))
}

//! `GET /api/v1/admin/audit`: the audit log, filtered and paged, for administrators and auditors.

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::ApiState;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use keyport_domain::audit::{ActionFilter, AuditFilter, AuditRecord};
use keyport_domain::audit::{AuditCursor, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};
use keyport_domain::ids::UserId;
use keyport_domain::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The longest value a text filter may have.
const MAX_FILTER_LEN: usize = 200;

/// Filters (all optional, all must hold) and the page. Values are taken as text and checked here, so that a
/// bad one is a 422 naming its parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events by this user (a user id).
    #[param(value_type = Option<uuid::Uuid>)]
    pub actor: Option<String>,
    /// An action (`api_key.create`), or a prefix ending in `*` (`api_key.*`).
    pub action: Option<String>,
    /// Only events about this kind of thing: `api_key`, `subscription`, `user`, `model`, ...
    pub target_type: Option<String>,
    /// Only events about this thing (with `target_type`, one thing).
    pub target_id: Option<String>,
    /// Only events of this request (keyport's id: the `x-request-id` it was answered with).
    pub request_id: Option<String>,
    /// Events at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub since: Option<String>,
    /// Events before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Events per page, 1 to 500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventDto {
    /// Increases with every event recorded; pages run down it.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user who acted; null for keyport itself (the reconciler, workers, commands).
    pub actor: Option<Uuid>,
    /// The actor's username, when that user still exists.
    pub actor_username: Option<String>,
    /// A dotted verb, e.g. `api_key.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// The target before the change, when the event records it.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The target after the change, when the event records it.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// keyport's id of the request that made the change (the `x-request-id` it answered with, also in its
    /// log lines); null for changes made outside a request (workers, the reconciler, commands).
    pub request_id: Option<String>,
    /// The `x-request-id` the client sent with that request, if any: the client's own correlation id,
    /// recorded as given (never used as keyport's).
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
    /// Whether the event is in the hash chain yet (it is sealed about a second after its change commits).
    pub sealed: bool,
    /// The event's position in the chain, once sealed.
    pub seq: Option<i64>,
    /// The chain row's hash (lower-case hex SHA-256), once sealed.
    pub hash: Option<String>,
}

impl From<AuditRecord> for AuditEventDto {
    fn from(record: AuditRecord) -> Self {
        let event = record.event;
        Self {
            id: record.id,
            at: event.at,
            actor: event.actor.map(|a| a.0),
            actor_username: record.actor_username,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            before: event.before,
            after: event.after,
            request_id: event.request_id,
            client_request_id: event.client_request_id,
            client_addr: event.client_addr,
            sealed: record.seal.is_some(),
            seq: record.seal.as_ref().map(|s| s.seq),
            hash: record.seal.map(|s| s.hash),
        }
    }
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventList {
    pub items: Vec<AuditEventDto>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

fn text(field: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = value?;
    if value.is_empty() || value.len() > MAX_FILTER_LEN {
        errors.push(FieldError::new(
            field,
            format!("1 to {MAX_FILTER_LEN} characters"),
        ));
        return None;
    }
    Some(value.to_owned())
}

fn instant(
    field: &str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(value?) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "an RFC 3339 instant, e.g. 2026-11-25T12:00:00Z",
            ));
            None
        }
    }
}

/// The query as the use case takes it, or every parameter that is wrong.
fn parse(query: &AuditQuery) -> Result<(AuditFilter, Option<AuditCursor>, u32), ApiError> {
    let mut errors = Vec::new();
    let actor = query
        .actor
        .as_deref()
        .and_then(|v| match Uuid::parse_str(v) {
            Ok(id) => Some(UserId(id)),
            Err(_) => {
                errors.push(FieldError::new("actor", "a user id (UUID)"));
                None
            }
        });
    let action = query
        .action
        .as_deref()
        .and_then(|v| ActionFilter::parse(v).map_err(|e| errors.push(e)).ok());
    let filter = AuditFilter {
        actor,
        action,
        target_type: text("target_type", query.target_type.as_deref(), &mut errors),
        target_id: text("target_id", query.target_id.as_deref(), &mut errors),
        request_id: text("request_id", query.request_id.as_deref(), &mut errors),
        since: instant("since", query.since.as_deref(), &mut errors),
        until: instant("until", query.until.as_deref(), &mut errors),
    };
    let cursor = query
        .cursor
        .as_deref()
        .and_then(|v| AuditCursor::parse(v).map_err(|e| errors.push(e)).ok());
    let limit = match query.limit.as_deref() {
        None => DEFAULT_AUDIT_PAGE,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=MAX_AUDIT_PAGE).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    "limit",
                    format!("a whole number from 1 to {MAX_AUDIT_PAGE}"),
                ));
                DEFAULT_AUDIT_PAGE
            }
        },
    };
    if errors.is_empty() {
        Ok((filter, cursor, limit))
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The audit log: every change keyport recorded (who, what, before and after, request id, client address,
/// time), newest first, with whether and where each event is sealed in the hash chain. Filters combine;
/// pages are keyset pages (`cursor` from the previous page's `next_cursor`), stable while new events arrive.
/// Administrators and auditors only; reading the log records nothing.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, body = AuditEventList),
    )
)]
#[get("/admin/audit")]
pub async fn list(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, cursor, limit) = parse(&query)?;
    let page = state
        .services
        .list_audit
        .execute(&actor, &filter, cursor, limit)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditEventList {
            items: page.items.into_iter().map(AuditEventDto::from).collect(),
            next_cursor: page.next_cursor.map(AuditCursor::encode),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> AuditQuery {
        let encoded = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        web::Query::<AuditQuery>::from_query(&encoded)
            .unwrap()
            .into_inner()
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<String> {
        parse(&query(pairs))
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn every_filter_is_parsed_into_the_domain_filter() {
        let id = Uuid::new_v4();
        let cursor = AuditCursor::parse("a1000000000000002a").unwrap();
        let (filter, parsed_cursor, limit) = parse(&query(&[
            ("actor", &id.to_string()),
            ("action", "api_key.*"),
            ("target_type", "api_key"),
            ("target_id", "k1"),
            ("request_id", "req-1"),
            ("since", "2026-11-25T12:00:00Z"),
            ("until", "2026-11-26T12:00:00%2B01:00"),
            ("cursor", "a1000000000000002a"),
            ("limit", "5"),
        ]))
        .unwrap();
        assert_eq!(filter.actor, Some(UserId(id)));
        assert_eq!(filter.action, Some(ActionFilter::Prefix("api_key.".into())));
        assert_eq!(filter.target_type.as_deref(), Some("api_key"));
        assert_eq!(filter.target_id.as_deref(), Some("k1"));
        assert_eq!(filter.request_id.as_deref(), Some("req-1"));
        assert_eq!(
            filter.until.unwrap().to_rfc3339(),
            "2026-11-26T11:00:00+00:00"
        );
        assert_eq!(parsed_cursor, Some(cursor));
        assert_eq!(limit, 5);

        let (filter, cursor, limit) = parse(&query(&[])).unwrap();
        assert_eq!(filter, AuditFilter::default());
        assert_eq!((cursor, limit), (None, DEFAULT_AUDIT_PAGE));
    }

    #[test]
    fn bad_parameters_are_a_422_naming_each_one() {
        assert_eq!(fields(&[("actor", "alice")]), ["actor"]);
        assert_eq!(fields(&[("action", "api%25")]), ["action"]);
        assert_eq!(fields(&[("since", "yesterday")]), ["since"]);
        assert_eq!(fields(&[("cursor", "42")]), ["cursor"]);
        for limit in ["0", "501", "-1", "ten"] {
            assert_eq!(fields(&[("limit", limit)]), ["limit"], "{limit}");
        }
        assert_eq!(
            fields(&[
                ("target_id", &"x".repeat(201)),
                ("until", "2026"),
                ("limit", "0")
            ]),
            ["target_id", "until", "limit"]
        );
        let err = parse(&query(&[("actor", "alice")])).unwrap_err();
        assert_eq!(err.status.as_u16(), 422);
    }
}

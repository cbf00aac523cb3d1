//! The rows of audit events: inserted.

use crate::schema::audit_events;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::audit::AuditEvent;
use uuid::Uuid;

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewAuditRow<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<&'a serde_json::Value>,
    pub after: Option<&'a serde_json::Value>,
    pub request_id: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub client_request_id: Option<&'a str>,
}

impl<'a> From<&'a AuditEvent> for NewAuditRow<'a> {
    fn from(event: &'a AuditEvent) -> Self {
        Self {
            actor: event.actor.map(|a| a.0),
            action: &event.action,
            target_type: &event.target_type,
            target_id: &event.target_id,
            before: event.before.as_ref(),
            after: event.after.as_ref(),
            request_id: event.request_id.as_deref(),
            client_addr: event.client_addr.as_deref(),
            at: event.at,
            client_request_id: event.client_request_id.as_deref(),
        }
    }
}

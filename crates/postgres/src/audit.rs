//! Audit events, written by every mutating store method inside its own transaction.

use crate::rows::NewAuditRow;
use crate::schema::audit_events;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;

pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    event: &AuditEvent,
) -> Result<(), diesel::result::Error> {
    diesel::insert_into(audit_events::table)
        .values(NewAuditRow::from(event))
        .execute(conn)
        .await
        .map(drop)
}

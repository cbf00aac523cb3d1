//! Audit events, written by every mutating store method inside its own transaction, and on their own for
//! the events that belong to no store change ([`AuditLog`]).

use crate::error::diesel_error;
use crate::rows::NewAuditRow;
use crate::schema::audit_events;
use crate::PgStore;
use async_trait::async_trait;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::audit::AuditLog;
use keyport_domain::StoreError;

#[async_trait]
impl AuditLog for PgStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        record(&mut conn, event).await.map_err(diesel_error)
    }
}

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

/// Audit rows per INSERT: well under PostgreSQL's 65,535 bind parameters at 10 per row.
const CHUNK: usize = 1_000;

/// Records many events (e.g. one per key a batch change touched).
pub(crate) async fn record_all(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    for chunk in events.chunks(CHUNK) {
        let rows: Vec<NewAuditRow<'_>> = chunk.iter().map(NewAuditRow::from).collect();
        diesel::insert_into(audit_events::table)
            .values(&rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

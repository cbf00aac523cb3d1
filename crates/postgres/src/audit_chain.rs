//! [`AuditTrail`]: the hash chain over `audit_events`, and reading the audit log back.
//!
//! The chain is defined in SQL (migration `2026-11-25-000004_audit_chain`): `audit_chain_hash` is the one
//! definition of a row's hash, used both by `audit_chain_seal`, which appends sealed rows, and by
//! [`AuditTrail::chain_entries`], which recomputes them for verification. Writers never wait for the chain:
//! an event records its inserting transaction (`tx`) and is sealed once that transaction has finished, in
//! (tx, id) order, by one sealer at a time (a transaction-level advisory lock; the others skip).

use crate::error::diesel_error;
use crate::schema::{audit_chain, audit_events, users};
use crate::PgStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use keyport_domain::audit::{
    ActionFilter, AuditEvent, AuditFilter, AuditRecord, AuditTrail, ChainEntry, ChainLink,
    UnsealedEvents,
};
use keyport_domain::ids::UserId;
use keyport_domain::StoreError;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Sealed {
    #[diesel(sql_type = Nullable<Integer>)]
    sealed: Option<i32>,
}

#[derive(QueryableByName)]
struct EntryRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    prev_hash: Option<String>,
    #[diesel(sql_type = Text)]
    hash: String,
    #[diesel(sql_type = Nullable<Text>)]
    recomputed: Option<String>,
}

#[derive(QueryableByName)]
struct Unsealed {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    older: i64,
}

#[derive(QueryableByName)]
struct Cursor {
    #[diesel(sql_type = Text)]
    tx: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// The hash of every chain row in a seq range, recomputed from its event as stored now (NULL when the
/// event is gone), with this row's own `seq` and `prev_hash`.
const CHAIN_ENTRIES: &str = "\
    SELECT c.seq, c.event_id, c.prev_hash, c.hash, \
           CASE WHEN e.id IS NULL THEN NULL ELSE audit_chain_hash(c.seq, e, c.prev_hash) END AS recomputed \
    FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id \
    WHERE c.seq BETWEEN $1 AND $2 \
    ORDER BY c.seq";

const UNSEALED: &str = "\
    SELECT count(*) AS total, count(*) FILTER (WHERE e.at < $1) AS older \
    FROM audit_events e \
    WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)";

/// The head event's place in the sealing order.
const HEAD_CURSOR: &str = "\
    SELECT e.tx::text AS tx, e.id \
    FROM audit_chain c JOIN audit_events e ON e.id = c.event_id \
    ORDER BY c.seq DESC LIMIT 1";

/// Events after the head in the sealing order: exactly the unsealed ones, read from `audit_events_tx`.
const AFTER_CURSOR: &str =
    "SELECT count(*) AS count FROM audit_events WHERE (tx, id) > ($1::xid8, $2)";

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// `LIKE`'s wildcards (and its escape character) taken literally.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

type ListedRow = (
    (
        i64,
        Option<Uuid>,
        String,
        String,
        String,
        Option<serde_json::Value>,
        Option<serde_json::Value>,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
        Option<String>,
    ),
    Option<i64>,
    Option<String>,
    Option<String>,
);

#[async_trait]
impl AuditTrail for PgStore {
    async fn seal(&self, batch: u32) -> Result<Option<u32>, StoreError> {
        let mut conn = self.conn().await?;
        let batch = i32::try_from(batch).unwrap_or(i32::MAX);
        let row: Sealed = diesel::sql_query("SELECT audit_chain_seal($1) AS sealed")
            .bind::<Integer, _>(batch)
            .get_result(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(row.sealed.map(|n| u32::try_from(n).unwrap_or_default()))
    }

    async fn head(&self) -> Result<Option<ChainLink>, StoreError> {
        let mut conn = self.conn().await?;
        let head: Option<(i64, String)> = audit_chain::table
            .order(audit_chain::seq.desc())
            .select((audit_chain::seq, audit_chain::hash))
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?;
        Ok(head.map(|(seq, hash)| ChainLink { seq, hash }))
    }

    async fn chain_entries(&self, from: i64, to: i64) -> Result<Vec<ChainEntry>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<EntryRow> = diesel::sql_query(CHAIN_ENTRIES)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(rows
            .into_iter()
            .map(|r| ChainEntry {
                seq: r.seq,
                event_id: r.event_id,
                prev_hash: r.prev_hash,
                hash: r.hash,
                recomputed: r.recomputed,
            })
            .collect())
    }

    async fn unsealed_events(
        &self,
        older_than: DateTime<Utc>,
    ) -> Result<UnsealedEvents, StoreError> {
        let mut conn = self.conn().await?;
        let row: Unsealed = diesel::sql_query(UNSEALED)
            .bind::<Timestamptz, _>(older_than)
            .get_result(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(UnsealedEvents {
            total: to_u64(row.total),
            older: to_u64(row.older),
        })
    }

    async fn seal_backlog(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let cursor: Option<Cursor> = diesel::sql_query(HEAD_CURSOR)
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?;
        let count = match cursor {
            Some(cursor) => {
                diesel::sql_query(AFTER_CURSOR)
                    .bind::<Text, _>(cursor.tx)
                    .bind::<BigInt, _>(cursor.id)
                    .get_result::<Count>(&mut conn)
                    .await
                    .map_err(diesel_error)?
                    .count
            }
            None => audit_events::table
                .count()
                .get_result(&mut conn)
                .await
                .map_err(diesel_error)?,
        };
        Ok(to_u64(count))
    }

    async fn list_events(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = audit_events::table
            .left_join(audit_chain::table.on(audit_chain::event_id.eq(audit_events::id)))
            .left_join(users::table.on(audit_events::actor.eq(users::id.nullable())))
            .select((
                (
                    audit_events::id,
                    audit_events::actor,
                    audit_events::action,
                    audit_events::target_type,
                    audit_events::target_id,
                    audit_events::before,
                    audit_events::after,
                    audit_events::request_id,
                    audit_events::client_addr,
                    audit_events::at,
                    audit_events::client_request_id,
                ),
                audit_chain::seq.nullable(),
                audit_chain::hash.nullable(),
                users::username.nullable(),
            ))
            .order(audit_events::id.desc())
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(audit_events::id.lt(before));
        }
        if let Some(actor) = filter.actor {
            query = query.filter(audit_events::actor.eq(actor.0));
        }
        match &filter.action {
            Some(ActionFilter::Exact(action)) => {
                query = query.filter(audit_events::action.eq(action.clone()));
            }
            Some(ActionFilter::Prefix(prefix)) => {
                query = query.filter(audit_events::action.like(like_prefix(prefix)));
            }
            None => {}
        }
        if let Some(target_type) = &filter.target_type {
            query = query.filter(audit_events::target_type.eq(target_type.clone()));
        }
        if let Some(target_id) = &filter.target_id {
            query = query.filter(audit_events::target_id.eq(target_id.clone()));
        }
        if let Some(request_id) = &filter.request_id {
            query = query.filter(audit_events::request_id.eq(request_id.clone()));
        }
        if let Some(since) = filter.since {
            query = query.filter(audit_events::at.ge(since));
        }
        if let Some(until) = filter.until {
            query = query.filter(audit_events::at.lt(until));
        }
        let rows: Vec<ListedRow> = query.load(&mut conn).await.map_err(diesel_error)?;
        Ok(rows.into_iter().map(record).collect())
    }
}

fn record((event, seq, hash, username): ListedRow) -> AuditRecord {
    let (
        id,
        actor,
        action,
        target_type,
        target_id,
        before,
        after,
        request_id,
        client_addr,
        at,
        client_request_id,
    ) = event;
    AuditRecord {
        id,
        event: AuditEvent {
            actor: actor.map(UserId),
            action,
            target_type,
            target_id,
            before,
            after,
            request_id,
            client_addr,
            at,
            client_request_id,
        },
        actor_username: username,
        seal: seq.zip(hash).map(|(seq, hash)| ChainLink { seq, hash }),
    }
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn a_prefix_matches_literally() {
        assert_eq!(like_prefix("api_key."), "api\\_key.%");
        assert_eq!(like_prefix("a%b\\"), "a\\%b\\\\%");
    }
}

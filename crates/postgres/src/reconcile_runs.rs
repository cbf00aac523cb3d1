//! `ReconcileLog`: one row per reconcile pass.

use crate::error::diesel_error;
use crate::schema::reconcile_runs;
use crate::PgStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use keyport_domain::reconcile::{ReconcileLog, ReconcileRun, ReconcileTrigger};
use keyport_domain::StoreError;
use std::collections::BTreeMap;

#[derive(Debug, Insertable)]
#[diesel(table_name = reconcile_runs, check_for_backend(diesel::pg::Pg))]
struct NewRunRow {
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    trigger: String,
    dry_run: bool,
    litellm_keys: i64,
    keyport_rows: i64,
    litellm_calls: i64,
    findings: serde_json::Value,
    fixed: i64,
    error: Option<String>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = reconcile_runs, check_for_backend(diesel::pg::Pg))]
struct RunRow {
    id: i64,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    trigger: String,
    dry_run: bool,
    litellm_keys: i64,
    keyport_rows: i64,
    litellm_calls: i64,
    findings: serde_json::Value,
    fixed: i64,
    error: Option<String>,
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn unsigned(value: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Unexpected(format!("reconcile_runs.{column} is negative")))
}

impl TryFrom<RunRow> for ReconcileRun {
    type Error = StoreError;
    fn try_from(row: RunRow) -> Result<Self, StoreError> {
        let findings: BTreeMap<String, u64> = serde_json::from_value(row.findings)
            .map_err(|e| StoreError::Unexpected(format!("reconcile_runs.findings: {e}")))?;
        Ok(ReconcileRun {
            id: row.id,
            started_at: row.started_at,
            finished_at: row.finished_at,
            trigger: ReconcileTrigger::parse(&row.trigger).ok_or_else(|| {
                StoreError::Unexpected(format!("unknown reconcile trigger '{}'", row.trigger))
            })?,
            dry_run: row.dry_run,
            litellm_keys: unsigned(row.litellm_keys, "litellm_keys")?,
            keyport_rows: unsigned(row.keyport_rows, "keyport_rows")?,
            litellm_calls: unsigned(row.litellm_calls, "litellm_calls")?,
            findings,
            fixed: unsigned(row.fixed, "fixed")?,
            error: row.error,
        })
    }
}

#[async_trait]
impl ReconcileLog for PgStore {
    async fn record_run(&self, run: &ReconcileRun) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(reconcile_runs::table)
            .values(NewRunRow {
                started_at: run.started_at,
                finished_at: run.finished_at,
                trigger: run.trigger.as_str().to_owned(),
                dry_run: run.dry_run,
                litellm_keys: count(run.litellm_keys),
                keyport_rows: count(run.keyport_rows),
                litellm_calls: count(run.litellm_calls),
                findings: serde_json::to_value(&run.findings)
                    .map_err(|e| StoreError::Unexpected(e.to_string()))?,
                fixed: count(run.fixed),
                error: run.error.clone(),
            })
            .execute(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(())
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<ReconcileRun>, StoreError> {
        let mut conn = self.conn().await?;
        reconcile_runs::table
            .order((reconcile_runs::started_at.desc(), reconcile_runs::id.desc()))
            .limit(i64::from(limit))
            .select(RunRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?
            .into_iter()
            .map(ReconcileRun::try_from)
            .collect()
    }
}

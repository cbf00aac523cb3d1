//! The rows of jobs: read.

use crate::error::corrupt;
use crate::schema::jobs;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::ids::{ApiKeyId, UserId};
use keyport_domain::jobs::{Job, JobKind, JobStatus};
use keyport_domain::StoreError;
use uuid::Uuid;

#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub(crate) struct JobRow {
    pub id: i64,
    pub kind: String,
    pub api_key_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub status: String,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: row.id,
            kind: JobKind::parse(&row.kind).ok_or_else(|| corrupt("job kind", &row.kind))?,
            api_key_id: row.api_key_id.map(ApiKeyId::from),
            user_id: row.user_id.map(UserId),
            status: JobStatus::parse(&row.status)
                .ok_or_else(|| corrupt("job status", &row.status))?,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("job attempts", e))?,
            run_at: row.run_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

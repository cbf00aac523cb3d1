use crate::dto::{JobDto, JobList};
use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::ApiState;
use actix_web::{get, web, HttpResponse};
use keyport_domain::jobs::JobStatus;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// pending, running, done or dead (default dead).
    #[param(schema_with = crate::schema::job_status, required = false)]
    pub status: Option<String>,
    /// At most this many (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The job queue (outbox): counts by state, and the jobs in one state — dead ones with their last error.
/// Administrators and auditors only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = [])),
    params(JobQuery),
    responses(
        (status = 200, body = JobList),
    )
)]
#[get("/admin/jobs")]
pub async fn jobs(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<JobQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = match query.status.as_deref() {
        None => JobStatus::Dead,
        Some(s) => JobStatus::parse(s).ok_or_else(|| {
            ApiError::validation(vec![keyport_domain::FieldError::new(
                "status",
                "one of pending, running, done, dead",
            )])
        })?,
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(vec![keyport_domain::FieldError::new(
            "limit", "1 to 500",
        )]));
    }
    let (summary, jobs) = state
        .services
        .list_jobs
        .execute(&actor, status, limit)
        .await?;
    Ok(HttpResponse::Ok().json(JobList {
        pending: summary.pending,
        running: summary.running,
        dead: summary.dead,
        oldest_pending_at: summary.oldest_pending_at,
        items: jobs.iter().map(JobDto::from).collect(),
    }))
}

//! The reconciler's recent passes.

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::ApiState;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use keyport_domain::reconcile::ReconcileRun;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReconcileQuery {
    /// At most this many passes (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// One reconcile pass.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconcileRunDto {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `background` (the periodic pass of a replica) or `command` (`keyport reconcile`).
    pub trigger: String,
    pub dry_run: bool,
    pub litellm_keys: u64,
    pub keyport_rows: u64,
    pub litellm_calls: u64,
    /// Disagreements found, by kind (`orphan`, `stale provisioning`, `dead key present`, `drift`,
    /// `missing`); kinds with none are left out.
    pub findings: BTreeMap<String, u64>,
    pub fixed: u64,
    /// Why the pass failed; null when it completed.
    pub error: Option<String>,
}

impl From<&ReconcileRun> for ReconcileRunDto {
    fn from(r: &ReconcileRun) -> Self {
        Self {
            id: r.id,
            started_at: r.started_at,
            finished_at: r.finished_at,
            trigger: r.trigger.as_str().to_owned(),
            dry_run: r.dry_run,
            litellm_keys: r.litellm_keys,
            keyport_rows: r.keyport_rows,
            litellm_calls: r.litellm_calls,
            findings: r.findings.clone(),
            fixed: r.fixed,
            error: r.error.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconcileStatusDto {
    /// Newest first.
    pub runs: Vec<ReconcileRunDto>,
}

/// The reconciler's recent passes, newest first, from every replica and `keyport reconcile`: when each ran,
/// what it found and fixed, and why a pass failed. Administrators and auditors only.
#[utoipa::path(
    extensions(("x-keyport-access" = json!("oversight"))),
    tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(ReconcileQuery),
    responses(
        (status = 200, body = ReconcileStatusDto),
    )
)]
#[get("/admin/reconcile")]
pub async fn status(
    state: web::Data<ApiState>,
    Authenticated(actor): Authenticated,
    query: web::Query<ReconcileQuery>,
) -> Result<HttpResponse, ApiError> {
    let runs = state
        .services
        .reconcile_status
        .execute(&actor, query.limit.unwrap_or(20))
        .await?;
    Ok(HttpResponse::Ok().json(ReconcileStatusDto {
        runs: runs.iter().map(ReconcileRunDto::from).collect(),
    }))
}

use crate::api_key::{ApiKey, ApiKeyStatus};
use crate::audit::AuditEvent;
use crate::ids::{ApiKeyId, UserId};
use crate::ports::{
    ApiKeyStore, AuditLog, Clock, Gateway, GatewayKey, GatewayKeyStatus, SpendReading, UserStore,
};
use crate::secret::KeyHash;
use crate::usecases::converge_key::desired_state;
use crate::user::UserStatus;
use crate::{Error, GatewayError};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// How a reconcile pass behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Find and report, change nothing.
    pub dry_run: bool,
    /// Block orphans (LiteLLM keys tagged by keyport that no row knows) instead of deleting them.
    pub quarantine_orphans: bool,
    /// A `provisioning` row older than this is stale: its request died or its outcome stayed unknown.
    pub stale_after: Duration,
    /// LiteLLM keys per page (1 to 100).
    pub page_size: u32,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            quarantine_orphans: false,
            stale_after: Duration::minutes(5),
            page_size: 100,
        }
    }
}

/// What kind of disagreement a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// A LiteLLM key that keyport's metadata claims but no row knows.
    Orphan,
    /// A `provisioning` row left behind by a request that never finished.
    StaleProvisioning,
    /// A revoked, expired, failed or lost key still present in LiteLLM.
    DeadKeyPresent,
    /// A live key whose models, limits, expiry or blocked state differ in LiteLLM.
    Drift,
    /// An active key LiteLLM no longer has (it cannot be re-created without its secret).
    Missing,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        Self::Orphan,
        Self::StaleProvisioning,
        Self::DeadKeyPresent,
        Self::Drift,
        Self::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orphan => "orphan",
            Self::StaleProvisioning => "stale provisioning",
            Self::DeadKeyPresent => "dead key present",
            Self::Drift => "drift",
            Self::Missing => "missing",
        }
    }
}

/// One disagreement and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub key_id: Option<ApiKeyId>,
    /// The start of the key's hash (LiteLLM's `token`), to find it on both sides.
    pub hash_prefix: String,
    pub detail: String,
    pub fixed: bool,
}

/// Where a pass is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileProgress {
    /// LiteLLM's page `page` of `pages` is done.
    LiteLlmPage { page: u32, pages: u32 },
    /// `done` of keyport's live rows are checked.
    KeyportRows { done: u64 },
}

/// What a pass found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub dry_run: bool,
    pub litellm_keys: u64,
    pub litellm_pages: u32,
    pub keyport_rows: u64,
    /// LiteLLM calls made, all kinds together: it grows with pages and findings, never with keys.
    pub litellm_calls: u64,
    pub spend_recorded: u64,
    pub findings: Vec<Finding>,
}

impl ReconcileReport {
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    pub fn fixed(&self) -> usize {
        self.findings.iter().filter(|f| f.fixed).count()
    }
}

/// The reconciler: one pass over LiteLLM's keys (paged) and keyport's live rows (paged) that heals every
/// disagreement, keyport's record winning: orphans deleted (or blocked in quarantine mode), stale
/// `provisioning` rows failed after deleting whatever LiteLLM holds, dead keys still present deleted, drift
/// in models, limits, expiry or blocked state corrected, active keys missing from LiteLLM marked `lost`. Every
/// fix is audited. The same pass records each key's spend and budget reset time as LiteLLM reports them, so
/// lists show spend without calling LiteLLM per key. LiteLLM calls grow with pages and findings, not keys.
pub struct Reconcile {
    keys: Arc<dyn ApiKeyStore>,
    users: Arc<dyn UserStore>,
    audit: Arc<dyn AuditLog>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
}

/// A fix that deletes or blocks in LiteLLM, run after the listing.
enum Deferred {
    Orphan(GatewayKey),
    Stale(ApiKey),
    Dead(ApiKey),
}

/// Rows of keyport's side per query.
const ROWS_PER_BATCH: u32 = 1000;
/// Differences in expiry below this are LiteLLM turning a duration into a time, not drift.
const EXPIRY_TOLERANCE_SECONDS: i64 = 300;

impl Reconcile {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        users: Arc<dyn UserStore>,
        audit: Arc<dyn AuditLog>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            users,
            audit,
            gateway,
            clock,
        }
    }

    #[tracing::instrument(skip_all, fields(dry_run = options.dry_run))]
    pub async fn execute(
        &self,
        options: &ReconcileOptions,
        progress: &(dyn Fn(ReconcileProgress) + Sync),
    ) -> Result<ReconcileReport, Error> {
        let started = self.clock.now();
        let stale_before = started - options.stale_after;
        let mut report = ReconcileReport {
            dry_run: options.dry_run,
            ..ReconcileReport::default()
        };
        let mut seen: HashSet<KeyHash> = HashSet::new();
        // LiteLLM pages by offset: deleting keys while paging would shift unread keys onto pages already
        // read, and the pass would skip them. Deletions wait until the listing is done.
        let mut deferred: Vec<Deferred> = Vec::new();

        let mut page = 1;
        loop {
            let listed = self
                .gateway
                .list_keys(page, options.page_size.clamp(1, 100))
                .await
                .map_err(gateway_error)?;
            report.litellm_calls += 1;
            report.litellm_pages += 1;
            report.litellm_keys += listed.keys.len() as u64;
            let hashes: Vec<KeyHash> = listed.keys.iter().map(|k| k.hash.clone()).collect();
            let rows: HashMap<KeyHash, ApiKey> = self
                .keys
                .keys_by_hashes(&hashes)
                .await?
                .into_iter()
                .map(|k| (k.hash.clone(), k))
                .collect();
            let suspended = self.suspended_owners(rows.values()).await?;
            let mut readings = Vec::new();
            for remote in &listed.keys {
                seen.insert(remote.hash.clone());
                match rows.get(&remote.hash) {
                    None if is_keyports(remote) => deferred.push(Deferred::Orphan(remote.clone())),
                    None => {}
                    Some(row) => match row.status {
                        ApiKeyStatus::Provisioning if row.created_at < stale_before => {
                            deferred.push(Deferred::Stale(row.clone()))
                        }
                        ApiKeyStatus::Provisioning => {}
                        ApiKeyStatus::Revoked
                        | ApiKeyStatus::Expired
                        | ApiKeyStatus::Failed
                        | ApiKeyStatus::Lost => deferred.push(Deferred::Dead(row.clone())),
                        // Its last subscription went while it was being created: LiteLLM would read
                        // `models: []` as every model, so the key is revoked instead (as a job would).
                        ApiKeyStatus::Active | ApiKeyStatus::Retiring if row.models.is_empty() => {
                            self.no_model_left(row, options, &mut report).await
                        }
                        ApiKeyStatus::Active | ApiKeyStatus::Retiring => {
                            let blocked = suspended.contains(&row.user_id);
                            let differences = drift(row, remote, blocked, self.clock.now());
                            if !differences.is_empty() {
                                self.fix_drift(row, blocked, differences, options, &mut report)
                                    .await;
                            }
                            if let Some(spend) = remote.spend {
                                readings.push(SpendReading {
                                    key: row.id,
                                    spend,
                                    budget_reset_at: remote.budget_reset_at,
                                });
                            }
                        }
                    },
                }
            }
            if !options.dry_run && !readings.is_empty() {
                self.keys.record_spend(&readings, self.clock.now()).await?;
                report.spend_recorded += readings.len() as u64;
            }
            progress(ReconcileProgress::LiteLlmPage {
                page,
                pages: listed.total_pages.max(page),
            });
            if listed.keys.is_empty() || page >= listed.total_pages {
                break;
            }
            page += 1;
        }

        for item in deferred {
            match item {
                Deferred::Orphan(remote) => self.orphan(&remote, options, &mut report).await,
                Deferred::Stale(row) => {
                    self.stale_provisioning(&row, true, options, &mut report)
                        .await
                }
                Deferred::Dead(row) => self.dead_present(&row, options, &mut report).await,
            }
        }

        let mut after = None;
        loop {
            let rows = self
                .keys
                .keys_after(
                    after,
                    &[
                        ApiKeyStatus::Provisioning,
                        ApiKeyStatus::Active,
                        ApiKeyStatus::Retiring,
                    ],
                    ROWS_PER_BATCH,
                )
                .await?;
            report.keyport_rows += rows.len() as u64;
            for row in &rows {
                if seen.contains(&row.hash) || row.created_at >= started {
                    continue;
                }
                match row.status {
                    ApiKeyStatus::Provisioning if row.created_at < stale_before => {
                        // Not seen while paging, but paging can miss a key: ask by hash before failing it.
                        report.litellm_calls += 1;
                        match self.gateway.key_info(&row.hash).await {
                            Ok(found) => {
                                self.stale_provisioning(row, found.is_some(), options, &mut report)
                                    .await
                            }
                            Err(error) => {
                                tracing::warn!(key = %row.id, %error, "could not check a stale key; left for the next pass")
                            }
                        }
                    }
                    ApiKeyStatus::Active | ApiKeyStatus::Retiring => {
                        self.missing(row, options, &mut report).await
                    }
                    _ => {}
                }
            }
            progress(ReconcileProgress::KeyportRows {
                done: report.keyport_rows,
            });
            match rows.last() {
                Some(last) if rows.len() as u32 == ROWS_PER_BATCH => after = Some(last.id),
                _ => break,
            }
        }
        tracing::info!(
            litellm_keys = report.litellm_keys,
            pages = report.litellm_pages,
            rows = report.keyport_rows,
            findings = report.findings.len(),
            fixed = report.fixed(),
            "reconcile pass done"
        );
        Ok(report)
    }

    async fn suspended_owners<'a>(
        &self,
        rows: impl Iterator<Item = &'a ApiKey>,
    ) -> Result<HashSet<UserId>, Error> {
        let owners: Vec<UserId> = rows
            .filter(|k| matches!(k.status, ApiKeyStatus::Active | ApiKeyStatus::Retiring))
            .map(|k| k.user_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if owners.is_empty() {
            return Ok(HashSet::new());
        }
        let users = self.users.get_users(&owners).await?;
        let known: HashSet<UserId> = users.iter().map(|u| u.id).collect();
        Ok(users
            .into_iter()
            .filter(|u| u.status == UserStatus::Suspended)
            .map(|u| u.id)
            .chain(owners.into_iter().filter(|id| !known.contains(id)))
            .collect())
    }

    async fn orphan(
        &self,
        remote: &GatewayKey,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let claimed = remote
            .metadata
            .get("keyport_key_id")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown");
        let mut finding = Finding {
            kind: FindingKind::Orphan,
            key_id: None,
            hash_prefix: prefix(&remote.hash),
            detail: format!("tagged as keyport key {claimed}, which keyport does not know"),
            fixed: false,
        };
        if !options.dry_run {
            report.litellm_calls += 1;
            let (result, action) = if options.quarantine_orphans {
                (
                    self.gateway.block_key(&remote.hash).await,
                    "reconcile.orphan_blocked",
                )
            } else {
                (
                    self.gateway.delete_key(&remote.hash).await,
                    "reconcile.orphan_deleted",
                )
            };
            finding.fixed = settle(result, &mut finding.detail);
            if finding.fixed {
                let event = AuditEvent::system(
                    action,
                    "litellm_key",
                    remote.hash.as_str(),
                    self.clock.now(),
                )
                .with_before(
                    serde_json::json!({"metadata": remote.metadata, "models": remote.models}),
                );
                self.audit_or_log(&event).await;
            }
        }
        report.findings.push(finding);
    }

    async fn stale_provisioning(
        &self,
        row: &ApiKey,
        in_litellm: bool,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let mut finding = Finding {
            kind: FindingKind::StaleProvisioning,
            key_id: Some(row.id),
            hash_prefix: prefix(&row.hash),
            detail: format!(
                "provisioning since {}{}",
                row.created_at,
                if in_litellm {
                    ", present in LiteLLM"
                } else {
                    ""
                }
            ),
            fixed: false,
        };
        if !options.dry_run {
            let deleted = if in_litellm {
                report.litellm_calls += 1;
                settle(
                    self.gateway.delete_key(&row.hash).await,
                    &mut finding.detail,
                )
            } else {
                true
            };
            if deleted {
                let now = self.clock.now();
                let reason =
                    "the request that created it never finished; removed by the reconciler";
                let event =
                    AuditEvent::system("reconcile.stale_provisioning", "api_key", row.id, now)
                        .with_after(serde_json::json!({"status": "failed", "reason": reason}));
                finding.fixed = store_fix(
                    self.keys.fail_key(row.id, reason, now, &event).await,
                    &mut finding.detail,
                );
            }
        }
        report.findings.push(finding);
    }

    async fn dead_present(
        &self,
        row: &ApiKey,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let mut finding = Finding {
            kind: FindingKind::DeadKeyPresent,
            key_id: Some(row.id),
            hash_prefix: prefix(&row.hash),
            detail: format!(
                "{} in keyport, still present in LiteLLM",
                row.status.as_str()
            ),
            fixed: false,
        };
        if !options.dry_run {
            report.litellm_calls += 1;
            if settle(
                self.gateway.delete_key(&row.hash).await,
                &mut finding.detail,
            ) {
                let now = self.clock.now();
                let event =
                    AuditEvent::system("reconcile.dead_key_deleted", "api_key", row.id, now)
                        .with_after(serde_json::json!({"status": row.status.as_str()}));
                self.audit_or_log(&event).await;
                finding.fixed = store_fix(
                    self.keys.mark_key_synced(row.id, now).await,
                    &mut finding.detail,
                );
            }
        }
        report.findings.push(finding);
    }

    async fn fix_drift(
        &self,
        row: &ApiKey,
        blocked: bool,
        differences: Vec<String>,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let mut finding = Finding {
            kind: FindingKind::Drift,
            key_id: Some(row.id),
            hash_prefix: prefix(&row.hash),
            detail: differences.join("; "),
            fixed: false,
        };
        if !options.dry_run {
            report.litellm_calls += 1;
            let now = self.clock.now();
            match self
                .gateway
                .update_key(&desired_state(row, blocked, now))
                .await
            {
                Ok(_) => {
                    let event =
                        AuditEvent::system("reconcile.drift_corrected", "api_key", row.id, now)
                            .with_after(serde_json::json!({"differences": differences}));
                    self.audit_or_log(&event).await;
                    finding.fixed = store_fix(
                        self.keys.mark_key_synced(row.id, now).await,
                        &mut finding.detail,
                    );
                }
                Err(error) => finding.detail.push_str(&format!(" (not fixed: {error})")),
            }
        }
        report.findings.push(finding);
    }

    async fn no_model_left(
        &self,
        row: &ApiKey,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let mut finding = Finding {
            kind: FindingKind::Drift,
            key_id: Some(row.id),
            hash_prefix: prefix(&row.hash),
            detail: format!(
                "{} with no active subscription left: revoked",
                row.status.as_str()
            ),
            fixed: false,
        };
        if !options.dry_run {
            let now = self.clock.now();
            // The status change queues the job that deletes the key in LiteLLM.
            let event = AuditEvent::system("api_key.revoke", "api_key", row.id, now)
                .with_before(serde_json::json!({"status": row.status.as_str()}))
                .with_after(serde_json::json!({"status": "revoked", "reason": "no active subscription left"}));
            finding.fixed = store_fix(
                self.keys
                    .change_key_status(row.id, &[row.status], ApiKeyStatus::Revoked, now, &event)
                    .await
                    .map(|_| ()),
                &mut finding.detail,
            );
        }
        report.findings.push(finding);
    }

    async fn missing(
        &self,
        row: &ApiKey,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        // Paging LiteLLM while keys are deleted can skip one: confirm by hash before calling a key lost.
        report.litellm_calls += 1;
        match self.gateway.key_info(&row.hash).await {
            Ok(Some(_)) => return,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(key = %row.id, %error, "could not confirm a missing key; left for the next pass");
                return;
            }
        }
        // A retiring key past its deadline was deleted by its retirement, which stopped before recording
        // it (a crash, or this pass running in between): it is retired, not lost.
        let now = self.clock.now();
        let retired =
            row.status == ApiKeyStatus::Retiring && row.retire_at.is_none_or(|at| at <= now);
        let (to, action) = if retired {
            (ApiKeyStatus::Revoked, "api_key.retire")
        } else {
            (ApiKeyStatus::Lost, "reconcile.lost")
        };
        let mut finding = Finding {
            kind: FindingKind::Missing,
            key_id: Some(row.id),
            hash_prefix: prefix(&row.hash),
            detail: format!(
                "{} in keyport, absent from LiteLLM: marked {}",
                row.status.as_str(),
                to.as_str()
            ),
            fixed: false,
        };
        if !options.dry_run {
            let event = AuditEvent::system(action, "api_key", row.id, now)
                .with_before(serde_json::json!({"status": row.status.as_str()}))
                .with_after(serde_json::json!({"status": to.as_str()}));
            finding.fixed = store_fix(
                self.keys
                    .change_key_status(row.id, &[row.status], to, now, &event)
                    .await
                    .map(|_| ()),
                &mut finding.detail,
            );
        }
        report.findings.push(finding);
    }

    async fn audit_or_log(&self, event: &AuditEvent) {
        if let Err(error) = self.audit.append(event).await {
            tracing::error!(%error, action = %event.action, target = %event.target_id, "could not write the audit event of a reconciler fix");
        }
    }
}

/// Whether LiteLLM's key carries keyport's tag.
fn is_keyports(key: &GatewayKey) -> bool {
    key.metadata.get("managed_by").and_then(|v| v.as_str()) == Some("keyport")
}

fn prefix(hash: &KeyHash) -> String {
    hash.as_str().chars().take(12).collect()
}

/// The fields in which LiteLLM's key differs from what keyport wants it to be.
fn drift(row: &ApiKey, remote: &GatewayKey, blocked: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let wanted: BTreeSet<&str> = row.models.iter().map(|m| m.as_str()).collect();
    let held: BTreeSet<&str> = remote.models.iter().map(String::as_str).collect();
    if wanted != held {
        out.push(format!("models {held:?} instead of {wanted:?}"));
    }
    if remote.max_budget != row.limits.max_budget {
        out.push(format!(
            "max_budget {:?} instead of {:?}",
            remote.max_budget, row.limits.max_budget
        ));
    }
    let window = row.limits.budget_duration.as_ref().map(ToString::to_string);
    if remote.budget_duration != window {
        out.push(format!(
            "budget_duration {:?} instead of {:?}",
            remote.budget_duration, window
        ));
    }
    if remote.tpm_limit != row.limits.tpm_limit {
        out.push(format!(
            "tpm_limit {:?} instead of {:?}",
            remote.tpm_limit, row.limits.tpm_limit
        ));
    }
    if remote.rpm_limit != row.limits.rpm_limit {
        out.push(format!(
            "rpm_limit {:?} instead of {:?}",
            remote.rpm_limit, row.limits.rpm_limit
        ));
    }
    let is_blocked = remote.status == GatewayKeyStatus::Blocked;
    if is_blocked != blocked {
        out.push(format!("blocked {is_blocked} instead of {blocked}"));
    }
    let expiry_differs = match (remote.expires_at, row.expires_at) {
        (Some(a), Some(b)) => (a - b).num_seconds().abs() > EXPIRY_TOLERANCE_SECONDS,
        (None, None) => false,
        // An expiry already passed is LiteLLM's business; the sweep marks the row expired.
        (None, Some(b)) => b > now,
        (Some(_), None) => true,
    };
    if expiry_differs {
        out.push(format!(
            "expires {:?} instead of {:?}",
            remote.expires_at, row.expires_at
        ));
    }
    out
}

/// A LiteLLM fix is done when the call succeeded or the key is already gone.
fn settle(result: Result<(), GatewayError>, detail: &mut String) -> bool {
    match result {
        Ok(()) | Err(GatewayError::NotFound) => true,
        Err(error) => {
            detail.push_str(&format!(" (not fixed: {error})"));
            false
        }
    }
}

fn store_fix(result: Result<(), crate::StoreError>, detail: &mut String) -> bool {
    match result {
        Ok(()) => true,
        Err(error) => {
            detail.push_str(&format!(" (LiteLLM fixed, record not updated: {error})"));
            false
        }
    }
}

fn gateway_error(error: GatewayError) -> Error {
    match error {
        GatewayError::Unavailable(detail) => Error::GatewayUnavailable { detail },
        other => Error::GatewayRejected(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{GatewayKeyPage, MockApiKeyStore, MockAuditLog, MockGateway, MockUserStore};
    use crate::secret::{Secret, SecretKind, RANDOM_BYTES};
    use crate::usecases::fixtures::*;
    use std::sync::Mutex;

    fn key_with(seed: u8, status: ApiKeyStatus, age_minutes: i64) -> ApiKey {
        let mut key = api_key(alice().user_id, status);
        key.hash = Secret::from_random(SecretKind::ApiKey, &[seed; RANDOM_BYTES]).hash();
        key.created_at = now() - Duration::minutes(age_minutes);
        key
    }

    /// LiteLLM's view of a key that matches the row exactly.
    fn remote_of(row: &ApiKey) -> GatewayKey {
        GatewayKey {
            hash: row.hash.clone(),
            alias: Some(row.litellm_alias.clone()),
            user_id: Some(row.user_id.to_string()),
            models: row.models.iter().map(|m| m.to_string()).collect(),
            status: GatewayKeyStatus::Active,
            max_budget: row.limits.max_budget,
            budget_duration: row.limits.budget_duration.as_ref().map(ToString::to_string),
            tpm_limit: row.limits.tpm_limit,
            rpm_limit: row.limits.rpm_limit,
            spend: Some(money(1)),
            budget_reset_at: None,
            expires_at: row.expires_at,
            metadata: serde_json::json!({"managed_by": "keyport", "keyport_key_id": row.id}),
        }
    }

    struct World {
        in_sync: ApiKey,
        drifted: ApiKey,
        stale: ApiKey,
        revoked: ApiKey,
        missing: ApiKey,
        fresh_provisioning: ApiKey,
        orphan: GatewayKey,
        foreign: GatewayKey,
    }

    fn world() -> World {
        let orphan_row = key_with(10, ApiKeyStatus::Active, 60);
        let mut foreign = remote_of(&key_with(11, ApiKeyStatus::Active, 60));
        foreign.metadata = serde_json::json!({"team": "someone else"});
        World {
            in_sync: key_with(1, ApiKeyStatus::Active, 60),
            drifted: key_with(2, ApiKeyStatus::Active, 60),
            stale: key_with(3, ApiKeyStatus::Provisioning, 60),
            revoked: key_with(4, ApiKeyStatus::Revoked, 60),
            missing: key_with(5, ApiKeyStatus::Active, 60),
            fresh_provisioning: key_with(6, ApiKeyStatus::Provisioning, 1),
            orphan: remote_of(&orphan_row),
            foreign,
        }
    }

    /// Mocks over the world; `calls` records every mutation by name.
    fn mocks(w: &World, calls: Arc<Mutex<Vec<String>>>) -> Reconcile {
        let mut drifted_remote = remote_of(&w.drifted);
        drifted_remote.models = vec!["gpt-4o-mini".into(), "claude".into()];
        drifted_remote.max_budget = Some(money(999));
        let page = vec![
            remote_of(&w.in_sync),
            drifted_remote,
            remote_of(&w.stale),
            remote_of(&w.revoked),
            remote_of(&w.fresh_provisioning),
            w.orphan.clone(),
            w.foreign.clone(),
        ];
        let mut gateway = MockGateway::new();
        gateway
            .expect_list_keys()
            .withf(|p, s| *p == 1 && *s == 100)
            .returning(move |_, _| {
                Ok(GatewayKeyPage {
                    keys: page.clone(),
                    total_count: 7,
                    total_pages: 1,
                })
            });
        let c = calls.clone();
        gateway.expect_delete_key().returning(move |h| {
            c.lock()
                .unwrap()
                .push(format!("delete {}", &h.as_str()[..6]));
            Ok(())
        });
        let c = calls.clone();
        gateway.expect_update_key().returning(move |u| {
            c.lock()
                .unwrap()
                .push(format!("update {}", &u.hash.as_str()[..6]));
            Ok(remote_of_hash(&u.hash))
        });
        let missing_hash = w.missing.hash.clone();
        gateway
            .expect_key_info()
            .withf(move |h| *h == missing_hash)
            .returning(|_| Ok(None));

        let rows = vec![
            w.in_sync.clone(),
            w.drifted.clone(),
            w.stale.clone(),
            w.revoked.clone(),
            w.missing.clone(),
            w.fresh_provisioning.clone(),
        ];
        let mut keys = MockApiKeyStore::new();
        let all = rows.clone();
        keys.expect_keys_by_hashes().returning(move |hs| {
            Ok(all
                .iter()
                .filter(|k| hs.contains(&k.hash))
                .cloned()
                .collect())
        });
        let live = rows.clone();
        keys.expect_keys_after()
            .returning(move |after, statuses, _| {
                Ok(if after.is_some() {
                    vec![]
                } else {
                    live.iter()
                        .filter(|k| statuses.contains(&k.status))
                        .cloned()
                        .collect()
                })
            });
        let c = calls.clone();
        keys.expect_record_spend().returning(move |r, _| {
            c.lock().unwrap().push(format!("spend {}", r.len()));
            Ok(())
        });
        let c = calls.clone();
        keys.expect_fail_key().returning(move |id, _, _, a| {
            assert_eq!(a.action, "reconcile.stale_provisioning");
            c.lock().unwrap().push(format!("fail {id}"));
            Ok(())
        });
        let c = calls.clone();
        keys.expect_mark_key_synced().returning(move |id, _| {
            c.lock().unwrap().push(format!("synced {id}"));
            Ok(())
        });
        let c = calls.clone();
        keys.expect_change_key_status()
            .returning(move |id, _, to, _, _| {
                c.lock().unwrap().push(format!("{} {id}", to.as_str()));
                Ok(api_key(alice().user_id, to))
            });
        let mut users = MockUserStore::new();
        users.expect_get_users().returning(|ids| {
            Ok(ids
                .iter()
                .map(|id| crate::user::User {
                    id: *id,
                    username: "alice".into(),
                    email: None,
                    display_name: None,
                    roles: vec![crate::user::Role::User],
                    status: UserStatus::Active,
                    created_at: now(),
                })
                .collect())
        });
        let mut audit = MockAuditLog::new();
        let c = calls.clone();
        audit.expect_append().returning(move |e| {
            c.lock().unwrap().push(format!("audit {}", e.action));
            Ok(())
        });
        Reconcile::new(
            Arc::new(keys),
            Arc::new(users),
            Arc::new(audit),
            Arc::new(gateway),
            fixed_clock(),
        )
    }

    fn remote_of_hash(hash: &KeyHash) -> GatewayKey {
        let mut k = remote_of(&api_key(alice().user_id, ApiKeyStatus::Active));
        k.hash = hash.clone();
        k
    }

    fn kinds(report: &ReconcileReport) -> Vec<(FindingKind, bool)> {
        let mut out: Vec<_> = report.findings.iter().map(|f| (f.kind, f.fixed)).collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn a_dry_run_finds_every_kind_of_disagreement_and_changes_nothing() {
        let w = world();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let options = ReconcileOptions {
            dry_run: true,
            ..ReconcileOptions::default()
        };
        let report = mocks(&w, calls.clone())
            .execute(&options, &|_| {})
            .await
            .unwrap();
        assert_eq!(
            kinds(&report),
            [
                (FindingKind::Orphan, false),
                (FindingKind::StaleProvisioning, false),
                (FindingKind::DeadKeyPresent, false),
                (FindingKind::Drift, false),
                (FindingKind::Missing, false),
            ]
        );
        assert!(
            calls.lock().unwrap().is_empty(),
            "{:?}",
            calls.lock().unwrap()
        );
        let drift = report
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Drift)
            .unwrap();
        assert!(
            drift.detail.contains("models") && drift.detail.contains("max_budget"),
            "{}",
            drift.detail
        );
        assert_eq!(report.litellm_keys, 7);
        assert_eq!(report.litellm_pages, 1);
    }

    #[tokio::test]
    async fn a_real_pass_fixes_each_disagreement_keyports_record_winning() {
        let w = world();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut progress = Vec::new();
        let seen = Mutex::new(&mut progress);
        let report = mocks(&w, calls.clone())
            .execute(&ReconcileOptions::default(), &|p| {
                seen.lock().unwrap().push(p)
            })
            .await
            .unwrap();
        assert!(
            report.findings.iter().all(|f| f.fixed),
            "{:?}",
            report.findings
        );
        let calls = calls.lock().unwrap().clone();
        let has = |s: String| assert!(calls.contains(&s), "{s} not in {calls:?}");
        has(format!("delete {}", &w.orphan.hash.as_str()[..6]));
        has("audit reconcile.orphan_deleted".into());
        has(format!("delete {}", &w.stale.hash.as_str()[..6]));
        has(format!("fail {}", w.stale.id));
        has(format!("delete {}", &w.revoked.hash.as_str()[..6]));
        has(format!("synced {}", w.revoked.id));
        has(format!("update {}", &w.drifted.hash.as_str()[..6]));
        has(format!("lost {}", w.missing.id));
        has("spend 2".into());
        assert!(
            !calls
                .iter()
                .any(|c| c.contains(&w.foreign.hash.as_str()[..6])),
            "a key keyport does not own is left alone"
        );
        assert!(
            !calls
                .iter()
                .any(|c| c.contains(&w.fresh_provisioning.hash.as_str()[..6])),
            "a key being created is left alone"
        );
        assert!(!calls
            .iter()
            .any(|c| c.contains(&w.in_sync.hash.as_str()[..6])));
        // One page, four fixes in LiteLLM, one confirmation of the missing key: never a call per key.
        assert_eq!(report.litellm_calls, 1 + 4 + 1);
        assert_eq!(
            progress.first(),
            Some(&ReconcileProgress::LiteLlmPage { page: 1, pages: 1 })
        );
    }

    #[tokio::test]
    async fn quarantine_blocks_orphans_instead_of_deleting_them() {
        let w = world();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut rec = mocks(&w, calls.clone());
        let mut gateway = MockGateway::new();
        let orphan = w.orphan.clone();
        gateway.expect_list_keys().returning(move |_, _| {
            Ok(GatewayKeyPage {
                keys: vec![orphan.clone()],
                total_count: 1,
                total_pages: 1,
            })
        });
        gateway.expect_block_key().times(1).returning(|_| Ok(()));
        gateway.expect_delete_key().never();
        gateway.expect_key_info().returning(|_| Ok(None));
        rec.gateway = Arc::new(gateway);
        let options = ReconcileOptions {
            quarantine_orphans: true,
            ..ReconcileOptions::default()
        };
        let report = rec.execute(&options, &|_| {}).await.unwrap();
        assert_eq!(kinds(&report)[0], (FindingKind::Orphan, true));
        assert!(calls
            .lock()
            .unwrap()
            .contains(&"audit reconcile.orphan_blocked".to_owned()));
    }

    /// A reconciler over one LiteLLM page and these rows, recording status changes; LiteLLM never has the
    /// missing keys, and an update is a test failure.
    fn single(
        remote: Vec<GatewayKey>,
        rows: Vec<ApiKey>,
        calls: Arc<Mutex<Vec<String>>>,
    ) -> Reconcile {
        let mut gateway = MockGateway::new();
        gateway.expect_list_keys().returning(move |_, _| {
            Ok(GatewayKeyPage {
                keys: remote.clone(),
                total_count: 1,
                total_pages: 1,
            })
        });
        gateway.expect_update_key().never();
        gateway.expect_key_info().returning(|_| Ok(None));
        let mut keys = MockApiKeyStore::new();
        let all = rows.clone();
        keys.expect_keys_by_hashes().returning(move |hs| {
            Ok(all
                .iter()
                .filter(|k| hs.contains(&k.hash))
                .cloned()
                .collect())
        });
        keys.expect_keys_after()
            .returning(move |after, statuses, _| {
                Ok(rows
                    .iter()
                    .filter(|k| after.is_none() && statuses.contains(&k.status))
                    .cloned()
                    .collect())
            });
        keys.expect_record_spend().returning(|_, _| Ok(()));
        let c = calls.clone();
        keys.expect_change_key_status()
            .returning(move |id, from, to, _, audit| {
                c.lock().unwrap().push(format!(
                    "{} {id} from {:?} by {}",
                    to.as_str(),
                    from,
                    audit.action
                ));
                Ok(api_key(alice().user_id, to))
            });
        let mut users = MockUserStore::new();
        users.expect_get_users().returning(|_| Ok(vec![]));
        Reconcile::new(
            Arc::new(keys),
            Arc::new(users),
            Arc::new(MockAuditLog::new()),
            Arc::new(gateway),
            fixed_clock(),
        )
    }

    #[tokio::test]
    async fn a_live_key_left_without_models_is_revoked_never_sent_an_empty_model_list() {
        // Created while its only subscription was being cancelled: LiteLLM holds the model, keyport none.
        let mut row = key_with(1, ApiKeyStatus::Active, 60);
        let remote = remote_of(&row);
        row.models.clear();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let report = single(vec![remote], vec![row.clone()], calls.clone())
            .execute(&ReconcileOptions::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(kinds(&report), [(FindingKind::Drift, true)]);
        assert_eq!(
            *calls.lock().unwrap(),
            [format!(
                "revoked {} from [Active] by api_key.revoke",
                row.id
            )]
        );
    }

    #[tokio::test]
    async fn a_retiring_key_past_its_deadline_that_litellm_no_longer_has_is_retired_not_lost() {
        let mut past = key_with(1, ApiKeyStatus::Retiring, 60);
        past.retire_at = Some(now() - Duration::minutes(1));
        let mut before = key_with(2, ApiKeyStatus::Retiring, 60);
        before.retire_at = Some(now() + Duration::minutes(1));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let report = single(vec![], vec![past.clone(), before.clone()], calls.clone())
            .execute(&ReconcileOptions::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(
            kinds(&report),
            [(FindingKind::Missing, true), (FindingKind::Missing, true)]
        );
        let calls = calls.lock().unwrap();
        assert!(
            calls.contains(&format!(
                "revoked {} from [Retiring] by api_key.retire",
                past.id
            )),
            "{calls:?}"
        );
        assert!(
            calls.contains(&format!(
                "lost {} from [Retiring] by reconcile.lost",
                before.id
            )),
            "a key that should still work is lost: {calls:?}"
        );
    }

    #[test]
    fn drift_covers_blocked_state_and_expiry_with_a_tolerance_for_durations() {
        let mut row = key_with(1, ApiKeyStatus::Active, 60);
        row.expires_at = Some(now() + Duration::days(1));
        let mut remote = remote_of(&row);
        assert!(drift(&row, &remote, false, now()).is_empty());
        assert_eq!(
            drift(&row, &remote, true, now()),
            ["blocked false instead of true"]
        );
        remote.expires_at = Some(now() + Duration::days(1) + Duration::seconds(30));
        assert!(
            drift(&row, &remote, false, now()).is_empty(),
            "seconds of difference are LiteLLM computing from a duration"
        );
        remote.expires_at = None;
        assert_eq!(drift(&row, &remote, false, now()).len(), 1);
        remote.expires_at = row.expires_at;
        remote.tpm_limit = None;
        assert!(drift(&row, &remote, false, now())[0].starts_with("tpm_limit"));
    }

    #[tokio::test]
    async fn deletions_wait_until_every_page_is_read_so_that_offset_paging_skips_nothing() {
        let w = world();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut rec = mocks(&w, Arc::new(Mutex::new(Vec::new())));
        let mut gateway = MockGateway::new();
        let (orphan, in_sync) = (w.orphan.clone(), remote_of(&w.in_sync));
        let o = order.clone();
        gateway
            .expect_list_keys()
            .times(2)
            .returning(move |page, _| {
                o.lock().unwrap().push(format!("list {page}"));
                let keys = if page == 1 {
                    vec![orphan.clone()]
                } else {
                    vec![in_sync.clone()]
                };
                Ok(GatewayKeyPage {
                    keys,
                    total_count: 2,
                    total_pages: 2,
                })
            });
        let o = order.clone();
        gateway.expect_delete_key().returning(move |_| {
            o.lock().unwrap().push("delete".to_owned());
            Ok(())
        });
        gateway.expect_key_info().returning(|_| Ok(None));
        gateway
            .expect_update_key()
            .returning(|u| Ok(remote_of_hash(&u.hash)));
        rec.gateway = Arc::new(gateway);
        rec.execute(&ReconcileOptions::default(), &|_| {})
            .await
            .unwrap();
        let order = order.lock().unwrap().clone();
        let last_list = order.iter().rposition(|c| c.starts_with("list")).unwrap();
        let first_delete = order.iter().position(|c| c == "delete").unwrap();
        assert!(first_delete > last_list, "{order:?}");
    }
}

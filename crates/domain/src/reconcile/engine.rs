use crate::access::ConvergeUser;
use crate::access::{user_drift, GatewayUserState};
use crate::access::{AccessRecord, AccessStore};
use crate::audit::AuditEvent;
use crate::audit::AuditLog;
use crate::gateway::{Gateway, GatewayKey, GatewayKeyStatus, UpdateKey, MAX_USERS_PER_LIST};
use crate::ids::{ApiKeyId, UserId};
use crate::keys::{desired_state, live_state};
use crate::keys::{ApiKey, ApiKeyStatus};
use crate::keys::{ApiKeyStore, SpendReading};
use crate::runtime::Clock;
use crate::secret::KeyHash;
use crate::settings::SettingsSource;
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
    /// A LiteLLM key of a keyport user that keyport did not make (minted with the user's own key, or in
    /// LiteLLM's UI): it escapes keyport's quotas, so it is deleted.
    Unmanaged,
    /// A keyport user whose LiteLLM role, models, spend pools or team differ from their subscriptions.
    UserDrift,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        Self::Orphan,
        Self::StaleProvisioning,
        Self::DeadKeyPresent,
        Self::Drift,
        Self::Missing,
        Self::Unmanaged,
        Self::UserDrift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orphan => "orphan",
            Self::StaleProvisioning => "stale provisioning",
            Self::DeadKeyPresent => "dead key present",
            Self::Drift => "drift",
            Self::Missing => "missing",
            Self::Unmanaged => "unmanaged key",
            Self::UserDrift => "user drift",
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
    access: Arc<dyn AccessStore>,
    owner_access: Arc<ConvergeUser>,
    audit: Arc<dyn AuditLog>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
    settings: SettingsSource,
}

/// A fix that deletes or blocks in LiteLLM, run after the listing.
enum Deferred {
    Orphan(GatewayKey),
    Unmanaged(GatewayKey, UserId),
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
        access: Arc<dyn AccessStore>,
        owner_access: Arc<ConvergeUser>,
        audit: Arc<dyn AuditLog>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
        settings: SettingsSource,
    ) -> Self {
        Self {
            keys,
            access,
            owner_access,
            audit,
            gateway,
            clock,
            settings,
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
        let routes = self.settings.current().await?.allowed_routes;
        // Users whose LiteLLM side this pass has checked (once each, on the page where their keys appear).
        let mut users_checked: HashSet<UserId> = HashSet::new();
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
            let owners = self.owners_of(&listed.keys, &rows).await?;
            self.check_users(&owners, &mut users_checked, options, &mut report)
                .await?;
            let mut readings = Vec::new();
            for remote in &listed.keys {
                seen.insert(remote.hash.clone());
                match rows.get(&remote.hash) {
                    None if is_keyports(remote) => deferred.push(Deferred::Orphan(remote.clone())),
                    // Not keyport's, but its owner is a keyport user: a key that escapes the quotas.
                    None => {
                        if let Some(user) = owner_id(remote).filter(|u| owners.contains_key(u)) {
                            deferred.push(Deferred::Unmanaged(remote.clone(), user));
                        }
                    }
                    Some(row) => match row.status {
                        ApiKeyStatus::Provisioning if row.created_at < stale_before => {
                            deferred.push(Deferred::Stale(row.clone()))
                        }
                        ApiKeyStatus::Provisioning => {}
                        ApiKeyStatus::Revoked
                        | ApiKeyStatus::Expired
                        | ApiKeyStatus::Failed
                        | ApiKeyStatus::Lost => deferred.push(Deferred::Dead(row.clone())),
                        ApiKeyStatus::Active | ApiKeyStatus::Retiring => {
                            let state = live_state(row, owners.get(&row.user_id));
                            let Some((models, blocked)) = state.models_and_blocked() else {
                                // Its last subscription went while it was being created: LiteLLM would
                                // read `models: []` as every model, so the key is revoked instead (as a
                                // job would).
                                self.no_model_left(row, options, &mut report).await;
                                continue;
                            };
                            let wanted =
                                desired_state(row, models, blocked, &routes, self.clock.now());
                            let differences = drift(row, remote, &wanted, self.clock.now());
                            if !differences.is_empty() {
                                // The key's team and pools must be in LiteLLM before it joins them.
                                let owner_pending = owners
                                    .get(&row.user_id)
                                    .is_some_and(AccessRecord::is_pending);
                                if owner_pending && !options.dry_run {
                                    if let Err(error) = self.owner_access.execute(row.user_id).await
                                    {
                                        tracing::warn!(user = %row.user_id, %error, "could not bring a key owner's pools into LiteLLM; the key's fix may fail until its job runs");
                                    }
                                }
                                self.fix_drift(row, &wanted, differences, options, &mut report)
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
                Deferred::Unmanaged(remote, user) => {
                    self.unmanaged(&remote, user, options, &mut report).await
                }
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

    /// The keyport records of the owners of a page's keys: of keyport's live rows, and of LiteLLM keys
    /// keyport does not know whose `user_id` is a keyport user's id.
    async fn owners_of(
        &self,
        listed: &[GatewayKey],
        rows: &HashMap<KeyHash, ApiKey>,
    ) -> Result<HashMap<UserId, AccessRecord>, Error> {
        let ids: Vec<UserId> = rows
            .values()
            .filter(|k| matches!(k.status, ApiKeyStatus::Active | ApiKeyStatus::Retiring))
            .map(|k| k.user_id)
            .chain(
                listed
                    .iter()
                    .filter(|k| !rows.contains_key(&k.hash) && !is_keyports(k))
                    .filter_map(owner_id),
            )
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .access
            .access_records(&ids)
            .await?
            .into_iter()
            .map(|r| (r.user.id, r))
            .collect())
    }

    /// Compares each owner's LiteLLM user (role, models, spend pools, team membership) with their
    /// subscriptions, in one LiteLLM call per page; a user whose change is still queued is left to its job.
    async fn check_users(
        &self,
        owners: &HashMap<UserId, AccessRecord>,
        checked: &mut HashSet<UserId>,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) -> Result<(), Error> {
        let due: Vec<&AccessRecord> = owners
            .values()
            .filter(|r| !r.is_pending() && checked.insert(r.user.id))
            .collect();
        for chunk in due.chunks(MAX_USERS_PER_LIST) {
            let ids: Vec<UserId> = chunk.iter().map(|r| r.user.id).collect();
            report.litellm_calls += 1;
            let held: HashMap<String, GatewayUserState> = match self.gateway.list_users(&ids).await
            {
                Ok(users) => users.into_iter().map(|u| (u.user_id.clone(), u)).collect(),
                Err(error) => {
                    // The keys are still worth checking: the users wait for the next pass.
                    tracing::warn!(%error, users = ids.len(), "could not list LiteLLM users; their check waits for the next pass");
                    for id in &ids {
                        checked.remove(id);
                    }
                    continue;
                }
            };
            for record in chunk {
                let access = record.access();
                let differences = match held.get(&record.user.id.to_string()) {
                    Some(state) => user_drift(&access, state),
                    None => vec!["LiteLLM has no such user".to_owned()],
                };
                if !differences.is_empty() {
                    self.fix_user(record.user.id, differences, options, report)
                        .await;
                }
            }
        }
        Ok(())
    }

    async fn fix_user(
        &self,
        user: UserId,
        differences: Vec<String>,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let mut finding = Finding {
            kind: FindingKind::UserDrift,
            key_id: None,
            hash_prefix: String::new(),
            detail: format!("user {user}: {}", differences.join("; ")),
            fixed: false,
        };
        if !options.dry_run {
            report.litellm_calls += 3;
            match self.owner_access.execute(user).await {
                Ok(_) => {
                    let event = AuditEvent::system(
                        "reconcile.user_drift_corrected",
                        "user",
                        user,
                        self.clock.now(),
                    )
                    .with_after(serde_json::json!({"differences": differences}));
                    self.audit_or_log(&event).await;
                    finding.fixed = true;
                }
                Err(error) => finding.detail.push_str(&format!(" (not fixed: {error})")),
            }
        }
        report.findings.push(finding);
    }

    async fn unmanaged(
        &self,
        remote: &GatewayKey,
        user: UserId,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) {
        let mut finding = Finding {
            kind: FindingKind::Unmanaged,
            key_id: None,
            hash_prefix: prefix(&remote.hash),
            detail: format!(
                "key {} of user {user}, not made by keyport (models {:?}, budget {:?})",
                remote.alias.as_deref().unwrap_or("without alias"),
                remote.models,
                remote.max_budget.map(|m| m.to_string()),
            ),
            fixed: false,
        };
        if !options.dry_run {
            report.litellm_calls += 1;
            finding.fixed = settle(
                self.gateway.delete_key(&remote.hash).await,
                &mut finding.detail,
            );
            if finding.fixed {
                let event = AuditEvent::system(
                    "reconcile.unmanaged_key_deleted",
                    "litellm_key",
                    remote.hash.as_str(),
                    self.clock.now(),
                )
                .with_before(serde_json::json!({
                    "user_id": user,
                    "alias": remote.alias,
                    "models": remote.models,
                    "max_budget": remote.max_budget.map(|m| m.to_string()),
                    "spend": remote.spend.map(|m| m.to_string()),
                    "metadata": remote.metadata,
                }));
                self.audit_or_log(&event).await;
            }
        }
        report.findings.push(finding);
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
        wanted: &UpdateKey,
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
            match self.gateway.update_key(wanted).await {
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

/// The keyport user id a LiteLLM key names as its owner, when it is one.
fn owner_id(key: &GatewayKey) -> Option<UserId> {
    key.user_id
        .as_deref()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(UserId)
}

/// Whether LiteLLM's key carries keyport's tag.
fn is_keyports(key: &GatewayKey) -> bool {
    key.metadata.get("managed_by").and_then(|v| v.as_str()) == Some("keyport")
}

fn prefix(hash: &KeyHash) -> String {
    hash.as_str().chars().take(12).collect()
}

/// The fields in which LiteLLM's key differs from what keyport wants it to be.
fn drift(row: &ApiKey, remote: &GatewayKey, wanted: &UpdateKey, now: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let blocked = wanted.blocked;
    let models: BTreeSet<&str> = wanted.models.iter().map(|m| m.as_str()).collect();
    let held: BTreeSet<&str> = remote.models.iter().map(String::as_str).collect();
    if models != held {
        out.push(format!("models {held:?} instead of {models:?}"));
    }
    let routes: BTreeSet<&str> = wanted.allowed_routes.iter().map(String::as_str).collect();
    let held_routes: BTreeSet<&str> = remote.allowed_routes.iter().map(String::as_str).collect();
    if routes != held_routes {
        out.push(if held_routes.is_empty() {
            format!("no route restriction instead of {routes:?}")
        } else {
            format!("routes {held_routes:?} instead of {routes:?}")
        });
    }
    if remote.team_id.as_deref() != Some(wanted.team_id.as_str()) {
        out.push(format!(
            "team {:?} instead of {:?}",
            remote.team_id, wanted.team_id
        ));
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
    use crate::access::MockAccessStore;
    use crate::access::{team_id_of, UserAccess, GATEWAY_USER_ROLE, NO_MODELS};
    use crate::audit::MockAuditLog;
    use crate::fixtures::*;
    use crate::gateway::{GatewayKeyPage, MockGateway};
    use crate::keys::MockApiKeyStore;
    use crate::secret::{Secret, SecretKind, RANDOM_BYTES};
    use crate::users::UserStatus;
    use std::sync::Mutex;

    /// A reconciler whose owner convergence shares its access store and gateway.
    fn reconciler(
        keys: MockApiKeyStore,
        access: MockAccessStore,
        audit: MockAuditLog,
        gateway: MockGateway,
    ) -> Reconcile {
        let access: Arc<dyn AccessStore> = Arc::new(access);
        let gateway: Arc<dyn Gateway> = Arc::new(gateway);
        let owner_access = Arc::new(ConvergeUser::new(
            access.clone(),
            gateway.clone(),
            fixed_clock(),
        ));
        Reconcile::new(
            Arc::new(keys),
            access,
            owner_access,
            Arc::new(audit),
            gateway,
            fixed_clock(),
            settings_source(),
        )
    }

    /// The store holds `rows`: it finds them by hash and lists those of the statuses asked for on its
    /// first page of live keys (there is no second).
    fn holds_rows(keys: &mut MockApiKeyStore, rows: Vec<ApiKey>) {
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
    }

    /// LiteLLM lists `remote` on its only page, saying it holds `total` keys.
    fn lists_one_page(gateway: &mut MockGateway, remote: Vec<GatewayKey>, total: u64) {
        gateway.expect_list_keys().returning(move |_, _| {
            Ok(GatewayKeyPage {
                keys: remote.clone(),
                total_count: total,
                total_pages: 1,
            })
        });
    }

    /// A reconciler over these mocks for which keyport knows Alice only, in line with LiteLLM.
    fn for_alice(keys: MockApiKeyStore, audit: MockAuditLog, gateway: MockGateway) -> Reconcile {
        reconciler(
            keys,
            known_users(vec![record_of(alice().user_id)]),
            audit,
            gateway,
        )
    }

    /// Runs one pass with `options`, reporting progress nowhere.
    trait Pass {
        async fn pass(self, options: &ReconcileOptions) -> ReconcileReport;
    }

    impl Pass for Reconcile {
        async fn pass(self, options: &ReconcileOptions) -> ReconcileReport {
            self.execute(options, &|_| {}).await.unwrap()
        }
    }

    /// An active user without subscriptions, in line with LiteLLM.
    fn record_of(id: UserId) -> AccessRecord {
        access_record(id, UserStatus::Active, vec![])
    }

    /// An access store that knows these users (and no other).
    fn known_users(records: Vec<AccessRecord>) -> MockAccessStore {
        let mut access = MockAccessStore::new();
        access.expect_access_records().returning(move |ids| {
            Ok(records
                .iter()
                .filter(|r| ids.contains(&r.user.id))
                .cloned()
                .collect())
        });
        access
    }

    /// What LiteLLM holds for a user in line with `access`.
    fn held(access: &UserAccess) -> GatewayUserState {
        let mut models: Vec<String> = access.models.iter().map(|m| m.to_string()).collect();
        if models.is_empty() {
            models.push(NO_MODELS.into());
        }
        GatewayUserState {
            user_id: access.user_id.to_string(),
            role: Some(GATEWAY_USER_ROLE.into()),
            models,
            budgets: access
                .budgets
                .iter()
                .map(|(m, b)| (m.to_string(), (b.max_budget, b.window.to_string())))
                .collect(),
            teams: vec![access.team_id()],
        }
    }

    /// LiteLLM holds every user it is asked about as [`record_of`] wants it.
    fn users_in_line(gateway: &mut MockGateway) {
        gateway.expect_list_users().returning(|ids| {
            Ok(ids
                .iter()
                .map(|id| held(&record_of(*id).access()))
                .collect())
        });
    }

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
            spend: Some(money("1")),
            budget_reset_at: None,
            expires_at: row.expires_at,
            metadata: serde_json::json!({"managed_by": "keyport", "keyport_key_id": row.id}),
            team_id: Some(team_id_of(row.user_id)),
            allowed_routes: key_settings().allowed_routes.as_slice().to_vec(),
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
        foreign.user_id = Some(UserId::new().to_string());
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
        drifted_remote.max_budget = Some(money("999"));
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
        users_in_line(&mut gateway);
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
        holds_rows(&mut keys, rows);
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
        let mut audit = MockAuditLog::new();
        let c = calls.clone();
        audit.expect_append().returning(move |e| {
            c.lock().unwrap().push(format!("audit {}", e.action));
            Ok(())
        });
        for_alice(keys, audit, gateway)
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
        let report = mocks(&w, calls.clone()).pass(&options).await;
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
        // One page, one user listing, four fixes in LiteLLM, one confirmation of the missing key: never a
        // call per key.
        assert_eq!(report.litellm_calls, 1 + 1 + 4 + 1);
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
        lists_one_page(&mut gateway, vec![w.orphan.clone()], 1);
        gateway.expect_block_key().times(1).returning(|_| Ok(()));
        gateway.expect_delete_key().never();
        gateway.expect_key_info().returning(|_| Ok(None));
        rec.gateway = Arc::new(gateway);
        let options = ReconcileOptions {
            quarantine_orphans: true,
            ..ReconcileOptions::default()
        };
        let report = rec.pass(&options).await;
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
        lists_one_page(&mut gateway, remote, 1);
        gateway.expect_update_key().never();
        gateway.expect_key_info().returning(|_| Ok(None));
        users_in_line(&mut gateway);
        let mut keys = MockApiKeyStore::new();
        holds_rows(&mut keys, rows);
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
        for_alice(keys, MockAuditLog::new(), gateway)
    }

    #[tokio::test]
    async fn a_live_key_left_without_models_is_revoked_never_sent_an_empty_model_list() {
        // Created while its only subscription was being cancelled: LiteLLM holds the model, keyport none.
        let mut row = key_with(1, ApiKeyStatus::Active, 60);
        let remote = remote_of(&row);
        row.models.clear();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let report = single(vec![remote], vec![row.clone()], calls.clone())
            .pass(&ReconcileOptions::default())
            .await;
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
            .pass(&ReconcileOptions::default())
            .await;
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
        let routes = key_settings().allowed_routes;
        let open = desired_state(&row, &row.models, false, &routes, now());
        let blocked = desired_state(&row, &row.models, true, &routes, now());
        assert!(drift(&row, &remote, &open, now()).is_empty());
        assert_eq!(
            drift(&row, &remote, &blocked, now()),
            ["blocked false instead of true"]
        );
        remote.expires_at = Some(now() + Duration::days(1) + Duration::seconds(30));
        assert!(
            drift(&row, &remote, &open, now()).is_empty(),
            "seconds of difference are LiteLLM computing from a duration"
        );
        remote.expires_at = None;
        assert_eq!(drift(&row, &remote, &open, now()).len(), 1);
        remote.expires_at = row.expires_at;
        remote.tpm_limit = None;
        assert!(drift(&row, &remote, &open, now())[0].starts_with("tpm_limit"));
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
        users_in_line(&mut gateway);
        rec.gateway = Arc::new(gateway);
        rec.pass(&ReconcileOptions::default()).await;
        let order = order.lock().unwrap().clone();
        let last_list = order.iter().rposition(|c| c.starts_with("list")).unwrap();
        let first_delete = order.iter().position(|c| c == "delete").unwrap();
        assert!(first_delete > last_list, "{order:?}");
    }

    /// Keyport's side over one LiteLLM page: these rows, LiteLLM listing `remote` (and knowing no other
    /// key when asked by hash). The test adds what LiteLLM does about users and fixes.
    fn one_page(remote: Vec<GatewayKey>, rows: Vec<ApiKey>) -> (MockApiKeyStore, MockGateway) {
        let mut gateway = MockGateway::new();
        let total = remote.len() as u64;
        lists_one_page(&mut gateway, remote, total);
        gateway.expect_key_info().returning(|_| Ok(None));
        let mut keys = MockApiKeyStore::new();
        holds_rows(&mut keys, rows);
        keys.expect_record_spend().returning(|_, _| Ok(()));
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        (keys, gateway)
    }

    /// A LiteLLM key keyport did not make, owned by `user` (LiteLLM's `user_id`).
    fn not_keyports(seed: u8, user: &str) -> GatewayKey {
        let mut key = remote_of(&key_with(seed, ApiKeyStatus::Active, 60));
        key.user_id = Some(user.to_owned());
        key.metadata = serde_json::json!({});
        key.team_id = None;
        key.allowed_routes = vec![];
        key
    }

    /// An audit log that records the actions appended.
    fn recorded_audit() -> (MockAuditLog, Arc<Mutex<Vec<String>>>) {
        let actions = Arc::new(Mutex::new(Vec::new()));
        let a = actions.clone();
        let mut audit = MockAuditLog::new();
        audit.expect_append().returning(move |e| {
            a.lock().unwrap().push(e.action.clone());
            Ok(())
        });
        (audit, actions)
    }

    fn dry_run() -> ReconcileOptions {
        ReconcileOptions {
            dry_run: true,
            ..ReconcileOptions::default()
        }
    }

    #[tokio::test]
    async fn a_dry_run_reports_a_key_keyport_did_not_make_for_one_of_its_users_and_keeps_it() {
        let alice = alice().user_id;
        let minted = not_keyports(20, &alice.to_string());
        let (keys, mut gateway) = one_page(vec![minted.clone()], vec![]);
        users_in_line(&mut gateway);
        gateway.expect_delete_key().never();
        let report = for_alice(keys, MockAuditLog::new(), gateway)
            .pass(&dry_run())
            .await;
        assert_eq!(kinds(&report), [(FindingKind::Unmanaged, false)]);
        let finding = &report.findings[0];
        assert_eq!(finding.hash_prefix, prefix(&minted.hash));
        assert!(
            finding.detail.contains(&alice.to_string()),
            "{}",
            finding.detail
        );
    }

    #[tokio::test]
    async fn a_real_pass_deletes_a_key_keyport_did_not_make_for_one_of_its_users_and_audits_it() {
        let alice = alice().user_id;
        let minted = not_keyports(20, &alice.to_string());
        let (keys, mut gateway) = one_page(vec![minted.clone()], vec![]);
        users_in_line(&mut gateway);
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let d = deleted.clone();
        gateway.expect_delete_key().returning(move |h| {
            d.lock().unwrap().push(h.clone());
            Ok(())
        });
        let (audit, actions) = recorded_audit();
        let report = for_alice(keys, audit, gateway)
            .pass(&ReconcileOptions::default())
            .await;
        assert_eq!(kinds(&report), [(FindingKind::Unmanaged, true)]);
        assert_eq!(*deleted.lock().unwrap(), [minted.hash]);
        assert_eq!(
            *actions.lock().unwrap(),
            ["reconcile.unmanaged_key_deleted"]
        );
    }

    #[tokio::test]
    async fn a_litellm_key_of_a_user_keyport_does_not_know_is_left_alone() {
        let stranger = not_keyports(21, &UserId::new().to_string());
        let admin = not_keyports(22, "default_user_id");
        let (keys, mut gateway) = one_page(vec![stranger, admin], vec![]);
        gateway.expect_delete_key().never();
        gateway.expect_block_key().never();
        gateway.expect_list_users().never();
        let report = for_alice(keys, MockAuditLog::new(), gateway)
            .pass(&ReconcileOptions::default())
            .await;
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.litellm_keys, 2);
    }

    #[tokio::test]
    async fn a_key_that_may_call_every_route_is_drift_corrected_with_the_allowed_routes() {
        let row = key_with(1, ApiKeyStatus::Active, 60);
        let mut remote = remote_of(&row);
        remote.allowed_routes = vec![];
        let (keys, mut gateway) = one_page(vec![remote.clone()], vec![row.clone()]);
        users_in_line(&mut gateway);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let c = sent.clone();
        gateway.expect_update_key().returning(move |u| {
            c.lock().unwrap().push(u.clone());
            Ok(remote_of_hash(&u.hash))
        });
        let users = || known_users(vec![record_of(alice().user_id)]);

        let (dry_keys, mut dry_gateway) = one_page(vec![remote], vec![row.clone()]);
        users_in_line(&mut dry_gateway);
        dry_gateway.expect_update_key().never();
        let report = reconciler(dry_keys, users(), MockAuditLog::new(), dry_gateway)
            .pass(&dry_run())
            .await;
        assert_eq!(kinds(&report), [(FindingKind::Drift, false)]);
        assert!(
            report.findings[0].detail.contains("no route restriction"),
            "{}",
            report.findings[0].detail
        );

        let (audit, actions) = recorded_audit();
        let report = reconciler(keys, users(), audit, gateway)
            .pass(&ReconcileOptions::default())
            .await;
        assert_eq!(kinds(&report), [(FindingKind::Drift, true)]);
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].hash, row.hash);
        assert_eq!(
            sent[0].allowed_routes,
            key_settings().allowed_routes.as_slice()
        );
        assert_eq!(sent[0].team_id, team_id_of(row.user_id));
        assert_eq!(*actions.lock().unwrap(), ["reconcile.drift_corrected"]);
    }

    #[test]
    fn drift_covers_routes_and_team() {
        let row = key_with(1, ApiKeyStatus::Active, 60);
        let wanted = desired_state(
            &row,
            &row.models,
            false,
            &key_settings().allowed_routes,
            now(),
        );
        let mut remote = remote_of(&row);
        remote.allowed_routes = vec!["/v1/embeddings".into()];
        remote.team_id = None;
        let differences = drift(&row, &remote, &wanted, now());
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[0].starts_with("routes"), "{differences:?}");
        assert!(differences[1].starts_with("team"), "{differences:?}");
    }

    #[tokio::test]
    async fn a_user_litellm_holds_with_another_role_is_user_drift_that_a_real_pass_converges() {
        let alice = alice().user_id;
        let row = key_with(1, ApiKeyStatus::Active, 60);
        let wrong_role = move || {
            let mut state = held(&record_of(alice).access());
            state.role = Some("internal_user".into());
            vec![state]
        };

        // A dry run reports it and leaves LiteLLM as it is.
        let (keys, mut gateway) = one_page(vec![remote_of(&row)], vec![row.clone()]);
        gateway
            .expect_list_users()
            .returning(move |_| Ok(wrong_role()));
        gateway.expect_set_user_access().never();
        let report = for_alice(keys, MockAuditLog::new(), gateway)
            .pass(&dry_run())
            .await;
        assert_eq!(kinds(&report), [(FindingKind::UserDrift, false)]);
        assert!(
            report.findings[0].detail.contains("internal_user"),
            "{}",
            report.findings[0].detail
        );

        // A real pass runs the user's convergence.
        let (keys, mut gateway) = one_page(vec![remote_of(&row)], vec![row]);
        gateway
            .expect_list_users()
            .returning(move |_| Ok(wrong_role()));
        let converged = Arc::new(Mutex::new(Vec::new()));
        let c = converged.clone();
        gateway.expect_ensure_user().returning(move |u| {
            c.lock().unwrap().push(format!("ensure_user {}", u.user_id));
            Ok(())
        });
        let c = converged.clone();
        gateway.expect_set_user_access().returning(move |a| {
            c.lock()
                .unwrap()
                .push(format!("set_user_access {}", a.user_id));
            Ok(())
        });
        let c = converged.clone();
        gateway.expect_ensure_team().returning(move |a| {
            c.lock()
                .unwrap()
                .push(format!("ensure_team {}", a.team_id()));
            Ok(())
        });
        let mut access = known_users(vec![record_of(alice)]);
        access
            .expect_access_record()
            .returning(move |_| Ok(Some(record_of(alice))));
        access
            .expect_mark_access_synced()
            .times(1)
            .returning(|_, _, _| Ok(()));
        let (audit, actions) = recorded_audit();
        let report = reconciler(keys, access, audit, gateway)
            .pass(&ReconcileOptions::default())
            .await;
        assert_eq!(kinds(&report), [(FindingKind::UserDrift, true)]);
        assert_eq!(
            *converged.lock().unwrap(),
            [
                format!("ensure_user {alice}"),
                format!("set_user_access {alice}"),
                format!("ensure_team {}", team_id_of(alice)),
            ]
        );
        assert_eq!(*actions.lock().unwrap(), ["reconcile.user_drift_corrected"]);
    }

    #[tokio::test]
    async fn a_user_whose_change_is_still_queued_is_left_to_its_job() {
        let alice = alice().user_id;
        let row = key_with(1, ApiKeyStatus::Active, 60);
        let mut pending = record_of(alice);
        pending.version = 2;
        let (keys, mut gateway) = one_page(vec![remote_of(&row)], vec![row]);
        gateway.expect_list_users().never();
        gateway.expect_set_user_access().never();
        let report = reconciler(
            keys,
            known_users(vec![pending]),
            MockAuditLog::new(),
            gateway,
        )
        .pass(&ReconcileOptions::default())
        .await;
        assert_eq!(report.count(FindingKind::UserDrift), 0);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
    }

    #[tokio::test]
    async fn litellm_users_are_listed_once_per_page_not_once_per_key() {
        let (alice, bob) = (alice().user_id, bob().user_id);
        let mut rows = Vec::new();
        for seed in 1..=3 {
            rows.push(key_with(seed, ApiKeyStatus::Active, 60));
        }
        for seed in 4..=5 {
            let mut key = key_with(seed, ApiKeyStatus::Active, 60);
            key.user_id = bob;
            rows.push(key);
        }
        let later: Vec<ApiKey> = (6..=7)
            .map(|seed| key_with(seed, ApiKeyStatus::Active, 60))
            .collect();
        let first: Vec<GatewayKey> = rows.iter().map(remote_of).collect();
        let second: Vec<GatewayKey> = later.iter().map(remote_of).collect();
        rows.extend(later);

        let (keys, _) = one_page(vec![], rows);
        let mut gateway = MockGateway::new();
        gateway.expect_list_keys().returning(move |page, _| {
            Ok(GatewayKeyPage {
                keys: if page == 1 {
                    first.clone()
                } else {
                    second.clone()
                },
                total_count: 7,
                total_pages: 2,
            })
        });
        let listed = Arc::new(Mutex::new(Vec::new()));
        let l = listed.clone();
        gateway.expect_list_users().returning(move |ids| {
            let mut ids = ids.to_vec();
            ids.sort();
            l.lock().unwrap().push(ids.clone());
            Ok(ids
                .iter()
                .map(|id| held(&record_of(*id).access()))
                .collect())
        });
        let report = reconciler(
            keys,
            known_users(vec![record_of(alice), record_of(bob)]),
            MockAuditLog::new(),
            gateway,
        )
        .pass(&ReconcileOptions::default())
        .await;
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.litellm_pages, 2);
        let mut both = vec![alice, bob];
        both.sort();
        assert_eq!(
            *listed.lock().unwrap(),
            [both],
            "one call for the first page's users; the second page's were checked already"
        );
        assert_eq!(report.litellm_calls, 2 + 1);
    }
}

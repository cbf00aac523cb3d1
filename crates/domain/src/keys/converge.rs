use crate::access::ConvergeUser;
use crate::access::{team_id_of, InferenceRoutes};
use crate::access::{AccessRecord, AccessStore};
use crate::audit::AuditEvent;
use crate::gateway::{Gateway, UpdateKey};
use crate::ids::ApiKeyId;
use crate::ids::ModelId;
use crate::jobs::job_error;
use crate::keys::ApiKeyStore;
use crate::keys::{ApiKey, ApiKeyStatus};
use crate::runtime::Clock;
use crate::settings::SettingsSource;
use crate::subscriptions::SubscriptionStatus;
use crate::users::UserStatus;
use crate::{Error, GatewayError, StoreError};
use std::sync::Arc;

/// What converging a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converged {
    /// LiteLLM already matched, or now does.
    InLine,
    /// The key was deleted in LiteLLM (revoked, expired, lost, or retired at its deadline).
    Deleted,
    /// A retiring key that is not due yet: LiteLLM updated, the deletion waits for the deadline.
    WaitingForDeadline(chrono::DateTime<chrono::Utc>),
    /// The key had no model left and was revoked; its deletion follows.
    RevokedForLackOfModels,
    /// LiteLLM no longer had an active key: marked `lost`.
    MarkedLost,
    /// Nothing to do for its status (provisioning, failed) or the key no longer exists.
    Skipped,
}

/// Bring LiteLLM in line with one key's row: the job behind every change after creation. It reads both
/// sides and acts on the difference, so it is idempotent and safe to run again after a crash half way.
///
/// - `active`, `retiring` before its deadline: LiteLLM gets the whole desired state (models of the active
///   subscriptions, limits, expiry, blocked when the owner is suspended or an administrator blocked the
///   key, metadata, the owner's team, the allowed routes), after the owner's pools when those are pending. A key whose subscriptions are all
///   suspended by an administrator is blocked until one returns; a key left without any subscription is
///   revoked (LiteLLM reads `models: []` as "every model"). A key LiteLLM no longer has becomes `lost` (it
///   cannot be re-created without its secret).
/// - `retiring` at or after its deadline: deleted in LiteLLM, then `revoked`.
/// - `revoked`, `expired`, `lost`: deleted in LiteLLM (already gone counts as done), then marked synced.
pub struct ConvergeKey {
    keys: Arc<dyn ApiKeyStore>,
    access: Arc<dyn AccessStore>,
    owner_access: Arc<ConvergeUser>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
    settings: SettingsSource,
}

/// What a live key must be in LiteLLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LiveState {
    /// Serving these models (the active subscriptions'), blocked when its owner is suspended or an
    /// administrator blocked the key.
    Serve { models: Vec<ModelId>, blocked: bool },
    /// Every subscription it serves is suspended by an administrator: blocked, holding the suspended
    /// models, until one is reactivated.
    Paused { models: Vec<ModelId> },
    /// No subscription left to serve: revoked (LiteLLM would read `models: []` as every model).
    Revoke,
}

impl LiveState {
    pub(crate) fn models_and_blocked(&self) -> Option<(&[ModelId], bool)> {
        match self {
            Self::Serve { models, blocked } => Some((models, *blocked)),
            Self::Paused { models } => Some((models, true)),
            Self::Revoke => None,
        }
    }
}

/// What a live key must be, from its row, its owner's record (`None`: the owner is gone) and so its
/// subscriptions.
pub(crate) fn live_state(key: &ApiKey, owner: Option<&AccessRecord>) -> LiveState {
    let owner_suspended = owner.is_none_or(|o| o.user.status == UserStatus::Suspended);
    if !key.models.is_empty() {
        return LiveState::Serve {
            models: key.models.clone(),
            blocked: owner_suspended || key.is_blocked(),
        };
    }
    let mut paused: Vec<ModelId> = owner
        .map(|o| {
            o.subscriptions
                .iter()
                .filter(|s| {
                    s.status == SubscriptionStatus::Suspended
                        && key.subscription_ids.contains(&s.id)
                })
                .map(|s| s.model_id.clone())
                .collect()
        })
        .unwrap_or_default();
    paused.sort();
    paused.dedup();
    if paused.is_empty() {
        LiveState::Revoke
    } else {
        LiveState::Paused { models: paused }
    }
}

impl ConvergeKey {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        access: Arc<dyn AccessStore>,
        owner_access: Arc<ConvergeUser>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
        settings: SettingsSource,
    ) -> Self {
        Self {
            keys,
            access,
            owner_access,
            gateway,
            clock,
            settings,
        }
    }

    #[tracing::instrument(skip(self), fields(key = %id))]
    pub async fn execute(&self, id: ApiKeyId) -> Result<Converged, Error> {
        let Some(key) = self.keys.get_key(id).await? else {
            return Ok(Converged::Skipped);
        };
        let now = self.clock.now();
        match key.status {
            ApiKeyStatus::Provisioning | ApiKeyStatus::Failed => Ok(Converged::Skipped),
            ApiKeyStatus::Revoked | ApiKeyStatus::Expired | ApiKeyStatus::Lost => {
                self.delete(&key).await?;
                self.keys.mark_key_synced(id, now).await?;
                Ok(Converged::Deleted)
            }
            ApiKeyStatus::Retiring if key.retire_at.is_none_or(|at| at <= now) => {
                self.delete(&key).await?;
                let audit = AuditEvent::system("api_key.retire", "api_key", id, now)
                    .with_before(serde_json::json!({"status": "retiring"}))
                    .with_after(serde_json::json!({"status": "revoked"}));
                self.keys
                    .change_key_status(
                        id,
                        &[ApiKeyStatus::Retiring],
                        ApiKeyStatus::Revoked,
                        now,
                        &audit,
                    )
                    .await
                    .map_err(settled)?;
                Ok(Converged::Deleted)
            }
            ApiKeyStatus::Active | ApiKeyStatus::Retiring => {
                let owner = self.access.access_record(key.user_id).await?;
                let state = live_state(&key, owner.as_ref());
                let Some((models, blocked)) = state.models_and_blocked() else {
                    let audit = AuditEvent::system("api_key.revoke", "api_key", id, now)
                        .with_after(serde_json::json!({"status": "revoked", "reason": "no active subscription left"}));
                    self.keys
                        .change_key_status(id, &[key.status], ApiKeyStatus::Revoked, now, &audit)
                        .await
                        .map_err(settled)?;
                    return Ok(Converged::RevokedForLackOfModels);
                };
                // The key joins its owner's team, whose membership and pools must be in LiteLLM first.
                if owner.as_ref().is_some_and(AccessRecord::is_pending) {
                    self.owner_access.execute(key.user_id).await?;
                }
                let routes = self.settings.current().await?.allowed_routes;
                match self
                    .gateway
                    .update_key(&desired_state(&key, models, blocked, &routes, now))
                    .await
                {
                    Ok(_) => {
                        self.keys.mark_key_synced(id, now).await?;
                        Ok(match (key.status, key.retire_at) {
                            (ApiKeyStatus::Retiring, Some(at)) => Converged::WaitingForDeadline(at),
                            _ => Converged::InLine,
                        })
                    }
                    Err(GatewayError::NotFound) => {
                        let audit = AuditEvent::system("api_key.lost", "api_key", id, now).with_after(
                            serde_json::json!({"status": "lost", "reason": "LiteLLM no longer has this key"}),
                        );
                        self.keys
                            .change_key_status(id, &[key.status], ApiKeyStatus::Lost, now, &audit)
                            .await
                            .map_err(settled)?;
                        tracing::warn!("active key missing from LiteLLM: marked lost");
                        Ok(Converged::MarkedLost)
                    }
                    Err(error) => Err(job_error(error)),
                }
            }
        }
    }

    async fn delete(&self, key: &ApiKey) -> Result<(), Error> {
        match self.gateway.delete_key(&key.hash).await {
            Ok(()) | Err(GatewayError::NotFound) => Ok(()),
            Err(error) => Err(job_error(error)),
        }
    }
}

/// The whole state keyport wants LiteLLM to hold for a live key.
pub(crate) fn desired_state(
    key: &ApiKey,
    models: &[ModelId],
    blocked: bool,
    routes: &InferenceRoutes,
    now: chrono::DateTime<chrono::Utc>,
) -> UpdateKey {
    UpdateKey {
        hash: key.hash.clone(),
        models: models.to_vec(),
        limits: key.limits.clone(),
        expires_in_seconds: key.expires_at.map(|at| (at - now).num_seconds().max(1)),
        blocked,
        metadata: key_metadata(key),
        team_id: team_id_of(key.user_id),
        allowed_routes: routes.as_slice().to_vec(),
    }
}

/// The metadata keyport keeps on each of its keys in LiteLLM; the reconciler recognises keyport's keys by it.
pub(crate) fn key_metadata(key: &ApiKey) -> serde_json::Value {
    serde_json::json!({
        "managed_by": "keyport",
        "keyport_key_id": key.id,
        "keyport_user_id": key.user_id,
        "keyport_subscription_ids": key.subscription_ids,
    })
}

/// A status change that lost a race (someone else moved the key first) is settled, not a failure: the job
/// that the other change queued will converge the key.
fn settled(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => Error::Conflict {
            field: None,
            message: "the key changed meanwhile".into(),
        },
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::team_id_of;
    use crate::access::MockAccessStore;
    use crate::fixtures::*;
    use crate::gateway::{GatewayKey, MockGateway};
    use crate::keys::MockApiKeyStore;
    use crate::settings::SelfServiceSettings;
    use chrono::Duration;
    use std::sync::Mutex;

    fn gateway_key(key: &ApiKey) -> GatewayKey {
        bare_gateway_key(key.hash.clone())
    }

    /// The key's owner is in line with LiteLLM and holds no subscription beyond the key's models.
    fn harness(key: ApiKey, owner: UserStatus) -> (MockApiKeyStore, MockAccessStore, MockGateway) {
        harness_with(key, access_record(alice().user_id, owner, vec![]))
    }

    fn harness_with(
        key: ApiKey,
        record: AccessRecord,
    ) -> (MockApiKeyStore, MockAccessStore, MockGateway) {
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(key.clone())));
        let mut access = MockAccessStore::new();
        access
            .expect_access_record()
            .returning(move |_| Ok(Some(record.clone())));
        (keys, access, MockGateway::new())
    }

    fn run(keys: MockApiKeyStore, access: MockAccessStore, gateway: MockGateway) -> ConvergeKey {
        run_with(keys, access, gateway, settings_source())
    }

    /// The owner's convergence uses the same access store and gateway as the key's.
    fn run_with(
        keys: MockApiKeyStore,
        access: MockAccessStore,
        gateway: MockGateway,
        settings: SettingsSource,
    ) -> ConvergeKey {
        let access: Arc<dyn AccessStore> = Arc::new(access);
        let gateway: Arc<dyn Gateway> = Arc::new(gateway);
        let owner_access = Arc::new(ConvergeUser::new(
            access.clone(),
            gateway.clone(),
            fixed_clock(),
        ));
        ConvergeKey::new(
            Arc::new(keys),
            access,
            owner_access,
            gateway,
            fixed_clock(),
            settings,
        )
    }

    /// Converges some key with these mocks.
    async fn converge(
        keys: MockApiKeyStore,
        access: MockAccessStore,
        gateway: MockGateway,
    ) -> Result<Converged, Error> {
        run(keys, access, gateway).execute(ApiKeyId::new()).await
    }

    /// Expects exactly one update sent to LiteLLM, answered with `key`, and keeps it for inspection.
    fn capture_update(gateway: &mut MockGateway, key: ApiKey) -> Arc<Mutex<Option<UpdateKey>>> {
        let sent = Arc::new(Mutex::new(None));
        let slot = sent.clone();
        gateway.expect_update_key().times(1).returning(move |u| {
            *slot.lock().unwrap() = Some(u.clone());
            Ok(gateway_key(&key))
        });
        sent
    }

    fn expect_synced_once(keys: &mut MockApiKeyStore) {
        keys.expect_mark_key_synced()
            .times(1)
            .returning(|_, _| Ok(()));
    }

    /// Expects exactly one move of the key from `from` to revoked, audited as `action`.
    fn expect_revoked_from(keys: &mut MockApiKeyStore, from: ApiKeyStatus, action: &'static str) {
        keys.expect_change_key_status()
            .times(1)
            .withf(move |_, f, to, _, a| {
                f == [from] && *to == ApiKeyStatus::Revoked && a.action == action
            })
            .returning(|_, _, _, _, _| Ok(api_key(alice().user_id, ApiKeyStatus::Revoked)));
    }

    #[tokio::test]
    async fn an_active_key_gets_its_whole_desired_state_in_litellm() {
        let mut key = api_key(alice().user_id, ApiKeyStatus::Active);
        key.expires_at = Some(now() + Duration::hours(1));
        let (mut keys, access, mut gateway) = harness(key.clone(), UserStatus::Active);
        let k = key.clone();
        gateway
            .expect_update_key()
            .times(1)
            .withf(move |u| {
                u.hash == k.hash
                    && u.models == k.models
                    && u.limits == k.limits
                    && !u.blocked
                    && u.expires_in_seconds == Some(3600)
                    && u.metadata["keyport_key_id"] == serde_json::json!(k.id)
            })
            .returning(move |_| Ok(gateway_key(&key)));
        expect_synced_once(&mut keys);
        assert_eq!(
            converge(keys, access, gateway).await.unwrap(),
            Converged::InLine
        );
    }

    #[tokio::test]
    async fn a_suspended_owners_key_is_blocked() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (mut keys, access, mut gateway) = harness(key.clone(), UserStatus::Suspended);
        gateway
            .expect_update_key()
            .times(1)
            .withf(|u| u.blocked)
            .returning(move |_| Ok(gateway_key(&key)));
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        converge(keys, access, gateway).await.unwrap();
    }

    #[tokio::test]
    async fn a_key_an_administrator_blocked_is_blocked_and_unblocked_when_the_block_is_lifted() {
        for (blocked, expected) in [(true, true), (false, false)] {
            let mut key = api_key(alice().user_id, ApiKeyStatus::Active);
            if blocked {
                key.blocked_at = Some(now());
                key.block_reason = Some("leaked in a public repository".into());
            }
            let sent = key.clone();
            let (mut keys, access, mut gateway) = harness(key, UserStatus::Active);
            gateway
                .expect_update_key()
                .times(1)
                .withf(move |u| u.blocked == expected && !u.models.is_empty())
                .returning(move |_| Ok(gateway_key(&sent)));
            keys.expect_mark_key_synced().returning(|_, _| Ok(()));
            assert_eq!(
                converge(keys, access, gateway).await.unwrap(),
                Converged::InLine
            );
        }
    }

    #[tokio::test]
    async fn a_key_without_models_is_revoked_and_never_sent_an_empty_model_list() {
        let mut key = api_key(alice().user_id, ApiKeyStatus::Active);
        key.models.clear();
        let (mut keys, access, mut gateway) = harness(key, UserStatus::Active);
        gateway.expect_update_key().never();
        expect_revoked_from(&mut keys, ApiKeyStatus::Active, "api_key.revoke");
        assert_eq!(
            converge(keys, access, gateway).await.unwrap(),
            Converged::RevokedForLackOfModels
        );
    }

    #[tokio::test]
    async fn a_revoked_key_is_deleted_and_one_already_gone_counts_as_deleted() {
        for answer in [Ok(()), Err(GatewayError::NotFound)] {
            let key = api_key(alice().user_id, ApiKeyStatus::Revoked);
            let hash = key.hash.clone();
            let (mut keys, access, mut gateway) = harness(key, UserStatus::Active);
            gateway
                .expect_delete_key()
                .times(1)
                .withf(move |h| *h == hash)
                .return_once(move |_| answer);
            expect_synced_once(&mut keys);
            assert_eq!(
                converge(keys, access, gateway).await.unwrap(),
                Converged::Deleted
            );
        }
    }

    #[tokio::test]
    async fn litellm_down_fails_the_job_so_that_it_retries() {
        let key = api_key(alice().user_id, ApiKeyStatus::Revoked);
        let (mut keys, access, mut gateway) = harness(key, UserStatus::Active);
        gateway
            .expect_delete_key()
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        keys.expect_mark_key_synced().never();
        let err = converge(keys, access, gateway).await.unwrap_err();
        assert!(matches!(err, Error::GatewayUnavailable { .. }));
    }

    #[tokio::test]
    async fn a_retiring_key_is_kept_until_its_deadline_then_deleted_and_revoked() {
        let mut before = api_key(alice().user_id, ApiKeyStatus::Retiring);
        before.retire_at = Some(now() + Duration::minutes(5));
        let (mut keys, access, mut gateway) = harness(before.clone(), UserStatus::Active);
        gateway
            .expect_update_key()
            .times(1)
            .returning(move |_| Ok(gateway_key(&before)));
        gateway.expect_delete_key().never();
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        assert_eq!(
            converge(keys, access, gateway).await.unwrap(),
            Converged::WaitingForDeadline(now() + Duration::minutes(5))
        );

        let mut due = api_key(alice().user_id, ApiKeyStatus::Retiring);
        due.retire_at = Some(now());
        let (mut keys, access, mut gateway) = harness(due, UserStatus::Active);
        gateway.expect_delete_key().times(1).returning(|_| Ok(()));
        expect_revoked_from(&mut keys, ApiKeyStatus::Retiring, "api_key.retire");
        assert_eq!(
            converge(keys, access, gateway).await.unwrap(),
            Converged::Deleted
        );
    }

    #[tokio::test]
    async fn an_active_key_missing_from_litellm_is_marked_lost() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (mut keys, access, mut gateway) = harness(key, UserStatus::Active);
        gateway
            .expect_update_key()
            .returning(|_| Err(GatewayError::NotFound));
        keys.expect_change_key_status()
            .times(1)
            .withf(|_, _, to, _, a| *to == ApiKeyStatus::Lost && a.action == "api_key.lost")
            .returning(|_, _, _, _, _| Ok(api_key(alice().user_id, ApiKeyStatus::Lost)));
        assert_eq!(
            converge(keys, access, gateway).await.unwrap(),
            Converged::MarkedLost
        );
    }

    #[tokio::test]
    async fn provisioning_and_failed_keys_are_left_to_the_reconciler() {
        for status in [ApiKeyStatus::Provisioning, ApiKeyStatus::Failed] {
            let (keys, access, mut gateway) =
                harness(api_key(alice().user_id, status), UserStatus::Active);
            gateway.expect_update_key().never();
            gateway.expect_delete_key().never();
            assert_eq!(
                converge(keys, access, gateway).await.unwrap(),
                Converged::Skipped
            );
        }
    }

    #[tokio::test]
    async fn an_active_key_is_sent_its_owners_team_and_the_policys_allowed_routes() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (mut keys, access, mut gateway) = harness(key.clone(), UserStatus::Active);
        let sent = capture_update(&mut gateway, key);
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        let routes = InferenceRoutes::parse(vec!["/v1/embeddings".into()]).unwrap();
        let settings = fixed_settings(SelfServiceSettings {
            allowed_routes: routes,
            ..key_settings()
        });
        run_with(keys, access, gateway, settings)
            .execute(ApiKeyId::new())
            .await
            .unwrap();
        let sent = sent.lock().unwrap().clone().unwrap();
        assert_eq!(sent.team_id, format!("keyport-{}", alice().user_id));
        assert_eq!(sent.team_id, team_id_of(alice().user_id));
        assert_eq!(sent.allowed_routes, ["/v1/embeddings"]);
    }

    #[tokio::test]
    async fn a_key_whose_only_subscription_is_suspended_is_blocked_with_that_model_not_revoked() {
        let owner = alice().user_id;
        let mut suspended = subscription(owner, "claude", SubscriptionStatus::Suspended);
        let mut key = api_key(owner, ApiKeyStatus::Active);
        // The store loads a key's models from its active subscriptions only.
        key.models.clear();
        suspended.id = key.subscription_ids[0];
        let record = access_record(owner, UserStatus::Active, vec![suspended]);
        let (mut keys, access, mut gateway) = harness_with(key.clone(), record);
        let sent = capture_update(&mut gateway, key);
        keys.expect_change_key_status().never();
        expect_synced_once(&mut keys);
        let out = converge(keys, access, gateway).await.unwrap();
        assert_eq!(out, Converged::InLine);
        let sent = sent.lock().unwrap().clone().unwrap();
        assert!(sent.blocked, "a paused key is blocked");
        assert_eq!(sent.models, [ModelId::parse("claude").unwrap()]);
    }

    #[tokio::test]
    async fn a_key_whose_owners_access_is_pending_gets_the_owner_converged_before_litellm_gets_the_key(
    ) {
        let owner = alice().user_id;
        let key = api_key(owner, ApiKeyStatus::Active);
        let mut record = access_record(
            owner,
            UserStatus::Active,
            vec![subscription(
                owner,
                "gpt-4o-mini",
                SubscriptionStatus::Active,
            )],
        );
        record.version = 2;
        let (mut keys, mut access, mut gateway) = harness_with(key.clone(), record);
        let synced = record_access_synced(&mut access);
        let calls = record_owner_convergence(&mut gateway);
        let c = calls.clone();
        gateway.expect_update_key().returning(move |_| {
            c.lock().unwrap().push("update_key");
            Ok(gateway_key(&key))
        });
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        let out = converge(keys, access, gateway).await.unwrap();
        assert_eq!(out, Converged::InLine);
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "ensure_user",
                "set_user_access",
                "ensure_team",
                "update_key"
            ]
        );
        assert_eq!(*synced.lock().unwrap(), [(owner, 2)]);
    }

    #[tokio::test]
    async fn a_pending_owner_litellm_cannot_take_leaves_the_key_for_the_retry() {
        let owner = alice().user_id;
        let mut record = access_record(owner, UserStatus::Active, vec![]);
        record.version = 2;
        let (mut keys, mut access, mut gateway) =
            harness_with(api_key(owner, ApiKeyStatus::Active), record);
        access
            .expect_record_access_error()
            .times(1)
            .returning(|_, _, _| Ok(()));
        access.expect_mark_access_synced().never();
        gateway
            .expect_ensure_user()
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        gateway.expect_update_key().never();
        keys.expect_mark_key_synced().never();
        let err = converge(keys, access, gateway).await.unwrap_err();
        assert!(matches!(err, Error::GatewayUnavailable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_key_of_an_owner_keyport_no_longer_has_is_blocked() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let mut keys = MockApiKeyStore::new();
        let k = key.clone();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(k.clone())));
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        let mut access = MockAccessStore::new();
        access.expect_access_record().returning(|_| Ok(None));
        let mut gateway = MockGateway::new();
        gateway
            .expect_update_key()
            .times(1)
            .withf(|u| u.blocked)
            .returning(move |_| Ok(gateway_key(&key)));
        assert_eq!(
            converge(keys, access, gateway).await.unwrap(),
            Converged::InLine
        );
    }
}

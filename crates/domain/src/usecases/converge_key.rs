use crate::api_key::{ApiKey, ApiKeyStatus};
use crate::audit::AuditEvent;
use crate::ids::ApiKeyId;
use crate::ports::{ApiKeyStore, Clock, Gateway, UpdateKey, UserStore};
use crate::user::UserStatus;
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
///   subscriptions, limits, expiry, blocked when the owner is suspended, metadata). A key left without any
///   model is revoked instead (LiteLLM reads `models: []` as "every model"). A key LiteLLM no longer has
///   becomes `lost` (it cannot be re-created without its secret).
/// - `retiring` at or after its deadline: deleted in LiteLLM, then `revoked`.
/// - `revoked`, `expired`, `lost`: deleted in LiteLLM (already gone counts as done), then marked synced.
pub struct ConvergeKey {
    keys: Arc<dyn ApiKeyStore>,
    users: Arc<dyn UserStore>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
}

impl ConvergeKey {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        users: Arc<dyn UserStore>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            users,
            gateway,
            clock,
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
                if key.models.is_empty() {
                    let audit = AuditEvent::system("api_key.revoke", "api_key", id, now)
                        .with_after(serde_json::json!({"status": "revoked", "reason": "no active subscription left"}));
                    self.keys
                        .change_key_status(id, &[key.status], ApiKeyStatus::Revoked, now, &audit)
                        .await
                        .map_err(settled)?;
                    return Ok(Converged::RevokedForLackOfModels);
                }
                let owner_suspended = self
                    .users
                    .get_user(key.user_id)
                    .await?
                    .is_none_or(|u| u.status == UserStatus::Suspended);
                match self
                    .gateway
                    .update_key(&desired_state(&key, owner_suspended, now))
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
    blocked: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> UpdateKey {
    UpdateKey {
        hash: key.hash.clone(),
        models: key.models.clone(),
        limits: key.limits.clone(),
        expires_in_seconds: key.expires_at.map(|at| (at - now).num_seconds().max(1)),
        blocked,
        metadata: key_metadata(key),
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

/// A LiteLLM failure inside a job: the job retries it.
fn job_error(error: GatewayError) -> Error {
    match error {
        GatewayError::Unavailable(detail) => Error::GatewayUnavailable { detail },
        other => Error::GatewayRejected(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{GatewayKey, GatewayKeyStatus, MockApiKeyStore, MockGateway, MockUserStore};
    use crate::usecases::fixtures::*;
    use crate::user::{Role, User};
    use chrono::Duration;

    fn user(status: UserStatus) -> User {
        User {
            id: alice().user_id,
            username: "alice".into(),
            email: None,
            display_name: None,
            roles: vec![Role::User],
            status,
            created_at: now(),
        }
    }

    fn gateway_key(key: &ApiKey) -> GatewayKey {
        GatewayKey {
            hash: key.hash.clone(),
            alias: None,
            user_id: None,
            models: vec![],
            status: GatewayKeyStatus::Active,
            max_budget: None,
            budget_duration: None,
            tpm_limit: None,
            rpm_limit: None,
            spend: None,
            budget_reset_at: None,
            expires_at: None,
            metadata: serde_json::Value::Null,
        }
    }

    fn harness(key: ApiKey, owner: UserStatus) -> (MockApiKeyStore, MockUserStore, MockGateway) {
        let mut keys = MockApiKeyStore::new();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(key.clone())));
        let mut users = MockUserStore::new();
        users
            .expect_get_user()
            .returning(move |_| Ok(Some(user(owner))));
        (keys, users, MockGateway::new())
    }

    fn run(keys: MockApiKeyStore, users: MockUserStore, gateway: MockGateway) -> ConvergeKey {
        ConvergeKey::new(
            Arc::new(keys),
            Arc::new(users),
            Arc::new(gateway),
            fixed_clock(),
        )
    }

    #[tokio::test]
    async fn an_active_key_gets_its_whole_desired_state_in_litellm() {
        let mut key = api_key(alice().user_id, ApiKeyStatus::Active);
        key.expires_at = Some(now() + Duration::hours(1));
        let (mut keys, users, mut gateway) = harness(key.clone(), UserStatus::Active);
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
        keys.expect_mark_key_synced()
            .times(1)
            .returning(|_, _| Ok(()));
        assert_eq!(
            run(keys, users, gateway)
                .execute(ApiKeyId::new())
                .await
                .unwrap(),
            Converged::InLine
        );
    }

    #[tokio::test]
    async fn a_suspended_owners_key_is_blocked() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (mut keys, users, mut gateway) = harness(key.clone(), UserStatus::Suspended);
        gateway
            .expect_update_key()
            .times(1)
            .withf(|u| u.blocked)
            .returning(move |_| Ok(gateway_key(&key)));
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        run(keys, users, gateway)
            .execute(ApiKeyId::new())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_key_without_models_is_revoked_and_never_sent_an_empty_model_list() {
        let mut key = api_key(alice().user_id, ApiKeyStatus::Active);
        key.models.clear();
        let (mut keys, users, mut gateway) = harness(key, UserStatus::Active);
        gateway.expect_update_key().never();
        keys.expect_change_key_status()
            .times(1)
            .withf(|_, from, to, _, a| {
                from == [ApiKeyStatus::Active]
                    && *to == ApiKeyStatus::Revoked
                    && a.action == "api_key.revoke"
            })
            .returning(|_, _, _, _, _| Ok(api_key(alice().user_id, ApiKeyStatus::Revoked)));
        assert_eq!(
            run(keys, users, gateway)
                .execute(ApiKeyId::new())
                .await
                .unwrap(),
            Converged::RevokedForLackOfModels
        );
    }

    #[tokio::test]
    async fn a_revoked_key_is_deleted_and_one_already_gone_counts_as_deleted() {
        for answer in [Ok(()), Err(GatewayError::NotFound)] {
            let key = api_key(alice().user_id, ApiKeyStatus::Revoked);
            let hash = key.hash.clone();
            let (mut keys, users, mut gateway) = harness(key, UserStatus::Active);
            gateway
                .expect_delete_key()
                .times(1)
                .withf(move |h| *h == hash)
                .return_once(move |_| answer);
            keys.expect_mark_key_synced()
                .times(1)
                .returning(|_, _| Ok(()));
            assert_eq!(
                run(keys, users, gateway)
                    .execute(ApiKeyId::new())
                    .await
                    .unwrap(),
                Converged::Deleted
            );
        }
    }

    #[tokio::test]
    async fn litellm_down_fails_the_job_so_that_it_retries() {
        let key = api_key(alice().user_id, ApiKeyStatus::Revoked);
        let (mut keys, users, mut gateway) = harness(key, UserStatus::Active);
        gateway
            .expect_delete_key()
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        keys.expect_mark_key_synced().never();
        let err = run(keys, users, gateway)
            .execute(ApiKeyId::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::GatewayUnavailable { .. }));
    }

    #[tokio::test]
    async fn a_retiring_key_is_kept_until_its_deadline_then_deleted_and_revoked() {
        let mut before = api_key(alice().user_id, ApiKeyStatus::Retiring);
        before.retire_at = Some(now() + Duration::minutes(5));
        let (mut keys, users, mut gateway) = harness(before.clone(), UserStatus::Active);
        gateway
            .expect_update_key()
            .times(1)
            .returning(move |_| Ok(gateway_key(&before)));
        gateway.expect_delete_key().never();
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        assert_eq!(
            run(keys, users, gateway)
                .execute(ApiKeyId::new())
                .await
                .unwrap(),
            Converged::WaitingForDeadline(now() + Duration::minutes(5))
        );

        let mut due = api_key(alice().user_id, ApiKeyStatus::Retiring);
        due.retire_at = Some(now());
        let (mut keys, users, mut gateway) = harness(due, UserStatus::Active);
        gateway.expect_delete_key().times(1).returning(|_| Ok(()));
        keys.expect_change_key_status()
            .times(1)
            .withf(|_, from, to, _, a| {
                from == [ApiKeyStatus::Retiring]
                    && *to == ApiKeyStatus::Revoked
                    && a.action == "api_key.retire"
            })
            .returning(|_, _, _, _, _| Ok(api_key(alice().user_id, ApiKeyStatus::Revoked)));
        assert_eq!(
            run(keys, users, gateway)
                .execute(ApiKeyId::new())
                .await
                .unwrap(),
            Converged::Deleted
        );
    }

    #[tokio::test]
    async fn an_active_key_missing_from_litellm_is_marked_lost() {
        let key = api_key(alice().user_id, ApiKeyStatus::Active);
        let (mut keys, users, mut gateway) = harness(key, UserStatus::Active);
        gateway
            .expect_update_key()
            .returning(|_| Err(GatewayError::NotFound));
        keys.expect_change_key_status()
            .times(1)
            .withf(|_, _, to, _, a| *to == ApiKeyStatus::Lost && a.action == "api_key.lost")
            .returning(|_, _, _, _, _| Ok(api_key(alice().user_id, ApiKeyStatus::Lost)));
        assert_eq!(
            run(keys, users, gateway)
                .execute(ApiKeyId::new())
                .await
                .unwrap(),
            Converged::MarkedLost
        );
    }

    #[tokio::test]
    async fn provisioning_and_failed_keys_are_left_to_the_reconciler() {
        for status in [ApiKeyStatus::Provisioning, ApiKeyStatus::Failed] {
            let (keys, users, mut gateway) =
                harness(api_key(alice().user_id, status), UserStatus::Active);
            gateway.expect_update_key().never();
            gateway.expect_delete_key().never();
            assert_eq!(
                run(keys, users, gateway)
                    .execute(ApiKeyId::new())
                    .await
                    .unwrap(),
                Converged::Skipped
            );
        }
    }
}

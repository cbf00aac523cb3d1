use crate::audit::AuditEvent;
use crate::audit::MAX_REASON_LEN;
use crate::ids::{ApiKeyId, UserId};
use crate::keys::converge_now;
use crate::keys::ApiKeyStatus;
use crate::keys::ApiKeyStore;
use crate::keys::{audit_after, KeyAccess};
use crate::keys::{AdminKeyStore, KeyQuery, OwnedKey};
use crate::keys::{ConvergeKey, RevokeKey, UpdateKey};
use crate::limits::Limits;
use crate::paging::{decode_id_cursor, parse_opt};
use crate::paging::{page_size, paginate, Page};
use crate::runtime::Clock;
use crate::users::Actor;
use crate::{Error, FieldError, StoreError};
use std::sync::Arc;

/// Filters for everybody's keys.
#[derive(Debug, Clone, Default)]
pub struct ListAllKeysRequest {
    pub user_id: Option<UserId>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Everybody's keys, newest first, with their owner's username. Administrators and auditors only.
pub struct ListAllKeys {
    keys: Arc<dyn AdminKeyStore>,
}

impl ListAllKeys {
    pub fn new(keys: Arc<dyn AdminKeyStore>) -> Self {
        Self { keys }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        request: ListAllKeysRequest,
    ) -> Result<Page<OwnedKey>, Error> {
        actor.require_oversight("everybody's keys")?;
        self.page(request).await
    }

    /// One page of the keys `request` asks for, whoever may see them: the caller has checked that (an
    /// overseer for anybody's keys, [`crate::keys::ListKeys`] for a member's own).
    pub(crate) async fn page(&self, request: ListAllKeysRequest) -> Result<Page<OwnedKey>, Error> {
        let mut errors = Vec::new();
        let status = parse_opt(
            request.status,
            "status",
            ApiKeyStatus::parse,
            "provisioning, active, retiring, revoked, expired, failed, lost",
            &mut errors,
        );
        let after = decode_id_cursor(request.cursor, &mut errors).map(ApiKeyId);
        let limit = page_size(request.limit)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let keys = self
            .keys
            .list_all_keys(&KeyQuery {
                user_id: request.user_id,
                status,
                after,
                limit: limit + 1,
            })
            .await?;
        Ok(paginate(keys, limit, |k| k.key.id.to_string()))
    }
}

/// An administrator's actions on anybody's key, on its owner's behalf (the `/admin/api-keys/{id}` routes):
/// read it with its owner (administrators and auditors), block or unblock it, revoke it, change its limits
/// (administrators only). Revoking and changing the limits are the owner's use cases ([`RevokeKey`],
/// [`UpdateKey`]) in their administrator mode, under the same rules; blocking is an administrator's
/// alone. The key stays its owner's (its LiteLLM user, team and quotas), each audit event names the
/// administrator as its actor and the owner (and the reason) in `after`, and nothing here ever returns
/// a secret: administrators do not rotate other people's keys.
pub struct AdminKeys {
    owned: Arc<dyn AdminKeyStore>,
    keys: Arc<dyn ApiKeyStore>,
    revoke: Arc<RevokeKey>,
    update: Arc<UpdateKey>,
    converge: Arc<ConvergeKey>,
    clock: Arc<dyn Clock>,
}

impl AdminKeys {
    pub fn new(
        owned: Arc<dyn AdminKeyStore>,
        keys: Arc<dyn ApiKeyStore>,
        revoke: Arc<RevokeKey>,
        update: Arc<UpdateKey>,
        converge: Arc<ConvergeKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            owned,
            keys,
            revoke,
            update,
            converge,
            clock,
        }
    }

    /// Anybody's key with its owner. Administrators and auditors.
    pub async fn get(&self, actor: &Actor, id: ApiKeyId) -> Result<OwnedKey, Error> {
        actor.require_oversight("other people's keys")?;
        self.load(id).await
    }

    /// Blocks an active or retiring key, with a reason its owner sees: LiteLLM refuses it until it is
    /// unblocked (the row, the job and the audit event commit together, then LiteLLM is told at once).
    /// The key keeps its status, subscriptions and limits, and cannot be rotated while blocked.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %id))]
    pub async fn block(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        reason: &str,
    ) -> Result<OwnedKey, Error> {
        actor.require_admin("block keys")?;
        let reason = admin_reason(Some(reason), true)?;
        self.set_block(actor, id, reason).await
    }

    /// Lifts an administrator's block: LiteLLM accepts the key again (unless its owner is suspended or
    /// its subscriptions are).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %id))]
    pub async fn unblock(&self, actor: &Actor, id: ApiKeyId) -> Result<OwnedKey, Error> {
        actor.require_admin("unblock keys")?;
        self.set_block(actor, id, None).await
    }

    /// Revokes anybody's key exactly as its owner would ([`RevokeKey`]), with an optional reason kept in
    /// the audit log.
    pub async fn revoke(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        reason: Option<&str>,
    ) -> Result<OwnedKey, Error> {
        actor.require_admin("revoke other people's keys")?;
        let reason = admin_reason(reason, false)?;
        let owner = self.load(id).await?.owner;
        let key = self
            .revoke
            .on_behalf_of_owner(actor, id, reason.as_deref())
            .await?;
        Ok(OwnedKey { key, owner })
    }

    /// Changes anybody's key's limits under the owner's rules ([`UpdateKey`]: within the key's active
    /// subscriptions' quotas and the administrator's maximum), with an optional reason kept in the audit
    /// log.
    pub async fn set_limits(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        limits: Limits,
        reason: Option<&str>,
    ) -> Result<OwnedKey, Error> {
        actor.require_admin("change other people's keys")?;
        let reason = admin_reason(reason, false)?;
        let owner = self.load(id).await?.owner;
        let key = self
            .update
            .limits_on_behalf_of_owner(actor, id, limits, reason.as_deref())
            .await?;
        Ok(OwnedKey { key, owner })
    }

    async fn load(&self, id: ApiKeyId) -> Result<OwnedKey, Error> {
        self.owned
            .owned_key(id)
            .await?
            .ok_or(Error::NotFound { entity: "api key" })
    }

    /// Blocks (`Some(reason)`) or unblocks (`None`) the key.
    async fn set_block(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        reason: Option<String>,
    ) -> Result<OwnedKey, Error> {
        let OwnedKey { key, owner } = self.load(id).await?;
        let blocking = reason.is_some();
        if !matches!(key.status, ApiKeyStatus::Active | ApiKeyStatus::Retiring) {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "only an active or retiring key can be {}; this one is {}",
                    if blocking { "blocked" } else { "unblocked" },
                    key.status.as_str()
                ),
            });
        }
        if key.is_blocked() == blocking {
            return Err(Error::Conflict {
                field: None,
                message: if blocking {
                    "the key is already blocked".into()
                } else {
                    "the key is not blocked".into()
                },
            });
        }
        let now = self.clock.now();
        let action = if blocking {
            "api_key.block"
        } else {
            "api_key.unblock"
        };
        let audit = AuditEvent::by(actor, action, "api_key", id, now)
            .with_before(serde_json::json!({
                "blocked": key.is_blocked(),
                "block_reason": key.block_reason,
            }))
            .with_after(audit_after(
                serde_json::json!({"blocked": blocking}),
                KeyAccess::Administrator,
                &key,
                reason.as_deref(),
            ));
        self.keys
            .set_key_block(id, reason, now, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::Conflict {
                    field: None,
                    message: "the key changed meanwhile; reload it and try again".into(),
                },
                other => other.into(),
            })?;
        let key = converge_now(&self.converge, self.keys.as_ref(), id, self.clock.now()).await?;
        Ok(OwnedKey { key, owner })
    }
}

/// An administrator's reason, trimmed: 1 to [`MAX_REASON_LEN`] characters when `required`, else absent
/// (blank counts as absent) or at most that long.
fn admin_reason(reason: Option<&str>, required: bool) -> Result<Option<String>, Error> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        None if required => Err(FieldError::new(
            "reason",
            format!("a reason of 1 to {MAX_REASON_LEN} characters, shown to the key's owner"),
        )
        .into()),
        Some(r) if r.chars().count() > MAX_REASON_LEN => {
            Err(FieldError::new("reason", format!("at most {MAX_REASON_LEN} characters")).into())
        }
        other => Ok(other.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::MockAccessStore;
    use crate::fixtures::*;
    use crate::gateway::MockGateway;
    use crate::keys::MockAdminKeyStore;
    use crate::keys::MockApiKeyStore;
    use crate::keys::{ApiKey, SyncState};
    use crate::subscriptions::MockSubscriptionStore;
    use crate::subscriptions::SubscriptionStatus;
    use crate::users::{Role, UserStatus};
    use std::sync::Mutex;

    fn auditor() -> Actor {
        let mut actor = alice();
        actor.roles.push(Role::Auditor);
        actor
    }

    #[tokio::test]
    async fn keys_are_filtered_and_paged_by_id() {
        let bob_id = bob().user_id;
        let mut keys = MockAdminKeyStore::new();
        keys.expect_list_all_keys()
            .times(1)
            .withf(move |q| {
                q.user_id == Some(bob_id)
                    && q.status == Some(ApiKeyStatus::Active)
                    && q.limit == 2
                    && q.after.is_none()
            })
            .returning(|_| {
                Ok((0..2)
                    .map(|_| OwnedKey {
                        key: api_key(bob().user_id, ApiKeyStatus::Active),
                        owner: "bob".into(),
                    })
                    .collect())
            });
        let page = ListAllKeys::new(Arc::new(keys))
            .execute(
                &auditor(),
                ListAllKeysRequest {
                    user_id: Some(bob_id),
                    status: Some("active".into()),
                    cursor: None,
                    limit: Some(1),
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            page.next_cursor,
            Some(page.items[0].key.id.to_string()),
            "the cursor is the last id on the page"
        );
    }

    #[tokio::test]
    async fn a_bad_status_or_cursor_is_named_and_users_cannot_list() {
        let mut keys = MockAdminKeyStore::new();
        keys.expect_list_all_keys().never();
        let uc = ListAllKeys::new(Arc::new(keys));
        let err = uc
            .execute(
                &admin(),
                ListAllKeysRequest {
                    status: Some("nope".into()),
                    cursor: Some("nope".into()),
                    ..ListAllKeysRequest::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(e) if e.len() == 2 && e[0].field == "status" && e[1].field == "cursor")
        );
        assert!(matches!(
            uc.execute(&bob(), ListAllKeysRequest::default())
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
    }

    /// Bob's key in a store that changes it as the real one does, with the audit events it records, and
    /// the administrators' use case over it (bob's subscriptions have `quota(10)`).
    struct Harness {
        key: Arc<Mutex<ApiKey>>,
        audits: Arc<Mutex<Vec<AuditEvent>>>,
        uc: AdminKeys,
    }

    fn harness(gateway: MockGateway) -> Harness {
        let key = Arc::new(Mutex::new(api_key(bob().user_id, ApiKeyStatus::Active)));
        let audits = Arc::new(Mutex::new(Vec::new()));
        let mut store = MockApiKeyStore::new();
        let k = key.clone();
        store
            .expect_get_key()
            .returning(move |id| Ok(Some(k.lock().unwrap().clone()).filter(|k| k.id == id)));
        let (k, a) = (key.clone(), audits.clone());
        store.expect_revoke_key().returning(move |_, at, audit| {
            a.lock().unwrap().push(audit.clone());
            let mut k = k.lock().unwrap();
            k.status = ApiKeyStatus::Revoked;
            k.sync_state = SyncState::Pending;
            k.revoked_at = Some(at);
            Ok(k.clone())
        });
        let (k, a) = (key.clone(), audits.clone());
        store
            .expect_set_key_block()
            .returning(move |_, reason, at, audit| {
                let mut k = k.lock().unwrap();
                if reason.is_some() == k.is_blocked() {
                    return Err(StoreError::NotFound);
                }
                a.lock().unwrap().push(audit.clone());
                k.blocked_at = reason.as_ref().map(|_| at);
                k.block_reason = reason;
                k.sync_state = SyncState::Pending;
                Ok(k.clone())
            });
        let (k, a) = (key.clone(), audits.clone());
        store
            .expect_update_key()
            .returning(move |_, update, _, audit| {
                a.lock().unwrap().push(audit.clone());
                let mut k = k.lock().unwrap();
                if let Some(limits) = &update.limits {
                    k.limits = limits.clone();
                }
                k.sync_state = SyncState::Pending;
                Ok(k.clone())
            });
        let k = key.clone();
        store.expect_mark_key_synced().returning(move |_, _| {
            k.lock().unwrap().sync_state = SyncState::Synced;
            Ok(())
        });
        store
            .expect_record_key_sync_error()
            .returning(|_, _, _| Ok(()));
        let mut owned = MockAdminKeyStore::new();
        let k = key.clone();
        owned.expect_owned_key().returning(move |id| {
            let key = k.lock().unwrap().clone();
            Ok((key.id == id).then(|| OwnedKey {
                key,
                owner: "bob".into(),
            }))
        });
        let mut subscriptions = MockSubscriptionStore::new();
        subscriptions.expect_get_subscriptions().returning(|ids| {
            Ok(ids
                .iter()
                .map(|id| {
                    let mut s =
                        subscription(bob().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
                    s.id = *id;
                    s
                })
                .collect())
        });
        let mut access = MockAccessStore::new();
        access.expect_access_record().returning(|_| {
            Ok(Some(access_record(
                bob().user_id,
                UserStatus::Active,
                vec![],
            )))
        });
        let store: Arc<dyn ApiKeyStore> = Arc::new(store);
        let converge = Arc::new(ConvergeKey::new(
            store.clone(),
            Arc::new(access),
            converge_user_offline(),
            Arc::new(gateway),
            fixed_clock(),
            settings_source(),
        ));
        let revoke = Arc::new(RevokeKey::new(
            store.clone(),
            converge.clone(),
            fixed_clock(),
        ));
        let update = Arc::new(UpdateKey::new(
            store.clone(),
            Arc::new(subscriptions),
            converge.clone(),
            fixed_clock(),
            settings_source(),
        ));
        Harness {
            key,
            audits,
            uc: AdminKeys::new(
                Arc::new(owned),
                store,
                revoke,
                update,
                converge,
                fixed_clock(),
            ),
        }
    }

    impl Harness {
        fn id(&self) -> ApiKeyId {
            self.key.lock().unwrap().id
        }

        fn last_audit(&self) -> AuditEvent {
            self.audits.lock().unwrap().last().cloned().unwrap()
        }
    }

    #[tokio::test]
    async fn an_auditor_reads_anybodys_key_with_its_owner_and_a_member_cannot() {
        let h = harness(MockGateway::new());
        let id = h.id();
        let owned = h.uc.get(&auditor(), id).await.unwrap();
        assert_eq!(
            (owned.key.user_id, owned.owner.as_str()),
            (bob().user_id, "bob")
        );
        assert!(matches!(
            h.uc.get(&bob(), id).await.unwrap_err(),
            Error::Forbidden(_)
        ));
        assert_eq!(
            h.uc.get(&admin(), ApiKeyId::new()).await.unwrap_err(),
            Error::NotFound { entity: "api key" }
        );
    }

    #[tokio::test]
    async fn an_admin_revokes_someone_elses_key_through_the_outbox_and_an_auditor_cannot() {
        let mut gateway = MockGateway::new();
        gateway.expect_delete_key().times(1).returning(|_| Ok(()));
        let h = harness(gateway);
        let id = h.id();
        for who in [auditor(), bob()] {
            assert!(matches!(
                h.uc.revoke(&who, id, None).await.unwrap_err(),
                Error::Forbidden(_)
            ));
        }
        let revoked =
            h.uc.revoke(&admin(), id, Some("  left the company "))
                .await
                .unwrap();
        assert_eq!(revoked.key.status, ApiKeyStatus::Revoked);
        assert_eq!(revoked.owner, "bob");
        let audit = h.last_audit();
        assert_eq!(audit.action, "api_key.revoke");
        assert_eq!(audit.actor, Some(admin().user_id), "the administrator acts");
        let after = audit.after.unwrap();
        assert_eq!(
            after["owner"],
            serde_json::json!(bob().user_id),
            "for the owner"
        );
        assert_eq!(after["reason"], "left the company");
    }

    #[tokio::test]
    async fn an_admin_blocks_and_unblocks_someone_elses_key_and_litellm_follows() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut gateway = MockGateway::new();
        let s = sent.clone();
        gateway.expect_update_key().times(2).returning(move |u| {
            s.lock().unwrap().push(u.blocked);
            Ok(bare_gateway_key(u.hash.clone()))
        });
        let h = harness(gateway);
        let id = h.id();
        for who in [auditor(), bob()] {
            assert!(matches!(
                h.uc.block(&who, id, "leaked").await.unwrap_err(),
                Error::Forbidden(_)
            ));
            assert!(matches!(
                h.uc.unblock(&who, id).await.unwrap_err(),
                Error::Forbidden(_)
            ));
        }
        assert!(matches!(
            h.uc.block(&admin(), id, "   ").await.unwrap_err(),
            Error::Invalid(ref e) if e[0].field == "reason"
        ));
        assert!(matches!(
            h.uc.unblock(&admin(), id).await.unwrap_err(),
            Error::Conflict { .. }
        ));

        let blocked =
            h.uc.block(&admin(), id, "leaked in a ticket")
                .await
                .unwrap();
        assert!(blocked.key.is_blocked());
        assert_eq!(
            blocked.key.block_reason.as_deref(),
            Some("leaked in a ticket")
        );
        assert_eq!(
            blocked.key.status,
            ApiKeyStatus::Active,
            "blocked, not revoked"
        );
        assert_eq!(
            blocked.key.sync_state,
            SyncState::Synced,
            "LiteLLM was told at once"
        );
        let audit = h.last_audit();
        assert_eq!(
            (audit.action.as_str(), audit.actor),
            ("api_key.block", Some(admin().user_id))
        );
        let after = audit.after.unwrap();
        assert_eq!(after["owner"], serde_json::json!(bob().user_id));
        assert_eq!(after["reason"], "leaked in a ticket");
        assert!(matches!(
            h.uc.block(&admin(), id, "again").await.unwrap_err(),
            Error::Conflict { .. }
        ));

        let unblocked = h.uc.unblock(&admin(), id).await.unwrap();
        assert!(!unblocked.key.is_blocked());
        assert_eq!(h.last_audit().action, "api_key.unblock");
        assert_eq!(*sent.lock().unwrap(), [true, false]);
    }

    #[tokio::test]
    async fn a_key_that_is_not_live_cannot_be_blocked() {
        let h = harness(MockGateway::new());
        h.key.lock().unwrap().status = ApiKeyStatus::Revoked;
        assert!(matches!(
            h.uc.block(&admin(), h.id(), "leaked").await.unwrap_err(),
            Error::Conflict { .. }
        ));
        assert!(h.audits.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_admin_changes_someone_elses_limits_within_the_owners_quotas() {
        let mut gateway = MockGateway::new();
        gateway
            .expect_update_key()
            .times(1)
            .withf(|u| u.limits.max_budget == Some(money("4")))
            .returning(|_| Err(crate::GatewayError::Unavailable("down".into())));
        let h = harness(gateway);
        let id = h.id();
        let within = Limits {
            max_budget: Some(money("4")),
            ..Limits::default()
        };
        assert!(matches!(
            h.uc.set_limits(&auditor(), id, within.clone(), None)
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
        let above = Limits {
            max_budget: Some(money("50")),
            ..Limits::default()
        };
        let Error::Invalid(errors) =
            h.uc.set_limits(&admin(), id, above, None)
                .await
                .unwrap_err()
        else {
            panic!("above the owner's quota")
        };
        assert_eq!(errors[0].field, "limits.max_budget");
        assert!(h.audits.lock().unwrap().is_empty());

        let changed =
            h.uc.set_limits(&admin(), id, within, Some("budget review"))
                .await
                .unwrap();
        assert_eq!(changed.key.limits.max_budget, Some(money("4")));
        assert_eq!(
            changed.key.limits.rpm_limit,
            quota(10).rpm_limit,
            "an unset limit takes the tightest quota, as for the owner"
        );
        assert_eq!(
            changed.key.sync_state,
            SyncState::Pending,
            "LiteLLM was down"
        );
        let audit = h.last_audit();
        assert_eq!(
            (audit.action.as_str(), audit.actor),
            ("api_key.update", Some(admin().user_id))
        );
        assert_eq!(
            audit.after.as_ref().unwrap()["owner"],
            serde_json::json!(bob().user_id)
        );
        assert_eq!(audit.after.unwrap()["reason"], "budget review");
    }
}

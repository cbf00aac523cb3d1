use crate::access::ConvergeUser;
use crate::audit::AuditEvent;
use crate::gateway::Gateway;
use crate::ids::ApiKeyId;
use crate::keys::owned_key;
use crate::keys::ApiKeyStore;
use crate::keys::ConvergeKey;
use crate::keys::{gateway_failure, CreatedKey};
use crate::keys::{litellm_alias, NewApiKey};
use crate::keys::{models_of, require_active};
use crate::keys::{Finish, Provisioner, Provisioning};
use crate::limits::Money;
use crate::runtime::{Clock, SecretGenerator};
use crate::secret::{Secret, SecretKind};
use crate::settings::SettingsSource;
use crate::subscriptions::SubscriptionStatus;
use crate::subscriptions::SubscriptionStore;
use crate::users::Actor;
use crate::{Error, FieldError};
use chrono::Duration;
use std::sync::Arc;

/// Rotate a key: a new key with the same name, subscriptions, limits and expiry, whose secret is returned
/// once; the old key becomes `retiring` and keeps working for `overlap` (0 = it stops at once, the default),
/// then is deleted in LiteLLM and becomes `revoked`. LiteLLM's open-source edition cannot regenerate keys,
/// so this is a new key plus a scheduled deletion, both durable.
pub struct RotateKey {
    keys: Arc<dyn ApiKeyStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
    settings: SettingsSource,
    provisioner: Provisioner,
    converge: Arc<ConvergeKey>,
    gateway: Arc<dyn Gateway>,
}

impl RotateKey {
    #[expect(
        clippy::too_many_arguments,
        reason = "the ports a rotation needs, each injected"
    )]
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
        settings: SettingsSource,
        converge: Arc<ConvergeKey>,
        owner_access: Arc<ConvergeUser>,
    ) -> Self {
        Self {
            converge,
            gateway: gateway.clone(),
            provisioner: Provisioner {
                keys: keys.clone(),
                gateway,
                clock: clock.clone(),
                owner_access,
            },
            keys,
            subscriptions,
            clock,
            secrets,
            settings,
        }
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ApiKeyId,
        overlap: Duration,
    ) -> Result<CreatedKey, Error> {
        let max_overlap = self.settings.max_rotation_overlap();
        if overlap < Duration::zero() || overlap > max_overlap {
            return Err(FieldError::new(
                "overlap_seconds",
                format!("between 0 and {} seconds", max_overlap.num_seconds()),
            )
            .into());
        }
        // The owner's own key only (an administrator never receives another user's secret): the new key is
        // the owner's, in LiteLLM too (its `user_id` and team are the old key's owner's).
        let old = owned_key(self.keys.as_ref(), actor, id).await?;
        require_active(&old, "rotated")?;
        if old.is_blocked() {
            // A new key would not be blocked: rotating must not lift an administrator's block.
            return Err(Error::Conflict {
                field: None,
                message:
                    "an administrator blocked this key; it cannot be rotated until it is unblocked"
                        .into(),
            });
        }
        let subscriptions: Vec<_> = self
            .subscriptions
            .get_subscriptions(&old.subscription_ids)
            .await?
            .into_iter()
            .filter(|s| s.status == SubscriptionStatus::Active)
            .collect();
        if subscriptions.is_empty() {
            return Err(Error::Conflict {
                field: None,
                message:
                    "none of this key's subscriptions is active any more; create a new key instead"
                        .into(),
            });
        }

        // The new key starts where the old one stands in its budget window: rotating must not reset spend.
        // LiteLLM's open-source edition cannot regenerate a key in place (`/key/regenerate` is enterprise),
        // so the spend is read and carried over; without it there is no rotation.
        let spend = match self.gateway.key_info(&old.hash).await {
            Ok(Some(remote)) => remote.spend.unwrap_or(Money::ZERO),
            Ok(None) => {
                return Err(Error::Conflict {
                    field: None,
                    message: "LiteLLM no longer has this key; create a new key instead".into(),
                })
            }
            Err(error) => return Err(gateway_failure(error)),
        };
        let settings = self.settings.current().await?;
        let now = self.clock.now();
        let secret = Secret::from_random(SecretKind::ApiKey, &self.secrets.random_bytes());
        let new_id = ApiKeyId::new();
        let new_key = NewApiKey {
            id: new_id,
            user_id: old.user_id,
            // The replacing key is provisioned under a name of its own while the old key still holds the
            // name; completing the rotation hands the name over in the same transaction that retires the
            // old key.
            name: format!("{} (rotation {})", old.name, &new_id.to_string()[..8]),
            prefix: secret.prefix(),
            hash: secret.hash(),
            litellm_alias: litellm_alias(new_id),
            limits: old.limits.clone(),
            expires_at: old.expires_at.filter(|at| *at > now),
            subscription_ids: subscriptions.iter().map(|s| s.id).collect(),
            created_at: now,
        };
        let audit = AuditEvent::by(actor, "api_key.create", "api_key", new_id, now).with_after(
            serde_json::json!({
                "name": new_key.name,
                "prefix": new_key.prefix.as_str(),
                "rotates": id,
            }),
        );
        let finish = Finish::Rotation {
            old: id,
            retire_at: now + overlap,
        };
        let created = self
            .provisioner
            .provision(
                actor,
                new_key,
                secret,
                Provisioning {
                    models: models_of(&subscriptions),
                    allowed_routes: settings.allowed_routes,
                    max_live_keys: None,
                    spend: Some(spend),
                },
                audit,
                finish,
            )
            .await?;
        if overlap.is_zero() {
            // Without overlap the old key stops now, not when the job gets to it.
            if let Err(error) = self.converge.execute(id).await {
                tracing::warn!(%error, "the replaced key is not deleted yet; its job will retry");
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::gateway::{GatewayKey, MockGateway};
    use crate::keys::{ApiKey, ApiKeyStatus};
    use crate::keys::{KeyInserted, MockApiKeyStore};
    use crate::subscriptions::MockSubscriptionStore;
    use crate::GatewayError;
    use std::sync::Mutex;

    /// The permissive settings; rotations may overlap for up to a week.
    fn settings() -> SettingsSource {
        settings_source().with_max_rotation_overlap(Duration::days(7))
    }

    fn setup(
        old: ApiKey,
        sub_status: SubscriptionStatus,
    ) -> (MockApiKeyStore, MockSubscriptionStore) {
        let mut keys = MockApiKeyStore::new();
        let k = old.clone();
        keys.expect_get_key()
            .returning(move |_| Ok(Some(k.clone())));
        let mut subs = MockSubscriptionStore::new();
        let sub_id = old.subscription_ids[0];
        subs.expect_get_subscriptions().returning(move |_| {
            let mut s = subscription(alice().user_id, "gpt-4o-mini", sub_status);
            s.id = sub_id;
            Ok(vec![s])
        });
        (keys, subs)
    }

    /// LiteLLM's view of a key that has spent `spend`.
    fn remote(spend: Option<i64>) -> GatewayKey {
        GatewayKey {
            spend: spend.map(|units| money(&units.to_string())),
            ..bare_gateway_key(expected_key_secret().hash())
        }
    }

    fn rotation(
        keys: MockApiKeyStore,
        subs: MockSubscriptionStore,
        gateway: MockGateway,
    ) -> RotateKey {
        RotateKey::new(
            Arc::new(keys),
            Arc::new(subs),
            Arc::new(gateway),
            fixed_clock(),
            fixed_secrets(),
            settings(),
            converge_offline(),
            converge_user_offline(),
        )
    }

    /// Lets the rotation complete, answering with the new key.
    fn expect_completion(keys: &mut MockApiKeyStore) {
        keys.expect_complete_rotation()
            .returning(|new, _, _, _, _| Ok(rotated_to(new)));
    }

    /// Alice rotates key `id`, the old key living on for `overlap`.
    async fn rotate(
        keys: MockApiKeyStore,
        subs: MockSubscriptionStore,
        gateway: MockGateway,
        id: ApiKeyId,
        overlap: Duration,
    ) -> Result<CreatedKey, Error> {
        rotation(keys, subs, gateway)
            .execute(&alice(), id, overlap)
            .await
    }

    /// As [`setup`], for a rotation that must not get as far as recording a new key.
    fn setup_refusing_to_insert(
        old: ApiKey,
        sub_status: SubscriptionStatus,
    ) -> (MockApiKeyStore, MockSubscriptionStore) {
        let (mut keys, subs) = setup(old, sub_status);
        keys.expect_insert_provisioning_key().never();
        (keys, subs)
    }

    /// A LiteLLM that holds the old key, which has spent `spend`.
    fn litellm_reporting_spend(spend: Option<i64>) -> MockGateway {
        let mut gateway = MockGateway::new();
        gateway
            .expect_key_info()
            .returning(move |_| Ok(Some(remote(spend))));
        gateway
    }

    /// The new key, active, as the store answers a completed rotation.
    fn rotated_to(new: ApiKeyId) -> ApiKey {
        let mut k = api_key(alice().user_id, ApiKeyStatus::Active);
        k.id = new;
        k
    }

    #[tokio::test]
    async fn rotating_creates_a_same_named_key_and_retires_the_old_one_after_the_overlap() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let (old_id, old_name, old_subs) = (old.id, old.name.clone(), old.subscription_ids.clone());
        let (mut keys, subs) = setup(old.clone(), SubscriptionStatus::Active);
        keys.expect_insert_provisioning_key()
            .times(1)
            .withf(move |k, _, _| {
                k.name.starts_with(&format!("{old_name} (rotation "))
                    && k.subscription_ids == old_subs
                    && k.hash == expected_key_secret().hash()
            })
            .returning(|_, _, _| Ok(KeyInserted::default()));
        keys.expect_complete_rotation()
            .times(1)
            .withf(move |_, o, retire_at, at, audit| {
                *o == old_id
                    && *retire_at == *at + Duration::hours(1)
                    && audit.action == "api_key.rotate"
            })
            .returning(|new, _, _, _, _| Ok(rotated_to(new)));
        keys.expect_activate_key().never();
        let mut gateway = litellm_reporting_spend(Some(1));
        gateway
            .expect_generate_key()
            .times(1)
            .withf(|g| g.models.len() == 1)
            .returning(|_| Ok(remote(None)));
        let created = rotate(keys, subs, gateway, old_id, Duration::hours(1))
            .await
            .unwrap();
        assert_ne!(created.key.id, old_id);
        assert_eq!(created.secret.expose(), expected_key_secret().expose());
    }

    #[tokio::test]
    async fn the_new_key_starts_with_the_old_keys_spend_and_is_not_held_to_the_cap() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let (old_id, old_hash) = (old.id, old.hash.clone());
        let (mut keys, subs) = setup(old, SubscriptionStatus::Active);
        let caps = Arc::new(Mutex::new(Vec::new()));
        let c = caps.clone();
        keys.expect_insert_provisioning_key()
            .times(1)
            .returning(move |_, cap, _| {
                c.lock().unwrap().push(cap);
                Ok(KeyInserted::default())
            });
        expect_completion(&mut keys);
        let mut gateway = MockGateway::new();
        gateway
            .expect_key_info()
            .times(1)
            .withf(move |h| *h == old_hash)
            .returning(|_| Ok(Some(remote(Some(3)))));
        let sent = Arc::new(Mutex::new(None));
        let slot = sent.clone();
        gateway.expect_generate_key().times(1).returning(move |g| {
            *slot.lock().unwrap() = Some(g.clone());
            Ok(remote(None))
        });
        rotate(keys, subs, gateway, old_id, Duration::hours(1))
            .await
            .unwrap();
        let sent = sent.lock().unwrap().clone().unwrap();
        assert_eq!(
            sent.spend,
            Some(money("3")),
            "rotating must not reset spend"
        );
        assert_eq!(sent.team_id, format!("keyport-{}", alice().user_id));
        assert_eq!(
            sent.allowed_routes,
            key_settings().allowed_routes.as_slice(),
            "the settings' routes"
        );
        assert_eq!(*caps.lock().unwrap(), [None], "a rotation replaces a key");
    }

    #[tokio::test]
    async fn the_new_key_is_the_owners_in_litellm_and_nobody_else_rotates_it() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let old_id = old.id;
        let (mut keys, subs) = setup(old.clone(), SubscriptionStatus::Active);
        let owner = alice().user_id;
        keys.expect_insert_provisioning_key()
            .times(1)
            .withf(move |k, _, _| k.user_id == owner)
            .returning(|_, _, _| Ok(KeyInserted::default()));
        expect_completion(&mut keys);
        let mut gateway = litellm_reporting_spend(Some(1));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let slot = sent.clone();
        gateway.expect_generate_key().times(1).returning(move |g| {
            slot.lock().unwrap().push(g.clone());
            Ok(remote(None))
        });
        let uc = rotation(keys, subs, gateway);

        // An administrator (or anyone else) is not the owner: "not found", nothing generated, no secret.
        let mut admin = bob();
        admin.roles.push(crate::users::Role::Admin);
        assert_eq!(
            uc.execute(&admin, old_id, Duration::zero())
                .await
                .unwrap_err(),
            Error::NotFound { entity: "api key" }
        );
        assert!(sent.lock().unwrap().is_empty());

        uc.execute(&alice(), old_id, Duration::zero())
            .await
            .unwrap();
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].user_id, owner, "LiteLLM's user_id is the owner's");
        assert_eq!(sent[0].team_id, crate::access::team_id_of(owner));
        assert_eq!(
            sent[0].metadata["keyport_user_id"],
            serde_json::json!(owner),
            "the metadata names the owner"
        );
    }

    #[tokio::test]
    async fn a_key_an_administrator_blocked_is_not_rotated() {
        let mut old = api_key(alice().user_id, ApiKeyStatus::Active);
        old.blocked_at = Some(now());
        old.block_reason = Some("leaked".into());
        let id = old.id;
        let (keys, subs) = setup_refusing_to_insert(old, SubscriptionStatus::Active);
        let mut gateway = MockGateway::new();
        gateway.expect_generate_key().never();
        let err = rotate(keys, subs, gateway, id, Duration::zero())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { message, .. } if message.contains("blocked")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_key_litellm_reports_no_spend_for_passes_zero_to_its_successor() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let old_id = old.id;
        let (mut keys, subs) = setup(old, SubscriptionStatus::Active);
        keys.expect_insert_provisioning_key()
            .returning(|_, _, _| Ok(KeyInserted::default()));
        expect_completion(&mut keys);
        let mut gateway = litellm_reporting_spend(None);
        let sent = Arc::new(Mutex::new(None));
        let slot = sent.clone();
        gateway.expect_generate_key().returning(move |g| {
            *slot.lock().unwrap() = Some(g.spend);
            Ok(remote(None))
        });
        rotate(keys, subs, gateway, old_id, Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(*sent.lock().unwrap(), Some(Some(Money::ZERO)));
    }

    #[tokio::test]
    async fn a_key_litellm_no_longer_has_is_not_rotated() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let id = old.id;
        let (keys, subs) = setup_refusing_to_insert(old, SubscriptionStatus::Active);
        let mut gateway = MockGateway::new();
        gateway.expect_key_info().times(1).returning(|_| Ok(None));
        gateway.expect_generate_key().never();
        let err = rotate(keys, subs, gateway, id, Duration::zero())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { message, .. } if message.contains("no longer has")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn without_the_old_keys_spend_from_litellm_there_is_no_rotation() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let id = old.id;
        let (keys, subs) = setup_refusing_to_insert(old, SubscriptionStatus::Active);
        let mut gateway = MockGateway::new();
        gateway
            .expect_key_info()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        gateway.expect_generate_key().never();
        let err = rotate(keys, subs, gateway, id, Duration::zero())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::GatewayUnavailable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn an_overlap_beyond_the_maximum_is_refused_before_anything_happens() {
        let old = api_key(alice().user_id, ApiKeyStatus::Active);
        let id = old.id;
        let (keys, subs) = setup_refusing_to_insert(old, SubscriptionStatus::Active);
        let err = rotate(keys, subs, MockGateway::new(), id, Duration::days(8))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(ref f) if f[0].field == "overlap_seconds"));
    }

    #[tokio::test]
    async fn only_an_active_key_with_an_active_subscription_can_be_rotated() {
        let revoked = api_key(alice().user_id, ApiKeyStatus::Revoked);
        let id = revoked.id;
        let (keys, subs) = setup_refusing_to_insert(revoked, SubscriptionStatus::Active);
        assert!(matches!(
            rotate(keys, subs, MockGateway::new(), id, Duration::zero())
                .await
                .unwrap_err(),
            Error::Conflict { .. }
        ));

        let active = api_key(alice().user_id, ApiKeyStatus::Active);
        let id = active.id;
        let (keys, subs) = setup_refusing_to_insert(active, SubscriptionStatus::Cancelled);
        assert!(matches!(
            rotate(keys, subs, MockGateway::new(), id, Duration::zero())
                .await
                .unwrap_err(),
            Error::Conflict { .. }
        ));
    }
}

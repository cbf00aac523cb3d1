use crate::access::ConvergeUser;
use crate::audit::AuditEvent;
use crate::gateway::Gateway;
use crate::ids::{ApiKeyId, SubscriptionId};
use crate::keys::ApiKeyStore;
use crate::keys::CreatedKey;
use crate::keys::{
    active_subscriptions, effective_expiry, effective_limits, models_of, name_taken,
    requested_subscriptions,
};
use crate::keys::{litellm_alias, validate_key_name, NewApiKey};
use crate::keys::{Finish, Provisioner, Provisioning};
use crate::limits::Limits;
use crate::runtime::{Clock, SecretGenerator};
use crate::secret::{Secret, SecretKind};
use crate::settings::{SelfServiceSettings, SettingsSource};
use crate::subscriptions::Subscription;
use crate::subscriptions::SubscriptionStore;
use crate::users::Actor;
use crate::Error;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct CreateKeyRequest {
    pub name: String,
    pub subscription_ids: Vec<SubscriptionId>,
    /// Each limit left `None` is taken from the tightest quota of the bound subscriptions.
    pub limits: Limits,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Create an API key bound to some of the caller's subscriptions
/// (docs/lifecycle.md#creating-a-key-step-by-step, steps 1–6): validate; generate the secret; record the key as
/// `provisioning`; create it in LiteLLM (checking an uncertain outcome before deciding, never creating twice);
/// mark it `active` and hand out the secret once. When LiteLLM refuses for certain, the key is marked `failed`.
/// When the outcome stays unknown, or the database fails after LiteLLM created the key, the row stays
/// `provisioning`: nobody has the secret, and the reconciler deletes the key in LiteLLM and marks it `failed`.
pub struct CreateKey {
    keys: Arc<dyn ApiKeyStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
    settings: SettingsSource,
    provisioner: Provisioner,
}

struct Validated {
    settings: SelfServiceSettings,
    name: String,
    subscriptions: Vec<Subscription>,
    limits: Limits,
    expires_at: Option<DateTime<Utc>>,
}

impl CreateKey {
    pub fn new(
        keys: Arc<dyn ApiKeyStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
        settings: SettingsSource,
        owner_access: Arc<ConvergeUser>,
    ) -> Self {
        Self {
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

    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        request: CreateKeyRequest,
    ) -> Result<CreatedKey, Error> {
        let now = self.clock.now();
        let valid = self.validate(actor, request, now).await?;

        // Step 2: the secret is made here, so that keyport knows its hash before LiteLLM sees it.
        let secret = Secret::from_random(SecretKind::ApiKey, &self.secrets.random_bytes());
        let hash = secret.hash();
        let id = ApiKeyId::new();
        let models = models_of(&valid.subscriptions);
        let subscription_ids: Vec<SubscriptionId> =
            valid.subscriptions.iter().map(|s| s.id).collect();
        let new_key = NewApiKey {
            id,
            user_id: actor.user_id,
            name: valid.name.clone(),
            prefix: secret.prefix(),
            hash: hash.clone(),
            litellm_alias: litellm_alias(id),
            limits: valid.limits.clone(),
            expires_at: valid.expires_at,
            subscription_ids: subscription_ids.clone(),
            created_at: now,
        };

        let audit = AuditEvent::by(actor, "api_key.create", "api_key", id, now).with_after(
            serde_json::json!({
                "name": valid.name,
                "prefix": new_key.prefix.as_str(),
                "subscription_ids": subscription_ids,
                "models": models,
            }),
        );
        let plan = Provisioning {
            models,
            allowed_routes: valid.settings.allowed_routes,
            max_live_keys: Some(valid.settings.max_live_keys_per_user),
            spend: None,
        };
        self.provisioner
            .provision(actor, new_key, secret, plan, audit, Finish::Activate)
            .await
    }

    async fn validate(
        &self,
        actor: &Actor,
        request: CreateKeyRequest,
        now: DateTime<Utc>,
    ) -> Result<Validated, Error> {
        let settings = self.settings.current().await?;
        let mut errors = Vec::new();
        let name = validate_key_name(&request.name)
            .map_err(|e| errors.push(e))
            .ok();
        let ids = requested_subscriptions(request.subscription_ids, &mut errors);
        let expires_at = effective_expiry(request.expires_at, &settings, now, &mut errors);
        let subscriptions =
            active_subscriptions(self.subscriptions.as_ref(), actor, &ids, &mut errors).await?;
        let limits = if errors.is_empty() {
            effective_limits(request.limits, &subscriptions, &settings, &mut errors)
        } else {
            request.limits
        };
        let (Some(name), true) = (name, errors.is_empty()) else {
            return Err(Error::Invalid(errors));
        };
        if self.keys.live_key_name_taken(actor.user_id, &name).await? {
            return Err(name_taken(&name));
        }
        Ok(Validated {
            settings,
            name,
            subscriptions,
            limits,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::MockAccessStore;
    use crate::access::{team_id_of, InferenceRoutes, DEFAULT_MAX_LIVE_KEYS};
    use crate::fixtures::*;
    use crate::gateway::MockGateway;
    use crate::ids::ModelId;
    use crate::keys::ApiKey;
    use crate::keys::ApiKeyStatus;
    use crate::keys::{KeyInserted, MockApiKeyStore};
    use crate::limits::BudgetDuration;
    use crate::subscriptions::MockSubscriptionStore;
    use crate::subscriptions::SubscriptionStatus;
    use crate::users::UserStatus;
    use crate::GatewayError;
    use crate::{ConflictKind, StoreError};
    use chrono::Duration;
    use std::sync::Mutex;

    /// The mocks of one test, with what the test asserts afterwards.
    struct Harness {
        keys: MockApiKeyStore,
        subscriptions: MockSubscriptionStore,
        gateway: MockGateway,
        /// The owner's records, for converging them before the key when the store says they are pending.
        access: MockAccessStore,
        /// The self-service settings in force (fixed).
        settings: SelfServiceSettings,
    }

    impl Harness {
        /// Alice holds the given subscriptions; the name is free.
        fn with_subscriptions(subs: Vec<Subscription>) -> Self {
            let mut subscriptions = MockSubscriptionStore::new();
            subscriptions
                .expect_get_subscriptions()
                .returning(move |ids| {
                    Ok(subs
                        .iter()
                        .filter(|s| ids.contains(&s.id))
                        .cloned()
                        .collect())
                });
            let mut keys = MockApiKeyStore::new();
            keys.expect_live_key_name_taken()
                .returning(|_, _| Ok(false));
            let mut access = MockAccessStore::new();
            access.expect_access_record().returning(|_| Ok(None));
            Self {
                keys,
                subscriptions,
                gateway: MockGateway::new(),
                access,
                settings: key_settings(),
            }
        }

        /// Alice holds one active subscription (see `active_sub`); the name is free.
        fn with_active_sub() -> (Self, Subscription) {
            let sub = active_sub();
            (Self::with_subscriptions(vec![sub.clone()]), sub)
        }

        /// The store says the owner's access is pending: her record (holding `sub`) is at version 2.
        /// Records the inserted key, as `expect_insert` does.
        fn owner_access_pending(&mut self, sub: &Subscription) -> Arc<Mutex<Option<NewApiKey>>> {
            let (inserted, _) = expect_insert_answering(
                &mut self.keys,
                KeyInserted {
                    owner_access_pending: true,
                },
            );
            let mut record = access_record(alice().user_id, UserStatus::Active, vec![sub.clone()]);
            record.version = 2;
            self.access = MockAccessStore::new();
            self.access
                .expect_access_record()
                .returning(move |_| Ok(Some(record.clone())));
            inserted
        }

        /// Alice asks for `req` with the fixed settings.
        async fn create(self, req: CreateKeyRequest) -> Result<CreatedKey, Error> {
            self.use_case().execute(&alice(), req).await
        }

        /// The request is refused before a key is recorded or generated.
        fn expect_nothing_created(&mut self) {
            self.keys.expect_insert_provisioning_key().never();
            self.gateway.expect_generate_key().never();
        }

        fn use_case(self) -> CreateKey {
            let settings = fixed_settings(self.settings.clone());
            self.use_case_with(settings)
        }

        /// The owner's convergence and the key's creation share one gateway.
        fn use_case_with(self, settings: SettingsSource) -> CreateKey {
            let gateway: Arc<dyn Gateway> = Arc::new(self.gateway);
            let owner_access = Arc::new(ConvergeUser::new(
                Arc::new(self.access),
                gateway.clone(),
                fixed_clock(),
            ));
            CreateKey::new(
                Arc::new(self.keys),
                Arc::new(self.subscriptions),
                gateway,
                fixed_clock(),
                fixed_secrets(),
                settings,
                owner_access,
            )
        }
    }

    /// The settings in `store`, with the one-day cap on rotation overlap.
    fn stored(store: crate::settings::MockSettingsStore) -> SettingsSource {
        SettingsSource::new(Arc::new(store), SelfServiceSettings::default())
            .with_max_rotation_overlap(Duration::days(1))
    }

    /// The fields an `Error::Invalid` names; any other error fails the test.
    fn invalid_fields(err: Error) -> Vec<crate::FieldError> {
        let Error::Invalid(fields) = err else {
            panic!("{err:?}")
        };
        fields
    }

    fn invalid_field_names(err: Error) -> Vec<String> {
        invalid_fields(err).into_iter().map(|f| f.field).collect()
    }

    fn request(name: &str, subs: &[&Subscription]) -> CreateKeyRequest {
        CreateKeyRequest {
            name: name.into(),
            subscription_ids: subs.iter().map(|s| s.id).collect(),
            limits: Limits::default(),
            expires_at: None,
        }
    }

    fn active_sub() -> Subscription {
        subscription(alice().user_id, "gpt-4o-mini", SubscriptionStatus::Active)
    }

    fn activated(key: &NewApiKey) -> ApiKey {
        let mut out = api_key(key.user_id, ApiKeyStatus::Active);
        out.id = key.id;
        out.hash = key.hash.clone();
        out.prefix = key.prefix.clone();
        out
    }

    /// Records the inserted key so that `activate_key` can answer with it.
    fn expect_insert(keys: &mut MockApiKeyStore) -> Arc<Mutex<Option<NewApiKey>>> {
        expect_insert_answering(keys, KeyInserted::default()).0
    }

    /// Records the inserted key and the cap on live keys it was inserted under, and answers `answer`.
    #[expect(
        clippy::type_complexity,
        reason = "two recorders handed back to the test, each shared with the mock"
    )]
    fn expect_insert_answering(
        keys: &mut MockApiKeyStore,
        answer: KeyInserted,
    ) -> (Arc<Mutex<Option<NewApiKey>>>, Arc<Mutex<Vec<Option<u32>>>>) {
        let inserted = Arc::new(Mutex::new(None));
        let caps = Arc::new(Mutex::new(Vec::new()));
        let (slot, c) = (inserted.clone(), caps.clone());
        keys.expect_insert_provisioning_key()
            .times(1)
            .returning(move |k, cap, audit| {
                assert_eq!(audit.action, "api_key.create");
                *slot.lock().unwrap() = Some(k.clone());
                c.lock().unwrap().push(cap);
                Ok(answer)
            });
        (inserted, caps)
    }

    /// Lets `activate_key` answer with the inserted key, activated.
    fn expect_activate(keys: &mut MockApiKeyStore, inserted: &Arc<Mutex<Option<NewApiKey>>>) {
        let slot = inserted.clone();
        keys.expect_activate_key()
            .returning(move |_, _, _, _| Ok(activated(&slot.lock().unwrap().clone().unwrap())));
    }

    fn gateway_key() -> crate::gateway::GatewayKey {
        crate::gateway::GatewayKey {
            models: vec!["gpt-4o-mini".into()],
            ..bare_gateway_key(expected_key_secret().hash())
        }
    }

    #[tokio::test]
    async fn creating_a_key_records_it_creates_it_in_litellm_and_returns_the_secret_once() {
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = expect_insert(&mut h.keys);
        let expected_hash = expected_key_secret().hash();
        let sub_quota = sub.quota.clone();
        h.gateway
            .expect_generate_key()
            .times(1)
            .returning(move |g| {
                assert_eq!(g.secret.expose(), expected_key_secret().expose());
                assert_eq!(g.models, vec![ModelId::parse("gpt-4o-mini").unwrap()]);
                assert!(g.alias.starts_with("keyport-"));
                assert_eq!(
                    g.limits, sub_quota,
                    "unset limits inherit the subscription quota"
                );
                assert_eq!(g.metadata["managed_by"], "keyport");
                Ok(gateway_key())
            });
        h.gateway.expect_key_info().never();
        let slot = inserted.clone();
        h.keys
            .expect_activate_key()
            .times(1)
            .returning(move |id, _, granted, _| {
                let key = slot.lock().unwrap().clone().unwrap();
                assert_eq!(key.id, id);
                assert_eq!(
                    granted,
                    [ModelId::parse("gpt-4o-mini").unwrap()],
                    "the store learns which models LiteLLM was given, to decide whether LiteLLM must follow"
                );
                Ok(activated(&key))
            });
        h.keys.expect_fail_key().never();

        let created = h.create(request("ci", &[&sub])).await.unwrap();
        assert_eq!(created.secret.expose(), expected_key_secret().expose());
        assert_eq!(created.key.status, ApiKeyStatus::Active);
        let stored = inserted.lock().unwrap().clone().unwrap();
        assert_eq!(stored.hash, expected_hash, "only the hash is stored");
        assert_eq!(
            stored.prefix.as_str(),
            &expected_key_secret().expose()[..12]
        );
        assert_eq!(stored.subscription_ids, vec![sub.id]);
        assert_eq!(stored.user_id, alice().user_id);
    }

    #[tokio::test]
    async fn someone_elses_subscription_is_refused_as_if_it_did_not_exist() {
        let theirs = subscription(bob().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let mut h = Harness::with_subscriptions(vec![theirs.clone()]);
        h.expect_nothing_created();
        let err = h.create(request("ci", &[&theirs])).await.unwrap_err();
        let fields = invalid_fields(err);
        assert_eq!(fields[0].field, "subscription_ids[0]");
        assert!(
            fields[0].message.contains("no subscription"),
            "{}",
            fields[0].message
        );
    }

    #[tokio::test]
    async fn a_cancelled_or_pending_subscription_cannot_back_a_key() {
        for (status, says) in [
            (SubscriptionStatus::Cancelled, "cancelled"),
            (SubscriptionStatus::Pending, "waiting for approval"),
        ] {
            let good = active_sub();
            let bad = subscription(alice().user_id, "claude", status);
            let mut h = Harness::with_subscriptions(vec![good.clone(), bad.clone()]);
            h.expect_nothing_created();
            let err = h.create(request("ci", &[&good, &bad])).await.unwrap_err();
            let fields = invalid_fields(err);
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].field, "subscription_ids[1]");
            assert!(fields[0].message.contains(says), "{}", fields[0].message);
        }
    }

    #[tokio::test]
    async fn limits_above_the_subscription_quota_are_refused_naming_each_field() {
        let (mut h, sub) = Harness::with_active_sub(); // quota: 10 USD / 30d, tpm 10000, rpm 60
        h.expect_nothing_created();
        let mut req = request("ci", &[&sub]);
        req.limits.max_budget = Some(money("11"));
        req.limits.rpm_limit = Some(61);
        let err = h.create(req).await.unwrap_err();
        let names = invalid_field_names(err);
        assert_eq!(names, ["limits.max_budget", "limits.rpm_limit"]);
    }

    #[tokio::test]
    async fn limits_within_the_quota_over_its_window_are_kept() {
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = expect_insert(&mut h.keys);
        h.gateway
            .expect_generate_key()
            .returning(|_| Ok(gateway_key()));
        expect_activate(&mut h.keys, &inserted);
        let mut req = request("ci", &[&sub]);
        req.limits.max_budget = Some(money("2"));
        req.limits.budget_duration = Some(BudgetDuration::parse("7d").unwrap());
        h.create(req).await.unwrap();
        let stored = inserted.lock().unwrap().clone().unwrap();
        assert_eq!(stored.limits.max_budget, Some(money("2")));
        assert_eq!(stored.limits.budget_duration.unwrap().to_string(), "7d");
        assert_eq!(
            stored.limits.rpm_limit,
            Some(60),
            "unset rpm comes from the quota"
        );
    }

    #[tokio::test]
    async fn a_duplicate_name_is_a_conflict_on_name_before_anything_is_written() {
        let (mut h, sub) = Harness::with_active_sub();
        h.keys.checkpoint();
        h.keys
            .expect_live_key_name_taken()
            .withf(|_, n| n == "ci")
            .returning(|_, _| Ok(true));
        h.expect_nothing_created();
        let err = h.create(request("  ci ", &[&sub])).await.unwrap_err();
        assert!(
            matches!(err, Error::Conflict { field: Some(ref f), .. } if f == "name"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_name_taken_concurrently_is_caught_by_the_store_and_litellm_is_not_called() {
        let (mut h, sub) = Harness::with_active_sub();
        h.keys
            .expect_insert_provisioning_key()
            .returning(|_, _, _| Err(StoreError::Conflict(ConflictKind::KeyNameTaken)));
        h.gateway.expect_generate_key().never();
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { field: Some(ref f), .. } if f == "name"));
    }

    #[tokio::test]
    async fn litellm_rejecting_the_key_marks_it_failed_and_says_why() {
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = expect_insert(&mut h.keys);
        h.gateway.expect_generate_key().times(1).returning(|_| {
            Err(GatewayError::Invalid {
                field: Some("max_budget".into()),
                message: "max_budget must be a non-negative finite number".into(),
            })
        });
        h.gateway.expect_key_info().never();
        h.keys.expect_activate_key().never();
        let slot = inserted.clone();
        h.keys
            .expect_fail_key()
            .times(1)
            .returning(move |id, reason, _, audit| {
                assert_eq!(id, slot.lock().unwrap().as_ref().unwrap().id);
                assert!(reason.contains("max_budget"));
                assert_eq!(audit.action, "api_key.fail");
                Ok(())
            });
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert!(
            matches!(err, Error::GatewayRejected(ref m) if m.contains("max_budget")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_timeout_after_which_the_key_exists_counts_as_created_without_a_second_generate() {
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = expect_insert(&mut h.keys);
        h.gateway
            .expect_generate_key()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("timeout".into())));
        let hash = expected_key_secret().hash();
        h.gateway
            .expect_key_info()
            .times(1)
            .withf(move |h| *h == hash)
            .returning(|_| Ok(Some(gateway_key())));
        let slot = inserted.clone();
        h.keys
            .expect_activate_key()
            .times(1)
            .returning(move |_, _, _, _| Ok(activated(&slot.lock().unwrap().clone().unwrap())));
        h.keys.expect_fail_key().never();
        let created = h.create(request("ci", &[&sub])).await.unwrap();
        assert_eq!(created.key.status, ApiKeyStatus::Active);
        assert_eq!(created.secret.expose(), expected_key_secret().expose());
    }

    #[tokio::test]
    async fn a_timeout_after_which_the_key_does_not_exist_marks_it_failed() {
        let (mut h, sub) = Harness::with_active_sub();
        expect_insert(&mut h.keys);
        h.gateway
            .expect_generate_key()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("timeout".into())));
        h.gateway.expect_key_info().times(1).returning(|_| Ok(None));
        h.keys.expect_activate_key().never();
        h.keys
            .expect_fail_key()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert!(
            matches!(err, Error::GatewayUnavailable { ref detail } if detail.contains("nothing was changed")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn when_litellm_cannot_even_say_whether_the_key_exists_it_stays_provisioning() {
        let (mut h, sub) = Harness::with_active_sub();
        expect_insert(&mut h.keys);
        h.gateway
            .expect_generate_key()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("reset".into())));
        h.gateway
            .expect_key_info()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        h.keys.expect_activate_key().never();
        h.keys.expect_fail_key().never();
        h.gateway.expect_delete_key().never();
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert!(
            matches!(err, Error::GatewayUnavailable { ref detail } if detail.contains("removed automatically")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_database_failure_after_litellm_created_the_key_withholds_the_secret_and_deletes_the_key(
    ) {
        let (mut h, sub) = Harness::with_active_sub();
        expect_insert(&mut h.keys);
        h.gateway
            .expect_generate_key()
            .times(1)
            .returning(|_| Ok(gateway_key()));
        h.keys
            .expect_activate_key()
            .times(1)
            .returning(|_, _, _, _| Err(StoreError::Unavailable("connection reset".into())));
        h.keys.expect_fail_key().never();
        let hash = expected_key_secret().hash();
        h.gateway
            .expect_delete_key()
            .times(1)
            .withf(move |h| *h == hash)
            .returning(|_| Ok(()));
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert_eq!(err, Error::StoreUnavailable);
        assert!(!format!("{err:?}").contains(expected_key_secret().expose()));
    }

    #[tokio::test]
    async fn an_expiry_in_the_past_and_an_empty_subscription_list_are_refused() {
        let h = Harness::with_subscriptions(vec![]);
        let req = CreateKeyRequest {
            name: "ci".into(),
            subscription_ids: vec![],
            limits: Limits::default(),
            expires_at: Some(now() - Duration::hours(1)),
        };
        let err = h.create(req).await.unwrap_err();
        let names = invalid_field_names(err);
        assert_eq!(names, ["subscription_ids", "expires_at"]);
    }

    #[tokio::test]
    async fn the_policy_caps_lifetime_and_budget() {
        let (mut h, sub) = Harness::with_active_sub();
        h.settings = SelfServiceSettings {
            key_max_limits: Limits {
                max_budget: Some(money("1")),
                ..Limits::default()
            },
            key_max_lifetime_days: Some(90),
            ..key_settings()
        };
        let inserted = expect_insert(&mut h.keys);
        h.gateway.expect_generate_key().times(1).returning(|g| {
            assert_eq!(g.expires_in_seconds, Some(90 * 86_400));
            Ok(gateway_key())
        });
        expect_activate(&mut h.keys, &inserted);
        h.create(request("ci", &[&sub])).await.unwrap();
        let stored = inserted.lock().unwrap().clone().unwrap();
        assert_eq!(
            stored.limits.max_budget,
            Some(money("1")),
            "the tighter admin maximum wins over the quota"
        );
        assert_eq!(stored.expires_at, Some(now() + Duration::days(90)));
    }

    #[tokio::test]
    async fn the_settings_in_force_give_the_default_lifetime_and_cap_the_limits() {
        use crate::settings::MockSettingsStore;
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = expect_insert(&mut h.keys);
        h.gateway.expect_generate_key().times(1).returning(|g| {
            assert_eq!(g.expires_in_seconds, Some(30 * 86_400));
            Ok(gateway_key())
        });
        expect_activate(&mut h.keys, &inserted);
        let mut settings = MockSettingsStore::new();
        settings.expect_get_settings().returning(|| {
            Ok(Some(SelfServiceSettings {
                key_max_limits: Limits {
                    rpm_limit: Some(5),
                    ..Limits::default()
                },
                key_default_lifetime_days: Some(30),
                key_max_lifetime_days: Some(90),
                ..SelfServiceSettings::default()
            }))
        });
        let source = stored(settings);
        let uc = h.use_case_with(source);
        let mut over = request("ci", &[&sub]);
        over.limits.rpm_limit = Some(6);
        let err = uc.execute(&alice(), over).await.unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(e) if e[0].field == "limits.rpm_limit"),
            "{err:?}"
        );
        uc.execute(&alice(), request("ci", &[&sub])).await.unwrap();
        let stored = inserted.lock().unwrap().clone().unwrap();
        assert_eq!(
            stored.limits.rpm_limit,
            Some(5),
            "the stored maximum applies"
        );
        assert_eq!(stored.expires_at, Some(now() + Duration::days(30)));
    }

    #[tokio::test]
    async fn the_cap_on_live_keys_goes_to_the_store_twenty_by_default() {
        let (mut h, sub) = Harness::with_active_sub();
        let (inserted, caps) = expect_insert_answering(&mut h.keys, KeyInserted::default());
        h.gateway
            .expect_generate_key()
            .returning(|_| Ok(gateway_key()));
        expect_activate(&mut h.keys, &inserted);
        h.create(request("ci", &[&sub])).await.unwrap();
        assert_eq!(DEFAULT_MAX_LIVE_KEYS, 20);
        assert_eq!(*caps.lock().unwrap(), [Some(20)]);
    }

    #[tokio::test]
    async fn the_settings_in_force_set_the_cap_on_live_keys() {
        use crate::settings::MockSettingsStore;
        let (mut h, sub) = Harness::with_active_sub();
        let (inserted, caps) = expect_insert_answering(&mut h.keys, KeyInserted::default());
        h.gateway
            .expect_generate_key()
            .returning(|_| Ok(gateway_key()));
        expect_activate(&mut h.keys, &inserted);
        let mut settings = MockSettingsStore::new();
        settings.expect_get_settings().returning(|| {
            Ok(Some(SelfServiceSettings {
                max_live_keys_per_user: 3,
                ..SelfServiceSettings::default()
            }))
        });
        let source = stored(settings);
        h.use_case_with(source)
            .execute(&alice(), request("ci", &[&sub]))
            .await
            .unwrap();
        assert_eq!(*caps.lock().unwrap(), [Some(3)]);
    }

    #[tokio::test]
    async fn a_user_at_the_cap_gets_a_conflict_naming_it_and_litellm_is_not_called() {
        let (mut h, sub) = Harness::with_active_sub();
        h.keys
            .expect_insert_provisioning_key()
            .returning(|_, _, _| Err(StoreError::Conflict(ConflictKind::LiveKeyCapReached)));
        h.gateway.expect_generate_key().never();
        h.keys.expect_fail_key().never();
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { field: None, message } if message.contains("20 live keys")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn litellm_gets_the_owners_team_the_allowed_routes_and_no_starting_spend() {
        let (mut h, sub) = Harness::with_active_sub();
        h.settings.allowed_routes =
            InferenceRoutes::parse(vec!["/v1/chat/completions".into(), "/v1/models".into()])
                .unwrap();
        let inserted = expect_insert(&mut h.keys);
        let sent = Arc::new(Mutex::new(None));
        let slot = sent.clone();
        h.gateway
            .expect_generate_key()
            .times(1)
            .returning(move |g| {
                *slot.lock().unwrap() = Some(g.clone());
                Ok(gateway_key())
            });
        expect_activate(&mut h.keys, &inserted);
        h.create(request("ci", &[&sub])).await.unwrap();
        let sent = sent.lock().unwrap().clone().unwrap();
        assert_eq!(sent.team_id, format!("keyport-{}", alice().user_id));
        assert_eq!(sent.team_id, team_id_of(alice().user_id));
        assert_eq!(sent.allowed_routes, ["/v1/chat/completions", "/v1/models"]);
        assert_eq!(sent.spend, None);
    }

    #[tokio::test]
    async fn an_owner_whose_access_is_pending_is_converged_before_the_key_is_generated() {
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = h.owner_access_pending(&sub);
        let synced = Arc::new(Mutex::new(Vec::new()));
        let s = synced.clone();
        h.access
            .expect_mark_access_synced()
            .returning(move |_, version, _| {
                s.lock().unwrap().push(version);
                Ok(())
            });
        let calls = record_owner_convergence(&mut h.gateway);
        let c = calls.clone();
        h.gateway.expect_generate_key().returning(move |_| {
            c.lock().unwrap().push("generate_key");
            Ok(gateway_key())
        });
        expect_activate(&mut h.keys, &inserted);
        let created = h.create(request("ci", &[&sub])).await.unwrap();
        assert_eq!(created.key.status, ApiKeyStatus::Active);
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "ensure_user",
                "set_user_access",
                "ensure_team",
                "generate_key"
            ]
        );
        assert_eq!(*synced.lock().unwrap(), [2]);
    }

    #[tokio::test]
    async fn an_owner_litellm_cannot_take_now_fails_the_key_without_generating_it() {
        let (mut h, sub) = Harness::with_active_sub();
        let inserted = h.owner_access_pending(&sub);
        h.access
            .expect_record_access_error()
            .returning(|_, _, _| Ok(()));
        h.access.expect_mark_access_synced().never();
        h.gateway
            .expect_ensure_user()
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        h.gateway.expect_generate_key().never();
        h.keys.expect_activate_key().never();
        let failed = Arc::new(Mutex::new(Vec::new()));
        let f = failed.clone();
        h.keys
            .expect_fail_key()
            .times(1)
            .returning(move |id, reason, _, audit| {
                assert_eq!(audit.action, "api_key.fail");
                f.lock().unwrap().push((id, reason.to_owned()));
                Ok(())
            });
        let err = h.create(request("ci", &[&sub])).await.unwrap_err();
        assert!(
            matches!(&err, Error::GatewayUnavailable { detail } if detail.contains("no key was issued")),
            "{err:?}"
        );
        let key_id = inserted.lock().unwrap().as_ref().unwrap().id;
        let failed = failed.lock().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, key_id);
        assert!(failed[0].1.contains("quotas"), "{}", failed[0].1);
    }
}

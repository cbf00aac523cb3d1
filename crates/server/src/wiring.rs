//! Compile-time wiring: the concrete adapters (PostgreSQL, LiteLLM, the system clock, the OS random source)
//! behind the domain's ports, and the use cases built from them.

use crate::config::Common;
use anyhow::Context;
use chrono::{DateTime, SubsecRound, Utc};
use keyport_domain::identity::SessionPolicy;
use keyport_domain::identity::{IdentityProvider, RoleMapping};
use keyport_domain::runtime::{Clock, SecretGenerator};
use keyport_domain::secret::RANDOM_BYTES;
use keyport_domain::settings::{SelfServiceSettings, SettingsSource};
use keyport_domain::{
    access::*, audit::*, catalog::*, identity::*, jobs::*, keys::*, reconcile::*, settings::*,
    subscriptions::*, users::*,
};
use keyport_litellm::{LiteLlmClient, LiteLlmConfig};
use keyport_postgres::{CachedSettings, PgStore};
use rand::RngCore;
use std::sync::Arc;
use std::time::Duration;

/// The wall clock, to the microsecond (what PostgreSQL keeps), so that an answer built in memory equals the
/// same record read back.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// Secrets from the thread-local CSPRNG (ChaCha, seeded from the operating system).
pub struct OsSecrets;

impl SecretGenerator for OsSecrets {
    fn random_bytes(&self) -> [u8; RANDOM_BYTES] {
        let mut out = [0u8; RANDOM_BYTES];
        rand::rng().fill_bytes(&mut out);
        out
    }
}

/// The adapters, connected.
#[derive(Clone)]
pub struct Wiring {
    pub store: Arc<PgStore>,
    pub gateway: Arc<LiteLlmClient>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn SecretGenerator>,
}

impl Wiring {
    pub async fn connect(common: &Common) -> anyhow::Result<Self> {
        let store = Self::connect_store(common).await?;
        let (url, master_key) = common.litellm()?;
        let config = LiteLlmConfig::new(url, master_key)
            .with_timeout(Duration::from_secs(common.litellm_timeout_secs))
            .with_idle_timeout(Duration::from_millis(common.litellm_idle_timeout_ms));
        let gateway = LiteLlmClient::new(config).context("building the LiteLLM client")?;
        Ok(Self {
            store,
            gateway: Arc::new(gateway),
            clock: Arc::new(SystemClock),
            secrets: Arc::new(OsSecrets),
        })
    }

    pub async fn connect_store(common: &Common) -> anyhow::Result<Arc<PgStore>> {
        let store = keyport_postgres::connect(common.database_url()?, common.db_pool_size)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Arc::new(store))
    }

    /// The API's per-address rate limits (each `per_minute` also the burst, 0: off), their buckets in
    /// PostgreSQL so that every replica counts together; a replica that cannot reach the table limits on its
    /// own until it can again.
    pub fn rate_limits(
        &self,
        login_per_minute: u32,
        failures_per_minute: u32,
    ) -> keyport_api::ratelimit::Limits {
        keyport_api::ratelimit::Limits::new(login_per_minute, failures_per_minute)
            .shared(self.store.clone())
    }

    pub fn sync_catalog(&self) -> SyncCatalog {
        SyncCatalog::new(self.gateway.clone(), self.store.clone(), self.clock.clone())
    }

    pub fn converge_user(&self) -> Arc<ConvergeUser> {
        Arc::new(ConvergeUser::new(
            self.store.clone(),
            self.gateway.clone(),
            self.clock.clone(),
        ))
    }

    /// The administrator's stored settings (the routes keys may call, the cap on live keys) for the
    /// workers, the reconciler and the admin commands, which need nothing of the server's key flags (no
    /// rotation overlap, the default settings until some are saved).
    pub fn stored_settings(&self) -> SettingsSource {
        SettingsSource::new(
            Arc::new(CachedSettings::new(
                self.store.as_ref().clone(),
                SETTINGS_TTL,
            )),
            SelfServiceSettings::default(),
        )
    }

    pub fn converge_key(&self, settings: SettingsSource) -> Arc<ConvergeKey> {
        Arc::new(ConvergeKey::new(
            self.store.clone(),
            self.store.clone(),
            self.converge_user(),
            self.gateway.clone(),
            self.clock.clone(),
            settings,
        ))
    }

    /// The use cases of the API; the self-service settings are `initial` until an administrator saves
    /// some, and rotations may overlap for up to `max_rotation_overlap`.
    pub fn services(
        &self,
        initial: SelfServiceSettings,
        max_rotation_overlap: chrono::Duration,
        sessions: SessionPolicy,
        dev_login: bool,
    ) -> keyport_api::Services {
        let store = &self.store;
        let converge_user = self.converge_user();
        let start_session = Arc::new(StartSession::new(
            store.clone(),
            self.clock.clone(),
            self.secrets.clone(),
            sessions,
        ));
        // The administrator's self-service settings, cached briefly (saving through this process applies at
        // once, other replicas follow within the cache's lifetime); until saved, the server's flags are the
        // initial values.
        let settings = SettingsSource::new(
            Arc::new(CachedSettings::new(store.as_ref().clone(), SETTINGS_TTL)),
            initial,
        )
        .with_max_rotation_overlap(max_rotation_overlap);
        let converge = self.converge_key(settings.clone());
        keyport_api::Services {
            authenticate: Authenticate::new(store.clone(), self.clock.clone()),
            list_models: ListModels::new(store.clone()),
            get_model: GetModel::new(store.clone()),
            subscribe: Subscribe::new(store.clone(), store.clone(), self.clock.clone())
                .with_settings(settings.clone()),
            cancel_subscription: CancelSubscription::new(
                store.clone(),
                converge.clone(),
                self.clock.clone(),
            ),
            list_subscriptions: ListSubscriptions::new(store.clone()),
            get_subscription: GetSubscription::new(store.clone()),
            create_key: CreateKey::new(
                store.clone(),
                store.clone(),
                self.gateway.clone(),
                self.clock.clone(),
                self.secrets.clone(),
                settings.clone(),
                converge_user.clone(),
            ),
            list_keys: ListKeys::new(store.clone()),
            get_key: GetKey::new(store.clone()),
            revoke_key: RevokeKey::new(store.clone(), converge.clone(), self.clock.clone()),
            rotate_key: RotateKey::new(
                store.clone(),
                store.clone(),
                self.gateway.clone(),
                self.clock.clone(),
                self.secrets.clone(),
                settings.clone(),
                converge.clone(),
                converge_user.clone(),
            ),
            list_jobs: ListJobs::new(store.clone()),
            reconcile_status: ReconcileStatus::new(store.clone()),
            list_users: ListUsers::new(store.clone()),
            get_user: GetUser::new(store.clone()),
            change_user_roles: ChangeUserRoles::new(store.clone(), self.clock.clone()),
            set_user_status: SetUserStatusById::new(
                store.clone(),
                store.clone(),
                self.clock.clone(),
            ),
            list_all_keys: ListAllKeys::new(store.clone()),
            admin_keys: AdminKeys::new(
                store.clone(),
                store.clone(),
                Arc::new(RevokeKey::new(
                    store.clone(),
                    converge.clone(),
                    self.clock.clone(),
                )),
                Arc::new(UpdateKey::new(
                    store.clone(),
                    store.clone(),
                    converge.clone(),
                    self.clock.clone(),
                    settings.clone(),
                )),
                converge.clone(),
                self.clock.clone(),
            ),
            list_all_subscriptions: ListAllSubscriptions::new(store.clone()),
            subscription_history: SubscriptionHistory::new(store.clone()),
            control_subscription: ControlSubscription::new(
                store.clone(),
                converge.clone(),
                converge_user.clone(),
                self.clock.clone(),
            ),
            grant_subscription: GrantSubscription::new(
                store.clone(),
                store.clone(),
                store.clone(),
                settings.clone(),
                self.clock.clone(),
            ),
            decide_subscriptions: DecideSubscriptions::new(store.clone(), self.clock.clone()),
            update_model: UpdateModel::new(store.clone(), store.clone(), self.clock.clone()),
            read_settings: ReadSettings::new(settings.clone()),
            save_settings: SaveSettings::new(settings.clone(), self.clock.clone()),
            list_audit: ListAudit::new(store.clone()),
            authenticate_session: AuthenticateSession::new(
                store.clone(),
                self.clock.clone(),
                sessions,
            ),
            end_session: EndSession::new(store.clone(), self.clock.clone()),
            dev_login: DevLogin::new(
                dev_login,
                store.clone(),
                self.clock.clone(),
                start_session.clone(),
            ),
            // Set by `with_oidc` when an identity provider is configured.
            begin_login: None,
            finish_login: None,
            access_tokens: ManageAccessTokens::new(
                store.clone(),
                self.clock.clone(),
                self.secrets.clone(),
            )
            .with_settings(settings.clone()),
            update_key: UpdateKey::new(
                store.clone(),
                store.clone(),
                converge,
                self.clock.clone(),
                settings,
            ),
        }
    }
}

impl Wiring {
    /// Adds the OIDC login through `provider` to the services.
    pub fn with_oidc(
        &self,
        services: &mut keyport_api::Services,
        provider: Arc<dyn IdentityProvider>,
        mapping: RoleMapping,
        sessions: SessionPolicy,
    ) {
        let store = &self.store;
        let start_session = Arc::new(StartSession::new(
            store.clone(),
            self.clock.clone(),
            self.secrets.clone(),
            sessions,
        ));
        services.begin_login = Some(BeginLogin::new(
            provider.clone(),
            store.clone(),
            self.clock.clone(),
            self.secrets.clone(),
        ));
        services.finish_login = Some(FinishLogin::new(
            provider,
            store.clone(),
            store.clone(),
            self.gateway.clone(),
            self.clock.clone(),
            start_session,
            mapping,
        ));
    }
}

/// How long a process keeps the self-service settings before reading them again.
const SETTINGS_TTL: Duration = Duration::from_secs(5);

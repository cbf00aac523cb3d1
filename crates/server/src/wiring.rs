//! Compile-time wiring: the concrete adapters (PostgreSQL, LiteLLM, the system clock, the OS random source)
//! behind the domain's ports, handed to the API as its `Ports` (the API builds its use cases from them), and the
//! use cases of the background work.

use crate::config::Common;
use anyhow::Context;
use chrono::{DateTime, SubsecRound, Utc};
use keyport_domain::runtime::{Clock, SecretGenerator};
use keyport_domain::secret::RANDOM_BYTES;
use keyport_domain::{access::*, catalog::*, keys::*, settings::*};
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

    /// The adapters behind the ports of the API's use cases ([`keyport_api::Services::new`] builds them).
    /// The administrator's self-service settings are cached briefly (saving through this process applies
    /// at once, other replicas follow within the cache's lifetime); until saved, `initial` (the server's
    /// flags) are the settings in force. Rotations may overlap for up to `max_rotation_overlap`.
    pub fn ports(
        &self,
        initial: SelfServiceSettings,
        max_rotation_overlap: chrono::Duration,
    ) -> keyport_api::Ports {
        let store = &self.store;
        keyport_api::Ports {
            access_tokens: store.clone(),
            users: store.clone(),
            user_directory: store.clone(),
            identity_users: store.clone(),
            models: store.clone(),
            subscriptions: store.clone(),
            approvals: store.clone(),
            keys: store.clone(),
            admin_keys: store.clone(),
            access: store.clone(),
            sessions: store.clone(),
            jobs: store.clone(),
            reconcile_log: store.clone(),
            audit: store.clone(),
            gateway: self.gateway.clone(),
            clock: self.clock.clone(),
            secrets: self.secrets.clone(),
            settings: SettingsSource::new(
                Arc::new(CachedSettings::new(store.as_ref().clone(), SETTINGS_TTL)),
                initial,
            )
            .with_max_rotation_overlap(max_rotation_overlap),
        }
    }
}

/// How long a process keeps the self-service settings before reading them again.
const SETTINGS_TTL: Duration = Duration::from_secs(5);

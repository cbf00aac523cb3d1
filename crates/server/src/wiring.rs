//! Compile-time wiring: the concrete adapters (PostgreSQL, LiteLLM, the system clock, the OS random source)
//! behind the domain's ports, and the use cases built from them.

use crate::config::Common;
use anyhow::Context;
use chrono::{DateTime, SubsecRound, Utc};
use keyport_domain::ports::{Clock, SecretGenerator};
use keyport_domain::secret::RANDOM_BYTES;
use keyport_domain::usecases::*;
use keyport_litellm::{LiteLlmClient, LiteLlmConfig};
use keyport_postgres::PgStore;
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
            .with_timeout(Duration::from_secs(common.litellm_timeout_secs));
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

    pub fn sync_catalog(&self) -> SyncCatalog {
        SyncCatalog::new(self.gateway.clone(), self.store.clone(), self.clock.clone())
    }

    pub fn converge_key(&self) -> Arc<ConvergeKey> {
        Arc::new(ConvergeKey::new(
            self.store.clone(),
            self.store.clone(),
            self.gateway.clone(),
            self.clock.clone(),
        ))
    }

    pub fn services(&self, policy: KeyPolicy) -> keyport_api::Services {
        let store = &self.store;
        let converge = self.converge_key();
        keyport_api::Services {
            authenticate: Authenticate::new(store.clone(), self.clock.clone()),
            list_models: ListModels::new(store.clone()),
            get_model: GetModel::new(store.clone()),
            subscribe: Subscribe::new(store.clone(), store.clone(), self.clock.clone()),
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
                policy.clone(),
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
                policy.clone(),
                converge.clone(),
            ),
            list_jobs: ListJobs::new(store.clone()),
            update_key: UpdateKey::new(
                store.clone(),
                store.clone(),
                converge,
                self.clock.clone(),
                policy,
            ),
        }
    }
}

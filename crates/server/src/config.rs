//! Configuration: command-line flags, each with an environment variable, validated at start. The LiteLLM
//! master key is held in a type whose `Debug` hides it, and it is never printed.

use clap::{Args, Parser, Subcommand, ValueEnum};
pub use keyport_litellm::MasterKey;
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "keyport",
    version,
    about = "Self-service portal for LiteLLM keys, bound to model subscriptions"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Common {
    /// PostgreSQL URL keyport works with (`serve` and every command but `migrate`). Give it a role that owns
    /// nothing when KEYPORT_MIGRATE_DATABASE_URL is set.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL URL of the role that owns the schema: `keyport migrate`, and `keyport serve` at start,
    /// migrate with it; default: DATABASE_URL (one role for everything).
    #[arg(
        long,
        env = "KEYPORT_MIGRATE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub migrate_database_url: Option<String>,
    /// Connections in the database pool.
    #[arg(
        long,
        env = "KEYPORT_DB_POOL_SIZE",
        default_value_t = 16,
        global = true
    )]
    pub db_pool_size: usize,
    /// LiteLLM proxy base URL (admin API).
    #[arg(long, env = "LITELLM_URL", global = true)]
    pub litellm_url: Option<String>,
    /// LiteLLM master key; never logged.
    #[arg(
        long,
        env = "LITELLM_MASTER_KEY",
        global = true,
        hide_env_values = true
    )]
    pub litellm_master_key: Option<MasterKey>,
    /// Timeout of each LiteLLM call, in seconds.
    #[arg(
        long,
        env = "KEYPORT_LITELLM_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub litellm_timeout_secs: u64,
    /// How long an idle connection to LiteLLM is kept for reuse, in milliseconds: keep it below LiteLLM's
    /// keep-alive (uvicorn's is 5 s) and any load balancer's idle timeout in between.
    #[arg(
        long,
        env = "KEYPORT_LITELLM_IDLE_TIMEOUT_MS",
        default_value_t = 3000,
        global = true
    )]
    pub litellm_idle_timeout_ms: u64,
    /// Log filter (tracing syntax), e.g. `info` or `keyport=debug,info`.
    #[arg(long, env = "KEYPORT_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format.
    #[arg(long, env = "KEYPORT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates and syncs the catalog first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations (as KEYPORT_MIGRATE_DATABASE_URL when set, else DATABASE_URL) and
    /// grant the serve role `keyport_app` its privileges.
    Migrate,
    /// Compare LiteLLM's keys with keyport's and heal every disagreement (keyport's record wins).
    Reconcile {
        /// Report what would be fixed, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Block orphans instead of deleting them.
        #[arg(long, env = "KEYPORT_RECONCILE_QUARANTINE")]
        quarantine: bool,
        /// A provisioning key older than this many seconds is stale.
        #[arg(long, default_value_t = 300)]
        stale_after_secs: u32,
    },
    /// Synchronise from LiteLLM.
    Sync {
        #[command(subcommand)]
        what: SyncWhat,
    },
    /// Administrative commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Seal what can be sealed, then check the whole hash chain against the events as stored: exit code 0
    /// when intact, 1 when anything was changed or deleted. Prints the head to record elsewhere.
    Verify {
        /// A head recorded earlier (`<seq>:<hash>`, as verify prints it): the chain must still hold it.
        #[arg(long)]
        expect_head: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEYPORT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// LiteLLM's URL as clients should use it (shown with new keys); defaults to LITELLM_URL.
    #[arg(long, env = "KEYPORT_PUBLIC_LITELLM_URL")]
    pub public_litellm_url: Option<String>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "KEYPORT_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds between catalog syncs (0 turns the periodic sync off).
    #[arg(long, env = "KEYPORT_SYNC_INTERVAL_SECS", default_value_t = 300)]
    pub sync_interval_secs: u64,
    /// Longest lifetime of a self-service key in days (keys without an expiry get it when no default is set);
    /// unset: no limit. Initial value: once an administrator saves the self-service settings, those apply.
    #[arg(long, env = "KEYPORT_KEY_MAX_LIFETIME_DAYS")]
    pub key_max_lifetime_days: Option<u32>,
    /// Lifetime in days of a self-service key created without an expiry; unset: none (or the maximum).
    /// Initial value, like the maximum.
    #[arg(long, env = "KEYPORT_KEY_DEFAULT_LIFETIME_DAYS")]
    pub key_default_lifetime_days: Option<u32>,
    /// Most live (provisioning or active) keys one user may hold, 1 to 1000. Initial value, like the
    /// lifetimes: once an administrator saves the self-service settings, theirs applies.
    #[arg(long, env = "KEYPORT_MAX_LIVE_KEYS_PER_USER", default_value_t = keyport_domain::access::DEFAULT_MAX_LIVE_KEYS)]
    pub max_live_keys_per_user: u32,
    /// Longest overlap a rotation may ask for, in seconds (the old key keeps working that long).
    #[arg(long, env = "KEYPORT_ROTATION_MAX_OVERLAP_SECS", default_value_t = 7 * 86_400)]
    pub rotation_max_overlap_secs: u32,
    /// Seconds between background reconcile passes (one replica at a time); 0 turns them off.
    #[arg(long, env = "KEYPORT_RECONCILE_INTERVAL_SECS", default_value_t = 600)]
    pub reconcile_interval_secs: u64,
    /// Block orphans instead of deleting them in background passes.
    #[arg(long, env = "KEYPORT_RECONCILE_QUARANTINE")]
    pub reconcile_quarantine: bool,
    /// Job worker tasks in this process (0 turns them off, e.g. for a replica that only serves HTTP).
    #[arg(long, env = "KEYPORT_JOB_WORKERS", default_value_t = 2)]
    pub job_workers: usize,
    /// How often an idle job worker looks for due jobs, in milliseconds.
    #[arg(long, env = "KEYPORT_JOB_POLL_MS", default_value_t = 1000)]
    pub job_poll_ms: u64,
    /// Attempts before a job is given up as dead.
    #[arg(long, env = "KEYPORT_JOB_MAX_ATTEMPTS", default_value_t = 12)]
    pub job_max_attempts: u32,
    /// Do not apply migrations at start.
    #[arg(long, env = "KEYPORT_NO_MIGRATE")]
    pub no_migrate: bool,
    /// How often committed audit events are sealed into the hash chain, in milliseconds (one replica at a
    /// time seals; 0 turns sealing off in this process).
    #[arg(long, env = "KEYPORT_AUDIT_SEAL_INTERVAL_MS", default_value_t = 1000)]
    pub audit_seal_interval_ms: u64,
    /// `production` (the default: cookies always Secure, no development login) or `development`.
    #[arg(long, env = "KEYPORT_PROFILE", value_enum, default_value_t = Profile::Production)]
    pub profile: Profile,
    /// The URL people reach keyport at, e.g. https://keyport.example.org (the OIDC redirect URI is built
    /// from it); default: http://<bind address>.
    #[arg(long, env = "KEYPORT_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// Allow signing in as any user and role without an identity provider. Development only: refused by
    /// the production profile.
    #[arg(long, env = "KEYPORT_DEV_LOGIN")]
    pub dev_login: bool,
    /// A browser session unused this many minutes ends.
    #[arg(long, env = "KEYPORT_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u32,
    /// A browser session ends this many hours after sign-in, however busy.
    #[arg(long, env = "KEYPORT_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u32,
    /// Calls to the login endpoints allowed per client address and minute (0: unlimited).
    #[arg(long, env = "KEYPORT_LOGIN_RATE_PER_MINUTE", default_value_t = 30)]
    pub login_rate_per_minute: u32,
    /// Failed authentications allowed per client address and minute before it must wait (0: unlimited).
    #[arg(long, env = "KEYPORT_AUTH_FAILURES_PER_MINUTE", default_value_t = 60)]
    pub auth_failures_per_minute: u32,
    /// Reverse proxies or load balancers (addresses or CIDR ranges, comma-separated) whose
    /// `X-Forwarded-For` gives the client's address for rate limits and the audit log; none by default.
    #[arg(long, env = "KEYPORT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<TrustedProxy>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>` (compared in constant time); unset,
    /// it is open (keep it off the public network then).
    #[arg(long, env = "KEYPORT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    #[command(flatten)]
    pub oidc: Box<OidcArgs>,
}

/// Single sign-on through an OpenID Connect provider; off unless an issuer is set.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// The provider's issuer URL (discovery is read from <issuer>/.well-known/openid-configuration at
    /// start; keyport does not start when it is unreachable or wrong).
    #[arg(long = "oidc-issuer", env = "KEYPORT_OIDC_ISSUER")]
    pub issuer: Option<String>,
    /// keyport's client id at the provider.
    #[arg(long = "oidc-client-id", env = "KEYPORT_OIDC_CLIENT_ID")]
    pub client_id: Option<String>,
    /// keyport's client secret at the provider; never logged. Unset for a public client (PKCE only).
    #[arg(
        long = "oidc-client-secret",
        env = "KEYPORT_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<keyport_oidc::ClientSecret>,
    /// Scopes asked for (space-separated); `openid` is always included.
    #[arg(
        long = "oidc-scopes",
        env = "KEYPORT_OIDC_SCOPES",
        default_value = "openid profile email"
    )]
    pub scopes: String,
    /// The ID token claim holding the groups (or roles); a dotted path reaches into nested objects
    /// (e.g. `realm_access.roles`).
    #[arg(
        long = "oidc-groups-claim",
        env = "KEYPORT_OIDC_GROUPS_CLAIM",
        default_value = "groups"
    )]
    pub groups_claim: String,
    /// Groups whose members are admins (comma-separated).
    #[arg(
        long = "oidc-admin-groups",
        env = "KEYPORT_OIDC_ADMIN_GROUPS",
        value_delimiter = ','
    )]
    pub admin_groups: Vec<String>,
    /// Groups whose members are auditors (comma-separated).
    #[arg(
        long = "oidc-auditor-groups",
        env = "KEYPORT_OIDC_AUDITOR_GROUPS",
        value_delimiter = ','
    )]
    pub auditor_groups: Vec<String>,
    /// When set, only members of these groups may log in (comma-separated); others are refused.
    #[arg(
        long = "oidc-allowed-groups",
        env = "KEYPORT_OIDC_ALLOWED_GROUPS",
        value_delimiter = ','
    )]
    pub allowed_groups: Vec<String>,
    /// Whether roles follow the provider's groups at every login (default: yes when admin or auditor
    /// groups are set; no otherwise, and then administrators manage roles in keyport).
    #[arg(long = "oidc-sync-roles", env = "KEYPORT_OIDC_SYNC_ROLES")]
    pub sync_roles: Option<bool>,
}

fn groups(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect()
}

impl OidcArgs {
    /// The provider's configuration and the role mapping, or `None` when no issuer is set; refuses
    /// half-configured settings. `public_url` gives the redirect URI (`<public>/api/v1/auth/callback`).
    pub fn settings(
        &self,
        public_url: &url::Url,
    ) -> anyhow::Result<
        Option<(
            keyport_oidc::OidcConfig,
            keyport_domain::identity::RoleMapping,
        )>,
    > {
        let issuer = self
            .issuer
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty());
        let Some(issuer) = issuer else {
            let set = self.client_id.is_some()
                || self.client_secret.is_some()
                || !groups(&self.admin_groups).is_empty()
                || !groups(&self.auditor_groups).is_empty()
                || !groups(&self.allowed_groups).is_empty();
            if set {
                anyhow::bail!("OIDC settings are given but KEYPORT_OIDC_ISSUER is not set");
            }
            return Ok(None);
        };
        let client_id = self
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("KEYPORT_OIDC_ISSUER is set but KEYPORT_OIDC_CLIENT_ID is not")
            })?;
        let groups_claim = self.groups_claim.trim();
        if groups_claim.is_empty() {
            anyhow::bail!("KEYPORT_OIDC_GROUPS_CLAIM is empty");
        }
        let redirect_uri = public_url
            .join("/api/v1/auth/callback")
            .map_err(|e| anyhow::anyhow!("cannot build the OIDC redirect URI: {e}"))?;
        let mut config = keyport_oidc::OidcConfig::new(
            issuer,
            client_id,
            self.client_secret.clone(),
            redirect_uri.as_str(),
        );
        config.scopes = self.scopes.split_whitespace().map(str::to_owned).collect();
        config.groups_claim = groups_claim.to_owned();
        let allowed = groups(&self.allowed_groups);
        let mut mapping = keyport_domain::identity::RoleMapping {
            groups_claim: groups_claim.to_owned(),
            admin_groups: groups(&self.admin_groups),
            auditor_groups: groups(&self.auditor_groups),
            allowed_groups: (!allowed.is_empty()).then_some(allowed),
            sync_roles: false,
        };
        mapping.sync_roles = self.sync_roles.unwrap_or_else(|| mapping.maps_roles());
        Ok(Some((config, mapping)))
    }
}

/// One trusted proxy: an address (`10.0.0.5`) or a range (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(pub ipnet::IpNet);

impl std::str::FromStr for TrustedProxy {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        value
            .parse::<ipnet::IpNet>()
            .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(TrustedProxy)
            .map_err(|_| format!("'{value}' is neither an IP address nor a CIDR range"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    Production,
    Development,
}

impl ServeArgs {
    /// The public URL, defaulting to the bind address over plain HTTP.
    pub fn public_url(&self) -> anyhow::Result<url::Url> {
        match &self.public_url {
            Some(url) if matches!(url.scheme(), "http" | "https") => Ok(url.clone()),
            Some(_) => anyhow::bail!("KEYPORT_PUBLIC_URL must be http or https"),
            None => url::Url::parse(&format!("http://{}", self.bind)).map_err(|e| {
                anyhow::anyhow!("cannot build the public URL from the bind address: {e}")
            }),
        }
    }

    /// Whether the session cookies carry `Secure`: always, except in the development profile when the
    /// public URL is plain HTTP on a loopback host.
    pub fn secure_cookies(&self) -> anyhow::Result<bool> {
        let url = self.public_url()?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        Ok(!(self.profile == Profile::Development && url.scheme() == "http" && loopback))
    }

    /// Checks the settings that only make sense together.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.dev_login && self.profile == Profile::Production {
            anyhow::bail!(
                "KEYPORT_DEV_LOGIN=true is refused by the production profile; set KEYPORT_PROFILE=development for a demo or a development machine"
            );
        }
        // Anyone who can reach it can sign in as anyone: only on the machine itself, and never beside a real
        // identity provider (where it would be a back door around it).
        if self.dev_login && !self.bind.ip().is_loopback() {
            anyhow::bail!(
                "KEYPORT_DEV_LOGIN=true needs a loopback KEYPORT_BIND (127.0.0.1 or ::1), not {}: anyone who reaches it can sign in as anyone",
                self.bind
            );
        }
        if self.dev_login && self.oidc.issuer.is_some() {
            anyhow::bail!(
                "KEYPORT_DEV_LOGIN=true is refused when single sign-on is configured (KEYPORT_OIDC_ISSUER): it would bypass the identity provider"
            );
        }
        if self.session_idle_minutes == 0 || self.session_max_hours == 0 {
            anyhow::bail!("session timeouts must be at least 1");
        }
        self.secure_cookies()?;
        self.oidc.settings(&self.public_url()?).map(|_| ())
    }

    pub fn session_policy(&self) -> keyport_domain::identity::SessionPolicy {
        keyport_domain::identity::SessionPolicy {
            idle: chrono::TimeDelta::minutes(i64::from(self.session_idle_minutes)),
            absolute: chrono::TimeDelta::hours(i64::from(self.session_max_hours)),
        }
    }

    /// The self-service settings the flags give (`KEYPORT_KEY_MAX_LIFETIME_DAYS`,
    /// `KEYPORT_KEY_DEFAULT_LIFETIME_DAYS`, `KEYPORT_MAX_LIVE_KEYS_PER_USER`; no caps on limits, the default
    /// routes), in force until an administrator saves some.
    pub fn initial_settings(&self) -> keyport_domain::settings::SelfServiceSettings {
        keyport_domain::settings::SelfServiceSettings {
            subscription_max_quota: keyport_domain::limits::Limits::UNLIMITED,
            key_default_limits: keyport_domain::limits::Limits::UNLIMITED,
            key_max_limits: keyport_domain::limits::Limits::UNLIMITED,
            key_default_lifetime_days: self.key_default_lifetime_days,
            key_max_lifetime_days: self.key_max_lifetime_days,
            allowed_routes: keyport_domain::access::InferenceRoutes::default(),
            max_live_keys_per_user: self.max_live_keys_per_user,
            token_max_lifetime_days: None,
        }
    }

    /// The longest overlap a rotation may ask for (`KEYPORT_ROTATION_MAX_OVERLAP_SECS`): the server's
    /// configuration, never a stored setting.
    pub fn max_rotation_overlap(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.rotation_max_overlap_secs))
    }
}

#[derive(Debug, Subcommand)]
pub enum SyncWhat {
    /// The model catalog (LiteLLM `/model_group/info`).
    Models,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user and print their first personal access token (only the token goes to stdout).
    CreateUser {
        name: String,
        /// Give the user the admin role.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
    },
    /// Suspend a user: their tokens stop working and their keys are blocked in LiteLLM.
    SuspendUser { name: String },
    /// Reactivate a suspended user: their tokens work again and their keys are unblocked.
    ReactivateUser { name: String },
    /// Issue a new personal access token for a user (only the token goes to stdout).
    CreateToken {
        name: String,
        /// Create the user first if it does not exist.
        #[arg(long)]
        create_user: bool,
        /// With --create-user: give the new user the admin role.
        #[arg(long)]
        admin: bool,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        token_name: String,
    },
    /// Suspend, reactivate or revoke a subscription, or change its quota; LiteLLM follows at once (or
    /// through the job queue when it is down). Audited under the administrator named by --by.
    Subscription {
        #[command(subcommand)]
        action: SubscriptionCommand,
    },
    /// Block, unblock or revoke anybody's API key on its owner's behalf; LiteLLM follows at once (or through
    /// the job queue when it is down). Audited under the administrator named by --by. Never a secret.
    Key {
        #[command(subcommand)]
        action: KeyCommand,
    },
}

/// `keyport admin key …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeyCommand {
    /// Block an active or retiring key: LiteLLM refuses it until it is unblocked.
    Block {
        id: uuid::Uuid,
        /// Why (the key's owner sees it).
        #[arg(long)]
        reason: String,
        /// The administrator acting (a username with the admin role).
        #[arg(long)]
        by: String,
    },
    /// Lift an administrator's block.
    Unblock {
        id: uuid::Uuid,
        #[arg(long)]
        by: String,
    },
    /// Revoke a key: it stops working at once and is deleted in LiteLLM.
    Revoke {
        id: uuid::Uuid,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        by: String,
    },
}

/// `keyport admin subscription …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SubscriptionCommand {
    /// Suspend an active subscription: its model leaves the user's keys and pool until reactivated.
    Suspend {
        id: uuid::Uuid,
        /// Why (the user sees it).
        #[arg(long)]
        reason: String,
        /// The administrator acting (a username with the admin role).
        #[arg(long)]
        by: String,
    },
    /// Reactivate a suspended subscription.
    Reactivate {
        id: uuid::Uuid,
        #[arg(long)]
        by: String,
    },
    /// Revoke (cancel) a subscription; keys serving only it are revoked.
    Revoke {
        id: uuid::Uuid,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: String,
    },
    /// Replace a subscription's quota; a limit not given is unlimited.
    Quota {
        id: uuid::Uuid,
        #[arg(long)]
        by: String,
        /// USD per window (or in all, without --budget-duration).
        #[arg(long)]
        max_budget: Option<rust_decimal::Decimal>,
        /// The budget's window, e.g. 30d or 1mo.
        #[arg(long)]
        budget_duration: Option<String>,
        /// Tokens per minute, all the user's keys together.
        #[arg(long)]
        tpm_limit: Option<u64>,
        /// Requests per minute, all the user's keys together.
        #[arg(long)]
        rpm_limit: Option<u64>,
    },
}

impl Common {
    pub fn database_url(&self) -> anyhow::Result<&str> {
        self.database_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/keyport)"
                )
            })
    }

    /// The URL migrations run with: KEYPORT_MIGRATE_DATABASE_URL (the owner role), else DATABASE_URL.
    pub fn migrate_database_url(&self) -> anyhow::Result<&str> {
        match self
            .migrate_database_url
            .as_deref()
            .filter(|u| !u.is_empty())
        {
            Some(url) => Ok(url),
            None => self.database_url(),
        }
    }

    /// Whether migrations run as a role of their own (KEYPORT_MIGRATE_DATABASE_URL is set).
    pub fn split_roles(&self) -> bool {
        self.migrate_database_url
            .as_deref()
            .is_some_and(|u| !u.is_empty())
    }

    pub fn litellm(&self) -> anyhow::Result<(url::Url, MasterKey)> {
        let url = self.litellm_url.as_deref().ok_or_else(|| {
            anyhow::anyhow!("LITELLM_URL is not set (e.g. http://127.0.0.1:4000)")
        })?;
        let url =
            url::Url::parse(url).map_err(|e| anyhow::anyhow!("LITELLM_URL is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!("LITELLM_URL must be http or https");
        }
        let key = self
            .litellm_master_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("LITELLM_MASTER_KEY is not set"))?;
        Ok((url, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_is_off_without_an_issuer_and_refuses_half_a_configuration() {
        if std::env::vars().any(|(k, _)| k.starts_with("KEYPORT_OIDC_")) {
            return;
        }
        let public = url::Url::parse("https://keyport.example").unwrap();
        assert!(serve_args(&[]).oidc.settings(&public).unwrap().is_none());
        let err = serve_args(&["--oidc-client-id", "keyport"])
            .oidc
            .settings(&public)
            .unwrap_err();
        assert!(err.to_string().contains("KEYPORT_OIDC_ISSUER"), "{err}");
        let err = serve_args(&["--oidc-issuer", "https://idp.example"])
            .oidc
            .settings(&public)
            .unwrap_err();
        assert!(err.to_string().contains("KEYPORT_OIDC_CLIENT_ID"), "{err}");
    }

    #[test]
    fn oidc_settings_build_the_redirect_uri_and_the_role_mapping() {
        if std::env::vars().any(|(k, _)| k.starts_with("KEYPORT_OIDC_")) {
            return;
        }
        let public = url::Url::parse("https://keyport.example/").unwrap();
        let args = serve_args(&[
            "--oidc-issuer",
            "https://idp.example/realms/acme",
            "--oidc-client-id",
            "keyport",
            "--oidc-client-secret",
            "s3cret-value",
            "--oidc-admin-groups",
            "admins, platform",
            "--oidc-allowed-groups",
            "staff",
        ]);
        assert!(!format!("{args:?}").contains("s3cret-value"));
        let (config, mapping) = args.oidc.settings(&public).unwrap().unwrap();
        assert_eq!(
            config.redirect_uri,
            "https://keyport.example/api/v1/auth/callback"
        );
        assert_eq!(config.scopes, ["openid", "profile", "email"]);
        assert_eq!(config.client_secret.unwrap().expose(), "s3cret-value");
        assert_eq!(mapping.admin_groups, ["admins", "platform"]);
        assert_eq!(mapping.allowed_groups, Some(vec!["staff".to_owned()]));
        assert!(
            mapping.sync_roles,
            "roles follow the provider once a mapping is configured"
        );

        let plain = serve_args(&["--oidc-issuer", "https://idp", "--oidc-client-id", "k"]);
        let (_, mapping) = plain.oidc.settings(&public).unwrap().unwrap();
        assert!(!mapping.sync_roles);
        assert_eq!(mapping.allowed_groups, None);
    }

    #[test]
    fn the_master_key_never_shows_in_debug_output() {
        let cli = Cli::parse_from([
            "keyport",
            "--litellm-master-key",
            "sk-master-secret",
            "migrate",
        ]);
        assert!(!format!("{cli:?}").contains("sk-master-secret"));
        assert_eq!(
            cli.common.litellm_master_key.unwrap().expose(),
            "sk-master-secret"
        );
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["keyport", "serve"];
        argv.extend_from_slice(args);
        match Cli::parse_from(argv).command {
            Command::Serve(args) => *args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_key_flags_give_the_initial_settings_and_the_rotation_overlap() {
        // The environment of the test run must not decide this test.
        if std::env::vars().any(|(k, _)| {
            k.starts_with("KEYPORT_KEY_")
                || k == "KEYPORT_MAX_LIVE_KEYS_PER_USER"
                || k == "KEYPORT_ROTATION_MAX_OVERLAP_SECS"
        }) {
            return;
        }
        let defaults = serve_args(&[]);
        let initial = defaults.initial_settings();
        assert_eq!(
            initial.max_live_keys_per_user,
            keyport_domain::access::DEFAULT_MAX_LIVE_KEYS,
            "the cap on live keys defaults to the domain's, not 0"
        );
        assert_eq!(initial.key_max_lifetime_days, None);
        assert_eq!(initial.key_default_lifetime_days, None);
        assert_eq!(
            initial.key_max_limits,
            keyport_domain::limits::Limits::UNLIMITED
        );
        assert_eq!(
            initial.allowed_routes,
            keyport_domain::access::InferenceRoutes::default()
        );
        assert!(initial.validate().is_ok());
        assert_eq!(defaults.max_rotation_overlap(), chrono::Duration::days(7));
        let args = serve_args(&[
            "--key-max-lifetime-days",
            "90",
            "--key-default-lifetime-days",
            "30",
            "--max-live-keys-per-user",
            "3",
            "--rotation-max-overlap-secs",
            "60",
        ]);
        let initial = args.initial_settings();
        assert_eq!(initial.key_max_lifetime_days, Some(90));
        assert_eq!(initial.key_default_lifetime_days, Some(30));
        assert_eq!(initial.max_live_keys_per_user, 3);
        assert_eq!(args.max_rotation_overlap(), chrono::Duration::seconds(60));
        let refused = serve_args(&["--max-live-keys-per-user", "0"]).initial_settings();
        assert!(refused.validate().is_err());
    }

    #[test]
    fn the_production_profile_refuses_the_development_login() {
        // The environment of the test run must not decide this test.
        if std::env::var_os("KEYPORT_PROFILE").is_some()
            || std::env::var_os("KEYPORT_DEV_LOGIN").is_some()
        {
            return;
        }
        let err = serve_args(&["--dev-login"]).validate().unwrap_err();
        assert!(err.to_string().contains("production profile"), "{err}");
        assert!(serve_args(&["--dev-login", "--profile", "development"])
            .validate()
            .is_ok());
        assert!(serve_args(&[]).validate().is_ok());
    }

    #[test]
    fn the_development_login_needs_a_loopback_bind_and_no_single_sign_on() {
        if [
            "KEYPORT_PROFILE",
            "KEYPORT_DEV_LOGIN",
            "KEYPORT_BIND",
            "KEYPORT_OIDC_ISSUER",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
        {
            return;
        }
        let dev = ["--dev-login", "--profile", "development"];
        let err = serve_args(&[&dev[..], &["--bind", "0.0.0.0:8080"]].concat())
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        assert!(serve_args(&[&dev[..], &["--bind", "[::1]:8080"]].concat())
            .validate()
            .is_ok());
        let err = serve_args(&[&dev[..], &["--oidc-issuer", "https://sso.example.com"]].concat())
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("single sign-on"), "{err}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        if std::env::var_os("KEYPORT_TRUSTED_PROXIES").is_some() {
            return;
        }
        let args = serve_args(&["--trusted-proxies", "10.0.0.0/8, 192.0.2.1,::1"]);
        let nets: Vec<String> = args
            .trusted_proxies
            .iter()
            .map(|p| p.0.to_string())
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]);
        assert!(serve_args(&[]).trusted_proxies.is_empty());
        assert!(
            Cli::try_parse_from(["keyport", "serve", "--trusted-proxies", "proxy.local"]).is_err()
        );
    }

    #[test]
    fn cookies_are_secure_except_for_development_on_plain_loopback() {
        if std::env::var_os("KEYPORT_PROFILE").is_some()
            || std::env::var_os("KEYPORT_PUBLIC_URL").is_some()
        {
            return;
        }
        assert!(serve_args(&[]).secure_cookies().unwrap());
        assert!(!serve_args(&["--profile", "development"])
            .secure_cookies()
            .unwrap());
        assert!(serve_args(&[
            "--profile",
            "development",
            "--public-url",
            "http://portal.example.org"
        ])
        .secure_cookies()
        .unwrap());
        assert!(serve_args(&[
            "--profile",
            "development",
            "--public-url",
            "https://localhost:8443"
        ])
        .secure_cookies()
        .unwrap());
    }

    #[test]
    fn migrations_use_the_owner_url_when_given_and_the_database_url_otherwise() {
        if std::env::var_os("DATABASE_URL").is_some()
            || std::env::var_os("KEYPORT_MIGRATE_DATABASE_URL").is_some()
        {
            return;
        }
        let single = Cli::parse_from([
            "keyport",
            "--database-url",
            "postgres://keyport@db/keyport",
            "migrate",
        ]);
        assert_eq!(
            single.common.migrate_database_url().unwrap(),
            "postgres://keyport@db/keyport"
        );
        assert!(!single.common.split_roles());
        let split = Cli::parse_from([
            "keyport",
            "--database-url",
            "postgres://keyport_serve:pw-serve@db/keyport",
            "--migrate-database-url",
            "postgres://keyport_owner:pw-owner@db/keyport",
            "migrate",
        ]);
        assert!(split.common.split_roles());
        assert_eq!(
            split.common.migrate_database_url().unwrap(),
            "postgres://keyport_owner:pw-owner@db/keyport"
        );
        assert_eq!(
            split.common.database_url().unwrap(),
            "postgres://keyport_serve:pw-serve@db/keyport"
        );
    }

    #[test]
    fn litellm_settings_are_validated() {
        let cli = Cli::parse_from([
            "keyport",
            "--litellm-url",
            "ftp://x",
            "--litellm-master-key",
            "k",
            "migrate",
        ]);
        assert!(cli.common.litellm().is_err());
        if std::env::var_os("LITELLM_MASTER_KEY").is_none() {
            let cli = Cli::parse_from([
                "keyport",
                "--litellm-url",
                "http://127.0.0.1:4000",
                "migrate",
            ]);
            assert!(cli
                .common
                .litellm()
                .unwrap_err()
                .to_string()
                .contains("LITELLM_MASTER_KEY"));
        }
    }
}

//! What the handlers reach through `web::Data`: the use cases ([`Services`]), the settings the API shows or
//! obeys ([`ApiConfig`]), the `/readyz` and `/metrics` sources and the rate limits, gathered in [`ApiState`].
//! The server connects the adapters and hands them over as [`Ports`]; [`Services::new`] builds every use case
//! from them, here, so that a new use case is a field and a line in this file.

use crate::ratelimit;
use async_trait::async_trait;
use keyport_domain::access::AccessStore;
use keyport_domain::audit::AuditTrail;
use keyport_domain::catalog::ModelStore;
use keyport_domain::gateway::Gateway;
use keyport_domain::identity::AccessTokenStore;
use keyport_domain::identity::{IdentityProvider, IdentityUsers, RoleMapping};
use keyport_domain::identity::{SessionPolicy, SessionStore};
use keyport_domain::jobs::JobStore;
use keyport_domain::keys::AdminKeyStore;
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::reconcile::ReconcileLog;
use keyport_domain::runtime::{Clock, SecretGenerator};
use keyport_domain::settings::SettingsSource;
use keyport_domain::subscriptions::ApprovalStore;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::users::UserDirectory;
use keyport_domain::users::UserStore;
use keyport_domain::{
    access::*, audit::*, catalog::*, identity::*, jobs::*, keys::*, reconcile::*, settings::*,
    subscriptions::*, users::*,
};
use serde::Serialize;
use std::sync::Arc;

/// The use cases the API calls, built once by the server.
pub struct Services {
    pub authenticate: Authenticate,
    pub list_models: ListModels,
    pub get_model: GetModel,
    pub subscribe: Subscribe,
    pub cancel_subscription: CancelSubscription,
    pub list_subscriptions: ListSubscriptions,
    pub get_subscription: GetSubscription,
    pub create_key: CreateKey,
    pub list_keys: ListKeys,
    pub get_key: GetKey,
    pub revoke_key: RevokeKey,
    pub rotate_key: RotateKey,
    pub update_key: UpdateKey,
    pub list_jobs: ListJobs,
    pub reconcile_status: ReconcileStatus,
    pub list_users: ListUsers,
    pub get_user: GetUser,
    pub change_user_roles: ChangeUserRoles,
    pub set_user_status: SetUserStatusById,
    pub list_all_keys: ListAllKeys,
    /// An administrator's actions on anybody's key, on the owner's behalf.
    pub admin_keys: AdminKeys,
    pub list_all_subscriptions: ListAllSubscriptions,
    pub subscription_history: SubscriptionHistory,
    pub control_subscription: ControlSubscription,
    pub grant_subscription: GrantSubscription,
    pub decide_subscriptions: DecideSubscriptions,
    pub update_model: UpdateModel,
    pub read_settings: ReadSettings,
    pub save_settings: SaveSettings,
    pub list_audit: ListAudit,
    pub authenticate_session: AuthenticateSession,
    pub end_session: EndSession,
    pub dev_login: DevLogin,
    /// The OIDC login; `None` when no identity provider is configured (its routes answer 404).
    pub begin_login: Option<BeginLogin>,
    pub finish_login: Option<FinishLogin>,
    pub access_tokens: ManageAccessTokens,
}

/// The adapters behind the domain's ports, as the server connected them: what [`Services::new`] builds the
/// use cases from. One adapter may stand behind many ports (PostgreSQL behind every store).
#[derive(Clone)]
pub struct Ports {
    pub access_tokens: Arc<dyn AccessTokenStore>,
    pub users: Arc<dyn UserStore>,
    pub user_directory: Arc<dyn UserDirectory>,
    pub identity_users: Arc<dyn IdentityUsers>,
    pub models: Arc<dyn ModelStore>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub approvals: Arc<dyn ApprovalStore>,
    pub keys: Arc<dyn ApiKeyStore>,
    pub admin_keys: Arc<dyn AdminKeyStore>,
    pub access: Arc<dyn AccessStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub jobs: Arc<dyn JobStore>,
    pub reconcile_log: Arc<dyn ReconcileLog>,
    pub audit: Arc<dyn AuditTrail>,
    pub gateway: Arc<dyn Gateway>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn SecretGenerator>,
    /// The administrator's self-service settings (the defaults and maximums of subscriptions, keys and
    /// tokens), with the server's flags as their initial values.
    pub settings: SettingsSource,
}

/// What the use cases obey besides the settings: the server's flags.
#[derive(Clone)]
pub struct ServicePolicy {
    pub sessions: SessionPolicy,
    /// Whether the development login is on.
    pub dev_login: bool,
    /// The OIDC login, when an identity provider is configured.
    pub oidc: Option<OidcLogin>,
}

/// The identity provider and how its groups map to roles.
#[derive(Clone)]
pub struct OidcLogin {
    pub provider: Arc<dyn IdentityProvider>,
    pub mapping: RoleMapping,
}

impl Services {
    /// Every use case of the API, built from the ports.
    pub fn new(ports: &Ports, policy: ServicePolicy) -> Self {
        let p = ports;
        let settings = &p.settings;
        let converge_user = Arc::new(ConvergeUser::new(
            p.access.clone(),
            p.gateway.clone(),
            p.clock.clone(),
        ));
        let converge = Arc::new(ConvergeKey::new(
            p.keys.clone(),
            p.access.clone(),
            converge_user.clone(),
            p.gateway.clone(),
            p.clock.clone(),
            settings.clone(),
        ));
        let start_session = Arc::new(StartSession::new(
            p.sessions.clone(),
            p.clock.clone(),
            p.secrets.clone(),
            policy.sessions,
        ));
        let revoke_key = || RevokeKey::new(p.keys.clone(), converge.clone(), p.clock.clone());
        let update_key = || {
            UpdateKey::new(
                p.keys.clone(),
                p.subscriptions.clone(),
                converge.clone(),
                p.clock.clone(),
                settings.clone(),
            )
        };
        Self {
            authenticate: Authenticate::new(p.access_tokens.clone(), p.clock.clone()),
            list_models: ListModels::new(p.models.clone()),
            get_model: GetModel::new(p.models.clone()),
            subscribe: Subscribe::new(p.models.clone(), p.subscriptions.clone(), p.clock.clone())
                .with_settings(settings.clone()),
            cancel_subscription: CancelSubscription::new(
                p.subscriptions.clone(),
                converge.clone(),
                p.clock.clone(),
            ),
            list_subscriptions: ListSubscriptions::new(p.subscriptions.clone()),
            get_subscription: GetSubscription::new(p.subscriptions.clone()),
            create_key: CreateKey::new(
                p.keys.clone(),
                p.subscriptions.clone(),
                p.gateway.clone(),
                p.clock.clone(),
                p.secrets.clone(),
                settings.clone(),
                converge_user.clone(),
            ),
            list_keys: ListKeys::new(p.admin_keys.clone()),
            get_key: GetKey::new(p.keys.clone()),
            revoke_key: revoke_key(),
            rotate_key: RotateKey::new(
                p.keys.clone(),
                p.subscriptions.clone(),
                p.gateway.clone(),
                p.clock.clone(),
                p.secrets.clone(),
                settings.clone(),
                converge.clone(),
                converge_user.clone(),
            ),
            update_key: update_key(),
            list_jobs: ListJobs::new(p.jobs.clone()),
            reconcile_status: ReconcileStatus::new(p.reconcile_log.clone()),
            list_users: ListUsers::new(p.user_directory.clone()),
            get_user: GetUser::new(p.user_directory.clone()),
            change_user_roles: ChangeUserRoles::new(p.user_directory.clone(), p.clock.clone()),
            set_user_status: SetUserStatusById::new(
                p.users.clone(),
                p.user_directory.clone(),
                p.clock.clone(),
            ),
            list_all_keys: ListAllKeys::new(p.admin_keys.clone()),
            admin_keys: AdminKeys::new(
                p.admin_keys.clone(),
                p.keys.clone(),
                Arc::new(revoke_key()),
                Arc::new(update_key()),
                converge.clone(),
                p.clock.clone(),
            ),
            list_all_subscriptions: ListAllSubscriptions::new(p.approvals.clone()),
            subscription_history: SubscriptionHistory::new(p.approvals.clone()),
            control_subscription: ControlSubscription::new(
                p.subscriptions.clone(),
                converge.clone(),
                converge_user.clone(),
                p.clock.clone(),
            ),
            grant_subscription: GrantSubscription::new(
                p.users.clone(),
                p.models.clone(),
                p.subscriptions.clone(),
                settings.clone(),
                p.clock.clone(),
            ),
            decide_subscriptions: DecideSubscriptions::new(
                p.subscriptions.clone(),
                p.clock.clone(),
            ),
            update_model: UpdateModel::new(p.models.clone(), p.approvals.clone(), p.clock.clone()),
            read_settings: ReadSettings::new(settings.clone()),
            save_settings: SaveSettings::new(settings.clone(), p.clock.clone()),
            list_audit: ListAudit::new(p.audit.clone()),
            authenticate_session: AuthenticateSession::new(
                p.sessions.clone(),
                p.clock.clone(),
                policy.sessions,
            ),
            end_session: EndSession::new(p.sessions.clone(), p.clock.clone()),
            dev_login: DevLogin::new(
                policy.dev_login,
                p.users.clone(),
                p.clock.clone(),
                start_session.clone(),
            ),
            begin_login: policy.oidc.as_ref().map(|oidc| {
                BeginLogin::new(
                    oidc.provider.clone(),
                    p.sessions.clone(),
                    p.clock.clone(),
                    p.secrets.clone(),
                )
            }),
            finish_login: policy.oidc.map(|oidc| {
                FinishLogin::new(
                    oidc.provider,
                    p.sessions.clone(),
                    p.identity_users.clone(),
                    p.gateway.clone(),
                    p.clock.clone(),
                    start_session,
                    oidc.mapping,
                )
            }),
            access_tokens: ManageAccessTokens::new(
                p.access_tokens.clone(),
                p.clock.clone(),
                p.secrets.clone(),
            )
            .with_settings(settings.clone()),
        }
    }
}

/// Settings the API shows or obeys.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub version: String,
    /// LiteLLM's base URL as clients should use it (shown with new keys).
    pub litellm_public_url: String,
    /// Whether the development login is on (shown in `/api/v1/config` and on the login page).
    pub dev_login: bool,
    /// Whether the session cookies carry `Secure` (off only when explicitly serving plain-HTTP localhost).
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` is believed (see [`crate::client::client_ip`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Whether responses carry `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<String>,
}

/// `Strict-Transport-Security` when the public URL is https: a year, subdomains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// One dependency checked by `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessCheck {
    pub name: &'static str,
    pub ok: bool,
    /// Why a check failed: logged, never answered (it may name hosts, ports or credentials' users).
    #[serde(skip)]
    pub detail: Option<String>,
}

/// Checks the dependencies (database, LiteLLM) for `/readyz`.
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Vec<ReadinessCheck>;
}

/// Renders the Prometheus text exposition for `/metrics`.
#[async_trait]
pub trait Metrics: Send + Sync {
    async fn render(&self) -> String;
}

/// Everything the handlers reach through `web::Data`.
pub struct ApiState {
    pub services: Services,
    pub config: ApiConfig,
    pub readiness: Arc<dyn Readiness>,
    pub metrics: Arc<dyn Metrics>,
    /// Per-address limits on logins and failed authentications.
    pub limits: ratelimit::Limits,
}

impl ApiState {
    /// Where to send the browser after ending `session`, to end the identity provider's session too: the
    /// provider's end-session URL for OIDC sessions, none otherwise.
    pub fn logout_url(&self, session: &keyport_domain::identity::Session) -> Option<String> {
        if session.origin != keyport_domain::identity::SessionOrigin::Oidc {
            return None;
        }
        self.services
            .begin_login
            .as_ref()?
            .logout_url(session.id_token_hint.clone())
    }
}

//! What the handlers reach through `web::Data`: the use cases ([`Services`]), the settings the API shows or
//! obeys ([`ApiConfig`]), the `/readyz` and `/metrics` sources and the rate limits, gathered in [`ApiState`].
//! The server builds one at start.

use crate::ratelimit;
use async_trait::async_trait;
use keyport_domain::{
    audit::*, catalog::*, identity::*, jobs::*, keys::*, reconcile::*, settings::*,
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

//! The use cases, one per file. Each is a plain struct holding the ports it needs as `Arc<dyn …>`, with
//! an `execute` method; the API and the CLI call them and hold no business rules of their own.

mod access_tokens;
mod admin_change_roles;
mod admin_control_subscription;
mod admin_decide_subscriptions;
mod admin_grant_subscription;
mod admin_keys;
mod admin_set_user_status;
mod admin_settings;
mod admin_subscriptions;
mod admin_update_model;
mod admin_users;
mod authenticate;
mod begin_login;
mod cancel_subscription;
mod converge_key;
mod converge_user;
mod create_key;
mod create_user;
mod dev_login;
mod finish_login;
mod get_key;
mod key_rules;
mod list_audit;
mod list_jobs;
mod list_keys;
mod list_models;
mod list_subscriptions;
mod provision;
mod reconcile;
mod reconcile_status;
mod revoke_key;
mod rotate_key;
mod run_jobs;
mod seal_audit;
mod sessions;
mod set_user_status;
mod subscribe;
mod sync_catalog;
mod update_key;
mod verify_audit;

pub use access_tokens::{
    CreateTokenRequest, ManageAccessTokens, TokenGrant, MAX_TOKEN_DAYS, SCOPES,
};
pub use admin_change_roles::ChangeUserRoles;
pub use admin_control_subscription::{ControlSubscription, SubscriptionAction};
pub use admin_decide_subscriptions::{
    DecideSubscriptions, Decision, DecisionOutcome, MAX_DECISION_BATCH, MAX_REASON_LEN,
};
pub use admin_grant_subscription::{GrantSubscription, GrantSubscriptionRequest};
pub use admin_keys::{AdminKeys, ListAllKeys, ListAllKeysRequest};
pub use admin_set_user_status::SetUserStatusById;
pub use admin_settings::{ReadSettings, SaveSettings};
pub use admin_subscriptions::{
    ListAllSubscriptions, ListAllSubscriptionsRequest, SubscriptionHistory,
};
pub use admin_update_model::UpdateModel;
pub use admin_users::{GetUser, ListUsers, ListUsersRequest};
pub use authenticate::Authenticate;
pub use begin_login::{BeginLogin, LoginRedirect, LOGIN_STATE_TTL};
pub use cancel_subscription::CancelSubscription;
pub use converge_key::{ConvergeKey, Converged};
pub use converge_user::{ConvergeUser, UserConverged};
pub use create_key::{CreateKey, CreateKeyRequest, CreatedKey};
pub use create_user::{CreateUser, CreateUserRequest, IssueAccessToken, IssuedToken};
pub use dev_login::DevLogin;
pub use finish_login::{Callback, FinishLogin, LoggedIn};
pub use get_key::GetKey;
pub use key_rules::{KeyPolicy, PolicySource, MAX_SUBSCRIPTIONS_PER_KEY};
pub use list_audit::{AuditCursor, AuditPage, ListAudit, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};
pub use list_jobs::{ListJobs, MAX_JOBS_LISTED};
pub use list_keys::{ListKeys, ListKeysRequest};
pub use list_models::{GetModel, ListModels};
pub use list_subscriptions::{GetSubscription, ListSubscriptions};
pub use reconcile::{
    Finding, FindingKind, Reconcile, ReconcileOptions, ReconcileProgress, ReconcileReport,
};
pub use reconcile_status::{ReconcileStatus, MAX_RUNS_LISTED};
pub use revoke_key::RevokeKey;
pub use rotate_key::RotateKey;
pub use run_jobs::{JobRunReport, RunJobs};
pub use seal_audit::{SealAudit, SealReport, SEAL_BATCH};
pub use sessions::{AuthenticateSession, EndSession, SessionCaller, StartSession};
pub use set_user_status::SetUserStatus;
pub use subscribe::Subscribe;
pub use sync_catalog::{CatalogSyncReport, SyncCatalog};
pub use update_key::{UpdateKey, UpdateKeyRequest};
pub use verify_audit::{
    AuditProblem, AuditReport, ProblemKind, VerifyAudit, VerifyOptions, VerifyProgress,
    VERIFY_RANGE,
};

#[cfg(test)]
pub(crate) mod fixtures;

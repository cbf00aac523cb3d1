//! What LiteLLM must hold for each keyport user so that a subscription's quota is one pool for every key
//! bound to it, and so that no key, not even its holder's, can reach past keyport (docs/quotas.md).
//!
//! - The LiteLLM **user** (`user_id` = keyport's user id) has the role `internal_user_viewer` (it may not
//!   create, change or delete keys), `models` = the models of its active subscriptions (a key it might mint
//!   anyway reaches nothing else), and `model_max_budget` = one spend pool per active subscription with a
//!   budget: LiteLLM charges every key of the user to it, per model.
//! - The LiteLLM **team** `keyport-<user id>`, of which the user is the one member, carries the rate pools:
//!   `model_rpm_limit`/`model_tpm_limit` per model in its metadata. Every key keyport issues belongs to it.
//! - Every **key** keyport issues may call only the inference routes in [`InferenceRoutes`].

use crate::error::FieldError;
use crate::ids::{ModelId, UserId};
use crate::limits::{BudgetDuration, Money};
use crate::subscriptions::{Subscription, SubscriptionStatus};
use std::collections::BTreeMap;

/// The LiteLLM role of every user keyport manages: inference allowed, key management refused.
pub const GATEWAY_USER_ROLE: &str = "internal_user_viewer";

/// The window LiteLLM is given for a one-off subscription budget (one without a reset period):
/// `model_max_budget` needs a window, so a one-off budget is a window of about ten years.
pub const ONE_OFF_WINDOW: &str = "3650d";
const ONE_OFF_WINDOW_DAYS: u32 = 3650;

/// The LiteLLM team that pools a user's rates: one per keyport user.
pub fn team_id_of(user: UserId) -> String {
    format!("keyport-{user}")
}

/// A spend pool: what every key of the user may spend on one model within one window, together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelBudget {
    pub max_budget: Money,
    /// The subscription's budget window, or [`ONE_OFF_WINDOW`] for a one-off budget.
    pub window: BudgetDuration,
}

/// A rate pool: what every key of the user may send to one model per minute, together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRates {
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
}

/// The whole state keyport wants LiteLLM to hold for one user: role, reachable models, spend pools (on the
/// user) and rate pools (on the user's team). Computed from the user's subscriptions; sending it twice is
/// harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess {
    pub user_id: UserId,
    pub email: Option<String>,
    pub alias: Option<String>,
    /// The models of the active subscriptions, sorted. Empty: none (LiteLLM is sent `no-default-models`,
    /// never `[]`, which it reads as every model).
    pub models: Vec<ModelId>,
    pub budgets: BTreeMap<ModelId, ModelBudget>,
    pub rates: BTreeMap<ModelId, ModelRates>,
}

impl UserAccess {
    /// What the user's subscriptions (any status; only active ones count) make of their LiteLLM user.
    pub fn of(
        user_id: UserId,
        email: Option<String>,
        alias: Option<String>,
        subscriptions: &[Subscription],
    ) -> Self {
        let mut models = Vec::new();
        let mut budgets = BTreeMap::new();
        let mut rates = BTreeMap::new();
        for s in subscriptions
            .iter()
            .filter(|s| s.user_id == user_id && s.status == SubscriptionStatus::Active)
        {
            models.push(s.model_id.clone());
            if let Some(max_budget) = s.quota.max_budget {
                let window = s
                    .quota
                    .budget_duration
                    .clone()
                    .unwrap_or_else(one_off_window);
                budgets.insert(s.model_id.clone(), ModelBudget { max_budget, window });
            }
            if s.quota.rpm_limit.is_some() || s.quota.tpm_limit.is_some() {
                rates.insert(
                    s.model_id.clone(),
                    ModelRates {
                        rpm_limit: s.quota.rpm_limit,
                        tpm_limit: s.quota.tpm_limit,
                    },
                );
            }
        }
        models.sort();
        models.dedup();
        Self {
            user_id,
            email,
            alias,
            models,
            budgets,
            rates,
        }
    }

    pub fn team_id(&self) -> String {
        team_id_of(self.user_id)
    }
}

fn one_off_window() -> BudgetDuration {
    BudgetDuration::days(ONE_OFF_WINDOW_DAYS)
}

/// A LiteLLM user as keyport reads it back (`/user/list`), to find drift.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayUserState {
    pub user_id: String,
    pub role: Option<String>,
    pub models: Vec<String>,
    /// `model_max_budget` as LiteLLM holds it: model → (budget, window). Entries LiteLLM could not read are
    /// left out.
    pub budgets: BTreeMap<String, (Money, String)>,
    pub teams: Vec<String>,
}

/// How a LiteLLM user differs from what keyport wants it to be; empty when it does not.
pub fn user_drift(wanted: &UserAccess, held: &GatewayUserState) -> Vec<String> {
    let mut out = Vec::new();
    if held.role.as_deref() != Some(GATEWAY_USER_ROLE) {
        out.push(format!(
            "role {:?} instead of {GATEWAY_USER_ROLE:?}",
            held.role.as_deref().unwrap_or("none (internal_user)")
        ));
    }
    let mut want_models: Vec<String> = wanted.models.iter().map(|m| m.to_string()).collect();
    if want_models.is_empty() {
        want_models.push(NO_MODELS.to_owned());
    }
    let mut have_models = held.models.clone();
    have_models.sort();
    have_models.dedup();
    want_models.sort();
    if have_models != want_models {
        out.push(format!("models {have_models:?} instead of {want_models:?}"));
    }
    let want_budgets: BTreeMap<String, (Money, String)> = wanted
        .budgets
        .iter()
        .map(|(m, b)| (m.to_string(), (b.max_budget, b.window.to_string())))
        .collect();
    if held.budgets != want_budgets {
        out.push(format!(
            "model budgets {:?} instead of {:?}",
            held.budgets, want_budgets
        ));
    }
    let team = wanted.team_id();
    if !held.teams.contains(&team) {
        out.push(format!("not a member of its team {team}"));
    }
    out
}

/// What LiteLLM is sent as a user's `models` when they may call none (`[]` means every model).
pub const NO_MODELS: &str = "no-default-models";

/// The routes a key keyport issues may call in LiteLLM (`allowed_routes`): an administrator's setting,
/// checked against LiteLLM's inference routes so that no setting can open a management route.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InferenceRoutes(Vec<String>);

/// LiteLLM's inference routes an administrator may allow (OpenAI-compatible, with and without `/v1`).
/// Files, batches, fine-tuning, assistants and provider pass-through are deliberately absent: they are not
/// bound to a subscription's model.
pub const INFERENCE_ROUTES: &[&str] = &[
    "/chat/completions",
    "/v1/chat/completions",
    "/completions",
    "/v1/completions",
    "/embeddings",
    "/v1/embeddings",
    "/models",
    "/v1/models",
    "/model/info",
    "/v1/model/info",
    "/responses",
    "/v1/responses",
    "/v1/messages",
    "/moderations",
    "/v1/moderations",
    "/audio/transcriptions",
    "/v1/audio/transcriptions",
    "/audio/speech",
    "/v1/audio/speech",
    "/images/generations",
    "/v1/images/generations",
    "/rerank",
    "/v1/rerank",
];

/// The routes keys get unless an administrator chose others: chat and text completions, embeddings, model
/// listing and responses.
pub const DEFAULT_INFERENCE_ROUTES: &[&str] = &[
    "/chat/completions",
    "/v1/chat/completions",
    "/completions",
    "/v1/completions",
    "/embeddings",
    "/v1/embeddings",
    "/models",
    "/v1/models",
    "/responses",
    "/v1/responses",
];

/// Longest list an administrator may set.
const MAX_ROUTES: usize = INFERENCE_ROUTES.len();

impl InferenceRoutes {
    /// Checks a list against [`INFERENCE_ROUTES`]: not empty (LiteLLM reads `[]` as no restriction), each
    /// entry one of them, no repeats. Names the first wrong entry (`allowed_routes[2]`).
    pub fn parse(routes: Vec<String>) -> Result<Self, FieldError> {
        if routes.is_empty() {
            return Err(FieldError::new(
                "allowed_routes",
                "at least one route: an empty list lets keys call every route, management included",
            ));
        }
        if routes.len() > MAX_ROUTES {
            return Err(FieldError::new(
                "allowed_routes",
                format!("at most {MAX_ROUTES} routes"),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, route) in routes.iter().enumerate() {
            if !INFERENCE_ROUTES.contains(&route.as_str()) {
                return Err(FieldError::new(
                    format!("allowed_routes[{i}]"),
                    format!(
                        "{route:?} is not one of LiteLLM's inference routes keyport allows: {}",
                        INFERENCE_ROUTES.join(", ")
                    ),
                ));
            }
            if !seen.insert(route.as_str()) {
                return Err(FieldError::new(
                    format!("allowed_routes[{i}]"),
                    format!("{route:?} is listed twice"),
                ));
            }
        }
        Ok(Self(routes))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl Default for InferenceRoutes {
    fn default() -> Self {
        Self(
            DEFAULT_INFERENCE_ROUTES
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
        )
    }
}

/// The default cap on a user's live (provisioning or active) keys.
pub const DEFAULT_MAX_LIVE_KEYS: u32 = 20;
/// The highest cap an administrator may set.
pub const MAX_LIVE_KEYS_LIMIT: u32 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SubscriptionId;
    use crate::limits::Limits;
    use chrono::Utc;
    use rust_decimal::Decimal;

    fn sub(user: UserId, model: &str, status: SubscriptionStatus, quota: Limits) -> Subscription {
        Subscription {
            id: SubscriptionId::new(),
            user_id: user,
            model_id: ModelId::parse(model).unwrap(),
            status,
            status_reason: None,
            quota,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_one_off_window_is_a_valid_duration() {
        assert_eq!(one_off_window().to_string(), ONE_OFF_WINDOW);
    }

    #[test]
    fn only_active_subscriptions_make_models_and_pools() {
        let user = UserId::new();
        let quota = Limits {
            max_budget: Some(Money::new(Decimal::from(10)).unwrap()),
            budget_duration: None,
            tpm_limit: Some(1000),
            rpm_limit: None,
        };
        let subs = vec![
            sub(user, "b-model", SubscriptionStatus::Active, quota.clone()),
            sub(
                user,
                "a-model",
                SubscriptionStatus::Active,
                Limits::UNLIMITED,
            ),
            sub(
                user,
                "c-model",
                SubscriptionStatus::Suspended,
                quota.clone(),
            ),
            sub(user, "d-model", SubscriptionStatus::Cancelled, quota),
        ];
        let access = UserAccess::of(user, None, None, &subs);
        let models: Vec<&str> = access.models.iter().map(|m| m.as_str()).collect();
        assert_eq!(models, ["a-model", "b-model"]);
        assert_eq!(access.budgets.len(), 1);
        let budget = &access.budgets[&ModelId::parse("b-model").unwrap()];
        assert_eq!(budget.window.to_string(), ONE_OFF_WINDOW);
        assert_eq!(
            access.rates[&ModelId::parse("b-model").unwrap()].tpm_limit,
            Some(1000)
        );
        assert!(!access
            .rates
            .contains_key(&ModelId::parse("a-model").unwrap()));
    }

    #[test]
    fn a_user_with_nothing_is_in_line_only_with_no_default_models_the_role_and_the_team() {
        let user = UserId::new();
        let access = UserAccess::of(user, None, None, &[]);
        let held = GatewayUserState {
            user_id: user.to_string(),
            role: Some(GATEWAY_USER_ROLE.into()),
            models: vec![NO_MODELS.into()],
            budgets: BTreeMap::new(),
            teams: vec![team_id_of(user)],
        };
        assert!(user_drift(&access, &held).is_empty());
        let wide = GatewayUserState {
            role: None,
            models: vec![],
            teams: vec![],
            ..held
        };
        let drift = user_drift(&access, &wide);
        assert_eq!(drift.len(), 3, "{drift:?}");
    }

    #[test]
    fn routes_are_checked_against_the_inference_routes() {
        assert!(InferenceRoutes::parse(vec![]).is_err());
        let err =
            InferenceRoutes::parse(vec!["/v1/chat/completions".into(), "/key/generate".into()])
                .unwrap_err();
        assert_eq!(err.field, "allowed_routes[1]");
        let err = InferenceRoutes::parse(vec!["llm_api_routes".into()]).unwrap_err();
        assert_eq!(err.field, "allowed_routes[0]");
        let err =
            InferenceRoutes::parse(vec!["/v1/models".into(), "/v1/models".into()]).unwrap_err();
        assert!(err.message.contains("twice"));
        assert!(InferenceRoutes::parse(vec!["/v1/embeddings".into()]).is_ok());
        for route in DEFAULT_INFERENCE_ROUTES {
            assert!(INFERENCE_ROUTES.contains(route));
        }
    }
}

//! The self-service settings: what an administrator allows for subscriptions and keys, the one policy the
//! subscription and key use cases obey (they read it through [`crate::settings::SettingsSource`]).

use crate::access::{InferenceRoutes, DEFAULT_MAX_LIVE_KEYS, MAX_LIVE_KEYS_LIMIT};
use crate::limits::Limits;
use crate::FieldError;
use chrono::Duration;

/// The longest lifetime an administrator may set for self-service keys, in days (100 years).
pub const MAX_LIFETIME_DAYS: u32 = 36_500;

/// What an administrator allows for self-service subscriptions and keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfServiceSettings {
    /// A subscription a user makes gets its model's default quota, but never more than this.
    pub subscription_max_quota: Limits,
    /// The limits the key forms prefill (the API itself takes unset limits from the tightest quota).
    pub key_default_limits: Limits,
    /// Caps on every key's limits, on top of its subscriptions' quotas.
    pub key_max_limits: Limits,
    /// Keys created without an expiry get this lifetime.
    pub key_default_lifetime_days: Option<u32>,
    /// The longest a key may live; keys without an expiry get it when there is no default.
    pub key_max_lifetime_days: Option<u32>,
    /// The only LiteLLM routes a key may call (inference routes only).
    pub allowed_routes: InferenceRoutes,
    /// How many live (provisioning or active) keys a user may hold.
    pub max_live_keys_per_user: u32,
    /// The longest a personal access token may live, in days; `None`: up to the built-in 366 days, or
    /// without expiry.
    pub token_max_lifetime_days: Option<u32>,
}

impl Default for SelfServiceSettings {
    fn default() -> Self {
        Self {
            subscription_max_quota: Limits::default(),
            key_default_limits: Limits::default(),
            key_max_limits: Limits::default(),
            key_default_lifetime_days: None,
            key_max_lifetime_days: None,
            allowed_routes: InferenceRoutes::default(),
            max_live_keys_per_user: DEFAULT_MAX_LIVE_KEYS,
            token_max_lifetime_days: None,
        }
    }
}

impl SelfServiceSettings {
    /// Checks the settings, naming each wrong field (`key_max_limits.tpm_limit`, …).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (name, limits) in [
            ("subscription_max_quota", &self.subscription_max_quota),
            ("key_default_limits", &self.key_default_limits),
            ("key_max_limits", &self.key_max_limits),
        ] {
            if let Err(e) = limits.validate() {
                errors.extend(e.into_iter().map(|e| e.nested(name)));
            }
        }
        if errors.is_empty() {
            // An unset default prefills nothing (the key takes the tightest quota): only set ones count.
            errors.extend(
                self.key_default_limits
                    .clone()
                    .or(&self.key_max_limits)
                    .exceeding(&self.key_max_limits, "the maximum for keys")
                    .into_iter()
                    .map(|e| e.nested("key_default_limits")),
            );
        }
        for (name, days) in [
            ("key_default_lifetime_days", self.key_default_lifetime_days),
            ("key_max_lifetime_days", self.key_max_lifetime_days),
        ] {
            if days.is_some_and(|d| d == 0 || d > MAX_LIFETIME_DAYS) {
                errors.push(FieldError::new(
                    name,
                    format!("between 1 and {MAX_LIFETIME_DAYS} days, or absent for none"),
                ));
            }
        }
        if self
            .token_max_lifetime_days
            .is_some_and(|d| d == 0 || d > crate::identity::MAX_TOKEN_DAYS)
        {
            errors.push(FieldError::new(
                "token_max_lifetime_days",
                format!(
                    "between 1 and {} days, or absent for no maximum",
                    crate::identity::MAX_TOKEN_DAYS
                ),
            ));
        }
        if !(1..=MAX_LIVE_KEYS_LIMIT).contains(&self.max_live_keys_per_user) {
            errors.push(FieldError::new(
                "max_live_keys_per_user",
                format!("between 1 and {MAX_LIVE_KEYS_LIMIT}"),
            ));
        }
        if let (Some(default), Some(max)) =
            (self.key_default_lifetime_days, self.key_max_lifetime_days)
        {
            if default > max {
                errors.push(FieldError::new(
                    "key_default_lifetime_days",
                    format!("{default} days is longer than the maximum of {max} days"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn key_default_lifetime(&self) -> Option<Duration> {
        self.key_default_lifetime_days
            .map(|d| Duration::days(i64::from(d)))
    }

    pub fn key_max_lifetime(&self) -> Option<Duration> {
        self.key_max_lifetime_days
            .map(|d| Duration::days(i64::from(d)))
    }

    /// The lifetime of a key created without an expiry: the default (within the maximum), or else the
    /// maximum; `None`: it never expires.
    pub fn key_lifetime_without_expiry(&self) -> Option<Duration> {
        match (self.key_default_lifetime(), self.key_max_lifetime()) {
            (Some(default), Some(max)) => Some(default.min(max)),
            (default, max) => default.or(max),
        }
    }

    /// The quota a self-service subscription gets from a model's default: the default where it is within
    /// `subscription_max_quota`, the maximum where it is not.
    pub fn cap_subscription_quota(&self, default: &Limits) -> Limits {
        let cap = &self.subscription_max_quota;
        let tightest = Limits::tightest([default, cap]);
        if tightest.exceeding(cap, "").is_empty() {
            tightest
        } else {
            // A budget that resets more often than the cap's window can add up to more than the cap.
            Limits {
                max_budget: cap.max_budget,
                budget_duration: cap.budget_duration.clone(),
                ..tightest
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{BudgetDuration, Money};
    use rust_decimal::Decimal;

    fn budget(amount: i64, window: &str) -> Limits {
        Limits {
            max_budget: Some(Money::new(Decimal::from(amount)).unwrap()),
            budget_duration: Some(BudgetDuration::parse(window).unwrap()),
            ..Limits::default()
        }
    }

    #[test]
    fn settings_name_each_wrong_field() {
        let settings = SelfServiceSettings {
            key_default_limits: Limits {
                rpm_limit: Some(100),
                ..Limits::default()
            },
            key_max_limits: Limits {
                rpm_limit: Some(10),
                tpm_limit: Some(0),
                ..Limits::default()
            },
            key_default_lifetime_days: Some(90),
            key_max_lifetime_days: Some(30),
            ..SelfServiceSettings::default()
        };
        let fields: Vec<_> = settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["key_max_limits.tpm_limit", "key_default_lifetime_days"]
        );
        let settings = SelfServiceSettings {
            key_max_limits: Limits {
                rpm_limit: Some(10),
                ..Limits::default()
            },
            key_default_limits: Limits {
                rpm_limit: Some(100),
                ..Limits::default()
            },
            key_max_lifetime_days: Some(0),
            ..SelfServiceSettings::default()
        };
        let fields: Vec<_> = settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["key_default_limits.rpm_limit", "key_max_lifetime_days"]
        );
        assert!(SelfServiceSettings::default().validate().is_ok());
    }

    #[test]
    fn the_cap_on_live_keys_is_between_one_and_a_thousand() {
        for refused in [0, MAX_LIVE_KEYS_LIMIT + 1] {
            let settings = SelfServiceSettings {
                max_live_keys_per_user: refused,
                ..SelfServiceSettings::default()
            };
            let errors = settings.validate().unwrap_err();
            let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["max_live_keys_per_user"], "{refused}");
        }
        assert_eq!(MAX_LIVE_KEYS_LIMIT + 1, 1001);
        for allowed in [1, MAX_LIVE_KEYS_LIMIT] {
            let settings = SelfServiceSettings {
                max_live_keys_per_user: allowed,
                ..SelfServiceSettings::default()
            };
            assert!(settings.validate().is_ok(), "{allowed}");
        }
        assert_eq!(
            SelfServiceSettings::default().max_live_keys_per_user,
            DEFAULT_MAX_LIVE_KEYS
        );
    }

    #[test]
    fn the_default_settings_allow_the_default_number_of_live_keys_and_routes() {
        let settings = SelfServiceSettings::default();
        assert_eq!(settings.max_live_keys_per_user, DEFAULT_MAX_LIVE_KEYS);
        assert!(
            settings.max_live_keys_per_user > 0,
            "a cap of 0 would refuse every key"
        );
        assert_eq!(settings.allowed_routes, InferenceRoutes::default());
    }

    #[test]
    fn a_key_without_an_expiry_gets_the_default_lifetime_within_the_maximum() {
        let lifetime = |default, max| {
            SelfServiceSettings {
                key_default_lifetime_days: default,
                key_max_lifetime_days: max,
                ..SelfServiceSettings::default()
            }
            .key_lifetime_without_expiry()
        };
        assert_eq!(lifetime(None, None), None);
        assert_eq!(lifetime(Some(30), None), Some(Duration::days(30)));
        assert_eq!(lifetime(None, Some(90)), Some(Duration::days(90)));
        assert_eq!(lifetime(Some(30), Some(90)), Some(Duration::days(30)));
        assert_eq!(lifetime(Some(90), Some(30)), Some(Duration::days(30)));
    }

    #[test]
    fn a_subscription_quota_is_the_model_default_within_the_cap() {
        let settings = SelfServiceSettings {
            subscription_max_quota: Limits {
                tpm_limit: Some(1_000),
                ..budget(10, "30d")
            },
            ..SelfServiceSettings::default()
        };
        let within = Limits {
            rpm_limit: Some(5),
            ..budget(5, "30d")
        };
        assert_eq!(
            settings.cap_subscription_quota(&within),
            Limits {
                tpm_limit: Some(1_000),
                ..within.clone()
            }
        );
        assert_eq!(
            settings.cap_subscription_quota(&Limits::UNLIMITED),
            settings.subscription_max_quota
        );
        let daily = budget(5, "1d");
        let capped = settings.cap_subscription_quota(&daily);
        assert_eq!(capped.max_budget, budget(10, "30d").max_budget);
        assert_eq!(capped.budget_duration, budget(10, "30d").budget_duration);
        assert_eq!(
            SelfServiceSettings::default().cap_subscription_quota(&daily),
            daily,
            "no cap, no change"
        );
    }
}

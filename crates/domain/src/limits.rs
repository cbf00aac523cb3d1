//! Money, budget windows and the limits a subscription grants and a key is given. `None` always means
//! "unlimited"; translating that into what LiteLLM honours is the gateway adapter's job.

use crate::FieldError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An amount of US dollars, never negative. Stored as `numeric`, never as a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);
    /// The largest amount keyport accepts (LiteLLM stores budgets as double precision).
    pub const MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
    /// Micro-dollars are the finest budget keyport accepts.
    pub const MAX_DECIMALS: u32 = 6;

    pub fn new(amount: Decimal) -> Result<Self, FieldError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(FieldError::new("max_budget", "must not be negative"));
        }
        if amount > Self::MAX {
            return Err(FieldError::new(
                "max_budget",
                "must not exceed 1000000000 (USD)",
            ));
        }
        Ok(Self(amount.normalize()))
    }

    /// A budget someone sets: like [`Money::new`], and at most [`Money::MAX_DECIMALS`] decimal places (spend
    /// that LiteLLM reports may be finer; a budget is not).
    pub fn budget(amount: Decimal) -> Result<Self, FieldError> {
        if amount.normalize().scale() > Self::MAX_DECIMALS {
            return Err(FieldError::new(
                "max_budget",
                format!("use at most {} decimal places", Self::MAX_DECIMALS),
            ));
        }
        Self::new(amount)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Money {
    type Error = FieldError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Money> for Decimal {
    fn from(value: Money) -> Self {
        value.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A budget reset period in LiteLLM's syntax: `<n><unit>` with unit `s`, `m`, `h`, `d`, `w` or `mo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BudgetDuration {
    count: u32,
    unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DurationUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl DurationUnit {
    fn suffix(self) -> &'static str {
        match self {
            Self::Second => "s",
            Self::Minute => "m",
            Self::Hour => "h",
            Self::Day => "d",
            Self::Week => "w",
            Self::Month => "mo",
        }
    }

    fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 30 * 86_400,
        }
    }
}

impl BudgetDuration {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "budget_duration",
                "use a positive whole number and a unit: s, m, h, d, w or mo (for example 30d or 1mo)",
            )
        };
        let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => value.split_at(at),
            None => return Err(invalid()),
        };
        // Exactly the documented form (`^([1-9][0-9]{0,4}|100000)(s|m|h|d|w|mo)$`): no spaces, no leading zero.
        if digits.starts_with('0') {
            return Err(invalid());
        }
        let unit = match unit {
            "s" => DurationUnit::Second,
            "m" => DurationUnit::Minute,
            "h" => DurationUnit::Hour,
            "d" => DurationUnit::Day,
            "w" => DurationUnit::Week,
            "mo" => DurationUnit::Month,
            _ => return Err(invalid()),
        };
        let count: u32 = digits.parse().map_err(|_| invalid())?;
        if count == 0 || count > 100_000 {
            return Err(invalid());
        }
        Ok(Self { count, unit })
    }

    /// A window of `count` days (at least one).
    pub fn days(count: u32) -> Self {
        Self {
            count: count.clamp(1, 100_000),
            unit: DurationUnit::Day,
        }
    }

    /// The window's nominal length (a month counts as 30 days), for comparing two durations.
    pub fn approx_seconds(&self) -> u64 {
        u64::from(self.count) * self.unit.seconds()
    }
}

impl FromStr for BudgetDuration {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for BudgetDuration {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BudgetDuration> for String {
    fn from(value: BudgetDuration) -> Self {
        value.to_string()
    }
}

impl fmt::Display for BudgetDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.suffix())
    }
}

/// Spending and rate limits. Each `None` means unlimited. Used both for a subscription's quota and for a
/// key's own limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_budget: Option<Money>,
    pub budget_duration: Option<BudgetDuration>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
}

/// Largest rate limit keyport accepts (LiteLLM stores them as 32-bit integers).
pub const MAX_RATE_LIMIT: u64 = i32::MAX as u64 - 1;

impl Limits {
    pub const UNLIMITED: Limits = Limits {
        max_budget: None,
        budget_duration: None,
        tpm_limit: None,
        rpm_limit: None,
    };

    /// Checks internal consistency: rates in range, a budget window only with a budget.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, value) in [("tpm_limit", self.tpm_limit), ("rpm_limit", self.rpm_limit)] {
            if let Some(v) = value {
                if v == 0 || v > MAX_RATE_LIMIT {
                    errors.push(FieldError::new(
                        field,
                        format!("must be between 1 and {MAX_RATE_LIMIT}, or absent for unlimited"),
                    ));
                }
            }
        }
        if self.budget_duration.is_some() && self.max_budget.is_none() {
            errors.push(FieldError::new(
                "budget_duration",
                "a budget window needs a max_budget",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Fills every limit left unset from `defaults`.
    pub fn or(self, defaults: &Limits) -> Limits {
        Limits {
            max_budget: self.max_budget.or(defaults.max_budget),
            budget_duration: self
                .budget_duration
                .or_else(|| defaults.budget_duration.clone()),
            tpm_limit: self.tpm_limit.or(defaults.tpm_limit),
            rpm_limit: self.rpm_limit.or(defaults.rpm_limit),
        }
    }

    /// The tightest of several quotas: the least budget (with its window), the least rates.
    pub fn tightest<'a>(quotas: impl IntoIterator<Item = &'a Limits>) -> Limits {
        let mut out = Limits::UNLIMITED;
        for quota in quotas {
            if let Some(budget) = quota.max_budget {
                if out.max_budget.is_none_or(|current| budget < current) {
                    out.max_budget = Some(budget);
                    out.budget_duration = quota.budget_duration.clone();
                }
            }
            out.tpm_limit = min_opt(out.tpm_limit, quota.tpm_limit);
            out.rpm_limit = min_opt(out.rpm_limit, quota.rpm_limit);
        }
        out
    }

    /// The fields in which `self` allows more than `quota`, each with a message naming the quota.
    pub fn exceeding(&self, quota: &Limits, quota_name: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(cap) = quota.max_budget {
            match self.max_budget {
                None => errors.push(FieldError::new(
                    "max_budget",
                    format!("{quota_name} caps the budget at {cap} USD; an unlimited budget is not allowed"),
                )),
                Some(b) if b > cap => errors.push(FieldError::new(
                    "max_budget",
                    format!("{b} USD is above the {cap} USD that {quota_name} allows"),
                )),
                Some(_) => {}
            }
            match (&quota.budget_duration, &self.budget_duration, self.max_budget) {
                // A key whose budget resets more often than the quota's window could spend its budget
                // several times within one window of the quota.
                (Some(window), Some(mine), Some(budget)) if mine.approx_seconds() < window.approx_seconds() => {
                    let resets = window.approx_seconds().div_ceil(mine.approx_seconds());
                    let per_window = budget.amount() * Decimal::from(resets);
                    if per_window > cap.amount() {
                        errors.push(FieldError::new(
                            "max_budget",
                            format!("{budget} USD every {mine} adds up to {per_window} USD in the {window} window of {quota_name}, above its {cap} USD"),
                        ));
                    }
                }
                // A lifetime budget must not be turned into a recurring one.
                (None, Some(mine), _) => errors.push(FieldError::new(
                    "budget_duration",
                    format!("{quota_name} is a one-off budget; the key's budget cannot reset every {mine}"),
                )),
                _ => {}
            }
        }
        for (field, mine, cap) in [
            ("tpm_limit", self.tpm_limit, quota.tpm_limit),
            ("rpm_limit", self.rpm_limit, quota.rpm_limit),
        ] {
            if let Some(cap) = cap {
                match mine {
                    None => errors.push(FieldError::new(
                        field,
                        format!("{quota_name} caps this at {cap}; unlimited is not allowed"),
                    )),
                    Some(v) if v > cap => errors.push(FieldError::new(
                        field,
                        format!("{v} is above the {cap} that {quota_name} allows"),
                    )),
                    Some(_) => {}
                }
            }
        }
        errors
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    use crate::testing::money;

    #[test]
    fn budget_durations_parse_litellm_syntax_and_reject_the_rest() {
        for ok in ["1s", "30m", "1h", "24h", "7d", "2w", "1mo"] {
            assert_eq!(BudgetDuration::parse(ok).unwrap().to_string(), ok);
        }
        for bad in [
            "",
            "0d",
            "d",
            "5",
            "1y",
            "-1d",
            "1 d",
            "1D",
            "99999999d",
            " 30d",
            "030d",
        ] {
            assert!(
                BudgetDuration::parse(bad).is_err(),
                "{bad} should be refused"
            );
        }
        assert!(
            BudgetDuration::parse("1mo").unwrap().approx_seconds()
                > BudgetDuration::parse("4w").unwrap().approx_seconds()
        );
    }

    #[test]
    fn money_is_never_negative() {
        assert!(Money::new(Decimal::from(-1)).is_err());
        assert_eq!(money("0"), Money::ZERO);
        assert!(Money::new(Decimal::from(2_000_000_000i64)).is_err());
        assert!(Money::budget("0.000001".parse().unwrap()).is_ok());
        assert!(Money::budget("0.0000001".parse().unwrap()).is_err());
        assert!(
            Money::new("0.0000001".parse().unwrap()).is_ok(),
            "spend may be finer than a budget"
        );
        assert_eq!(
            Money::new("1.500000".parse().unwrap()).unwrap().to_string(),
            "1.5"
        );
    }

    #[test]
    fn exceeding_names_each_field_above_the_quota() {
        let quota = Limits {
            max_budget: Some(money("10")),
            budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
            tpm_limit: Some(1000),
            rpm_limit: None,
        };
        let within = Limits {
            max_budget: Some(money("2")),
            budget_duration: Some(BudgetDuration::parse("7d").unwrap()),
            tpm_limit: Some(1000),
            rpm_limit: Some(5),
        };
        assert!(within.exceeding(&quota, "q").is_empty());
        let above = Limits {
            max_budget: Some(money("11")),
            budget_duration: Some(BudgetDuration::parse("1mo").unwrap()),
            tpm_limit: None,
            rpm_limit: Some(1),
        };
        let fields: Vec<_> = above
            .exceeding(&quota, "q")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["max_budget", "tpm_limit"]);
        let lifetime = Limits {
            max_budget: Some(money("10")),
            ..Limits::default()
        };
        assert!(lifetime
            .exceeding(
                &Limits {
                    max_budget: Some(money("10")),
                    ..Limits::default()
                },
                "q"
            )
            .is_empty());
    }

    #[test]
    fn a_budget_that_resets_more_often_is_measured_over_the_quota_window() {
        let quota = Limits {
            max_budget: Some(money("10")),
            budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
            ..Limits::default()
        };
        let daily = |b: &str| Limits {
            max_budget: Some(money(b)),
            budget_duration: Some(BudgetDuration::parse("1d").unwrap()),
            ..Limits::default()
        };
        assert_eq!(
            daily("1").exceeding(&quota, "q")[0].field,
            "max_budget",
            "1 USD a day is 30 USD a month"
        );
        let weekly = Limits {
            max_budget: Some(money("2")),
            budget_duration: Some(BudgetDuration::parse("7d").unwrap()),
            ..Limits::default()
        };
        assert!(
            weekly.exceeding(&quota, "q").is_empty(),
            "2 USD a week is at most 10 USD in 30 days"
        );
        let one_off = Limits {
            max_budget: Some(money("10")),
            ..Limits::default()
        };
        assert_eq!(
            daily("1").exceeding(&one_off, "q")[0].field,
            "budget_duration"
        );
        assert!(Limits {
            max_budget: Some(money("3")),
            ..Limits::default()
        }
        .exceeding(&quota, "q")
        .is_empty());
    }

    #[test]
    fn tightest_takes_the_least_of_each_limit() {
        let a = Limits {
            max_budget: Some(money("10")),
            budget_duration: None,
            tpm_limit: Some(5),
            rpm_limit: None,
        };
        let b = Limits {
            max_budget: Some(money("3")),
            budget_duration: Some(BudgetDuration::parse("1d").unwrap()),
            tpm_limit: None,
            rpm_limit: Some(7),
        };
        let t = Limits::tightest([&a, &b]);
        assert_eq!(t.max_budget, Some(money("3")));
        assert_eq!(t.budget_duration.unwrap().to_string(), "1d");
        assert_eq!(t.tpm_limit, Some(5));
        assert_eq!(t.rpm_limit, Some(7));
    }
}

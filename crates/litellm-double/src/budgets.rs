//! A user's per-model spend pools (`model_max_budget`), as LiteLLM 1.108.7's `model_max_budget_limiter`
//! keeps them: one counter per (user, budget model, period) that every key of the user is charged to after
//! each successful request; its window is rolling (it starts at the first charge and ends one period later,
//! `_get_or_set_budget_start_time`), and a request is refused once the window's spend reaches the budget
//! (`current_spend >= max_budget`). An entry without a period (`{"m": 10}`) or with an unreadable one is
//! ignored (`_usable_budget_config`). The model is matched as sent or without its `provider/` prefix
//! (`_budget_model_candidates`).

use crate::duration;
use crate::pyfmt;
use crate::state::{BudgetWindow, Store};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// A usable entry: the budget (`budget_limit`/`max_budget`, may be absent) and its period
/// (`time_period`/`budget_duration`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub max_budget: Option<f64>,
    pub period: String,
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `BudgetConfig` read the way `_usable_budget_config` does; `None` when it cannot be enforced.
pub fn usable(raw: &Value) -> Option<Entry> {
    let config = raw.as_object()?;
    let period = config
        .get("time_period")
        .or_else(|| config.get("budget_duration"))?
        .as_str()?
        .to_owned();
    duration::parse(&period).ok().filter(|s| s.is_positive())?;
    let max_budget = number(
        config
            .get("budget_limit")
            .or_else(|| config.get("max_budget")),
    );
    Some(Entry { max_budget, period })
}

/// The entry that governs `model` (`resolve_model_budget`), with the name it is configured under.
pub fn resolve(model: &str, budgets: &Map<String, Value>) -> Option<(String, Entry)> {
    let bare = model.rsplit('/').next().unwrap_or(model);
    [model, bare]
        .into_iter()
        .find_map(|candidate| Some((candidate.to_owned(), usable(budgets.get(candidate)?)?)))
}

fn window_key(user_id: &str, budget_model: &str, period: &str) -> (String, String, String) {
    (
        user_id.to_owned(),
        budget_model.to_owned(),
        period.to_owned(),
    )
}

/// The spend of a pool's open window at `now` (0 once the window has ended).
pub fn current_spend(
    store: &Store,
    user_id: &str,
    budget_model: &str,
    period: &str,
    now: DateTime<Utc>,
) -> (f64, Option<BudgetWindow>) {
    match store
        .model_budget_windows
        .get(&window_key(user_id, budget_model, period))
    {
        Some(w) if now < w.ends => (w.spend, Some(*w)),
        _ => (0.0, None),
    }
}

/// The refusal of a request on `model` when the user's pool for it is spent; `None` when it may go on.
pub fn exceeded(
    store: &Store,
    user_id: &str,
    budgets: &Map<String, Value>,
    model: &str,
    now: DateTime<Utc>,
) -> Option<(f64, f64)> {
    let (budget_model, entry) = resolve(model, budgets)?;
    let max = entry.max_budget.filter(|m| *m >= 0.0)?;
    let (spend, _) = current_spend(store, user_id, &budget_model, &entry.period, now);
    (spend >= max).then_some((spend, max))
}

/// Charges a successful request's cost to the user's pool for `model` (`async_log_success_event`).
pub fn charge(
    store: &mut Store,
    user_id: &str,
    budgets: &Map<String, Value>,
    model: &str,
    cost: f64,
    now: DateTime<Utc>,
) {
    let Some((budget_model, entry)) = resolve(model, budgets) else {
        return;
    };
    let Ok(span) = duration::parse(&entry.period) else {
        return;
    };
    let window = store
        .model_budget_windows
        .entry(window_key(user_id, &budget_model, &entry.period))
        .or_insert(BudgetWindow {
            started: now,
            ends: span.after(now),
            spend: 0.0,
        });
    if now >= window.ends {
        *window = BudgetWindow {
            started: now,
            ends: span.after(now),
            spend: 0.0,
        };
    }
    window.spend += cost;
}

/// `model_max_budget_usage` of `/user/info` (`build_model_max_budget_usage`): per usable entry, the open
/// window's spend (rounded to 4 places), the budget, the period and when the window ends (`null` when none
/// is open).
pub fn usage(
    store: &Store,
    user_id: &str,
    budgets: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Value {
    let mut out = Map::new();
    for (model, raw) in budgets {
        let Some(entry) = usable(raw) else {
            continue;
        };
        let (spend, window) = current_spend(store, user_id, model, &entry.period, now);
        out.insert(
            model.clone(),
            json!({
                "current_spend": (spend * 10_000.0).round() / 10_000.0,
                "budget_limit": entry.max_budget,
                "time_period": entry.period,
                "budget_reset_at": window.map(|w| pyfmt::iso_offset(w.ends)),
            }),
        );
    }
    Value::Object(out)
}

/// `_USER_MODEL_BUDGET_ADAPTER` (`dict[str, float | BudgetConfig]`): the text of the refusal of a value it
/// cannot read, or `None`.
pub fn shape_problem(value: &Value) -> Option<String> {
    let Value::Object(entries) = value else {
        return Some("1 validation error for dict[str,union[float,BudgetConfig]]\n  Input should be a valid dictionary".to_owned());
    };
    entries.iter().find_map(|(model, v)| match v {
        Value::Number(_) | Value::Object(_) => None,
        Value::String(s) if s.trim().parse::<f64>().is_ok() => None,
        _ => Some(format!(
            "1 validation error for dict[str,union[float,BudgetConfig]]\n{model}\n  Input should be a valid number or a valid dictionary"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_are_usable_and_a_bare_number_is_not() {
        let budgets = json!({
            "a": {"budget_limit": 10, "time_period": "30d"},
            "b": {"max_budget": "2.5", "budget_duration": "1d"},
            "c": 5,
            "d": {"budget_limit": 1},
        });
        let budgets = budgets.as_object().cloned().unwrap_or_default();
        assert_eq!(
            resolve("a", &budgets).map(|(_, e)| e.max_budget),
            Some(Some(10.0))
        );
        assert_eq!(
            resolve("openai/b", &budgets).map(|(m, e)| (m, e.period)),
            Some(("b".to_owned(), "1d".to_owned()))
        );
        assert_eq!(resolve("c", &budgets), None);
        assert_eq!(resolve("d", &budgets), None);
    }
}

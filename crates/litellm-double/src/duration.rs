//! LiteLLM's duration strings (`duration`, `budget_duration`; docs/litellm-contract.md#durations-and-money),
//! parsed the way `duration_in_seconds` does: a leading number and an optional unit, the rest ignored.

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Timelike, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

/// A parsed duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub count: u32,
    pub unit: Unit,
}

/// Why a duration string was refused, with LiteLLM's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// No leading number: `Invalid duration format`.
    Format,
    /// A number with an unknown unit: `Unsupported duration unit, passed duration: <value>`.
    Unit(String),
}

impl DurationError {
    pub fn message(&self) -> String {
        match self {
            Self::Format => "Invalid duration format".to_owned(),
            Self::Unit(value) => format!("Unsupported duration unit, passed duration: {value}"),
        }
    }
}

/// Parses `30d`, `1mo`, `3600s` and the words `hourly`, `daily`, `weekly`, `monthly`.
pub fn parse(value: &str) -> Result<Span, DurationError> {
    let value = match value {
        "hourly" => "1h",
        "daily" => "24h",
        "weekly" => "7d",
        "monthly" => "30d",
        other => other,
    };
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    if digits_end == 0 {
        return Err(DurationError::Format);
    }
    let count: u32 = value[..digits_end]
        .parse()
        .map_err(|_| DurationError::Format)?;
    let rest = &value[digits_end..];
    let unit = if rest.starts_with("mo") {
        Unit::Month
    } else {
        match rest.chars().next() {
            Some('s') => Unit::Second,
            Some('m') => Unit::Minute,
            Some('h') => Unit::Hour,
            Some('d') => Unit::Day,
            Some('w') => Unit::Week,
            _ => return Err(DurationError::Unit(value.to_owned())),
        }
    };
    Ok(Span { count, unit })
}

impl Span {
    /// `now + span`, months on the calendar.
    pub fn after(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let n = i64::from(self.count);
        match self.unit {
            Unit::Second => now + Duration::seconds(n),
            Unit::Minute => now + Duration::minutes(n),
            Unit::Hour => now + Duration::hours(n),
            Unit::Day => now + Duration::days(n),
            Unit::Week => now + Duration::weeks(n),
            Unit::Month => now
                .checked_add_months(Months::new(self.count))
                .unwrap_or(now + Duration::days(30 * n)),
        }
    }

    pub fn is_positive(self) -> bool {
        self.count > 0
    }

    /// When a budget with this window next resets, snapped like LiteLLM does in UTC: `1mo`/`30d` to the 1st
    /// of the next month, `7d`/`1w` to the next Monday, `1d`/`24h` to the next midnight, `1h` to the next full
    /// hour; anything else is simply `now + span`.
    pub fn next_reset(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let midnight = |at: DateTime<Utc>| {
            Utc.with_ymd_and_hms(at.year(), at.month(), at.day(), 0, 0, 0)
                .single()
                .unwrap_or(at)
        };
        match (self.unit, self.count) {
            (Unit::Month, 1) | (Unit::Day, 30) => {
                let first = Utc
                    .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                    .single()
                    .unwrap_or(now);
                first.checked_add_months(Months::new(1)).unwrap_or(now)
            }
            (Unit::Day, 7) | (Unit::Week, 1) => {
                let days = 7 - i64::from(now.weekday().num_days_from_monday());
                midnight(now) + Duration::days(days)
            }
            (Unit::Day, 1) | (Unit::Hour, 24) => midnight(now) + Duration::days(1),
            (Unit::Hour, 1) => {
                let hour = now
                    .with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(now);
                hour + Duration::hours(1)
            }
            _ => self.after(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_duration_in_seconds() {
        assert_eq!(
            parse("30d"),
            Ok(Span {
                count: 30,
                unit: Unit::Day
            })
        );
        assert_eq!(
            parse("1mo"),
            Ok(Span {
                count: 1,
                unit: Unit::Month
            })
        );
        assert_eq!(parse("daily").map(|s| s.unit), Ok(Unit::Hour));
        assert_eq!(parse("abc"), Err(DurationError::Format));
        assert_eq!(parse("1y"), Err(DurationError::Unit("1y".to_owned())));
        assert_eq!(parse("3600"), Err(DurationError::Unit("3600".to_owned())));
        assert_eq!(parse("0d").map(Span::is_positive), Ok(false));
    }
}

//! How Python prints things. LiteLLM builds many of its error messages with `str()`/`repr()` of Python
//! values, so the double reproduces those renderings exactly: floats (`1e-05`, `10.0`), strings
//! (`'txt'` or `"it's"`), `{'error': …}` dicts and `datetime` objects.

use chrono::{DateTime, Utc};

/// `repr(float)`: the shortest round-trip digits, positional for exponents in `-4..16`, otherwise
/// scientific with a signed two-digit exponent.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits too, e.g. `1.5e-5`.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
        } else {
            let point = point as usize;
            if digits.len() <= point {
                format!("{}{}.0", digits, "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

/// `repr(str)`: single quotes, unless the text contains `'` and no `"`.
pub fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str({'error': text})`, the message of every `HTTPException(detail={"error": …})` that LiteLLM passes
/// through `handle_exception_on_proxy`.
pub fn error_dict_repr(text: &str) -> String {
    format!("{{'error': {}}}", str_repr(text))
}

/// `str(datetime)` of an aware UTC datetime: `2026-01-01 00:00:00+00:00`, microseconds only when non-zero.
pub fn datetime_str(at: DateTime<Utc>) -> String {
    if at.timestamp_subsec_micros() == 0 {
        at.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
    }
}

/// `datetime.isoformat()` as FastAPI writes it for plain dict answers (`…+00:00`).
pub fn iso_offset(at: DateTime<Utc>) -> String {
    if at.timestamp_subsec_micros() == 0 {
        at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// How pydantic serialises an aware UTC datetime in a response model (`…Z`).
pub fn iso_zulu(at: DateTime<Utc>) -> String {
    if at.timestamp_subsec_micros() == 0 {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// LiteLLM's masking of a secret in messages: the first 4 and last 4 characters around `****`, or only
/// `****` for 8 characters or fewer.
pub fn mask_secret(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 8 {
        return "****".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// `RouteChecks._mask_user_id`: the first 6 and last 2 characters, stars between.
pub fn mask_user_id(user_id: &str) -> String {
    let chars: Vec<char> = user_id.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (-1.0, "-1.0"),
            (10.0, "10.0"),
            (0.5, "0.5"),
            (1e-05, "1e-05"),
            (5e-05, "5e-05"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1.5e-7, "1.5e-07"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0, "0.0"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value}");
        }
    }

    #[test]
    fn strings_pick_their_quotes_like_python() {
        assert_eq!(str_repr("No keys found"), "'No keys found'");
        assert_eq!(str_repr("Invalid 'x'"), "\"Invalid 'x'\"");
        assert_eq!(str_repr("it's \"both\""), "'it\\'s \"both\"'");
        assert_eq!(
            error_dict_repr("No keys found"),
            "{'error': 'No keys found'}"
        );
    }

    #[test]
    fn datetimes_print_like_python() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(datetime_str(at), "2026-01-01 00:00:00+00:00");
        let at = at + chrono::Duration::microseconds(123_456);
        assert_eq!(datetime_str(at), "2026-01-01 00:00:00.123456+00:00");
        assert_eq!(iso_zulu(at), "2026-01-01T00:00:00.123456Z");
        assert_eq!(iso_offset(at), "2026-01-01T00:00:00.123456+00:00");
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_secret("abcdefghijklmnopqrstuvwxyz"), "abcd****wxyz");
        assert_eq!(mask_secret("abcdefgh"), "****");
        assert_eq!(mask_user_id("81ce69aaaaaaaaa8a8"), "81ce69**********a8");
    }
}

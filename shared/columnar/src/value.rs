//! How one JSON value becomes one typed value: the rules, each a small pure function.
//!
//! | column | takes | e.g. |
//! |---|---|---|
//! | `boolean` | `true` / `false` | `true` |
//! | `tinyint` … `bigint` | an integer literal within the type's range | `42`, `-7` |
//! | `float`, `double` | any JSON number | `1.5`, `2e-3` |
//! | `decimal(p,s)` | a number or a string holding one, at most `s` decimals and `p` digits | `12.30`, `"12.3"` |
//! | `string` | a string as itself; any other value as its compact JSON text | `"a"`, `{"x":1}` → `{"x":1}` |
//! | `binary` | a base64 string | `"aGk="` |
//! | `date` | `"YYYY-MM-DD"` | `"2024-06-10"` |
//! | `timestamp` | an RFC 3339 / ISO 8601 string (`T` or space; no zone = UTC; digits past microseconds are cut), or an integer of epoch milliseconds | `"2024-06-10T06:00:00.5+02:00"`, `1718000000123` |
//!
//! `null` or a missing field is NULL for every type. Anything else does not fit, and the
//! caller names the field and what it got.

use base64::prelude::*;
use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The JSON kind of a value's text, for reasons.
pub fn describe(raw: &str) -> String {
    const MAX: usize = 40;
    let kind = match raw.as_bytes().first() {
        Some(b'{') => return "an object".into(),
        Some(b'[') => return "an array".into(),
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    };
    if raw.len() <= MAX {
        format!("{kind} {raw}")
    } else {
        let mut cut = MAX;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{kind} {}...", &raw[..cut])
    }
}

/// An integer literal (`-?[0-9]+`, as JSON writes it), if it fits an i64.
pub fn integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A JSON number's value.
pub fn double(text: &str) -> Option<f64> {
    let first = text.as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'-') {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A decimal literal (a JSON number, or the text of one) as the unscaled integer of
/// `decimal(precision, scale)`. More decimals than `scale` (other than trailing zeros) or
/// more digits than `precision` do not fit: nothing is rounded.
pub fn decimal(text: &str, precision: u8, scale: u8) -> Result<i128, String> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => {
            let e: i32 = rest[at + 1..]
                .parse()
                .map_err(|_| "not a decimal number".to_owned())?;
            (&rest[..at], e)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("not a decimal number".into());
    }
    // digits * 10^(exponent - frac_len) = value; we want value * 10^scale.
    let mut digits: String = format!("{int_part}{frac_part}");
    let shift = i64::from(scale) + i64::from(exponent) - frac_part.len() as i64;
    if shift >= 0 {
        if shift > 76 {
            return Err(format!("more than {precision} digits"));
        }
        digits.extend(std::iter::repeat_n('0', shift as usize));
    } else {
        let cut = (-shift) as usize;
        let keep = digits.len().saturating_sub(cut);
        if digits[keep..].bytes().any(|b| b != b'0') {
            return Err(format!("more than {scale} decimal places"));
        }
        digits.truncate(keep);
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > usize::from(precision) {
        return Err(format!("more than {precision} digits"));
    }
    let unscaled: i128 = if significant.is_empty() {
        0
    } else {
        significant
            .parse()
            .map_err(|_| format!("more than {precision} digits"))?
    };
    Ok(if negative { -unscaled } else { unscaled })
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn date(text: &str) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

/// An RFC 3339 / ISO 8601 date-time as microseconds since the epoch, UTC.
pub fn timestamp(text: &str) -> Option<i64> {
    // RFC 3339 allows a space for the `T`; ISO 8601 writers use both.
    let normalized;
    let text = if text.len() > 10 && text.as_bytes()[10] == b' ' {
        normalized = format!("{}T{}", &text[..10], &text[11..]);
        normalized.as_str()
    } else {
        text
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp_micros());
        }
    }
    // No zone: UTC.
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

/// Epoch milliseconds (an integer) as microseconds.
pub fn timestamp_from_millis(text: &str) -> Option<i64> {
    integer(text)?.checked_mul(1000)
}

/// Standard base64 (with or without padding).
pub fn binary(text: &str) -> Option<Vec<u8>> {
    BASE64_STANDARD
        .decode(text)
        .or_else(|_| BASE64_STANDARD_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_integer_literals_only() {
        assert_eq!(integer("42"), Some(42));
        assert_eq!(integer("-7"), Some(-7));
        assert_eq!(integer("9223372036854775807"), Some(i64::MAX));
        assert_eq!(integer("9223372036854775808"), None);
        for no in ["1.0", "1e3", "\"1\"", "", "-", "+1", "abc"] {
            assert_eq!(integer(no), None, "{no}");
        }
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(decimal("12.30", 10, 2), Ok(1230));
        assert_eq!(decimal("12.3", 10, 2), Ok(1230));
        assert_eq!(decimal("-0.05", 10, 2), Ok(-5));
        assert_eq!(decimal("1.5e2", 10, 2), Ok(15000));
        assert_eq!(decimal("12.300", 10, 2), Ok(1230));
        assert_eq!(decimal("7", 3, 0), Ok(7));
        assert_eq!(decimal("0", 1, 0), Ok(0));
        assert_eq!(
            decimal("99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert!(decimal("12.345", 10, 2)
            .unwrap_err()
            .contains("decimal places"));
        assert!(decimal("1234", 5, 2).unwrap_err().contains("5 digits"));
        assert!(decimal("abc", 5, 2).is_err());
        assert!(decimal("1e999", 5, 2).is_err());
        assert!(decimal(".", 5, 2).is_err());
    }

    #[test]
    fn dates_are_iso() {
        assert_eq!(date("1970-01-02"), Some(1));
        assert_eq!(date("2024-06-10"), Some(19884));
        assert_eq!(date("1969-12-31"), Some(-1));
        for no in [
            "2024-6-10",
            "2024-02-30",
            "10/06/2024",
            "2024-06-10T00:00:00Z",
        ] {
            assert_eq!(date(no), None, "{no}");
        }
    }

    #[test]
    fn timestamps_read_zones_and_default_to_utc() {
        let utc = 1_718_000_000_123_000;
        assert_eq!(timestamp("2024-06-10T06:13:20.123Z"), Some(utc));
        assert_eq!(timestamp("2024-06-10 06:13:20.123Z"), Some(utc));
        assert_eq!(timestamp("2024-06-10T08:13:20.123+02:00"), Some(utc));
        assert_eq!(timestamp("2024-06-10T08:13:20.123+0200"), Some(utc));
        assert_eq!(timestamp("2024-06-10T06:13:20.123"), Some(utc));
        assert_eq!(timestamp("2024-06-10 06:13:20.123"), Some(utc));
        assert_eq!(timestamp("2024-06-10T06:13:20.123456789Z"), Some(utc + 456));
        assert_eq!(
            timestamp("2024-06-10T06:13"),
            Some(1_718_000_000_123_000 - 20_123_000)
        );
        assert_eq!(timestamp_from_millis("1718000000123"), Some(utc));
        assert_eq!(timestamp_from_millis("1718000000.5"), None);
        for no in ["yesterday", "2024-06-10", "2024-13-10T00:00:00Z", ""] {
            assert_eq!(timestamp(no), None, "{no}");
        }
    }

    #[test]
    fn describe_says_what_it_got_briefly() {
        assert_eq!(describe("\"abc\""), "string \"abc\"");
        assert_eq!(describe("{\"a\":1}"), "an object");
        assert_eq!(describe("12.5"), "number 12.5");
        assert!(describe(&format!("\"{}\"", "x".repeat(100))).ends_with("..."));
    }
}

//! Kinesis sequence numbers.
//!
//! AWS hands out decimal strings (56 digits today; the API allows up to 129, pattern
//! `0|([1-9]\d{0,128})`), which overflow even a `u128` (39 digits). Local emulators hand out
//! "1", "2", ... "10", which sort wrongly as strings. So a sequence number is kept as its
//! canonical decimal digits and compared as the integer it is: by length, then digit by digit.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The most digits Kinesis allows in a sequence number.
pub const MAX_SEQUENCE_DIGITS: usize = 129;

/// A Kinesis sequence number, ordered as the (arbitrarily large) integer it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

/// A sequence number that is not a decimal integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Kinesis sequence number {0:?}: expected a decimal integer of at most 129 digits")]
pub struct InvalidSequenceNumber(pub String);

impl SequenceNumber {
    /// The canonical decimal digits (no leading zeros).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SequenceNumber {
    type Err = InvalidSequenceNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidSequenceNumber(s.to_owned()));
        }
        let digits = s.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        if digits.len() > MAX_SEQUENCE_DIGITS {
            return Err(InvalidSequenceNumber(s.to_owned()));
        }
        Ok(SequenceNumber(digits.to_owned()))
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // Canonical digits: a longer number is larger; equal lengths compare digit by digit.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.as_bytes().cmp(other.0.as_bytes()))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seq(s: &str) -> SequenceNumber {
        s.parse().unwrap()
    }

    #[test]
    fn orders_as_integers_not_strings() {
        assert!(seq("9") < seq("10"));
        assert!(seq("0009") < seq("10"));
        assert_eq!(seq("007"), seq("7"));
    }

    #[test]
    fn handles_real_56_digit_numbers_beyond_u128() {
        let a = "49590338271490256608559692538361571095921575989136588898";
        let b = "49590338271490256608559692540925702759324208523137515618";
        assert_eq!(seq(a).to_string(), a);
        assert!(seq(a) < seq(b));
        assert!(seq("340282366920938463463374607431768211455") < seq(a));
    }

    #[test]
    fn rejects_non_decimal_and_overlong() {
        for bad in ["", "-1", "+1", "12a", " 1"] {
            assert!(bad.parse::<SequenceNumber>().is_err(), "{bad:?}");
        }
        assert!("1".repeat(130).parse::<SequenceNumber>().is_err());
        assert!("1".repeat(129).parse::<SequenceNumber>().is_ok());
    }

    proptest! {
        #[test]
        fn orders_like_u128_where_u128_fits(a: u128, b: u128) {
            prop_assert_eq!(seq(&a.to_string()).cmp(&seq(&b.to_string())), a.cmp(&b));
            prop_assert_eq!(seq(&a.to_string()).to_string(), a.to_string());
        }
    }
}

//! Helpers for typed configuration read once at cold start.
//!
//! Each function's `Config::from_lookup(|name| ...)` does the parsing with these helpers;
//! `from_env` is a thin wrapper over `std::env::var`. Tests pass a map and never touch the
//! process environment. Every error names the variable.

use std::str::FromStr;

/// A configuration variable that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("none of the environment variables {0} is set: one is required")]
    MissingOneOf(&'static str),
    #[error("environment variable {old} was renamed: set {new} instead")]
    Renamed {
        old: &'static str,
        new: &'static str,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Reads a variable: `None` when unset or empty (an empty value counts as unset, as it does
/// when a SAM parameter is left blank).
pub fn optional(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// Reads a variable that must be set.
pub fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or(ConfigError::Missing(name))
}

/// Reads and parses a variable, with a default when unset.
pub fn parsed_or<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(lookup, name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            value: v.clone(),
            reason: e.to_string(),
        }),
    }
}

/// Reads a boolean: `true`/`false`/`1`/`0`/`yes`/`no`, case-insensitive.
pub fn bool_or(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match optional(lookup, name) {
        None => Ok(default),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                value: v,
                reason: "expected true or false".into(),
            }),
        },
    }
}

/// Checks that a value is an RFC 6901 JSON pointer (empty, or starting with `/`).
pub fn json_pointer(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match optional(lookup, name) {
        None => Ok(None),
        Some(v) if v.starts_with('/') => Ok(Some(v)),
        Some(v) => Err(ConfigError::Invalid {
            name,
            value: v,
            reason: "a JSON pointer starts with '/', e.g. /customer/id".into(),
        }),
    }
}

/// A lookup over fixed name/value pairs, for `Config::from_lookup` in tests and tools.
pub fn map_lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

/// A lookup over the process environment, for `Config::from_env`.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Refuses a variable set under a name it no longer has, naming the new one: a deployment
/// still setting the old name would otherwise run with the setting silently dropped. `renamed`
/// is `(old, new)` pairs; an empty value counts as unset, as everywhere here.
pub fn refuse_renamed(
    lookup: &impl Fn(&str) -> Option<String>,
    renamed: &[(&'static str, &'static str)],
) -> Result<(), ConfigError> {
    match renamed
        .iter()
        .find(|(old, _)| optional(lookup, old).is_some())
    {
        Some(&(old, new)) => Err(ConfigError::Renamed { old, new }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use map_lookup as map;

    #[test]
    fn empty_value_counts_as_unset() {
        assert_eq!(
            required(&map(&[("A", " ")]), "A"),
            Err(ConfigError::Missing("A"))
        );
    }

    #[test]
    fn invalid_number_names_the_variable() {
        let err = parsed_or::<u64>(&map(&[("N", "ten")]), "N", 1).unwrap_err();
        assert!(err.to_string().contains("N=\"ten\""), "{err}");
    }

    #[test]
    fn pointer_must_start_with_slash() {
        assert!(json_pointer(&map(&[("P", "a/b")]), "P").is_err());
        assert_eq!(
            json_pointer(&map(&[("P", "/a/b")]), "P")
                .unwrap()
                .as_deref(),
            Some("/a/b")
        );
    }

    #[test]
    fn a_renamed_variable_is_refused_naming_the_new_one() {
        let renamed = [("OLD_A", "NEW_A"), ("OLD_B", "NEW_B")];
        assert_eq!(refuse_renamed(&map(&[("NEW_A", "/x")]), &renamed), Ok(()));
        // Empty: unset, as a blank SAM parameter leaves it.
        assert_eq!(refuse_renamed(&map(&[("OLD_A", "")]), &renamed), Ok(()));
        let err = refuse_renamed(&map(&[("OLD_B", "/x")]), &renamed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable OLD_B was renamed: set NEW_B instead"
        );
    }
}

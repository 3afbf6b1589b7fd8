//! The ingest function's configuration, read once at cold start.

use crate::auth::{parse_digest, TokenDigest};
use std::time::Duration;
use trickle_shared::config::{self as cfg, ConfigError};

/// Default time the function may spend retrying throttled entries before answering 503.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_millis(2_000);

/// Which stream to write to. Kinesis accepts either on every data-plane call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamTarget {
    /// `STREAM_NAME`
    Name(String),
    /// `STREAM_ARN` (wins when both are set: it also pins the account and region)
    Arn(String),
}

/// Environment variables renamed (old, new): refused at cold start, naming the new one
/// (docs/reference/parameters.md#renamed-settings).
pub const RENAMED: &[(&str, &str)] = &[("PARTITION_KEY_POINTER", "STREAM_PARTITION_KEY_POINTER")];

/// Typed configuration of `ingest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `STREAM_NAME` or `STREAM_ARN`: the Kinesis data stream; one is required.
    pub stream: StreamTarget,
    /// `STREAM_PARTITION_KEY_POINTER`: a JSON pointer whose value, when a JSON/NDJSON record has it,
    /// becomes that record's partition key (after the header and the query parameter).
    pub partition_key_pointer: Option<String>,
    /// `RETRY_BUDGET_MS`: how long to retry throttled entries (default 2000).
    pub retry_budget: Duration,
    /// `AUTH_TOKEN_SHA256`: when set (64 hex digits, the SHA-256 of a token), every request
    /// must carry `Authorization: Bearer <token>`. For a public function URL.
    pub auth_token_sha256: Option<TokenDigest>,
    /// `AGGREGATE` (default false): pack each request's records into KPL aggregates.
    pub aggregate: bool,
    /// `BROWSER_KEY`: a public key web pages send as `?key=` (`browser.rs`); unset, none is
    /// accepted. Public by design: it is in every page that sends.
    pub browser_key: Option<String>,
    /// `IDEMPOTENCY_TABLE`: the DynamoDB table that remembers keyed requests
    /// (`idempotency/`); unset, `Idempotency-Key` is ignored.
    pub idempotency_table: Option<String>,
    /// `RECORD_ID_POINTER`: a JSON pointer whose value, when a record has it, identifies the
    /// record (scoped to the caller): the writers store each id once within their window
    /// (`idempotency::identify_by_id`).
    pub record_id_pointer: Option<String>,
}

/// A browser key's length: long enough not to be guessed by accident, short enough for a URL.
pub const BROWSER_KEY_CHARS: std::ops::RangeInclusive<usize> = 16..=128;

impl Config {
    /// Every setting at its default, writing to `stream` (what an environment with only
    /// `STREAM_NAME` or `STREAM_ARN` reads).
    pub fn new(stream: StreamTarget) -> Self {
        Self {
            stream,
            partition_key_pointer: None,
            retry_budget: DEFAULT_RETRY_BUDGET,
            auth_token_sha256: None,
            aggregate: false,
            browser_key: None,
            idempotency_table: None,
            record_id_pointer: None,
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(cfg::env_lookup)
    }

    /// Reads the configuration from any lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        cfg::refuse_renamed(&lookup, RENAMED)?;
        let stream = match (
            cfg::optional(&lookup, "STREAM_ARN"),
            cfg::optional(&lookup, "STREAM_NAME"),
        ) {
            (Some(arn), _) => {
                if !arn.starts_with("arn:") || !arn.contains(":stream/") {
                    return Err(ConfigError::Invalid {
                        name: "STREAM_ARN",
                        value: arn,
                        reason: "expected arn:<partition>:kinesis:<region>:<account>:stream/<name>"
                            .into(),
                    });
                }
                StreamTarget::Arn(arn)
            }
            (None, Some(name)) => StreamTarget::Name(name),
            (None, None) => return Err(ConfigError::MissingOneOf("STREAM_NAME, STREAM_ARN")),
        };
        let retry_ms: u64 = cfg::parsed_or(
            &lookup,
            "RETRY_BUDGET_MS",
            DEFAULT_RETRY_BUDGET.as_millis() as u64,
        )?;
        let auth_token_sha256 = match cfg::optional(&lookup, "AUTH_TOKEN_SHA256") {
            None => None,
            Some(hex) => Some(parse_digest(&hex).ok_or(ConfigError::Invalid {
                name: "AUTH_TOKEN_SHA256",
                value: "(hidden)".into(),
                reason: "expected 64 hex digits, the SHA-256 of the token (printf %s TOKEN | sha256sum)".into(),
            })?),
        };
        let browser_key = match cfg::optional(&lookup, "BROWSER_KEY") {
            Some(key)
                if !BROWSER_KEY_CHARS.contains(&key.len())
                    || !key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                return Err(ConfigError::Invalid {
                    name: "BROWSER_KEY",
                    value: key,
                    reason: "expected 16 to 128 letters, digits, - or _".into(),
                })
            }
            key => key,
        };
        Ok(Self {
            aggregate: cfg::bool_or(&lookup, "AGGREGATE", false)?,
            browser_key,
            idempotency_table: cfg::optional(&lookup, "IDEMPOTENCY_TABLE"),
            record_id_pointer: cfg::json_pointer(&lookup, "RECORD_ID_POINTER")?,
            auth_token_sha256,
            stream,
            partition_key_pointer: cfg::json_pointer(&lookup, "STREAM_PARTITION_KEY_POINTER")?,
            retry_budget: Duration::from_millis(retry_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use trickle_shared::config::map_lookup as lookup;

    #[test]
    fn new_is_what_an_environment_with_only_the_stream_reads() {
        let read = Config::from_lookup(|k| (k == "STREAM_NAME").then(|| "s".to_owned())).unwrap();
        assert_eq!(read, Config::new(StreamTarget::Name("s".into())));
    }

    #[test]
    fn requires_a_stream_and_names_the_variables() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().contains("STREAM_NAME, STREAM_ARN"), "{err}");
    }

    #[test]
    fn reads_name_and_defaults() {
        let c = Config::from_lookup(lookup(&[("STREAM_NAME", "s")])).unwrap();
        assert_eq!(c.stream, StreamTarget::Name("s".into()));
        assert_eq!(c.retry_budget, DEFAULT_RETRY_BUDGET);
        assert_eq!(c.partition_key_pointer, None);
        assert_eq!(c.auth_token_sha256, None);
    }

    #[test]
    fn reads_a_token_digest_and_hides_a_bad_one() {
        let c = Config::from_lookup(lookup(&[
            ("STREAM_NAME", "s"),
            (
                "AUTH_TOKEN_SHA256",
                "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0",
            ),
        ]))
        .unwrap();
        assert!(c.auth_token_sha256.is_some());
        let err = Config::from_lookup(lookup(&[
            ("STREAM_NAME", "s"),
            ("AUTH_TOKEN_SHA256", "my-plain-token"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("AUTH_TOKEN_SHA256")
                && !err.to_string().contains("my-plain-token")
        );
    }

    #[test]
    fn rejects_a_malformed_arn_and_pointer() {
        assert!(Config::from_lookup(lookup(&[("STREAM_ARN", "stream/x")])).is_err());
        assert!(Config::from_lookup(lookup(&[
            ("STREAM_NAME", "s"),
            ("STREAM_PARTITION_KEY_POINTER", "user")
        ]))
        .is_err());
    }

    #[test]
    fn the_old_name_is_refused_naming_the_new_one() {
        let err = Config::from_lookup(|name: &str| {
            (name == "PARTITION_KEY_POINTER").then(|| "x".to_owned())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable PARTITION_KEY_POINTER was renamed: set STREAM_PARTITION_KEY_POINTER instead"
        );
    }
}

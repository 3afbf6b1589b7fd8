//! The transform's configuration, read once at cold start from the environment.
//!
//! Every option is off or at a safe default when its variable is unset; a variable that is
//! set but invalid fails the cold start and names itself.

use trickle_shared::config::{self as cfg, ConfigError};
use trickle_shared::limits::FIREHOSE_RESPONSE_BUDGET_BYTES;

/// Default bound on one record's gunzipped size (8 MiB): a decompression bomb fails that
/// record instead of exhausting the function's memory. A CloudWatch Logs subscription
/// record holds one PutLogEvents batch (at most 1 MiB of messages and 10,000 events): with
/// its JSON envelope (about 100 bytes per event) and the worst escaping of the messages
/// (`\u0000` is 6 bytes for 1) it stays under 8 MiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 8 * 1024 * 1024;
/// The largest gunzip bound accepted. A CloudWatch Logs record of the smallest events peaks at
/// about 9x its decoded size in RSS (release binary, glibc's allocator; the bytes allocated at
/// once stay under 2x, `tests/memory_bound.rs`): 219.5 MB for 24 MiB, 81 MB for 8 MiB
/// (`bench/memory_bench.py`), so 24 MiB keeps one record within the function's 256 MB.
pub const MAX_DECOMPRESSED_BYTES_CEILING: usize = 24 * 1024 * 1024;
/// Default number of PutRecords / PutRecordBatch attempts for re-ingested records.
pub const DEFAULT_REINGEST_MAX_ATTEMPTS: u32 = 5;
/// Default output field for the record's arrival time (RFC 3339).
pub const DEFAULT_ARRIVAL_TIME_FIELD: &str = "approximateArrivalTime";
/// Default output field for the Kinesis partition key.
pub const DEFAULT_PARTITION_KEY_FIELD: &str = "kinesisPartitionKey";
/// Default output field for the Kinesis sequence number.
pub const DEFAULT_SEQUENCE_NUMBER_FIELD: &str = "kinesisSequenceNumber";

/// Field names of the enrichment added to every JSON object line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrichment {
    /// `ENRICH_ARRIVAL_TIME_FIELD`: the arrival time, RFC 3339 with milliseconds, UTC.
    pub arrival_time_field: String,
    /// `ENRICH_PARTITION_KEY_FIELD`: the Kinesis partition key (Kinesis source only).
    pub partition_key_field: String,
    /// `ENRICH_SEQUENCE_NUMBER_FIELD`: the Kinesis sequence number (Kinesis source only).
    pub sequence_number_field: String,
}

/// One dynamic-partitioning key: `name=/json/pointer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKeySpec {
    /// The name Firehose's `!{partitionKeyFromLambda:name}` refers to.
    pub name: String,
    /// Where the value is read in each output line.
    pub pointer: String,
}

/// Records whose value at `pointer` equals `value` are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropFilter {
    /// `DROP_FILTER_POINTER`
    pub pointer: String,
    /// `DROP_FILTER_VALUE`: compared with the value's text (a string as itself, a number or
    /// bool as its JSON text).
    pub value: String,
}

/// Environment variables renamed (old, new): refused at cold start, naming the new one
/// (docs/reference/parameters.md#renamed-settings).
pub const RENAMED: &[(&str, &str)] = &[("PARTITION_KEYS", "PARTITION_POINTERS")];

/// Typed configuration of `firehose-transform`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `MAX_DECOMPRESSED_BYTES`: the gunzip bound per record (default 64 MiB).
    pub max_decompressed_bytes: usize,
    /// `RESPONSE_BUDGET_BYTES`: the largest serialized response (default and maximum
    /// 6,000,000: Lambda's 6 MB limit less headroom). Lower it only to test overflow.
    pub response_budget_bytes: usize,
    /// `REINGEST_ENABLED`: re-ingest records that do not fit the response (default true);
    /// when false they are `ProcessingFailed` (Firehose writes them to the error prefix).
    pub reingest_enabled: bool,
    /// `REINGEST_MAX_ATTEMPTS`: attempts per re-ingested record, at least 1 (default 5).
    pub reingest_max_attempts: u32,
    /// `ENRICH` (default false) plus the field names; `None` when off.
    pub enrichment: Option<Enrichment>,
    /// `PARTITION_POINTERS="name=/pointer,..."`: empty when dynamic partitioning is off; the
    /// response then has no `metadata` field at all.
    pub partition_keys: Vec<PartitionKeySpec>,
    /// `DROP_FILTER_POINTER` and `DROP_FILTER_VALUE` (both or neither).
    pub drop_filter: Option<DropFilter>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            response_budget_bytes: FIREHOSE_RESPONSE_BUDGET_BYTES,
            reingest_enabled: true,
            reingest_max_attempts: DEFAULT_REINGEST_MAX_ATTEMPTS,
            enrichment: None,
            partition_keys: Vec::new(),
            drop_filter: None,
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(cfg::env_lookup)
    }

    /// Reads the configuration from any lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        cfg::refuse_renamed(&lookup, RENAMED)?;
        let max_decompressed_bytes = cfg::parsed_or(
            &lookup,
            "MAX_DECOMPRESSED_BYTES",
            DEFAULT_MAX_DECOMPRESSED_BYTES,
        )?;
        if max_decompressed_bytes == 0 || max_decompressed_bytes > MAX_DECOMPRESSED_BYTES_CEILING {
            return Err(invalid(
                "MAX_DECOMPRESSED_BYTES",
                &max_decompressed_bytes.to_string(),
                &format!("must be from 1 to {MAX_DECOMPRESSED_BYTES_CEILING}"),
            ));
        }
        let response_budget_bytes = cfg::parsed_or(
            &lookup,
            "RESPONSE_BUDGET_BYTES",
            FIREHOSE_RESPONSE_BUDGET_BYTES,
        )?;
        if response_budget_bytes > FIREHOSE_RESPONSE_BUDGET_BYTES {
            return Err(invalid(
                "RESPONSE_BUDGET_BYTES",
                &response_budget_bytes.to_string(),
                &format!("must not exceed {FIREHOSE_RESPONSE_BUDGET_BYTES}"),
            ));
        }
        let reingest_max_attempts = cfg::parsed_or(
            &lookup,
            "REINGEST_MAX_ATTEMPTS",
            DEFAULT_REINGEST_MAX_ATTEMPTS,
        )?;
        if reingest_max_attempts == 0 {
            return Err(invalid("REINGEST_MAX_ATTEMPTS", "0", "must be at least 1"));
        }
        let enrichment = if cfg::bool_or(&lookup, "ENRICH", false)? {
            let field = |name, default: &str| {
                cfg::optional(&lookup, name).unwrap_or_else(|| default.to_owned())
            };
            Some(Enrichment {
                arrival_time_field: field("ENRICH_ARRIVAL_TIME_FIELD", DEFAULT_ARRIVAL_TIME_FIELD),
                partition_key_field: field(
                    "ENRICH_PARTITION_KEY_FIELD",
                    DEFAULT_PARTITION_KEY_FIELD,
                ),
                sequence_number_field: field(
                    "ENRICH_SEQUENCE_NUMBER_FIELD",
                    DEFAULT_SEQUENCE_NUMBER_FIELD,
                ),
            })
        } else {
            None
        };
        let partition_keys = match cfg::optional(&lookup, "PARTITION_POINTERS") {
            None => Vec::new(),
            Some(spec) => parse_partition_keys(&spec)?,
        };
        let drop_filter = match (
            cfg::json_pointer(&lookup, "DROP_FILTER_POINTER")?,
            lookup("DROP_FILTER_VALUE"),
        ) {
            (Some(pointer), Some(value)) => Some(DropFilter { pointer, value }),
            (None, None) => None,
            (Some(p), None) => {
                return Err(invalid(
                    "DROP_FILTER_POINTER",
                    &p,
                    "DROP_FILTER_VALUE must be set too",
                ))
            }
            // An empty DROP_FILTER_VALUE alone is how a blank SAM parameter looks: off.
            (None, Some(v)) if v.is_empty() => None,
            (None, Some(v)) => {
                return Err(invalid(
                    "DROP_FILTER_VALUE",
                    &v,
                    "DROP_FILTER_POINTER must be set too",
                ))
            }
        };
        Ok(Self {
            max_decompressed_bytes,
            response_budget_bytes,
            reingest_enabled: cfg::bool_or(&lookup, "REINGEST_ENABLED", true)?,
            reingest_max_attempts,
            enrichment,
            partition_keys,
            drop_filter,
        })
    }

    /// True when any option needs to look inside the output lines.
    pub fn inspects_lines(&self) -> bool {
        self.enrichment.is_some() || !self.partition_keys.is_empty() || self.drop_filter.is_some()
    }
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Parses `PARTITION_POINTERS`: comma-separated `name=/json/pointer` pairs, names unique.
pub fn parse_partition_keys(spec: &str) -> Result<Vec<PartitionKeySpec>, ConfigError> {
    let bad = |reason: &str| invalid("PARTITION_POINTERS", spec, reason);
    let mut out: Vec<PartitionKeySpec> = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, pointer) = item
            .split_once('=')
            .ok_or_else(|| bad("expected name=/json/pointer, e.g. customer=/customer/id"))?;
        let (name, pointer) = (name.trim(), pointer.trim());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad("a key name is 1 or more of A-Z a-z 0-9 _ -"));
        }
        if !pointer.starts_with('/') {
            return Err(bad("a JSON pointer starts with '/', e.g. /customer/id"));
        }
        if out.iter().any(|k| k.name == name) {
            return Err(bad("a key name appears twice"));
        }
        out.push(PartitionKeySpec {
            name: name.to_owned(),
            pointer: pointer.to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trickle_shared::config::map_lookup as lookup;

    #[test]
    fn defaults_turn_every_option_off() {
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.max_decompressed_bytes, 8 * 1024 * 1024);
        assert_eq!(c.response_budget_bytes, 6_000_000);
        assert!(c.reingest_enabled);
        assert!(!c.inspects_lines());
    }

    #[test]
    fn reads_every_option() {
        let c = Config::from_lookup(lookup(&[
            ("MAX_DECOMPRESSED_BYTES", "1000"),
            ("RESPONSE_BUDGET_BYTES", "5000"),
            ("REINGEST_ENABLED", "false"),
            ("REINGEST_MAX_ATTEMPTS", "2"),
            ("ENRICH", "true"),
            ("ENRICH_ARRIVAL_TIME_FIELD", "at"),
            ("PARTITION_POINTERS", "customer=/customer/id, level=/level"),
            ("DROP_FILTER_POINTER", "/level"),
            ("DROP_FILTER_VALUE", "debug"),
        ]))
        .unwrap();
        assert_eq!(c.max_decompressed_bytes, 1000);
        assert_eq!(c.response_budget_bytes, 5000);
        assert!(!c.reingest_enabled);
        assert_eq!(c.reingest_max_attempts, 2);
        let e = c.enrichment.unwrap();
        assert_eq!(e.arrival_time_field, "at");
        assert_eq!(e.partition_key_field, DEFAULT_PARTITION_KEY_FIELD);
        assert_eq!(c.partition_keys.len(), 2);
        assert_eq!(c.partition_keys[1].name, "level");
        assert_eq!(c.partition_keys[1].pointer, "/level");
        assert_eq!(c.drop_filter.unwrap().value, "debug");
    }

    #[test]
    fn refuses_a_budget_over_the_lambda_limit() {
        let err = Config::from_lookup(lookup(&[("RESPONSE_BUDGET_BYTES", "6000001")])).unwrap_err();
        assert!(err.to_string().contains("RESPONSE_BUDGET_BYTES"), "{err}");
    }

    #[test]
    fn rejects_malformed_partition_keys_naming_the_variable() {
        for spec in ["customer", "customer=id", "=/a", "a=/x,a=/y", "a b=/x"] {
            let err = Config::from_lookup(lookup(&[("PARTITION_POINTERS", spec)])).unwrap_err();
            assert!(
                err.to_string().contains("PARTITION_POINTERS"),
                "{spec}: {err}"
            );
        }
    }

    #[test]
    fn drop_filter_needs_both_variables() {
        assert!(Config::from_lookup(lookup(&[("DROP_FILTER_POINTER", "/a")])).is_err());
        assert!(Config::from_lookup(lookup(&[("DROP_FILTER_VALUE", "x")])).is_err());
        assert!(Config::from_lookup(lookup(&[
            ("DROP_FILTER_POINTER", "a"),
            ("DROP_FILTER_VALUE", "x")
        ]))
        .is_err());
        let c = Config::from_lookup(lookup(&[("DROP_FILTER_VALUE", "")])).unwrap();
        assert_eq!(c.drop_filter, None);
    }

    #[test]
    fn zero_attempts_or_zero_gunzip_bound_are_invalid() {
        assert!(Config::from_lookup(lookup(&[("REINGEST_MAX_ATTEMPTS", "0")])).is_err());
        assert!(Config::from_lookup(lookup(&[("MAX_DECOMPRESSED_BYTES", "0")])).is_err());
        let huge = usize::MAX.to_string();
        assert!(Config::from_lookup(lookup(&[("MAX_DECOMPRESSED_BYTES", &huge)])).is_err());
    }

    #[test]
    fn the_old_name_is_refused_naming_the_new_one() {
        let err =
            Config::from_lookup(|name: &str| (name == "PARTITION_KEYS").then(|| "x".to_owned()))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable PARTITION_KEYS was renamed: set PARTITION_POINTERS instead"
        );
    }
}

//! The batch-to-s3 function's configuration, read once at cold start.

use crate::encode::Compression;
use crate::key::{KeyLayout, MAX_PARTITION_NAME_BYTES, MAX_PREFIX_BYTES};
use std::sync::Arc;
use std::time::Duration;
use trickle_columnar::{ParquetCompression, TableSchema};
use trickle_shared::config::{self as cfg, ConfigError};
use trickle_shared::gzip::{DEFAULT_GZIP_LEVEL, GZIP_LEVELS};

/// Default `EXTRA_COLUMN`: the string column that keeps the fields `SCHEMA` does not have.
pub const DEFAULT_EXTRA_COLUMN: &str = "_extra";
/// The partition column of the `firehose` key layout in the Glue table (`yyyy/MM/dd/HH`).
pub const FIREHOSE_LAYOUT_COLUMN: &str = "datehour";
/// The partition columns of the `hive` key layout.
pub const HIVE_LAYOUT_COLUMNS: [&str; 4] = ["year", "month", "day", "hour"];

/// `FORMAT`: what a data object holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Each user record as a line (default).
    Ndjson,
    /// Typed columns.
    Parquet(ParquetFormat),
}

/// `NON_JSON_RECORDS`: what an NDJSON object writes for a record that is not one JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonJsonRecords {
    /// `wrap` (default): UTF-8 text as `{"message":...}`, other bytes as
    /// `{"data_base64":...}` (`trickle_shared::json::ndjson_line`), counted in
    /// `RecordsWrappedAsMessage` / `RecordsWrappedAsBase64`.
    #[default]
    Wrap,
    /// `error`: to the error prefix (`not-json`), as with partitioning or Parquet.
    Error,
}

/// `FORMAT=parquet`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetFormat {
    /// `SCHEMA` (required with Parquet): the columns, as in an Athena `CREATE TABLE`.
    pub schema: Arc<TableSchema>,
    /// `EXTRA_COLUMN` (default `_extra`): where unknown fields are kept; set and empty to
    /// drop them (counted in `FieldsDropped`).
    pub extra_column: Option<String>,
    /// `PARQUET_COMPRESSION`: `zstd` (default), `snappy`, `gzip` or `none`.
    pub compression: ParquetCompression,
}

/// `GLUE_DATABASE` and `GLUE_TABLE`: the table the function keeps matching its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueTable {
    pub database: String,
    pub table: String,
}

/// Default `ERROR_PREFIX`: where records that cannot be processed go (Firehose's
/// `processing-failed` output plays the same role).
pub const DEFAULT_ERROR_PREFIX: &str = "errors/";
/// Default `STATE_PREFIX`: where the per-shard high-water marks live.
pub const DEFAULT_STATE_PREFIX: &str = "state/";
/// Default `MAX_PARTITIONS`: named partitions per invocation (the default partition comes
/// on top). Bounds the number of objects one batch can turn into.
pub const DEFAULT_MAX_PARTITIONS: usize = 100;
/// Default `DEFAULT_PARTITION`: the value used for records without the partition field and
/// for records over the partition bound. Hive, Spark and Athena use this name for the
/// partition of NULL values, so queries over the layout keep working.
pub const DEFAULT_PARTITION_VALUE: &str = "__HIVE_DEFAULT_PARTITION__";
/// Default `DEADLINE_MARGIN_MS`: do not start a PUT with less than this left before the
/// invocation deadline, because a timeout in the middle of a plan would leave objects the
/// next attempt does not know about. Small enough for Lambda's default 3 s timeout.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(1_000);

/// Dynamic partitioning: group records by the value at a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partitioning {
    /// `OBJECT_PARTITION_POINTER`: an RFC 6901 JSON pointer, e.g. `/customer/id`.
    pub pointer: String,
    /// `PARTITION_NAME`: the key segment's name, `{name}={value}/` (default: the pointer's
    /// last token, made safe for a key).
    pub name: String,
    /// `DEFAULT_PARTITION`: the value segment for records without the field, and for
    /// records over `MAX_PARTITIONS` (default `__HIVE_DEFAULT_PARTITION__`).
    pub default_value: String,
    /// `MAX_PARTITIONS`: the most named partitions per invocation (default 100).
    pub max_partitions: usize,
}

/// Environment variables renamed (old, new): refused at cold start, naming the new one
/// (docs/reference/parameters.md#renamed-settings).
pub const RENAMED: &[(&str, &str)] = &[("PARTITION_POINTER", "OBJECT_PARTITION_POINTER")];

/// Typed configuration of `batch-to-s3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `BUCKET_NAME` (required): the bucket for data, error and state objects.
    pub bucket: String,
    /// `PREFIX` (default empty): the start of every data object key, e.g. `raw/`.
    pub prefix: String,
    /// `ERROR_PREFIX` (default `errors/`): the start of every error object key.
    pub error_prefix: String,
    /// `STATE_PREFIX` (default `state/`): the start of the per-shard high-water-mark keys.
    pub state_prefix: String,
    /// `COMPRESSION`: `gzip` (default), `zstd` or `none`.
    pub compression: Compression,
    /// `GZIP_LEVEL` (1-12, default `trickle_shared::gzip::DEFAULT_GZIP_LEVEL`): libdeflate's
    /// level with `COMPRESSION=gzip`. Lower is faster and larger; the default is the fastest
    /// within 1.05x of zlib level 6's size on every input of the gzip corpus and the bench's.
    pub gzip_level: u8,
    /// `KEY_LAYOUT`: `firehose` (default, `YYYY/MM/DD/HH/`) or `hive`
    /// (`year=YYYY/month=MM/day=DD/hour=HH/`).
    pub key_layout: KeyLayout,
    /// Set when `OBJECT_PARTITION_POINTER` is.
    pub partitioning: Option<Partitioning>,
    /// `DEADLINE_MARGIN_MS` (default 1000): no PUT starts with less than this left before
    /// the invocation deadline; the rest of the batch is reported for retry instead.
    pub deadline_margin: Duration,
    /// `FORMAT`: `ndjson` (default) or `parquet` (with `SCHEMA`, `EXTRA_COLUMN`,
    /// `PARQUET_COMPRESSION`).
    pub format: Format,
    /// `SCHEMA`: the columns (required with `FORMAT=parquet` or a Glue table; also in
    /// `ParquetFormat`).
    pub schema: Option<Arc<TableSchema>>,
    /// Set when `GLUE_DATABASE` and `GLUE_TABLE` are (both or neither; needs `SCHEMA`).
    pub glue: Option<GlueTable>,
    /// `NON_JSON_RECORDS`: `wrap` (default) or `error`.
    pub non_json_records: NonJsonRecords,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(cfg::env_lookup)
    }

    /// Reads the configuration from any lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        cfg::refuse_renamed(&lookup, RENAMED)?;
        let bucket = cfg::required(&lookup, "BUCKET_NAME")?;
        let data_prefix = key_prefix(&lookup, "PREFIX", "")?;
        let error_prefix = key_prefix(&lookup, "ERROR_PREFIX", DEFAULT_ERROR_PREFIX)?;
        let state_prefix = key_prefix(&lookup, "STATE_PREFIX", DEFAULT_STATE_PREFIX)?;
        prefixes_apart(&data_prefix, &error_prefix)?;
        let compression = cfg::parsed_or(&lookup, "COMPRESSION", Compression::Gzip)?;
        let gzip_level: u8 = cfg::parsed_or(&lookup, "GZIP_LEVEL", DEFAULT_GZIP_LEVEL)?;
        if !GZIP_LEVELS.contains(&gzip_level) {
            return Err(ConfigError::Invalid {
                name: "GZIP_LEVEL",
                value: gzip_level.to_string(),
                reason: format!(
                    "a libdeflate level from {} to {}",
                    GZIP_LEVELS.start(),
                    GZIP_LEVELS.end()
                ),
            });
        }
        let key_layout = cfg::parsed_or(&lookup, "KEY_LAYOUT", KeyLayout::Firehose)?;
        // Validated even when partitioning is off, so a bad value fails at cold start.
        let max_partitions: usize =
            cfg::parsed_or(&lookup, "MAX_PARTITIONS", DEFAULT_MAX_PARTITIONS)?;
        if max_partitions == 0 {
            return Err(ConfigError::Invalid {
                name: "MAX_PARTITIONS",
                value: "0".into(),
                reason: "at least 1".into(),
            });
        }
        let partitioning = match cfg::json_pointer(&lookup, "OBJECT_PARTITION_POINTER")? {
            None => None,
            Some(pointer) => {
                let name = match cfg::optional(&lookup, "PARTITION_NAME") {
                    Some(n) => {
                        let safe = crate::key::safe_segment(&n, MAX_PARTITION_NAME_BYTES);
                        if safe != n {
                            return Err(ConfigError::Invalid {
                                name: "PARTITION_NAME",
                                value: n,
                                reason: format!(
                                    "use at most {MAX_PARTITION_NAME_BYTES} of A-Z a-z 0-9 . _ -"
                                ),
                            });
                        }
                        n
                    }
                    None => default_partition_name(&pointer),
                };
                let default_value = cfg::optional(&lookup, "DEFAULT_PARTITION")
                    .map(|v| crate::key::safe_segment(&v, crate::key::MAX_PARTITION_VALUE_BYTES))
                    .unwrap_or_else(|| DEFAULT_PARTITION_VALUE.to_owned());
                Some(Partitioning {
                    pointer,
                    name,
                    default_value,
                    max_partitions,
                })
            }
        };
        let margin_ms: u64 = cfg::parsed_or(
            &lookup,
            "DEADLINE_MARGIN_MS",
            DEFAULT_DEADLINE_MARGIN.as_millis() as u64,
        )?;
        let schema = read_schema(&lookup, key_layout, partitioning.as_ref())?;
        let format = read_format(&lookup, schema.as_ref())?;
        let glue = match (
            cfg::optional(&lookup, "GLUE_DATABASE"),
            cfg::optional(&lookup, "GLUE_TABLE"),
        ) {
            (Some(database), Some(table)) => Some(GlueTable {
                database,
                table: table.to_ascii_lowercase(),
            }),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("GLUE_TABLE")),
            (None, Some(_)) => return Err(ConfigError::Missing("GLUE_DATABASE")),
        };
        if glue.is_some() && schema.is_none() {
            // The table's columns come from SCHEMA, in either format.
            return Err(ConfigError::Missing("SCHEMA"));
        }
        let non_json_records = match cfg::optional(&lookup, "NON_JSON_RECORDS")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("wrap") => NonJsonRecords::Wrap,
            Some("error") => NonJsonRecords::Error,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "NON_JSON_RECORDS",
                    value: other.to_owned(),
                    reason: "expected wrap or error".into(),
                })
            }
        };
        Ok(Self {
            non_json_records,
            format,
            schema,
            glue,
            deadline_margin: Duration::from_millis(margin_ms),
            bucket,
            prefix: data_prefix,
            error_prefix,
            state_prefix,
            compression,
            gzip_level,
            key_layout,
            partitioning,
        })
    }
}

/// Data and error keys must never meet, or two different objects could share a key. A data
/// key continues its `PREFIX` with `{name}=`, `year=` or a digit (the date); an error key
/// continues its `ERROR_PREFIX` with a reason (`not-json/`, ...). So the two prefixes may
/// not start one with the other, except an empty `PREFIX` beside an `ERROR_PREFIX` whose
/// first segment holds no `=` and does not start with a digit.
fn prefixes_apart(data: &str, error: &str) -> Result<(), ConfigError> {
    let first_segment = error.split('/').next().unwrap_or_default();
    let apart = if data.is_empty() {
        !error.is_empty()
            && !first_segment.contains('=')
            && !first_segment.starts_with(|c: char| c.is_ascii_digit())
    } else {
        !data.starts_with(error) && !error.starts_with(data)
    };
    if apart {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            name: "ERROR_PREFIX",
            value: error.to_owned(),
            reason: format!(
                "data keys (PREFIX {data:?}) and error keys could meet: use prefixes that do not start one with the other, such as raw/ and errors/"
            ),
        })
    }
}

/// A key prefix: bounded so that every key we build stays under S3's 1,024 bytes.
fn key_prefix(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = cfg::optional(lookup, name).unwrap_or_else(|| default.to_owned());
    if value.len() > MAX_PREFIX_BYTES || value.starts_with('/') {
        return Err(ConfigError::Invalid {
            name,
            value,
            reason: format!(
                "a key prefix has at most {MAX_PREFIX_BYTES} bytes and does not start with '/'"
            ),
        });
    }
    Ok(value)
}

/// `SCHEMA`, if set. A column may not share a name with the extra column or a partition
/// column of the key layout (the Glue table has them all).
fn read_schema(
    lookup: &impl Fn(&str) -> Option<String>,
    key_layout: KeyLayout,
    partitioning: Option<&Partitioning>,
) -> Result<Option<Arc<TableSchema>>, ConfigError> {
    let Some(text) = cfg::optional(lookup, "SCHEMA") else {
        return Ok(None);
    };
    let schema = TableSchema::from_setting(&text).map_err(|e| ConfigError::Invalid {
        name: "SCHEMA",
        value: text.clone(),
        reason: e.to_string(),
    })?;
    let extra = extra_column(lookup);
    let mut taken: Vec<(&str, &'static str)> = Vec::new();
    if let Some(extra) = &extra {
        taken.push((extra, "EXTRA_COLUMN"));
    }
    match key_layout {
        KeyLayout::Firehose => taken.push((FIREHOSE_LAYOUT_COLUMN, "KEY_LAYOUT")),
        KeyLayout::Hive => taken.extend(HIVE_LAYOUT_COLUMNS.iter().map(|c| (*c, "KEY_LAYOUT"))),
    }
    let partition_name = partitioning.map(|p| p.name.to_ascii_lowercase());
    if let Some(name) = &partition_name {
        taken.push((name, "PARTITION_NAME"));
    }
    for (name, by) in taken {
        if schema.column(name).is_some() {
            return Err(ConfigError::Invalid {
                name: "SCHEMA",
                value: text,
                reason: format!(
                    "column `{name}` clashes with the {} column of the same name ({by})",
                    if by == "EXTRA_COLUMN" {
                        "extra"
                    } else {
                        "partition"
                    }
                ),
            });
        }
    }
    Ok(Some(Arc::new(schema)))
}

/// `EXTRA_COLUMN`: unset is the default; set and empty is none (unknown fields are dropped
/// and counted).
fn extra_column(lookup: &impl Fn(&str) -> Option<String>) -> Option<String> {
    match lookup("EXTRA_COLUMN") {
        None => Some(DEFAULT_EXTRA_COLUMN.to_owned()),
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v.trim().to_ascii_lowercase()),
    }
}

/// `FORMAT` and, for Parquet, its extra column and compression.
fn read_format(
    lookup: &impl Fn(&str) -> Option<String>,
    schema: Option<&Arc<TableSchema>>,
) -> Result<Format, ConfigError> {
    let format = cfg::optional(lookup, "FORMAT").unwrap_or_else(|| "ndjson".into());
    // Read (and validated) in either format, so a bad value fails at cold start.
    let compression = cfg::parsed_or(lookup, "PARQUET_COMPRESSION", ParquetCompression::Zstd)?;
    let extra_column = extra_column(lookup);
    match format.trim() {
        "ndjson" => Ok(Format::Ndjson),
        "parquet" => Ok(Format::Parquet(ParquetFormat {
            schema: schema.cloned().ok_or(ConfigError::Missing("SCHEMA"))?,
            extra_column,
            compression,
        })),
        other => Err(ConfigError::Invalid {
            name: "FORMAT",
            value: other.into(),
            reason: "ndjson or parquet".into(),
        }),
    }
}

/// The pointer's last token (`/customer/id` -> `id`), made safe for a key.
fn default_partition_name(pointer: &str) -> String {
    let last = pointer.rsplit('/').next().unwrap_or_default();
    let last = last.replace("~1", "/").replace("~0", "~");
    let safe = crate::key::safe_segment(&last, MAX_PARTITION_NAME_BYTES);
    if safe.is_empty() {
        "partition".to_owned()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use trickle_shared::config::map_lookup as lookup;

    #[test]
    fn requires_the_bucket_and_names_it() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("BUCKET_NAME"));
    }

    #[test]
    fn reads_defaults() {
        let c = Config::from_lookup(lookup(&[("BUCKET_NAME", "b")])).unwrap();
        assert_eq!(c.bucket, "b");
        assert_eq!(c.prefix, "");
        assert_eq!(c.error_prefix, "errors/");
        assert_eq!(c.state_prefix, "state/");
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.key_layout, KeyLayout::Firehose);
        assert_eq!(c.partitioning, None);
        assert_eq!(c.deadline_margin, DEFAULT_DEADLINE_MARGIN);
    }

    #[test]
    fn reads_partitioning_with_a_name_from_the_pointer() {
        let c = Config::from_lookup(lookup(&[
            ("BUCKET_NAME", "b"),
            ("OBJECT_PARTITION_POINTER", "/customer/id"),
            ("MAX_PARTITIONS", "7"),
            ("COMPRESSION", "zstd"),
            ("KEY_LAYOUT", "hive"),
        ]))
        .unwrap();
        let p = c.partitioning.unwrap();
        assert_eq!(p.name, "id");
        assert_eq!(p.max_partitions, 7);
        assert_eq!(p.default_value, DEFAULT_PARTITION_VALUE);
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(c.key_layout, KeyLayout::Hive);
    }

    #[test]
    fn rejects_invalid_values_naming_the_variable() {
        for (name, value) in [
            ("COMPRESSION", "brotli"),
            ("KEY_LAYOUT", "flat"),
            ("OBJECT_PARTITION_POINTER", "customer"),
            ("PREFIX", "/abs"),
        ] {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(vec![("BUCKET_NAME", "b"), (name, value)].into_boxed_slice());
            let err = Config::from_lookup(lookup(pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = Config::from_lookup(lookup(&[
            ("BUCKET_NAME", "b"),
            ("OBJECT_PARTITION_POINTER", "/c"),
            ("PARTITION_NAME", "a b"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("PARTITION_NAME"), "{err}");
    }

    #[test]
    fn reads_parquet_with_its_schema_extra_column_and_compression() {
        let c = Config::from_lookup(lookup(&[
            ("BUCKET_NAME", "b"),
            ("FORMAT", "parquet"),
            ("SCHEMA", "ts timestamp, User string"),
            ("PARQUET_COMPRESSION", "snappy"),
            ("GLUE_DATABASE", "db"),
            ("GLUE_TABLE", "Events"),
        ]))
        .unwrap();
        let Format::Parquet(p) = c.format else {
            panic!("parquet")
        };
        assert_eq!(p.schema.to_string(), "ts timestamp, user string");
        assert_eq!(p.extra_column.as_deref(), Some("_extra"));
        assert_eq!(p.compression, ParquetCompression::Snappy);
        assert_eq!(
            c.glue,
            Some(GlueTable {
                database: "db".into(),
                table: "events".into()
            })
        );
        // Set and empty: no extra column.
        let c = Config::from_lookup(lookup(&[
            ("BUCKET_NAME", "b"),
            ("FORMAT", "parquet"),
            ("SCHEMA", "a int"),
            ("EXTRA_COLUMN", ""),
        ]))
        .unwrap();
        assert!(matches!(
            c.format,
            Format::Parquet(ParquetFormat {
                extra_column: None,
                ..
            })
        ));
        let c = Config::from_lookup(lookup(&[("BUCKET_NAME", "b")])).unwrap();
        assert_eq!(c.format, Format::Ndjson);
    }

    #[test]
    fn bad_parquet_settings_fail_the_cold_start_naming_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("FORMAT", "parquet")], "SCHEMA"),
            (&[("FORMAT", "orc")], "FORMAT"),
            (
                &[("FORMAT", "parquet"), ("SCHEMA", "a int, b strng")],
                "at character 10",
            ),
            (
                &[("FORMAT", "parquet"), ("SCHEMA", "a int, A string")],
                "duplicate column `a`",
            ),
            (
                &[("FORMAT", "parquet"), ("SCHEMA", "a int, _extra string")],
                "clashes with the extra column",
            ),
            (
                &[("FORMAT", "parquet"), ("SCHEMA", "datehour string")],
                "clashes with the partition column",
            ),
            (
                &[
                    ("FORMAT", "parquet"),
                    ("SCHEMA", "year int"),
                    ("KEY_LAYOUT", "hive"),
                ],
                "clashes",
            ),
            (
                &[
                    ("FORMAT", "parquet"),
                    ("SCHEMA", "customer string"),
                    ("OBJECT_PARTITION_POINTER", "/customer"),
                ],
                "PARTITION_NAME",
            ),
            (
                &[
                    ("FORMAT", "parquet"),
                    ("SCHEMA", "a int"),
                    ("PARQUET_COMPRESSION", "lz4"),
                ],
                "PARQUET_COMPRESSION",
            ),
            (&[("GLUE_DATABASE", "db")], "GLUE_TABLE"),
            (&[("GLUE_DATABASE", "db"), ("GLUE_TABLE", "t")], "SCHEMA"),
        ];
        for (pairs, want) in cases {
            let mut all = vec![("BUCKET_NAME", "b")];
            all.extend_from_slice(pairs);
            let err = Config::from_lookup(trickle_shared::config::map_lookup(&all)).unwrap_err();
            assert!(err.to_string().contains(want), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn rejects_data_and_error_prefixes_whose_keys_could_meet() {
        for (data, error) in [
            ("raw/", "raw/"),
            ("raw/errors/", "raw/"),
            ("raw/", "raw/e/"),
            ("", "2024/"),
            ("", "c=x/"),
        ] {
            let pairs = [
                ("BUCKET_NAME", "b"),
                ("PREFIX", data),
                ("ERROR_PREFIX", error),
            ];
            let err = Config::from_lookup(|name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_err();
            assert!(
                err.to_string().contains("ERROR_PREFIX"),
                "{data:?} {error:?}: {err}"
            );
        }
        assert!(prefixes_apart("", "errors/").is_ok());
        assert!(prefixes_apart("raw/", "errors/").is_ok());
    }

    #[test]
    fn rejects_a_prefix_that_would_overflow_the_key_limit() {
        let long: &'static str = Box::leak("p".repeat(MAX_PREFIX_BYTES + 1).into_boxed_str());
        let pairs: &'static [(&'static str, &'static str)] =
            Box::leak(vec![("BUCKET_NAME", "b"), ("PREFIX", long)].into_boxed_slice());
        assert!(Config::from_lookup(lookup(pairs)).is_err());
    }

    #[test]
    fn the_old_name_is_refused_naming_the_new_one() {
        let err = Config::from_lookup(|name: &str| {
            (name == "PARTITION_POINTER").then(|| "/x".to_owned())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable PARTITION_POINTER was renamed: set OBJECT_PARTITION_POINTER instead"
        );
    }
}

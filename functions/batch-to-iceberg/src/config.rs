//! The function's configuration, read once at cold start (`Config::from_env`).

use crate::partition::PartitionSpecError;
use crate::route::{Router, TableSpec};
use trickle_columnar::TableSchema;
use trickle_shared::config::{optional, parsed_or, required, ConfigError};

/// `ERROR_PREFIX` when unset.
pub const DEFAULT_ERROR_PREFIX: &str = "iceberg-errors/";
/// `STATE_PREFIX` when unset.
pub const DEFAULT_STATE_PREFIX: &str = "iceberg-state/";
/// Commit attempts per invocation before the batch is reported for a retry (each conflict
/// re-reads the table and the checkpoint first; see `handler.rs`).
pub const DEFAULT_COMMIT_ATTEMPTS: u32 = 8;
/// The invocation stops retrying commits when less than this is left before its deadline,
/// so it can still answer (with `batchItemFailures`) instead of timing out.
pub const DEADLINE_MARGIN_MS: u64 = 5_000;

/// `ICEBERG_WAREHOUSE`: where new tables go (`s3://bucket/prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    pub bucket: String,
    /// No leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl Warehouse {
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .trim()
            .strip_prefix("s3://")
            .ok_or("expected s3://bucket/prefix")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("the bucket name is empty".into());
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    /// The location of a new table: `<warehouse>/<database>.db/<table>`, the layout of
    /// Iceberg's Glue and Hive catalogs.
    pub fn table_location(&self, database: &str, table: &str) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}/{database}.db/{table}", self.bucket)
        } else {
            format!("s3://{}/{}/{database}.db/{table}", self.bucket, self.prefix)
        }
    }
}

/// `ICEBERG_CATALOG`: which catalog holds the table's metadata location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogKind {
    /// The Glue Data Catalog (default): the table in `ICEBERG_DATABASE`, a new one under
    /// `ICEBERG_WAREHOUSE`.
    Glue { warehouse: Warehouse },
    /// Amazon S3 Tables: the table in namespace `ICEBERG_DATABASE` of the table bucket
    /// `ICEBERG_TABLE_BUCKET_ARN`, which chooses its location.
    S3Tables { table_bucket_arn: String },
}

/// Environment variables renamed (old, new): refused at cold start, naming the new one
/// (docs/reference/parameters.md#renamed-settings).
pub const RENAMED: &[(&str, &str)] = &[("ICEBERG_PARTITION", "ICEBERG_PARTITION_SPEC")];

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ICEBERG_DATABASE`: the Glue database (the S3 Tables namespace) of the tables (it
    /// must exist).
    pub database: String,
    /// The tables, each created at its first batch if missing: `ICEBERG_TABLE` with
    /// `SCHEMA` (the columns of a new table; an existing table's own schema is always the
    /// truth) and `ICEBERG_PARTITION_SPEC` (e.g. `hour(ts)`); or those `ICEBERG_ROUTES`
    /// names (`route.rs`).
    pub tables: Vec<TableSpec>,
    /// `ICEBERG_ROUTE_POINTER` with `ICEBERG_ROUTES`: which table each record goes to.
    /// `None`: every record goes to the one table.
    pub router: Option<Router>,
    /// `ICEBERG_CATALOG` (`glue`, the default, or `s3tables`) and where a new table goes.
    pub catalog: CatalogKind,
    /// `EXTRA_COLUMN`: a string column that keeps the fields the table does not have (as
    /// one JSON object). Unset: they are dropped and counted (`FieldsDropped`).
    pub extra_column: Option<String>,
    /// `ERROR_BUCKET`: where records that do not fit the table go.
    pub error_bucket: String,
    /// `ERROR_PREFIX` (default `iceberg-errors/`).
    pub error_prefix: String,
    /// `STATE_PREFIX` (default `iceberg-state/`), in `ERROR_BUCKET`: the identity windows
    /// of keyed requests' records (`trickle_kinesis_batch::identities`), two slots per table
    /// and shard.
    pub state_prefix: String,
    /// `COMMIT_ATTEMPTS` (default 8).
    pub commit_attempts: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(trickle_shared::config::env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        trickle_shared::config::refuse_renamed(&lookup, RENAMED)?;
        let database = glue_name(&lookup, "ICEBERG_DATABASE")?;
        let catalog = match optional(&lookup, "ICEBERG_CATALOG")
            .map(|c| c.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("glue") => {
                let text = required(&lookup, "ICEBERG_WAREHOUSE")?;
                let warehouse = Warehouse::parse(&text).map_err(|reason| ConfigError::Invalid {
                    name: "ICEBERG_WAREHOUSE",
                    value: text.clone(),
                    reason,
                })?;
                CatalogKind::Glue { warehouse }
            }
            Some("s3tables") => {
                let arn = required(&lookup, "ICEBERG_TABLE_BUCKET_ARN")?
                    .trim()
                    .to_owned();
                let looks_right = arn.starts_with("arn:")
                    && arn.contains(":s3tables:")
                    && arn.contains(":bucket/");
                if !looks_right {
                    return Err(ConfigError::Invalid {
                        name: "ICEBERG_TABLE_BUCKET_ARN",
                        value: arn,
                        reason: "expected arn:aws:s3tables:<region>:<account>:bucket/<name>".into(),
                    });
                }
                CatalogKind::S3Tables {
                    table_bucket_arn: arn,
                }
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "ICEBERG_CATALOG",
                    value: other.to_owned(),
                    reason: "glue or s3tables".into(),
                })
            }
        };
        let schema = match optional(&lookup, "SCHEMA") {
            None => None,
            Some(text) => {
                Some(
                    TableSchema::from_setting(&text).map_err(|e| ConfigError::Invalid {
                        name: "SCHEMA",
                        value: text.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
        };
        let partition = match optional(&lookup, "ICEBERG_PARTITION_SPEC") {
            None => Vec::new(),
            Some(text) => {
                let fields =
                    crate::partition::parse(&text).map_err(|e| invalid_partition(&text, e))?;
                if let Some(schema) = &schema {
                    crate::partition::check_sources(&fields, schema)
                        .map_err(|e| invalid_partition(&text, e))?;
                }
                fields
            }
        };
        let (tables, router) = tables(&lookup, schema, partition)?;
        let extra_column = optional(&lookup, "EXTRA_COLUMN").map(|c| c.trim().to_owned());
        let error_bucket = required(&lookup, "ERROR_BUCKET")?;
        let mut error_prefix =
            optional(&lookup, "ERROR_PREFIX").unwrap_or_else(|| DEFAULT_ERROR_PREFIX.to_owned());
        if !error_prefix.ends_with('/') {
            error_prefix.push('/');
        }
        let mut state_prefix =
            optional(&lookup, "STATE_PREFIX").unwrap_or_else(|| DEFAULT_STATE_PREFIX.to_owned());
        if !state_prefix.ends_with('/') {
            state_prefix.push('/');
        }
        let commit_attempts = parsed_or(&lookup, "COMMIT_ATTEMPTS", DEFAULT_COMMIT_ATTEMPTS)?;
        if commit_attempts == 0 {
            return Err(ConfigError::Invalid {
                name: "COMMIT_ATTEMPTS",
                value: "0".into(),
                reason: "at least 1".into(),
            });
        }
        Ok(Self {
            database,
            tables,
            router,
            catalog,
            extra_column,
            error_bucket,
            error_prefix,
            state_prefix,
            commit_attempts,
        })
    }

    /// Where the new table `table` goes in the warehouse layout (S3 Tables chooses its
    /// own: empty).
    pub fn table_location(&self, table: &str) -> String {
        match &self.catalog {
            CatalogKind::Glue { warehouse } => warehouse.table_location(&self.database, table),
            CatalogKind::S3Tables { .. } => String::new(),
        }
    }
}

/// The one table (`ICEBERG_TABLE`), or the routed ones (`ICEBERG_ROUTE_POINTER`,
/// `ICEBERG_ROUTES`): exactly one of the two is set.
fn tables(
    lookup: &impl Fn(&str) -> Option<String>,
    schema: Option<TableSchema>,
    partition: Vec<crate::partition::PartitionField>,
) -> Result<(Vec<TableSpec>, Option<Router>), ConfigError> {
    let routes = optional(lookup, "ICEBERG_ROUTES");
    let pointer = optional(lookup, "ICEBERG_ROUTE_POINTER").map(|p| p.trim().to_owned());
    let Some(text) = routes else {
        if let Some(pointer) = pointer {
            return Err(ConfigError::Invalid {
                name: "ICEBERG_ROUTE_POINTER",
                value: pointer,
                reason: "set ICEBERG_ROUTES too, the tables its values name".into(),
            });
        }
        let table = glue_name(lookup, "ICEBERG_TABLE")?;
        return Ok((
            vec![TableSpec {
                name: table,
                schema,
                partition,
            }],
            None,
        ));
    };
    if let Some(table) = optional(lookup, "ICEBERG_TABLE") {
        return Err(ConfigError::Invalid {
            name: "ICEBERG_TABLE",
            value: table,
            reason: "unset it when ICEBERG_ROUTES names the tables".into(),
        });
    }
    let pointer = match pointer {
        Some(p) if p.starts_with('/') => p,
        Some(p) => {
            return Err(ConfigError::Invalid {
                name: "ICEBERG_ROUTE_POINTER",
                value: p,
                reason: "a JSON pointer, e.g. /signal".into(),
            })
        }
        None => return Err(ConfigError::Missing("ICEBERG_ROUTE_POINTER")),
    };
    let invalid = |reason: String| ConfigError::Invalid {
        name: "ICEBERG_ROUTES",
        value: text.clone(),
        reason,
    };
    let routes = crate::route::parse(&text).map_err(|e| invalid(e.to_string()))?;
    let (tables, router) =
        crate::route::tables(&pointer, routes, schema.as_ref(), &partition).map_err(invalid)?;
    Ok((tables, Some(router)))
}

fn invalid_partition(text: &str, e: PartitionSpecError) -> ConfigError {
    ConfigError::Invalid {
        name: "ICEBERG_PARTITION_SPEC",
        value: text.to_owned(),
        reason: e.to_string(),
    }
}

/// Glue names: 1-255 characters, lower case letters, digits and `_` (Athena's rule, and
/// what Glue stores: it lower-cases anything else).
fn glue_name(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    let value = required(lookup, name)?.trim().to_owned();
    if crate::route::is_glue_name(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            value,
            reason: "lower-case letters, digits and _ only (at most 255)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trickle_shared::config::map_lookup;

    const BASE: [(&str, &str); 4] = [
        ("ICEBERG_DATABASE", "analytics"),
        ("ICEBERG_TABLE", "events"),
        ("ICEBERG_WAREHOUSE", "s3://lake/warehouse/"),
        ("ERROR_BUCKET", "lake"),
    ];

    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        Config::from_lookup(map_lookup(&pairs))
    }

    #[test]
    fn reads_the_minimal_configuration_with_defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(
            c.table_location("events"),
            "s3://lake/warehouse/analytics.db/events"
        );
        assert_eq!(c.error_prefix, DEFAULT_ERROR_PREFIX);
        assert_eq!(c.commit_attempts, DEFAULT_COMMIT_ATTEMPTS);
        assert_eq!(c.tables.len(), 1);
        let t = &c.tables[0];
        assert_eq!(t.name, "events");
        assert!(t.schema.is_none() && t.partition.is_empty() && c.extra_column.is_none());
        assert!(c.router.is_none());
    }

    #[test]
    fn names_each_missing_variable() {
        for missing in [
            "ICEBERG_DATABASE",
            "ICEBERG_TABLE",
            "ICEBERG_WAREHOUSE",
            "ERROR_BUCKET",
        ] {
            let pairs: Vec<_> = BASE
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            assert_eq!(
                Config::from_lookup(map_lookup(&pairs)),
                Err(ConfigError::Missing(missing))
            );
        }
    }

    #[test]
    fn refuses_a_warehouse_that_is_not_s3() {
        let e = with(&[("ICEBERG_WAREHOUSE", "lake/warehouse")]).unwrap_err();
        assert!(e.to_string().contains("ICEBERG_WAREHOUSE"), "{e}");
        assert_eq!(
            Warehouse::parse("s3://lake")
                .unwrap()
                .table_location("d", "t"),
            "s3://lake/d.db/t"
        );
    }

    #[test]
    fn s3_tables_needs_a_table_bucket_arn_and_no_warehouse() {
        let pairs = [
            ("ICEBERG_CATALOG", "s3tables"),
            ("ICEBERG_DATABASE", "analytics"),
            ("ICEBERG_TABLE", "events"),
            ("ERROR_BUCKET", "lake"),
        ];
        assert_eq!(
            Config::from_lookup(map_lookup(&pairs)),
            Err(ConfigError::Missing("ICEBERG_TABLE_BUCKET_ARN"))
        );
        let mut with_arn = pairs.to_vec();
        with_arn.push((
            "ICEBERG_TABLE_BUCKET_ARN",
            "arn:aws:s3tables:us-east-1:123456789012:bucket/lake",
        ));
        let c = Config::from_lookup(map_lookup(&with_arn)).unwrap();
        assert!(matches!(c.catalog, CatalogKind::S3Tables { .. }));
        let mut bad = pairs.to_vec();
        bad.push(("ICEBERG_TABLE_BUCKET_ARN", "lake"));
        assert!(Config::from_lookup(map_lookup(&bad)).is_err());
        assert!(with(&[("ICEBERG_CATALOG", "hive")]).is_err());
    }

    #[test]
    fn refuses_glue_names_glue_would_change() {
        let e = with(&[("ICEBERG_TABLE", "Events")]).unwrap_err();
        assert!(e.to_string().contains("ICEBERG_TABLE"), "{e}");
    }

    #[test]
    fn refuses_a_partition_on_a_column_the_schema_lacks() {
        let e = with(&[
            ("SCHEMA", "ts timestamp, user string"),
            ("ICEBERG_PARTITION_SPEC", "hour(when)"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("when"), "{e}");
        let c = with(&[
            ("SCHEMA", "ts timestamp, user string"),
            ("ICEBERG_PARTITION_SPEC", "day(ts), bucket(16, user)"),
        ])
        .unwrap();
        assert_eq!(c.tables[0].partition.len(), 2);
    }

    #[test]
    fn a_ready_schema_is_named() {
        let c = with(&[("SCHEMA", "otel_logs")]).unwrap();
        assert_eq!(
            c.tables[0].schema,
            Some(TableSchema::from_setting("otel_logs").unwrap())
        );
    }

    fn routed(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut pairs: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "ICEBERG_TABLE")
            .collect();
        pairs.extend_from_slice(extra);
        Config::from_lookup(map_lookup(&pairs))
    }

    #[test]
    fn routes_name_the_tables_instead_of_iceberg_table() {
        let c = routed(&[
            ("ICEBERG_ROUTE_POINTER", "/signal"),
            (
                "ICEBERG_ROUTES",
                "logs: otel_logs schema otel_logs partition day(timestamp); traces: otel_traces schema otel_traces",
            ),
        ])
        .unwrap();
        let names: Vec<&str> = c.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["otel_logs", "otel_traces"]);
        assert_eq!(c.tables[0].partition.len(), 1);
        assert!(c.tables[1].partition.is_empty());
        assert_eq!(c.router.as_ref().unwrap().pointer, "/signal");
    }

    #[test]
    fn routing_settings_come_together_and_never_with_iceberg_table() {
        let routes = ("ICEBERG_ROUTES", "logs: otel_logs");
        let pointer = ("ICEBERG_ROUTE_POINTER", "/signal");
        assert_eq!(
            routed(&[routes]),
            Err(ConfigError::Missing("ICEBERG_ROUTE_POINTER"))
        );
        let e = with(&[pointer]).unwrap_err().to_string();
        assert!(e.contains("ICEBERG_ROUTES"), "{e}");
        let e = with(&[pointer, routes]).unwrap_err().to_string();
        assert!(e.contains("unset it"), "{e}");
        let e = routed(&[("ICEBERG_ROUTE_POINTER", "signal"), routes])
            .unwrap_err()
            .to_string();
        assert!(e.contains("JSON pointer"), "{e}");
        let e = routed(&[pointer, ("ICEBERG_ROUTES", "logs: Logs")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ICEBERG_ROUTES") && e.contains("route 1"), "{e}");
    }

    #[test]
    fn refuses_a_schema_that_does_not_parse() {
        let e = with(&[("SCHEMA", "ts timestampz")]).unwrap_err();
        assert!(e.to_string().contains("SCHEMA"), "{e}");
    }

    #[test]
    fn the_error_prefix_ends_with_a_slash() {
        assert_eq!(
            with(&[("ERROR_PREFIX", "bad")]).unwrap().error_prefix,
            "bad/"
        );
    }

    #[test]
    fn the_old_name_is_refused_naming_the_new_one() {
        let err =
            Config::from_lookup(|name: &str| (name == "ICEBERG_PARTITION").then(|| "x".to_owned()))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ICEBERG_PARTITION was renamed: set ICEBERG_PARTITION_SPEC instead"
        );
    }
}

//! The Glue table that describes the data objects, as plain data (no SDK, no I/O): what the
//! table should be for a configuration (`table_definition`), and what to change in a table
//! that already exists (`reconcile`). `glue/` reads and writes it.
//!
//! - Columns: `SCHEMA`'s, then the extra column (Parquet with `EXTRA_COLUMN` only: NDJSON
//!   keeps unknown fields in the line itself), typed as Athena writes types.
//! - Partition keys, all `string`: the `PARTITION_NAME` column first when partitioning is on,
//!   then `datehour` (firehose key layout) or `year`, `month`, `day`, `hour` (hive).
//! - Athena partition projection: Athena computes the partitions of a query from the table's
//!   parameters, so no crawler, `MSCK REPAIR TABLE` or `ADD PARTITION` is ever needed for a
//!   new hour or a new partition value. `storage.location.template` spells the key layout of
//!   `key.rs`. The `PARTITION_NAME` column is `injected`: a query must name its value(s) in
//!   `WHERE` (Athena refuses to scan all values of an injected column), which is what keeps
//!   an unbounded set of values cheap.
//! - An existing table is only ever extended: columns `SCHEMA` gained are appended; a column
//!   is never dropped or retyped (data already written would no longer read), so a column
//!   whose type differs is reported as a conflict and left as it is.

use crate::config::{Config, Format, FIREHOSE_LAYOUT_COLUMN, HIVE_LAYOUT_COLUMNS};
use crate::key::KeyLayout;
use std::collections::BTreeMap;
use trickle_columnar::TableSchema;

/// Glue's `TableType` of a table over files that Glue does not manage.
pub const TABLE_TYPE_EXTERNAL: &str = "EXTERNAL_TABLE";

/// Parquet: the Hive SerDe and formats Athena reads Parquet tables with.
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const PARQUET_INPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";

/// NDJSON: the OpenX JSON SerDe over text files (Athena decompresses `.gz` and `.zst` by the
/// extension).
pub const JSON_SERDE: &str = "org.openx.data.jsonserde.JsonSerDe";
pub const TEXT_INPUT_FORMAT: &str = "org.apache.hadoop.mapred.TextInputFormat";
pub const TEXT_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
/// The JSON SerDe parameter that maps JSON keys to columns regardless of case. Malformed
/// JSON is *not* ignored (the SerDe's default): such lines go to error objects before they
/// are written, so one in a data object is a bug worth a failed query.
pub const JSON_CASE_INSENSITIVE: &str = "case.insensitive";

/// The type of every partition column, and of the extra column.
pub const PARTITION_COLUMN_TYPE: &str = "string";
pub const EXTRA_COLUMN_TYPE: &str = "string";

/// Table parameters.
pub const PARAM_CLASSIFICATION: &str = "classification";
pub const CLASSIFICATION_PARQUET: &str = "parquet";
pub const CLASSIFICATION_JSON: &str = "json";
pub const PARAM_EXTERNAL: &str = "EXTERNAL";
pub const EXTERNAL_TRUE: &str = "TRUE";
/// The `SCHEMA` the table was made from, as `TableSchema` renders it.
pub const PARAM_SCHEMA: &str = "trickle.schema";
pub const PARAM_PROJECTION_ENABLED: &str = "projection.enabled";
pub const PARAM_LOCATION_TEMPLATE: &str = "storage.location.template";

/// Partition projection: the property names under `projection.<column>.`, and their values.
pub const PROJECTION_TYPE: &str = "type";
pub const PROJECTION_FORMAT: &str = "format";
pub const PROJECTION_RANGE: &str = "range";
pub const PROJECTION_INTERVAL: &str = "interval";
pub const PROJECTION_INTERVAL_UNIT: &str = "interval.unit";
pub const PROJECTION_DIGITS: &str = "digits";
pub const PROJECTION_DATE: &str = "date";
pub const PROJECTION_INTEGER: &str = "integer";
pub const PROJECTION_INJECTED: &str = "injected";
/// `datehour` (firehose layout): `YYYY/MM/DD/HH/` is one date-typed column, hourly, from 2020
/// (before any record this function can see) to the current hour.
pub const DATEHOUR_FORMAT: &str = "yyyy/MM/dd/HH";
pub const DATEHOUR_RANGE: &str = "2020/01/01/00,NOW";
pub const DATEHOUR_INTERVAL: &str = "1";
pub const DATEHOUR_INTERVAL_UNIT: &str = "HOURS";
/// The hive layout's integer columns: range, and zero-padded width where the key pads.
pub const YEAR_RANGE: &str = "2020,2100";
pub const MONTH_RANGE: &str = "1,12";
pub const DAY_RANGE: &str = "1,31";
pub const HOUR_RANGE: &str = "0,23";
pub const TWO_DIGITS: &str = "2";

/// One column: its name and its Glue type (`array<struct<lat:double>>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: String,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>, ty: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ty: ty.into(),
        }
    }
}

/// A Glue table, as far as this function cares (an empty string: not set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    pub table_type: String,
    pub columns: Vec<ColumnDef>,
    pub partition_keys: Vec<ColumnDef>,
    pub location: String,
    pub serde_library: String,
    pub serde_parameters: BTreeMap<String, String>,
    pub input_format: String,
    pub output_format: String,
    pub parameters: BTreeMap<String, String>,
}

/// What to change in an existing table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconcile {
    /// Wanted columns the table lacks, to append in this order.
    pub add: Vec<ColumnDef>,
    /// Columns whose type in the table differs from the wanted one: left as they are.
    pub conflicts: Vec<TypeConflict>,
}

/// A column typed differently in the table than in `SCHEMA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeConflict {
    pub column: String,
    /// The type in the table.
    pub existing: String,
    /// The type `SCHEMA` gives it.
    pub wanted: String,
}

/// The table this configuration's objects make up; `None` unless both `GLUE_TABLE` and
/// `SCHEMA` are set (`Config::from_lookup` refuses the first without the second).
pub fn table_definition(config: &Config) -> Option<TableDef> {
    let glue = config.glue.as_ref()?;
    let schema = config.schema.as_deref()?;
    let mut columns = schema_columns(schema);
    let (serde_library, input_format, output_format, classification, serde_parameters) =
        match &config.format {
            Format::Parquet(p) => {
                if let Some(extra) = &p.extra_column {
                    columns.push(ColumnDef::new(extra, EXTRA_COLUMN_TYPE));
                }
                (
                    PARQUET_SERDE,
                    PARQUET_INPUT_FORMAT,
                    PARQUET_OUTPUT_FORMAT,
                    CLASSIFICATION_PARQUET,
                    BTreeMap::new(),
                )
            }
            Format::Ndjson => (
                JSON_SERDE,
                TEXT_INPUT_FORMAT,
                TEXT_OUTPUT_FORMAT,
                CLASSIFICATION_JSON,
                BTreeMap::from([(JSON_CASE_INSENSITIVE.to_owned(), "true".to_owned())]),
            ),
        };

    let location = format!("s3://{}/{}", config.bucket, config.prefix);
    let mut template = location.clone();
    let mut partition_keys = Vec::new();
    let mut parameters = BTreeMap::new();
    let mut set = |key: String, value: &str| {
        parameters.insert(key, value.to_owned());
    };
    if let Some(p) = &config.partitioning {
        // The key segment keeps PARTITION_NAME's case; Glue stores column names lower-cased.
        let column = p.name.to_ascii_lowercase();
        template.push_str(&format!("{}=${{{column}}}/", p.name));
        set(projection(&column, PROJECTION_TYPE), PROJECTION_INJECTED);
        partition_keys.push(ColumnDef::new(column, PARTITION_COLUMN_TYPE));
    }
    match config.key_layout {
        KeyLayout::Firehose => {
            let c = FIREHOSE_LAYOUT_COLUMN;
            template.push_str(&format!("${{{c}}}/"));
            set(projection(c, PROJECTION_TYPE), PROJECTION_DATE);
            set(projection(c, PROJECTION_FORMAT), DATEHOUR_FORMAT);
            set(projection(c, PROJECTION_RANGE), DATEHOUR_RANGE);
            set(projection(c, PROJECTION_INTERVAL), DATEHOUR_INTERVAL);
            set(
                projection(c, PROJECTION_INTERVAL_UNIT),
                DATEHOUR_INTERVAL_UNIT,
            );
            partition_keys.push(ColumnDef::new(c, PARTITION_COLUMN_TYPE));
        }
        KeyLayout::Hive => {
            let ranges = [YEAR_RANGE, MONTH_RANGE, DAY_RANGE, HOUR_RANGE];
            for (i, (c, range)) in HIVE_LAYOUT_COLUMNS.iter().zip(ranges).enumerate() {
                template.push_str(&format!("{c}=${{{c}}}/"));
                set(projection(c, PROJECTION_TYPE), PROJECTION_INTEGER);
                set(projection(c, PROJECTION_RANGE), range);
                // The year is four digits by itself; month, day and hour are zero-padded.
                if i > 0 {
                    set(projection(c, PROJECTION_DIGITS), TWO_DIGITS);
                }
                partition_keys.push(ColumnDef::new(*c, PARTITION_COLUMN_TYPE));
            }
        }
    }
    set(PARAM_PROJECTION_ENABLED.to_owned(), "true");
    set(PARAM_LOCATION_TEMPLATE.to_owned(), &template);
    set(PARAM_CLASSIFICATION.to_owned(), classification);
    set(PARAM_EXTERNAL.to_owned(), EXTERNAL_TRUE);
    set(PARAM_SCHEMA.to_owned(), &schema.to_string());

    Some(TableDef {
        name: glue.table.clone(),
        table_type: TABLE_TYPE_EXTERNAL.to_owned(),
        columns,
        partition_keys,
        location,
        serde_library: serde_library.to_owned(),
        serde_parameters,
        input_format: input_format.to_owned(),
        output_format: output_format.to_owned(),
        parameters,
    })
}

/// What to change in `existing` so that it has every column of `wanted`: the columns it
/// lacks (in `wanted`'s order) and those it types differently. Columns only in `existing`
/// stay, and a wanted column that `existing` has as a partition key counts as present (Glue
/// refuses a column and a partition key of the same name). Names compare case-insensitively
/// (Glue lower-cases them), types by meaning (`INT` = `integer` = `int`).
pub fn reconcile(wanted: &TableDef, existing: &TableDef) -> Reconcile {
    let mut out = Reconcile::default();
    for w in &wanted.columns {
        let found = existing
            .columns
            .iter()
            .chain(&existing.partition_keys)
            .find(|e| e.name.eq_ignore_ascii_case(&w.name));
        match found {
            None => out.add.push(w.clone()),
            Some(e) if canonical_type(&e.ty) == canonical_type(&w.ty) => {}
            Some(e) => out.conflicts.push(TypeConflict {
                column: w.name.clone(),
                existing: e.ty.clone(),
                wanted: w.ty.clone(),
            }),
        }
    }
    out
}

/// `existing` with the columns of `change` appended and the `SCHEMA` it now holds recorded
/// in `trickle.schema`; every other property is kept as it is.
pub fn extended(existing: &TableDef, wanted: &TableDef, change: &Reconcile) -> TableDef {
    let mut table = existing.clone();
    table.columns.extend(change.add.iter().cloned());
    if let Some(schema) = wanted.parameters.get(PARAM_SCHEMA) {
        table
            .parameters
            .insert(PARAM_SCHEMA.to_owned(), schema.clone());
    }
    table
}

/// `SCHEMA`'s columns with their Glue types.
fn schema_columns(schema: &TableSchema) -> Vec<ColumnDef> {
    schema
        .columns
        .iter()
        .map(|c| ColumnDef::new(&c.name, c.ty.to_string()))
        .collect()
}

/// `projection.<column>.<property>`.
pub fn projection(column: &str, property: &str) -> String {
    format!("projection.{column}.{property}")
}

/// A type as `SCHEMA`'s parser reads it and Athena writes it, so that spellings of the same
/// type compare equal; a type the parser does not know compares as written, without case
/// or spaces.
fn canonical_type(ty: &str) -> String {
    match TableSchema::parse(&format!("c {ty}")) {
        Ok(s) if s.columns.len() == 1 => s.columns[0].ty.to_string(),
        _ => ty
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trickle_shared::config::map_lookup;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut all = vec![
            ("BUCKET_NAME", "bkt"),
            ("PREFIX", "raw/"),
            ("GLUE_DATABASE", "db"),
            ("GLUE_TABLE", "Events"),
            (
                "SCHEMA",
                "ts timestamp, user string, geo array<struct<lat:double>>",
            ),
        ];
        all.extend_from_slice(pairs);
        Config::from_lookup(map_lookup(&all)).expect("config")
    }

    fn def(pairs: &[(&str, &str)]) -> TableDef {
        table_definition(&config(pairs)).expect("a table")
    }

    fn names(columns: &[ColumnDef]) -> Vec<&str> {
        columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn param<'a>(t: &'a TableDef, key: &str) -> Option<&'a str> {
        t.parameters.get(key).map(String::as_str)
    }

    #[test]
    fn parquet_with_the_firehose_layout_projects_datehour() {
        let t = def(&[("FORMAT", "parquet")]);
        assert_eq!(t.name, "events");
        assert_eq!(t.table_type, "EXTERNAL_TABLE");
        assert_eq!(
            t.columns,
            [
                ColumnDef::new("ts", "timestamp"),
                ColumnDef::new("user", "string"),
                ColumnDef::new("geo", "array<struct<lat:double>>"),
                ColumnDef::new("_extra", "string"),
            ]
        );
        assert_eq!(t.partition_keys, [ColumnDef::new("datehour", "string")]);
        assert_eq!(t.location, "s3://bkt/raw/");
        assert_eq!(t.serde_library, PARQUET_SERDE);
        assert_eq!(t.input_format, PARQUET_INPUT_FORMAT);
        assert_eq!(t.output_format, PARQUET_OUTPUT_FORMAT);
        assert!(t.serde_parameters.is_empty());
        let expected: BTreeMap<String, String> = [
            ("EXTERNAL", "TRUE"),
            ("classification", "parquet"),
            ("projection.enabled", "true"),
            ("projection.datehour.type", "date"),
            ("projection.datehour.format", "yyyy/MM/dd/HH"),
            ("projection.datehour.range", "2020/01/01/00,NOW"),
            ("projection.datehour.interval", "1"),
            ("projection.datehour.interval.unit", "HOURS"),
            ("storage.location.template", "s3://bkt/raw/${datehour}/"),
            (
                "trickle.schema",
                "ts timestamp, user string, geo array<struct<lat:double>>",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(t.parameters, expected);
    }

    #[test]
    fn parquet_without_an_extra_column_has_only_the_schema_columns() {
        let t = def(&[("FORMAT", "parquet"), ("EXTRA_COLUMN", "")]);
        assert_eq!(names(&t.columns), ["ts", "user", "geo"]);
        let t = def(&[("FORMAT", "parquet"), ("EXTRA_COLUMN", "Rest")]);
        assert_eq!(names(&t.columns), ["ts", "user", "geo", "rest"]);
    }

    #[test]
    fn ndjson_uses_the_json_serde_and_no_extra_column() {
        let t = def(&[]);
        assert_eq!(names(&t.columns), ["ts", "user", "geo"]);
        assert_eq!(t.serde_library, JSON_SERDE);
        assert_eq!(t.input_format, TEXT_INPUT_FORMAT);
        assert_eq!(t.output_format, TEXT_OUTPUT_FORMAT);
        assert_eq!(
            t.serde_parameters,
            BTreeMap::from([("case.insensitive".to_owned(), "true".to_owned())])
        );
        assert_eq!(param(&t, "classification"), Some("json"));
        assert!(!t.serde_parameters.contains_key("ignore.malformed.json"));
    }

    #[test]
    fn hive_layout_projects_four_integer_columns() {
        let t = def(&[("KEY_LAYOUT", "hive")]);
        assert_eq!(names(&t.partition_keys), ["year", "month", "day", "hour"]);
        assert!(t.partition_keys.iter().all(|c| c.ty == "string"));
        for (c, range) in [
            ("year", "2020,2100"),
            ("month", "1,12"),
            ("day", "1,31"),
            ("hour", "0,23"),
        ] {
            assert_eq!(param(&t, &format!("projection.{c}.type")), Some("integer"));
            assert_eq!(param(&t, &format!("projection.{c}.range")), Some(range));
        }
        assert_eq!(param(&t, "projection.year.digits"), None);
        for c in ["month", "day", "hour"] {
            assert_eq!(param(&t, &format!("projection.{c}.digits")), Some("2"));
        }
        assert!(!t.parameters.keys().any(|k| k.contains("datehour")));
        assert_eq!(
            param(&t, "storage.location.template"),
            Some("s3://bkt/raw/year=${year}/month=${month}/day=${day}/hour=${hour}/")
        );
    }

    #[test]
    fn partitioning_puts_an_injected_column_first() {
        let t = def(&[
            ("OBJECT_PARTITION_POINTER", "/customer/id"),
            ("PARTITION_NAME", "Tenant"),
        ]);
        assert_eq!(names(&t.partition_keys), ["tenant", "datehour"]);
        assert_eq!(param(&t, "projection.tenant.type"), Some("injected"));
        // The key segment keeps the name's case, the column is lower-case.
        assert_eq!(
            param(&t, "storage.location.template"),
            Some("s3://bkt/raw/Tenant=${tenant}/${datehour}/")
        );
        let t = def(&[
            ("OBJECT_PARTITION_POINTER", "/customer"),
            ("KEY_LAYOUT", "hive"),
        ]);
        assert_eq!(
            names(&t.partition_keys),
            ["customer", "year", "month", "day", "hour"]
        );
        assert_eq!(
            param(&t, "storage.location.template"),
            Some("s3://bkt/raw/customer=${customer}/year=${year}/month=${month}/day=${day}/hour=${hour}/")
        );
    }

    #[test]
    fn an_empty_prefix_puts_the_table_at_the_bucket_root() {
        let t = def(&[("PREFIX", "")]);
        assert_eq!(t.location, "s3://bkt/");
        assert_eq!(
            param(&t, "storage.location.template"),
            Some("s3://bkt/${datehour}/")
        );
    }

    #[test]
    fn no_table_without_glue_settings() {
        let c =
            Config::from_lookup(map_lookup(&[("BUCKET_NAME", "b"), ("SCHEMA", "a int")])).unwrap();
        assert_eq!(table_definition(&c), None);
    }

    #[test]
    fn a_matching_table_needs_nothing() {
        let t = def(&[("FORMAT", "parquet")]);
        assert_eq!(reconcile(&t, &t), Reconcile::default());
    }

    #[test]
    fn appends_a_gained_column_and_keeps_columns_schema_lost() {
        let old = def(&[("FORMAT", "parquet"), ("SCHEMA", "a int, gone string")]);
        let new = def(&[("FORMAT", "parquet"), ("SCHEMA", "a int, b decimal(10,2)")]);
        let r = reconcile(&new, &old);
        assert_eq!(r.add, [ColumnDef::new("b", "decimal(10,2)")]);
        assert!(r.conflicts.is_empty());
        let t = extended(&old, &new, &r);
        assert_eq!(names(&t.columns), ["a", "gone", "_extra", "b"]);
        assert_eq!(param(&t, "trickle.schema"), Some("a int, b decimal(10,2)"));
        assert_eq!(t.partition_keys, old.partition_keys);
        assert_eq!(t.location, old.location);
    }

    #[test]
    fn reports_a_retyped_column_and_leaves_it() {
        let old = def(&[("SCHEMA", "a int, b string")]);
        let new = def(&[("SCHEMA", "a bigint, b string, c date")]);
        let r = reconcile(&new, &old);
        assert_eq!(
            r.conflicts,
            [TypeConflict {
                column: "a".into(),
                existing: "int".into(),
                wanted: "bigint".into(),
            }]
        );
        assert_eq!(r.add, [ColumnDef::new("c", "date")]);
        let t = extended(&old, &new, &r);
        assert_eq!(t.columns[0], ColumnDef::new("a", "int"));
    }

    #[test]
    fn compares_names_without_case_and_types_by_meaning() {
        let wanted = def(&[("SCHEMA", "a int, s struct<x:decimal(10,2)>, v string")]);
        let mut existing = wanted.clone();
        existing.columns = vec![
            ColumnDef::new("A", "INTEGER"),
            ColumnDef::new("s", "struct<x: decimal(10, 2)>"),
            ColumnDef::new("v", "varchar(20)"),
        ];
        assert_eq!(reconcile(&wanted, &existing), Reconcile::default());
        existing.columns[2].ty = "some_custom<type>".into();
        assert_eq!(reconcile(&wanted, &existing).conflicts.len(), 1);
    }

    #[test]
    fn a_wanted_column_that_is_a_partition_key_is_not_added() {
        let wanted = def(&[("SCHEMA", "a int, region string")]);
        let mut existing = wanted.clone();
        existing.columns.retain(|c| c.name != "region");
        existing
            .partition_keys
            .insert(0, ColumnDef::new("region", "string"));
        assert_eq!(reconcile(&wanted, &existing), Reconcile::default());
    }
}

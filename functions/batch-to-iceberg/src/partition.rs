//! `ICEBERG_PARTITION_SPEC`: the partition spec of a table the function creates, written as
//! Iceberg's transforms over columns: `hour(ts)`, `day(ts), identity(customer)`,
//! `bucket(16, user)`, `truncate(4, name)`, `year(ts)`, `month(ts)`, or a bare column name
//! (identity). Hidden partitioning: readers filter on the column, not on a path.

use iceberg::spec::Transform;
use trickle_columnar::{ColumnType, TableSchema};

/// One partition field: a transform of a source column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionField {
    pub transform: Transform,
    /// The source column (top level, as in `SCHEMA`).
    pub source: String,
}

impl PartitionField {
    /// The partition field's name, as Spark and pyiceberg name them (`ts_hour`,
    /// `user_bucket`, `customer`).
    pub fn name(&self) -> String {
        match self.transform {
            Transform::Identity => self.source.clone(),
            Transform::Year => format!("{}_year", self.source),
            Transform::Month => format!("{}_month", self.source),
            Transform::Day => format!("{}_day", self.source),
            Transform::Hour => format!("{}_hour", self.source),
            Transform::Bucket(_) => format!("{}_bucket", self.source),
            Transform::Truncate(_) => format!("{}_trunc", self.source),
            _ => format!("{}_{}", self.source, self.transform),
        }
    }
}

/// Why `ICEBERG_PARTITION_SPEC` does not parse or does not fit `SCHEMA`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionSpecError {
    #[error("field {index}: {reason}")]
    Syntax { index: usize, reason: String },
    #[error("column {0:?} is not in SCHEMA")]
    UnknownColumn(String),
    #[error("{transform}({column}) needs a date or timestamp column, and {column} is {ty}")]
    NotTemporal {
        transform: String,
        column: String,
        ty: String,
    },
    #[error("column {0:?} is partitioned twice by the same transform")]
    Duplicate(String),
}

/// Parses the spec. Empty text is an unpartitioned table.
pub fn parse(text: &str) -> Result<Vec<PartitionField>, PartitionSpecError> {
    let mut fields = Vec::new();
    for (index, part) in split_top_level(text).into_iter().enumerate() {
        let index = index + 1;
        let syntax = |reason: &str| PartitionSpecError::Syntax {
            index,
            reason: reason.to_owned(),
        };
        let part = part.trim();
        if part.is_empty() {
            return Err(syntax("empty"));
        }
        let field = match part.split_once('(') {
            None => PartitionField {
                transform: Transform::Identity,
                source: column_name(part).ok_or_else(|| syntax("expected a column name"))?,
            },
            Some((name, rest)) => {
                let args = rest
                    .strip_suffix(')')
                    .ok_or_else(|| syntax("missing `)`"))?;
                let args: Vec<&str> = args.split(',').map(str::trim).collect();
                let name = name.trim().to_ascii_lowercase();
                let (transform, source) = match (name.as_str(), args.as_slice()) {
                    ("identity", [c]) => (Transform::Identity, *c),
                    ("year" | "years", [c]) => (Transform::Year, *c),
                    ("month" | "months", [c]) => (Transform::Month, *c),
                    ("day" | "days", [c]) => (Transform::Day, *c),
                    ("hour" | "hours", [c]) => (Transform::Hour, *c),
                    ("bucket", [n, c]) => (Transform::Bucket(width(n).ok_or_else(|| syntax("bucket(N, column) needs N from 1 to 2147483647"))?), *c),
                    ("truncate", [n, c]) => (Transform::Truncate(width(n).ok_or_else(|| syntax("truncate(W, column) needs W from 1 to 2147483647"))?), *c),
                    ("bucket" | "truncate", _) => return Err(syntax("takes a width and a column, e.g. bucket(16, user)")),
                    ("identity" | "year" | "years" | "month" | "months" | "day" | "days" | "hour" | "hours", _) => {
                        return Err(syntax("takes one column"))
                    }
                    _ => return Err(syntax(&format!("unknown transform {name:?}: identity, year, month, day, hour, bucket or truncate"))),
                };
                PartitionField {
                    transform,
                    source: column_name(source).ok_or_else(|| syntax("expected a column name"))?,
                }
            }
        };
        if fields
            .iter()
            .any(|f: &PartitionField| f.source == field.source && f.transform == field.transform)
        {
            return Err(PartitionSpecError::Duplicate(field.source));
        }
        fields.push(field);
    }
    Ok(fields)
}

/// Checks that each source column is in `SCHEMA` and that time transforms are on a
/// date or timestamp column (the other type rules are Iceberg's, checked when the table is
/// created).
pub fn check_sources(
    fields: &[PartitionField],
    schema: &TableSchema,
) -> Result<(), PartitionSpecError> {
    for f in fields {
        let column = schema
            .column(&f.source)
            .ok_or_else(|| PartitionSpecError::UnknownColumn(f.source.clone()))?;
        let temporal = matches!(column.ty, ColumnType::Date | ColumnType::Timestamp);
        let needs_time = matches!(
            f.transform,
            Transform::Year | Transform::Month | Transform::Day | Transform::Hour
        );
        let hour_on_date = f.transform == Transform::Hour && column.ty == ColumnType::Date;
        if (needs_time && !temporal) || hour_on_date {
            return Err(PartitionSpecError::NotTemporal {
                transform: f.transform.to_string(),
                column: f.source.clone(),
                ty: column.ty.to_string(),
            });
        }
    }
    Ok(())
}

fn split_top_level(text: &str) -> Vec<&str> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn column_name(text: &str) -> Option<String> {
    let name = text.trim().trim_matches('`');
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| name.to_ascii_lowercase())
}

fn width(text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=i32::MAX as u32).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(source: &str, transform: Transform) -> PartitionField {
        PartitionField {
            transform,
            source: source.into(),
        }
    }

    #[test]
    fn parses_the_documented_examples() {
        assert_eq!(parse("hour(ts)").unwrap(), vec![one("ts", Transform::Hour)]);
        assert_eq!(
            parse("day(ts), identity(customer)").unwrap(),
            vec![
                one("ts", Transform::Day),
                one("customer", Transform::Identity)
            ]
        );
        assert_eq!(
            parse("bucket(16, user)").unwrap(),
            vec![one("user", Transform::Bucket(16))]
        );
        assert_eq!(
            parse("truncate(4,name), region").unwrap(),
            vec![
                one("name", Transform::Truncate(4)),
                one("region", Transform::Identity)
            ]
        );
        assert!(parse("  ").unwrap().is_empty());
    }

    #[test]
    fn names_partition_fields_like_spark() {
        assert_eq!(one("ts", Transform::Hour).name(), "ts_hour");
        assert_eq!(one("user", Transform::Bucket(16)).name(), "user_bucket");
        assert_eq!(one("customer", Transform::Identity).name(), "customer");
    }

    #[test]
    fn refuses_what_is_not_a_spec() {
        for bad in [
            "hour(ts",
            "minute(ts)",
            "bucket(user)",
            "bucket(0, user)",
            "hour(a, b)",
            "day(ts),,",
            "day(my-col)",
            "hour(ts), hour(ts)",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
        let e = parse("minute(ts)").unwrap_err().to_string();
        assert!(e.contains("minute") && e.contains("hour"), "{e}");
    }

    #[test]
    fn time_transforms_need_time_columns() {
        let schema = TableSchema::parse("ts timestamp, d date, user string").unwrap();
        check_sources(
            &parse("hour(ts), day(d), bucket(8, user)").unwrap(),
            &schema,
        )
        .unwrap();
        assert!(matches!(
            check_sources(&parse("day(user)").unwrap(), &schema),
            Err(PartitionSpecError::NotTemporal { .. })
        ));
        assert!(check_sources(&parse("hour(d)").unwrap(), &schema).is_err());
        assert_eq!(
            check_sources(&parse("identity(missing)").unwrap(), &schema),
            Err(PartitionSpecError::UnknownColumn("missing".into()))
        );
    }
}

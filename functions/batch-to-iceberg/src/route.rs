//! Routing: which table each record goes to (pure).
//!
//! - One table (`ICEBERG_TABLE`): every record goes to it, as it always has.
//! - Routed (`ICEBERG_ROUTE_POINTER` and `ICEBERG_ROUTES`): a record's value at the pointer
//!   names its table, e.g. `/signal` -> `otel_logs`, `otel_traces`, `otel_metrics` for the
//!   rows ingest makes of OTLP. A record with no value there, or a value no route names, or
//!   that is not JSON, goes to the error prefix (`no-route`, `not-json`).
//!
//! `ICEBERG_ROUTES` is a `;`-separated list of routes, each
//! `VALUE: TABLE [schema SCHEMA] [partition SPEC]`:
//!
//! ```text
//! logs: otel_logs schema otel_logs partition day(timestamp); traces: otel_traces schema otel_traces
//! ```
//!
//! `SCHEMA` is a ready schema's name (`otel_logs`, ...) or a column list in parentheses,
//! `(n bigint, user string)`; `SPEC` is `ICEBERG_PARTITION_SPEC`'s syntax and runs to the end
//! of the route. They say how to create the table when it does not exist; without them a
//! new table takes `SCHEMA` and `ICEBERG_PARTITION_SPEC`. Several values may name one table;
//! its schema and spec are then given once.

use crate::partition::{self, PartitionField};
use crate::rows::Rejected;
use std::collections::HashMap;
use trickle_columnar::TableSchema;
use trickle_kinesis_batch::decode::{each_user_record, ErrorReason, UserRecord};
use trickle_kinesis_batch::SourceRecord;
use trickle_shared::pointer::scalar_at_pointer;

/// A table the function appends to, with what it needs to create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    /// The schema of the table when this function creates it (an existing table's own
    /// schema is always the truth).
    pub schema: Option<TableSchema>,
    /// The partition spec when this function creates it.
    pub partition: Vec<PartitionField>,
}

/// The value at `pointer` picks the table: `tables[by_value[value]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    pub pointer: String,
    pub by_value: HashMap<String, usize>,
}

/// One parsed route: `VALUE: TABLE [schema SCHEMA] [partition SPEC]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub value: String,
    pub table: String,
    pub schema: Option<TableSchema>,
    pub partition: Option<Vec<PartitionField>>,
}

/// Why `ICEBERG_ROUTES` does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {index} ({text:?}): {reason}")]
pub struct RouteError {
    pub index: usize,
    pub text: String,
    pub reason: String,
}

/// Parses `ICEBERG_ROUTES` (see the module's text).
pub fn parse(text: &str) -> Result<Vec<Route>, RouteError> {
    let mut routes = Vec::new();
    for (index, part) in text.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let error = |reason: String| RouteError {
            index: index + 1,
            text: part.to_owned(),
            reason,
        };
        let (value, rest) = part
            .split_once(':')
            .ok_or_else(|| error("expected VALUE: TABLE".into()))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(error("the value is empty".into()));
        }
        let rest = rest.trim();
        let (table, mut rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if !is_glue_name(table) {
            return Err(error(format!(
                "table {table:?}: lower-case letters, digits and _ only (at most 255)"
            )));
        }
        let mut schema = None;
        let mut spec = None;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            if let Some(after) = keyword(rest, "schema") {
                if schema.is_some() || spec.is_some() {
                    return Err(error("schema comes once, before partition".into()));
                }
                let (text, after) = schema_text(after.trim_start()).map_err(error)?;
                schema = Some(
                    TableSchema::from_setting(text)
                        .map_err(|e| error(format!("schema {text:?}: {e}")))?,
                );
                rest = after;
            } else if let Some(after) = keyword(rest, "partition") {
                if spec.is_some() {
                    return Err(error("partition comes once".into()));
                }
                let fields =
                    partition::parse(after.trim()).map_err(|e| error(format!("partition: {e}")))?;
                if let Some(s) = &schema {
                    partition::check_sources(&fields, s)
                        .map_err(|e| error(format!("partition: {e}")))?;
                }
                spec = Some(fields);
                rest = "";
            } else {
                return Err(error(format!(
                    "expected `schema` or `partition` after the table, found {rest:?}"
                )));
            }
        }
        routes.push(Route {
            value: value.to_owned(),
            table: table.to_owned(),
            schema,
            partition: spec,
        });
    }
    if routes.is_empty() {
        return Err(RouteError {
            index: 0,
            text: text.to_owned(),
            reason: "no route".into(),
        });
    }
    Ok(routes)
}

/// The tables of `routes` (in their first mention's order) and the router to them.
/// `schema` and `partition` (the one-table settings) are what a route without its own
/// creates a table with.
pub fn tables(
    pointer: &str,
    routes: Vec<Route>,
    schema: Option<&TableSchema>,
    partition: &[PartitionField],
) -> Result<(Vec<TableSpec>, Router), String> {
    let mut tables: Vec<TableSpec> = Vec::new();
    let mut by_value = HashMap::new();
    for route in routes {
        let index = match tables.iter().position(|t| t.name == route.table) {
            Some(i) => {
                if route.schema.is_some() || route.partition.is_some() {
                    return Err(format!(
                        "table {} has its schema and partition in its first route only",
                        route.table
                    ));
                }
                i
            }
            None => {
                let schema = route.schema.or_else(|| schema.cloned());
                let partition = route.partition.unwrap_or_else(|| partition.to_vec());
                if let Some(s) = &schema {
                    partition::check_sources(&partition, s)
                        .map_err(|e| format!("table {}: partition: {e}", route.table))?;
                }
                tables.push(TableSpec {
                    name: route.table,
                    schema,
                    partition,
                });
                tables.len() - 1
            }
        };
        if by_value.insert(route.value.clone(), index).is_some() {
            return Err(format!("value {:?} is routed twice", route.value));
        }
    }
    Ok((
        tables,
        Router {
            pointer: pointer.to_owned(),
            by_value,
        },
    ))
}

/// A batch's user records by table, and those that go to no table.
#[derive(Debug)]
pub struct Routed<'a> {
    /// `per_table[i]`: the user records of table `i`, in order (indices into the batch's
    /// Kinesis records).
    pub per_table: Vec<Vec<UserRecord<'a>>>,
    /// Records no table takes, as their error lines.
    pub unrouted: Vec<Rejected>,
}

/// Routes every user record of `records` (re-ingested copies excluded). Without a router,
/// all go to the one table, undecodable ones included (the table's encoding rejects them
/// as it always has).
pub fn route<'a>(
    records: &'a [SourceRecord],
    router: Option<&Router>,
    tables: usize,
) -> Routed<'a> {
    let mut per_table: Vec<Vec<UserRecord<'a>>> = (0..tables).map(|_| Vec::new()).collect();
    let mut unrouted = Vec::new();
    for user in each_user_record(records) {
        let Some(router) = router else {
            per_table[0].push(user);
            continue;
        };
        let refused = match (&user.error, scalar_at_pointer(&user.data, &router.pointer)) {
            (Some((reason, message)), _) => (*reason, message.clone()),
            (None, Ok(Some(value))) => match router.by_value.get(&value) {
                Some(&i) => {
                    per_table[i].push(user);
                    continue;
                }
                None => (
                    ErrorReason::NoRoute,
                    format!("no route for {value:?} at {}", router.pointer),
                ),
            },
            (None, Ok(None)) => (
                ErrorReason::NoRoute,
                format!("no string or number at {}", router.pointer),
            ),
            (None, Err(e)) => (
                ErrorReason::NotJson,
                format!("routing by {} needs JSON: {e}", router.pointer),
            ),
        };
        unrouted.push(Rejected::of(&user, refused.0, refused.1));
    }
    Routed {
        per_table,
        unrouted,
    }
}

/// `text` after the word `word` (followed by whitespace or `(`).
fn keyword<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let rest = text.strip_prefix(word)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with('('))
        .then_some(rest)
}

/// A schema at the start of `text`: `(columns)` or a ready schema's name; and what follows.
fn schema_text(text: &str) -> Result<(&str, &str), String> {
    if let Some(inner) = text.strip_prefix('(') {
        let mut depth = 1usize;
        for (i, c) in inner.char_indices() {
            match c {
                '(' | '<' => depth += 1,
                ')' | '>' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                if c != ')' {
                    return Err("unbalanced `<>` in the schema".into());
                }
                return Ok((&inner[..i], &inner[i + 1..]));
            }
        }
        return Err("the schema's `(` is not closed".into());
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    if end == 0 {
        return Err("schema needs a ready schema's name or (columns)".into());
    }
    Ok((&text[..end], &text[end..]))
}

/// Glue names: 1-255 characters, lower case letters, digits and `_` (Athena's rule, and
/// what Glue stores: it lower-cases anything else).
pub fn is_glue_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use iceberg::spec::Transform;

    const OTEL: &str = "logs: otel_logs schema otel_logs partition day(timestamp); \
        traces: otel_traces schema otel_traces partition day(timestamp); \
        metrics: otel_metrics schema otel_metrics partition day(timestamp)";

    #[test]
    fn parses_the_otel_routes() {
        let routes = parse(OTEL).unwrap();
        assert_eq!(routes.len(), 3);
        assert_eq!(
            (routes[1].value.as_str(), routes[1].table.as_str()),
            ("traces", "otel_traces")
        );
        let spec = routes[2].partition.as_ref().unwrap();
        assert_eq!(
            (spec[0].transform, spec[0].source.as_str()),
            (Transform::Day, "timestamp")
        );
        assert_eq!(
            routes[0].schema,
            Some(TableSchema::from_setting("otel_logs").unwrap())
        );
    }

    #[test]
    fn a_schema_may_be_written_out_and_a_spec_may_have_several_fields() {
        let routes =
            parse("a: t_a schema (n bigint, m map<string,int>, ts timestamp) partition hour(ts), identity(n); b: t_b")
                .unwrap();
        assert_eq!(routes[0].schema.as_ref().unwrap().columns.len(), 3);
        assert_eq!(routes[0].partition.as_ref().unwrap().len(), 2);
        assert_eq!(
            (routes[1].schema.clone(), routes[1].partition.clone()),
            (None, None)
        );
    }

    #[test]
    fn says_which_route_is_wrong_and_why() {
        for (text, needle) in [
            ("logs otel_logs", "VALUE: TABLE"),
            ("logs: OtelLogs", "lower-case"),
            (": t", "value is empty"),
            ("a: t schema (n bigint", "not closed"),
            ("a: t schema (n bignum)", "schema"),
            ("a: t schema otel_spans", "otel_spans"),
            ("a: t partition hour(ts) schema (ts timestamp)", "partition"),
            ("a: t schema (ts timestamp) partition hour(when)", "when"),
            ("a: t sorted", "expected `schema` or `partition`"),
            (" ; ", "no route"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn tables_are_listed_once_and_take_the_one_table_settings_when_they_have_none() {
        let shared = TableSchema::parse("n bigint, ts timestamp").unwrap();
        let fallback = partition::parse("day(ts)").unwrap();
        let routes = parse("a: t1; b: t1; c: t2 schema (x string, ts timestamp)").unwrap();
        let (tables, router) = tables("/kind", routes, Some(&shared), &fallback).unwrap();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].schema.as_ref(), Some(&shared));
        assert_eq!(tables[0].partition, fallback);
        assert_eq!(
            (
                router.by_value["a"],
                router.by_value["b"],
                router.by_value["c"]
            ),
            (0, 0, 1)
        );
        // t2's own schema has no ts: the fallback spec does not fit it.
        let e = super::tables(
            "/kind",
            parse("c: t2 schema (x string)").unwrap(),
            Some(&shared),
            &fallback,
        )
        .unwrap_err();
        assert!(e.contains("t2"), "{e}");
        let e = super::tables("/k", parse("a: t1; a: t2").unwrap(), None, &[]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = super::tables(
            "/k",
            parse("a: t1; b: t1 schema otel_logs").unwrap(),
            None,
            &[],
        )
        .unwrap_err();
        assert!(e.contains("first route"), "{e}");
    }

    fn records(data: &[&str]) -> Vec<SourceRecord> {
        data.iter()
            .enumerate()
            .map(|(n, d)| SourceRecord {
                sequence: (n as u64 + 1).to_string().parse().unwrap(),
                sequence_text: (n + 1).to_string(),
                partition_key: "k".into(),
                arrival: Utc.timestamp_millis_opt(0).unwrap(),
                data: d.as_bytes().to_vec(),
            })
            .collect()
    }

    #[test]
    fn each_record_goes_to_the_table_its_value_names_or_to_the_errors() {
        let (_, router) = tables(
            "/signal",
            parse("logs: l; traces: t; metrics: m").unwrap(),
            None,
            &[],
        )
        .unwrap();
        let batch = records(&[
            r#"{"signal":"traces","n":1}"#,
            r#"{"signal":"logs"}"#,
            r#"{"signal":"profiles"}"#,
            r#"{"n":2}"#,
            "plain text",
            r#"{"signal":"traces","n":3}"#,
        ]);
        let routed = route(&batch, Some(&router), 3);
        let indices =
            |i: usize| -> Vec<usize> { routed.per_table[i].iter().map(|u| u.record).collect() };
        assert_eq!(
            (indices(0), indices(1), indices(2)),
            (vec![1], vec![0, 5], vec![])
        );
        let errors: Vec<(usize, ErrorReason)> = routed
            .unrouted
            .iter()
            .map(|u| (u.record, u.reason))
            .collect();
        assert_eq!(
            errors,
            [
                (2, ErrorReason::NoRoute),
                (3, ErrorReason::NoRoute),
                (4, ErrorReason::NotJson)
            ]
        );
        assert!(routed.unrouted[0].message.contains("profiles"));
    }

    #[test]
    fn without_a_router_everything_goes_to_the_one_table() {
        let batch = records(&[r#"{"n":1}"#, "text"]);
        let routed = route(&batch, None, 1);
        assert_eq!(routed.per_table[0].len(), 2);
        assert!(routed.unrouted.is_empty());
    }
}

//! JSON records to the rows of one file: `RecordEncoder::push` takes a record whole or not
//! at all, and `finish` gives the Arrow batch.
//!
//! - A record must be a JSON object (else `NotJsonObject`). Its top-level fields match the
//!   columns by name: exactly, else ignoring ASCII case (column names are lower case, as in
//!   Athena); two fields for one column (`"User"` and `"user"`) do not fit.
//! - A value that does not fit its column makes the whole record a `Mismatch` naming the
//!   field and what it got; the rows already taken stay as they were.
//! - Nothing is dropped silently: fields the schema does not have (at the top level, and
//!   inside structs at any depth) are kept in the extra column as one compact JSON object,
//!   shaped like the record (`{"new_field":1,"geo":{"alt":3}}`), NULL when there are none.
//!   Without an extra column they are dropped and counted (`fields_dropped`).

use crate::column::{compact_into, match_fields, push_member, Builder, Bytes, Entries, Mismatch};
use crate::schema::TableSchema;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

/// Why a record is not a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not a JSON object: {0}")]
    NotJsonObject(String),
    #[error("{0}")]
    Mismatch(Mismatch),
}

/// The rows of one file being built.
pub struct RecordEncoder {
    schema: Arc<Schema>,
    names: Vec<String>,
    columns: Vec<Builder>,
    extra: Option<Bytes>,
    rows: usize,
    fields_dropped: usize,
}

impl RecordEncoder {
    /// `extra_column`: the name of the string column that keeps unknown fields, or `None`
    /// to drop (and count) them.
    pub fn new(schema: &TableSchema, extra_column: Option<&str>) -> Self {
        let mut fields: Vec<Field> = schema.columns.iter().map(|c| c.arrow_field()).collect();
        if let Some(name) = extra_column {
            fields.push(Field::new(name, DataType::Utf8, true));
        }
        Self {
            schema: Arc::new(Schema::new(fields)),
            names: schema.columns.iter().map(|c| c.name.clone()).collect(),
            columns: schema.columns.iter().map(|c| Builder::new(&c.ty)).collect(),
            extra: extra_column.map(|_| Bytes::default()),
            rows: 0,
            fields_dropped: 0,
        }
    }

    /// Rows taken so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Unknown fields dropped (only without an extra column).
    pub fn fields_dropped(&self) -> usize {
        self.fields_dropped
    }

    /// The schema of the batch `finish` gives.
    pub fn arrow_schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Takes one record as a row, or leaves everything as it was and says why not.
    pub fn push(&mut self, record: &[u8]) -> Result<(), RecordError> {
        let text = std::str::from_utf8(record)
            .map_err(|e| RecordError::NotJsonObject(format!("not UTF-8: {e}")))?
            .trim_matches(|c: char| c.is_ascii_whitespace());
        if !text.starts_with('{') {
            return Err(RecordError::NotJsonObject(
                match serde_json::from_str::<&serde_json::value::RawValue>(text) {
                    _ if text.is_empty() => "empty".into(),
                    Ok(raw) => format!("JSON {}", crate::value::describe(raw.get())),
                    Err(_) => "text that is not JSON".into(),
                },
            ));
        }
        let entries: Entries<'_> =
            serde_json::from_str(text).map_err(|e| RecordError::NotJsonObject(e.to_string()))?;
        match self.append(&entries) {
            Ok(()) => {
                self.rows += 1;
                Ok(())
            }
            Err(m) => {
                for c in &mut self.columns {
                    c.truncate(self.rows);
                }
                if let Some(extra) = &mut self.extra {
                    extra.truncate(self.rows);
                }
                Err(RecordError::Mismatch(m))
            }
        }
    }

    fn append(&mut self, entries: &Entries<'_>) -> Result<(), Mismatch> {
        let slots = match_fields(self.names.iter().map(String::as_str), &entries.0)?;
        let mut unknown = slots.unknown.len();
        let mut residual = Vec::new();
        for (i, column) in self.columns.iter_mut().enumerate() {
            let entry = slots.matched[i].map(|e| &entries.0[e]);
            let r = column
                .append(entry.map(|(_, v)| *v), &mut unknown)
                .map_err(|m| m.at(self.names[i].clone()))?;
            if let (Some(r), Some((key, _))) = (r, entry) {
                if self.extra.is_some() {
                    push_member(&mut residual, key, &r);
                }
            }
        }
        match &mut self.extra {
            Some(extra) => {
                for &e in &slots.unknown {
                    let (k, v) = &entries.0[e];
                    let mut compact = Vec::new();
                    compact_into(v, &mut compact);
                    push_member(&mut residual, k, &compact);
                }
                if residual.is_empty() {
                    extra.push(None);
                } else {
                    residual.push(b'}');
                    extra.push(Some(&residual));
                }
            }
            None => self.fields_dropped += unknown,
        }
        Ok(())
    }

    /// The batch of every row taken.
    pub fn finish(self) -> RecordBatch {
        let mut arrays: Vec<ArrayRef> = self.columns.into_iter().map(Builder::finish).collect();
        if let Some(extra) = self.extra {
            arrays.push(Arc::new(extra.finish_utf8()));
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(self.rows));
        RecordBatch::try_new_with_options(self.schema, arrays, &options)
            .unwrap_or_else(|e| unreachable!("every column is built by its schema type: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, TimestampMicrosecondType};
    use arrow_array::Array;

    const SCHEMA: &str = "ts timestamp, user string, latency_ms bigint, price double, ok boolean, tags array<string>, geo struct<lat:double,lon:double>, attrs map<string,string>, amount decimal(10,2), day date, n int";

    fn encoder(extra: Option<&str>) -> RecordEncoder {
        RecordEncoder::new(&TableSchema::parse(SCHEMA).unwrap(), extra)
    }

    fn mismatch(e: &mut RecordEncoder, record: &str) -> String {
        match e.push(record.as_bytes()) {
            Err(RecordError::Mismatch(m)) => m.to_string(),
            other => panic!("{record}: {other:?}"),
        }
    }

    #[test]
    fn maps_every_type_with_nulls_and_nested_values() {
        let mut e = encoder(Some("_extra"));
        e.push(br#"{"ts":"2024-06-10T06:13:20.123Z","user":"u1","latency_ms":42,"price":1.5,"ok":true,"tags":["a","b"],"geo":{"lat":1.0,"lon":2.0},"attrs":{"k":"v"},"amount":"12.30","day":"2024-06-10","n":-3}"#).unwrap();
        // Missing fields and nulls are NULL; a number for a string column is its JSON text.
        e.push(br#"{"ts":1718000000123,"user":7,"tags":null,"geo":{"lat":3}}"#)
            .unwrap();
        let b = e.finish();
        assert_eq!(b.num_rows(), 2);
        let ts = b.column(0).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_718_000_000_123_000);
        assert_eq!(ts.value(1), 1_718_000_000_123_000);
        let user = b.column(1).as_string::<i32>();
        assert_eq!((user.value(0), user.value(1)), ("u1", "7"));
        let latency = b.column(2).as_primitive::<Int64Type>();
        assert!(latency.is_valid(0) && latency.is_null(1));
        let tags = b.column(5).as_list::<i32>();
        assert_eq!(tags.value(0).as_string::<i32>().value(1), "b");
        assert!(tags.is_null(1));
        let geo = b.column(6).as_struct();
        assert!(geo.column(1).is_null(1));
        let amount = b
            .column(8)
            .as_primitive::<arrow_array::types::Decimal128Type>();
        assert_eq!(amount.value(0), 1230);
        let extra = b.column(11).as_string::<i32>();
        assert!(extra.is_null(0) && extra.is_null(1));
    }

    #[test]
    fn unknown_fields_are_kept_in_the_extra_column_shaped_like_the_record() {
        let mut e = encoder(Some("_extra"));
        e.push(br#"{"user":"u","new_field":{"a": [1, 2]},"geo":{"lat":1,"alt":3}}"#)
            .unwrap();
        let b = e.finish();
        let extra = b.column(11).as_string::<i32>();
        assert_eq!(
            extra.value(0),
            r#"{"geo":{"alt":3},"new_field":{"a":[1,2]}}"#
        );
        assert_eq!(b.schema().field(11).name(), "_extra");
    }

    #[test]
    fn without_an_extra_column_unknown_fields_are_counted() {
        let mut e = encoder(None);
        e.push(br#"{"user":"u","x":1,"y":2,"geo":{"alt":3}}"#)
            .unwrap();
        assert_eq!(e.fields_dropped(), 3);
        assert_eq!(e.finish().num_columns(), 11);
    }

    #[test]
    fn case_is_ignored_but_two_fields_for_one_column_do_not_fit() {
        let mut e = encoder(Some("_extra"));
        e.push(br#"{"User":"u","LATENCY_MS":1}"#).unwrap();
        let m = mismatch(&mut e, r#"{"User":"u","user":"v"}"#);
        assert!(m.contains("field user") && m.contains("two fields"), "{m}");
        let b = e.finish();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.column(1).as_string::<i32>().value(0), "u");
    }

    #[test]
    fn a_mismatch_names_the_field_and_takes_nothing_of_the_record() {
        let mut e = encoder(Some("_extra"));
        e.push(br#"{"user":"kept","tags":["x"]}"#).unwrap();
        let cases = [
            (
                r#"{"user":"a","latency_ms":"abc"}"#,
                "field latency_ms: expected bigint, got string \"abc\"",
            ),
            (r#"{"n":3000000000}"#, "field n: expected int"),
            (r#"{"n":{"a":1}}"#, "field n: expected int, got an object"),
            (r#"{"day":"2024-02-30"}"#, "field day: expected date"),
            (
                r#"{"tags":["ok",{"x":1}],"geo":{"lat":"north"}}"#,
                "field geo.lat: expected double",
            ),
            (r#"{"amount":1.234}"#, "more than 2 decimal places"),
            (r#"{"ok":"yes"}"#, "field ok: expected boolean"),
            (r#"{"ts":"yesterday"}"#, "field ts: expected timestamp"),
            (r#"{"attrs":{"k":1}}"#, ""),
        ];
        for (record, want) in cases {
            if want.is_empty() {
                // A number for a string value of a map is its JSON text: fits.
                e.push(record.as_bytes()).unwrap();
                continue;
            }
            let m = mismatch(&mut e, record);
            assert!(m.contains(want), "{record}: {m}");
        }
        let b = e.finish();
        assert_eq!(b.num_rows(), 2);
        let tags = b.column(5).as_list::<i32>();
        assert_eq!(tags.value_offsets(), &[0, 1, 1]);
        assert_eq!(b.column(6).as_struct().len(), 2);
    }

    #[test]
    fn nested_paths_name_indexes_and_keys() {
        let schema = TableSchema::parse("a array<struct<b:map<string,array<int>>>>").unwrap();
        let mut e = RecordEncoder::new(&schema, Some("_extra"));
        let m = match e.push(br#"{"a":[{"b":{"k":[1]}},{"b":{"j":[1,"x"]}}]}"#) {
            Err(RecordError::Mismatch(m)) => m.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(m, r#"field a[1].b["j"][1]: expected int, got string "x""#);
        e.push(br#"{"a":[{"b":{"k":[1]}},{"b":null,"c":5}]}"#)
            .unwrap();
        let b = e.finish();
        assert_eq!(
            b.column(1).as_string::<i32>().value(0),
            r#"{"a":[null,{"c":5}]}"#
        );
    }

    #[test]
    fn records_that_are_not_objects_say_so() {
        let mut e = encoder(Some("_extra"));
        for record in ["[1,2]", "HelloWorld", "", "{\"a\":", "\"s\""] {
            assert!(
                matches!(
                    e.push(record.as_bytes()),
                    Err(RecordError::NotJsonObject(_))
                ),
                "{record}"
            );
        }
        assert!(e.push(b"{\"user\":\"u\"}\n").is_ok());
    }
}

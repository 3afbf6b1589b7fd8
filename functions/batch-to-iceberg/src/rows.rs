//! User records to the table's rows, and the records that do not fit to error lines.
//! Pure: the schema rules are `schema.rs`'s and trickle-columnar's.

use crate::schema::{SchemaError, TableColumns};
use arrow_array::RecordBatch;
use trickle_columnar::{RecordEncoder, RecordError};
use trickle_kinesis_batch::decode::{AsFailure, ErrorReason, Failure, UserRecord};

/// One record that goes to the error prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: ErrorReason,
    pub message: String,
    /// Index of its Kinesis record.
    pub record: usize,
    pub sub: Option<usize>,
    pub data: Vec<u8>,
}

impl Rejected {
    /// `u` as an error line, for this reason.
    pub fn of(u: &UserRecord<'_>, reason: ErrorReason, message: String) -> Self {
        Self {
            reason,
            message,
            record: u.record,
            sub: u.sub,
            data: u.data.to_vec(),
        }
    }
}

impl AsFailure for Rejected {
    /// As the shared error-line writer takes it (`write_error_lines`).
    fn as_failure(&self) -> Failure<'_> {
        Failure {
            reason: self.reason,
            message: &self.message,
            record: self.record,
            sub: self.sub,
            data: &self.data,
        }
    }
}

/// What a batch of records became.
#[derive(Debug)]
pub struct Rows {
    /// The rows as a data file of the table (`None` when no record fits).
    pub batch: Option<RecordBatch>,
    pub rejected: Vec<Rejected>,
    /// User records (after de-aggregation, re-ingested copies excluded).
    pub user_records: usize,
    /// Fields the table does not have, dropped (no `EXTRA_COLUMN` in the table).
    pub fields_dropped: usize,
}

/// Encodes user records against the table's columns.
pub fn encode<'a>(
    users: impl IntoIterator<Item = UserRecord<'a>>,
    columns: &TableColumns,
) -> Result<Rows, SchemaError> {
    let mut encoder = RecordEncoder::new(&columns.columns, columns.extra_column.as_deref());
    let mut rejected = Vec::new();
    let mut count = 0;
    for u in users {
        count += 1;
        let reject = |reason: ErrorReason, message: String| Rejected::of(&u, reason, message);
        if let Some((reason, message)) = &u.error {
            rejected.push(reject(*reason, message.clone()));
            continue;
        }
        if let Some(reason) = &columns.blocked {
            rejected.push(reject(ErrorReason::SchemaMismatch, reason.clone()));
            continue;
        }
        if let Some(missing) = missing_required(&u.data, &columns.required) {
            rejected.push(reject(
                ErrorReason::SchemaMismatch,
                format!("required column {missing} has no value"),
            ));
            continue;
        }
        match encoder.push(&u.data) {
            Ok(()) => {}
            Err(RecordError::NotJsonObject(m)) => rejected.push(reject(ErrorReason::NotJson, m)),
            Err(RecordError::Mismatch(m)) => {
                rejected.push(reject(ErrorReason::SchemaMismatch, m.to_string()))
            }
        }
    }
    let fields_dropped = encoder.fields_dropped();
    let batch = if encoder.rows() == 0 {
        None
    } else {
        Some(columns.to_table_batch(&encoder.finish())?)
    };
    Ok(Rows {
        batch,
        rejected,
        user_records: count,
        fields_dropped,
    })
}

/// The first required column without a non-null value in the record (names match as the
/// encoder matches them: exactly, else ignoring ASCII case). A record that is no JSON
/// object is left to the encoder to reject.
fn missing_required<'a>(data: &[u8], required: &'a [String]) -> Option<&'a str> {
    if required.is_empty() {
        return None;
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(data).ok()?;
    required
        .iter()
        .find(|name| {
            let value = object.get(name.as_str()).or_else(|| {
                object
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            });
            value.is_none_or(serde_json::Value::is_null)
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One rejected record's error line, as the handler writes it.
    fn one_line(r: &Rejected, records: &[SourceRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        trickle_kinesis_batch::decode::write_error_lines(
            std::slice::from_ref(r),
            records,
            &mut out,
        );
        out
    }
    use crate::schema::iceberg_schema;
    use chrono::{TimeZone, Utc};
    use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
    use std::sync::Arc;
    use trickle_columnar::TableSchema;
    use trickle_kinesis_batch::decode::user_records;
    use trickle_kinesis_batch::SourceRecord;

    fn record(seq: u64, data: &str) -> SourceRecord {
        SourceRecord {
            sequence: seq.to_string().parse().unwrap(),
            sequence_text: seq.to_string(),
            partition_key: "k".into(),
            arrival: Utc.timestamp_millis_opt(1_764_583_200_000).unwrap(),
            data: data.as_bytes().to_vec(),
        }
    }

    fn columns(schema: &str) -> TableColumns {
        let s = TableSchema::parse(schema).unwrap();
        TableColumns::new(&iceberg_schema(&s, None).unwrap(), None).unwrap()
    }

    #[test]
    fn records_that_fit_are_rows_and_the_rest_error_lines() {
        let records = [
            record(1, r#"{"user":"a","n":1}"#),
            record(2, r#"{"user":"b","n":"many"}"#),
            record(3, "not json"),
            record(4, r#"{"user":"c","n":3,"new":true}"#),
        ];
        let rows = encode(user_records(&records), &columns("user string, n bigint")).unwrap();
        assert_eq!(rows.batch.as_ref().unwrap().num_rows(), 2);
        assert_eq!(rows.user_records, 4);
        assert_eq!(rows.fields_dropped, 1);
        let reasons: Vec<_> = rows.rejected.iter().map(|r| (r.record, r.reason)).collect();
        assert_eq!(
            reasons,
            [(1, ErrorReason::SchemaMismatch), (2, ErrorReason::NotJson)]
        );
        let line: serde_json::Value =
            serde_json::from_slice(&one_line(&rows.rejected[0], &records)).unwrap();
        assert_eq!(line["errorCode"], "schema-mismatch");
        assert_eq!(line["sequenceNumber"], "2");
        assert!(
            line["errorMessage"].as_str().unwrap().contains('n'),
            "{line}"
        );
    }

    #[test]
    fn a_record_without_a_required_column_is_an_error_line() {
        let schema = Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::required(
                    1,
                    "id",
                    Type::Primitive(PrimitiveType::Long),
                )),
                Arc::new(NestedField::optional(
                    2,
                    "v",
                    Type::Primitive(PrimitiveType::String),
                )),
            ])
            .build()
            .unwrap();
        let columns = TableColumns::new(&schema, None).unwrap();
        let records = [
            record(1, r#"{"id":1}"#),
            record(2, r#"{"v":"x"}"#),
            record(3, r#"{"ID":3}"#),
            record(4, r#"{"id":null}"#),
        ];
        let rows = encode(user_records(&records), &columns).unwrap();
        assert_eq!(rows.batch.unwrap().num_rows(), 2);
        let bad: Vec<_> = rows.rejected.iter().map(|r| r.record).collect();
        assert_eq!(bad, [1, 3]);
        assert!(rows.rejected[0].message.contains("id"));
    }

    #[test]
    fn nothing_fits_gives_no_batch() {
        let rows = encode(user_records(&[record(1, "[1]")]), &columns("a int")).unwrap();
        assert!(rows.batch.is_none());
        assert_eq!(rows.rejected.len(), 1);
    }
}

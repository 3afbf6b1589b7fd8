//! From Kinesis records to user records: KPL aggregates are de-aggregated (as Firehose and
//! the KCL do), everything else is one user record as it stands. An aggregate whose MD5
//! does not match is a plain record (KCL behaviour); one whose digest matches but whose
//! protobuf is corrupt cannot be processed and is routed to the error output, whole.
//!
//! A copy that firehose-transform put back into the stream (its partition key carries
//! `trickle_shared::reingest`'s prefix) is no user record here: its original passed this
//! function already and is stored, so the copy is skipped, never stored twice.

use crate::event::SourceRecord;
use std::borrow::Cow;
use trickle_shared::kpl::{deaggregate, Deaggregated};
use trickle_shared::reingest::is_reingested;

/// Why a record went to the error output. The code is the error object's key segment and
/// its `error-reason` metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorReason {
    /// A KPL aggregate with a valid digest whose contents do not decode.
    CorruptAggregate,
    /// Partitioning or Parquet needs JSON (an object, for Parquet) and the record is not.
    NotJson,
    /// A value does not fit its `SCHEMA` column (Parquet).
    SchemaMismatch,
}

impl ErrorReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::CorruptAggregate => "corrupt-aggregate",
            Self::NotJson => "not-json",
            Self::SchemaMismatch => "schema-mismatch",
        }
    }
}

/// One user record (or one unprocessable Kinesis record), with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord<'a> {
    /// Index of its Kinesis record in the slice given to `user_records`.
    pub record: usize,
    /// Its position inside an aggregate (`None` for a plain record).
    pub sub: Option<usize>,
    pub data: Cow<'a, [u8]>,
    /// Set when the record cannot be processed.
    pub error: Option<(ErrorReason, String)>,
}

/// All user records of some Kinesis records, in order, without re-ingested copies.
pub fn user_records(records: &[SourceRecord]) -> Vec<UserRecord<'_>> {
    let mut out = Vec::with_capacity(records.len());
    for (index, r) in records.iter().enumerate() {
        if is_reingested(&r.partition_key) {
            continue;
        }
        match deaggregate(&r.data) {
            Ok(Deaggregated::Plain) => out.push(UserRecord {
                record: index,
                sub: None,
                data: Cow::Borrowed(&r.data),
                error: None,
            }),
            Ok(Deaggregated::Aggregated(users)) => {
                out.extend(users.into_iter().enumerate().map(|(sub, u)| UserRecord {
                    record: index,
                    sub: Some(sub),
                    data: Cow::Owned(u.data),
                    error: None,
                }))
            }
            Err(e) => out.push(UserRecord {
                record: index,
                sub: None,
                data: Cow::Borrowed(&r.data),
                error: Some((ErrorReason::CorruptAggregate, e.to_string())),
            }),
        }
    }
    out
}

/// One line of an error object, in the shape of Firehose's processing-failed output:
/// `{"errorCode", "errorMessage", "sequenceNumber", "subSequenceNumber", "partitionKey",
/// "approximateArrivalTimestamp", "rawData"}`, `rawData` being the user record in base64.
pub fn error_line(
    reason: ErrorReason,
    message: &str,
    record: &SourceRecord,
    sub: Option<usize>,
    data: &[u8],
) -> Vec<u8> {
    use base64::Engine;
    let line = serde_json::json!({
        "errorCode": reason.code(),
        "errorMessage": message,
        "sequenceNumber": record.sequence_text,
        "subSequenceNumber": sub,
        "partitionKey": record.partition_key,
        "approximateArrivalTimestamp": record.arrival.timestamp_millis(),
        "rawData": base64::engine::general_purpose::STANDARD.encode(data),
    });
    // A `Value` of strings and numbers always serializes.
    serde_json::to_vec(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::prelude::*;
    use chrono::Utc;
    use md5::{Digest, Md5};
    use serde::Deserialize;
    use trickle_shared::kpl::{self, KPL_MAGIC};

    fn source(data: Vec<u8>) -> SourceRecord {
        SourceRecord {
            sequence: "1".parse().unwrap(),
            sequence_text: "1".into(),
            partition_key: "k".into(),
            arrival: Utc::now(),
            data,
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vectors {
        vectors: Vec<Vector>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vector {
        name: String,
        aggregated: String,
        user_records: Vec<VectorUser>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct VectorUser {
        partition_key: String,
        explicit_hash_key: Option<String>,
        data: String,
    }

    /// Aggregates made by the official `aws-kinesis-agg` (events/kpl/generate.py).
    #[test]
    fn deaggregates_the_official_aggregators_vectors() {
        let v: Vectors =
            serde_json::from_str(include_str!("../../../events/kpl/vectors.json")).unwrap();
        assert!(v.vectors.len() >= 5);
        for vector in v.vectors {
            let data = BASE64_STANDARD.decode(&vector.aggregated).unwrap();
            let expected: Vec<kpl::UserRecord> = vector
                .user_records
                .iter()
                .map(|u| kpl::UserRecord {
                    partition_key: u.partition_key.clone(),
                    explicit_hash_key: u.explicit_hash_key.clone(),
                    data: BASE64_STANDARD.decode(&u.data).unwrap(),
                })
                .collect();
            assert_eq!(
                kpl::deaggregate(&data).unwrap(),
                Deaggregated::Aggregated(expected.clone()),
                "{}",
                vector.name
            );
            // And ours, re-aggregated, reads back the same.
            assert_eq!(
                kpl::deaggregate(&kpl::aggregate(&expected)).unwrap(),
                Deaggregated::Aggregated(expected.clone())
            );
            let records = [source(data)];
            let users = user_records(&records);
            assert_eq!(users.len(), expected.len(), "{}", vector.name);
            assert!(users.iter().all(|u| u.error.is_none()));
            assert_eq!(users.last().unwrap().sub, Some(expected.len() - 1));
        }
    }

    #[test]
    fn a_corrupt_aggregate_is_an_error_record_kept_whole() {
        let payload = b"\xff\xff\xff";
        let mut data = KPL_MAGIC.to_vec();
        data.extend_from_slice(payload);
        data.extend_from_slice(&Md5::digest(payload));
        let records = [source(b"plain".to_vec()), source(data.clone())];
        let users = user_records(&records);
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].error, None);
        assert_eq!(users[1].record, 1);
        assert_eq!(users[1].data.as_ref(), data.as_slice());
        assert_eq!(
            users[1].error.as_ref().map(|e| e.0),
            Some(ErrorReason::CorruptAggregate)
        );
    }

    #[test]
    fn a_bad_digest_is_a_plain_record() {
        let mut agg = kpl::aggregate(&[kpl::UserRecord {
            partition_key: "a".into(),
            explicit_hash_key: None,
            data: b"x".to_vec(),
        }]);
        let n = agg.len();
        agg[n - 1] ^= 1;
        let records = [source(agg.clone())];
        let users = user_records(&records);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].data.as_ref(), agg.as_slice());
        assert_eq!(users[0].error, None);
    }
}

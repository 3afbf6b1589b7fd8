//! From Kinesis records to user records: KPL aggregates are de-aggregated (as Firehose and
//! the KCL do), everything else is one user record as it stands. An aggregate whose MD5
//! does not match is a plain record (KCL behaviour); one whose digest matches but whose
//! protobuf is corrupt cannot be processed and is routed to the error output, whole.
//!
//! Memory stays bounded by the records' own size, whatever they hold:
//! - an aggregate may hold at most one user record per `MIN_AGGREGATE_BYTES_PER_RECORD` bytes
//!   of itself; one that holds more goes to the error output whole (`aggregate-limit`),
//!   counted before anything is allocated for it. De-aggregation copies no bytes: each user
//!   record borrows its data from the Kinesis record;
//! - the error lines of one Kinesis record take at most `MAX_ERROR_EXPANSION` times its size
//!   (plus `ERROR_LINE_ALLOWANCE_BYTES`): past that, its failed user records become one line
//!   that holds the whole Kinesis record and lists the failed ones (`write_error_lines`).
//!
//! A copy that firehose-transform put back into the stream (its partition key carries
//! `trickle_shared::reingest`'s prefix) is no user record here: its original passed this
//! function already and is stored, so the copy is skipped, never stored twice.

use crate::event::SourceRecord;
use std::borrow::Cow;
use trickle_shared::kpl::{deaggregate_ref, DeaggregatedRef, KplError};

pub use trickle_shared::kpl::{max_aggregated_records, MIN_AGGREGATE_BYTES_PER_RECORD};

/// The error lines of one Kinesis record take at most this many times its size (plus
/// `ERROR_LINE_ALLOWANCE_BYTES`) before they are collapsed into one line: base64 alone is
/// 4/3 of the data, and an ordinary failed record's fixed fields stay well within it.
pub const MAX_ERROR_EXPANSION: usize = 4;
/// What every Kinesis record may spend on error lines whatever its size (one line's fixed
/// fields, partition key and message fit in it).
pub const ERROR_LINE_ALLOWANCE_BYTES: usize = 4096;
/// An error line's fields other than the message, partition key and data, at most.
const ERROR_LINE_FIXED_BYTES: usize = 256;
use trickle_shared::identity::Identity;
use trickle_shared::reingest::is_reingested;

/// Why a record went to the error output. The code is the error object's key segment and
/// its `error-reason` metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorReason {
    /// A KPL aggregate with a valid digest whose contents do not decode.
    CorruptAggregate,
    /// Partitioning or Parquet needs JSON (an object, for Parquet) and the record is not.
    NotJson,
    /// A KPL aggregate holding more user records than its size allows
    /// (`MIN_AGGREGATE_BYTES_PER_RECORD`).
    AggregateLimit,
    /// A value does not fit its `SCHEMA` column (Parquet).
    SchemaMismatch,
    /// The record's value at the route pointer names no table (batch-to-iceberg's
    /// `ICEBERG_ROUTES`).
    NoRoute,
}

impl ErrorReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::CorruptAggregate => "corrupt-aggregate",
            Self::NotJson => "not-json",
            Self::AggregateLimit => "aggregate-limit",
            Self::SchemaMismatch => "schema-mismatch",
            Self::NoRoute => "no-route",
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
    /// The identity its partition key carries (a keyed request's record,
    /// `trickle_shared::identity`): a writer stores it once however often the stream holds it.
    pub identity: Option<Identity>,
    /// Set when the record cannot be processed.
    pub error: Option<(ErrorReason, String)>,
}

/// All user records of some Kinesis records, in order, without re-ingested copies.
pub fn user_records(records: &[SourceRecord]) -> Vec<UserRecord<'_>> {
    each_user_record(records).collect()
}

/// `user_records` one at a time: only one Kinesis record's aggregate is de-aggregated at
/// once, so a batch's user records need not all be held.
pub fn each_user_record(records: &[SourceRecord]) -> impl Iterator<Item = UserRecord<'_>> {
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| !is_reingested(&r.partition_key))
        .flat_map(|(index, r)| {
            let one = |error| {
                OneOrMany::One(Some(UserRecord {
                    record: index,
                    sub: None,
                    data: Cow::Borrowed(r.data.as_slice()),
                    identity: Identity::from_partition_key(&r.partition_key),
                    error,
                }))
            };
            match deaggregate_ref(&r.data, max_aggregated_records(r.data.len())) {
                Ok(DeaggregatedRef::Plain) => one(None),
                Ok(DeaggregatedRef::Aggregated(users)) => OneOrMany::Many(
                    users
                        .into_iter()
                        .enumerate()
                        .map(|(sub, u)| UserRecord {
                            record: index,
                            sub: Some(sub),
                            data: Cow::Borrowed(u.data),
                            identity: Identity::from_partition_key(u.partition_key),
                            error: None,
                        })
                        .collect::<Vec<_>>()
                        .into_iter(),
                ),
                Err(e) => {
                    let reason = match e {
                        KplError::TooManyRecords { .. } => ErrorReason::AggregateLimit,
                        _ => ErrorReason::CorruptAggregate,
                    };
                    one(Some((reason, e.to_string())))
                }
            }
        })
}

/// A plain record's one user record, without the `Vec` an aggregate's need.
enum OneOrMany<'a> {
    One(Option<UserRecord<'a>>),
    Many(std::vec::IntoIter<UserRecord<'a>>),
}

impl<'a> Iterator for OneOrMany<'a> {
    type Item = UserRecord<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::One(one) => one.take(),
            Self::Many(many) => many.next(),
        }
    }
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
    line(reason, message, record, sub, data, None)
}

fn line(
    reason: ErrorReason,
    message: &str,
    record: &SourceRecord,
    sub: Option<usize>,
    data: &[u8],
    failed_subs: Option<&str>,
) -> Vec<u8> {
    use base64::Engine;
    let mut line = serde_json::json!({
        "errorCode": reason.code(),
        "errorMessage": message,
        "sequenceNumber": record.sequence_text,
        "subSequenceNumber": sub,
        "partitionKey": record.partition_key,
        "approximateArrivalTimestamp": record.arrival.timestamp_millis(),
        "rawData": base64::engine::general_purpose::STANDARD.encode(data),
    });
    if let (Some(subs), Some(fields)) = (failed_subs, line.as_object_mut()) {
        fields.insert("failedSubSequenceNumbers".into(), subs.into());
    }
    // A `Value` of strings and numbers always serializes.
    serde_json::to_vec(&line).unwrap_or_default()
}

/// One user record that goes to the error output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    pub reason: ErrorReason,
    pub message: &'a str,
    /// Index of its Kinesis record in `records`.
    pub record: usize,
    pub sub: Option<usize>,
    pub data: &'a [u8],
}

/// Appends the error lines of `failures` (in record order) to `out`, one per line. The lines
/// of one Kinesis record's failures of one reason are bounded: when they would take more
/// than `MAX_ERROR_EXPANSION` times the record's size plus `ERROR_LINE_ALLOWANCE_BYTES`,
/// they become one line whose `rawData` is the whole Kinesis record, whose
/// `subSequenceNumber` is null and whose `failedSubSequenceNumbers` lists the failed user
/// records (`0-5,9`). Nothing is lost: every failed user record is in the raw aggregate.
pub fn write_error_lines<T: AsFailure>(
    failures: &[T],
    records: &[SourceRecord],
    out: &mut Vec<u8>,
) {
    let mut rest = failures;
    while let Some(head) = rest.first() {
        let first = head.as_failure();
        let run = rest
            .iter()
            .map(AsFailure::as_failure)
            .take_while(|f| f.record == first.record && f.reason == first.reason)
            .count();
        let (group, after) = rest.split_at(run);
        rest = after;
        let record = &records[first.record];
        let estimate: usize = group
            .iter()
            .map(|f| {
                let f = f.as_failure();
                ERROR_LINE_FIXED_BYTES
                    + f.message.len()
                    + record.partition_key.len()
                    + f.data.len().div_ceil(3) * 4
            })
            .sum();
        let budget = MAX_ERROR_EXPANSION * record.data.len() + ERROR_LINE_ALLOWANCE_BYTES;
        if group.len() > 1 && estimate > budget {
            let message = format!(
                "{} user records of this aggregate could not be stored, the first because: {}; rawData holds the whole aggregate",
                group.len(),
                cut(first.message, MAX_COLLAPSED_MESSAGE_BYTES),
            );
            out.extend_from_slice(&line(
                first.reason,
                &message,
                record,
                None,
                &record.data,
                Some(&sub_ranges(group.iter().filter_map(|f| f.as_failure().sub))),
            ));
            out.push(b'\n');
        } else {
            for f in group {
                let f = f.as_failure();
                out.extend_from_slice(&error_line(f.reason, f.message, record, f.sub, f.data));
                out.push(b'\n');
            }
        }
    }
}

/// What `write_error_lines` reads of a failed record (so that a writer need not build a
/// `Failure` per record first).
pub trait AsFailure {
    fn as_failure(&self) -> Failure<'_>;
}

impl AsFailure for Failure<'_> {
    fn as_failure(&self) -> Failure<'_> {
        *self
    }
}

/// The longest first-failure message quoted in a collapsed line.
const MAX_COLLAPSED_MESSAGE_BYTES: usize = 512;

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `0,1,2,5,7,8` as `0-2,5,7-8`.
fn sub_ranges(subs: impl Iterator<Item = usize>) -> String {
    let mut out = String::new();
    let mut run: Option<(usize, usize)> = None;
    let flush = |(a, b): (usize, usize), out: &mut String| {
        if !out.is_empty() {
            out.push(',');
        }
        if a == b {
            out.push_str(&a.to_string());
        } else {
            out.push_str(&format!("{a}-{b}"));
        }
    };
    for s in subs {
        run = match run {
            Some((a, b)) if s == b + 1 => Some((a, s)),
            Some(r) => {
                flush(r, &mut out);
                Some((s, s))
            }
            None => Some((s, s)),
        };
    }
    if let Some(r) = run {
        flush(r, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::prelude::*;
    use chrono::Utc;
    use md5::{Digest, Md5};
    use serde::Deserialize;
    use trickle_shared::kpl::{self, Deaggregated, KPL_MAGIC};

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

    fn dense_aggregate(records: usize) -> Vec<u8> {
        let users: Vec<kpl::UserRecord> = (0..records)
            .map(|_| kpl::UserRecord {
                partition_key: "k".into(),
                explicit_hash_key: None,
                data: Vec::new(),
            })
            .collect();
        kpl::aggregate(&users)
    }

    #[test]
    fn an_aggregate_denser_than_allowed_is_one_error_record() {
        let data = dense_aggregate(1000);
        assert!(data.len() / MIN_AGGREGATE_BYTES_PER_RECORD < 1000);
        let records = [source(data.clone())];
        let users = user_records(&records);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].data.as_ref(), data.as_slice());
        let (reason, message) = users[0].error.clone().unwrap();
        assert_eq!(reason, ErrorReason::AggregateLimit);
        assert!(message.contains("1000 user records"), "{message}");
    }

    #[test]
    fn many_failures_of_one_aggregate_collapse_into_one_line() {
        let users: Vec<kpl::UserRecord> = (0..200)
            .map(|i| kpl::UserRecord {
                partition_key: "k".into(),
                explicit_hash_key: None,
                data: format!("not json {i:024}").into_bytes(),
            })
            .collect();
        let records = [source(kpl::aggregate(&users))];
        let decoded = user_records(&records);
        let failures: Vec<Failure> = decoded
            .iter()
            .filter(|u| u.sub != Some(7))
            .map(|u| Failure {
                reason: ErrorReason::NotJson,
                message: "not JSON",
                record: u.record,
                sub: u.sub,
                data: &u.data,
            })
            .collect();
        let mut out = Vec::new();
        write_error_lines(&failures, &records, &mut out);
        let lines: Vec<serde_json::Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["failedSubSequenceNumbers"], "0-6,8-199");
        assert_eq!(lines[0]["subSequenceNumber"], serde_json::Value::Null);
        assert_eq!(
            BASE64_STANDARD
                .decode(lines[0]["rawData"].as_str().unwrap())
                .unwrap(),
            records[0].data
        );
        assert!(
            out.len() <= MAX_ERROR_EXPANSION * records[0].data.len() + ERROR_LINE_ALLOWANCE_BYTES
        );
        // A few failures keep a line each.
        let mut out = Vec::new();
        write_error_lines(&failures[..3], &records, &mut out);
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 3);
    }

    #[test]
    fn sub_ranges_are_compact() {
        assert_eq!(sub_ranges([0, 1, 2, 5, 7, 8].into_iter()), "0-2,5,7-8");
        assert_eq!(sub_ranges([3].into_iter()), "3");
        assert_eq!(sub_ranges(std::iter::empty()), "");
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

//! The pure heart of the function: from the Kinesis records still to be stored to the list
//! of objects to PUT, with their keys, bodies, metadata and the range of Kinesis records
//! each holds. No I/O; the same records always give the same plan, byte for byte.
//!
//! - One data object per partition (one in all without partitioning), holding its user
//!   records in shard order.
//! - One error object per error reason, holding JSON lines like Firehose's
//!   processing-failed output: `{"errorCode", "errorMessage", "sequenceNumber",
//!   "subSequenceNumber", "partitionKey", "approximateArrivalTimestamp", "rawData"}` with
//!   the raw bytes in base64.
//! - Objects are ordered by the first Kinesis record they hold, then key, which is the
//!   order they are written in (see `write.rs` for why that matters).

use crate::config::{Config, Format, NonJsonRecords};
use crate::decode::{
    each_user_record, write_error_lines, AsFailure, ErrorReason, Failure, UserRecord,
};
use crate::encode::{frame, CONTENT_TYPE_NDJSON};
use crate::error::WriteError;
use crate::event::SourceRecord;
use crate::key::{date_path, safe_segment, ObjectName, MAX_REASON_BYTES};
use crate::partition::{partition_value, PartitionBound, Slot};
use crate::store::{Condition, PutObject};
use std::borrow::Cow;
use std::collections::BTreeMap;
use trickle_columnar::{write_parquet, RecordEncoder, RecordError, CONTENT_TYPE_PARQUET};
use trickle_shared::json::{ndjson_line, NdjsonLine};
use trickle_shared::limits::S3_MAX_USER_METADATA_BYTES;

/// A Parquet data object's extension.
pub const PARQUET_EXTENSION: &str = ".parquet";

/// Metadata names (sent as `x-amz-meta-<name>`).
pub const META_SHARD_ID: &str = "shard-id";
pub const META_FIRST_SEQUENCE: &str = "first-sequence-number";
pub const META_LAST_SEQUENCE: &str = "last-sequence-number";
pub const META_RECORD_COUNT: &str = "record-count";
pub const META_ERROR_REASON: &str = "error-reason";
pub const META_ERROR_MESSAGE: &str = "error-message";
/// SHA-256 (hex) of the user records an object holds, in order, each as its length (8 bytes,
/// little-endian) and its bytes. It names the object's contents whatever the compression
/// or its level, so a 412 on its key can be told apart from another object's (`write.rs`).
pub const META_RECORDS_DIGEST: &str = "records-sha256";
/// The longest `error-message` metadata value: the first record's reason, cut to leave
/// room for the other entries within S3's 2 KB of user metadata.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 512;

/// What an object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Data,
    Error(ErrorReason),
}

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObject {
    pub put: PutObject,
    pub kind: ObjectKind,
    /// Index (into the planned records) of the first Kinesis record it holds any of.
    pub first: usize,
    /// Index of the last.
    pub last: usize,
    /// User records in it.
    pub user_records: usize,
    /// Uncompressed bytes.
    pub raw_bytes: usize,
}

/// All objects for some records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub objects: Vec<PlannedObject>,
    /// User records in all (data and error).
    pub user_records: usize,
    /// User records (or whole Kinesis records) sent to error objects.
    pub error_records: usize,
    /// Named partitions used.
    pub partitions: usize,
    /// Records put into the default partition because of the partition bound.
    pub overflowed: usize,
    /// Kinesis records skipped as copies firehose-transform re-ingested (see `decode.rs`).
    pub reingested_copies: usize,
    /// Parquet without an extra column: unknown fields dropped (and counted, never silent).
    pub fields_dropped: usize,
    /// NDJSON: JSON records that are not objects, written as `{"value":...}`.
    pub wrapped_as_value: usize,
    /// NDJSON: records of UTF-8 text that is not JSON, written as `{"message":...}`.
    pub wrapped_as_message: usize,
    /// NDJSON: records of bytes that are not UTF-8, written as `{"data_base64":...}`.
    pub wrapped_as_base64: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Data(Slot),
    Error(ErrorReason),
}

struct Member<'a> {
    record: usize,
    sub: Option<usize>,
    /// The user record as it came (what error lines and the records digest hold).
    data: std::borrow::Cow<'a, [u8]>,
    /// Its NDJSON line when that differs from `data` (compacted JSON, wrapped text or bytes).
    line: Option<Vec<u8>>,
    /// Why it goes to the error output, when it does.
    error: Option<(ErrorReason, String)>,
}

impl AsFailure for Member<'_> {
    fn as_failure(&self) -> Failure<'_> {
        let (reason, message) = self
            .error
            .as_ref()
            .map_or((ErrorReason::NotJson, ""), |(r, m)| (*r, m.as_str()));
        Failure {
            reason,
            message,
            record: self.record,
            sub: self.sub,
            data: &self.data,
        }
    }
}

/// Plans the objects for `records` (all of one shard, in order, none already stored).
pub fn plan(config: &Config, shard_id: &str, records: &[SourceRecord]) -> Result<Plan, WriteError> {
    plan_skipping(config, shard_id, records, &|_| false)
}

/// `plan`, without the user records `skip` names (copies of identities stored already:
/// `trickle_kinesis_batch::identities`). A record in no object is done like a re-ingested
/// copy: the mark passes it.
pub fn plan_skipping(
    config: &Config,
    shard_id: &str,
    records: &[SourceRecord],
    skip: &dyn Fn(&UserRecord<'_>) -> bool,
) -> Result<Plan, WriteError> {
    let Some(first_record) = records.first() else {
        return Ok(Plan::default());
    };
    let date = date_path(config.key_layout, first_record.arrival);
    let mut bound = config
        .partitioning
        .as_ref()
        .map(|p| PartitionBound::new(p.max_partitions, &p.default_value));
    let mut groups: BTreeMap<Group, Vec<Member<'_>>> = BTreeMap::new();
    // Parquet: one file's rows per data group, filled as records are assigned.
    let mut files: BTreeMap<Slot, RecordEncoder> = BTreeMap::new();
    let mut user_count = 0;
    let (mut wrapped_as_value, mut wrapped_as_message, mut wrapped_as_base64) = (0, 0, 0);
    for u in each_user_record(records).filter(|u| !skip(u)) {
        user_count += 1;
        let (mut group, mut error) = match (u.error, &config.partitioning, bound.as_mut()) {
            (Some((reason, message)), _, _) => (Group::Error(reason), Some(message)),
            (None, Some(p), Some(bound)) => match partition_value(&u.data, &p.pointer) {
                Ok(value) => (Group::Data(bound.slot(value.as_deref())), None),
                Err(message) => (
                    Group::Error(ErrorReason::NotJson),
                    Some(format!("not JSON, needed for {}: {message}", p.pointer)),
                ),
            },
            (None, _, _) => (Group::Data(Slot::Default), None),
        };
        if let (Group::Data(slot), Format::Parquet(parquet)) = (group, &config.format) {
            let rows = files.entry(slot).or_insert_with(|| {
                RecordEncoder::new(&parquet.schema, parquet.extra_column.as_deref())
            });
            // A record that does not fit goes to the error output alone; the rest is written.
            match rows.push(&u.data) {
                Ok(()) => {}
                Err(RecordError::NotJsonObject(why)) => {
                    group = Group::Error(ErrorReason::NotJson);
                    error = Some(format!("not a JSON object, needed for Parquet: {why}"));
                }
                Err(RecordError::Mismatch(m)) => {
                    group = Group::Error(ErrorReason::SchemaMismatch);
                    error = Some(m.to_string());
                }
            }
        }
        // NDJSON: every record one line of JSON (`trickle_shared::json::ndjson_line`).
        let mut line = None;
        if let (Group::Data(_), Format::Ndjson) = (group, &config.format) {
            match (ndjson_line(&u.data), config.non_json_records) {
                (NdjsonLine::Json(Cow::Borrowed(_)), _) => {}
                (NdjsonLine::Json(Cow::Owned(compact)), _) => line = Some(compact),
                (NdjsonLine::Value(wrapped), _) => {
                    wrapped_as_value += 1;
                    line = Some(wrapped);
                }
                (NdjsonLine::Text(wrapped), NonJsonRecords::Wrap) => {
                    wrapped_as_message += 1;
                    line = Some(wrapped);
                }
                (NdjsonLine::Binary(wrapped), NonJsonRecords::Wrap) => {
                    wrapped_as_base64 += 1;
                    line = Some(wrapped);
                }
                (NdjsonLine::Text(_) | NdjsonLine::Binary(_), NonJsonRecords::Error) => {
                    group = Group::Error(ErrorReason::NotJson);
                    error = Some("not one JSON value (NON_JSON_RECORDS=error)".to_owned());
                }
            }
        }
        let error = match group {
            Group::Error(reason) => Some((reason, error.unwrap_or_default())),
            Group::Data(_) => None,
        };
        groups.entry(group).or_default().push(Member {
            record: u.record,
            sub: u.sub,
            data: u.data,
            line,
            error,
        });
    }

    let mut plan = Plan {
        user_records: user_count,
        partitions: bound.as_ref().map_or(0, PartitionBound::named),
        overflowed: bound.as_ref().map_or(0, |b| b.overflowed),
        reingested_copies: records
            .iter()
            .filter(|r| trickle_shared::reingest::is_reingested(&r.partition_key))
            .count(),
        wrapped_as_value,
        wrapped_as_message,
        wrapped_as_base64,
        ..Plan::default()
    };
    for (group, members) in groups {
        let (Some(first), Some(last)) = (
            members.iter().map(|m| m.record).min(),
            members.iter().map(|m| m.record).max(),
        ) else {
            continue;
        };
        let (prefix, segment, kind, encoded) = match group {
            Group::Data(slot) => {
                let segment = match (&config.partitioning, &bound) {
                    (Some(p), Some(b)) => {
                        format!("{}={}/", p.name, b.value(slot).unwrap_or(&p.default_value))
                    }
                    _ => String::new(),
                };
                let encoded = match (&config.format, files.remove(&slot)) {
                    (Format::Parquet(parquet), Some(rows)) => {
                        plan.fields_dropped += rows.fields_dropped();
                        let batch = rows.finish();
                        let raw_bytes = batch.get_array_memory_size();
                        Encoded {
                            body: write_parquet(&batch, parquet.compression)
                                .map_err(|e| WriteError::Compression(e.to_string()))?,
                            raw_bytes,
                            content_type: CONTENT_TYPE_PARQUET,
                            content_encoding: None,
                            extension: PARQUET_EXTENSION,
                        }
                    }
                    _ => ndjson(
                        config,
                        frame(
                            members
                                .iter()
                                .map(|m| m.line.as_deref().unwrap_or(m.data.as_ref())),
                        ),
                    )?,
                };
                (config.prefix.as_str(), segment, ObjectKind::Data, encoded)
            }
            Group::Error(reason) => {
                plan.error_records += members.len();
                let segment = format!("{}/", safe_segment(reason.code(), MAX_REASON_BYTES));
                let mut body = Vec::new();
                write_error_lines(&members, records, &mut body);
                (
                    config.error_prefix.as_str(),
                    segment,
                    ObjectKind::Error(reason),
                    ndjson(config, body)?,
                )
            }
        };
        let key = ObjectName {
            prefix,
            segment: &segment,
            date: &date,
            shard_id,
            first: &records[first].sequence,
            last: &records[last].sequence,
            extension: encoded.extension,
        }
        .key();
        let mut metadata = vec![
            (META_SHARD_ID.to_owned(), shard_id.to_owned()),
            (
                META_FIRST_SEQUENCE.to_owned(),
                records[first].sequence.to_string(),
            ),
            (
                META_LAST_SEQUENCE.to_owned(),
                records[last].sequence.to_string(),
            ),
            (META_RECORD_COUNT.to_owned(), members.len().to_string()),
            (
                META_RECORDS_DIGEST.to_owned(),
                records_digest(members.iter().map(|m| m.data.as_ref())),
            ),
        ];
        if let ObjectKind::Error(reason) = kind {
            metadata.push((META_ERROR_REASON.to_owned(), reason.code().to_owned()));
            let message = members
                .iter()
                .find_map(|m| m.error.as_ref().map(|(_, message)| message.as_str()))
                .unwrap_or_default();
            metadata.push((
                META_ERROR_MESSAGE.to_owned(),
                metadata_value(message, MAX_ERROR_MESSAGE_BYTES),
            ));
        }
        debug_assert!(
            metadata
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                <= S3_MAX_USER_METADATA_BYTES
        );
        plan.objects.push(PlannedObject {
            put: PutObject {
                key,
                body: encoded.body,
                content_type: encoded.content_type,
                content_encoding: encoded.content_encoding,
                metadata,
                condition: Condition::IfNoneMatch,
            },
            kind,
            first,
            last,
            user_records: members.len(),
            raw_bytes: encoded.raw_bytes,
        });
    }
    plan.objects
        .sort_by(|a, b| (a.first, &a.put.key).cmp(&(b.first, &b.put.key)));
    Ok(plan)
}

/// An object's body and how it is stored.
struct Encoded {
    body: Vec<u8>,
    /// Bytes before compression (for Parquet: the Arrow batch in memory).
    raw_bytes: usize,
    content_type: &'static str,
    content_encoding: Option<&'static str>,
    extension: &'static str,
}

/// NDJSON lines, compressed with `COMPRESSION` (data objects in `FORMAT=ndjson`, and every
/// error object).
fn ndjson(config: &Config, body: Vec<u8>) -> Result<Encoded, WriteError> {
    Ok(Encoded {
        raw_bytes: body.len(),
        body: config
            .compression
            .compress(body, config.gzip_level)
            .map_err(|e| WriteError::Compression(e.to_string()))?,
        content_type: CONTENT_TYPE_NDJSON,
        content_encoding: config.compression.content_encoding(),
        extension: config.compression.extension(),
    })
}

/// `records-sha256` of some user records.
pub fn records_digest<'a>(records: impl Iterator<Item = &'a [u8]>) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for r in records {
        hash.update((r.len() as u64).to_le_bytes());
        hash.update(r);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// S3 user metadata travels in HTTP headers: keep printable ASCII, cut to `max` bytes.
fn metadata_value(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Partitioning;
    use crate::encode::Compression;
    use crate::key::KeyLayout;
    use base64::prelude::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    pub(crate) fn config() -> Config {
        Config {
            bucket: "b".into(),
            prefix: "raw/".into(),
            error_prefix: "errors/".into(),
            state_prefix: "state/".into(),
            compression: Compression::None,
            gzip_level: trickle_shared::gzip::DEFAULT_GZIP_LEVEL,
            key_layout: KeyLayout::Firehose,
            partitioning: None,
            deadline_margin: crate::config::DEFAULT_DEADLINE_MARGIN,
            format: crate::config::Format::Ndjson,
            schema: None,
            glue: None,
            non_json_records: crate::config::NonJsonRecords::Wrap,
        }
    }

    fn partitioned(max: usize) -> Config {
        Config {
            partitioning: Some(Partitioning {
                pointer: "/c".into(),
                name: "c".into(),
                default_value: "__HIVE_DEFAULT_PARTITION__".into(),
                max_partitions: max,
            }),
            ..config()
        }
    }

    fn rec(seq: u64, data: &str) -> SourceRecord {
        SourceRecord {
            sequence: seq.to_string().parse().unwrap(),
            sequence_text: seq.to_string(),
            partition_key: "pk".into(),
            arrival: Utc.with_ymd_and_hms(2024, 6, 10, 6, 30, 0).unwrap(),
            data: data.as_bytes().to_vec(),
        }
    }

    fn body(o: &PlannedObject) -> String {
        String::from_utf8(o.put.body.clone()).unwrap()
    }

    fn meta<'a>(o: &'a PlannedObject, name: &str) -> &'a str {
        o.put
            .metadata
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    #[test]
    fn every_ndjson_line_is_one_json_value_whatever_the_record_holds() {
        let records = [
            rec(1, "{ \"a\" :\n 1 }\n"),
            rec(2, "two\nlines"),
            SourceRecord {
                data: vec![0xff, 0x0a, 0x00],
                ..rec(3, "")
            },
        ];
        let p = plan(&config(), "shardId-000000000000", &records).unwrap();
        assert_eq!(
            body(&p.objects[0]),
            "{\"a\":1}\n{\"message\":\"two\\nlines\"}\n{\"data_base64\":\"/woA\"}\n"
        );
        assert_eq!((p.wrapped_as_message, p.wrapped_as_base64), (1, 1));
        // The digest is of the records as they came: the same whatever their lines.
        let raw = records_digest(records.iter().map(|r| r.data.as_slice()));
        assert_eq!(meta(&p.objects[0], META_RECORDS_DIGEST), raw);
        // NON_JSON_RECORDS=error: text and bytes go to the error prefix instead.
        let strict = Config {
            non_json_records: NonJsonRecords::Error,
            ..config()
        };
        let p = plan(&strict, "shardId-000000000000", &records).unwrap();
        assert_eq!(p.objects.len(), 2);
        assert_eq!(body(&p.objects[0]), "{\"a\":1}\n");
        assert_eq!(p.objects[1].kind, ObjectKind::Error(ErrorReason::NotJson));
        assert_eq!(p.error_records, 2);
    }

    #[test]
    fn one_object_per_batch_without_partitioning() {
        let records = [rec(9, "{\"a\":1}"), rec(10, "b\n"), rec(11, "c")];
        let p = plan(&config(), "shardId-000000000000", &records).unwrap();
        assert_eq!(p.objects.len(), 1);
        let o = &p.objects[0];
        assert_eq!(
            body(o),
            "{\"a\":1}\n{\"message\":\"b\"}\n{\"message\":\"c\"}\n"
        );
        assert_eq!(p.wrapped_as_message, 2);
        assert!(o
            .put
            .key
            .starts_with("raw/2024/06/10/06/shardId-000000000000-"));
        assert!(o.put.key.ends_with("-0019-00211.ndjson"), "{}", o.put.key);
        assert_eq!(meta(o, META_FIRST_SEQUENCE), "9");
        assert_eq!(meta(o, META_LAST_SEQUENCE), "11");
        assert_eq!(meta(o, META_RECORD_COUNT), "3");
        assert_eq!(meta(o, META_SHARD_ID), "shardId-000000000000");
        assert_eq!(o.put.condition, Condition::IfNoneMatch);
        assert_eq!((o.first, o.last), (0, 2));
    }

    #[test]
    fn partitions_by_pointer_with_default_and_errors() {
        let records = [
            rec(1, r#"{"c":"acme","n":1}"#),
            rec(2, r#"{"n":2}"#),
            rec(3, "Hello World"),
            rec(4, r#"{"c":"acme","n":4}"#),
        ];
        let p = plan(&partitioned(10), "s", &records).unwrap();
        let keys: Vec<&str> = p.objects.iter().map(|o| o.put.key.as_str()).collect();
        assert_eq!(p.objects.len(), 3, "{keys:?}");
        assert!(keys[0].starts_with("raw/c=acme/2024/06/10/06/s-"));
        assert_eq!(
            body(&p.objects[0]),
            "{\"c\":\"acme\",\"n\":1}\n{\"c\":\"acme\",\"n\":4}\n"
        );
        assert!(keys[1].starts_with("raw/c=__HIVE_DEFAULT_PARTITION__/"));
        assert!(keys[2].starts_with("errors/not-json/2024/06/10/06/s-"));
        let err = &p.objects[2];
        assert_eq!(meta(err, META_ERROR_REASON), "not-json");
        assert!(meta(err, META_ERROR_MESSAGE).contains("/c"));
        let line: serde_json::Value = serde_json::from_str(body(err).trim_end()).unwrap();
        assert_eq!(line["sequenceNumber"], "3");
        assert_eq!(line["rawData"], BASE64_STANDARD.encode("Hello World"));
        assert_eq!(p.error_records, 1);
        assert_eq!(p.user_records, 4);
    }

    #[test]
    fn records_over_the_partition_bound_go_to_the_default_partition() {
        let records: Vec<SourceRecord> = (1..=5)
            .map(|i| rec(i, &format!(r#"{{"c":"v{i}"}}"#)))
            .collect();
        let p = plan(&partitioned(2), "s", &records).unwrap();
        assert_eq!(p.objects.len(), 3);
        assert_eq!(p.overflowed, 3);
        assert_eq!(p.partitions, 2);
        let default = p
            .objects
            .iter()
            .find(|o| o.put.key.contains("__HIVE_DEFAULT_PARTITION__"))
            .unwrap();
        assert_eq!(default.user_records, 3);
        assert_eq!(p.objects.iter().map(|o| o.user_records).sum::<usize>(), 5);
    }

    #[test]
    fn sets_extension_and_encoding_for_the_compression() {
        let records = [rec(1, "x")];
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let p = plan(
                &Config {
                    compression: c,
                    ..config()
                },
                "s",
                &records,
            )
            .unwrap();
            let o = &p.objects[0];
            assert!(o.put.key.ends_with(c.extension()));
            assert_eq!(o.put.content_encoding, c.content_encoding());
            assert_eq!(o.put.content_type, CONTENT_TYPE_NDJSON);
        }
    }

    #[test]
    fn metadata_is_printable_ascii() {
        assert_eq!(metadata_value("é\nok", 10), "??ok");
        assert_eq!(metadata_value(&"x".repeat(600), 512).len(), 512);
    }

    fn aggregate(records: &[&str]) -> Vec<u8> {
        use trickle_shared::kpl::{self, UserRecord};
        let users: Vec<UserRecord> = records
            .iter()
            .map(|r| UserRecord {
                partition_key: "pk".into(),
                explicit_hash_key: None,
                data: r.as_bytes().to_vec(),
            })
            .collect();
        kpl::aggregate(&users)
    }

    fn rec_bytes(seq: u64, data: Vec<u8>) -> SourceRecord {
        SourceRecord {
            data,
            ..rec(seq, "")
        }
    }

    /// Found with hostile input: a value spelled like the default partition beside a record
    /// without a value, in one aggregate, made two objects with one key; the second PUT's
    /// 412 was then counted as stored and a record was lost.
    #[test]
    fn a_value_spelled_like_the_default_partition_shares_its_object() {
        let records = [rec_bytes(
            7,
            aggregate(&[
                r#"{"c":"__HIVE_DEFAULT_PARTITION__","n":1}"#,
                r#"{"id":"x"}"#,
            ]),
        )];
        let p = plan(&partitioned(10), "s", &records).unwrap();
        assert_eq!(p.objects.len(), 1, "{:?}", p.objects);
        assert_eq!(p.objects[0].user_records, 2);
        assert!(p.objects[0]
            .put
            .key
            .starts_with("raw/c=__HIVE_DEFAULT_PARTITION__/"));
    }

    #[test]
    fn every_object_carries_the_digest_of_its_records() {
        let records = [rec(1, "a"), rec(2, "b")];
        let p = plan(&config(), "s", &records).unwrap();
        assert_eq!(
            meta(&p.objects[0], META_RECORDS_DIGEST),
            records_digest([b"a".as_slice(), b"b".as_slice()].into_iter())
        );
        assert_ne!(
            records_digest([b"ab".as_slice()].into_iter()),
            records_digest([b"a".as_slice(), b"b".as_slice()].into_iter())
        );
    }

    /// One generated user record: a partition value (from a few, the default's spelling
    /// among them), none, or not JSON.
    fn user_record() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["a", "b", "c/d", "__HIVE_DEFAULT_PARTITION__", "", "é"])
                .prop_map(|v| format!(r#"{{"c":"{v}"}}"#)),
            Just(r#"{"n":1}"#.to_owned()),
            Just(r#"{"c":null}"#.to_owned()),
            Just("not json".to_owned()),
            Just(String::new()),
        ]
    }

    /// One generated Kinesis record: a plain record, a KPL aggregate of user records, or an
    /// aggregate with a valid digest and a corrupt body.
    fn kinesis_record() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => user_record().prop_map(String::into_bytes),
            2 => proptest::collection::vec(user_record(), 1..6).prop_map(|users| {
                let refs: Vec<&str> = users.iter().map(String::as_str).collect();
                aggregate(&refs)
            }),
            1 => Just({
                use md5::{Digest, Md5};
                let payload = b"\xff\xff\xff";
                let mut data = trickle_shared::kpl::KPL_MAGIC.to_vec();
                data.extend_from_slice(payload);
                data.extend_from_slice(&Md5::digest(payload));
                data
            }),
        ]
    }

    proptest! {
        /// Two planned objects never share a key, whatever the batch: partition values,
        /// the default's spelling, overflow, aggregates and every error reason.
        #[test]
        fn no_two_planned_objects_share_a_key(
            data in proptest::collection::vec(kinesis_record(), 1..30),
            max in 1usize..4,
            partition in any::<bool>(),
        ) {
            let records: Vec<SourceRecord> = data
                .into_iter()
                .enumerate()
                .map(|(i, d)| rec_bytes(i as u64 + 1, d))
                .collect();
            let config = if partition { partitioned(max) } else { config() };
            let p = plan(&config, "shardId-000000000000", &records).unwrap();
            let keys: std::collections::BTreeSet<&str> =
                p.objects.iter().map(|o| o.put.key.as_str()).collect();
            prop_assert_eq!(keys.len(), p.objects.len(), "{:?}", p.objects.iter().map(|o| &o.put.key).collect::<Vec<_>>());
            prop_assert_eq!(p.objects.iter().map(|o| o.user_records).sum::<usize>(), p.user_records);
        }
    }

    proptest! {
        #[test]
        fn the_same_records_give_the_same_plan(
            values in proptest::collection::vec(proptest::option::of("[a-c]"), 1..40),
            max in 1usize..4,
        ) {
            let records: Vec<SourceRecord> = values.iter().enumerate().map(|(i, v)| match v {
                Some(v) => rec(i as u64 + 1, &format!(r#"{{"c":"{v}"}}"#)),
                None => rec(i as u64 + 1, "not json"),
            }).collect();
            let config = Config { compression: Compression::Gzip, ..partitioned(max) };
            let a = plan(&config, "s", &records).unwrap();
            let b = plan(&config, "s", &records).unwrap();
            prop_assert_eq!(&a, &b);
            // Every user record is in exactly one object.
            prop_assert_eq!(a.objects.iter().map(|o| o.user_records).sum::<usize>(), records.len());
            // Objects are in write order: by first record.
            prop_assert!(a.objects.windows(2).all(|w| w[0].first <= w[1].first));
        }
    }
}

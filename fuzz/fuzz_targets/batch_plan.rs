//! batch-to-s3's pure path over arbitrary record data: `plan::plan` (KPL de-aggregation via
//! `decode::user_records`, partitioning by a JSON pointer, error lines, keys, metadata,
//! framing, compression), with records that are plain bytes, real KPL aggregates of any user
//! records, or any bytes framed with a valid digest (corrupt aggregates).
//!
//! Invariants:
//! - never panics, never fails (compression is in memory);
//! - every user record is in exactly one object; the counts add up;
//! - at most `MAX_PARTITIONS + 1` data objects (one without partitioning), one error object
//!   per reason;
//! - every key within S3's 1,024 bytes, user metadata within S3's 2 KB;
//! - objects in write order: by first record, then key.
#![no_main]

use batch_to_s3::config::Config;
use batch_to_s3::decode::user_records;
use batch_to_s3::event::SourceRecord;
use batch_to_s3::plan::{plan, ObjectKind};
use chrono::{DateTime, Utc};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};
use std::collections::HashMap;
use trickle_shared::kpl::{self, UserRecord, KPL_MAGIC};
use trickle_shared::limits::{S3_MAX_KEY_BYTES, S3_MAX_USER_METADATA_BYTES};

const MAX_RECORDS: usize = 64;

#[derive(Debug, Arbitrary)]
enum Data<'a> {
    Plain(&'a [u8]),
    Aggregate(Vec<(&'a str, Option<&'a str>, &'a [u8])>),
    /// Magic, these bytes, their MD5: the protobuf decoder sees any bytes.
    Framed(&'a [u8]),
}

#[derive(Debug, Arbitrary)]
enum Pointer<'a> {
    None,
    Simple,
    Nested,
    Any(&'a str),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    pointer: Pointer<'a>,
    max_partitions: u8,
    hive: bool,
    gzip: bool,
    first_sequence: u64,
    arrival_secs: i64,
    shard_id: &'a str,
    records: Vec<(&'a str, Data<'a>)>,
}

fuzz_target!(|input: Input<'_>| {
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("BUCKET_NAME", "bucket".into());
    env.insert(
        "COMPRESSION",
        if input.gzip { "gzip" } else { "none" }.into(),
    );
    env.insert(
        "KEY_LAYOUT",
        if input.hive { "hive" } else { "firehose" }.into(),
    );
    env.insert(
        "MAX_PARTITIONS",
        (u32::from(input.max_partitions % 8) + 1).to_string(),
    );
    match input.pointer {
        Pointer::None => {}
        Pointer::Simple => {
            env.insert("OBJECT_PARTITION_POINTER", "/customer".into());
        }
        Pointer::Nested => {
            env.insert("OBJECT_PARTITION_POINTER", "/a/b~1c/0".into());
        }
        Pointer::Any(p) => {
            env.insert("OBJECT_PARTITION_POINTER", p.into());
        }
    }
    // A pointer the configuration refuses fails the cold start, not a batch.
    let Ok(config) = Config::from_lookup(|name| env.get(name).cloned()) else {
        return;
    };

    // Kinesis shard ids are at most 128 characters.
    let shard_id: String = input.shard_id.chars().take(128).collect();
    let shard_id = if shard_id.is_empty() {
        "shardId-000000000000".to_owned()
    } else {
        shard_id
    };
    let arrival = DateTime::<Utc>::from_timestamp(input.arrival_secs % 253_402_300_000, 0)
        .unwrap_or_default();
    let records: Vec<SourceRecord> = input
        .records
        .iter()
        .take(MAX_RECORDS)
        .enumerate()
        .map(|(i, (pk, data))| {
            let sequence = (u128::from(input.first_sequence) + i as u128).to_string();
            let data = match data {
                Data::Plain(b) => b.to_vec(),
                Data::Aggregate(users) => kpl::aggregate(
                    &users
                        .iter()
                        .map(|(pk, ehk, d)| UserRecord {
                            partition_key: (*pk).to_owned(),
                            explicit_hash_key: ehk.map(str::to_owned),
                            data: d.to_vec(),
                        })
                        .collect::<Vec<_>>(),
                ),
                Data::Framed(b) => {
                    let mut v = KPL_MAGIC.to_vec();
                    v.extend_from_slice(b);
                    v.extend_from_slice(&Md5::digest(b));
                    v
                }
            };
            SourceRecord {
                sequence: sequence.parse().expect("a decimal sequence number"),
                sequence_text: sequence,
                partition_key: (*pk).to_owned(),
                arrival,
                data,
            }
        })
        .collect();

    let expected_users = user_records(&records).len();
    let p = match plan(&config, &shard_id, &records) {
        Ok(p) => p,
        Err(e) => panic!("plan failed: {e}"),
    };
    assert_eq!(p.user_records, expected_users, "user record count");
    let in_objects: usize = p.objects.iter().map(|o| o.user_records).sum();
    assert_eq!(
        in_objects, p.user_records,
        "every user record in exactly one object"
    );
    let in_errors: usize = p
        .objects
        .iter()
        .filter(|o| matches!(o.kind, ObjectKind::Error(_)))
        .map(|o| o.user_records)
        .sum();
    assert_eq!(in_errors, p.error_records, "error record count");
    let data_objects = p
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Data)
        .count();
    let max_data = config
        .partitioning
        .as_ref()
        .map_or(1, |p| p.max_partitions + 1);
    assert!(
        data_objects <= max_data,
        "{data_objects} data objects, at most {max_data}"
    );
    for o in &p.objects {
        assert!(o.first <= o.last && o.last < records.len(), "record range");
        assert!(o.user_records > 0, "an empty object");
        assert!(
            o.put.key.len() <= S3_MAX_KEY_BYTES,
            "key of {} bytes: {}",
            o.put.key.len(),
            o.put.key
        );
        let meta: usize = o.put.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(
            meta <= S3_MAX_USER_METADATA_BYTES,
            "{meta} bytes of user metadata"
        );
    }
    for w in p.objects.windows(2) {
        assert!(
            (w[0].first, &w[0].put.key) < (w[1].first, &w[1].put.key),
            "objects out of write order (or two objects with one key)"
        );
    }
    let keys: std::collections::BTreeSet<&str> =
        p.objects.iter().map(|o| o.put.key.as_str()).collect();
    assert_eq!(keys.len(), p.objects.len(), "two planned objects share a key");
    for key in &keys {
        assert!(
            key.split('/').all(|segment| segment.len() <= 255),
            "a key segment over 255 bytes: {key}"
        );
    }
});

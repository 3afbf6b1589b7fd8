//! What one Kinesis record may add to memory is bounded by a multiple of its size, whatever
//! it holds: proven by counting the bytes allocated while a batch is planned (a counting
//! global allocator is deterministic, unlike RSS). The RSS of the worst cases, end to end in
//! the release binary, is in the benchmark (`bench/memory_bench.py`).
//!
//! One test function: the allocator is global to this binary, so the cases run one after
//! another.

use batch_to_s3::config::Config;
use batch_to_s3::event::SourceRecord;
use batch_to_s3::plan::plan;
use chrono::{TimeZone, Utc};
use trickle_shared::counting_alloc::{peak_of, CountingAllocator};
use trickle_shared::kpl::{self, UserRecord};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What planning may allocate beyond the records themselves: this many times their bytes.
/// (The figures each case measured are printed with `--nocapture`.)
const BOUND_MULTIPLE: usize = 8;
/// And this much whatever the records (compressor state, the Parquet writer, tables).
const BOUND_FIXED: usize = 16 << 20;

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut all = vec![("BUCKET_NAME", "b"), ("PREFIX", "raw/")];
    all.extend_from_slice(pairs);
    Config::from_lookup(|name| {
        all.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn record(seq: usize, partition_key: &str, data: Vec<u8>) -> SourceRecord {
    SourceRecord {
        sequence: (seq + 1).to_string().parse().unwrap(),
        sequence_text: "4959000000000000000000000000000000000000000000000000000".to_owned()
            + &seq.to_string(),
        partition_key: partition_key.to_owned(),
        arrival: Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
        data,
    }
}

/// A KPL aggregate of `count` user records of `data` each, under one partition key.
fn aggregate(count: usize, data: &[u8], partition_key: &str) -> Vec<u8> {
    let users: Vec<UserRecord> = (0..count)
        .map(|_| UserRecord {
            partition_key: partition_key.to_owned(),
            explicit_hash_key: None,
            data: data.to_vec(),
        })
        .collect();
    kpl::aggregate(&users)
}

/// An aggregate of about `bytes`, as dense as the limit allows: `data` makes each user
/// record take exactly `MIN_AGGREGATE_BYTES_PER_RECORD` bytes in it.
fn densest_aggregate(bytes: usize, data: &[u8], partition_key: &str) -> Vec<u8> {
    let per_record = aggregate(2, data, "k").len() - aggregate(1, data, "k").len();
    assert_eq!(
        per_record,
        trickle_kinesis_batch::decode::MIN_AGGREGATE_BYTES_PER_RECORD,
        "pick data that makes the densest allowed records"
    );
    let agg = aggregate(bytes / per_record, data, partition_key);
    assert!(agg.len() / per_record >= bytes / per_record, "not refused");
    agg
}

/// The report's hostile aggregate: `count` user records of two bytes each (an empty
/// `Record` message: partition key index 0, no data), which the KPL's decoders accept.
fn hostile_aggregate(count: usize) -> Vec<u8> {
    use md5::{Digest, Md5};
    let mut payload = vec![0x0A, 0x01, b'k']; // partition_key_table: ["k"]
    for _ in 0..count {
        payload.extend_from_slice(&[0x1A, 0x00]); // records: an empty Record
    }
    let mut out = kpl::KPL_MAGIC.to_vec();
    out.extend_from_slice(&payload);
    out.extend_from_slice(&Md5::digest(&payload));
    out
}

struct Case {
    name: &'static str,
    config: Config,
    records: Vec<SourceRecord>,
}

#[test]
fn planning_allocates_at_most_a_multiple_of_the_records_whatever_they_hold() {
    const MIB: usize = 1 << 20;
    let long_key = "p".repeat(256);
    let partitioned = [("OBJECT_PARTITION_POINTER", "/customer")];
    let parquet = [
        ("FORMAT", "parquet"),
        ("SCHEMA", "id string, n bigint"),
        ("OBJECT_PARTITION_POINTER", "/customer"),
    ];
    // The hostile aggregate of the report: 1 MiB of empty user records (refused whole).
    let empties = hostile_aggregate(524_256);
    assert!(empties.len() <= MIB);
    let cases = vec![
        Case {
            name: "1 MiB aggregate of 524,256 empty records, partitioned NDJSON",
            config: config(&partitioned),
            records: vec![record(0, "k", empties.clone())],
        },
        Case {
            name: "same, Parquet",
            config: config(&parquet),
            records: vec![record(0, "k", empties.clone())],
        },
        Case {
            name: "densest allowed 1 MiB aggregates x4 of small JSON, Parquet",
            config: config(&parquet),
            records: (0..4)
                .map(|i| {
                    record(
                        i,
                        "k",
                        densest_aggregate(MIB, br#"{"id":"abcdefghijk","n":7}"#, "k"),
                    )
                })
                .collect(),
        },
        Case {
            name: "4 MiB of 1 KiB plain records, NDJSON",
            config: config(&[]),
            records: (0..4096)
                .map(|i| record(i, "k", vec![b'x'; 1024]))
                .collect(),
        },
    ];
    let mut cases = cases;
    for (name, format) in [
        (
            "densest allowed 1 MiB aggregates x4 of non-JSON, 256-byte key, partitioned NDJSON",
            config(&partitioned),
        ),
        (
            "densest allowed 1 MiB aggregates x4 of non-JSON, 256-byte key, Parquet",
            config(&parquet),
        ),
    ] {
        cases.push(Case {
            name,
            config: format,
            records: (0..4)
                .map(|i| {
                    record(
                        i,
                        &long_key,
                        densest_aggregate(MIB, b"not json, twenty-six bytes", &long_key),
                    )
                })
                .collect(),
        });
    }
    let mut over = Vec::new();
    for case in cases {
        let input: usize = case.records.iter().map(|r| r.data.len()).sum();
        let (plan, peak) = peak_of(|| plan(&case.config, "shardId-000000000000", &case.records));
        let plan = plan.unwrap();
        assert_eq!(
            plan.objects.iter().map(|o| o.user_records).sum::<usize>(),
            plan.user_records,
            "{}: every user record in one object",
            case.name
        );
        let bound = BOUND_MULTIPLE * input + BOUND_FIXED;
        println!(
            "{}: records {} B, peak allocated {} B ({:.2}x), bound {} B, objects {}",
            case.name,
            input,
            peak,
            peak as f64 / input as f64,
            bound,
            plan.objects.len()
        );
        if peak > bound {
            over.push(format!("{}: {peak} > {bound}", case.name));
        }
    }
    assert!(over.is_empty(), "over the bound: {over:?}");
}

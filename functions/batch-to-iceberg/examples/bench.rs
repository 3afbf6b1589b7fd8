//! In-process benchmark (not a test): one shard's 6 MiB Lambda event of ~1 KB JSON records
//! (as bench/runtime_bench.py makes it), committed to an Iceberg table held in memory
//! (iceberg's memory storage and the in-memory Glue metadata location), so the figures are the
//! function's own CPU: encode (JSON -> Arrow), write (Parquet -> storage), commit
//! (manifest, manifest list, metadata, metadata location swap), on a table that grows by one snapshot
//! per round, as it does in production.
//!
//! `cargo run --release -p batch-to-iceberg --example bench [-- --rounds N]`

use batch_to_iceberg::catalog::LocationCatalog;
use batch_to_iceberg::metadata_location::GlueLocation;
use batch_to_iceberg::{BatchToIceberg, Config};
use chrono::{TimeZone, Utc};
use iceberg::io::FileIO;
use std::time::Instant;
use trickle_glue::MemoryGlueTables;
use trickle_kinesis_batch::{ShardBatch, SourceRecord};

/// Lambda's invocation payload limit, which bounds one batch.
const LAMBDA_MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

fn record(i: usize) -> Vec<u8> {
    let events = ["click", "view", "buy"];
    let mut body = format!(
        r#"{{"id": {i}, "user": "user-{}", "event": "{}", "ts": {}, "pad": ""#,
        i % 97,
        events[i % 3],
        1_700_000_000 + i
    );
    // Random letters (a fixed sequence): Parquet cannot shrink the pad to nothing.
    let mut x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while body.len() < 998 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        body.push((b'a' + (x >> 59) as u8 % 26) as char);
    }
    body.push_str(r#""}"#);
    body.into_bytes()
}

/// One shard's batch: as many records as fit a 6 MiB event (base64 and the event's JSON
/// around each record counted as Lambda counts them).
fn batch(shard: usize, first: usize) -> ShardBatch {
    let mut records = Vec::new();
    let mut event_bytes = 20;
    let mut i = first;
    loop {
        let data = record(i);
        let size = data.len().div_ceil(3) * 4 + 520;
        if event_bytes + size > LAMBDA_MAX_PAYLOAD_BYTES {
            break;
        }
        event_bytes += size;
        records.push(SourceRecord {
            sequence: (49_590_000_000u64 as u128 * 1_000_000 + i as u128)
                .to_string()
                .parse()
                .unwrap(),
            sequence_text: (49_590_000_000u64 as u128 * 1_000_000 + i as u128).to_string(),
            partition_key: format!("user-{}", i % 97),
            arrival: Utc.timestamp_millis_opt(1_764_583_200_000).unwrap(),
            data,
        });
        i += 1;
    }
    ShardBatch {
        stream_name: "bench".into(),
        shard_id: format!("shardId-{shard:012}"),
        records,
    }
}

/// This process's CPU time (user + system), from /proc/self/stat, in ms.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the `)`; 100 ticks/s.
    (ticks(11) + ticks(12)) * 10.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let pairs = [
        ("ICEBERG_DATABASE", "bench"),
        ("ICEBERG_TABLE", "events"),
        ("ICEBERG_WAREHOUSE", "s3://bench/warehouse"),
        ("ERROR_BUCKET", "bench"),
        (
            "SCHEMA",
            "id bigint, user string, event string, ts bigint, pad string",
        ),
    ];
    let config = Config::from_lookup(trickle_shared::config::map_lookup(&pairs)).expect("config");
    let catalog = LocationCatalog::new(
        GlueLocation::new(MemoryGlueTables::new(), "bench", "events"),
        FileIO::new_with_memory(),
        "bench",
        "events",
    )
    .expect("catalog");
    let f = BatchToIceberg::new(config, catalog);
    let (mut encode, mut write, mut commit, mut wall, mut cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut first = None;
    let mut last = None;
    let mut bytes_in = 0;
    let mut bytes_out = 0;
    for round in 0..rounds {
        let b = batch(round % 4, (round / 4) * 10_000);
        bytes_in = b.records.iter().map(|r| r.data.len()).sum::<usize>();
        let (c0, t0) = (cpu_ms(), Instant::now());
        let s = f.process(&b, None).await;
        let (c1, t1) = (cpu_ms(), t0.elapsed());
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!(s.rows_committed, b.records.len());
        encode.push(s.encode_us as f64 / 1000.0);
        write.push(s.upload_us as f64 / 1000.0);
        commit.push(s.commit_us as f64 / 1000.0);
        wall.push(t1.as_secs_f64() * 1000.0);
        cpu.push(c1 - c0);
        bytes_out = s.bytes_written;
        if round == 0 {
            first = Some(s.clone());
        }
        last = Some(s);
    }
    let (first, last) = (first.unwrap(), last.unwrap());
    println!(
        "batch-to-iceberg in process, {rounds} rounds of one 6 MiB event ({} records, {:.1} MB of record data -> {:.2} MB Parquet zstd), 4 shards on one table:",
        first.rows_committed,
        bytes_in as f64 / 1e6,
        bytes_out as f64 / 1e6
    );
    println!("| phase | median ms |");
    println!("|---|---|");
    println!("| encode (JSON -> Arrow) | {:.1} |", median(encode));
    println!("| write (Parquet zstd -> storage) | {:.1} |", median(write));
    println!(
        "| commit (manifest, list, metadata, swap) | {:.1} |",
        median(commit)
    );
    println!("| whole invocation, wall | {:.1} |", median(wall));
    println!(
        "| whole invocation, CPU (all threads) | {:.1} |",
        median(cpu)
    );
    println!(
        "commit on the new table: {:.1} ms; after {} snapshots: {:.1} ms",
        first.commit_us as f64 / 1000.0,
        rounds - 1,
        last.commit_us as f64 / 1000.0
    );
}

//! In-process benchmark (not a test): one shard's 6 MiB Lambda event of ~1 KB JSON records
//! (as bench/runtime_bench.py makes it), committed to an Iceberg table held in memory
//! (iceberg's memory storage and the in-memory Glue metadata location), so the figures are the
//! function's own CPU: encode (JSON -> Arrow), write (Parquet -> storage), commit
//! (manifest, manifest list, metadata, metadata location swap), on a table that grows by one snapshot
//! per round, as it does in production.
//!
//! Each round's batch is appended three ways, one after the other, so the cost of routing
//! is a ratio measured side by side: to one table (`ICEBERG_TABLE`); routed by `/event`
//! with every value to one table; routed to a table per value (three commits per batch).
//!
//! `cargo run --release -p batch-to-iceberg --example bench [-- --rounds N]`

use batch_to_iceberg::metadata_location::GlueLocation;
use batch_to_iceberg::{BatchToIceberg, Config};
use chrono::{TimeZone, Utc};
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

/// One way of appending the same batches.
struct Mode {
    name: &'static str,
    f: BatchToIceberg<GlueLocation<MemoryGlueTables>>,
    encode: Vec<f64>,
    write: Vec<f64>,
    commit: Vec<f64>,
    wall: Vec<f64>,
    cpu: Vec<f64>,
    tables: usize,
    first: Option<batch_to_iceberg::metrics::Summary>,
    last: Option<batch_to_iceberg::metrics::Summary>,
}

impl Mode {
    fn new(name: &'static str, extra: &[(&'static str, &'static str)]) -> Self {
        let mut pairs = vec![
            ("ICEBERG_DATABASE", "bench"),
            ("ICEBERG_WAREHOUSE", "s3://bench/warehouse"),
            ("ERROR_BUCKET", "bench"),
            (
                "SCHEMA",
                "id bigint, user string, event string, ts bigint, pad string",
            ),
        ];
        pairs.extend_from_slice(extra);
        let config =
            Config::from_lookup(trickle_shared::config::map_lookup(&pairs)).expect("config");
        let f = BatchToIceberg::in_memory(config).expect("catalogs");
        Self {
            name,
            f,
            encode: Vec::new(),
            write: Vec::new(),
            commit: Vec::new(),
            wall: Vec::new(),
            cpu: Vec::new(),
            tables: 0,
            first: None,
            last: None,
        }
    }

    async fn round(&mut self, b: &ShardBatch) {
        let (c0, t0) = (cpu_ms(), Instant::now());
        let s = self.f.process(b, None).await;
        let (c1, t1) = (cpu_ms(), t0.elapsed());
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!(s.rows_committed, b.records.len());
        self.encode.push(s.encode_us as f64 / 1000.0);
        self.write.push(s.upload_us as f64 / 1000.0);
        self.commit.push(s.commit_us as f64 / 1000.0);
        self.wall.push(t1.as_secs_f64() * 1000.0);
        self.cpu.push(c1 - c0);
        self.tables = s.tables_committed;
        self.first.get_or_insert_with(|| s.clone());
        self.last = Some(s);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    // The same batches three ways, round by round: one table; routed by `/event` with every
    // value to one table (the cost of reading the value); routed to a table per value.
    let mut modes = [
        Mode::new(
            "one table (`ICEBERG_TABLE`)",
            &[("ICEBERG_TABLE", "events")],
        ),
        Mode::new(
            "routed by /event, all to 1 table",
            &[
                ("ICEBERG_ROUTE_POINTER", "/event"),
                ("ICEBERG_ROUTES", "click: events; view: events; buy: events"),
            ],
        ),
        Mode::new(
            "routed by /event to 3 tables",
            &[
                ("ICEBERG_ROUTE_POINTER", "/event"),
                ("ICEBERG_ROUTES", "click: clicks; view: views; buy: buys"),
            ],
        ),
    ];
    let mut bytes_in = 0;
    let mut records = 0;
    for round in 0..rounds {
        let b = batch(round % 4, (round / 4) * 10_000);
        bytes_in = b.records.iter().map(|r| r.data.len()).sum::<usize>();
        records = b.records.len();
        // Each mode goes first in turn: none always pays for the batch's first touch.
        for k in 0..modes.len() {
            let i = (round + k) % modes.len();
            modes[i].round(&b).await;
        }
    }
    let bytes_out = modes[0].last.as_ref().map_or(0, |s| s.bytes_written);
    println!(
        "batch-to-iceberg in process, {rounds} rounds of one 6 MiB event ({records} records, {:.1} MB of record data -> {:.2} MB Parquet zstd), 4 shards; each round appended three ways, one after the other (each first in turn):",
        bytes_in as f64 / 1e6,
        bytes_out as f64 / 1e6
    );
    println!(
        "| median ms per batch | {} |",
        modes.iter().map(|m| m.name).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|---|---|---|");
    let row = |label: &str, pick: &dyn Fn(&Mode) -> f64| {
        let cells: Vec<String> = modes.iter().map(|m| format!("{:.1}", pick(m))).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("tables committed", &|m| m.tables as f64);
    row("encode (route, JSON -> Arrow)", &|m| {
        median(m.encode.clone())
    });
    row("write (Parquet zstd -> storage)", &|m| {
        median(m.write.clone())
    });
    row("commit (manifest, list, metadata, swap)", &|m| {
        median(m.commit.clone())
    });
    row("commit per table", &|m| {
        median(m.commit.clone()) / m.tables.max(1) as f64
    });
    row("whole invocation, wall", &|m| median(m.wall.clone()));
    row("whole invocation, CPU (all threads)", &|m| {
        median(m.cpu.clone())
    });
    row("whole invocation, wall, / one table", &|m| {
        median(m.wall.clone()) / median(modes[0].wall.clone())
    });
    let one = &modes[0];
    let (first, last) = (one.first.as_ref().unwrap(), one.last.as_ref().unwrap());
    println!(
        "one table: commit on the new table: {:.1} ms; after {} snapshots: {:.1} ms",
        first.commit_us as f64 / 1000.0,
        rounds - 1,
        last.commit_us as f64 / 1000.0
    );
}

//! A benchmark, not a timed test: throughput and peak memory of the whole batch-to-s3 path
//! (event JSON -> `StreamEvent` -> shard batch -> NDJSON framing -> compression -> PUT to the
//! in-memory store) for each `COMPRESSION`, next to two floors measured in the same run: only
//! deserializing the event into the ecosystem's `KinesisEvent` (what a Rust Kinesis function
//! does by default; the function's own `StreamEvent` is printed beside it), and only
//! compressing the same NDJSON with the same codec and level.
//!
//! Throughput (markdown table on stdout; the function's EMF metric lines go there too):
//!
//! ```text
//! cargo build --release --example bench -p batch-to-s3
//! target/release/examples/bench | grep -v '"_aws"'
//! ```
//!
//! Peak memory of one process handling one event once (compare with `--once generate`, which
//! only builds the event bytes, and `--once deserialize`):
//!
//! ```text
//! /usr/bin/time -v target/release/examples/bench --once gzip --size 6000 > /dev/null
//! ```
//!
//! Two event sizes: `max` is as many ~1 KB records as fit in Lambda's 6 MiB invocation
//! payload (the largest event Lambda can deliver); `6000` is 6,000 records of ~1 KB, an
//! ~11 MB event that Lambda would refuse, kept as an in-process stress point. Records are
//! pseudo-random but deterministic (a fixed-seed xorshift), so every run sees the same bytes.
//! Numbers from a debug build are not representative.

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::prelude::*;
use batch_to_s3::encode::{frame, Compression, ZSTD_LEVEL};
use batch_to_s3::event::StreamEvent;
use batch_to_s3::store::memory::MemoryStore;
use batch_to_s3::{BatchToS3, Config};
use lambda_runtime::{Context, LambdaEvent};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};
use trickle_shared::limits::LAMBDA_MAX_PAYLOAD_BYTES;

/// Untimed iterations before measuring (page faults, allocator warm-up, branch predictors).
const WARMUP: usize = 2;
/// Timed iterations; the median is reported, with min and max as the spread.
const DEFAULT_ITERATIONS: usize = 11;
/// Records in the stress-size event.
const STRESS_RECORDS: usize = 6_000;
/// Each record's JSON is drawn between these sizes (mean ~1 KB).
const RECORD_BYTES: std::ops::Range<usize> = 800..1_200;
/// The partition pointer of the partitioned case (4 values: well under `MAX_PARTITIONS`).
const OBJECT_PARTITION_POINTER: &str = "/customer/tier";

const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/trickle";
const SEQUENCE_PREFIX: &str = "49590338271490256608559692538361571095921575989136";

/// xorshift64*: deterministic, dependency-free, good enough to vary fields.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn hex(&mut self, chars: usize) -> String {
        let mut s = String::with_capacity(chars);
        while s.len() < chars {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(chars);
        s
    }
}

const EVENT_TYPES: &[&str] = &[
    "page_view",
    "add_to_cart",
    "checkout",
    "login",
    "search",
    "refund",
];
const TIERS: &[&str] = &["free", "silver", "gold", "platinum"];
const COUNTRIES: &[&str] = &["DE", "US", "FR", "JP", "BR", "IN", "GB", "NL", "ES", "CA"];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "okhttp/4.12.0",
];
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "customer", "requested", "order", "shipment", "delayed", "payment", "accepted", "declined",
    "retry", "warehouse", "inventory", "low", "stock", "coupon", "applied", "session", "expired",
    "cart", "updated", "address", "verified", "invoice", "sent", "the", "a", "for", "with",
    "after", "before", "timeout", "region", "latency", "ms", "item", "returned", "priority",
];

/// One record's JSON: an e-commerce event with nested objects, arrays, numbers, hex ids and
/// a free-text note that brings it to a size drawn from `RECORD_BYTES`.
fn record_json(i: usize, rng: &mut Rng) -> Vec<u8> {
    let target = RECORD_BYTES.start + rng.below(RECORD_BYTES.len());
    let items: Vec<serde_json::Value> = (0..1 + rng.below(5))
        .map(|_| {
            serde_json::json!({
                "sku": format!("SKU-{:05}", rng.below(100_000)),
                "qty": 1 + rng.below(4),
                "unitPrice": (rng.below(20_000) as f64) / 100.0,
            })
        })
        .collect();
    let total: f64 = items
        .iter()
        .map(|it| it["qty"].as_f64().unwrap_or(0.0) * it["unitPrice"].as_f64().unwrap_or(0.0))
        .sum();
    let customer = rng.below(5_000);
    let mut value = serde_json::json!({
        "eventId": rng.hex(32),
        "eventType": rng.pick(EVENT_TYPES),
        "timestamp": format!("2024-06-10T06:{:02}:{:02}.{:03}Z", (i / 60_000) % 60, (i / 1_000) % 60, i % 1_000),
        "customer": {
            "id": format!("c-{customer:05}"),
            "tier": rng.pick(TIERS),
            "country": rng.pick(COUNTRIES),
            "email": format!("user{customer}@example.com"),
        },
        "session": {
            "id": rng.hex(24),
            "ip": format!("10.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256)),
            "userAgent": rng.pick(USER_AGENTS),
        },
        "items": items,
        "total": (total * 100.0).round() / 100.0,
        "currency": "EUR",
        "latencyMs": rng.below(2_000),
        "flags": {"firstPurchase": rng.below(10) == 0, "mobile": rng.below(2) == 0},
        "note": "",
    });
    let base = serde_json::to_vec(&value)
        .expect("a json! value serializes")
        .len();
    let mut note = String::new();
    while base + note.len() < target {
        if !note.is_empty() {
            note.push(' ');
        }
        note.push_str(rng.pick(WORDS));
    }
    value["note"] = serde_json::Value::String(note);
    serde_json::to_vec(&value).expect("a json! value serializes")
}

/// The event JSON as Lambda would send it for one shard: written record by record, so that
/// building it never holds more than the bytes themselves (this matters for `--once`).
/// Stops at `max_records` or before the event would exceed `max_bytes`.
fn event_bytes(max_records: usize, max_bytes: usize) -> (Vec<u8>, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(max_bytes.min(max_records.saturating_mul(2_048)));
    out.extend_from_slice(b"{\"Records\":[");
    let mut count = 0;
    let mut one = Vec::with_capacity(4_096);
    while count < max_records {
        let data = record_json(count, &mut rng);
        let sequence = format!("{SEQUENCE_PREFIX}{count:06}");
        let record = serde_json::json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": format!("pk-{}", count % 64),
                "sequenceNumber": sequence,
                "data": BASE64_STANDARD.encode(&data),
                "approximateArrivalTimestamp": 1_718_000_000.0 + count as f64 / 1_000.0,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{sequence}"),
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/batch-to-s3",
            "awsRegion": "us-east-1",
            "eventSourceARN": STREAM_ARN,
        });
        one.clear();
        if count > 0 {
            one.push(b',');
        }
        serde_json::to_writer(&mut one, &record).expect("a json! value serializes");
        if out.len() + one.len() + 2 > max_bytes {
            break;
        }
        out.extend_from_slice(&one);
        count += 1;
    }
    out.extend_from_slice(b"]}");
    (out, count)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    /// As many records as fit in Lambda's invocation payload.
    LambdaMax,
    /// 6,000 records, over the payload limit.
    Stress,
}

impl Size {
    fn build(self) -> (Vec<u8>, usize) {
        match self {
            Size::LambdaMax => event_bytes(usize::MAX, LAMBDA_MAX_PAYLOAD_BYTES),
            Size::Stress => event_bytes(STRESS_RECORDS, usize::MAX),
        }
    }
    fn label(self) -> &'static str {
        match self {
            Size::LambdaMax => "max (fits Lambda's 6 MiB payload)",
            Size::Stress => "6000 x ~1 KB (over Lambda's payload limit)",
        }
    }
}

fn config(compression: Compression, partitioned: bool) -> Config {
    let lookup = |name: &str| match name {
        "BUCKET_NAME" => Some("bench".to_owned()),
        "PREFIX" => Some("raw/".to_owned()),
        "COMPRESSION" => Some(compression.as_str().to_owned()),
        "OBJECT_PARTITION_POINTER" if partitioned => Some(OBJECT_PARTITION_POINTER.to_owned()),
        _ => None,
    };
    Config::from_lookup(lookup).expect("the bench configuration is valid")
}

/// The floor: the event into the Lambda ecosystem's own type, `aws_lambda_events`'
/// `KinesisEvent` (the runtime wraps the same deserializer in serde_path_to_error, which
/// this floor leaves out).
fn deserialize(bytes: &[u8]) -> KinesisEvent {
    serde_json::from_slice(bytes).expect("the generated event deserializes")
}

/// What the function's runtime does: the event into `StreamEvent` (src/event.rs).
fn deserialize_ours(bytes: &[u8]) -> StreamEvent {
    serde_json::from_slice(bytes).expect("the generated event deserializes")
}

/// Only the codec, at the function's level, on the NDJSON the function would compress.
fn compress_floor(codec: Compression, ndjson: &[u8]) -> Vec<u8> {
    match codec {
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(ndjson.len() / 4),
                flate2::Compression::default(),
            );
            enc.write_all(ndjson).expect("writing to a Vec");
            enc.finish().expect("writing to a Vec")
        }
        Compression::Zstd => zstd::bulk::compress(ndjson, ZSTD_LEVEL).expect("zstd compresses"),
        Compression::None => Vec::new(),
    }
}

/// One invocation through the handler; panics unless every record was stored.
fn invoke(rt: &tokio::runtime::Runtime, f: &BatchToS3<MemoryStore>, event: StreamEvent) {
    let response = rt
        .block_on(f.handle(LambdaEvent::new(event, Context::default())))
        .expect("the event is well formed");
    assert!(
        response.batch_item_failures.is_empty(),
        "the in-memory store should accept every object"
    );
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

/// One measurement: `prepare` untimed, then `run` timed; whatever `run` returns is dropped
/// after the clock stops.
type Job<'a> = Box<dyn FnMut() -> Duration + 'a>;

fn job<'a, P, R>(mut prepare: impl FnMut() -> P + 'a, mut run: impl FnMut(P) -> R + 'a) -> Job<'a> {
    Box::new(move || {
        let input = prepare();
        let start = Instant::now();
        let output = black_box(run(black_box(input)));
        let elapsed = start.elapsed();
        drop(output);
        elapsed
    })
}

/// Runs every job once per round, `WARMUP + iterations` rounds, so that floors and paths
/// see the same machine: measured one after another, a busy spell or the allocator's state
/// left by the previous measurement moved single figures by up to 1.6x.
fn measure_interleaved(iterations: usize, jobs: &mut [Job<'_>]) -> Vec<Stats> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(iterations); jobs.len()];
    for round in 0..WARMUP + iterations {
        for (job, t) in jobs.iter_mut().zip(&mut times) {
            let elapsed = job();
            if round >= WARMUP {
                t.push(elapsed);
            }
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            Stats {
                median: t[t.len() / 2],
                min: t[0],
                max: t[t.len() - 1],
            }
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

const CODECS: [Compression; 3] = [Compression::Gzip, Compression::Zstd, Compression::None];

fn codec_label(c: Compression) -> String {
    match c {
        Compression::Gzip => "gzip (flate2 zlib-rs, level 6)".into(),
        Compression::Zstd => format!("zstd (level {ZSTD_LEVEL})"),
        Compression::None => "none".into(),
    }
}

fn bench_size(rt: &tokio::runtime::Runtime, size: Size, iterations: usize) {
    let (bytes, records) = size.build();
    let event_mb = bytes.len() as f64 / 1e6;
    let parsed = deserialize(&bytes);
    let ndjson = frame(parsed.records.iter().map(|r| r.kinesis.data.0.as_slice()));
    println!();
    println!(
        "### {}: {records} records, {:.2} MB event JSON, {:.2} MB NDJSON",
        size.label(),
        event_mb,
        ndjson.len() as f64 / 1e6
    );
    println!();
    println!("| path | codec | median ms | min-max ms | MB/s (event) | records/s | floor ms | x floor | x strict floor | output MB |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let row = |path: &str,
               codec: &str,
               s: &Stats,
               floors: Option<(Duration, Duration)>,
               out: Option<usize>| {
        let secs = s.median.as_secs_f64();
        let ratio = |f: Duration| format!("{:.2}", secs / f.as_secs_f64());
        println!(
            "| {path} | {codec} | {:.1} | {:.1}-{:.1} | {:.1} | {:.0} | {} | {} | {} | {} |",
            ms(s.median),
            ms(s.min),
            ms(s.max),
            event_mb / secs,
            records as f64 / secs,
            floors.map_or("-".into(), |(f, _)| format!("{:.1}", ms(f))),
            floors.map_or("-".into(), |(f, _)| ratio(f)),
            floors.map_or("-".into(), |(_, strict)| ratio(strict)),
            out.map_or("-".into(), |b| format!("{:.2}", b as f64 / 1e6)),
        );
    };

    // Untimed: the output check (one data object unpartitioned, of the floor's size when
    // compressed) and each path's object count and stored bytes.
    let parsed_ours = deserialize_ours(&bytes);
    let mut paths = Vec::new();
    for partitioned in [false, true] {
        for codec in CODECS {
            if partitioned && codec == Compression::None {
                continue;
            }
            let cfg = config(codec, partitioned);
            let f = BatchToS3::new(cfg.clone(), MemoryStore::new());
            invoke(rt, &f, parsed_ours.clone());
            let keys = f.store().keys("raw/");
            let stored: usize = keys
                .iter()
                .filter_map(|k| f.store().object(k))
                .map(|o| o.body.len())
                .sum();
            if !partitioned {
                assert_eq!(keys.len(), 1, "{keys:?}");
                if codec != Compression::None {
                    assert_eq!(
                        stored,
                        compress_floor(codec, &ndjson).len(),
                        "the floor uses the function's codec and level"
                    );
                }
            }
            paths.push((partitioned, codec, cfg, keys.len(), stored));
        }
    }

    // Timed, interleaved: 0 KinesisEvent, 1 StreamEvent, 2.. one compress floor per codec
    // but none, then per path its whole run (deserialize + handler) and its handler alone.
    let compressed: Vec<Compression> = CODECS
        .into_iter()
        .filter(|c| *c != Compression::None)
        .collect();
    let mut jobs: Vec<Job<'_>> = vec![
        job(|| (), |()| deserialize(&bytes)),
        job(|| (), |()| deserialize_ours(&bytes)),
    ];
    for &codec in &compressed {
        // A fresh copy each time: the function compresses a body it has just framed, not a
        // buffer that stays hot in the cache across iterations.
        let ndjson = &ndjson;
        jobs.push(job(
            move || ndjson.clone(),
            move |body| {
                let packed = compress_floor(codec, &body);
                (body, packed)
            },
        ));
    }
    for (_, _, cfg, _, _) in &paths {
        let (bytes, parsed_ours) = (&bytes, &parsed_ours);
        jobs.push(job(
            move || BatchToS3::new(cfg.clone(), MemoryStore::new()),
            move |f| {
                invoke(rt, &f, deserialize_ours(bytes));
                f
            },
        ));
        jobs.push(job(
            move || {
                (
                    BatchToS3::new(cfg.clone(), MemoryStore::new()),
                    parsed_ours.clone(),
                )
            },
            move |(f, event)| {
                invoke(rt, &f, event);
                f
            },
        ));
    }
    let stats = measure_interleaved(iterations, &mut jobs);
    drop(jobs);

    let (deser, ours) = (&stats[0], &stats[1]);
    row("floor: deserialize KinesisEvent", "-", deser, None, None);
    row(
        "the function's own: deserialize StreamEvent",
        "-",
        ours,
        None,
        None,
    );
    let compress_floor_of = |codec: Compression| {
        compressed
            .iter()
            .position(|c| *c == codec)
            .map_or(Duration::ZERO, |i| stats[2 + i].median)
    };
    for (i, &codec) in compressed.iter().enumerate() {
        let packed = compress_floor(codec, &ndjson).len();
        row(
            "floor: compress NDJSON",
            &codec_label(codec),
            &stats[2 + i],
            None,
            Some(packed),
        );
    }
    for (p, (partitioned, codec, _, objects, stored)) in paths.iter().enumerate() {
        let (e2e, handler) = (
            &stats[2 + compressed.len() + 2 * p],
            &stats[3 + compressed.len() + 2 * p],
        );
        let (path_e2e, path_handler, label) = if *partitioned {
            (
                "deserialize + handler, partitioned",
                "handler only, partitioned",
                format!(
                    "{} + {OBJECT_PARTITION_POINTER} ({objects} objects)",
                    codec_label(*codec)
                ),
            )
        } else {
            ("deserialize + handler", "handler only", codec_label(*codec))
        };
        let compress = compress_floor_of(*codec);
        row(
            path_e2e,
            &label,
            e2e,
            Some((deser.median + compress, ours.median + compress)),
            Some(*stored),
        );
        let floor = (compress > Duration::ZERO).then_some((compress, compress));
        row(path_handler, &label, handler, floor, Some(*stored));
    }
}

/// `--once <gzip|zstd|none|deserialize|generate> [--size max|6000]`: one process, one event,
/// for `/usr/bin/time -v`. Like the runtime, the event bytes are dropped once deserialized.
fn once(what: &str, size: Size) {
    let rt = runtime();
    let (bytes, records) = size.build();
    let event_len = bytes.len();
    let after_generate = peak_rss_kib();
    let codec = match what {
        "generate" => None,
        "deserialize" => {
            black_box(deserialize_ours(&bytes));
            None
        }
        other => Some(
            other
                .parse::<Compression>()
                .unwrap_or_else(|e| panic!("{other}: {e}")),
        ),
    };
    if let Some(codec) = codec {
        let event = deserialize_ours(&bytes);
        drop(bytes);
        let f = BatchToS3::new(config(codec, false), MemoryStore::new());
        invoke(&rt, &f, event);
    }
    eprintln!(
        "once {what}: {} records, {:.2} MB event; VmHWM after generating {} KiB, at the end {} KiB",
        records,
        event_len as f64 / 1e6,
        after_generate.map_or("?".into(), |k| k.to_string()),
        peak_rss_kib().map_or("?".into(), |k| k.to_string()),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let size = match value("--size").as_deref() {
        None | Some("6000") => Size::Stress,
        Some("max") => Size::LambdaMax,
        Some(other) => panic!("--size max|6000, not {other}"),
    };
    if let Some(what) = value("--once") {
        return once(&what, size);
    }
    if args.iter().any(|a| a == "--deflate") {
        return deflate_comparison();
    }
    let iterations = value("--iterations")
        .map(|n| n.parse().expect("--iterations N"))
        .unwrap_or(DEFAULT_ITERATIONS);
    let rt = runtime();
    println!(
        "## batch-to-s3 bench: {} cores available, {}; median of {iterations} after {WARMUP} warm-up; MB = 10^6 bytes of event JSON",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
    );
    for size in [Size::LambdaMax, Size::Stress] {
        bench_size(&rt, size, iterations);
    }
    println!();
    println!(
        "x floor: deserialize + handler over (KinesisEvent deserialize floor + compress floor); x strict floor: over (StreamEvent deserialize + compress floor); handler only: over the compress floor."
    );
}

/// `--deflate`: gzip by zlib (flate2's zlib-rs backend) at level 6, what Python's `gzip`,
/// Go and Java write by default, against libdeflate (the `libdeflater` crate, what
/// `COMPRESSION=gzip` uses) at each level, on the bench's event records and on the gzip
/// corpus (`trickle_shared::gzip::corpus`): time (median of the rounds, interleaved) and
/// size. The verdict names the fastest libdeflate level whose output is within 1.05x of zlib
/// level 6 on that input; the default level (`GZIP_LEVEL`) must be within it on all.
fn deflate_comparison() {
    const ROUNDS: usize = 9;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut events = Vec::new();
    let mut i = 0;
    while events.len() < 5_800_000 {
        events.extend_from_slice(&record_json(i, &mut rng));
        events.push(b'\n');
        i += 1;
    }
    let mut inputs = vec![("bench event records", events)];
    inputs.extend(trickle_shared::gzip::corpus::all(5_800_000));
    println!(
        "## gzip: zlib-rs level 6 vs libdeflate, median of {ROUNDS} interleaved rounds, 1 thread; default GZIP_LEVEL {}",
        trickle_shared::gzip::DEFAULT_GZIP_LEVEL
    );
    println!("| input | MB | codec | ms | MB/s | bytes | size / zlib-6 |");
    println!("|---|---|---|---|---|---|---|");
    for (name, body) in &inputs {
        let zlib = |level: u32| {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::new(level),
            );
            enc.write_all(body).expect("in memory");
            enc.finish().expect("in memory")
        };
        let levels: Vec<i32> = (1..=12).collect();
        let mut compressors: Vec<libdeflater::Compressor> = levels
            .iter()
            .map(|&l| {
                libdeflater::Compressor::new(libdeflater::CompressionLvl::new(l).expect("1..=12"))
            })
            .collect();
        let mut zlib_times = Vec::new();
        let mut lib_times: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
        let mut zlib_size = 0;
        let mut lib_sizes = vec![0; levels.len()];
        let mut out = vec![0u8; compressors[0].gzip_compress_bound(body.len())];
        for _ in 0..ROUNDS {
            let t = Instant::now();
            zlib_size = black_box(zlib(6)).len();
            zlib_times.push(t.elapsed().as_secs_f64() * 1e3);
            for (k, c) in compressors.iter_mut().enumerate() {
                let t = Instant::now();
                lib_sizes[k] = black_box(c.gzip_compress(body, &mut out).expect("bound"));
                lib_times[k].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        // The libdeflate output is a valid gzip stream that flate2 reads back.
        let n = compressors[5].gzip_compress(body, &mut out).expect("bound");
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&out[..n]), &mut back)
            .expect("gzip");
        assert_eq!(&back, body);
        let mb = body.len() as f64 / 1e6;
        let zl = median(&mut zlib_times);
        println!(
            "| {name} | {mb:.2} | zlib-rs 6 | {zl:.1} | {:.0} | {zlib_size} | 1.000 |",
            mb / zl * 1e3
        );
        let mut best: Option<(i32, f64)> = None;
        for (k, level) in levels.iter().enumerate() {
            let ms = median(&mut lib_times[k]);
            let ratio = lib_sizes[k] as f64 / zlib_size as f64;
            println!(
                "| {name} | {mb:.2} | libdeflate {level} | {ms:.1} | {:.0} | {} | {ratio:.3} |",
                mb / ms * 1e3,
                lib_sizes[k]
            );
            if ratio <= 1.05 && best.is_none_or(|(_, b)| ms < b) {
                best = Some((*level, ms));
            }
        }
        match best {
            Some((level, ms)) => println!(
                "| {name} | | verdict | libdeflate {level} within 1.05x of zlib-6: {:.2}x faster | | |",
                zl / ms
            ),
            None => println!("| {name} | | verdict | no libdeflate level within 1.05x | | |"),
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

//! A benchmark, not a timed test: throughput and peak memory of the transform for a 3 MB
//! event of JSON records and for a CloudWatch Logs batch, with the in-memory re-ingest sink.
//!
//! `cargo run -p firehose-transform --example bench --release` (numbers from a debug build are
//! not representative). Peak memory is the process's VmHWM from /proc (Linux only).
//!
//! The floor is what the runtime does before the handler runs: deserializing the same event
//! JSON into `FirehoseEvent` with `serde_json::from_slice`; the ratio is the timed
//! transform (process + response serialization) over that floor.

use base64::Engine;
use firehose_transform::event::{FirehoseEvent, FirehoseRecord, KinesisRecordMetadata};
use firehose_transform::sink::memory::MemoryReingestSink;
use firehose_transform::{Config, FirehoseTransform};
use std::io::Write;
use std::time::Instant;

const ROUNDS: u32 = 5;

fn record(i: usize, data: &[u8]) -> FirehoseRecord {
    FirehoseRecord {
        record_id: format!("{:056}", i),
        approximate_arrival_timestamp: Some(1_700_000_000_000 + i as i64),
        data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
        kinesis_record_metadata: Some(KinesisRecordMetadata {
            partition_key: Some(format!("pk-{}", i % 64)),
            sequence_number: Some(format!("{:056}", i)),
            ..Default::default()
        }),
    }
}

/// ~3 MB of base64 in the event: 3,000 pretty-printed JSON records of ~750 bytes.
fn json_event() -> FirehoseEvent {
    let records = (0..3_000)
        .map(|i| {
            let v = serde_json::json!({
                "customer": {"id": format!("c-{}", i % 100), "tier": "gold"},
                "level": "info", "amount": i as f64 * 1.25, "tags": ["a", "b", "c"],
                "text": "x".repeat(500),
            });
            record(i, &serde_json::to_vec_pretty(&v).unwrap())
        })
        .collect();
    FirehoseEvent {
        source_kinesis_stream_arn: Some("arn:aws:kinesis:us-east-1:1:stream/s".into()),
        records,
        ..Default::default()
    }
}

/// 150 gzip CloudWatch Logs records of 100 events each (~4.5 MB out: no overflow).
fn cwl_event() -> FirehoseEvent {
    let records = (0..150)
        .map(|i| {
            let events: Vec<_> = (0..100)
                .map(|j| serde_json::json!({"id": format!("{i}{j:050}"), "timestamp": 1_700_000_000_000i64 + j,
                    "message": format!("{{\"level\":\"INFO\",\"request\":{j},\"msg\":\"handled in {j} ms\"}}")}))
                .collect();
            let envelope = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012",
                "logGroup": "/aws/lambda/ingest", "logStream": "2024/01/01/[$LATEST]abc",
                "subscriptionFilters": ["f"], "logEvents": events});
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&serde_json::to_vec(&envelope).unwrap()).unwrap();
            record(i, &gz.finish().unwrap())
        })
        .collect();
    FirehoseEvent {
        records,
        ..Default::default()
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for (name, event, config) in [
        ("json 3 MB", json_event(), Config::default()),
        ("cloudwatch logs", cwl_event(), Config::default()),
    ] {
        let input = serde_json::to_vec(&event).unwrap();
        let input_bytes = input.len();
        let start = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(serde_json::from_slice::<FirehoseEvent>(&input).unwrap());
        }
        let floor_secs = start.elapsed().as_secs_f64() / f64::from(ROUNDS);
        let t = FirehoseTransform::new(config, MemoryReingestSink::new());
        let start = Instant::now();
        let mut out_bytes = 0;
        for _ in 0..ROUNDS {
            let (response, _) = rt.block_on(t.process(&event));
            out_bytes = serde_json::to_vec(&response).unwrap().len();
        }
        let secs = start.elapsed().as_secs_f64() / f64::from(ROUNDS);
        println!(
            "{name}: {} records, {:.2} MB in, {:.2} MB out, {:.1} ms/invocation, {:.0} records/s, {:.1} MB/s; \
             floor (deserialize) {:.1} ms, {:.1} MB/s, transform {:.2}x floor; peak RSS so far {} KiB",
            event.records.len(),
            input_bytes as f64 / 1e6,
            out_bytes as f64 / 1e6,
            secs * 1e3,
            event.records.len() as f64 / secs,
            input_bytes as f64 / 1e6 / secs,
            floor_secs * 1e3,
            input_bytes as f64 / 1e6 / floor_secs,
            secs / floor_secs,
            peak_rss_kib().map_or("?".into(), |k| k.to_string()),
        );
    }
}

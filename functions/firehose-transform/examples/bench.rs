//! A benchmark, not a timed test: throughput and peak memory of the transform for a 3 MB
//! event of JSON records and for a CloudWatch Logs batch, with the in-memory re-ingest sink.
//!
//! `cargo run -p firehose-transform --example bench --release` (numbers from a debug build are
//! not representative). Peak memory is the process's VmHWM from /proc (Linux only).
//!
//! Floors, measured in the same run: deserializing the same event JSON into `FirehoseEvent`
//! (what the runtime does before the handler runs), and the codec work Firehose's contract
//! forces on any transform: base64-decoding every record, base64-encoding the transform's
//! output (computed untimed beforehand) and serializing that response; and the one parse of each
//! record the transform cannot skip (gunzip when gzip, then the JSON syntax, with
//! `IgnoredAny`). The whole path is deserialize + transform + response serialization; its
//! ratio is over the sum of the floors, and, for reference, over the deserialize floor alone.

use base64::Engine;
use firehose_transform::event::{
    FirehoseEvent, FirehoseRecord, FirehoseResponse, KinesisRecordMetadata, ResponseRecord,
    TransformResult,
};
use firehose_transform::sink::memory::MemoryReingestSink;
use firehose_transform::{Config, FirehoseTransform};
use std::io::Write;
use std::time::Instant;

const ROUNDS: usize = 11;

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

/// The codec floor: each record's data base64-decoded, the transform's output for it (given,
/// computed untimed) base64-encoded, and that response serialized.
fn codec_response(event: &FirehoseEvent, outputs: &[Vec<u8>]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records = event
        .records
        .iter()
        .zip(outputs)
        .map(|(r, output)| {
            let data = b64
                .decode(r.data.as_deref().unwrap_or_default())
                .expect("the bench's data is base64");
            std::hint::black_box(data);
            ResponseRecord {
                record_id: r.record_id.clone(),
                result: TransformResult::Ok,
                data: b64.encode(output),
                metadata: None,
            }
        })
        .collect();
    serde_json::to_vec(&FirehoseResponse { records }).expect("a response serializes")
}

/// Each record's data, base64-decoded (untimed input of `parse_records`).
fn decoded(event: &FirehoseEvent) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    event
        .records
        .iter()
        .map(|r| b64.decode(r.data.as_deref().unwrap_or_default()).unwrap())
        .collect()
}

/// The parse every record needs: gunzip if gzip, then the JSON syntax once.
fn parse_records(datas: &[Vec<u8>]) {
    use std::io::Read;
    for data in datas {
        let mut gunzipped = Vec::new();
        let bytes = if data.starts_with(&[0x1f, 0x8b]) {
            flate2::read::MultiGzDecoder::new(data.as_slice())
                .read_to_end(&mut gunzipped)
                .unwrap();
            &gunzipped
        } else {
            data
        };
        let parsed = serde_json::from_slice::<serde::de::IgnoredAny>(bytes);
        std::hint::black_box(parsed.is_ok());
    }
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
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
        let t = FirehoseTransform::new(config, MemoryReingestSink::new());
        let (response, _) = rt.block_on(t.process(&event));
        let outputs: Vec<Vec<u8>> = response
            .records
            .iter()
            .map(|r| {
                base64::engine::general_purpose::STANDARD
                    .decode(&r.data)
                    .unwrap()
            })
            .collect();
        let datas = decoded(&event);
        let mut out_bytes = 0;
        // Interleaved, one of each per round, so that all four see the same state of the
        // allocator and caches (measured one after another, whichever ran after the others'
        // frees was up to 1.8x slower).
        let mut rounds: [Vec<f64>; 4] = Default::default();
        for round in 0..=ROUNDS {
            let mut timed = |i: usize, f: &mut dyn FnMut()| {
                let start = Instant::now();
                f();
                if round > 0 {
                    rounds[i].push(start.elapsed().as_secs_f64());
                }
            };
            timed(0, &mut || {
                std::hint::black_box(serde_json::from_slice::<FirehoseEvent>(&input).unwrap());
            });
            timed(1, &mut || {
                std::hint::black_box(codec_response(&event, &outputs));
            });
            timed(2, &mut || parse_records(&datas));
            timed(3, &mut || {
                let event: FirehoseEvent = serde_json::from_slice(&input).unwrap();
                let (response, _) = rt.block_on(t.process(&event));
                out_bytes = serde_json::to_vec(&response).unwrap().len();
            });
        }
        let [deserialize, codec, parse, secs] = rounds.map(median);
        println!(
            "{name}: {} records, {:.2} MB in, {:.2} MB out, {:.1} ms/invocation (deserialize + transform + response), \
             {:.0} records/s, {:.1} MB/s; floors: deserialize {:.1} ms, base64 decode in + encode out + response {:.1} ms, \
             parse each record {:.1} ms; {:.2}x the floors ({:.2}x deserialize alone); peak RSS so far {} KiB",
            event.records.len(),
            input_bytes as f64 / 1e6,
            out_bytes as f64 / 1e6,
            secs * 1e3,
            event.records.len() as f64 / secs,
            input_bytes as f64 / 1e6 / secs,
            deserialize * 1e3,
            codec * 1e3,
            parse * 1e3,
            secs / (deserialize + codec + parse),
            secs / deserialize,
            peak_rss_kib().map_or("?".into(), |k| k.to_string()),
        );
    }
}

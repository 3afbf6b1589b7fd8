//! A benchmark, not a timed test: `ingest`'s pure path, from the function URL event's bytes
//! (what the runtime hands the handler) to the PutRecords entries, for requests of 1, 500 and
//! 10,000 NDJSON records, with and without KPL aggregation; next to its floor measured in the
//! same run: deserializing the same event, plus the one JSON parse of each record that
//! refusing invalid records needs. Also what `lambda_http` took to deserialize the same event
//! (the adapter `src/event.rs` replaced), and KPL de-aggregation of what aggregation produced
//! (what Firehose and batch-to-s3 do on the other side).
//!
//! ```text
//! cargo run --release -p ingest --example bench
//! ```

use ingest::aggregate::pack;
use ingest::body::{parse, HttpInput};
use ingest::event::UrlRequest;
use ingest::sink::sdk::sdk_entry;
use ingest::write::chunk_ranges;
use std::hint::black_box;
use std::time::{Duration, Instant};
use trickle_shared::kpl::{deaggregate, Deaggregated};

const WARMUP: usize = 2;
const ITERATIONS: usize = 11;

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    for _ in 0..WARMUP {
        f();
    }
    median(
        (0..ITERATIONS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// A function URL event (payload 2.0) carrying `n` NDJSON records of about 100 bytes.
fn event(n: usize) -> String {
    let body: String = (0..n)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"click\",\"pad\":\"{}\"}}\n",
                i % 97,
                "x".repeat(40 + i % 20)
            )
        })
        .collect();
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/x-ndjson", "host": "x.lambda-url.us-east-1.on.aws"},
        "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x", "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "bench"}, "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "25/Nov/2026:20:00:00 +0000", "timeEpoch": 1795636800000u64},
        "body": body, "isBase64Encoded": false
    })
    .to_string()
}

/// The handler's pure path: event bytes -> request -> entries -> PutRecords call ranges.
fn entries_from(event: &[u8], aggregate: bool, sdk: bool) -> usize {
    let mut req: UrlRequest = serde_json::from_slice(event).expect("a function URL event");
    let body = req.take_body().expect("a text body");
    let query = req.query("partitionKey");
    let input = HttpInput {
        method: &req.request_context.http.method,
        content_type: req.header("content-type"),
        partition_key_query: query.as_deref(),
        body: body.into(),
        ..Default::default()
    };
    let entries = parse(&input, None).expect("valid records");
    let entries = if aggregate {
        pack(&entries).into_iter().map(|p| p.entry).collect()
    } else {
        entries
    };
    let sizes: Vec<usize> = entries.iter().map(|e| e.billed_bytes()).collect();
    for range in chunk_ranges(&sizes) {
        if sdk {
            let call: Vec<_> = entries[range]
                .iter()
                .map(|e| sdk_entry(e).expect("an entry"))
                .collect();
            black_box(call);
        } else {
            black_box(range);
        }
    }
    entries.len()
}

/// Floor: only the JSON parse every record needs (each NDJSON line, once).
fn validate_records(body: &[u8]) {
    for line in body.split(|&b| b == b'\n') {
        if !line.is_empty() {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(line).unwrap());
        }
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    println!("| records | event bytes | floor: deserialize (UrlRequest) | floor: deserialize (lambda_http) | floor: validate records | whole: -> entries | / (UrlRequest + validate) | / (lambda_http + validate) | records/s | + SDK entries | aggregated | Kinesis records |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 500, 10_000] {
        let text = event(n);
        let bytes = text.as_bytes();
        let body = serde_json::from_slice::<UrlRequest>(bytes)
            .unwrap()
            .body
            .unwrap();
        let deserialize = time(|| {
            black_box(serde_json::from_slice::<UrlRequest>(black_box(bytes)).unwrap());
        });
        let validate = time(|| validate_records(black_box(body.as_bytes())));
        let whole = time(|| {
            black_box(entries_from(black_box(bytes), false, false));
        });
        let sdk = time(|| {
            black_box(entries_from(black_box(bytes), false, true));
        });
        let agg = time(|| {
            black_box(entries_from(black_box(bytes), true, false));
        });
        let lambda_http = time(|| {
            black_box(lambda_http::request::from_str(black_box(&text)).unwrap());
        });
        let aggregates = entries_from(bytes, true, false);
        println!(
            "| {n} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.0}k | {} | {} | {aggregates} |",
            text.len(),
            us(deserialize),
            us(lambda_http),
            us(validate),
            us(whole),
            whole.as_secs_f64() / (deserialize + validate).as_secs_f64(),
            whole.as_secs_f64() / (lambda_http + validate).as_secs_f64(),
            n as f64 / whole.as_secs_f64() / 1e3,
            us(sdk),
            us(agg),
        );
    }

    // KPL de-aggregation of the 10,000-record request's aggregates.
    let text = event(10_000);
    let body = serde_json::from_str::<UrlRequest>(&text)
        .unwrap()
        .body
        .unwrap();
    let input = HttpInput::post("application/x-ndjson", body.as_bytes());
    let packed = pack(&parse(&input, None).unwrap());
    let bytes: usize = packed.iter().map(|p| p.entry.data.len()).sum();
    let t = time(|| {
        for p in &packed {
            match deaggregate(black_box(&p.entry.data)).unwrap() {
                Deaggregated::Aggregated(users) => {
                    black_box(users);
                }
                Deaggregated::Plain => panic!("not an aggregate"),
            }
        }
    });
    println!(
        "\nKPL de-aggregation: {} aggregates, {bytes} bytes, 10,000 user records: {:.2} ms, {:.0} MB/s, {:.1}M records/s",
        packed.len(),
        t.as_secs_f64() * 1e3,
        bytes as f64 / t.as_secs_f64() / 1e6,
        10_000.0 / t.as_secs_f64() / 1e6
    );
}

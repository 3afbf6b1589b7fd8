//! A benchmark, not a timed test: `ingest`'s pure path, from the function URL event's JSON to
//! the PutRecords entries, for requests of 1, 500 and 10,000 NDJSON records, with and
//! without KPL aggregation; next to its floor measured in the same run, only deserializing
//! the same event into a `lambda_http::Request`. Also KPL de-aggregation of what aggregation
//! produced (what Firehose and batch-to-s3 do on the other side).
//!
//! ```text
//! cargo run --release -p ingest --example bench
//! ```

use ingest::aggregate::pack;
use ingest::body::{parse, HttpInput};
use ingest::write::chunk_ranges;
use lambda_http::{Body, RequestExt};
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

fn entries_from(text: &str, aggregate: bool) -> usize {
    let req = lambda_http::request::from_str(text).expect("a function URL event");
    let body: &[u8] = match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    let query = req.query_string_parameters();
    let input = HttpInput {
        method: req.method().as_str(),
        content_type: req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        partition_key_query: query.first("partitionKey"),
        body,
        ..Default::default()
    };
    let entries = parse(&input, None).expect("valid records");
    if aggregate {
        let packed = pack(&entries);
        let sizes: Vec<usize> = packed.iter().map(|p| p.entry.billed_bytes()).collect();
        black_box(chunk_ranges(&sizes));
        packed.len()
    } else {
        let sizes: Vec<usize> = entries.iter().map(|e| e.billed_bytes()).collect();
        black_box(chunk_ranges(&sizes));
        entries.len()
    }
}

fn main() {
    println!("| records | event bytes | floor: event -> Request | whole: -> entries | / floor | records/s | aggregated: -> aggregates | aggregates |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 500, 10_000] {
        let text = event(n);
        let floor = time(|| {
            black_box(lambda_http::request::from_str(black_box(&text)).unwrap());
        });
        let whole = time(|| {
            black_box(entries_from(black_box(&text), false));
        });
        let agg = time(|| {
            black_box(entries_from(black_box(&text), true));
        });
        let aggregates = entries_from(&text, true);
        println!(
            "| {n} | {} | {:.1} µs | {:.1} µs | {:.2} | {:.0}k | {:.1} µs | {aggregates} |",
            text.len(),
            floor.as_secs_f64() * 1e6,
            whole.as_secs_f64() * 1e6,
            whole.as_secs_f64() / floor.as_secs_f64(),
            n as f64 / whole.as_secs_f64() / 1e3,
            agg.as_secs_f64() * 1e6,
        );
    }

    // KPL de-aggregation of the 10,000-record request's aggregates.
    let text = event(10_000);
    let req = lambda_http::request::from_str(&text).unwrap();
    let Body::Text(body) = req.body() else {
        unreachable!("NDJSON arrives as text")
    };
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

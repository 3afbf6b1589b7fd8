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

    otlp();
}

/// An OTLP traces export of `n` spans in protobuf, as an SDK batches them.
fn otlp_export(n: usize) -> Vec<u8> {
    use prost::Message;
    use trickle_otlp::pb::{
        collector::trace::v1::ExportTraceServiceRequest, common::v1, resource::v1::Resource,
        trace::v1 as t,
    };
    let s = |k: &str, v: String| v1::KeyValue {
        key: k.into(),
        value: Some(v1::AnyValue {
            value: Some(v1::any_value::Value::StringValue(v)),
        }),
        key_strindex: 0,
    };
    ExportTraceServiceRequest {
        resource_spans: vec![t::ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", "checkout".into()),
                    s("host.name", "ip-10-0-0-1".into()),
                ],
                ..Default::default()
            }),
            scope_spans: vec![t::ScopeSpans {
                scope: Some(v1::InstrumentationScope {
                    name: "bench".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans: (0..n)
                    .map(|i| t::Span {
                        trace_id: (i as u128 / 8 + 1).to_be_bytes().to_vec(),
                        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                        name: format!("GET /orders/{}", i % 50),
                        kind: 2,
                        start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1000,
                        end_time_unix_nano: 1_700_000_000_000_500_000 + i as u64 * 1000,
                        attributes: vec![
                            s("http.route", "/orders/{id}".into()),
                            s("http.status_code", "200".into()),
                        ],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// OTLP protobuf to records against its floor: prost decoding the same bytes, plus serde_json
/// writing the same rows already built (as values).
fn otlp() {
    use prost::Message;
    use trickle_otlp::pb::collector::trace::v1::ExportTraceServiceRequest;
    println!("\n| OTLP spans | export bytes | floor: prost decode | floor: write the rows | whole: -> entries | / floor | per span |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in [10usize, 512, 5_000] {
        let body = otlp_export(n);
        let input = HttpInput {
            path: "/v1/traces",
            ..HttpInput::post("application/x-protobuf", &body)
        };
        let decode = time(|| {
            black_box(ExportTraceServiceRequest::decode(black_box(&body[..])).unwrap());
        });
        let rows: Vec<serde_json::Value> =
            ingest::otlp::parse(trickle_otlp::Signal::Traces, &input, 1)
                .unwrap()
                .entries
                .iter()
                .map(|e| serde_json::from_slice(&e.data).unwrap())
                .collect();
        let write = time(|| {
            for r in &rows {
                black_box(serde_json::to_vec(black_box(r)).unwrap());
            }
        });
        let whole = time(|| {
            black_box(
                ingest::otlp::parse(trickle_otlp::Signal::Traces, black_box(&input), 1).unwrap(),
            );
        });
        println!(
            "| {n} | {} | {} | {} | {} | {:.2} | {:.2} µs |",
            body.len(),
            us(decode),
            us(write),
            us(whole),
            whole.as_secs_f64() / (decode + write).as_secs_f64(),
            whole.as_secs_f64() * 1e6 / n as f64,
        );
    }
}

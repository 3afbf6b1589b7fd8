//! What a request may add to ingest's memory is bounded whatever it decodes or converts to:
//! for every Content-Encoding, the worst bodies (bombs that decode far past the bound, and the
//! densest records at the bound) and msgpack's most expanding values, the bytes allocated while
//! the request is parsed into entries stay under `BOUND`. Counted by a counting global
//! allocator, deterministic unlike RSS; the figures print with `--nocapture`.
//!
//! One test function: the allocator is global to this binary, so the cases run one after
//! another.

use ingest::body::{parse, HttpInput, MAX_DECODED_BODY_BYTES};
use std::io::Write;
use trickle_shared::counting_alloc::{peak_of, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// ingest has 128 MB by default; parsing one request may take at most this much beyond the
/// request itself (the runtime, the SDK client and the PutRecords bodies need the rest).
const BOUND: usize = 64 << 20;

fn encode(encoding: &str, data: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zstd" => zstd::bulk::compress(data, 9).unwrap(),
        "br" => {
            let mut out = Vec::new();
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
            drop(w);
            out
        }
        "snappy" => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        "x-snappy-framed" => {
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            w.write_all(data).unwrap();
            w.into_inner().unwrap()
        }
        "identity" => data.to_vec(),
        other => panic!("{other}"),
    }
}

#[test]
fn parsing_any_request_stays_within_the_bound() {
    // Bodies at the decoded bound: the densest records each shape allows.
    let tiny_ndjson = b"0\n".repeat(MAX_DECODED_BODY_BYTES / 2);
    let mut tiny_array = b"[".to_vec();
    tiny_array.extend(b"0,".repeat(MAX_DECODED_BODY_BYTES / 2 - 1));
    tiny_array.extend(b"0]");
    let json_stream = b"{}".repeat(MAX_DECODED_BODY_BYTES / 2);
    // A bomb: 16 MiB of one byte, far past the bound.
    let bomb = vec![b' '; 16 << 20];
    // msgpack that expands most: nil (1 byte) -> null, in one event; and many tiny events.
    let mut nils = vec![0x81, 0xa1, b'a', 0xdd];
    let n = MAX_DECODED_BODY_BYTES - 16;
    nils.extend((n as u32).to_be_bytes());
    nils.extend(std::iter::repeat_n(0xc0, n));
    let tiny_events: Vec<u8> = std::iter::repeat_n(&[0x80u8][..], 100_000)
        .flatten()
        .copied()
        .collect();
    // The largest requests ingest accepts: 50,000 records that fill the decoded bound.
    let record = format!(
        "{{\"pad\":\"{}\"}}",
        "x".repeat(MAX_DECODED_BODY_BYTES / 50_000 - 12)
    );
    let full_ndjson = format!("{record}\n").repeat(50_000).into_bytes();
    let full_array = format!("[{}]", vec![record.as_str(); 50_000].join(",")).into_bytes();
    // msgpack events whose JSON is as large as allowed: {"a": [nil x 20]} x 50,000.
    let mut event = vec![0x81, 0xa1, b'a', 0xdc, 0x00, 20];
    event.extend([0xc0; 20]);
    let full_msgpack = event.repeat(50_000);

    let cases: Vec<(&str, &str, &[u8])> = vec![
        ("application/x-ndjson", "tiny ndjson", &tiny_ndjson),
        ("application/json", "tiny array", &tiny_array),
        ("application/json", "json stream", &json_stream),
        ("text/plain", "bomb", &bomb),
        ("application/msgpack", "msgpack nils", &nils),
        ("application/msgpack", "msgpack tiny events", &tiny_events),
        ("application/x-ndjson", "50,000 ndjson", &full_ndjson),
        ("application/json", "50,000 array", &full_array),
        ("application/msgpack", "50,000 msgpack", &full_msgpack),
    ];
    let mut worst = 0;
    for encoding in [
        "identity",
        "gzip",
        "deflate",
        "zstd",
        "br",
        "snappy",
        "x-snappy-framed",
    ] {
        for (content_type, name, data) in &cases {
            if encoding == "identity" && data.len() > MAX_DECODED_BODY_BYTES {
                continue; // the function URL refuses a body over 6 MB before ingest runs
            }
            let body = encode(encoding, data);
            let (result, peak) = peak_of(|| {
                let input = HttpInput {
                    content_encoding: Some(encoding),
                    ..HttpInput::post(content_type, &body)
                };
                parse(&input, None).map(|e| e.len())
            });
            let outcome = match &result {
                Ok(n) => format!("{n} records"),
                Err(e) => format!("{}", e.status()),
            };
            println!(
                "{encoding:>16} {name:<20} body {:>9} B  peak {:>6.1} MiB  {outcome}",
                body.len(),
                peak as f64 / (1 << 20) as f64
            );
            assert!(peak <= BOUND, "{encoding} {name}: {peak} bytes");
            worst = worst.max(peak);
        }
    }
    println!(
        "worst: {:.1} MiB (bound {} MiB)",
        worst as f64 / (1 << 20) as f64,
        BOUND >> 20
    );

    // A hostile OTLP export: 60 KB of resource attributes shared by 50,000 tiny log records,
    // each of which would copy them into its row (3 GB as rows): refused at the rows' bound.
    let hostile = hostile_otlp_export();
    let (result, peak) = peak_of(|| {
        let input = HttpInput {
            path: "/v1/logs",
            ..HttpInput::post("application/x-protobuf", &hostile)
        };
        ingest::otlp::parse(trickle_otlp::Signal::Logs, &input, 1).map(|p| p.entries.len())
    });
    println!(
        "{:>16} {:<20} body {:>9} B  peak {:>6.1} MiB  {:?}",
        "identity",
        "hostile OTLP export",
        hostile.len(),
        peak as f64 / (1 << 20) as f64,
        result.as_ref().map_err(|r| r.status)
    );
    assert_eq!(result.map_err(|r| r.status), Err(413));
    assert!(peak <= BOUND, "hostile OTLP export: {peak} bytes");
}

fn hostile_otlp_export() -> Vec<u8> {
    use prost::Message;
    use trickle_otlp::pb::{
        collector::logs::v1::ExportLogsServiceRequest, common::v1, logs::v1 as l,
        resource::v1::Resource,
    };
    let attr = |i: usize| v1::KeyValue {
        key: format!("k{i}"),
        value: Some(v1::AnyValue {
            value: Some(v1::any_value::Value::StringValue("v".repeat(600))),
        }),
        key_strindex: 0,
    };
    ExportLogsServiceRequest {
        resource_logs: vec![l::ResourceLogs {
            resource: Some(Resource {
                attributes: (0..100).map(attr).collect(),
                ..Default::default()
            }),
            scope_logs: vec![l::ScopeLogs {
                log_records: vec![l::LogRecord::default(); 50_000],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

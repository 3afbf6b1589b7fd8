//! No payload or credential ever reaches the logs: every function runs over records, headers
//! and tokens that carry a marker, on its success and error paths, with logging at TRACE, and
//! the captured log output must never contain the marker.

use base64::Engine;
use batch_to_s3::store::memory::MemoryStore;
use ingest::body::HttpInput;
use ingest::sink::memory::MemorySink;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

const MARKER: &str = "PAYLOAD-MARKER-7f3a";
const TOKEN: &str = "TOKEN-MARKER-91c2";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

async fn run_ingest() {
    let config = ingest::Config::from_lookup(|k| {
        match k {
            "STREAM_NAME" => Some("s".into()),
            "STREAM_PARTITION_KEY_POINTER" => Some("/k".into()),
            // sha256 of "s3cret": requests carrying TOKEN are rejected, and logged.
            "AUTH_TOKEN_SHA256" => {
                Some("1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0".into())
            }
            _ => None,
        }
    })
    .unwrap();
    let f = ingest::Ingest::new(config, MemorySink::new());
    let bodies: Vec<(&str, String)> = vec![
        (
            "application/json",
            format!(r#"[{{"k":"{MARKER}","v":"{MARKER}"}}]"#),
        ),
        ("application/json", format!(r#"["{MARKER}", }}"#)),
        ("application/x-ndjson", format!("{{\"a\":1}}\n{MARKER}\n")),
        ("text/plain", MARKER.repeat(1000)),
    ];
    let good = "Bearer s3cret".to_string();
    let bad = format!("Bearer {TOKEN}");
    for (ct, body) in &bodies {
        for auth in [&good, &bad] {
            let input = HttpInput {
                method: "POST",
                content_type: Some(ct),
                partition_key_header: None,
                authorization: Some(auth),
                body: body.as_bytes().to_vec().into(),
                ..Default::default()
            };
            f.answer(&input).await;
        }
    }
    let long_key = format!("{MARKER}{}", "k".repeat(300));
    let input = HttpInput {
        method: "POST",
        content_type: Some("text/plain"),
        partition_key_header: Some(&long_key),
        authorization: Some(&good),
        body: b"x".to_vec().into(),
        ..Default::default()
    };
    assert_eq!(f.answer(&input).await.status, 400);
}

async fn run_batch_to_s3() {
    let config = batch_to_s3::Config::from_lookup(|k| match k {
        "BUCKET_NAME" => Some("b".into()),
        "OBJECT_PARTITION_POINTER" => Some("/k".into()),
        _ => None,
    })
    .unwrap();
    let f = batch_to_s3::BatchToS3::new(config, MemoryStore::new());
    let datas = [
        format!(r#"{{"k":"{MARKER}","v":1}}"#).into_bytes(),
        format!("not json {MARKER}").into_bytes(),
        [&[0xF3, 0x89, 0x9A, 0xC2][..], MARKER.as_bytes()].concat(),
    ];
    let records: Vec<_> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": MARKER, "sequenceNumber": (i + 1).to_string(),
                            "data": b64(d), "approximateArrivalTimestamp": 1_700_000_000.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("shardId-000000000000:{}", i + 1),
                "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
                "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    let event: batch_to_s3::event::StreamEvent =
        serde_json::from_value(json!({ "Records": records })).unwrap();
    f.handle(LambdaEvent::new(event, lambda_runtime::Context::default()))
        .await
        .unwrap();
}

async fn run_firehose_transform() {
    let config = firehose_transform::Config::from_lookup(|k| match k {
        "PARTITION_POINTERS" => Some("k=/k".into()),
        "ENRICH" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let f = firehose_transform::handler::FirehoseTransform::new(
        config,
        firehose_transform::sink::memory::MemoryReingestSink::new(),
    );
    let datas: Vec<Vec<u8>> = vec![
        format!(r#"{{"k":"{MARKER}"}}"#).into_bytes(),
        format!(r#"{{"other":"{MARKER}"}}"#).into_bytes(),
        MARKER.as_bytes().to_vec(),
        [&[0xff, 0xfe][..], MARKER.as_bytes()].concat(),
        [&[0x1f, 0x8b][..], MARKER.as_bytes()].concat(),
    ];
    let records: Vec<_> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({"recordId": format!("r{i}"), "approximateArrivalTimestamp": 1_700_000_000_000u64, "data": b64(d),
                   "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": MARKER,
                   "approximateArrivalTimestamp": 1_700_000_000_000u64, "sequenceNumber": "1", "subsequenceNumber": 0}})
        })
        .collect();
    let event = serde_json::from_value(json!({
        "invocationId": "i", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
        "sourceKinesisStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s", "region": "us-east-1",
        "records": records
    }))
    .unwrap();
    f.handle(LambdaEvent::new(event, lambda_runtime::Context::default()))
        .await
        .unwrap();
}

#[tokio::test]
async fn no_function_logs_payloads_or_tokens() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    run_ingest().await;
    run_batch_to_s3().await;
    run_firehose_transform().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    for expected in [
        "ingest summary",
        "rejected request",
        "firehose-transform summary",
    ] {
        assert!(
            logs.contains(expected),
            "the runs logged nothing like {expected:?}: the capture is broken\n{logs}"
        );
    }
    assert!(logs.lines().count() >= 10, "{logs}");
    for (line_no, line) in logs.lines().enumerate() {
        assert!(
            !line.contains(MARKER),
            "log line {line_no} carries a payload or partition key: {line}"
        );
        assert!(
            !line.contains(TOKEN),
            "log line {line_no} carries a token: {line}"
        );
    }
}

//! batch-to-s3 with `FORMAT=parquet` against the local stack: objects read back by pyarrow
//! (another implementation), every column type exact, every row, NULLs, nested values and
//! the extra column; a record that does not fit lands under `schema-mismatch/` alone while
//! the rest is written. (The retried, re-formed and half-failed scenarios run for Parquet in
//! batch_to_s3.rs.)

use base64::prelude::*;
use batch_to_s3::store::sdk::S3Store;
use batch_to_s3::BatchToS3;
use serde_json::{json, Value};
use trickle_tests::{
    batch_to_s3_config, create_bucket, kinesis_event_json, object_body, object_keys,
};

const SCHEMA: &str = "ts timestamp, user string, latency_ms bigint, price double, ok boolean, \
    tags array<string>, geo struct<lat:double,lon:double>, attrs map<string,string>, \
    amount decimal(10,2), day date, n int, blob binary";

fn records() -> Vec<String> {
    vec![
        r#"{"ts":"2024-06-10T06:13:20.123Z","user":"u1","latency_ms":42,"price":1.5,"ok":true,"tags":["a","b"],"geo":{"lat":1.25,"lon":-2.5},"attrs":{"k":"v"},"amount":"12.30","day":"2024-06-10","n":7,"blob":"aGk="}"#.into(),
        // NULLs: missing fields and JSON null; a number for a string column is its text;
        // unknown fields at the top and inside a struct go to _extra.
        r#"{"ts":1718000000123,"User":42,"tags":null,"geo":{"lat":3,"alt":9},"new_field":{"x":[1, 2]}}"#.into(),
        // Does not fit: a string for bigint. Only this record goes to the error output.
        r#"{"user":"u3","latency_ms":"abc"}"#.into(),
        r#"{"user":"u4","ts":"2024-06-10 08:13:20+02:00"}"#.into(),
        // Not a JSON object.
        "HelloWorld".into(),
    ]
}

fn pyarrow_read(paths: &[std::path::PathBuf]) -> Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = format!("{root}/.venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(format!("{root}/tests/py/parquet_dump.py"))
        .args(paths)
        .output()
        .unwrap_or_else(|e| panic!("{python} (make test installs pyarrow into .venv): {e}"));
    assert!(
        out.status.success(),
        "pyarrow could not read the objects: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from parquet_dump.py")
}

#[tokio::test]
async fn parquet_objects_read_back_with_pyarrow_typed_exactly() {
    let (client, bucket) = create_bucket("parquet").await;
    let f = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[
                ("PREFIX", "raw/"),
                ("FORMAT", "parquet"),
                ("SCHEMA", SCHEMA),
            ],
        ),
        S3Store::new(client.clone(), &bucket),
    );
    let recs = records();
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_value(kinesis_event_json(0..recs.len(), |i| recs[i].clone()))
            .expect("a Kinesis event");
    let out = f.process(event, None).await.expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.records_to_errors, 2);

    let data = object_keys(&client, &bucket, "raw/").await;
    assert_eq!(data.len(), 1, "{data:?}");
    assert!(data[0].ends_with(".parquet"), "{}", data[0]);
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(&data[0])
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(head.content_type(), Some("application/vnd.apache.parquet"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("record-count"))
            .map(String::as_str),
        Some("3")
    );

    let dir = std::env::temp_dir().join(format!("trickle-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("object.parquet");
    std::fs::write(&path, object_body(&client, &bucket, &data[0]).await).expect("write");
    let read = pyarrow_read(&[path]);
    let file = &read[0];
    assert_eq!(
        file["types"],
        json!({
            "ts": "timestamp[us, tz=UTC]",
            "user": "string",
            "latency_ms": "int64",
            "price": "double",
            "ok": "bool",
            "tags": "list<element: string>",
            "geo": "struct<lat: double, lon: double>",
            "attrs": "map<string, string ('attrs')>",
            "amount": "decimal128(10, 2)",
            "day": "date32[day]",
            "n": "int32",
            "blob": "binary",
            "_extra": "string",
        })
    );
    assert_eq!(
        file["rows"],
        json!([
            {"ts": "2024-06-10T06:13:20.123000+00:00", "user": "u1", "latency_ms": 42,
             "price": 1.5, "ok": true, "tags": ["a", "b"], "geo": {"lat": 1.25, "lon": -2.5},
             "attrs": [["k", "v"]], "amount": "12.30", "day": "2024-06-10", "n": 7,
             "blob": "aGk=", "_extra": null},
            {"ts": "2024-06-10T06:13:20.123000+00:00", "user": "42", "latency_ms": null,
             "price": null, "ok": null, "tags": null, "geo": {"lat": 3.0, "lon": null},
             "attrs": null, "amount": null, "day": null, "n": null, "blob": null,
             "_extra": "{\"geo\":{\"alt\":9},\"new_field\":{\"x\":[1,2]}}"},
            {"ts": "2024-06-10T06:13:20+00:00", "user": "u4", "latency_ms": null,
             "price": null, "ok": null, "tags": null, "geo": null, "attrs": null,
             "amount": null, "day": null, "n": null, "blob": null, "_extra": null},
        ])
    );
    assert_eq!(file["format_version"], "1.0");

    // The record that does not fit, alone, as a Firehose-style line naming the field.
    let mismatch = object_keys(&client, &bucket, "errors/schema-mismatch/").await;
    assert_eq!(mismatch.len(), 1, "{mismatch:?}");
    let mut text = String::new();
    use std::io::Read;
    flate2::read::MultiGzDecoder::new(&object_body(&client, &bucket, &mismatch[0]).await[..])
        .read_to_string(&mut text)
        .expect("gzip");
    let line: Value = serde_json::from_str(text.trim_end()).expect("one JSON line");
    assert_eq!(line["errorCode"], "schema-mismatch");
    assert_eq!(
        line["errorMessage"],
        "field latency_ms: expected bigint, got string \"abc\""
    );
    assert_eq!(
        BASE64_STANDARD
            .decode(line["rawData"].as_str().unwrap())
            .unwrap(),
        recs[2].as_bytes()
    );
    let not_json = object_keys(&client, &bucket, "errors/not-json/").await;
    assert_eq!(not_json.len(), 1, "{not_json:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_same_records_give_the_same_parquet_bytes() {
    let (client, bucket) = create_bucket("parquet-same").await;
    let config = batch_to_s3_config(
        &bucket,
        &[
            ("PREFIX", "raw/"),
            ("FORMAT", "parquet"),
            ("SCHEMA", SCHEMA),
            ("STATE_PREFIX", "s1/"),
        ],
    );
    let recs = records();
    let event = || -> aws_lambda_events::event::kinesis::KinesisEvent {
        serde_json::from_value(kinesis_event_json(0..recs.len(), |i| recs[i].clone()))
            .expect("a Kinesis event")
    };
    let f = BatchToS3::new(config, S3Store::new(client.clone(), &bucket));
    f.process(event(), None).await.expect("event");
    let key = object_keys(&client, &bucket, "raw/").await.remove(0);
    let first = object_body(&client, &bucket, &key).await;
    // Without its mark (a lost mark update), the same batch lands on the same key: 412.
    let again = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[
                ("PREFIX", "raw/"),
                ("FORMAT", "parquet"),
                ("SCHEMA", SCHEMA),
                ("STATE_PREFIX", "s2/"),
            ],
        ),
        S3Store::new(client.clone(), &bucket),
    );
    let out = again.process(event(), None).await.expect("event");
    assert_eq!(out.summary.objects_already_stored, 3);
    assert_eq!(out.summary.objects_written, 0);
    assert_eq!(object_body(&client, &bucket, &key).await, first);
}

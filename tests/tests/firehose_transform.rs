//! firehose-transform against the local stack: records that overflow the response are put
//! back into the source Kinesis stream through the real aws-sdk-kinesis, each with its
//! original partition key, and the answer keeps Firehose's contract.
//!
//! Run with the stack up: `source .local/stack.env && cargo test -p trickle-tests --test firehose_transform`.

use base64::Engine;
use firehose_transform::config::Config;
use firehose_transform::contract::check_response;
use firehose_transform::event::{
    FirehoseEvent, FirehoseRecord, KinesisRecordMetadata, TransformResult,
};
use firehose_transform::sink::aws::AwsReingestSink;
use firehose_transform::FirehoseTransform;
use std::collections::BTreeSet;
use trickle_tests::{create_stream, kinesis, read_all, sdk_config, stream_arn, unique_name};

fn fixture(name: &str) -> FirehoseEvent {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode(b64: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("fixture data is base64")
}

async fn transform(config: Config, event: &FirehoseEvent) -> Vec<TransformResult> {
    let sink = AwsReingestSink::from_sdk_config(&sdk_config().await);
    let budget = config.response_budget_bytes;
    let (response, _) = FirehoseTransform::new(config, sink).process(event).await;
    let bytes = serde_json::to_vec(&response).unwrap();
    if let Err(v) = check_response(event, &bytes, budget) {
        panic!("contract violated: {v:#?}");
    }
    response.records.iter().map(|r| r.result).collect()
}

#[tokio::test]
async fn overflow_record_goes_back_into_the_stream_with_its_partition_key() {
    let client = kinesis().await;
    let name = unique_name("fh-overflow");
    create_stream(&client, &name, 1).await;
    let mut event = fixture("firehose-overflow.json");
    event.source_kinesis_stream_arn = Some(stream_arn(&client, &name).await);

    let results = transform(Config::default(), &event).await;

    assert_eq!(
        results,
        vec![
            TransformResult::Ok,
            TransformResult::Dropped,
            TransformResult::Ok
        ]
    );
    let in_stream = read_all(&client, &name).await;
    assert_eq!(in_stream.len(), 1, "exactly the overflow record, once");
    assert_eq!(in_stream[0].partition_key(), Some("big-2"));
    assert_eq!(
        in_stream[0].data().as_ref(),
        decode(event.records[1].data.as_deref().unwrap()).as_slice(),
        "the original bytes, as Firehose received them"
    );
}

#[tokio::test]
async fn many_overflow_records_keep_their_partition_keys_across_shards() {
    let client = kinesis().await;
    let name = unique_name("fh-overflow-many");
    create_stream(&client, &name, 2).await;
    let records: Vec<FirehoseRecord> = (0..40)
        .map(|i| FirehoseRecord {
            record_id: format!("record-{i:03}"),
            approximate_arrival_timestamp: Some(1_700_000_000_000 + i),
            data: Some(
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(100))),
            ),
            kinesis_record_metadata: Some(KinesisRecordMetadata {
                partition_key: Some(format!("key-{i}")),
                sequence_number: Some(i.to_string()),
                ..Default::default()
            }),
        })
        .collect();
    let event = FirehoseEvent {
        source_kinesis_stream_arn: Some(stream_arn(&client, &name).await),
        records,
        ..Default::default()
    };
    let config = Config {
        response_budget_bytes: 4_000,
        ..Config::default()
    };

    let results = transform(config, &event).await;

    let dropped: BTreeSet<(String, Vec<u8>)> = event
        .records
        .iter()
        .zip(&results)
        .filter(|(_, r)| **r == TransformResult::Dropped)
        .map(|(rec, _)| {
            (
                rec.kinesis_record_metadata
                    .as_ref()
                    .and_then(|m| m.partition_key.clone())
                    .unwrap(),
                decode(rec.data.as_deref().unwrap()),
            )
        })
        .collect();
    assert!(
        dropped.len() > 10,
        "the budget must force overflow: {results:?}"
    );
    assert!(results.contains(&TransformResult::Ok));
    let in_stream: Vec<(String, Vec<u8>)> = read_all(&client, &name)
        .await
        .into_iter()
        .map(|r| {
            let key = r.partition_key().expect("a partition key").to_owned();
            (key, r.data().as_ref().to_vec())
        })
        .collect();
    assert_eq!(
        in_stream.len(),
        dropped.len(),
        "each overflow record exactly once"
    );
    assert_eq!(in_stream.into_iter().collect::<BTreeSet<_>>(), dropped);
}

#[tokio::test]
async fn a_missing_stream_makes_overflow_processing_failed_never_dropped() {
    let client = kinesis().await;
    let name = unique_name("fh-existing");
    create_stream(&client, &name, 1).await;
    let arn = stream_arn(&client, &name).await;
    let mut event = fixture("firehose-overflow.json");
    event.source_kinesis_stream_arn = Some(arn.replace(&name, &unique_name("fh-missing")));
    let config = Config {
        reingest_max_attempts: 2,
        ..Config::default()
    };

    let results = transform(config, &event).await;

    assert_eq!(
        results,
        vec![
            TransformResult::Ok,
            TransformResult::ProcessingFailed,
            TransformResult::Ok
        ]
    );
}

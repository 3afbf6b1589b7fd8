//! firehose-transform against the local stack: records that overflow the response are put
//! back into the source Kinesis stream through the real aws-sdk-kinesis, each as a marked
//! copy of its original partition key, and the answer keeps Firehose's contract. batch-to-s3,
//! which reads the same stream, stores every record once although the copies pass it too.
//!
//! Run with the stack up: `source .local/stack.env && cargo test -p trickle-tests --test firehose_transform`.

use base64::Engine;
use firehose_transform::config::Config;
use firehose_transform::contract::check_response;
use firehose_transform::event::{
    FirehoseEvent, FirehoseRecord, KinesisRecordMetadata, TransformResult,
};
use firehose_transform::sink::sdk::AwsReingestSink;
use firehose_transform::FirehoseTransform;
use std::collections::BTreeSet;
use trickle_shared::reingest::reingested_partition_key;
use trickle_tests::{
    batch_to_s3_config, create_bucket, create_stream, kinesis, object_body, object_keys, read_all,
    sdk_config, stream_arn, unique_name,
};

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
async fn overflow_record_goes_back_into_the_stream_as_a_marked_copy() {
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
    assert_eq!(
        in_stream[0].partition_key(),
        Some(reingested_partition_key("big-2").as_str())
    );
    assert_eq!(
        in_stream[0].data().as_ref(),
        decode(event.records[1].data.as_deref().unwrap()).as_slice(),
        "the original bytes, as Firehose received them"
    );
}

#[tokio::test]
async fn many_overflow_records_keep_their_original_keys_across_shards() {
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
                reingested_partition_key(
                    rec.kinesis_record_metadata
                        .as_ref()
                        .and_then(|m| m.partition_key.as_deref())
                        .unwrap(),
                ),
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

/// The stream's records as the local pipeline reads them (one shard).
async fn stream_records(
    client: &aws_sdk_kinesis::Client,
    name: &str,
) -> Vec<local_pipeline::esm::StreamRecord> {
    read_all(client, name)
        .await
        .into_iter()
        .map(|r| local_pipeline::esm::StreamRecord {
            shard_id: "shardId-000000000000".into(),
            sequence_number: r.sequence_number().to_owned(),
            partition_key: r.partition_key().unwrap_or_default().to_owned(),
            data: r.data().as_ref().to_vec(),
            arrival_ms: 1_718_000_000_000,
        })
        .collect()
}

fn firehose_event(batch: &[local_pipeline::esm::StreamRecord], stream_arn: &str) -> FirehoseEvent {
    serde_json::from_value(local_pipeline::firehose::transform_event(
        batch,
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
        stream_arn,
        "us-east-1",
    ))
    .expect("a Firehose event")
}

/// The data of the records a transform answered `Ok` (what Firehose delivers).
fn delivered(event: &FirehoseEvent, results: &[TransformResult]) -> Vec<Vec<u8>> {
    event
        .records
        .iter()
        .zip(results)
        .filter(|(_, r)| **r == TransformResult::Ok)
        .map(|(rec, _)| decode(rec.data.as_deref().unwrap()))
        .collect()
}

#[tokio::test]
async fn both_readers_of_the_stream_store_each_record_once_through_re_ingestion() {
    let client = kinesis().await;
    let name = unique_name("fh-two-readers");
    create_stream(&client, &name, 1).await;
    let arn = stream_arn(&client, &name).await;
    let originals: Vec<String> = (0..30)
        .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(100)))
        .collect();
    for (i, line) in originals.iter().enumerate() {
        client
            .put_record()
            .stream_name(&name)
            .partition_key(format!("key-{i}"))
            .data(aws_sdk_kinesis::primitives::Blob::new(line.as_bytes()))
            .send()
            .await
            .expect("PutRecord");
    }
    let mut want: Vec<Vec<u8>> = originals.iter().map(|l| l.as_bytes().to_vec()).collect();
    want.sort();

    // The Firehose path: a transform whose answer cannot hold every record, then one over
    // the copies it put back, read from the stream again.
    let first = stream_records(&client, &name).await;
    assert_eq!(first.len(), originals.len());
    let small = Config {
        response_budget_bytes: 4_000,
        ..Config::default()
    };
    let e1 = firehose_event(&first, &arn);
    let r1 = transform(small, &e1).await;
    let dropped = r1
        .iter()
        .filter(|r| **r == TransformResult::Dropped)
        .count();
    assert!(dropped > 5, "the budget must force re-ingestion: {r1:?}");
    let all = stream_records(&client, &name).await;
    let copies = &all[first.len()..];
    assert_eq!(copies.len(), dropped);
    assert!(copies
        .iter()
        .all(|c| trickle_shared::reingest::is_reingested(&c.partition_key)));
    let e2 = firehose_event(copies, &arn);
    let r2 = transform(Config::default(), &e2).await;
    let mut firehose_lines = delivered(&e1, &r1);
    firehose_lines.extend(delivered(&e2, &r2));
    firehose_lines.sort();
    assert_eq!(firehose_lines, want, "Firehose delivers each record once");

    // The batch-to-s3 path reads the same stream: originals and copies.
    let (s3, bucket) = create_bucket("fh-two-readers").await;
    let f = batch_to_s3::BatchToS3::new(
        batch_to_s3_config(&bucket, &[("PREFIX", "raw/"), ("COMPRESSION", "none")]),
        batch_to_s3::store::sdk::S3Store::new(s3.clone(), &bucket),
    );
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_value(local_pipeline::esm::kinesis_event(&all, &arn, "us-east-1"))
            .expect("a Kinesis event");
    let out = f.process(event, None).await.expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.records_reingested_skipped, dropped);
    let mut stored = Vec::new();
    for key in object_keys(&s3, &bucket, "raw/").await {
        let body = object_body(&s3, &bucket, &key).await;
        stored.extend(
            body.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    stored.sort();
    assert_eq!(
        stored, want,
        "batch-to-s3 stores each record once, copies skipped"
    );
}

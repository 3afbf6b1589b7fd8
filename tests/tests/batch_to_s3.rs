//! batch-to-s3 against the local stack (moto S3, which honours `If-None-Match: *` and
//! `If-Match`), through the real aws-sdk-s3: each scenario ends with every user record
//! stored exactly once.
//!
//! Run: `source .local/stack.env && cargo test -p trickle-tests --test batch_to_s3`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use batch_to_s3::store::sdk::S3Store;
use batch_to_s3::store::{ObjectStore, PutObject, PutOutcome, StoreError, StoredObject};
use batch_to_s3::BatchToS3;
use std::io::Read;
use std::sync::Mutex;
use trickle_tests::{batch_to_s3_config, create_bucket, kinesis_event_json, sequence};

/// 56-digit sequence numbers, as AWS issues them (beyond u128).
/// A Kinesis event with records `range` of a fixed shard: record i is `{"n":i}`.
fn event(range: std::ops::Range<usize>) -> KinesisEvent {
    serde_json::from_value(kinesis_event_json(range, |i| format!("{{\"n\":{i}}}")))
        .expect("a Kinesis event")
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("{{\"n\":{i}}}")).collect();
    v.sort();
    v
}

async fn keys(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("ListObjectsV2");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// Every record of every data object, sorted, as `{"n":i}` lines: NDJSON objects as they
/// are, Parquet objects (SCHEMA `n bigint`) row by row.
async fn stored_lines(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for key in keys(client, bucket, "raw/").await {
        let o = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("GetObject");
        let parquet = key.ends_with(".parquet");
        if parquet {
            assert_eq!(o.content_encoding(), None, "{key}");
            assert_eq!(
                o.content_type(),
                Some("application/vnd.apache.parquet"),
                "{key}"
            );
        } else {
            assert_eq!(o.content_encoding(), Some("gzip"), "{key}");
            assert_eq!(o.content_type(), Some("application/x-ndjson"), "{key}");
        }
        let meta = o.metadata().cloned().unwrap_or_default();
        assert_eq!(
            meta.get("shard-id").map(String::as_str),
            Some("shardId-000000000000")
        );
        let body = o.body.collect().await.expect("body").into_bytes();
        let object_lines: Vec<String> = if parquet {
            parquet_n_lines(body)
        } else {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .expect("gzip");
            text.lines().map(str::to_owned).collect()
        };
        assert_eq!(
            meta.get("record-count"),
            Some(&object_lines.len().to_string()),
            "{key}"
        );
        lines.extend(object_lines);
    }
    lines.sort();
    lines
}

/// The `n` column of a Parquet object, as `{"n":i}` lines.
fn parquet_n_lines(body: bytes::Bytes) -> Vec<String> {
    trickle_tests::parquet_i64_column(body, "n")
        .into_iter()
        .map(|n| format!("{{\"n\":{n}}}"))
        .collect()
}

/// The settings of each format the scenarios run in.
const NDJSON: &[(&str, &str)] = &[];
const PARQUET: &[(&str, &str)] = &[("FORMAT", "parquet"), ("SCHEMA", "n bigint")];

fn config(bucket: &str, format: &[(&str, &str)], pairs: &[(&str, &str)]) -> batch_to_s3::Config {
    let mut all = format.to_vec();
    all.extend_from_slice(pairs);
    batch_to_s3_config(bucket, &all)
}

#[tokio::test]
async fn a_retried_batch_is_stored_exactly_once() {
    retried_batch(NDJSON).await
}

#[tokio::test]
async fn a_retried_parquet_batch_is_stored_exactly_once() {
    retried_batch(PARQUET).await
}

async fn retried_batch(format: &[(&str, &str)]) {
    let (client, bucket) = create_bucket("b2s3").await;
    let f = BatchToS3::new(
        config(&bucket, format, &[("PREFIX", "raw/")]),
        S3Store::new(client.clone(), &bucket),
    );
    let first = f.process(event(0..5), None).await.expect("event");
    assert_eq!(first.retry_from, None);
    assert_eq!(first.summary.objects_written, 1);
    // Lambda redelivers the same batch (timeout after the writes): skipped by the mark.
    let again = f.process(event(0..5), None).await.expect("event");
    assert_eq!(again.retry_from, None);
    assert_eq!(again.summary.records_skipped, 5);
    // Even with the mark gone, the same records land on the same key: moto answers 412.
    for key in keys(&client, &bucket, "state/").await {
        client
            .delete_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .expect("DeleteObject");
    }
    let healed = f.process(event(0..5), None).await.expect("event");
    assert_eq!(healed.summary.objects_already_stored, 1);
    assert_eq!(healed.summary.objects_written, 0);
    assert_eq!(keys(&client, &bucket, "raw/").await.len(), 1);
    assert_eq!(stored_lines(&client, &bucket).await, expected(0..5));
}

#[tokio::test]
async fn a_reformed_overlapping_batch_is_stored_exactly_once() {
    reformed_batch(NDJSON).await
}

#[tokio::test]
async fn a_reformed_overlapping_parquet_batch_is_stored_exactly_once() {
    reformed_batch(PARQUET).await
}

async fn reformed_batch(format: &[(&str, &str)]) {
    let (client, bucket) = create_bucket("b2s3").await;
    let f = BatchToS3::new(
        config(
            &bucket,
            format,
            &[("PREFIX", "raw/"), ("KEY_LAYOUT", "hive")],
        ),
        S3Store::new(client.clone(), &bucket),
    );
    assert_eq!(
        f.process(event(0..6), None)
            .await
            .expect("event")
            .retry_from,
        None
    );
    // Bisected to a half already stored, then re-formed with newer records.
    assert_eq!(
        f.process(event(0..3), None)
            .await
            .expect("event")
            .summary
            .records_skipped,
        3
    );
    let out = f.process(event(3..10), None).await.expect("event");
    assert_eq!(out.summary.records_skipped, 3);
    let data = keys(&client, &bucket, "raw/").await;
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(data[0].starts_with("raw/year=2024/month=06/day=10/hour=06/shardId-000000000000-"));
    assert_eq!(stored_lines(&client, &bucket).await, expected(0..10));
}

/// The real S3 store, failing PUTs of keys that contain a marker: moto cannot inject faults.
struct FailingStore {
    inner: S3Store,
    fail_when_key_contains: Mutex<Option<String>>,
}

impl ObjectStore for FailingStore {
    async fn put_object(&self, object: PutObject) -> Result<PutOutcome, StoreError> {
        let marker = self.fail_when_key_contains.lock().expect("lock").clone();
        if let Some(m) = marker.filter(|m| object.key.contains(m.as_str())) {
            return Err(StoreError {
                operation: "PutObject",
                key: object.key,
                code: "InternalError".into(),
                message: format!("injected for keys containing {m}"),
            });
        }
        self.inner.put_object(object).await
    }
    async fn get_object(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.inner.get_object(key).await
    }
    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete_object(key).await
    }
    async fn object_metadata(
        &self,
        key: &str,
    ) -> Result<Option<Vec<(String, String)>>, StoreError> {
        self.inner.object_metadata(key).await
    }
}

#[tokio::test]
async fn a_write_failure_in_the_middle_is_retried_exactly_once() {
    half_failed_batch(NDJSON).await
}

#[tokio::test]
async fn a_write_failure_in_the_middle_of_a_parquet_batch_is_retried_exactly_once() {
    // The partition column is named `n` by the pointer: the schema's column must differ.
    half_failed_batch(&[
        ("FORMAT", "parquet"),
        ("SCHEMA", "n bigint"),
        ("PARTITION_NAME", "part"),
    ])
    .await
}

async fn half_failed_batch(format: &[(&str, &str)]) {
    let (client, bucket) = create_bucket("b2s3").await;
    let name = format
        .iter()
        .find(|(k, _)| *k == "PARTITION_NAME")
        .map_or("n", |(_, v)| *v);
    // Partitioned by /n: one object per record, written in shard order.
    let f = BatchToS3::new(
        config(
            &bucket,
            format,
            &[("PREFIX", "raw/"), ("OBJECT_PARTITION_POINTER", "/n")],
        ),
        FailingStore {
            inner: S3Store::new(client.clone(), &bucket),
            fail_when_key_contains: Mutex::new(Some(format!("/{name}=5/"))),
        },
    );
    let out = f.process(event(0..10), None).await.expect("event");
    assert_eq!(
        out.retry_from,
        Some(sequence(5)),
        "the first record not stored"
    );
    let written = keys(&client, &bucket, "raw/").await;
    assert_eq!(written.len(), 5, "nothing after the failure: {written:?}");
    assert!(written.iter().all(|k| !k.contains(&format!("{name}=6/"))));
    assert_eq!(stored_lines(&client, &bucket).await, expected(0..5));

    // Lambda checkpoints before 5 and redelivers from there (with newer records).
    *f.store().fail_when_key_contains.lock().expect("lock") = None;
    let out = f.process(event(5..12), None).await.expect("event");
    assert_eq!(out.retry_from, None);
    // And a stale redelivery of the whole first batch changes nothing.
    let stale = f.process(event(0..10), None).await.expect("event");
    assert_eq!(stale.summary.records_skipped, 10);
    assert_eq!(stored_lines(&client, &bucket).await, expected(0..12));
}

/// A one-record event whose data is `data` (any bytes), as AWS delivers it.
fn binary_event(data: &[u8]) -> KinesisEvent {
    use base64::prelude::*;
    let mut json = kinesis_event_json(0..1, |_| String::new());
    json["Records"][0]["kinesis"]["data"] = BASE64_STANDARD.encode(data).into();
    serde_json::from_value(json).expect("a Kinesis event")
}

/// Found with hostile input: one KPL aggregate holding a value spelled like the default
/// partition beside a record without a value made two objects with one key; the second
/// PUT's 412 was counted as stored, and one record of two was lost without an error.
async fn default_partition_spelling(format: &[(&str, &str)]) {
    let (client, bucket) = create_bucket("b2s3").await;
    let f = BatchToS3::new(
        config(
            &bucket,
            format,
            &[
                ("PREFIX", "raw/"),
                ("OBJECT_PARTITION_POINTER", "/customer"),
            ],
        ),
        S3Store::new(client.clone(), &bucket),
    );
    let users: Vec<trickle_shared::kpl::UserRecord> = [
        r#"{"customer":"__HIVE_DEFAULT_PARTITION__","n":1}"#,
        r#"{"n":2}"#,
    ]
    .iter()
    .map(|d| trickle_shared::kpl::UserRecord {
        partition_key: "k".into(),
        explicit_hash_key: None,
        data: d.as_bytes().to_vec(),
    })
    .collect();
    let out = f
        .process(binary_event(&trickle_shared::kpl::aggregate(&users)), None)
        .await
        .expect("event");
    assert_eq!(out.retry_from, None);
    assert_eq!(out.summary.objects_written, 1);
    let data = keys(&client, &bucket, "raw/").await;
    assert!(
        data.len() == 1 && data[0].starts_with("raw/customer=__HIVE_DEFAULT_PARTITION__/"),
        "{data:?}"
    );
    assert_eq!(
        stored_lines(&client, &bucket)
            .await
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["n"].clone())
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[tokio::test]
async fn a_value_spelled_like_the_default_partition_loses_nothing() {
    default_partition_spelling(NDJSON).await
}

#[tokio::test]
async fn a_value_spelled_like_the_default_partition_loses_nothing_in_parquet() {
    default_partition_spelling(&[("FORMAT", "parquet"), ("SCHEMA", "n bigint")]).await
}

/// A 412 is "already stored" only for the planned object: another object under the key
/// (made here by hand) is an error, reported for a retry, and left as it is.
#[tokio::test]
async fn a_key_holding_another_object_is_an_error_never_a_success() {
    let (client, bucket) = create_bucket("b2s3").await;
    let f = BatchToS3::new(
        config(&bucket, NDJSON, &[("PREFIX", "raw/")]),
        S3Store::new(client.clone(), &bucket),
    );
    // Learn the key from a first run, then put another object under it.
    f.process(event(0..3), None).await.expect("event");
    let key = keys(&client, &bucket, "raw/").await.remove(0);
    for k in keys(&client, &bucket, "state/").await {
        client
            .delete_object()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .expect("DeleteObject");
    }
    client
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(b"another object".to_vec().into())
        .metadata("records-sha256", "0".repeat(64))
        .send()
        .await
        .expect("PutObject");
    let out = f.process(event(0..3), None).await.expect("event");
    assert_eq!(
        out.retry_from,
        Some(sequence(0)),
        "reported for a retry, not stored"
    );
    assert_eq!(out.summary.objects_already_stored, 0);
    let body = client
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("GetObject")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(&body[..], b"another object", "never written over");
}

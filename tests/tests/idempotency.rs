//! Request keys against the local stack: ingest's `Idempotency-Key` memory in moto's
//! DynamoDB, its PutRecords calls through the fault proxy into moto's Kinesis. A sender
//! retries each request the way senders do, and batch-to-s3's objects and the Iceberg table
//! hold every record once:
//! - the answer is lost after ingest put everything, and the sender retries (twice);
//! - some entries stay throttled, ingest answers 503, and the sender retries the whole
//!   request until it gets a 2xx;
//! - the same key with another body answers 422 and puts nothing; the same body with two
//!   keys is two sends;
//! - the memory's expiry, with an injected clock (moto, like DynamoDB before its TTL sweep,
//!   keeps expired items: the memory reads them as absent);
//! - copies the stream holds anyway (a PutRecords answer lost after Kinesis applied it, an
//!   attempt that vanished after putting and a retry that put again) are stored once by
//!   batch-to-s3 and batch-to-iceberg, delivered in batches unlike the originals' (varied
//!   sizes, bisected, re-formed with newer records, failed under S3 and Glue faults and
//!   delivered again from the first record not stored);
//! - a soak of senders retrying under faults, two at once, read through both writers.
//!
//! DynamoDB goes through the fault proxy too: it makes moto's conditional writes atomic (and
//! its Kinesis puts keep every acknowledged record) under concurrency, as AWS's are
//! (`tests/src/fault_proxy.rs`).
//!
//! The writers run in-process (as the Lambda runtime runs them), their clients through a
//! fault proxy of their own; Lambda's deliveries are driven by `deliver`.

use ingest::body::HttpInput;
use ingest::config::{Config, StreamTarget};
use ingest::idempotency::sdk::DynamoRequests;
use ingest::idempotency::{new_item, Claim, RequestMemory, MEMORY_TTL};
use ingest::sink::sdk::KinesisSink;
use ingest::Ingest;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use trickle_tests::fault_proxy::{EntryPick, Fault, FaultProxy, Match, Rule, Schedule};
use trickle_tests::{
    batch_to_iceberg_via, batch_to_s3_config, create_bucket, create_glue_database, create_stream,
    kinesis, kinesis_via, object_body, object_keys, parquet_i64_column, pyiceberg, read_all,
    read_shards, s3, s3_via, sdk_config_via, unique_name, ClientSettings,
};

/// A DynamoDB table as the template makes it: `id` (S) the partition key; its client goes
/// through `proxy`, which makes moto's conditional writes atomic, as DynamoDB's are.
async fn memory_table(proxy: &FaultProxy) -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = aws_sdk_dynamodb::Client::new(
        &sdk_config_via(proxy.url(), ClientSettings::default()).await,
    );
    let table = unique_name("requests");
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateTable on the local stack (moto[dynamodb])");
    (client, table)
}

struct Setup {
    ingest: Ingest<KinesisSink>,
    proxy: FaultProxy,
    stream: String,
    memory: Arc<DynamoRequests>,
}

async fn setup() -> Setup {
    let stream = unique_name("keyed");
    create_stream(&kinesis().await, &stream, 2).await;
    let proxy = FaultProxy::start(vec![]).await;
    let client = kinesis_via(proxy.url(), ClientSettings::default()).await;
    let (dynamodb, table) = memory_table(&proxy).await;
    let memory = Arc::new(DynamoRequests::new(dynamodb, table.clone()));
    let config = Config {
        retry_budget: Duration::from_millis(300),
        idempotency_table: Some(table),
        ..Config::new(StreamTarget::Name(stream.clone()))
    };
    let ingest = Ingest::new(config.clone(), KinesisSink::new(client, config.stream))
        .with_memory(memory.clone());
    Setup {
        ingest,
        proxy,
        stream,
        memory,
    }
}

fn body(first: usize, n: usize) -> Vec<u8> {
    (first..first + n)
        .map(|i| format!("{{\"n\":{i}}}\n"))
        .collect::<String>()
        .into_bytes()
}

fn keyed<'a>(key: &'a str, body: &'a [u8]) -> HttpInput<'a> {
    HttpInput {
        idempotency_key: Some(key),
        ..HttpInput::post("application/x-ndjson", body)
    }
}

/// The `n` of every record in the stream, sorted.
async fn stream_ns(stream: &str) -> Vec<u64> {
    let mut ns: Vec<u64> = read_all(&kinesis().await, stream)
        .await
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(r.data().as_ref()).unwrap();
            v["n"].as_u64().unwrap()
        })
        .collect();
    ns.sort();
    ns
}

/// Sends until a 2xx, as a sender's retry loop does (503 and 5xx are retried).
async fn send_until_accepted(s: &Setup, input: &HttpInput<'_>) -> (u16, usize) {
    let mut last = None;
    for attempt in 1..=20 {
        let a = s.ingest.answer(input).await;
        if a.status.is_success() {
            return (a.status.as_u16(), attempt);
        }
        assert!(a.status.is_server_error(), "a sender drops a 4xx: {a:?}");
        last = Some(a);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = last.expect("an answer");
    panic!(
        "never accepted; last {}: {:.300}",
        last.status,
        last.body.to_string()
    );
}

#[tokio::test]
async fn a_lost_answer_retried_twice_puts_every_record_once() {
    let s = setup().await;
    let b = body(0, 300);
    let first = s.ingest.answer(&keyed("batch-1", &b)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // The sender never got it: it retries, twice.
    for _ in 0..2 {
        let again = s.ingest.answer(&keyed("batch-1", &b)).await;
        assert_eq!((again.status, &again.body), (first.status, &first.body));
    }
    let want: Vec<u64> = (0..300).collect();
    assert_eq!(stream_ns(&s.stream).await, want);
    through_the_writers(&s.stream).await.assert_exactly(&want);
}

#[tokio::test]
async fn entries_that_stay_throttled_are_put_once_by_the_whole_request_retried() {
    let s = setup().await;
    let b = body(0, 300);
    // Every record whose n ends in 7 is throttled for the first request's whole budget.
    s.proxy.set_rules(vec![Rule::new(
        Match::Kinesis("PutRecords"),
        Schedule::Always,
        Fault::KinesisEntries(EntryPick::Containing(b"7}".to_vec())),
    )]);
    let first = s.ingest.answer(&keyed("batch-2", &b)).await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(first.body["FailedRecordCount"], 30);
    s.proxy.set_rules(vec![]);
    let (status, attempts) = send_until_accepted(&s, &keyed("batch-2", &b)).await;
    assert_eq!((status, attempts), (200, 1));
    let want: Vec<u64> = (0..300).collect();
    assert_eq!(stream_ns(&s.stream).await, want);
    through_the_writers(&s.stream).await.assert_exactly(&want);
}

#[tokio::test]
async fn a_reused_key_is_422_and_two_keys_are_two_sends() {
    let s = setup().await;
    assert_eq!(s.ingest.answer(&keyed("k", &body(0, 5))).await.status, 200);
    let other = s.ingest.answer(&keyed("k", &body(100, 5))).await;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(s.ingest.answer(&keyed("k2", &body(0, 5))).await.status, 200);
    assert_eq!(
        stream_ns(&s.stream).await,
        [0, 0, 1, 1, 2, 2, 3, 3, 4, 4],
        "the same body under two keys is stored twice; the reused key's body never"
    );
    let want = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4];
    through_the_writers(&s.stream).await.assert_exactly(&want);
}

#[tokio::test]
async fn an_expired_request_is_new_again_though_the_table_still_holds_it() {
    let s = setup().await;
    let t0 = SystemTime::now();
    let digest = "d".repeat(64);
    let claim = s.memory.claim("id-1", &digest, 3, t0).await.unwrap();
    assert!(matches!(claim, Claim::New { .. }), "{claim:?}");
    // Within its time: held by that attempt.
    let held = s
        .memory
        .claim("id-1", &digest, 3, t0 + Duration::from_secs(1))
        .await
        .unwrap();
    assert!(matches!(held, Claim::InFlight { .. }), "{held:?}");
    // A day later: new, for any body, though moto keeps the item.
    let later = t0 + MEMORY_TTL + Duration::from_secs(1);
    let again = s.memory.claim("id-1", "other", 3, later).await.unwrap();
    assert_eq!(
        again,
        Claim::New {
            version: new_item("other", 3, later).version
        }
    );
}

/// Senders retrying under faults, with request keys: `IDEMPOTENCY_SOAK_REQUESTS` requests
/// (default 40; `make test` runs that slice) of 50 records, two senders at once. About 10% of
/// PutRecords entries are throttled on every attempt (some requests end in 503 after ingest's
/// retry budget), 5% of PutRecords answers are lost after Kinesis applied the call (the SDK
/// sends it again: copies in the stream), a fifth of the 2xx answers are treated as lost,
/// and a tenth of the requests are sent twice at once (the second finds the first in
/// flight: 503). Every sender retries until it holds a 2xx. The stream then holds every
/// record at least once, and batch-to-s3 and batch-to-iceberg, delivered the stream in
/// varied, re-formed and failed batches under S3 and Glue faults, store each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_senders_retrying_under_faults_store_every_record_once() {
    let requests: usize = std::env::var("IDEMPOTENCY_SOAK_REQUESTS")
        .ok()
        .map(|v| v.parse().expect("IDEMPOTENCY_SOAK_REQUESTS is a number"))
        .unwrap_or(40);
    let s = Arc::new(setup().await);
    s.proxy.set_rules(vec![
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::Percent(5),
            Fault::Reset { processed: true },
        ),
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::Always,
            Fault::KinesisEntries(EntryPick::Percent(10)),
        ),
    ]);
    let started = std::time::Instant::now();
    let sender = |which: usize| {
        let s = s.clone();
        async move {
            let mut rng = fastrand::Rng::with_seed(which as u64 + 7);
            let (mut attempts, mut lost, mut doubled) = (0usize, 0usize, 0usize);
            let mut history: std::collections::BTreeMap<usize, Vec<String>> = Default::default();
            for r in (which..requests).step_by(2) {
                let key = format!("soak-{r}");
                let b = body(r * 50, 50);
                loop {
                    attempts += 1;
                    let input = keyed(&key, &b);
                    let a = if rng.u8(..10) == 0 {
                        doubled += 1;
                        let (a, b) = tokio::join!(s.ingest.answer(&input), s.ingest.answer(&input));
                        history.entry(r).or_default().push(format!(
                            "twice: {} {} / {} {}",
                            a.status,
                            a.body["FailedRecordCount"],
                            b.status,
                            b.body["FailedRecordCount"]
                        ));
                        a
                    } else {
                        let a = s.ingest.answer(&input).await;
                        history
                            .entry(r)
                            .or_default()
                            .push(format!("{} {}", a.status, a.body["FailedRecordCount"]));
                        a
                    };
                    assert!(!a.status.is_client_error(), "a sender drops a 4xx: {a:?}");
                    if a.status.is_success() {
                        if rng.u8(..5) == 0 {
                            lost += 1; // the answer never reached the sender: it retries
                            continue;
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            (attempts, lost, doubled, history)
        }
    };
    let ((a0, l0, d0, h0), (a1, l1, d1, h1)) = tokio::join!(sender(0), sender(1));
    s.proxy.set_rules(vec![]);
    let in_stream = stream_ns(&s.stream).await;
    let sent_at = started.elapsed().as_secs_f64();
    let stored = through_the_writers(&s.stream).await;
    let want: Vec<u64> = (0..(requests * 50) as u64).collect();
    let mut in_stream_once = in_stream.clone();
    in_stream_once.dedup();
    let copies_in_stream = in_stream.len() - in_stream_once.len();
    let got = stored.ndjson.clone();
    let mut unique = got.clone();
    unique.dedup();
    let duplicated = got.len() - unique.len();
    let mut lost: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for n in want.iter().filter(|n| unique.binary_search(n).is_err()) {
        lost.entry(n / 50).or_default().push(n % 50);
    }
    let lost_records: usize = lost.values().map(Vec::len).sum();
    if !lost.is_empty() {
        println!("lost, request: positions: {lost:?}");
        for r in lost.keys().take(8) {
            let r = *r as usize;
            println!("  request {r}: {:?}", h0.get(&r).or(h1.get(&r)));
        }
    }
    println!(
        "idempotency soak: {requests} requests of 50 records, {} sends ({} answers treated as lost, {} sent twice at once) in {sent_at:.1} s; the stream holds {} records ({copies_in_stream} copies of lost PutRecords answers); batch-to-s3 stored {} ({duplicated} duplicated, {lost_records} lost; {} deliveries, {} failed), {} Parquet rows ({} deliveries, {} failed), batch-to-iceberg {} rows ({} deliveries, {} failed); {:.1} s",
        a0 + a1,
        l0 + l1,
        d0 + d1,
        in_stream.len(),
        got.len(),
        stored.to_ndjson.calls,
        stored.to_ndjson.failed,
        stored.parquet.len(),
        stored.to_parquet.calls,
        stored.to_parquet.failed,
        stored.table.len(),
        stored.to_iceberg.calls,
        stored.to_iceberg.failed,
        started.elapsed().as_secs_f64()
    );
    assert_eq!((duplicated, lost_records), (0, 0));
    assert_eq!(in_stream_once, want, "the stream holds every record");
    stored.assert_exactly(&want);
}

/// batch-to-s3 (NDJSON and Parquet, each with its own state) and batch-to-iceberg as Lambda
/// runs them, their S3 and Glue clients through a fault proxy of their own, one attempt per
/// call (a fault is a failed batch, delivered again as after a crash).
struct Writers {
    s3: batch_to_s3::BatchToS3<batch_to_s3::store::sdk::S3Store>,
    parquet: batch_to_s3::BatchToS3<batch_to_s3::store::sdk::S3Store>,
    iceberg: batch_to_iceberg::BatchToIceberg<batch_to_iceberg::catalog::AnyLocation>,
    bucket: String,
    database: String,
    table: String,
    proxy: FaultProxy,
}

async fn writers() -> Writers {
    let (_, bucket) = create_bucket("keyed").await;
    let database = create_glue_database("db").await;
    let table = "events".to_owned();
    let proxy = FaultProxy::start(vec![]).await;
    let once = ClientSettings {
        max_attempts: 1,
        attempt_timeout: None,
    };
    let s3 = batch_to_s3::BatchToS3::new(
        batch_to_s3_config(&bucket, &[("PREFIX", "data/")]),
        batch_to_s3::store::sdk::S3Store::new(s3_via(proxy.url(), once).await, &bucket),
    );
    let parquet = batch_to_s3::BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[
                ("PREFIX", "parquet/"),
                ("ERROR_PREFIX", "parquet-errors/"),
                ("STATE_PREFIX", "parquet-state/"),
                ("FORMAT", "parquet"),
                ("SCHEMA", "n bigint"),
            ],
        ),
        batch_to_s3::store::sdk::S3Store::new(s3_via(proxy.url(), once).await, &bucket),
    );
    let warehouse = format!("s3://{bucket}/warehouse");
    let env = [
        ("ICEBERG_DATABASE", database.as_str()),
        ("ICEBERG_TABLE", table.as_str()),
        ("ICEBERG_WAREHOUSE", warehouse.as_str()),
        ("ERROR_BUCKET", bucket.as_str()),
        ("SCHEMA", "n bigint"),
        ("COMMIT_ATTEMPTS", "3"),
    ];
    let config = batch_to_iceberg::Config::from_lookup(trickle_shared::config::map_lookup(&env))
        .expect("config");
    let iceberg = batch_to_iceberg_via(config, proxy.url(), once).await;
    Writers {
        s3,
        parquet,
        iceberg,
        bucket,
        database,
        table,
        proxy,
    }
}

/// Lambda's Kinesis event for some of a shard's records.
fn event(
    stream: &str,
    shard: &str,
    records: &[aws_sdk_kinesis::types::Record],
) -> aws_lambda_events::event::kinesis::KinesisEvent {
    use base64::prelude::*;
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key(),
                    "sequenceNumber": r.sequence_number(),
                    "data": BASE64_STANDARD.encode(r.data().as_ref()),
                    "approximateArrivalTimestamp":
                        r.approximate_arrival_timestamp().map_or(0.0, |t| t.as_secs_f64()),
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("{shard}:{}", r.sequence_number()),
                "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"),
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// One delivery to one writer; the sequence number to deliver from again, if it failed.
async fn deliver_once(
    w: &Writers,
    to: Writer,
    stream: &str,
    shard: &str,
    records: &[aws_sdk_kinesis::types::Record],
) -> Option<String> {
    let e = event(stream, shard, records);
    match to {
        Writer::Iceberg => {
            let batch = trickle_kinesis_batch::ShardBatch::from_event(e.into())
                .unwrap()
                .unwrap();
            w.iceberg.process(&batch, None).await.retry_from
        }
        Writer::Ndjson => w.s3.process(e, None).await.unwrap().retry_from,
        Writer::Parquet => w.parquet.process(e, None).await.unwrap().retry_from,
    }
}

#[derive(Debug, Clone, Copy)]
enum Writer {
    Ndjson,
    Parquet,
    Iceberg,
}

/// What the deliveries did.
#[derive(Debug, Default)]
struct Delivered {
    calls: usize,
    failed: usize,
}

/// Every shard's records to one writer as Lambda delivers them: batches of varied sizes, a
/// failed batch delivered again from the record it names, and after every third batch the
/// same records again (its answer lost): bisected, then re-formed with newer records.
async fn deliver(w: &Writers, to: Writer, stream: &str) -> Delivered {
    let mut d = Delivered::default();
    for (shard, records) in read_shards(&kinesis().await, stream).await {
        let sizes = [7usize, 13, 5, 29, 11, 3];
        let (mut p, mut i, mut in_a_row) = (0usize, 0usize, 0usize);
        while p < records.len() {
            let end = (p + sizes[i % sizes.len()]).min(records.len());
            i += 1;
            d.calls += 1;
            if let Some(from) = deliver_once(w, to, stream, &shard, &records[p..end]).await {
                d.failed += 1;
                in_a_row += 1;
                assert!(in_a_row < 30, "the writer keeps failing at record {p}");
                p = records
                    .iter()
                    .position(|r| r.sequence_number() == from)
                    .expect("a record of the batch");
                continue;
            }
            in_a_row = 0;
            if i % 3 == 1 {
                let half = p + (end - p).div_ceil(2);
                let reformed = (end + 4).min(records.len());
                for range in [p..half, p..reformed] {
                    d.calls += 1;
                    // A failure here is delivered again from `end` on (the loop goes on).
                    d.failed += usize::from(
                        deliver_once(w, to, stream, &shard, &records[range])
                            .await
                            .is_some(),
                    );
                }
            }
            p = end;
        }
    }
    d
}

/// The `n` of every record in batch-to-s3's objects, sorted.
async fn stored_ns(w: &Writers) -> Vec<u64> {
    let client = s3().await;
    let mut ns = Vec::new();
    for key in object_keys(&client, &w.bucket, "data/").await {
        let gz = object_body(&client, &w.bucket, &key).await;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ns.push(v["n"].as_u64().unwrap());
        }
    }
    ns.sort();
    ns
}

/// The `n` of every row of the Iceberg table, read by pyiceberg, sorted.
fn table_ns(w: &Writers) -> Vec<u64> {
    let dump = pyiceberg(
        &["dump", "--database", &w.database, "--table", &w.table],
        None,
    );
    let mut ns: Vec<u64> = dump["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    ns.sort();
    ns
}

/// What each writer stored, and how its deliveries went.
struct Stored {
    ndjson: Vec<u64>,
    parquet: Vec<u64>,
    table: Vec<u64>,
    to_ndjson: Delivered,
    to_parquet: Delivered,
    to_iceberg: Delivered,
}

impl Stored {
    /// Every writer stored exactly `want` (sorted `n`s, a number twice when sent twice).
    fn assert_exactly(&self, want: &[u64]) {
        for (writer, got) in [
            ("batch-to-s3 NDJSON", &self.ndjson),
            ("batch-to-s3 Parquet", &self.parquet),
            ("batch-to-iceberg", &self.table),
        ] {
            assert_eq!(difference(got, want), "", "{writer}: every record once");
        }
    }
}

/// The stream through the writers, under S3 and Glue faults.
async fn through_the_writers(stream: &str) -> Stored {
    let w = writers().await;
    w.proxy.set_rules(vec![
        Rule::new(
            Match::S3Object {
                method: "PUT",
                path_contains: String::new(),
            },
            Schedule::Percent(8),
            Fault::S3InternalError,
        ),
        Rule::new(
            Match::Glue("UpdateTable"),
            Schedule::Percent(15),
            Fault::Reset { processed: true },
        ),
    ]);
    let to_ndjson = deliver(&w, Writer::Ndjson, stream).await;
    let to_parquet = deliver(&w, Writer::Parquet, stream).await;
    let to_iceberg = deliver(&w, Writer::Iceberg, stream).await;
    w.proxy.set_rules(vec![]);
    Stored {
        ndjson: stored_ns(&w).await,
        parquet: parquet_ns(&w).await,
        table: table_ns(&w),
        to_ndjson,
        to_parquet,
        to_iceberg,
    }
}

/// The `n` of every row of batch-to-s3's Parquet objects, sorted.
async fn parquet_ns(w: &Writers) -> Vec<u64> {
    let client = s3().await;
    let mut ns = Vec::new();
    for key in object_keys(&client, &w.bucket, "parquet/").await {
        let body = bytes::Bytes::from(object_body(&client, &w.bucket, &key).await);
        ns.extend(parquet_i64_column(body, "n").into_iter().map(|n| n as u64));
    }
    ns.sort();
    ns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_the_stream_holds_anyway_are_stored_once_by_both_writers() {
    let s = setup().await;
    // A PutRecords answer lost after Kinesis applied it: the SDK sends the call again.
    s.proxy.set_rules(vec![Rule::new(
        Match::Kinesis("PutRecords"),
        Schedule::EveryNth { n: 2, offset: 0 },
        Fault::Reset { processed: true },
    )]);
    for r in 0..3 {
        let b = body(r * 300, 300);
        let key = format!("lost-{r}");
        assert_eq!(send_until_accepted(&s, &keyed(&key, &b)).await.0, 200);
    }
    s.proxy.set_rules(vec![]);
    // An attempt that put everything and vanished before recording it; a retry that takes
    // the request over puts it again (here: a memory that never saw the first).
    let b = body(900, 200);
    assert_eq!(s.ingest.answer(&keyed("vanished", &b)).await.status, 200);
    let (dynamodb, table) = memory_table(&s.proxy).await;
    let client = kinesis_via(s.proxy.url(), ClientSettings::default()).await;
    let config = Config {
        idempotency_table: Some(table.clone()),
        ..Config::new(StreamTarget::Name(s.stream.clone()))
    };
    let retry = Ingest::new(config.clone(), KinesisSink::new(client, config.stream))
        .with_memory(Arc::new(DynamoRequests::new(dynamodb, table)));
    assert_eq!(retry.answer(&keyed("vanished", &b)).await.status, 200);
    // The same body under another key is another send: stored twice, as sent.
    assert_eq!(
        s.ingest
            .answer(&keyed("again", &body(900, 10)))
            .await
            .status,
        200
    );
    // A client's partition key shaped like an identity is refused.
    let forged = HttpInput {
        partition_key_header: Some("trickle-id:00112233445566778899aabbccddeeff.0"),
        ..keyed("forged", &b)
    };
    assert_eq!(s.ingest.answer(&forged).await.status, 400);

    let in_stream = stream_ns(&s.stream).await;
    let mut want: Vec<u64> = (0..1100).chain(900..910).collect();
    want.sort();
    assert!(
        in_stream.len() >= want.len() + 200 + 150,
        "the stream holds copies: {} records",
        in_stream.len()
    );
    let stored = through_the_writers(&s.stream).await;
    println!(
        "stream {} records for {} sent; batch-to-s3 NDJSON {} deliveries ({} failed), Parquet {} ({} failed), batch-to-iceberg {} ({} failed)",
        in_stream.len(),
        want.len(),
        stored.to_ndjson.calls,
        stored.to_ndjson.failed,
        stored.to_parquet.calls,
        stored.to_parquet.failed,
        stored.to_iceberg.calls,
        stored.to_iceberg.failed
    );
    assert!(
        stored.to_ndjson.failed > 0 && stored.to_parquet.failed > 0 && stored.to_iceberg.failed > 0,
        "the faults fired"
    );
    stored.assert_exactly(&want);
}

/// What `got` has more or less than `want` (both sorted), or "" when they are equal.
fn difference(got: &[u64], want: &[u64]) -> String {
    let count = |v: &[u64]| {
        let mut m = std::collections::BTreeMap::<u64, i64>::new();
        for n in v {
            *m.entry(*n).or_default() += 1;
        }
        m
    };
    let (g, w) = (count(got), count(want));
    let keys: std::collections::BTreeSet<u64> = g.keys().chain(w.keys()).copied().collect();
    let off: Vec<String> = keys
        .into_iter()
        .filter_map(|n| {
            let d = g.get(&n).copied().unwrap_or(0) - w.get(&n).copied().unwrap_or(0);
            (d != 0).then(|| format!("{n}:{d:+}"))
        })
        .collect();
    if off.is_empty() {
        String::new()
    } else {
        format!(
            "{} off (n:extra copies): {}",
            off.len(),
            off.iter().take(40).cloned().collect::<Vec<_>>().join(" ")
        )
    }
}

/// Record ids (`RECORD_ID_POINTER`), for senders that set no header per request: a sender
/// sends a batch again whole (its answer lost) and re-batches records into another request;
/// the stream holds them twice, and both writers store each id once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_with_ids_sent_again_in_any_request_are_stored_once() {
    let s = setup().await;
    let config = Config {
        record_id_pointer: Some("/message_id".into()),
        ..Config::new(StreamTarget::Name(s.stream.clone()))
    };
    let client = kinesis_via(s.proxy.url(), ClientSettings::default()).await;
    let ingest = Ingest::new(config.clone(), KinesisSink::new(client, config.stream));
    let with_ids = |ns: std::ops::Range<u64>| -> Vec<u8> {
        ns.map(|n| format!("{{\"message_id\":\"m-{n}\",\"n\":{n}}}\n"))
            .collect::<String>()
            .into_bytes()
    };
    let a = with_ids(0..200);
    for _ in 0..2 {
        let answer = ingest
            .answer(&HttpInput::post("application/x-ndjson", &a))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let b = with_ids(150..300);
    let answer = ingest
        .answer(&HttpInput::post("application/x-ndjson", &b))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // A record without an id is stored as sent, every time.
    for _ in 0..2 {
        let plain = HttpInput::post("application/x-ndjson", b"{\"n\":1000}\n");
        assert_eq!(ingest.answer(&plain).await.status, 200);
    }
    assert_eq!(stream_ns(&s.stream).await.len(), 400 + 150 + 2);
    let want: Vec<u64> = (0..300).chain([1000, 1000]).collect();
    through_the_writers(&s.stream).await.assert_exactly(&want);
}

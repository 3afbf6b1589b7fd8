//! Request keys against the local stack: ingest's `Idempotency-Key` memory in moto's
//! DynamoDB, its PutRecords calls through the fault proxy into moto's Kinesis. A sender
//! retries each request the way senders do, and the stream holds every record once:
//! - the answer is lost after ingest put everything, and the sender retries (twice);
//! - some entries stay throttled, ingest answers 503, and the sender retries the whole
//!   request until it gets a 2xx;
//! - the same key with another body answers 422 and puts nothing; the same body with two
//!   keys is two sends;
//! - the memory's expiry, with an injected clock (moto, like DynamoDB before its TTL sweep,
//!   keeps expired items: the memory reads them as absent).
//!
//! Not covered by request keys alone (the writers' skipping of identities, the second stage
//! of docs/reference/idempotency.md): a PutRecords answer lost after Kinesis applied it, and
//! an attempt that crashes between its put and its record.

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
    create_stream, kinesis, kinesis_via, read_all, sdk_config, unique_name, ClientSettings,
};

/// A DynamoDB table as the template makes it: `id` (S) the partition key.
async fn memory_table() -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
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
    let (dynamodb, table) = memory_table().await;
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
    assert_eq!(stream_ns(&s.stream).await, (0..300).collect::<Vec<_>>());
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
    assert_eq!(stream_ns(&s.stream).await, (0..300).collect::<Vec<_>>());
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

//! Helpers for the integration tests in `tests/tests/`: clients for the local stack (moto).
//!
//! The README's test command (`make test`) starts moto on 127.0.0.1 and exports the
//! environment below. Run under a plain `cargo test` without it, these helpers panic with a
//! message saying how to start the stack: integration tests fail loudly, they never skip.
//!
//! - `fault_proxy`: a fault-injecting HTTP/1.1 proxy in front of the local stack.
//! - `runtime_api`: a Lambda Runtime API stand-in, to run a function's real binary (the
//!   crash tests kill it mid-event).

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

pub mod fault_proxy;
pub mod runtime_api;

/// The environment variable holding the local stack's endpoint.
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";

/// The local stack's endpoint, checked to be on loopback and reachable.
pub fn endpoint() -> String {
    let url = std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VAR} is not set: integration tests need the local stack. \
             Run them with `make test` (it starts moto on 127.0.0.1), or start it with \
             `scripts/stack.sh start` and `source .local/stack.env`."
        )
    });
    let host_port = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{ENDPOINT_VAR}={url} must be http://127.0.0.1:<port>"));
    assert!(
        host_port.starts_with("127.0.0.1:") || host_port.starts_with("localhost:"),
        "{ENDPOINT_VAR}={url}: local tests only ever talk to loopback"
    );
    let addr = host_port
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    if std::net::TcpStream::connect(&addr).is_err() {
        panic!("the local stack is not answering at {url}: start it with `scripts/stack.sh start` or run `make test`");
    }
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true"),
        "AWS_EC2_METADATA_DISABLED=true must be set so the SDK never looks for instance metadata"
    );
    url
}

/// SDK configuration for the local stack (region, dummy credentials and endpoint from the
/// environment that `make test` sets).
pub async fn sdk_config() -> SdkConfig {
    let url = endpoint();
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .load()
        .await
}

/// A Kinesis client for the local stack.
pub async fn kinesis() -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::new(&sdk_config().await)
}

/// An S3 client for the local stack (path-style addressing, which a local endpoint needs).
pub async fn s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A new, uniquely named bucket on the local stack, and an S3 client for it.
pub async fn create_bucket(prefix: &str) -> (aws_sdk_s3::Client, String) {
    let client = s3().await;
    let name = unique_name(prefix);
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("CreateBucket on the local stack");
    (client, name)
}

/// batch-to-s3's configuration: `BUCKET_NAME` plus these variables.
pub fn batch_to_s3_config(bucket: &str, pairs: &[(&str, &str)]) -> batch_to_s3::Config {
    let mut all = vec![("BUCKET_NAME", bucket)];
    all.extend_from_slice(pairs);
    batch_to_s3::Config::from_lookup(trickle_shared::config::map_lookup(&all)).expect("config")
}

/// How the clients of a fault test retry and time out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Attempts per operation, the first included (the SDK's default is 3).
    pub max_attempts: u32,
    /// The SDK's per-attempt timeout (none by default, as in the SDK).
    pub attempt_timeout: Option<Duration>,
}

impl Default for ClientSettings {
    /// The SDK's standard retries, with short backoffs so tests end quickly.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            attempt_timeout: None,
        }
    }
}

/// SDK configuration for an endpoint on loopback (the fault proxy), with the retries and
/// timeouts of `settings` and the rest (region, credentials) as for the local stack.
pub async fn sdk_config_via(endpoint_url: &str, settings: ClientSettings) -> SdkConfig {
    endpoint(); // the same environment checks as for the stack itself
    assert!(
        endpoint_url.starts_with("http://127.0.0.1:"),
        "local tests only talk to loopback, not {endpoint_url}"
    );
    let mut timeouts = TimeoutConfig::builder();
    if let Some(t) = settings.attempt_timeout {
        timeouts = timeouts.operation_attempt_timeout(t);
    }
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(settings.max_attempts)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(200)),
        )
        .timeout_config(timeouts.build())
        .load()
        .await
}

/// A Kinesis client for `endpoint_url`. Each client gets its own retry partition: the SDK
/// otherwise shares one retry token bucket per service and region across the process, and
/// one test's injected faults would drain another's retries.
pub async fn kinesis_via(endpoint_url: &str, settings: ClientSettings) -> aws_sdk_kinesis::Client {
    let conf =
        aws_sdk_kinesis::config::Builder::from(&sdk_config_via(endpoint_url, settings).await)
            .retry_partition(aws_sdk_kinesis::config::retry::RetryPartition::new(
                unique_name("kinesis"),
            ))
            .build();
    aws_sdk_kinesis::Client::from_conf(conf)
}

/// A Firehose client for `endpoint_url` (own retry partition, see [`kinesis_via`]).
pub async fn firehose_via(
    endpoint_url: &str,
    settings: ClientSettings,
) -> aws_sdk_firehose::Client {
    let conf =
        aws_sdk_firehose::config::Builder::from(&sdk_config_via(endpoint_url, settings).await)
            .retry_partition(aws_sdk_firehose::config::retry::RetryPartition::new(
                unique_name("firehose"),
            ))
            .build();
    aws_sdk_firehose::Client::from_conf(conf)
}

/// An S3 client for `endpoint_url`: path-style, own retry partition (see [`kinesis_via`]).
pub async fn s3_via(endpoint_url: &str, settings: ClientSettings) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config_via(endpoint_url, settings).await)
        .force_path_style(true)
        .retry_partition(aws_sdk_s3::config::retry::RetryPartition::new(unique_name(
            "s3",
        )))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A Glue client for `endpoint_url` (own retry partition, see [`kinesis_via`]).
pub async fn glue_via(endpoint_url: &str, settings: ClientSettings) -> aws_sdk_glue::Client {
    let conf = aws_sdk_glue::config::Builder::from(&sdk_config_via(endpoint_url, settings).await)
        .retry_partition(aws_sdk_glue::config::retry::RetryPartition::new(
            unique_name("glue"),
        ))
        .build();
    aws_sdk_glue::Client::from_conf(conf)
}

/// batch-to-iceberg as a Lambda instance runs it, every client going to `endpoint_url`.
pub async fn batch_to_iceberg_via(
    config: batch_to_iceberg::Config,
    endpoint_url: &str,
    settings: ClientSettings,
) -> batch_to_iceberg::BatchToIceberg<batch_to_iceberg::catalog::AnyLocation> {
    batch_to_iceberg::BatchToIceberg::from_clients(
        config,
        s3_via(endpoint_url, settings).await,
        glue_via(endpoint_url, settings).await,
        aws_sdk_s3tables::Client::new(&sdk_config_via(endpoint_url, settings).await),
    )
    .expect("batch-to-iceberg")
}

/// What pyiceberg (another Iceberg implementation) reads: `tests/py/iceberg_tool.py ARGS`,
/// whose one JSON document on stdout is returned. `endpoint`: another local stack than
/// `AWS_ENDPOINT_URL`'s, if given.
pub fn pyiceberg(args: &[&str], endpoint: Option<&str>) -> serde_json::Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = format!("{root}/.venv/bin/python");
    let mut command = std::process::Command::new(&python);
    command
        .arg(format!("{root}/tests/py/iceberg_tool.py"))
        .args(args);
    if let Some(url) = endpoint {
        command.env(ENDPOINT_VAR, url);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{python} (make test installs pyiceberg into .venv): {e}"));
    assert!(
        out.status.success(),
        "pyiceberg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from iceberg_tool.py")
}

/// A name no other test uses (tests run in parallel against one stack).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Creates a stream with `shards` shards and waits until it is ACTIVE.
pub async fn create_stream(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("CreateStream on the local stack");
    wait_active(client, name, Duration::from_secs(5)).await;
}

/// Waits until a stream is ACTIVE (after creating or resharding it), at most `limit`.
pub async fn wait_active(client: &aws_sdk_kinesis::Client, name: &str, limit: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let d = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .expect("DescribeStreamSummary");
        if d.stream_description_summary()
            .map(|s| s.stream_status().as_str())
            == Some("ACTIVE")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {name} did not become ACTIVE");
}

/// Every key under a prefix (all pages).
pub async fn object_keys(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListObjectsV2");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys
}

/// One object's body.
pub async fn object_body(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {key}: {e}"))
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

/// Every record in every shard of a stream, read from TRIM_HORIZON, in shard order.
pub async fn read_all(
    client: &aws_sdk_kinesis::Client,
    name: &str,
) -> Vec<aws_sdk_kinesis::types::Record> {
    read_shards(client, name)
        .await
        .into_iter()
        .flat_map(|(_, records)| records)
        .collect()
}

/// Each shard's id and records, read from TRIM_HORIZON, in order.
pub async fn read_shards(
    client: &aws_sdk_kinesis::Client,
    name: &str,
) -> Vec<(String, Vec<aws_sdk_kinesis::types::Record>)> {
    let shards = client
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .expect("ListShards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator
            .expect("a shard iterator");
        let mut records = Vec::new();
        loop {
            let page = client
                .get_records()
                .shard_iterator(&iterator)
                .send()
                .await
                .expect("GetRecords");
            let n = page.records().len();
            records.extend(page.records().iter().cloned());
            match page.next_shard_iterator() {
                Some(next) if n > 0 => iterator = next.to_owned(),
                _ => break,
            }
        }
        out.push((shard.shard_id().to_owned(), records));
    }
    out
}

/// The values of an Int64 column of a Parquet object (every value set).
pub fn parquet_i64_column(body: bytes::Bytes, column: &str) -> Vec<i64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body)
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.expect("a batch");
        let values = batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("column {column}"))
            .as_primitive::<Int64Type>();
        out.extend(values.iter().map(|v| v.expect("the value is set")));
    }
    out
}

/// A Glue database named `prefix_<12 hex>` on the local stack, for a test's tables.
pub async fn create_glue_database(prefix: &str) -> String {
    let database = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    glue_via(&endpoint(), ClientSettings::default())
        .await
        .create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(&database)
                .build()
                .expect("database input"),
        )
        .send()
        .await
        .expect("CreateDatabase on the local stack");
    database
}

/// A minimal HTTP/1.1 POST over loopback (the local function URL of `cargo lambda watch`):
/// returns the status and the body.
pub fn http_post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    assert!(
        host.starts_with("127.0.0.1:"),
        "local tests only talk to loopback, not {host}"
    );
    let mut stream =
        std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(600)))
        .unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut payload = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = &payload[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        payload = out;
    }
    (status, payload)
}

/// A stream's ARN.
pub async fn stream_arn(client: &aws_sdk_kinesis::Client, name: &str) -> String {
    client
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .expect("DescribeStreamSummary")
        .stream_description_summary()
        .expect("a summary")
        .stream_arn()
        .to_owned()
}

/// 56-digit sequence numbers, as AWS issues them (beyond u128): record i's.
pub fn sequence(i: usize) -> String {
    const BASE: &str = "4959033827149025660855969253836157109592157598913658";
    format!("{BASE}{:04}", 1000 + i)
}

/// A Lambda Kinesis event (as JSON, for `serde_json::from_value` into the event crate's
/// type) holding records `range` of one shard; record i carries `data(i)`.
pub fn kinesis_event_json(
    range: std::ops::Range<usize>,
    data: impl Fn(usize) -> String,
) -> serde_json::Value {
    use base64::prelude::*;
    let records: Vec<serde_json::Value> = range
        .map(|i| {
            let seq = sequence(i);
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("pk-{i}"),
                    "sequenceNumber": seq,
                    "data": BASE64_STANDARD.encode(data(i)),
                    "approximateArrivalTimestamp": 1718000000.123,
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/trickle",
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

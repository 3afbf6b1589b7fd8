//! OpenTelemetry into three Iceberg tables, exactly once: the real OpenTelemetry Python SDK
//! exports logs, spans and metric points (`scripts/otel_send.py --capture` keeps its OTLP/HTTP
//! requests as sent), ingest puts them into a 2-shard stream on the local stack, and
//! batch-to-iceberg routes the stream's records by `/signal` to `otel_logs`, `otel_traces`
//! and `otel_metrics` in moto's Glue. pyiceberg then finds every item once in its table,
//! field by field against what the SDK was told to send, after: the two shards' first
//! batches committing at once (racing for all three tables); the real binary killed
//! between two tables' commits and the batch delivered again; a plain retry of a committed
//! batch; and a re-formed batch overlapping what was committed.
//!
//! moto's Glue ignores UpdateTable's `VersionId` (../shared/LOCAL-AWS.md): the fault proxy
//! enforces it, so racing commits conflict as they would on AWS.

use base64::prelude::*;
use batch_to_iceberg::catalog::AnyLocation;
use batch_to_iceberg::{BatchToIceberg, Config};
use ingest::body::HttpInput;
use ingest::sink::sdk::KinesisSink;
use ingest::Ingest;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use trickle_kinesis_batch::{ShardBatch, StreamEvent};
use trickle_tests::fault_proxy::{Fault, FaultProxy, Match, Rule, Schedule};
use trickle_tests::runtime_api::{binary, FunctionProcess};
use trickle_tests::{
    batch_to_iceberg_via, create_bucket, create_glue_database, create_stream, kinesis, pyiceberg,
    unique_name, ClientSettings,
};

const ROUTES: &str = "logs: otel_logs schema otel_logs partition day(timestamp); \
    traces: otel_traces schema otel_traces partition day(timestamp); \
    metrics: otel_metrics schema otel_metrics partition day(timestamp)";
const TABLES: [&str; 3] = ["otel_logs", "otel_traces", "otel_metrics"];

/// What `scripts/otel_send.py --capture` prints: the SDK's requests and what they hold.
fn otel_exports() -> Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = format!("{root}/.venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(format!("{root}/scripts/otel_send.py"))
        .arg("--capture")
        .output()
        .unwrap_or_else(|e| panic!("{python} (make test installs the OTel SDK into .venv): {e}"));
    assert!(
        out.status.success(),
        "otel_send.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("otel_send.py prints JSON")
}

/// Puts every export through ingest into a new 2-shard stream; the stream's batches, one
/// per shard, as Lambda events.
async fn through_ingest(exports: &[Value]) -> (String, Vec<Value>) {
    let client = kinesis().await;
    let stream = unique_name("otel");
    create_stream(&client, &stream, 2).await;
    let config = ingest::config::Config::new(ingest::config::StreamTarget::Name(stream.clone()));
    let ingest = Ingest::new(
        config.clone(),
        KinesisSink::new(client.clone(), config.stream),
    );
    for e in exports {
        let body = BASE64_STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
        let input = HttpInput {
            path: e["path"].as_str().unwrap(),
            content_encoding: e["content_encoding"].as_str(),
            ..HttpInput::post(e["content_type"].as_str().unwrap(), &body)
        };
        let answer = ingest.answer(&input).await;
        assert_eq!(answer.status, 200, "{} {:?}", e["path"], answer.body);
    }
    let shards = client
        .list_shards()
        .stream_name(&stream)
        .send()
        .await
        .expect("ListShards");
    let mut events = Vec::new();
    for shard in shards.shards() {
        let iterator = client
            .get_shard_iterator()
            .stream_name(&stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator");
        let page = client
            .get_records()
            .shard_iterator(iterator.shard_iterator().unwrap())
            .send()
            .await
            .expect("GetRecords");
        let records: Vec<Value> = page
            .records()
            .iter()
            .map(|r| {
                json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key(),
                        "sequenceNumber": r.sequence_number(),
                        "data": BASE64_STANDARD.encode(r.data().as_ref()),
                        "approximateArrivalTimestamp": 1764849600.0,
                    },
                    "eventSource": "aws:kinesis",
                    "eventID": format!("{}:{}", shard.shard_id(), r.sequence_number()),
                    "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"),
                })
            })
            .collect();
        events.push(json!({ "Records": records }));
    }
    (stream, events)
}

/// Records `range` of a Lambda event, as another event.
fn slice(event: &Value, range: std::ops::Range<usize>) -> Value {
    json!({ "Records": event["Records"].as_array().unwrap()[range].to_vec() })
}

fn shard_batch(event: &Value) -> ShardBatch {
    let event: StreamEvent = serde_json::from_value(event.clone()).unwrap();
    ShardBatch::from_event(event).unwrap().unwrap()
}

/// The signals of an event's records.
fn signals(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let data = BASE64_STANDARD
                .decode(r["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            let row: Value = serde_json::from_slice(&data).unwrap();
            row["signal"].as_str().unwrap().to_owned()
        })
        .collect()
}

struct Lake {
    bucket: String,
    database: String,
}

impl Lake {
    async fn new() -> Self {
        let (_, bucket) = create_bucket("otel-lake").await;
        let database = create_glue_database("otel").await;
        Self { bucket, database }
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("ICEBERG_DATABASE", self.database.as_str()),
            ("ICEBERG_ROUTE_POINTER", "/signal"),
            ("ICEBERG_ROUTES", ROUTES),
            (
                "ICEBERG_WAREHOUSE",
                &format!("s3://{}/warehouse", self.bucket),
            ),
            ("ERROR_BUCKET", &self.bucket),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    async fn function(&self, url: &str) -> BatchToIceberg<AnyLocation> {
        let env: BTreeMap<String, String> = self.env().into_iter().collect();
        let config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
        batch_to_iceberg_via(config, url, ClientSettings::default()).await
    }

    /// Table `table`'s rows as pyiceberg reads them (none when it has no snapshot).
    fn rows(&self, table: &str) -> Vec<Value> {
        let dump = pyiceberg(
            &["dump", "--database", &self.database, "--table", table],
            None,
        );
        dump["rows"].as_array().cloned().unwrap_or_default()
    }
}

/// Each row as the fields `fields` (a JSON array, comparable and sortable as text).
fn project(rows: &[Value], fields: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            let picked: Vec<Value> = fields
                .iter()
                .map(|f| match f.split_once('.') {
                    // `attributes.order.id`: a key of a map column.
                    Some((map, key)) if map == "attributes" => r[map][key].clone(),
                    _ => r[*f].clone(),
                })
                .collect();
            Value::from(picked).to_string()
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_from_the_real_sdk_lands_once_in_three_routed_tables_through_races_kills_and_retries()
{
    let captured = otel_exports();
    let sent = &captured["sent"];
    let (_stream, events) = through_ingest(captured["exports"].as_array().unwrap()).await;
    let total: usize = events
        .iter()
        .map(|e| e["Records"].as_array().unwrap().len())
        .sum();
    let items = ["logs", "spans", "metrics"]
        .iter()
        .map(|k| sent[*k].as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(total, items, "one stream record per item");
    // Each shard's first batch ends at its first log record: both commit to otel_logs
    // first (the routes' order), so they race for it. The shard whose rest holds most
    // signals is the one killed between two commits.
    let halves: Vec<(usize, usize)> = events
        .iter()
        .map(|e| {
            let first_log = signals(e).iter().position(|s| s == "logs");
            let first_log = first_log.expect("each shard has a log record (12 random keys)");
            (first_log + 1, e["Records"].as_array().unwrap().len())
        })
        .collect();
    let distinct = |e: &Value, (h, n): (usize, usize)| {
        let mut s = signals(&slice(e, h..n));
        s.sort();
        s.dedup();
        s.len()
    };
    let killed = (0..events.len())
        .max_by_key(|&i| distinct(&events[i], halves[i]))
        .unwrap();
    let other = 1 - killed;
    assert!(
        distinct(&events[killed], halves[killed]) >= 2,
        "a batch with records for two tables or more"
    );

    let lake = Lake::new().await;
    let proxy = FaultProxy::start(vec![]).await;
    proxy.enforce_glue_version_id();

    // 1. Both shards' first batches at once, one instance each: they race for otel_logs
    //    (each commit held a second at Glue, so both read the same version first).
    proxy.set_rules(vec![Rule::new(
        Match::Glue("UpdateTable"),
        Schedule::Always,
        Fault::Slow {
            delay: Duration::from_secs(1),
            processed: true,
        },
    )]);
    let (a, b) = (
        lake.function(proxy.url()).await,
        lake.function(proxy.url()).await,
    );
    let (first_a, first_b) = (
        shard_batch(&slice(&events[0], 0..halves[0].0)),
        shard_batch(&slice(&events[1], 0..halves[1].0)),
    );
    let (sa, sb) = tokio::join!(a.process(&first_a, None), b.process(&first_b, None));
    for s in [&sa, &sb] {
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
    }
    assert!(
        sa.commit_conflicts + sb.commit_conflicts > 0,
        "the shards raced: a commit lost to the other's ({sa:?} {sb:?})"
    );
    assert_eq!(
        sa.commit_conflicts + sb.commit_conflicts,
        proxy.stats().glue_conflicts as usize,
        "every conflict was Glue's answer"
    );

    // 2. The real binary, killed between two tables' commits: the second UpdateTable of its
    //    run is held (never applied) and the process is killed while it waits.
    let second_half = slice(&events[killed], halves[killed].0..halves[killed].1);
    let mut env = lake.env();
    env.push(("AWS_ENDPOINT_URL".into(), proxy.url().to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let held_before = proxy.stats().slow_answers;
    proxy.set_rules(vec![Rule::new(
        Match::Glue("UpdateTable"),
        Schedule::EveryNth {
            n: u64::MAX,
            offset: 1,
        },
        Fault::Slow {
            delay: Duration::from_secs(120),
            processed: false,
        },
    )]);
    let event = serde_json::to_vec(&second_half).unwrap();
    let process = FunctionProcess::start(&binary("batch-to-iceberg"), &env, event.clone()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while proxy.stats().slow_answers == held_before {
        assert!(
            std::time::Instant::now() < deadline,
            "the second commit never reached Glue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process.kill();
    proxy.set_rules(vec![]);
    // Lambda delivers the batch again: every table commits what it lacks.
    let process = FunctionProcess::start(&binary("batch-to-iceberg"), &env, event).await;
    process
        .expect_no_batch_item_failures(Duration::from_secs(60), "the redelivery")
        .await;
    process.kill();

    // 3. A plain retry of that batch: nothing to commit.
    let again = a.process(&shard_batch(&second_half), None).await;
    assert_eq!(
        (
            again.retry_from.clone(),
            again.commit_attempts,
            again.records_skipped
        ),
        (None, 0, second_half["Records"].as_array().unwrap().len()),
        "{again:?}"
    );

    // 4. The other shard, re-formed: from before its first batch's end to its last record.
    let (h, n) = halves[other];
    let reformed = shard_batch(&slice(&events[other], h.saturating_sub(2)..n));
    let s = b.process(&reformed, None).await;
    assert_eq!(s.retry_from, None, "{:?}", s.failure);
    assert_eq!(
        s.rows_committed,
        n - h,
        "only what the first half had not: {s:?}"
    );

    // Every item once, in its table, field by field.
    let logs = lake.rows(TABLES[0]);
    let log_fields = [
        "service_name",
        "severity_text",
        "body",
        "attributes.order.id",
    ];
    assert_eq!(
        project(&logs, &log_fields),
        project(sent["logs"].as_array().unwrap(), &log_fields),
    );
    for row in &logs {
        assert_eq!(row["signal"], "logs");
        assert!(
            row["timestamp"].as_str().unwrap().starts_with("20"),
            "{row}"
        );
    }
    let span_fields = [
        "service_name",
        "name",
        "trace_id",
        "span_id",
        "parent_span_id",
        "duration_ns",
    ];
    assert_eq!(
        project(&lake.rows(TABLES[1]), &span_fields),
        project(sent["spans"].as_array().unwrap(), &span_fields)
    );
    let metrics = lake.rows(TABLES[2]);
    assert_eq!(metrics.len(), sent["metrics"].as_array().unwrap().len());
    for want in sent["metrics"].as_array().unwrap() {
        let found: Vec<&Value> = metrics
            .iter()
            .filter(|r| {
                r["metric_name"] == want["metric_name"]
                    && want.get("attributes").is_none_or(|a| a == &r["attributes"])
            })
            .collect();
        assert_eq!(found.len(), 1, "{want} once in {metrics:?}");
        for field in ["value", "count", "sum"] {
            if let Some(v) = want.get(field) {
                assert_eq!(found[0][field].as_f64(), v.as_f64(), "{field} of {want}");
            }
        }
    }
}

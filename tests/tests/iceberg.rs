//! batch-to-iceberg against the local stack: moto's Glue is the catalog and moto's S3 the
//! warehouse, and every table is read back by pyiceberg (another Iceberg implementation,
//! `tests/py/iceberg_tool.py`), which must find every record exactly once after each of:
//! a plain retry of a committed batch; bisected and re-formed batches with newer records; a
//! crash after the data files were uploaded and before the commit (the real binary, killed);
//! a commit whose answer was lost after Glue applied it; shards committing at once with
//! conflicts; a column added by another writer between batches; a table another writer
//! made; and a soak with faults on S3 and Glue.
//!
//! moto's Glue ignores UpdateTable's `VersionId` (two racing commits would both succeed
//! and one snapshot would be lost: ../shared/LOCAL-AWS.md), so every test that commits
//! through the fault proxy has it enforce Glue's check first
//! (`FaultProxy::enforce_glue_version_id`), and the concurrency test asserts that conflicts
//! did happen and were all Glue's answers.

use batch_to_iceberg::catalog::AnyLocation;
use batch_to_iceberg::{BatchToIceberg, Config};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use trickle_kinesis_batch::{ShardBatch, SourceRecord};
use trickle_tests::fault_proxy::{Fault, FaultProxy, Match, Rule, Schedule};
use trickle_tests::runtime_api::{binary, FunctionProcess};
use trickle_tests::{
    batch_to_iceberg_via, create_bucket, create_glue_database, endpoint, glue_via,
    kinesis_event_json, object_keys, pyiceberg, s3_via, sdk_config_via, sequence, ClientSettings,
};

const SCHEMA: &str = "shard string, n bigint, ts timestamp, user string";
const STREAM: &str = "trickle";

/// One test's bucket, Glue database and table name.
struct Lake {
    bucket: String,
    database: String,
    table: String,
}

fn glue_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

async fn lake() -> Lake {
    let (_, bucket) = create_bucket("iceberg").await;
    let database = create_glue_database("db").await;
    Lake {
        bucket,
        database,
        table: glue_name("events"),
    }
}

impl Lake {
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("ICEBERG_DATABASE".to_owned(), self.database.clone()),
            ("ICEBERG_TABLE".to_owned(), self.table.clone()),
            (
                "ICEBERG_WAREHOUSE".to_owned(),
                format!("s3://{}/warehouse", self.bucket),
            ),
            ("ERROR_BUCKET".to_owned(), self.bucket.clone()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }

    fn config(&self, extra: &[(&str, &str)]) -> Config {
        let env: BTreeMap<String, String> = self.env(extra).into_iter().collect();
        Config::from_lookup(|k| env.get(k).cloned()).expect("config")
    }

    /// The function as a Lambda instance would run it, its clients going to `url`.
    async fn function(
        &self,
        extra: &[(&str, &str)],
        url: &str,
        settings: ClientSettings,
    ) -> BatchToIceberg<AnyLocation> {
        batch_to_iceberg_via(self.config(extra), url, settings).await
    }

    fn table_prefix(&self) -> String {
        format!("warehouse/{}.db/{}/", self.database, self.table)
    }

    fn tool(&self, command: &str, args: &[&str]) -> Value {
        let table = [
            command,
            "--database",
            &self.database,
            "--table",
            &self.table,
        ];
        pyiceberg(&[&table[..], args].concat(), None)
    }

    /// Every row, read by pyiceberg, as (shard, n).
    fn rows(&self) -> (Vec<(String, i64)>, Value) {
        let dump = self.tool("dump", &[]);
        let mut rows: Vec<(String, i64)> = dump["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["shard"].as_str().unwrap_or_default().to_owned(),
                    r["n"].as_i64().expect("n"),
                )
            })
            .collect();
        rows.sort();
        (rows, dump)
    }
}

fn record_json(shard: &str, n: usize) -> String {
    format!(
        r#"{{"shard":"{shard}","n":{n},"ts":"2026-12-01T{:02}:{:02}:00Z","user":"u{}"}}"#,
        10 + n % 3,
        n % 60,
        n % 2
    )
}

/// Records `range` of a shard, as Lambda would send them.
fn batch(shard: &str, range: std::ops::Range<usize>) -> ShardBatch {
    batch_of(shard, range, record_json)
}

fn batch_of(
    shard: &str,
    range: std::ops::Range<usize>,
    data: impl Fn(&str, usize) -> String,
) -> ShardBatch {
    ShardBatch {
        stream_name: STREAM.into(),
        shard_id: shard.into(),
        records: range
            .map(|n| SourceRecord {
                sequence: sequence(n).parse().expect("sequence"),
                sequence_text: sequence(n),
                partition_key: format!("pk-{n}"),
                arrival: Utc.timestamp_millis_opt(1_764_583_200_000).unwrap(),
                data: data(shard, n).into_bytes(),
            })
            .collect(),
    }
}

fn expected(shard: &str, range: std::ops::Range<usize>) -> Vec<(String, i64)> {
    range.map(|n| (shard.to_owned(), n as i64)).collect()
}

fn checkpoints(dump: &Value) -> BTreeMap<String, String> {
    // The newest value of each trickle.* key over the snapshots, in commit order.
    let mut out = BTreeMap::new();
    for s in dump["snapshots"].as_array().expect("snapshots") {
        for (k, v) in s["summary"].as_object().expect("summary") {
            if k.starts_with("trickle.") && k != "trickle.writer" {
                out.insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
            }
        }
    }
    out
}

const SHARD0: &str = "shardId-000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_reads_every_record_once_after_retries_and_reformed_batches() {
    let lake = lake().await;
    let extra = [
        ("SCHEMA", SCHEMA),
        ("ICEBERG_PARTITION_SPEC", "hour(ts), identity(user)"),
    ];
    let f = lake
        .function(&extra, &endpoint(), ClientSettings::default())
        .await;

    let first = f.process(&batch(SHARD0, 0..10), None).await;
    assert_eq!(first.retry_from, None, "{:?}", first.failure);
    assert!(first.table_created);
    // 3 hours x 2 users.
    assert_eq!((first.rows_committed, first.data_files), (10, 6));

    // A plain retry of the committed batch.
    let retry = f.process(&batch(SHARD0, 0..10), None).await;
    assert_eq!((retry.records_skipped, retry.commit_attempts), (10, 0));
    // Re-formed with newer records, then bisected halves of the next ones.
    let reformed = f.process(&batch(SHARD0, 5..15), None).await;
    assert_eq!((reformed.records_skipped, reformed.rows_committed), (5, 5));
    for range in [12..16, 16..20, 12..20] {
        let s = f.process(&batch(SHARD0, range), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
    }

    let (rows, dump) = lake.rows();
    assert_eq!(rows, expected(SHARD0, 0..20));
    let key = format!("trickle.{STREAM}.{SHARD0}");
    assert_eq!(checkpoints(&dump)[&key], sequence(19));
    let appends = dump["snapshots"].as_array().unwrap();
    assert_eq!(appends.len(), 4, "one snapshot per commit: {appends:?}");
    assert!(appends
        .iter()
        .all(|s| s["summary"]["trickle.writer"] == "batch-to-iceberg"));
    let spec: Vec<_> = dump["partition_spec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["source"].as_str().unwrap(),
                p["transform"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(spec, [("ts", "hour"), ("user", "identity")]);
    let types: BTreeMap<_, _> = dump["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(types["ts"], "timestamptz");
    assert_eq!(types["n"], "long");
    let first_row = &dump["rows"].as_array().unwrap()[0];
    assert!(
        first_row["ts"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-01T1"),
        "{first_row}"
    );
}

/// The real binary's run of one batch, with Glue's UpdateTable held by the proxy (answered
/// never, within a test): applied by moto first when `applied`, else never forwarded.
struct HeldCommit {
    proxy: FaultProxy,
    env: Vec<(String, String)>,
    event: Vec<u8>,
}

impl HeldCommit {
    async fn start(lake: &Lake, records: std::ops::Range<usize>, applied: bool) -> Self {
        let proxy = FaultProxy::start(vec![Rule::new(
            Match::Glue("UpdateTable"),
            Schedule::Always,
            Fault::Slow {
                delay: Duration::from_secs(120),
                processed: applied,
            },
        )])
        .await;
        proxy.enforce_glue_version_id();
        let mut env = lake.env(&[("SCHEMA", SCHEMA)]);
        env.push(("AWS_ENDPOINT_URL".into(), proxy.url().to_owned()));
        let event =
            serde_json::to_vec(&kinesis_event_json(records, |i| record_json(SHARD0, i))).unwrap();
        Self { proxy, env, event }
    }

    async fn run(&self) -> FunctionProcess {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        FunctionProcess::start(&binary("batch-to-iceberg"), &env, self.event.clone()).await
    }

    /// Waits until the commit reached Glue and is being held.
    async fn until_held(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.proxy.stats().slow_answers == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the commit never reached Glue"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Lambda delivers the batch again, Glue answering now: the function reports success.
    async fn redeliver(&self) {
        self.proxy.set_rules(vec![]);
        let process = self.run().await;
        process
            .expect_no_batch_item_failures(Duration::from_secs(60), "the redelivery")
            .await;
        process.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_upload_and_commit_leaves_orphans_only_and_the_retry_commits_once() {
    let lake = lake().await;
    // Glue's UpdateTable never answers: the function is killed while it waits.
    let held = HeldCommit::start(&lake, 0..12, false).await;
    let process = held.run().await;
    let s3 = s3_via(&endpoint(), ClientSettings::default()).await;
    let data_prefix = format!("{}data/", lake.table_prefix());
    held.until_held().await;
    let uploaded = object_keys(&s3, &lake.bucket, &data_prefix).await;
    assert!(
        !uploaded.is_empty(),
        "the data files were uploaded before the commit"
    );
    process.kill();

    let (rows, dump) = lake.rows();
    assert!(
        rows.is_empty(),
        "nothing is visible before a commit: {rows:?}"
    );
    assert!(dump["snapshots"].as_array().unwrap().is_empty());
    let orphans = lake.tool("orphans", &["--bucket", &lake.bucket]);
    let orphan_keys: Vec<&str> = orphans["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for key in &uploaded {
        assert!(
            orphan_keys.contains(&key.as_str()),
            "{key} is an orphan a cleanup finds"
        );
    }

    // Lambda retries the batch: this time Glue answers.
    held.redeliver().await;
    let (rows, _) = lake.rows();
    assert_eq!(rows, expected(SHARD0, 0..12));
}

/// The real binary killed after Glue applied its commit and before the answer came back
/// (so before Lambda heard of it): Lambda redelivers the batch, and nothing is appended twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_commit_landed_is_not_committed_again() {
    let lake = lake().await;
    let held = HeldCommit::start(&lake, 0..8, true).await;
    let process = held.run().await;
    held.until_held().await;
    // Glue has applied it: the rows are visible before the function knows.
    let (rows, _) = lake.rows();
    assert_eq!(rows, expected(SHARD0, 0..8));
    process.kill();

    held.redeliver().await;
    let (rows, dump) = lake.rows();
    assert_eq!(rows, expected(SHARD0, 0..8));
    assert_eq!(
        dump["snapshots"].as_array().unwrap().len(),
        1,
        "no second snapshot"
    );
}

/// Glue applies the commit and the answer is lost: the function must find its checkpoint
/// in the table and not commit again, whether the SDK retries the call (Glue then answers
/// the stale VersionId with a conflict) or gives up (the outcome is unknown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_glue_applied_but_never_answered_is_not_made_twice() {
    for max_attempts in [1, 3] {
        let lake = lake().await;
        let proxy = FaultProxy::start(vec![]).await;
        proxy.enforce_glue_version_id();
        let settings = ClientSettings {
            max_attempts,
            attempt_timeout: None,
        };
        let f = lake
            .function(&[("SCHEMA", SCHEMA)], proxy.url(), settings)
            .await;
        let s = f.process(&batch(SHARD0, 0..5), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);

        proxy.set_rules(vec![Rule::new(
            Match::Glue("UpdateTable"),
            Schedule::FirstN(1),
            Fault::Reset { processed: true },
        )]);
        let s = f.process(&batch(SHARD0, 3..9), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!(proxy.stats().resets, 1);
        if max_attempts == 1 {
            assert_eq!((s.commit_unknown, s.commit_conflicts), (1, 0), "{s:?}");
        } else {
            assert_eq!((s.commit_unknown, s.commit_conflicts), (0, 1), "{s:?}");
            assert_eq!(proxy.stats().glue_conflicts, 1);
        }
        assert_eq!(
            s.commit_attempts, 1,
            "the second look found the commit: {s:?}"
        );
        let (rows, _) = lake.rows();
        assert_eq!(rows, expected(SHARD0, 0..9), "max_attempts {max_attempts}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_committing_at_once_conflict_and_lose_or_repeat_nothing() {
    let lake = lake().await;
    let proxy = FaultProxy::start(vec![]).await;
    proxy.enforce_glue_version_id();
    let shards: Vec<String> = (0..4).map(|i| format!("shardId-00000000000{i}")).collect();
    // One function instance per shard, as Lambda runs them.
    let mut functions = Vec::new();
    for _ in &shards {
        functions.push(std::sync::Arc::new(
            lake.function(
                &[("SCHEMA", SCHEMA)],
                proxy.url(),
                ClientSettings::default(),
            )
            .await,
        ));
    }
    let (mut conflicts, rounds) = (0, 4);
    for round in 0..rounds {
        let range = round * 10..round * 10 + 10;
        let runs = shards.iter().zip(&functions).map(|(shard, f)| {
            let (f, b) = (f.clone(), batch(shard, range.clone()));
            async move { f.process(&b, None).await }
        });
        for s in futures_join_all(runs).await {
            assert_eq!(s.retry_from, None, "{:?}", s.failure);
            conflicts += s.commit_conflicts;
        }
    }
    let glue_conflicts = proxy.stats().glue_conflicts as usize;
    assert!(
        conflicts > 0,
        "the shards raced: some commits lost to another's"
    );
    assert_eq!(
        conflicts, glue_conflicts,
        "every conflict was Glue's answer"
    );

    let (rows, dump) = lake.rows();
    let mut want: Vec<_> = shards
        .iter()
        .flat_map(|s| expected(s, 0..rounds * 10))
        .collect();
    want.sort();
    assert_eq!(rows, want);
    let cps = checkpoints(&dump);
    for shard in &shards {
        assert_eq!(
            cps[&format!("trickle.{STREAM}.{shard}")],
            sequence(rounds * 10 - 1)
        );
    }
    assert_eq!(
        dump["snapshots"].as_array().unwrap().len(),
        shards.len() * rounds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_another_writer_adds_is_filled_from_the_next_batch() {
    let lake = lake().await;
    let f = lake
        .function(
            &[("SCHEMA", SCHEMA)],
            &endpoint(),
            ClientSettings::default(),
        )
        .await;
    let with_region =
        |shard: &str, n: usize| format!(r#"{{"shard":"{shard}","n":{n},"region":"eu-{n}"}}"#);
    let s = f.process(&batch_of(SHARD0, 0..3, with_region), None).await;
    assert_eq!((s.rows_committed, s.fields_dropped), (3, 3), "{s:?}");

    lake.tool("add-column", &["--name", "region", "--type", "string"]);
    let s = f.process(&batch_of(SHARD0, 3..6, with_region), None).await;
    assert_eq!((s.rows_committed, s.fields_dropped), (3, 0), "{s:?}");

    let dump = lake.tool("dump", &["--sort-by", "n"]);
    let regions: Vec<Value> = dump["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].clone())
        .collect();
    assert_eq!(
        regions,
        [
            Value::Null,
            Value::Null,
            Value::Null,
            json!("eu-3"),
            json!("eu-4"),
            json!("eu-5")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_another_writer_made_is_the_truth_and_misfits_go_to_the_error_prefix() {
    let lake = lake().await;
    let schema = json!([
        {"name": "id", "type": "long", "required": true},
        {"name": "ts", "type": "timestamptz"},
        {"name": "payload", "type": {"type": "struct", "fields": [{"name": "a", "type": "int"}]}},
        {"name": "tags", "type": {"type": "list", "element": "string"}},
        {"name": "_extra", "type": "string"},
    ])
    .to_string();
    let partition = json!([{"source": "ts", "transform": "day"}]).to_string();
    let location = format!(
        "s3://{}/{}",
        lake.bucket,
        lake.table_prefix().trim_end_matches('/')
    );
    lake.tool(
        "create",
        &[
            "--location",
            &location,
            "--schema",
            &schema,
            "--partition",
            &partition,
        ],
    );
    // Another writer's append first: its snapshot has no trickle checkpoint.
    lake.tool(
        "append",
        &[
            "--rows",
            r#"[{"id": -1, "ts": "2026-11-30T00:00:00+00:00"}]"#,
        ],
    );

    // No SCHEMA: the table's schema rules.
    let f = lake
        .function(
            &[("EXTRA_COLUMN", "_extra")],
            &endpoint(),
            ClientSettings::default(),
        )
        .await;
    let data = |_: &str, n: usize| match n {
        1 => r#"{"ts":"2026-12-01T00:00:00Z"}"#.to_owned(),
        2 => r#"{"id":"two"}"#.to_owned(),
        _ => format!(
            r#"{{"id":{n},"ts":"2026-12-0{}T12:00:00Z","payload":{{"a":{n},"b":true}},"tags":["t{n}"],"more":1}}"#,
            1 + n % 2
        ),
    };
    let s = f.process(&batch_of(SHARD0, 0..5, data), None).await;
    assert_eq!(s.retry_from, None, "{:?}", s.failure);
    assert!(!s.table_created);
    assert_eq!((s.rows_committed, s.records_to_errors), (3, 2), "{s:?}");

    let dump = lake.tool("dump", &["--sort-by", "id"]);
    let ids: Vec<i64> = dump["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [-1, 0, 3, 4]);
    let row3 = &dump["rows"][2];
    assert_eq!(row3["payload"], json!({"a": 3}));
    assert_eq!(row3["tags"], json!(["t3"]));
    let extra: Value = serde_json::from_str(row3["_extra"].as_str().unwrap()).unwrap();
    assert_eq!(extra, json!({"more": 1, "payload": {"b": true}}));
    // Day partitions of the other writer's spec.
    let days: std::collections::BTreeSet<String> = dump["data_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["partition_path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(days.len(), 3, "{days:?}");

    let s3 = s3_via(&endpoint(), ClientSettings::default()).await;
    let errors = object_keys(&s3, &lake.bucket, "iceberg-errors/").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let body = trickle_tests::object_body(&s3, &lake.bucket, &errors[0]).await;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let codes: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["sequenceNumber"].as_str().unwrap().to_owned(),
                l["errorCode"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (sequence(1), "schema-mismatch".to_owned()),
            (sequence(2), "schema-mismatch".to_owned())
        ]
    );
    assert!(
        lines[0]["errorMessage"].as_str().unwrap().contains("id"),
        "{}",
        lines[0]
    );
}

/// Several shards, each delivered the way Lambda does (a failure resumes from the reported
/// record, sometimes bisected), with S3 and Glue failing at random underneath: every record
/// ends up in the table exactly once. `ICEBERG_SOAK_BATCHES` scales it (default 6 batches of
/// 40 records per shard).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_s3_and_glue_faults_loses_and_repeats_nothing() {
    let batches: usize = std::env::var("ICEBERG_SOAK_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let (per_batch, shards) = (40, 3);
    let lake = lake().await;
    let proxy = FaultProxy::start(vec![
        Rule::new(
            Match::s3_put(""),
            Schedule::Percent(8),
            Fault::S3InternalError,
        )
        .seed(1),
        Rule::new(
            Match::S3Object {
                method: "GET",
                path_contains: String::new(),
            },
            Schedule::Percent(5),
            Fault::S3SlowDown,
        )
        .seed(2),
        Rule::new(
            Match::Glue("UpdateTable"),
            Schedule::Percent(15),
            Fault::Reset { processed: true },
        )
        .seed(3),
        Rule::new(
            Match::Glue("UpdateTable"),
            Schedule::Percent(10),
            Fault::Reset { processed: false },
        )
        .seed(4),
        Rule::new(
            Match::Glue("GetTable"),
            Schedule::Percent(5),
            Fault::Reset { processed: true },
        )
        .seed(5),
    ])
    .await;
    proxy.enforce_glue_version_id();
    let settings = ClientSettings {
        max_attempts: 2,
        attempt_timeout: None,
    };
    let total = batches * per_batch;
    let mut runs = Vec::new();
    for i in 0..shards {
        let shard = format!("shardId-00000000000{i}");
        let f = lake
            .function(&[("SCHEMA", SCHEMA)], proxy.url(), settings)
            .await;
        runs.push(async move {
            let (mut from, mut failures, mut rng) = (0, 0, fastrand::Rng::with_seed(i as u64));
            let mut size = per_batch;
            while from < total {
                assert!(failures < 200, "shard {shard} made no progress");
                let to = (from + size).min(total);
                let s = f.process(&batch(&shard, from..to), None).await;
                match s.retry_from {
                    None => {
                        from = to;
                        size = per_batch;
                    }
                    Some(seq) => {
                        failures += 1;
                        from = (from..to)
                            .find(|n| sequence(*n) == seq)
                            .expect("a record of the batch");
                        // BisectBatchOnFunctionError-like: sometimes a smaller batch next.
                        if rng.bool() {
                            size = (size / 2).max(1);
                        }
                    }
                }
            }
            (shard, failures)
        });
    }
    let done = futures_join_all(runs).await;
    let stats = proxy.stats();
    assert!(stats.faults() > 0, "faults were injected: {stats:?}");
    let failures: usize = done.iter().map(|(_, f)| f).sum();
    eprintln!("soak: {shards} shards x {total} records, {} faults injected, {failures} batches retried, {} Glue conflicts", stats.faults(), stats.glue_conflicts);

    let (rows, _) = lake.rows();
    let mut want: Vec<_> = done
        .iter()
        .flat_map(|(s, _)| expected(s, 0..total))
        .collect();
    want.sort();
    assert_eq!(rows.len(), want.len(), "0 lost and 0 duplicated");
    assert_eq!(rows, want);
}

/// `futures::future::join_all` without the dependency: every future on its own task.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// The calls one commit makes, counted at the proxy: the cost figures of docs/reference/batch-to-iceberg.md. A change
/// that adds a call (a metadata re-read, a listing) fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_commit_costs_in_glue_and_s3_calls() {
    let lake = lake().await;
    let proxy = FaultProxy::start(vec![]).await;
    proxy.enforce_glue_version_id();
    let f = lake
        .function(
            &[("SCHEMA", SCHEMA)],
            proxy.url(),
            ClientSettings::default(),
        )
        .await;
    let classify = |calls: &[String]| -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in calls {
            let kind = match c.split_once(' ') {
                None => c.trim_start_matches("AWSGlue.").to_owned(),
                Some((method, path)) => {
                    let file = path.rsplit('/').next().unwrap_or("");
                    let what = if file.ends_with(".parquet") {
                        "data file"
                    } else if file.ends_with(".metadata.json") {
                        "metadata"
                    } else if file.starts_with("snap-") {
                        "manifest list"
                    } else if file.ends_with(".avro") {
                        "manifest"
                    } else {
                        "other"
                    };
                    format!("S3 {method} {what}")
                }
            };
            *out.entry(kind).or_default() += 1;
        }
        out
    };
    let counted = |start: usize| classify(&proxy.requests()[start..]);

    let s = f.process(&batch(SHARD0, 0..10), None).await;
    assert!(s.table_created && s.retry_from.is_none(), "{s:?}");
    let created = counted(0);

    let start = proxy.requests().len();
    let s = f.process(&batch(SHARD0, 10..20), None).await;
    assert_eq!((s.commit_attempts, s.data_files), (1, 1), "{s:?}");
    let append = counted(start);

    // Another writer moves the table: the next commit reads its metadata once.
    lake.tool("append", &["--rows", r#"[{"shard": "other", "n": -1}]"#]);
    let start = proxy.requests().len();
    f.process(&batch(SHARD0, 20..30), None).await;
    let after_other = counted(start);

    eprintln!("first batch (creates the table): {created:?}");
    eprintln!("an append: {append:?}");
    eprintln!("an append after another writer's commit: {after_other:?}");
    let want = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    assert_eq!(
        append,
        want(&[
            ("GetTable", 2),
            ("UpdateTable", 1),
            ("S3 PUT data file", 1),
            ("S3 PUT manifest", 1),
            ("S3 PUT manifest list", 1),
            ("S3 PUT metadata", 1),
            ("S3 GET manifest list", 1),
        ])
    );
    let mut moved = append.clone();
    moved.insert("S3 GET metadata".into(), 1);
    assert_eq!(after_other, moved);
}

/// `ICEBERG_CATALOG=s3tables`: the table's metadata location in S3 Tables (moto checks its
/// `versionToken` itself), the same commit path: creation in a location S3 Tables chooses,
/// a plain retry, a commit whose answer was lost, two shards racing; pyiceberg reads the
/// table from its metadata file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_tables_holds_the_pointer_with_the_same_exactly_once() {
    let url = endpoint();
    let tables =
        aws_sdk_s3tables::Client::new(&sdk_config_via(&url, ClientSettings::default()).await);
    let name = format!("tb-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let arn = tables
        .create_table_bucket()
        .name(&name)
        .send()
        .await
        .expect("CreateTableBucket on the local stack")
        .arn;
    tables
        .create_namespace()
        .table_bucket_arn(&arn)
        .namespace("lake")
        .send()
        .await
        .expect("CreateNamespace");
    let (_, error_bucket) = create_bucket("s3tables-errors").await;
    let env: BTreeMap<&str, &str> = BTreeMap::from([
        ("ICEBERG_CATALOG", "s3tables"),
        ("ICEBERG_TABLE_BUCKET_ARN", arn.as_str()),
        ("ICEBERG_DATABASE", "lake"),
        ("ICEBERG_TABLE", "events"),
        ("ERROR_BUCKET", error_bucket.as_str()),
        ("SCHEMA", SCHEMA),
        ("ICEBERG_PARTITION_SPEC", "identity(shard)"),
    ]);
    let config = || Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("config");
    let proxy = FaultProxy::start(vec![]).await;
    let function = |settings: ClientSettings| {
        let url = proxy.url().to_owned();
        let config = config();
        async move { std::sync::Arc::new(batch_to_iceberg_via(config, &url, settings).await) }
    };
    let once = ClientSettings {
        max_attempts: 1,
        attempt_timeout: None,
    };
    let f = function(once).await;
    let s = f.process(&batch(SHARD0, 0..10), None).await;
    assert_eq!(s.retry_from, None, "{:?}", s.failure);
    assert!(s.table_created);
    assert_eq!(
        f.process(&batch(SHARD0, 0..10), None).await.records_skipped,
        10
    );

    // The metadata location moved, the answer never came.
    proxy.set_rules(vec![Rule::new(
        Match::S3Object {
            method: "PUT",
            path_contains: "metadata-location".into(),
        },
        Schedule::FirstN(1),
        Fault::Reset { processed: true },
    )]);
    let s = f.process(&batch(SHARD0, 5..15), None).await;
    assert_eq!(s.retry_from, None, "{:?}", s.failure);
    assert_eq!(proxy.stats().resets, 1);
    assert_eq!((s.commit_unknown, s.commit_attempts), (1, 1), "{s:?}");
    proxy.set_rules(vec![]);

    // Two shards at once, each its own instance.
    let shard1 = "shardId-000000000001";
    let (a, b) = (
        function(ClientSettings::default()).await,
        function(ClientSettings::default()).await,
    );
    let mut conflicts = 0;
    for round in 0..3 {
        let (b0, b1) = (
            batch(SHARD0, 15 + round * 5..20 + round * 5),
            batch(shard1, round * 5..round * 5 + 5),
        );
        let (a2, b2) = (a.clone(), b.clone());
        let runs = vec![
            tokio::spawn(async move { a2.process(&b0, None).await }),
            tokio::spawn(async move { b2.process(&b1, None).await }),
        ];
        for r in runs {
            let s = r.await.unwrap();
            assert_eq!(s.retry_from, None, "{:?}", s.failure);
            conflicts += s.commit_conflicts;
        }
    }
    eprintln!("s3 tables: {conflicts} conflicts (versionToken) in 3 rounds of 2 shards");

    let location = tables
        .get_table_metadata_location()
        .table_bucket_arn(&arn)
        .namespace("lake")
        .name("events")
        .send()
        .await
        .expect("GetTableMetadataLocation")
        .metadata_location
        .expect("a metadata location");
    let dump = pyiceberg(
        &[
            "dump",
            "--database",
            "lake",
            "--table",
            "events",
            "--metadata-location",
            &location,
        ],
        None,
    );
    let mut rows: Vec<(String, i64)> = dump["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["shard"].as_str().unwrap().to_owned(),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    let mut want = expected(SHARD0, 0..30);
    want.extend(expected(shard1, 0..15));
    want.sort();
    assert_eq!(rows, want);
}

/// A table another engine made (here pyiceberg, then Athena-style DDL through Glue: a
/// description, an owner, parameters of its own, SerDe and formats, and columns that lag
/// behind the Iceberg schema) keeps all of that through batch-to-iceberg's commits: Glue's
/// UpdateTable replaces the whole table (moto's too), so every commit must carry over what it
/// does not own. Glue's columns and location follow the current Iceberg schema and location.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_another_engine_made_keeps_its_glue_definition_through_commits() {
    use aws_sdk_glue::types::{Column, SerDeInfo, TableInput};

    let lake = lake().await;
    let schema = json!([
        {"name": "id", "type": "long", "required": true, "doc": "the order"},
        {"name": "ts", "type": "timestamptz"},
        {"name": "payload", "type": {"type": "struct", "fields": [
            {"name": "a", "type": "int"}, {"name": "b", "type": "string"}]}},
        {"name": "tags", "type": {"type": "list", "element": "string"}},
        {"name": "attrs", "type": {"type": "map", "key": "string", "value": "long"}},
        {"name": "price", "type": "decimal(10,2)"},
        {"name": "day", "type": "date"},
        {"name": "_extra", "type": "string"},
    ])
    .to_string();
    let location = format!(
        "s3://{}/{}",
        lake.bucket,
        lake.table_prefix().trim_end_matches('/')
    );
    lake.tool("create", &["--location", &location, "--schema", &schema]);
    // The Iceberg schema moves on; the Glue columns written below do not know it.
    lake.tool("add-column", &["--name", "region", "--type", "string"]);

    // Another engine's DDL on the Glue table (Athena writes these SerDe and format names
    // for Iceberg tables), keeping the Iceberg parameters.
    let glue = glue_via(&endpoint(), ClientSettings::default()).await;
    let get = || async {
        glue.get_table()
            .database_name(&lake.database)
            .name(&lake.table)
            .send()
            .await
            .expect("GetTable")
            .table
            .expect("a table")
    };
    let made = get().await;
    let mut parameters = made.parameters.clone().unwrap_or_default();
    parameters.insert("created_by".into(), "another engine".into());
    parameters.insert("has_encrypted_data".into(), "false".into());
    let stale_column = Column::builder()
        .name("id")
        .r#type("string")
        .comment("stale")
        .build()
        .unwrap();
    let descriptor = aws_sdk_glue::types::StorageDescriptor::builder()
        .columns(stale_column)
        .location(&location)
        .input_format("org.apache.hadoop.mapred.FileInputFormat")
        .output_format("org.apache.hadoop.mapred.FileOutputFormat")
        .serde_info(
            SerDeInfo::builder()
                .name("iceberg-serde")
                .serialization_library("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
                .parameters("serialization.format", "1")
                .build(),
        )
        .parameters("storage.note", "kept")
        .build();
    glue.update_table()
        .database_name(&lake.database)
        .table_input(
            TableInput::builder()
                .name(&lake.table)
                .description("orders, as the analysts defined them")
                .owner("analytics")
                .retention(30)
                .table_type("EXTERNAL_TABLE")
                .set_parameters(Some(parameters))
                .storage_descriptor(descriptor)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("another engine's UpdateTable");

    let f = lake
        .function(
            &[("EXTRA_COLUMN", "_extra")],
            &endpoint(),
            ClientSettings::default(),
        )
        .await;
    let data = |_: &str, n: usize| {
        format!(
            r#"{{"id":{n},"ts":"2026-12-01T12:00:00Z","payload":{{"a":{n},"b":"x"}},"tags":["t{n}"],"region":"eu"}}"#
        )
    };
    let mut before_last = String::new();
    for round in 0..3 {
        before_last = get().await.parameters.unwrap_or_default()["metadata_location"].clone();
        let s = f
            .process(&batch_of(SHARD0, round * 3..round * 3 + 3, data), None)
            .await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!(s.rows_committed, 3, "{s:?}");
    }

    let t = get().await;
    assert_eq!(
        t.description.as_deref(),
        Some("orders, as the analysts defined them")
    );
    assert_eq!(t.owner.as_deref(), Some("analytics"));
    assert_eq!(t.retention, 30);
    assert_eq!(t.table_type.as_deref(), Some("EXTERNAL_TABLE"));
    let p = t.parameters.clone().unwrap_or_default();
    assert_eq!(p["created_by"], "another engine");
    assert_eq!(p["has_encrypted_data"], "false");
    assert!(p["table_type"].eq_ignore_ascii_case("ICEBERG"), "{p:?}");
    assert_eq!(p["previous_metadata_location"], before_last);
    assert_ne!(p["metadata_location"], before_last);
    assert!(p["metadata_location"].starts_with(&format!("{location}/metadata/")));

    let sd = t.storage_descriptor.clone().expect("a storage descriptor");
    assert_eq!(sd.location.as_deref(), Some(location.as_str()));
    assert_eq!(
        sd.input_format.as_deref(),
        Some("org.apache.hadoop.mapred.FileInputFormat")
    );
    assert_eq!(
        sd.output_format.as_deref(),
        Some("org.apache.hadoop.mapred.FileOutputFormat")
    );
    let serde = sd.serde_info.clone().expect("SerDe info");
    assert_eq!(serde.name.as_deref(), Some("iceberg-serde"));
    assert_eq!(
        serde.serialization_library.as_deref(),
        Some("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
    );
    assert_eq!(
        serde.parameters.unwrap_or_default()["serialization.format"],
        "1"
    );
    assert_eq!(
        sd.parameters.clone().unwrap_or_default()["storage.note"],
        "kept"
    );

    // Glue's columns are the current Iceberg schema's, in Glue's type names.
    let columns: Vec<(&str, &str)> = sd
        .columns()
        .iter()
        .map(|c| (c.name.as_str(), c.r#type.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        columns,
        [
            ("id", "bigint"),
            ("ts", "timestamp"),
            ("payload", "struct<a:int,b:string>"),
            ("tags", "array<string>"),
            ("attrs", "map<string,bigint>"),
            ("price", "decimal(10,2)"),
            ("day", "date"),
            ("_extra", "string"),
            ("region", "string"),
        ]
    );
    let id = &sd.columns()[0];
    assert_eq!(id.comment.as_deref(), Some("the order"));
    let id_parameters = id.parameters.clone().unwrap_or_default();
    assert_eq!(id_parameters["iceberg.field.id"], "1");
    assert_eq!(id_parameters["iceberg.field.optional"], "false");

    let dump = lake.tool("dump", &[]);
    assert_eq!(dump["rows"].as_array().expect("rows").len(), 9);
}

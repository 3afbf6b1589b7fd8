//! Resharding through the event source mapping's stand-in (`local_pipeline::runner`), with
//! batch-to-s3 called in-process (no `cargo lambda watch`): a 2-shard stream grows to 4
//! shards (UpdateShardCount: two splits) and shrinks back to 2 (two merges) while records of
//! 40 partition keys are written and the pipeline reads. Every record must land in S3 exactly
//! once, and each key's records in order across parent and child shards; the order is read
//! from the objects (metadata `shard-id`, `first-sequence-number`, `last-sequence-number`)
//! and the shards' lineage, and the invocation log shows no child batch before its parents'
//! last one.
//!
//! moto 5.2 does not reshard as AWS does: it routes every write to the first shard whose hash
//! range holds the key, closed or not, so the closed parents keep taking records and children
//! never get one; a closed shard never ends in GetRecords (always a `NextShardIterator`, no
//! `ChildShards`); SplitShard re-puts the parent's records into the parent (numbered again
//! from 1) and MergeShards copies both parents' records into the child. So the scenario runs
//! twice:
//! - `..._on_moto`: against the shared stack as it is. It shows that the stand-in copes
//!   (nothing lost or doubled, and the run ends although closed shards never end) but not
//!   the lineage: every record stays in the two first shards.
//! - `..._as_aws_reshards`: against a moto server this test starts on a free loopback port,
//!   patched (`AWS_RESHARDING_PATCH`) to reshard as AWS documents it: only open shards take
//!   writes, a split or merge leaves the parents' records where they are, and a closed shard
//!   read to its end answers without `NextShardIterator` and with its `ChildShards`. There the
//!   children hold records and the order across the lineage is really tested.
//!
//! Run: `source .local/stack.env && cargo test -p trickle-tests --test resharding`.

use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ScalingType};
use batch_to_iceberg::catalog::AnyLocation;
use batch_to_iceberg::BatchToIceberg;
use batch_to_s3::event::{response, ShardBatch, StreamEvent};
use batch_to_s3::store::sdk::S3Store;
use batch_to_s3::BatchToS3;
use firehose_transform::event::FirehoseEvent;
use firehose_transform::sink::memory::MemoryReingestSink;
use firehose_transform::FirehoseTransform;
use local_pipeline::invoke::{InvokeError, Invoker};
use local_pipeline::lineage::ShardNode;
use local_pipeline::runner::{Path, Pipeline, Report};
use local_pipeline::settings::Settings;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use trickle_shared::SequenceNumber;
use trickle_tests::fault_proxy::FaultProxy;
use trickle_tests::{
    batch_to_s3_config, create_stream, kinesis_via, s3_via, unique_name, ClientSettings,
};

/// Partition keys written, and records per key in each of the three phases (2, 4, 2 shards).
const KEYS: usize = 40;
const PER_PHASE: usize = 5;
const PHASES: usize = 3;
/// Small batches, so each shard is delivered in several invocations.
const BATCH_SIZE: usize = 10;
const DATA_PREFIX: &str = "data/";

/// batch-to-s3 and firehose-transform in-process behind the stand-in's `Invoker`, logging the
/// shard of each batch-to-s3 batch.
struct InProcess {
    batch_to_s3: BatchToS3<S3Store>,
    transform: FirehoseTransform<MemoryReingestSink>,
    /// The shard of every batch-to-s3 invocation, in the order they were made.
    calls: Mutex<Vec<String>>,
    /// batch-to-iceberg, for a run of the Iceberg path over the same stream: one instance
    /// per shard, made on the shard's first batch, as Lambda runs one per concurrent shard.
    iceberg: Option<IcebergInstances>,
    /// The shard of every batch-to-iceberg invocation, in order.
    iceberg_calls: Mutex<Vec<String>>,
}

impl Invoker for InProcess {
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        let failed = |payload: String| InvokeError::Function {
            function: function.to_owned(),
            kind: "Unhandled".into(),
            payload,
        };
        match function {
            "batch-to-s3" => {}
            "batch-to-iceberg" => {
                let instances = self
                    .iceberg
                    .as_ref()
                    .ok_or_else(|| failed("no batch-to-iceberg in this run".into()))?;
                let event: StreamEvent =
                    serde_json::from_value(event.clone()).map_err(|e| failed(e.to_string()))?;
                let batch = ShardBatch::from_event(event)
                    .map_err(|e| failed(e.to_string()))?
                    .ok_or_else(|| failed("an empty event".into()))?;
                let f = instances.for_shard(&batch.shard_id);
                self.iceberg_calls
                    .lock()
                    .unwrap()
                    .push(batch.shard_id.clone());
                let s = f.process(&batch, None).await;
                return serde_json::to_value(response(s.retry_from.as_deref()))
                    .map_err(|e| failed(e.to_string()));
            }
            "firehose-transform" => {
                let event: FirehoseEvent =
                    serde_json::from_value(event.clone()).map_err(|e| failed(e.to_string()))?;
                let (answer, _) = self.transform.process(&event).await;
                return serde_json::to_value(answer).map_err(|e| failed(e.to_string()));
            }
            other => return Err(failed(format!("no in-process function {other}"))),
        }
        let event: StreamEvent =
            serde_json::from_value(event.clone()).map_err(|e| failed(e.to_string()))?;
        let shard = event
            .records
            .first()
            .and_then(|r| r.event_id.as_deref())
            .and_then(|id| id.split_once(':'))
            .map(|(shard, _)| shard.to_owned())
            .unwrap_or_default();
        self.calls.lock().unwrap().push(shard);
        let outcome = self
            .batch_to_s3
            .process(event, None)
            .await
            .map_err(|e| failed(e.to_string()))?;
        serde_json::to_value(response(outcome.retry_from.as_deref()))
            .map_err(|e| failed(e.to_string()))
    }
}

/// batch-to-iceberg instances, one per shard, with the clients they share.
struct IcebergInstances {
    config: batch_to_iceberg::Config,
    s3: aws_sdk_s3::Client,
    glue: aws_sdk_glue::Client,
    s3tables: aws_sdk_s3tables::Client,
    by_shard: Mutex<BTreeMap<String, std::sync::Arc<BatchToIceberg<AnyLocation>>>>,
}

impl IcebergInstances {
    fn for_shard(&self, shard: &str) -> std::sync::Arc<BatchToIceberg<AnyLocation>> {
        self.by_shard
            .lock()
            .unwrap()
            .entry(shard.to_owned())
            .or_insert_with(|| {
                std::sync::Arc::new(
                    BatchToIceberg::from_clients(
                        self.config.clone(),
                        self.s3.clone(),
                        self.glue.clone(),
                        self.s3tables.clone(),
                    )
                    .expect("batch-to-iceberg"),
                )
            })
            .clone()
    }
}

/// A moto server on a free loopback port with AWS's resharding (see the module comment),
/// stopped (by its pid) when dropped.
struct AwsReshardingMoto {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

/// Applied to moto 5.2's Kinesis model before its server starts. Each replaced function keeps
/// moto's signature; the asserts make a moto that changed them fail here, loudly.
const AWS_RESHARDING_PATCH: &str = r#"
import sys
import moto.kinesis.models as models
import moto.kinesis.responses as responses
from moto.core.responses import ActionResult
from moto.kinesis.exceptions import InvalidArgumentError
from moto.kinesis.utils import decompose_shard_iterator
from moto.utilities.utils import md5_hash

Stream, Shard = models.Stream, models.Shard
for name in ("get_shard_for_key", "split_shard", "merge_shards"):
    assert hasattr(Stream, name), f"moto changed: Stream.{name} is gone"
assert hasattr(responses.KinesisResponse, "get_records"), "moto changed: get_records"

def get_shard_for_key(self, partition_key, explicit_hash_key):
    # AWS: only open shards take writes; a hash key range includes its ending key.
    if explicit_hash_key:
        key = int(explicit_hash_key)
        if key >= 2**128:
            raise InvalidArgumentError("explicit_hash_key")
    else:
        if not isinstance(partition_key, str) or len(partition_key) > 256:
            raise InvalidArgumentError("partition_key")
        key = int(md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    for shard in self.shards.values():
        if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
            return shard
    return None

def next_index(self):
    return max(s._shard_id for s in self.shards.values()) + 1

def split_shard(self, shard_to_split, new_starting_hash_key):
    # AWS: the parent is closed and keeps its records; the children start empty.
    new = int(new_starting_hash_key)
    parent = self.shards[shard_to_split]
    if not parent.is_open:
        raise InvalidArgumentError(f"Shard {shard_to_split} has already been merged or split")
    if not parent.starting_hash < new <= parent.ending_hash:
        raise InvalidArgumentError(f"NewStartingHashKey {new} is outside {shard_to_split}")
    i = next_index(self)
    for j, (lo, hi) in enumerate(((parent.starting_hash, new - 1), (new, parent.ending_hash))):
        child = Shard(i + j, lo, hi, parent=parent.shard_id)
        self.shards[child.shard_id] = child
    parent.is_open = False

def merge_shards(self, shard_to_merge, adjacent_shard_to_merge):
    # AWS: both parents are closed and keep their records; the child starts empty.
    a, b = self.shards[shard_to_merge], self.shards[adjacent_shard_to_merge]
    if not (a.is_open and b.is_open):
        raise InvalidArgumentError("a shard to merge is closed")
    if a.ending_hash + 1 == b.starting_hash:
        lo, hi = a.starting_hash, b.ending_hash
    elif b.ending_hash + 1 == a.starting_hash:
        lo, hi = b.starting_hash, a.ending_hash
    else:
        raise InvalidArgumentError(f"{shard_to_merge} and {adjacent_shard_to_merge} are not adjacent")
    child = Shard(next_index(self), lo, hi, parent=a.shard_id, adjacent_parent=b.shard_id)
    self.shards[child.shard_id] = child
    a.is_open = b.is_open = False

def get_records(self):
    # AWS: at the end of a closed shard, no NextShardIterator, and the ChildShards.
    stream_arn = self._get_param("StreamARN")
    iterator = self._get_param("ShardIterator")
    nxt, records, behind = self.kinesis_backend.get_records(
        stream_arn, iterator, self._get_param("Limit"))
    stream_name, shard_id, _ = decompose_shard_iterator(iterator)
    stream = self.kinesis_backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    shard = stream.get_shard(shard_id)
    out = {"Records": [r.to_json() for r in records], "MillisBehindLatest": behind,
           "NextShardIterator": nxt}
    position = int(decompose_shard_iterator(nxt)[2])
    if not shard.is_open and position >= shard.get_max_sequence_number():
        del out["NextShardIterator"]
        out["ChildShards"] = [
            {"ShardId": c.shard_id,
             "ParentShards": [p for p in (c.parent, c.adjacent_parent) if p],
             "HashKeyRange": {"StartingHashKey": str(c.starting_hash),
                              "EndingHashKey": str(c.ending_hash)}}
            for c in stream.shards.values() if shard_id in (c.parent, c.adjacent_parent)]
    return ActionResult(out)

Stream.get_shard_for_key = get_shard_for_key
Stream.split_shard = split_shard
Stream.merge_shards = merge_shards
responses.KinesisResponse.get_records = get_records

from moto.server import main
main(sys.argv[1:])
"#;

impl AwsReshardingMoto {
    /// Starts it with the project's Python (`$VENV`, else `.venv`, which `scripts/setup.sh`
    /// makes) and waits until it answers.
    fn start() -> Self {
        let venv = std::env::var("VENV")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv").to_owned());
        let python = std::path::Path::new(&venv).join("bin/python");
        assert!(
            python.exists(),
            "{} is missing: the resharding test starts its own moto with the project's venv; run scripts/setup.sh",
            python.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = std::env::temp_dir().join(format!("moto-aws-resharding-{port}.log"));
        let out = std::fs::File::create(&log).expect("moto's log file");
        let child = Command::new(&python)
            .args(["-c", AWS_RESHARDING_PATCH, "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
        let mut moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "the patched moto exited ({status}); see {}",
                    moto.log.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the patched moto did not answer in 20 s; see {}",
                moto.log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }
}

impl Drop for AwsReshardingMoto {
    fn drop(&mut self) {
        // Only the process this test started, by its pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One record of the scenario.
fn record(key: usize, i: usize) -> (String, usize) {
    (format!("key-{key:02}"), i)
}

/// One PutRecords of record `i` of every key. A key's records are in separate, sequential
/// calls: within one PutRecords call AWS does not promise the order of records.
async fn put_round(kinesis: &aws_sdk_kinesis::Client, stream: &str, i: usize) {
    let entries: Vec<PutRecordsRequestEntry> = (0..KEYS)
        .map(|k| {
            let (key, i) = record(k, i);
            PutRecordsRequestEntry::builder()
                .partition_key(&key)
                .data(
                    serde_json::json!({"k": key, "i": i})
                        .to_string()
                        .into_bytes()
                        .into(),
                )
                .build()
                .expect("an entry")
        })
        .collect();
    let out = kinesis
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send()
        .await
        .expect("PutRecords");
    assert_eq!(out.failed_record_count(), Some(0), "moto never throttles");
}

async fn update_shard_count(kinesis: &aws_sdk_kinesis::Client, stream: &str, target: i32) {
    kinesis
        .update_shard_count()
        .stream_name(stream)
        .target_shard_count(target)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .expect("UpdateShardCount");
    // AWS is UPDATING for a while (writes still go to the old shards); moto is ACTIVE at once.
    trickle_tests::wait_active(kinesis, stream, Duration::from_secs(60)).await;
}

/// Writes the three phases while resharding 2 -> 4 -> 2.
async fn write_and_reshard(kinesis: &aws_sdk_kinesis::Client, stream: &str) {
    let pause = Duration::from_millis(40);
    for i in 0..PER_PHASE {
        put_round(kinesis, stream, i).await;
        tokio::time::sleep(pause).await;
    }
    // At once, while the parents still have records the pipeline has not read.
    update_shard_count(kinesis, stream, 4).await;
    for i in PER_PHASE..2 * PER_PHASE {
        put_round(kinesis, stream, i).await;
        tokio::time::sleep(pause).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    update_shard_count(kinesis, stream, 2).await;
    for i in 2 * PER_PHASE..PHASES * PER_PHASE {
        put_round(kinesis, stream, i).await;
        tokio::time::sleep(pause).await;
    }
}

/// A data object as batch-to-s3 wrote it.
#[derive(Debug)]
struct DataObject {
    key: String,
    shard: String,
    first: SequenceNumber,
    last: SequenceNumber,
    records: Vec<(String, usize)>,
}

async fn data_objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<DataObject> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(DATA_PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.expect("ListObjectsV2").contents() {
            let key = o.key().expect("a key").to_owned();
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .expect("GetObject");
            assert_eq!(got.content_encoding(), Some("gzip"), "{key}");
            let meta = got.metadata().cloned().unwrap_or_default();
            let seq = |name: &str| -> SequenceNumber {
                meta.get(name)
                    .unwrap_or_else(|| panic!("{key} has no {name} metadata"))
                    .parse()
                    .expect("a sequence number")
            };
            let (first, last) = (seq("first-sequence-number"), seq("last-sequence-number"));
            let shard = meta.get("shard-id").expect("shard-id metadata").clone();
            let body = got.body.collect().await.expect("body").into_bytes();
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .expect("gzip");
            let records = text
                .lines()
                .map(|l| {
                    let v: Value = serde_json::from_str(l).expect("a JSON line");
                    (
                        v["k"].as_str().expect("k").to_owned(),
                        v["i"].as_u64().expect("i") as usize,
                    )
                })
                .collect();
            out.push(DataObject {
                key,
                shard,
                first,
                last,
                records,
            });
        }
    }
    out
}

/// Each shard's generation: 0 for a shard of the stream's creation, else one more than its
/// oldest-to-newest parent. A key's records move from a shard to one of its children, so
/// along a key's shards the generation grows.
fn generations(shards: &[ShardNode]) -> BTreeMap<String, usize> {
    let parents: BTreeMap<&str, &[String]> = shards
        .iter()
        .map(|s| (s.id.as_str(), s.parents.as_slice()))
        .collect();
    fn gen(id: &str, parents: &BTreeMap<&str, &[String]>, depth: usize) -> usize {
        assert!(depth < 64, "a lineage cycle at {id}");
        parents
            .get(id)
            .map(|ps| {
                ps.iter()
                    .map(|p| gen(p, parents, depth + 1) + 1)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }
    shards
        .iter()
        .map(|s| (s.id.clone(), gen(&s.id, &parents, 0)))
        .collect()
}

/// What a run of the scenario left, for the assertions.
struct Run {
    /// Also for a second path over the same stream.
    pipeline: Pipeline<InProcess>,
    report: Report,
    shards: Vec<ShardNode>,
    objects: Vec<DataObject>,
    calls: Vec<String>,
    elapsed: Duration,
}

async fn run_scenario(kinesis: aws_sdk_kinesis::Client, s3: aws_sdk_s3::Client) -> Run {
    let started = Instant::now();
    let stream = unique_name("reshard");
    let bucket = unique_name("reshard");
    create_stream(&kinesis, &stream, 2).await;
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
            .expect("template.yaml");
    let mut settings = Settings::from_template(&template).expect("settings");
    settings.batch_size = BATCH_SIZE;
    settings.batching_window = Duration::ZERO;
    let pipeline = Pipeline {
        kinesis: kinesis.clone(),
        s3: s3.clone(),
        lambda: InProcess {
            transform: FirehoseTransform::new(Default::default(), MemoryReingestSink::new()),
            batch_to_s3: BatchToS3::new(
                batch_to_s3_config(&bucket, &[("PREFIX", DATA_PREFIX)]),
                S3Store::new(s3.clone(), &bucket),
            ),
            calls: Mutex::new(Vec::new()),
            iceberg: None,
            iceberg_calls: Mutex::new(Vec::new()),
        },
        stream: stream.clone(),
        bucket: bucket.clone(),
        delivery_stream: format!("{stream}-delivery"),
        region: "us-east-1".into(),
        settings,
        batch_function: "batch-to-s3".into(),
        transform_function: "firehose-transform".into(),
        on_failure_file: std::env::temp_dir().join(format!("{stream}-on-failure.jsonl")),
        inject_batch_function_errors: 0.into(),
    };
    let (done, written) = tokio::sync::oneshot::channel::<()>();
    let (report, ()) = tokio::join!(
        pipeline.run_until(Path::BatchToS3, async {
            let _ = written.await;
        }),
        async {
            write_and_reshard(&kinesis, &stream).await;
            let _ = done.send(());
        }
    );
    let report = report.expect("the pipeline runs");
    let shards = pipeline.list_shards().await.expect("ListShards");
    let objects = data_objects(&s3, &bucket).await;
    let calls = pipeline.lambda.calls.lock().unwrap().clone();
    Run {
        pipeline,
        report,
        shards,
        objects,
        calls,
        elapsed: started.elapsed(),
    }
}

/// What holds on AWS, and so on moto and on the patched moto alike.
fn assert_exactly_once_and_in_order(run: &Run) {
    let r = &run.report;
    let total = KEYS * PER_PHASE * PHASES;
    assert_eq!(r.records_read, total, "{r:?}");
    assert_eq!(r.on_failure_records, 0, "{r:?}");
    assert_eq!(r.batch_retries, 0, "{r:?}");

    // Exactly once.
    let mut count: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for o in &run.objects {
        for rec in &o.records {
            *count.entry(rec.clone()).or_default() += 1;
        }
    }
    let expected: BTreeSet<(String, usize)> = (0..KEYS)
        .flat_map(|k| (0..PER_PHASE * PHASES).map(move |i| record(k, i)))
        .collect();
    let doubled: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|r| !count.contains_key(*r))
        .collect();
    assert!(doubled.is_empty(), "stored more than once: {doubled:?}");
    assert!(missing.is_empty(), "never stored: {missing:?}");
    assert_eq!(count.len(), total, "only the records written");

    // In order: shards by generation (parents before children), a shard's objects by their
    // sequence range, which must not overlap; records as the objects hold them.
    let generation = generations(&run.shards);
    let mut objects: Vec<&DataObject> = run.objects.iter().collect();
    objects.sort_by(|a, b| {
        (generation.get(&a.shard), &a.shard, &a.first).cmp(&(
            generation.get(&b.shard),
            &b.shard,
            &b.first,
        ))
    });
    for pair in objects.windows(2) {
        if pair[0].shard == pair[1].shard {
            assert!(
                pair[0].last < pair[1].first,
                "overlapping objects {} and {}",
                pair[0].key,
                pair[1].key
            );
        }
    }
    let mut per_key: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for o in &objects {
        assert!(
            generation.contains_key(&o.shard),
            "{} names an unlisted shard",
            o.key
        );
        for (k, i) in &o.records {
            per_key.entry(k).or_default().push((*i, &o.shard));
        }
    }
    for (k, seen) in &per_key {
        let is: Vec<usize> = seen.iter().map(|(i, _)| *i).collect();
        assert!(
            is.windows(2).all(|w| w[0] < w[1]),
            "{k} out of order across its shards: {seen:?}"
        );
    }

    // No batch of a child before the last batch of each of its parents.
    let position = |shard: &str| -> Option<(usize, usize)> {
        let at: Vec<usize> = run
            .calls
            .iter()
            .enumerate()
            .filter(|(_, s)| *s == shard)
            .map(|(n, _)| n)
            .collect();
        Some((*at.first()?, *at.last()?))
    };
    for s in &run.shards {
        let Some((child_first, _)) = position(&s.id) else {
            continue;
        };
        for p in &s.parents {
            if let Some((_, parent_last)) = position(p) {
                assert!(
                    parent_last < child_first,
                    "{} was invoked (call {child_first}) before {p}'s last batch (call {parent_last})",
                    s.id
                );
            }
        }
    }
}

#[tokio::test]
async fn resharding_keeps_records_once_and_in_order_on_moto() {
    let url = trickle_tests::endpoint();
    let settings = ClientSettings::default();
    let run = run_scenario(
        kinesis_via(&url, settings).await,
        s3_via(&url, settings).await,
    )
    .await;
    eprintln!(
        "moto as it is: {:?}, {} objects, {} invocations, shards holding data: {:?}, in {:?}",
        run.report,
        run.objects.len(),
        run.calls.len(),
        run.objects
            .iter()
            .map(|o| o.shard.as_str())
            .collect::<BTreeSet<_>>(),
        run.elapsed
    );
    assert_eq!(run.shards.len(), 8, "2, split into 4, merged into 2");
    assert_exactly_once_and_in_order(&run);
}

#[tokio::test]
async fn resharding_keeps_records_once_and_in_order_as_aws_reshards() {
    let moto = AwsReshardingMoto::start();
    let settings = ClientSettings::default();
    let mut run = run_scenario(
        kinesis_via(&moto.url, settings).await,
        s3_via(&moto.url, settings).await,
    )
    .await;
    eprintln!(
        "moto resharding as AWS: {:?}, {} objects, {} invocations, in {:?}",
        run.report,
        run.objects.len(),
        run.calls.len(),
        run.elapsed
    );
    assert_exactly_once_and_in_order(&run);

    // The lineage was really exercised: every shard held records and was read to its end or,
    // for the two open ones, up to its newest record; a key's records span three generations.
    let generation = generations(&run.shards);
    assert_eq!(run.shards.len(), 8, "2, split into 4, merged into 2");
    assert_eq!(run.report.shards_read, 8, "{:?}", run.report);
    assert_eq!(run.report.shards_ended, 6, "{:?}", run.report);
    assert!(run.report.shards_blocked.is_empty(), "{:?}", run.report);
    let with_data: BTreeSet<&str> = run.objects.iter().map(|o| o.shard.as_str()).collect();
    for s in &run.shards {
        assert!(
            with_data.contains(s.id.as_str()),
            "{} holds no records",
            s.id
        );
    }
    let merged: Vec<&ShardNode> = run.shards.iter().filter(|s| s.parents.len() == 2).collect();
    assert_eq!(merged.len(), 2, "two merges: {:?}", run.shards);
    let key = "key-00";
    let generations_of_key: BTreeSet<usize> = run
        .objects
        .iter()
        .filter(|o| o.records.iter().any(|(k, _)| k == key))
        .map(|o| generation[&o.shard])
        .collect();
    assert_eq!(
        generations_of_key,
        BTreeSet::from([0, 1, 2]),
        "{key} in a first shard, a split child and a merged child"
    );

    // Firehose over the same resharded stream: its readers share the buffers; every record
    // is delivered once (Firehose promises no order).
    let firehose = run
        .pipeline
        .drain(Path::Firehose)
        .await
        .expect("the Firehose path runs");
    assert_eq!(firehose.shards_read, 8, "{firehose:?}");
    assert_eq!(firehose.shards_ended, 6, "{firehose:?}");
    assert_eq!(
        firehose.firehose_delivered,
        KEYS * PER_PHASE * PHASES,
        "{firehose:?}"
    );
    let mut delivered: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for o in local_pipeline::show::objects(&run.pipeline.s3, &run.pipeline.bucket, "firehose/")
        .await
        .expect("Firehose objects")
    {
        for line in o.lines {
            let v: Value = serde_json::from_str(&line).expect("a JSON line");
            let rec = (
                v["k"].as_str().expect("k").to_owned(),
                v["i"].as_u64().expect("i") as usize,
            );
            *delivered.entry(rec).or_default() += 1;
        }
    }
    assert_eq!(delivered.len(), KEYS * PER_PHASE * PHASES);
    assert!(delivered.values().all(|n| *n == 1), "delivered once each");

    // batch-to-iceberg over the same resharded stream, one table for all eight shards: every
    // record once (pyiceberg reads it), every shard's checkpoint in the table, and no child
    // committed before its parents were done.
    iceberg_over_the_resharded_stream(&mut run, &moto.url).await;
    drop(moto);
}

async fn iceberg_over_the_resharded_stream(run: &mut Run, moto_url: &str) {
    // Glue's VersionId check in front of this moto too (moto ignores it): the shards commit
    // to one table at once.
    let proxy = FaultProxy::start_in_front_of(moto_url, vec![]).await;
    proxy.enforce_glue_version_id();
    let url = proxy.url();
    let settings = ClientSettings::default();
    let sdk = trickle_tests::sdk_config_via(url, settings).await;
    let glue = trickle_tests::glue_via(url, settings).await;
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name("reshard")
                .build()
                .expect("database input"),
        )
        .send()
        .await
        .expect("CreateDatabase");
    let bucket = run.pipeline.bucket.clone();
    let pairs = [
        ("ICEBERG_DATABASE", "reshard"),
        ("ICEBERG_TABLE", "events"),
        ("ICEBERG_WAREHOUSE", &format!("s3://{bucket}/iceberg")),
        ("ERROR_BUCKET", &bucket),
        ("SCHEMA", "k string, i bigint"),
    ];
    let config = batch_to_iceberg::Config::from_lookup(trickle_shared::config::map_lookup(&pairs))
        .expect("config");
    run.pipeline.lambda.iceberg = Some(IcebergInstances {
        config,
        s3: s3_via(url, settings).await,
        glue,
        s3tables: aws_sdk_s3tables::Client::new(&sdk),
        by_shard: Mutex::new(BTreeMap::new()),
    });
    run.pipeline.batch_function = "batch-to-iceberg".into();
    let report = run
        .pipeline
        .drain(Path::BatchToS3)
        .await
        .expect("the Iceberg path runs");
    let total = KEYS * PER_PHASE * PHASES;
    assert_eq!(report.records_read, total, "{report:?}");
    assert_eq!(
        (report.batch_retries, report.on_failure_records),
        (0, 0),
        "{report:?}"
    );

    let dump = trickle_tests::pyiceberg(
        &["dump", "--database", "reshard", "--table", "events"],
        Some(moto_url),
    );
    let mut count: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for r in dump["rows"].as_array().expect("rows") {
        let rec = (
            r["k"].as_str().expect("k").to_owned(),
            r["i"].as_u64().expect("i") as usize,
        );
        *count.entry(rec).or_default() += 1;
    }
    assert_eq!(count.len(), total, "every record");
    assert!(count.values().all(|n| *n == 1), "each once");
    let mut keys = BTreeSet::new();
    for s in dump["snapshots"].as_array().expect("snapshots") {
        for k in s["summary"].as_object().expect("summary").keys() {
            if let Some(shard) = k.strip_prefix(&format!("trickle.{}.", run.pipeline.stream)) {
                keys.insert(shard.to_owned());
            }
        }
    }
    let shards: BTreeSet<String> = run.shards.iter().map(|s| s.id.clone()).collect();
    assert_eq!(
        keys, shards,
        "a checkpoint of each shard, parents and children"
    );
    let calls = run.pipeline.lambda.iceberg_calls.lock().unwrap().clone();
    for s in &run.shards {
        let Some(first) = calls.iter().position(|c| *c == s.id) else {
            continue;
        };
        for p in &s.parents {
            if let Some(last) = calls.iter().rposition(|c| c == p) {
                assert!(last < first, "{} committed before {p} was done", s.id);
            }
        }
    }
    eprintln!(
        "batch-to-iceberg over the resharded stream: {report:?}, {} snapshots, {} Glue conflicts",
        dump["snapshots"].as_array().map_or(0, Vec::len),
        proxy.stats().glue_conflicts
    );
}

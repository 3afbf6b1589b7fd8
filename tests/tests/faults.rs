//! Fault injection against the real SDK: each function's library, with its real AWS SDK
//! client pointed at the fault proxy (`trickle_tests::fault_proxy`) in front of moto, under
//! throttling, S3 5xx, per-entry PutRecords failures, connection resets and slow answers.
//! Every scenario checks the outcome against what the local stack really holds, read through
//! a direct (fault-free) client: nothing lost, nothing stored twice, and each answer saying
//! exactly what was written.
//!
//! The schedules are deterministic (every Nth request, the first N, seeded shares) so a
//! failure reproduces. Run: `cargo test -p trickle-tests --test faults` with the stack's
//! environment (`make test` sets it). The soak's size: `SOAK_RECORDS` (default 5000).

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use batch_to_s3::store::sdk::S3Store;
use batch_to_s3::BatchToS3;
use firehose_transform::contract::check_response;
use firehose_transform::event::{
    FirehoseEvent, FirehoseRecord, KinesisRecordMetadata, TransformResult,
};
use firehose_transform::sink::memory::MemoryReingestSink;
use firehose_transform::sink::sdk::AwsReingestSink;
use firehose_transform::FirehoseTransform;
use ingest::body::HttpInput;
use ingest::config::StreamTarget;
use ingest::sink::sdk::KinesisSink;
use ingest::Ingest;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};
use trickle_tests::fault_proxy::{EntryPick, Fault, FaultProxy, Match, Rule, Schedule, THROTTLED};
use trickle_tests::{
    batch_to_s3_config, create_bucket, create_stream, firehose_via, kinesis, kinesis_event_json,
    kinesis_via, read_all, s3_via, sequence, stream_arn, unique_name, ClientSettings,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Longer than any client's attempt timeout below, so a slow answer always times out.
const SLOW: Duration = Duration::from_secs(4);
/// The attempt timeout of clients that meet slow answers: far above moto's normal latency
/// on a busy machine, so only injected slowness times out.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1_500);

fn settings(max_attempts: u32) -> ClientSettings {
    ClientSettings {
        max_attempts,
        attempt_timeout: None,
    }
}

// ---------------------------------------------------------------------------------------
// The fault proxy itself
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn per_entry_failures_are_spliced_in_and_really_not_written() {
    let direct = kinesis().await;
    let stream = unique_name("faults-proxy");
    create_stream(&direct, &stream, 1).await;
    let proxy = FaultProxy::start(vec![Rule::new(
        Match::Kinesis("PutRecords"),
        Schedule::Always,
        Fault::KinesisEntries(EntryPick::Positions(vec![0, 3, 9])),
    )])
    .await;
    let client = kinesis_via(proxy.url(), settings(1)).await;
    let records = (0..10)
        .map(|i| {
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .data(aws_sdk_kinesis::primitives::Blob::new(format!("r{i}")))
                .partition_key("k")
                .build()
                .unwrap()
        })
        .collect();
    let out = client
        .put_records()
        .stream_name(&stream)
        .set_records(Some(records))
        .send()
        .await
        .expect("PutRecords through the proxy");
    assert_eq!(out.failed_record_count(), Some(3));
    let failed: Vec<usize> = out
        .records()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.error_code() == Some(THROTTLED))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, vec![0, 3, 9]);
    let in_stream: Vec<String> = read_all(&direct, &stream)
        .await
        .iter()
        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
        .collect();
    assert_eq!(in_stream, ["r1", "r2", "r4", "r5", "r6", "r7", "r8"]);
    // The sequence numbers the answer gives are those of the records in the stream.
    let answered: Vec<&str> = out
        .records()
        .iter()
        .filter_map(|r| r.sequence_number())
        .collect();
    let stored: Vec<String> = read_all(&direct, &stream)
        .await
        .iter()
        .map(|r| r.sequence_number().to_owned())
        .collect();
    assert_eq!(answered, stored);
    let stats = proxy.stats();
    assert_eq!((stats.entry_fault_calls, stats.entries_failed), (1, 3));

    // All entries failed: nothing reaches moto, the answer is all failures.
    proxy.set_rules(vec![Rule::new(
        Match::Kinesis("PutRecords"),
        Schedule::Always,
        Fault::KinesisEntries(EntryPick::Percent(100)),
    )]);
    let out = client
        .put_records()
        .stream_name(&stream)
        .records(
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .data(aws_sdk_kinesis::primitives::Blob::new("lost"))
                .partition_key("k")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutRecords through the proxy");
    assert_eq!(out.failed_record_count(), Some(1));
    assert_eq!(read_all(&direct, &stream).await.len(), 7);
}

#[tokio::test]
async fn whole_call_faults_reach_the_sdk_as_aws_would_send_them() {
    let proxy = FaultProxy::start(vec![
        Rule::new(
            Match::Kinesis("DescribeStreamSummary"),
            Schedule::FirstN(1),
            Fault::KinesisThrottle,
        ),
        Rule::new(
            Match::s3_put("/a-key"),
            Schedule::FirstN(1),
            Fault::S3InternalError,
        ),
        Rule::new(
            Match::s3_put("/a-key"),
            Schedule::FirstN(2),
            Fault::S3SlowDown,
        ),
    ])
    .await;
    let k = kinesis_via(proxy.url(), settings(1)).await;
    let err = k
        .describe_stream_summary()
        .stream_name("whatever")
        .send()
        .await
        .expect_err("throttled");
    use aws_sdk_kinesis::error::ProvideErrorMetadata;
    assert_eq!(err.code(), Some(THROTTLED));
    let s = s3_via(proxy.url(), settings(1)).await;
    let put = |body: &'static str| {
        s.put_object()
            .bucket("no-such-bucket-needed")
            .key("a-key")
            .body(body.as_bytes().to_vec().into())
            .send()
    };
    let e1 = put("x").await.expect_err("500");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e1),
        Some("InternalError")
    );
    let e2 = put("x").await.expect_err("503");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e2),
        Some("SlowDown")
    );
    let stats = proxy.stats();
    assert_eq!(
        (
            stats.kinesis_throttles,
            stats.s3_internal_errors,
            stats.s3_slow_downs,
            stats.forwarded
        ),
        (1, 1, 1, 0)
    );
}

// ---------------------------------------------------------------------------------------
// ingest
// ---------------------------------------------------------------------------------------

/// One POSTed request and its answer.
struct Posted {
    datas: Vec<String>,
    status: u16,
    body: Value,
}

impl Posted {
    /// Per record: `Ok(sequence number)` or `Err(error code)`.
    fn outcomes(&self) -> Vec<Result<String, String>> {
        let one = |r: &Value| match (r["SequenceNumber"].as_str(), r["ErrorCode"].as_str()) {
            (Some(seq), None) => Ok(seq.to_owned()),
            (None, Some(code)) => Err(code.to_owned()),
            _ => panic!("a record answer is either written or failed: {r}"),
        };
        match self.body["Records"].as_array() {
            Some(records) => {
                assert_eq!(records.len(), self.datas.len(), "one answer per record");
                let outcomes: Vec<_> = records.iter().map(one).collect();
                let failed = outcomes.iter().filter(|o| o.is_err()).count();
                assert_eq!(self.body["FailedRecordCount"], failed, "{}", self.body);
                outcomes
            }
            None => vec![one(&self.body)],
        }
    }
}

fn ingest_config(stream: &str, budget: Duration) -> ingest::Config {
    // Through `from_lookup`, so options added later keep their defaults.
    let budget_ms = budget.as_millis().to_string();
    ingest::Config::from_lookup(|name| match name {
        "STREAM_NAME" => Some(stream.to_owned()),
        "RETRY_BUDGET_MS" => Some(budget_ms.clone()),
        _ => None,
    })
    .expect("ingest config")
}

async fn post(ingest: &Ingest<KinesisSink>, datas: Vec<String>) -> Posted {
    let body = datas.join("\n");
    let content_type = if datas.len() == 1 {
        "application/json"
    } else {
        "application/x-ndjson"
    };
    let a = ingest
        .answer(&HttpInput::post(content_type, body.as_bytes()))
        .await;
    Posted {
        datas,
        status: a.status.as_u16(),
        body: a.body,
    }
}

/// Checks every answer against the stream: a record answered with a sequence number is in
/// the stream exactly once, under that number; a failed one is not in it at all; a request
/// is 2xx exactly when none of its records failed. Returns the records in the stream by
/// data, and how many stream records have a data no answer wrote (must be none).
async fn check_answers_against_stream(
    direct: &aws_sdk_kinesis::Client,
    stream: &str,
    posted: &[Posted],
) -> (usize, usize) {
    let mut in_stream: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in read_all(direct, stream).await {
        in_stream
            .entry(String::from_utf8(r.data().as_ref().to_vec()).expect("UTF-8"))
            .or_default()
            .push(r.sequence_number().to_owned());
    }
    let mut written = 0;
    for p in posted {
        let outcomes = p.outcomes();
        let any_failed = outcomes.iter().any(Result::is_err);
        assert_eq!(
            (200..300).contains(&p.status),
            !any_failed,
            "2xx exactly when every record was written: {} {}",
            p.status,
            p.body
        );
        if any_failed {
            assert!(
                p.status == 503 || p.status == 502,
                "{} {}",
                p.status,
                p.body
            );
        }
        for (data, outcome) in p.datas.iter().zip(outcomes) {
            let found = in_stream.get(data).cloned().unwrap_or_default();
            match outcome {
                Ok(seq) => {
                    written += 1;
                    assert_eq!(found, vec![seq], "{data}: written once, as answered");
                }
                Err(code) => assert!(
                    found.is_empty(),
                    "{data} failed ({code}) but is in the stream"
                ),
            }
        }
    }
    let total: usize = in_stream.values().map(Vec::len).sum();
    (written, total)
}

/// Per-entry PutRecords throttles: records containing "poison" on every attempt (never
/// writable), and `percent` of the others the first time they are sent.
fn poison_and_first_sight(percent: u32, seed: u64) -> Rule {
    Rule::new(
        Match::Kinesis("PutRecords"),
        Schedule::Always,
        Fault::KinesisEntries(EntryPick::AnyOf(vec![
            EntryPick::Containing(b"poison".to_vec()),
            EntryPick::FirstSightPercent(percent),
        ])),
    )
    .seed(seed)
}

#[tokio::test]
async fn ingest_under_throttling_answers_exactly_what_was_written() {
    let direct = kinesis().await;
    let stream = unique_name("faults-ingest");
    create_stream(&direct, &stream, 2).await;
    let proxy = FaultProxy::start(vec![
        // Whole-call throttles: the SDK retries them (its attempt 2 is not hit).
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::EveryNth { n: 4, offset: 1 },
            Fault::KinesisThrottle,
        ),
        Rule::new(
            Match::Kinesis("PutRecord"),
            Schedule::EveryNth { n: 2, offset: 0 },
            Fault::KinesisThrottle,
        ),
        // Per-entry throttles; ingest's own retry gets the first-sight ones in.
        poison_and_first_sight(30, 7),
    ])
    .await;
    let client = kinesis_via(proxy.url(), settings(2)).await;
    let ingest = Ingest::new(
        ingest_config(&stream, Duration::from_millis(1_500)),
        KinesisSink::new(client, StreamTarget::Name(stream.clone())),
    );

    let mut posted = Vec::new();
    for r in 0..12 {
        let datas: Vec<String> = (0..20)
            .map(|i| {
                let poison = r % 3 == 1 && i == r % 20;
                format!(
                    r#"{{"r":{r},"i":{i}{}}}"#,
                    if poison { r#","poison":true"# } else { "" }
                )
            })
            .collect();
        posted.push(post(&ingest, datas).await);
    }
    // Single records go through PutRecord: every other call is throttled, the SDK retries.
    for r in 0..4 {
        posted.push(post(&ingest, vec![format!(r#"{{"single":{r}}}"#)]).await);
    }
    // A single record whose every call is throttled: 503, and not in the stream.
    proxy.set_rules(vec![Rule::new(
        Match::Kinesis("PutRecord"),
        Schedule::Always,
        Fault::KinesisThrottle,
    )]);
    let throttled = post(&ingest, vec![r#"{"single":"throttled"}"#.to_owned()]).await;
    assert_eq!(throttled.status, 503, "{}", throttled.body);
    assert_eq!(throttled.body["Records"][0]["ErrorCode"], THROTTLED);
    posted.push(throttled);

    let (written, total) = check_answers_against_stream(&direct, &stream, &posted).await;
    assert_eq!(
        total, written,
        "no record in the stream that no answer names"
    );
    // Exactly the poison records failed, and their requests only.
    for p in &posted[..12] {
        let failed: Vec<&String> = p
            .datas
            .iter()
            .zip(p.outcomes())
            .filter(|(_, o)| o.is_err())
            .map(|(d, _)| d)
            .collect();
        let poison: Vec<&String> = p.datas.iter().filter(|d| d.contains("poison")).collect();
        assert_eq!(
            failed, poison,
            "the 503 names exactly the records not written"
        );
        assert_eq!(p.status, if poison.is_empty() { 200 } else { 503 });
    }
    assert_eq!(written, 12 * 20 - 4 + 4);
    let stats = proxy.stats();
    assert!(stats.kinesis_throttles >= 5, "{stats:?}");
    assert!(stats.entries_failed > 20, "{stats:?}");
}

#[tokio::test]
async fn ingest_survives_resets_and_slow_answers_that_never_reached_kinesis() {
    let direct = kinesis().await;
    let stream = unique_name("faults-ingest-net");
    create_stream(&direct, &stream, 2).await;
    // Never three faults in a row, so the SDK's three attempts always get through.
    let proxy = FaultProxy::start(vec![
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::EveryNth { n: 3, offset: 0 },
            Fault::Reset { processed: false },
        ),
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::EveryNth { n: 5, offset: 2 },
            Fault::Slow {
                delay: SLOW,
                processed: false,
            },
        ),
    ])
    .await;
    let client = kinesis_via(
        proxy.url(),
        ClientSettings {
            max_attempts: 3,
            attempt_timeout: Some(ATTEMPT_TIMEOUT),
        },
    )
    .await;
    let ingest = Ingest::new(
        ingest_config(&stream, Duration::from_secs(2)),
        KinesisSink::new(client, StreamTarget::Name(stream.clone())),
    );
    let mut posted = Vec::new();
    for r in 0..8 {
        let datas = (0..10).map(|i| format!(r#"{{"r":{r},"i":{i}}}"#)).collect();
        posted.push(post(&ingest, datas).await);
    }
    let (written, total) = check_answers_against_stream(&direct, &stream, &posted).await;
    assert_eq!((written, total), (80, 80), "every record once");
    assert!(posted.iter().all(|p| p.status == 200));
    let stats = proxy.stats();
    assert!(stats.resets >= 3 && stats.slow_answers >= 1, "{stats:?}");
}

/// Kinesis writes are at least once: when the answer to a PutRecords that Kinesis applied is
/// lost (reset after processing), the SDK's retry writes the call's records again. Nothing
/// is lost, every answer names a copy that is in the stream, and the duplicates are exactly
/// the records of the calls whose answers were lost.
#[tokio::test]
async fn ingest_a_lost_answer_duplicates_exactly_that_calls_records() {
    let direct = kinesis().await;
    let stream = unique_name("faults-ingest-dup");
    create_stream(&direct, &stream, 1).await;
    let proxy = FaultProxy::start(vec![Rule::new(
        Match::Kinesis("PutRecords"),
        Schedule::EveryNth { n: 3, offset: 1 },
        Fault::Reset { processed: true },
    )])
    .await;
    let client = kinesis_via(proxy.url(), settings(3)).await;
    let ingest = Ingest::new(
        ingest_config(&stream, Duration::from_secs(2)),
        KinesisSink::new(client, StreamTarget::Name(stream.clone())),
    );
    let mut posted = Vec::new();
    for r in 0..6 {
        let datas = (0..10).map(|i| format!(r#"{{"r":{r},"i":{i}}}"#)).collect();
        posted.push(post(&ingest, datas).await);
    }
    assert!(posted.iter().all(|p| p.status == 200));
    let mut copies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in read_all(&direct, &stream).await {
        copies
            .entry(String::from_utf8(r.data().as_ref().to_vec()).unwrap())
            .or_default()
            .push(r.sequence_number().to_owned());
    }
    for p in &posted {
        for (data, outcome) in p.datas.iter().zip(p.outcomes()) {
            let seq = outcome.expect("written");
            assert!(
                copies[data].contains(&seq),
                "{data}: the answered copy is in the stream"
            );
        }
    }
    let duplicates: usize = copies.values().map(|c| c.len() - 1).sum();
    let resets = proxy.stats().resets as usize;
    assert!(resets >= 2);
    assert_eq!(copies.len(), 60, "nothing lost");
    assert_eq!(
        duplicates,
        resets * 10,
        "one extra copy of each record of each lost answer"
    );
}

// ---------------------------------------------------------------------------------------
// batch-to-s3
// ---------------------------------------------------------------------------------------

/// Records `range` of one shard: record i is `{"n":i,"p":i%3}` (three interleaved
/// partitions when partitioned by `/p`).
fn kinesis_event(range: std::ops::Range<usize>) -> KinesisEvent {
    serde_json::from_value(kinesis_event_json(range, |i| {
        format!("{{\"n\":{i},\"p\":{}}}", i % 3)
    }))
    .expect("a Kinesis event")
}

/// Every line of every data object under `prefix` (unsorted, duplicates kept), and the
/// number of objects.
async fn stored_lines(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut objects = 0;
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .expect("ListObjectsV2");
        for o in page.contents() {
            let key = o.key().expect("a key");
            let body = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .expect("GetObject")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes();
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .expect("gzip");
            lines.extend(text.lines().map(str::to_owned));
            objects += 1;
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return (lines, objects);
        }
    }
}

/// The `n` of every stored record, each with how many times it is stored.
async fn stored_counts(client: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for line in stored_lines(client, bucket, "raw/").await.0 {
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        *counts
            .entry(v["n"].as_u64().expect("n") as usize)
            .or_default() += 1;
    }
    counts
}

/// What driving batch-to-s3 over a shard did.
#[derive(Debug, Default)]
struct Drive {
    invocations: usize,
    failures_reported: usize,
    /// Batches that were answered with full success (AWS may redeliver them after a timeout).
    succeeded: Vec<std::ops::Range<usize>>,
}

/// Lambda's Kinesis event source mapping over records `0..total` of one shard, in batches of
/// `batch_size`: each answer's checkpoint must be the first record not stored (`exact`), or
/// at least not after it (when answers of applied PUTs can be lost), and the shard resumes
/// from it, as AWS does, until every record is done. Nothing is ever stored twice.
async fn drive_shard(
    f: &BatchToS3<S3Store>,
    direct: &aws_sdk_s3::Client,
    bucket: &str,
    total: usize,
    batch_size: usize,
    exact: bool,
) -> Drive {
    let mut drive = Drive::default();
    let mut from = 0;
    while from < total {
        drive.invocations += 1;
        assert!(
            drive.invocations < 500,
            "no progress: stuck at record {from}"
        );
        let end = (from + batch_size).min(total);
        let outcome = f
            .process(kinesis_event(from..end), None)
            .await
            .expect("a valid event");
        let stored = stored_counts(direct, bucket).await;
        assert!(
            stored.values().all(|&c| c == 1),
            "a record stored twice after invocation {}: {stored:?}",
            drive.invocations
        );
        let first_unstored = (from..end).find(|i| !stored.contains_key(i));
        let reported = outcome.retry_from.as_ref().map(|seq| {
            (from..end)
                .find(|&i| sequence(i) == *seq)
                .unwrap_or_else(|| panic!("the checkpoint {seq} is a record of the batch"))
        });
        if exact {
            assert_eq!(
                reported, first_unstored,
                "the checkpoint is the first record not stored (batch {from}..{end}): {:?}",
                outcome.summary
            );
        } else {
            // A PUT that S3 applied but whose answer never arrived looks failed: the
            // checkpoint may be earlier than the first record not stored, never later.
            assert!(
                reported.unwrap_or(end) <= first_unstored.unwrap_or(end),
                "the checkpoint {reported:?} skips the unstored record {first_unstored:?}: {:?}",
                outcome.summary
            );
        }
        let next = reported.unwrap_or(end);
        assert!(
            (0..next).all(|i| stored.contains_key(&i)) && stored.keys().all(|&i| i < end),
            "stored: every record before the checkpoint, none beyond the batch: {stored:?}"
        );
        if reported.is_some() {
            drive.failures_reported += 1;
        } else {
            drive.succeeded.push(from..end);
        }
        from = next;
    }
    drive
}

/// After the run: every record stored exactly once, and a redelivery of any batch that was
/// answered with success (as after a timeout) stores nothing new.
async fn check_exactly_once_and_redeliveries(
    f: &BatchToS3<S3Store>,
    direct: &aws_sdk_s3::Client,
    bucket: &str,
    total: usize,
    drive: &Drive,
) {
    let stored = stored_counts(direct, bucket).await;
    assert_eq!(
        stored,
        (0..total).map(|i| (i, 1)).collect::<BTreeMap<_, _>>()
    );
    let (_, objects) = stored_lines(direct, bucket, "raw/").await;
    for range in &drive.succeeded {
        let out = f
            .process(kinesis_event(range.clone()), None)
            .await
            .expect("a valid event");
        assert_eq!(out.retry_from, None, "redelivery of {range:?}");
    }
    assert_eq!(
        stored_counts(direct, bucket).await,
        stored,
        "redeliveries change nothing"
    );
    assert_eq!(stored_lines(direct, bucket, "raw/").await.1, objects);
}

#[tokio::test]
async fn batch_to_s3_under_s3_errors_checkpoints_exactly_and_stores_once() {
    let (direct, bucket) = create_bucket("faults").await;
    let proxy = FaultProxy::start(vec![
        Rule::new(
            Match::s3_put("/raw/"),
            Schedule::Percent(20),
            Fault::S3InternalError,
        )
        .seed(1),
        Rule::new(
            Match::s3_put("/raw/"),
            Schedule::Percent(20),
            Fault::S3SlowDown,
        )
        .seed(2),
        // The high-water mark's PUTs fail too (the data is stored; the mark lags).
        Rule::new(
            Match::s3_put("/state/"),
            Schedule::EveryNth { n: 5, offset: 2 },
            Fault::S3InternalError,
        ),
    ])
    .await;
    // Two attempts: the SDK hides some faults, the rest reach the function.
    let client = s3_via(proxy.url(), settings(2)).await;
    let f = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[("PREFIX", "raw/"), ("OBJECT_PARTITION_POINTER", "/p")],
        ),
        S3Store::new(client, &bucket),
    );
    let total = 90;
    let drive = drive_shard(&f, &direct, &bucket, total, 10, true).await;
    let stats = proxy.stats();
    assert!(drive.failures_reported >= 3, "{drive:?} {stats:?}");
    assert!(
        stats.s3_internal_errors > 0 && stats.s3_slow_downs > 0,
        "{stats:?}"
    );
    proxy.set_rules(vec![]);
    check_exactly_once_and_redeliveries(&f, &direct, &bucket, total, &drive).await;
}

#[tokio::test]
async fn batch_to_s3_survives_resets_and_slow_answers_before_and_after_s3_applied_them() {
    let (direct, bucket) = create_bucket("faults").await;
    let any_put = || Match::s3_put("");
    let proxy = FaultProxy::start(vec![
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 7, offset: 1 },
            Fault::Reset { processed: true },
        ),
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 7, offset: 3 },
            Fault::Reset { processed: false },
        ),
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 11, offset: 5 },
            Fault::Slow {
                delay: SLOW,
                processed: true,
            },
        ),
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 13, offset: 6 },
            Fault::Slow {
                delay: SLOW,
                processed: false,
            },
        ),
        // And some failures the SDK gives up on (3 in a row), so the function reports them.
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 17, offset: 9 },
            Fault::S3InternalError,
        ),
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 17, offset: 10 },
            Fault::S3SlowDown,
        ),
        Rule::new(
            any_put(),
            Schedule::EveryNth { n: 17, offset: 11 },
            Fault::S3InternalError,
        ),
    ])
    .await;
    let client = s3_via(
        proxy.url(),
        ClientSettings {
            max_attempts: 3,
            attempt_timeout: Some(ATTEMPT_TIMEOUT),
        },
    )
    .await;
    let f = BatchToS3::new(
        batch_to_s3_config(
            &bucket,
            &[("PREFIX", "raw/"), ("OBJECT_PARTITION_POINTER", "/p")],
        ),
        S3Store::new(client, &bucket),
    );
    let total = 60;
    let drive = drive_shard(&f, &direct, &bucket, total, 10, false).await;
    let stats = proxy.stats();
    assert!(stats.resets >= 4 && stats.slow_answers >= 2, "{stats:?}");
    proxy.set_rules(vec![]);
    check_exactly_once_and_redeliveries(&f, &direct, &bucket, total, &drive).await;
}

/// A PutObject that S3 applied but whose every answer was lost (here: reset after S3 stored
/// it, on all of the SDK's attempts) is reported as not stored, and the object is neither
/// rolled back nor remembered. The checkpoint is then before records that *are* stored, so
/// the stored set is not the prefix `write.rs` promises. A redelivery of the same batch is
/// still exact (same key: 412), but a redelivery re-formed with more records (the event
/// source reads from the checkpoint with its batch size, newer records included) plans a
/// different object and stores those records a second time.
///
/// Fails today: see the report to the lead (batch-to-s3 `write.rs`/`handler.rs`: a failed
/// PUT's own key is not deleted in the rollback, although its outcome is unknown).
#[tokio::test]
async fn batch_to_s3_an_applied_put_whose_answer_is_lost_is_not_stored_twice() {
    let (direct, bucket) = create_bucket("faults").await;
    let proxy = FaultProxy::start(vec![Rule::new(
        Match::s3_put("/raw/"),
        Schedule::FirstN(3),
        Fault::Reset { processed: true },
    )])
    .await;
    let f = BatchToS3::new(
        batch_to_s3_config(&bucket, &[("PREFIX", "raw/")]),
        S3Store::new(s3_via(proxy.url(), settings(3)).await, &bucket),
    );
    let first = f.process(kinesis_event(0..10), None).await.expect("event");
    assert_eq!(
        proxy.stats().resets,
        3,
        "every attempt of the one data PUT was reset"
    );
    assert_eq!(
        first.retry_from,
        Some(sequence(0)),
        "reported as not stored"
    );
    // The event source resumes from record 0; by now the shard has more records, so the
    // batch is re-formed with them.
    let again = f.process(kinesis_event(0..15), None).await.expect("event");
    assert_eq!(again.retry_from, None);
    let stored = stored_counts(&direct, &bucket).await;
    assert_eq!(
        stored,
        (0..15).map(|i| (i, 1)).collect::<BTreeMap<_, _>>(),
        "each record stored exactly once"
    );
}

// ---------------------------------------------------------------------------------------
// firehose-transform
// ---------------------------------------------------------------------------------------

/// 40 records of ~130 bytes with their partition keys; every 7th (from 3) is "poison".
fn firehose_event(arn: &str) -> FirehoseEvent {
    let records = (0..40)
        .map(|i| {
            let poison = if i % 7 == 3 { r#","poison":true"# } else { "" };
            FirehoseRecord {
                record_id: format!("record-{i:03}"),
                approximate_arrival_timestamp: Some(1_700_000_000_000 + i),
                data: Some(B64.encode(format!(
                    "{{\"n\":{i}{poison},\"pad\":\"{}\"}}",
                    "x".repeat(100)
                ))),
                kinesis_record_metadata: Some(KinesisRecordMetadata {
                    partition_key: Some(format!("key-{i}")),
                    sequence_number: Some(i.to_string()),
                    ..Default::default()
                }),
            }
        })
        .collect();
    FirehoseEvent {
        source_kinesis_stream_arn: Some(arn.to_owned()),
        records,
        ..Default::default()
    }
}

fn firehose_config() -> firehose_transform::Config {
    firehose_transform::Config {
        // Forces about half of the records to overflow into re-ingestion.
        response_budget_bytes: 4_000,
        reingest_max_attempts: 3,
        ..Default::default()
    }
}

/// Runs the transform through the proxy; checks the contract and that no record is lost:
/// Ok records are answered (and not re-ingested), Dropped ones are in the stream exactly
/// once (same bytes, as a marked copy of their partition key), ProcessingFailed ones are not
/// in it (Firehose writes them to the error output).
async fn transform_and_check(
    proxy: &FaultProxy,
    direct: &aws_sdk_kinesis::Client,
    stream: &str,
    event: &FirehoseEvent,
) -> Vec<TransformResult> {
    let settings = settings(1);
    let sink = AwsReingestSink::new(
        kinesis_via(proxy.url(), settings).await,
        firehose_via(proxy.url(), settings).await,
    );
    let config = firehose_config();
    let budget = config.response_budget_bytes;
    let (response, _) = FirehoseTransform::new(config, sink).process(event).await;
    let bytes = serde_json::to_vec(&response).unwrap();
    if let Err(v) = check_response(event, &bytes, budget) {
        panic!("contract violated: {v:#?}");
    }
    let mut in_stream: BTreeMap<(String, Vec<u8>), usize> = BTreeMap::new();
    for r in read_all(direct, stream).await {
        *in_stream
            .entry((
                r.partition_key().unwrap().to_owned(),
                r.data().as_ref().to_vec(),
            ))
            .or_default() += 1;
    }
    let mut expected_in_stream = BTreeMap::new();
    for (record, answer) in event.records.iter().zip(&response.records) {
        assert_eq!(record.record_id, answer.record_id);
        let key = (
            trickle_shared::reingest::reingested_partition_key(
                record
                    .kinesis_record_metadata
                    .as_ref()
                    .unwrap()
                    .partition_key
                    .as_deref()
                    .unwrap(),
            ),
            B64.decode(record.data.as_deref().unwrap()).unwrap(),
        );
        if answer.result == TransformResult::Dropped {
            expected_in_stream.insert(key, 1);
        }
    }
    assert_eq!(
        in_stream, expected_in_stream,
        "Dropped = back in the source exactly once"
    );
    response.records.iter().map(|r| r.result).collect()
}

/// What the transform answers with a sink that never fails: which records overflow.
async fn baseline(event: &FirehoseEvent) -> Vec<TransformResult> {
    let (response, _) = FirehoseTransform::new(firehose_config(), MemoryReingestSink::new())
        .process(event)
        .await;
    response.records.iter().map(|r| r.result).collect()
}

#[tokio::test]
async fn firehose_reingestion_failures_become_processing_failed_never_lost() {
    let direct = kinesis().await;
    let stream = unique_name("faults-fh");
    create_stream(&direct, &stream, 2).await;
    let event = firehose_event(&stream_arn(&direct, &stream).await);
    let proxy = FaultProxy::start(vec![
        // The first call of every three is throttled whole (the client does not retry).
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::EveryNth { n: 3, offset: 0 },
            Fault::KinesisThrottle,
        ),
        poison_and_first_sight(40, 5),
    ])
    .await;
    let results = transform_and_check(&proxy, &direct, &stream, &event).await;
    let expected: Vec<TransformResult> = baseline(&event)
        .await
        .into_iter()
        .zip(&event.records)
        .map(|(base, record)| {
            let poison = B64
                .decode(record.data.as_deref().unwrap())
                .unwrap()
                .windows(6)
                .any(|w| w == b"poison");
            match base {
                TransformResult::Dropped if poison => TransformResult::ProcessingFailed,
                other => other,
            }
        })
        .collect();
    assert_eq!(results, expected);
    let count = |r| results.iter().filter(|x| **x == r).count();
    assert!(count(TransformResult::Ok) >= 5, "{results:?}");
    assert!(count(TransformResult::Dropped) >= 5, "{results:?}");
    assert!(count(TransformResult::ProcessingFailed) >= 2, "{results:?}");
    let stats = proxy.stats();
    assert!(
        stats.kinesis_throttles >= 1 && stats.entries_failed > 5,
        "{stats:?}"
    );
}

#[tokio::test]
async fn firehose_reingestion_that_never_succeeds_fails_every_overflow_record() {
    let direct = kinesis().await;
    let stream = unique_name("faults-fh-down");
    create_stream(&direct, &stream, 1).await;
    let event = firehose_event(&stream_arn(&direct, &stream).await);
    let proxy = FaultProxy::start(vec![
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::EveryNth { n: 2, offset: 0 },
            Fault::KinesisThrottle,
        ),
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::Always,
            Fault::Reset { processed: false },
        ),
    ])
    .await;
    let results = transform_and_check(&proxy, &direct, &stream, &event).await;
    let expected: Vec<TransformResult> = baseline(&event)
        .await
        .into_iter()
        .map(|base| match base {
            TransformResult::Dropped => TransformResult::ProcessingFailed,
            other => other,
        })
        .collect();
    assert_eq!(results, expected);
    assert!(read_all(&direct, &stream).await.is_empty());
    let stats = proxy.stats();
    assert_eq!(
        stats.kinesis_throttles + stats.resets,
        3,
        "three attempts: {stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Soak: ingest -> Kinesis -> (event source mapping) -> batch-to-s3 -> S3, in process
// ---------------------------------------------------------------------------------------

/// `SOAK_RECORDS` records POSTed to `ingest` (records whose answer names them failed are
/// POSTed again, as a client honouring 503 does), read back shard by shard into
/// `batch-to-s3` as the event source mapping would, with about 10% of the Kinesis and S3
/// calls failing in every way the proxy knows that leaves exactly-once possible. Prints
/// posted, acknowledged, stored, duplicated and lost records, and the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_ingest_to_s3_with_ten_percent_faults() {
    let total: usize = std::env::var("SOAK_RECORDS")
        .ok()
        .map(|v| v.parse().expect("SOAK_RECORDS is a number"))
        .unwrap_or(5_000);
    let shard_count: i32 = std::env::var("SOAK_SHARDS")
        .ok()
        .map(|v| v.parse().expect("SOAK_SHARDS is a number"))
        .unwrap_or(4);
    let per_post = 500;
    let started = Instant::now();
    let direct_kinesis = kinesis().await;
    let stream = unique_name("faults-soak");
    create_stream(&direct_kinesis, &stream, shard_count).await;
    let (direct_s3, bucket) = create_bucket("faults").await;

    // About 10% of calls (and of PutRecords entries) fail. Only faults that leave exactly
    // once possible on the producer side: no lost answer of an applied Kinesis write
    // (Kinesis is at least once, see `ingest_a_lost_answer_duplicates_exactly_that_calls_records`).
    // On the consumer side everything: S3 errors, resets before and after S3 applied a PUT
    // (its answer lost), function errors after the work, and invocations killed mid-write.
    let kinesis_faults = FaultProxy::start(vec![
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::Percent(4),
            Fault::KinesisThrottle,
        )
        .seed(21),
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::Percent(2),
            Fault::Reset { processed: false },
        )
        .seed(22),
        Rule::new(
            Match::Kinesis("PutRecords"),
            Schedule::Always,
            Fault::KinesisEntries(EntryPick::Percent(5)),
        )
        .seed(23),
    ])
    .await;
    let s3_faults = FaultProxy::start(vec![
        Rule::new(
            Match::s3_put(""),
            Schedule::Percent(4),
            Fault::S3InternalError,
        )
        .seed(31),
        Rule::new(Match::s3_put(""), Schedule::Percent(3), Fault::S3SlowDown).seed(32),
        Rule::new(
            Match::s3_put(""),
            Schedule::Percent(2),
            Fault::Reset { processed: false },
        )
        .seed(33),
        Rule::new(
            Match::s3_put(""),
            Schedule::Percent(2),
            Fault::Reset { processed: true },
        )
        .seed(34),
    ])
    .await;

    // Producer side.
    let ingest = Ingest::new(
        ingest_config(&stream, Duration::from_millis(300)),
        KinesisSink::new(
            kinesis_via(kinesis_faults.url(), settings(2)).await,
            StreamTarget::Name(stream.clone()),
        ),
    );
    let mut pending: Vec<String> = (0..total)
        .map(|i| format!(r#"{{"n":{i},"p":{}}}"#, i % 4))
        .collect();
    let (mut posts, mut acknowledged, mut status_counts) = (0usize, 0usize, BTreeMap::new());
    let mut answered_seq: BTreeMap<String, String> = BTreeMap::new();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= 20, "{} records never acknowledged", pending.len());
        let mut again = Vec::new();
        for chunk in pending.chunks(per_post) {
            let p = post(&ingest, chunk.to_vec()).await;
            posts += 1;
            *status_counts.entry(p.status).or_insert(0usize) += 1;
            for (data, outcome) in p.datas.iter().zip(p.outcomes()) {
                match outcome {
                    Ok(seq) => {
                        acknowledged += 1;
                        answered_seq.insert(data.clone(), seq);
                    }
                    Err(_) => again.push(data.clone()),
                }
            }
        }
        pending = again;
    }
    let produced_at = started.elapsed();

    // Consumer side: the local pipeline's event source mapping (every shard in parallel,
    // one batch in flight per shard, retries and bisection as the template sets them)
    // invoking batch-to-s3 in process, partitioned by /p, so batches make several
    // interleaved objects. 8% of invocations answer a function error after their work (as a
    // timeout after the PUTs) and 8% are killed at a random PUT (the invocation's future
    // dropped while that PUT hangs: `crash.rs` does it to real processes).
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
            .expect("template.yaml");
    let mut esm_settings =
        local_pipeline::settings::Settings::from_template(&template).expect("settings");
    esm_settings.batch_size = 100;
    esm_settings.batching_window = Duration::ZERO;
    let on_failure = std::env::temp_dir().join(format!("{stream}-on-failure.jsonl"));
    let pipeline = local_pipeline::runner::Pipeline {
        kinesis: direct_kinesis.clone(),
        s3: direct_s3.clone(),
        lambda: FaultyBatchToS3 {
            function: BatchToS3::new(
                batch_to_s3_config(
                    &bucket,
                    &[
                        ("PREFIX", "raw/"),
                        ("OBJECT_PARTITION_POINTER", "/p"),
                        ("PARTITION_NAME", "p"),
                    ],
                ),
                CrashingStore {
                    inner: S3Store::new(s3_via(s3_faults.url(), settings(2)).await, &bucket),
                    hang_at: std::sync::Mutex::new(None),
                    hung: tokio::sync::Notify::new(),
                },
            ),
            rng: std::sync::Mutex::new(fastrand::Rng::with_seed(41)),
            kill_lock: tokio::sync::Mutex::new(()),
            function_errors: 0.into(),
            kills: 0.into(),
        },
        stream: stream.clone(),
        bucket: bucket.clone(),
        delivery_stream: format!("{stream}-delivery"),
        region: "us-east-1".into(),
        settings: esm_settings,
        batch_function: "batch-to-s3".into(),
        transform_function: "firehose-transform".into(),
        on_failure_file: on_failure.clone(),
        inject_batch_function_errors: 0.into(),
    };
    let report = pipeline
        .drain(local_pipeline::runner::Path::BatchToS3)
        .await
        .expect("the local pipeline drains the stream");
    std::fs::remove_file(&on_failure).ok();
    assert_eq!(report.on_failure_records, 0, "{report:?}");
    let invocations = report.batch_invocations;
    let checkpoints = report.batch_retries;
    let function_errors = pipeline
        .lambda
        .function_errors
        .load(std::sync::atomic::Ordering::SeqCst);
    let kills = pipeline
        .lambda
        .kills
        .load(std::sync::atomic::Ordering::SeqCst);
    let consumed_at = started.elapsed() - produced_at;

    // Verdict.
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for line in stored_lines(&direct_s3, &bucket, "raw/").await.0 {
        *stored.entry(line).or_default() += 1;
    }
    let posted_distinct = total;
    let duplicated: usize = stored.values().map(|c| c - 1).sum();
    let lost = (0..total)
        .filter(|i| !stored.contains_key(&format!(r#"{{"n":{i},"p":{}}}"#, i % 4)))
        .count();
    let extra = stored.len() + lost - total;
    let (kstats, sstats) = (kinesis_faults.stats(), s3_faults.stats());
    eprintln!(
        "soak: {total} records on {shard_count} shards, {posts} POSTs ({status_counts:?}), acknowledged {acknowledged}, \
         stored {} distinct in S3, duplicated {duplicated}, lost {lost}, unexpected {extra}; \
         {invocations} batch-to-s3 invocations, {checkpoints} retries, {function_errors} function errors, \
         {kills} killed mid-write; produce {:.1}s, consume {:.1}s, total {:.1}s",
        stored.len(),
        produced_at.as_secs_f64(),
        consumed_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    eprintln!(
        "soak faults: Kinesis {}/{} calls ({} throttles, {} resets, {} entries failed in {} calls); \
         S3 {}/{} calls ({} 500, {} 503, {} resets)",
        kstats.faults(),
        kstats.requests,
        kstats.kinesis_throttles,
        kstats.resets,
        kstats.entries_failed,
        kstats.entry_fault_calls,
        sstats.faults(),
        sstats.requests,
        sstats.s3_internal_errors,
        sstats.s3_slow_downs,
        sstats.resets,
    );
    assert_eq!(
        acknowledged, posted_distinct,
        "every record acknowledged once"
    );
    assert_eq!(answered_seq.len(), total);
    let in_stream = read_all(&direct_kinesis, &stream).await.len();
    assert_eq!(
        in_stream, total,
        "the stream holds each acknowledged record once"
    );
    assert_eq!((duplicated, lost, extra), (0, 0, 0));
    assert!(kstats.faults() > 0 && sstats.faults() > 0);
    assert!(
        function_errors > 0 && kills > 0,
        "the soak must exercise function errors and kills"
    );
}

/// The real S3 store, whose chosen PUT never answers while `hang_at` is set: the `n`-th PUT
/// (from 0) of a key naming the shard, so only that shard's invocation (one in flight per
/// shard) hangs, and its future is then dropped, as a process is killed.
struct CrashingStore {
    inner: S3Store,
    hang_at: std::sync::Mutex<Option<(String, usize)>>,
    /// Told when a PUT starts hanging.
    hung: tokio::sync::Notify,
}

impl batch_to_s3::store::ObjectStore for CrashingStore {
    async fn put_object(
        &self,
        object: batch_to_s3::store::PutObject,
    ) -> Result<batch_to_s3::store::PutOutcome, batch_to_s3::store::StoreError> {
        let hang = {
            let mut at = self.hang_at.lock().expect("lock");
            match at.as_mut() {
                Some((shard, 0)) if object.key.contains(shard.as_str()) => true,
                Some((shard, n)) if object.key.contains(shard.as_str()) => {
                    *n -= 1;
                    false
                }
                _ => false,
            }
        };
        if hang {
            *self.hang_at.lock().expect("lock") = None;
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.put_object(object).await
    }
    async fn get_object(
        &self,
        key: &str,
    ) -> Result<Option<batch_to_s3::store::StoredObject>, batch_to_s3::store::StoreError> {
        self.inner.get_object(key).await
    }
    async fn delete_object(&self, key: &str) -> Result<(), batch_to_s3::store::StoreError> {
        self.inner.delete_object(key).await
    }
    async fn head_object(&self, key: &str) -> Result<bool, batch_to_s3::store::StoreError> {
        self.inner.head_object(key).await
    }
    async fn object_metadata(
        &self,
        key: &str,
    ) -> Result<Option<Vec<(String, String)>>, batch_to_s3::store::StoreError> {
        self.inner.object_metadata(key).await
    }
}

/// batch-to-s3 in process for the local pipeline, with faults: a share of invocations answer
/// a function error after their work, a share are killed at a random PUT.
struct FaultyBatchToS3 {
    function: BatchToS3<CrashingStore>,
    rng: std::sync::Mutex<fastrand::Rng>,
    /// One kill at a time (the store's hang is shared by the shards' invocations).
    kill_lock: tokio::sync::Mutex<()>,
    function_errors: std::sync::atomic::AtomicUsize,
    kills: std::sync::atomic::AtomicUsize,
}

impl local_pipeline::invoke::Invoker for FaultyBatchToS3 {
    async fn invoke(
        &self,
        function: &str,
        event: &Value,
    ) -> Result<Value, local_pipeline::invoke::InvokeError> {
        use std::sync::atomic::Ordering;
        let failed = |kind: &str, payload: String| local_pipeline::invoke::InvokeError::Function {
            function: function.to_owned(),
            kind: kind.to_owned(),
            payload,
        };
        let event: KinesisEvent = serde_json::from_value(event.clone())
            .map_err(|e| failed("Unhandled", e.to_string()))?;
        let (roll, hang_at) = {
            let mut rng = self.rng.lock().expect("lock");
            (rng.u32(0..100), rng.usize(0..6))
        };
        let shard = event
            .records
            .first()
            .and_then(|r| r.event_id.as_deref())
            .and_then(|id| id.split_once(':'))
            .map(|(shard, _)| shard.to_owned())
            .unwrap_or_default();
        if roll < 8 && !shard.is_empty() {
            let _one = self.kill_lock.lock().await;
            let store = self.function.store();
            *store.hang_at.lock().expect("lock") = Some((shard, hang_at));
            let killed = tokio::select! {
                _ = store.hung.notified() => true,
                r = self.function.process(event, None) => { r.expect("a valid event"); false }
            };
            *store.hang_at.lock().expect("lock") = None;
            if killed {
                self.kills.fetch_add(1, Ordering::SeqCst);
                return Err(failed("Sandbox.Killed", "killed mid-write".into()));
            }
            // It made fewer PUTs than the one chosen: its answer is lost all the same.
            self.function_errors.fetch_add(1, Ordering::SeqCst);
            return Err(failed("Sandbox.Timedout", "answer lost".into()));
        }
        let outcome = self
            .function
            .process(event, None)
            .await
            .map_err(|e| failed("Unhandled", e.to_string()))?;
        if roll < 16 {
            self.function_errors.fetch_add(1, Ordering::SeqCst);
            return Err(failed(
                "Sandbox.Timedout",
                "timed out after its work".into(),
            ));
        }
        serde_json::to_value(batch_to_s3::event::response(outcome.retry_from.as_deref()))
            .map_err(|e| failed("Unhandled", e.to_string()))
    }
}

//! The I/O of the stand-ins: lists the stream's shards (ListShards, every page), reads each
//! shard with GetShardIterator/GetRecords, invokes the functions through an [`Invoker`] (the
//! Lambda Invoke API of `cargo lambda watch`), and, for Firehose, writes the buffered objects
//! to S3.
//!
//! As the event source mapping does with `ParallelizationFactor: 1`: every shard is read by
//! its own reader, concurrently with the others, with one batch in flight per shard. A child
//! shard (after SplitShard, MergeShards or UpdateShardCount) starts at TRIM_HORIZON only once
//! each of its parents was read to its end and its last batch checkpointed (`lineage`). New
//! shards are learned from GetRecords' `ChildShards` and by listing the shards again every
//! `RELIST_INTERVAL`. Firehose reads shards in parallel too; its buffers are shared by the
//! readers.

use crate::concurrent::Concurrent;
use crate::esm::{kinesis_event, verdict, StreamRecord, Verdict};
use crate::firehose::{
    apply_response, error_line, object_name, resolve_prefix, transform_event, Outcome,
};
use crate::invoke::{InvokeError, Invoker};
use crate::lineage::{Lineage, ShardNode};
use crate::settings::Settings;
use anyhow::{Context, Result};
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::Utc;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Firehose invokes the transform with batches of about this size (its processor's
/// `BufferSizeInMBs` default is 1 MB) and at most this many records.
pub const TRANSFORM_BATCH_BYTES: usize = 1024 * 1024;
pub const TRANSFORM_BATCH_RECORDS: usize = 500;
/// Firehose retries a failing transform invocation this many times (its default).
pub const TRANSFORM_RETRIES: u32 = 3;
/// Pause between GetRecords calls on a shard with nothing new (AWS polls each shard about
/// once a second).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How often the shards are listed again to find new ones (the event source mapping also
/// learns a closed shard's children from GetRecords' `ChildShards`).
pub const RELIST_INTERVAL: Duration = Duration::from_secs(1);
/// ListShards' largest page (AWS: `MaxResults` 1 to 10,000).
pub const LIST_SHARDS_MAX_RESULTS: i32 = 10_000;
/// GetRecords' largest `Limit`.
pub const GET_RECORDS_MAX_LIMIT: usize = 10_000;

fn take_one(counter: &std::sync::atomic::AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// Which managed service to stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    BatchToS3,
    Firehose,
}

/// Where things are. `L` invokes the functions: the Lambda SDK client (against `cargo lambda
/// watch`) unless a test gives an in-process [`Invoker`].
pub struct Pipeline<L = aws_sdk_lambda::Client> {
    pub kinesis: aws_sdk_kinesis::Client,
    pub s3: aws_sdk_s3::Client,
    /// Invokes `batch_function` and `transform_function`.
    pub lambda: L,
    pub stream: String,
    pub bucket: String,
    pub delivery_stream: String,
    pub region: String,
    pub settings: Settings,
    pub batch_function: String,
    pub transform_function: String,
    /// Records that exhaust their retries land here, one JSON line each (the SQS on-failure
    /// destination of the deployed stack).
    pub on_failure_file: PathBuf,
    /// Fault injection for tests and demos: the first N batch-to-s3 invocations run, but
    /// their answers are replaced by a function error, as when a function times out after it
    /// wrote its objects. The retry that follows must not duplicate anything.
    pub inject_batch_function_errors: std::sync::atomic::AtomicUsize,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub records_read: usize,
    pub batch_invocations: usize,
    pub batch_retries: usize,
    pub bisections: usize,
    pub on_failure_records: usize,
    pub transform_invocations: usize,
    pub firehose_delivered: usize,
    pub firehose_dropped: usize,
    pub firehose_failed: usize,
    /// Objects written by the Firehose stand-in: key, bytes, records.
    pub firehose_objects: Vec<(String, usize, usize)>,
    /// Shards read (each from TRIM_HORIZON).
    pub shards_read: usize,
    /// Of those, shards read to their end: closed by a reshard, their children then started.
    pub shards_ended: usize,
    /// Shards never read: when the run stopped, a parent's end had not been seen.
    pub shards_blocked: Vec<String>,
}

impl Report {
    /// Adds another report's counts (a shard reader's) to this one.
    pub fn merge(&mut self, other: Report) {
        // Destructured, so that a new field cannot be forgotten here.
        let Report {
            records_read,
            batch_invocations,
            batch_retries,
            bisections,
            on_failure_records,
            transform_invocations,
            firehose_delivered,
            firehose_dropped,
            firehose_failed,
            firehose_objects,
            shards_read,
            shards_ended,
            shards_blocked,
        } = other;
        self.records_read += records_read;
        self.batch_invocations += batch_invocations;
        self.batch_retries += batch_retries;
        self.bisections += bisections;
        self.on_failure_records += on_failure_records;
        self.transform_invocations += transform_invocations;
        self.firehose_delivered += firehose_delivered;
        self.firehose_dropped += firehose_dropped;
        self.firehose_failed += firehose_failed;
        self.firehose_objects.extend(firehose_objects);
        self.shards_read += shards_read;
        self.shards_ended += shards_ended;
        self.shards_blocked.extend(shards_blocked);
    }
}

/// One shard's reader.
struct ShardCursor {
    shard_id: String,
    iterator: Option<String>,
    /// The last GetRecords page was empty and at the tip of the shard.
    caught_up: bool,
    /// GetRecords answered without a NextShardIterator: the shard is closed and read to its
    /// end.
    ended: bool,
    /// The closed shard's children, from that last answer's `ChildShards`.
    children: Vec<ShardNode>,
    pending: VecDeque<StreamRecord>,
    first_pending_at: Option<Instant>,
}

/// How a shard's reader finished.
enum ShardEnd {
    /// Read to its end and everything delivered; these are its children.
    Ended(Vec<ShardNode>),
    /// The run is stopping and the shard is read up to its newest record.
    CaughtUp,
}

#[derive(Default)]
struct FirehoseBuffer {
    data: Vec<u8>,
    records: usize,
    opened: Option<Instant>,
}

/// Firehose's buffers, by prefix, shared by the shard readers.
type Buffers = Mutex<BTreeMap<String, FirehoseBuffer>>;

impl<L: Invoker> Pipeline<L> {
    async fn stream_arn(&self) -> Result<String> {
        let d = self
            .kinesis
            .describe_stream_summary()
            .stream_name(&self.stream)
            .send()
            .await?;
        Ok(d.stream_description_summary()
            .map(|s| s.stream_arn().to_owned())
            .unwrap_or_default())
    }

    /// Every shard of the stream, open and closed, with its parents: all pages of ListShards.
    ///
    /// AWS takes `NextToken` *instead of* `StreamName` on the later pages (both together are an
    /// InvalidArgumentException), and that is what this sends. moto 5.2 does not accept it: it
    /// answers `NextToken` alone with InvalidToken (it wants the first call's `StreamName`
    /// again, which AWS refuses), and it ignores `ExclusiveStartShardId`, AWS's other way to
    /// page, so paging by it would loop. Asking for the largest page AWS allows makes moto
    /// answer in one page (it pages only past `MaxResults`), so the `NextToken` path runs only
    /// against AWS, for a stream that lists more than 10,000 shards.
    pub async fn list_shards(&self) -> Result<Vec<ShardNode>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = self
                .kinesis
                .list_shards()
                .max_results(LIST_SHARDS_MAX_RESULTS);
            let request = match &token {
                None => request.stream_name(&self.stream),
                Some(t) => request.next_token(t),
            };
            let page = request
                .send()
                .await
                .with_context(|| format!("ListShards of {}", self.stream))?;
            out.extend(page.shards().iter().map(|s| {
                ShardNode::new(
                    s.shard_id(),
                    s.parent_shard_id()
                        .into_iter()
                        .chain(s.adjacent_parent_shard_id()),
                )
            }));
            match page.next_token() {
                Some(t) if !page.shards().is_empty() => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn poll(&self, c: &mut ShardCursor, limit: usize, report: &mut Report) -> Result<()> {
        let Some(it) = c.iterator.clone() else {
            c.ended = true;
            return Ok(());
        };
        let page = self
            .kinesis
            .get_records()
            .shard_iterator(it)
            .limit(limit.clamp(1, GET_RECORDS_MAX_LIMIT) as i32)
            .send()
            .await
            .with_context(|| format!("GetRecords on {}", c.shard_id))?;
        c.iterator = page.next_shard_iterator().map(str::to_owned);
        if c.iterator.is_none() {
            // The end of a closed shard (its last records may be in this same answer).
            c.ended = true;
            c.children = page
                .child_shards()
                .iter()
                .map(|s| ShardNode::new(s.shard_id(), s.parent_shards().iter().cloned()))
                .collect();
        }
        c.caught_up = page.records().is_empty() && page.millis_behind_latest().unwrap_or(0) == 0;
        for r in page.records() {
            if c.first_pending_at.is_none() {
                c.first_pending_at = Some(Instant::now());
            }
            report.records_read += 1;
            c.pending.push_back(StreamRecord {
                shard_id: c.shard_id.clone(),
                sequence_number: r.sequence_number().to_owned(),
                partition_key: r.partition_key().unwrap_or_default().to_owned(),
                data: r.data().as_ref().to_vec(),
                arrival_ms: r
                    .approximate_arrival_timestamp()
                    .map(|t| t.to_millis().unwrap_or(0))
                    .unwrap_or(0),
            });
        }
        Ok(())
    }

    fn send_to_on_failure(
        &self,
        records: &[StreamRecord],
        reason: &str,
        report: &mut Report,
    ) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.on_failure_file)?;
        // One write per shard's batch, so that concurrent shards do not interleave lines.
        let mut lines = Vec::new();
        for r in records {
            writeln!(
                lines,
                "{}",
                serde_json::json!({"shardId": r.shard_id, "sequenceNumber": r.sequence_number, "reason": reason})
            )?;
        }
        f.write_all(&lines)?;
        report.on_failure_records += records.len();
        Ok(())
    }

    /// Delivers the head of a shard's pending records to batch-to-s3 the way the event source
    /// mapping does, until that batch is checkpointed or sent to the on-failure destination.
    async fn deliver_batch(
        &self,
        c: &mut ShardCursor,
        arn: &str,
        report: &mut Report,
    ) -> Result<()> {
        let mut size = c.pending.len().min(self.settings.batch_size);
        let mut attempts: i64 = 0;
        while size > 0 {
            let batch: Vec<StreamRecord> = c.pending.iter().take(size).cloned().collect();
            report.batch_invocations += 1;
            let mut result = self
                .lambda
                .invoke(
                    &self.batch_function,
                    &kinesis_event(&batch, arn, &self.region),
                )
                .await;
            if result.is_ok() && take_one(&self.inject_batch_function_errors) {
                result = Err(InvokeError::Function {
                    function: self.batch_function.clone(),
                    kind: "Unhandled".into(),
                    payload: "injected function error (as if it timed out after its work)".into(),
                });
            }
            let failure = match result {
                Ok(answer) => match verdict(&batch, &answer) {
                    Verdict::Done => {
                        c.pending.drain(..size);
                        return Ok(());
                    }
                    Verdict::ResumeFrom(i) => {
                        // Records before the lowest failure are checkpointed.
                        c.pending.drain(..i);
                        None
                    }
                    Verdict::WholeBatchFailed(why) => Some(why),
                },
                Err(e) => Some(e.to_string()),
            };
            attempts += 1;
            report.batch_retries += 1;
            if self.settings.max_retry_attempts >= 0 && attempts > self.settings.max_retry_attempts
            {
                let n = size.min(c.pending.len());
                let failed: Vec<StreamRecord> = c.pending.drain(..n).collect();
                self.send_to_on_failure(
                    &failed,
                    failure.as_deref().unwrap_or("retries exhausted"),
                    report,
                )?;
                return Ok(());
            }
            size = match failure {
                // A function error: bisect if configured.
                Some(_) if self.settings.bisect_on_error && size > 1 => {
                    report.bisections += 1;
                    size / 2
                }
                _ => c.pending.len().min(self.settings.batch_size),
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Invokes the transform on up to a transform batch of pending records and buffers the results.
    async fn transform_batch(
        &self,
        c: &mut ShardCursor,
        arn: &str,
        buffers: &Buffers,
        report: &mut Report,
    ) -> Result<()> {
        let mut bytes = 0;
        let mut n = 0;
        for r in c.pending.iter().take(TRANSFORM_BATCH_RECORDS) {
            if n > 0 && bytes + r.data.len() > TRANSFORM_BATCH_BYTES {
                break;
            }
            bytes += r.data.len();
            n += 1;
        }
        let batch: Vec<StreamRecord> = c.pending.drain(..n).collect();
        let delivery_arn = format!(
            "arn:aws:firehose:{}:123456789012:deliverystream/{}",
            self.region, self.delivery_stream
        );
        let lambda_arn = format!(
            "arn:aws:lambda:{}:123456789012:function:{}",
            self.region, self.transform_function
        );
        let event = transform_event(&batch, &delivery_arn, arn, &self.region);
        let mut outcome = Err(String::new());
        for _ in 0..=TRANSFORM_RETRIES {
            report.transform_invocations += 1;
            outcome = match self.lambda.invoke(&self.transform_function, &event).await {
                Ok(answer) => apply_response(&batch, &answer),
                Err(e) => Err(e.to_string()),
            };
            if outcome.is_ok() {
                break;
            }
        }
        let outcomes =
            outcome.unwrap_or_else(|why| vec![Outcome::Failed { reason: why }; batch.len()]);
        let now = Utc::now();
        let mut buffers = buffers.lock().unwrap_or_else(PoisonError::into_inner);
        for (r, o) in batch.iter().zip(outcomes) {
            match o {
                Outcome::Deliver {
                    data,
                    partition_keys,
                } => {
                    let prefix = if partition_keys.is_empty() {
                        &self.settings.firehose_prefix
                    } else {
                        &self.settings.firehose_dynamic_prefix
                    };
                    let key = resolve_prefix(prefix, &partition_keys, None, now);
                    let b = buffers.entry(key).or_default();
                    b.opened.get_or_insert_with(Instant::now);
                    b.data.extend_from_slice(&data);
                    b.records += 1;
                    report.firehose_delivered += 1;
                }
                Outcome::Dropped => report.firehose_dropped += 1,
                Outcome::Failed { reason } => {
                    let key = resolve_prefix(
                        &self.settings.firehose_error_prefix,
                        &BTreeMap::new(),
                        Some("processing-failed"),
                        now,
                    );
                    let b = buffers.entry(key).or_default();
                    b.opened.get_or_insert_with(Instant::now);
                    b.data
                        .extend_from_slice(&error_line(r, &reason, &lambda_arn, now));
                    b.records += 1;
                    report.firehose_failed += 1;
                }
            }
        }
        Ok(())
    }

    /// Writes the buffers that are due (all of them with `all`). They are taken out of the
    /// shared map first, so no lock is held while S3 answers.
    async fn flush(&self, buffers: &Buffers, all: bool, report: &mut Report) -> Result<()> {
        let due: Vec<(String, FirehoseBuffer)> = {
            let mut buffers = buffers.lock().unwrap_or_else(PoisonError::into_inner);
            let keys: Vec<String> = buffers
                .iter()
                .filter(|(_, b)| {
                    all || b.data.len() >= self.settings.firehose_buffer_bytes
                        || b.opened
                            .is_some_and(|o| o.elapsed() >= self.settings.firehose_buffer_interval)
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| buffers.remove(&k).map(|b| (k, b)))
                .collect()
        };
        for (prefix, b) in due {
            if b.records == 0 {
                continue;
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&b.data)?;
            let body = gz.finish()?;
            let key = format!("{prefix}{}", object_name(&self.delivery_stream, Utc::now()));
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .body(body.clone().into())
                .send()
                .await
                .with_context(|| format!("writing s3://{}/{key}", self.bucket))?;
            report.firehose_objects.push((key, body.len(), b.records));
        }
        Ok(())
    }

    /// Reads one shard from TRIM_HORIZON and delivers its records, one batch at a time, until
    /// the shard's end, or, once `draining` is set, until it is read up to its newest record.
    async fn read_shard(
        &self,
        shard_id: String,
        path: Path,
        arn: &str,
        buffers: &Buffers,
        draining: &AtomicBool,
    ) -> Result<(String, ShardEnd, Report)> {
        let mut report = Report::default();
        let it = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .with_context(|| format!("GetShardIterator on {shard_id}"))?;
        let mut c = ShardCursor {
            shard_id,
            iterator: it.shard_iterator().map(str::to_owned),
            caught_up: false,
            ended: false,
            children: Vec::new(),
            pending: VecDeque::new(),
            first_pending_at: None,
        };
        loop {
            let room = self.settings.batch_size.saturating_sub(c.pending.len());
            if room > 0 && !c.ended {
                self.poll(&mut c, room, &mut report).await?;
            }
            let stopping = draining.load(Ordering::SeqCst);
            // A shard read to its end, or caught up while the run stops, is delivered at once
            // (the window would only wait for records that are not coming).
            let flushing = c.ended || (c.caught_up && stopping);
            let window_over = c
                .first_pending_at
                .is_some_and(|t| t.elapsed() >= self.settings.batching_window);
            let full = c.pending.len() >= self.settings.batch_size;
            while !c.pending.is_empty() && (full || window_over || flushing) {
                match path {
                    Path::BatchToS3 => self.deliver_batch(&mut c, arn, &mut report).await?,
                    Path::Firehose => {
                        self.transform_batch(&mut c, arn, buffers, &mut report)
                            .await?
                    }
                }
                if !flushing && c.pending.len() < self.settings.batch_size {
                    break;
                }
            }
            if c.pending.is_empty() {
                c.first_pending_at = None;
            }
            if path == Path::Firehose {
                self.flush(buffers, false, &mut report).await?;
            }
            if c.pending.is_empty() {
                if c.ended {
                    return Ok((c.shard_id, ShardEnd::Ended(c.children), report));
                }
                if c.caught_up && stopping {
                    return Ok((c.shard_id, ShardEnd::CaughtUp, report));
                }
            }
            if c.caught_up {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }

    /// Runs one path until every shard is read to its end (or up to its newest record) and
    /// everything is delivered.
    pub async fn drain(&self, path: Path) -> Result<Report> {
        self.run_until(path, std::future::ready(())).await
    }

    /// Runs one path as the managed service would, polling every shard and following
    /// resharding, until `stop` finishes; then reads every shard up to its newest record,
    /// delivers what is pending (Firehose: writes every buffer) and returns.
    ///
    /// A shard closed by a reshard is read to its end, its last batch checkpointed, and then
    /// its children start (a merged child once both parents are done). The run ends when no
    /// shard is being read and a fresh listing shows none that may start. A child whose
    /// parent's end was never seen is not read (`Report::shards_blocked`).
    pub async fn run_until(&self, path: Path, stop: impl Future<Output = ()>) -> Result<Report> {
        let arn = self.stream_arn().await?;
        let buffers: Buffers = Mutex::new(BTreeMap::new());
        let draining = AtomicBool::new(false);
        let mut lineage = Lineage::default();
        let mut report = Report::default();
        let mut listed_at: Option<Instant> = None;
        let mut stop = std::pin::pin!(stop);
        let mut readers = Concurrent::default();
        loop {
            let stopping = draining.load(Ordering::SeqCst);
            if listed_at.is_none_or(|t| t.elapsed() >= RELIST_INTERVAL)
                || (stopping && readers.is_empty())
            {
                lineage.learn(self.list_shards().await?);
                listed_at = Some(Instant::now());
            }
            for id in lineage.ready() {
                lineage.started(&id);
                report.shards_read += 1;
                readers.push(self.read_shard(id, path, &arn, &buffers, &draining));
            }
            if stopping && readers.is_empty() {
                break;
            }
            tokio::select! {
                finished = readers.next(), if !readers.is_empty() => {
                    let (id, end, shard_report) = finished?;
                    report.merge(shard_report);
                    match end {
                        ShardEnd::Ended(children) => {
                            report.shards_ended += 1;
                            lineage.drained(&id);
                            lineage.learn(children);
                        }
                        ShardEnd::CaughtUp => lineage.caught_up(&id),
                    }
                }
                () = stop.as_mut(), if !stopping => draining.store(true, Ordering::SeqCst),
                () = tokio::time::sleep(RELIST_INTERVAL) => {}
            }
        }
        if path == Path::Firehose {
            self.flush(&buffers, true, &mut report).await?;
        }
        report.shards_blocked = lineage.blocked();
        Ok(report)
    }
}

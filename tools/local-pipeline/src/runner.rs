//! The I/O loop of the stand-ins: reads every shard with GetShardIterator/GetRecords, invokes
//! the functions through the Lambda Invoke API of `cargo lambda watch`, and (for Firehose)
//! writes the buffered objects to S3.

use crate::esm::{kinesis_event, verdict, StreamRecord, Verdict};
use crate::firehose::{
    apply_response, error_line, object_name, resolve_prefix, transform_event, Outcome,
};
use crate::settings::Settings;
use anyhow::{anyhow, Context, Result};
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::Utc;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Firehose invokes the transform with batches of about this size (its processor's
/// `BufferSizeInMBs` default is 1 MB) and at most this many records.
pub const TRANSFORM_BATCH_BYTES: usize = 1024 * 1024;
pub const TRANSFORM_BATCH_RECORDS: usize = 500;
/// Firehose retries a failing transform invocation this many times (its default).
pub const TRANSFORM_RETRIES: u32 = 3;
/// Pause between GetRecords rounds (AWS polls each shard about once a second).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

fn take_one(counter: &std::sync::atomic::AtomicUsize) -> bool {
    use std::sync::atomic::Ordering;
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

/// Where things are.
pub struct Pipeline {
    pub kinesis: aws_sdk_kinesis::Client,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
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
}

struct ShardCursor {
    shard_id: String,
    iterator: Option<String>,
    caught_up: bool,
    pending: VecDeque<StreamRecord>,
    first_pending_at: Option<Instant>,
}

#[derive(Default)]
struct FirehoseBuffer {
    data: Vec<u8>,
    records: usize,
    opened: Option<Instant>,
}

impl Pipeline {
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

    async fn cursors(&self) -> Result<Vec<ShardCursor>> {
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.stream)
            .send()
            .await?;
        let mut out = Vec::new();
        for s in shards.shards() {
            let it = self
                .kinesis
                .get_shard_iterator()
                .stream_name(&self.stream)
                .shard_id(s.shard_id())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await?;
            out.push(ShardCursor {
                shard_id: s.shard_id().to_owned(),
                iterator: it.shard_iterator().map(str::to_owned),
                caught_up: false,
                pending: VecDeque::new(),
                first_pending_at: None,
            });
        }
        Ok(out)
    }

    async fn poll(&self, c: &mut ShardCursor, limit: usize, report: &mut Report) -> Result<()> {
        let Some(it) = c.iterator.clone() else {
            c.caught_up = true;
            return Ok(());
        };
        let page = self
            .kinesis
            .get_records()
            .shard_iterator(it)
            .limit(limit.clamp(1, 10_000) as i32)
            .send()
            .await?;
        c.iterator = page.next_shard_iterator().map(str::to_owned);
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

    async fn invoke(&self, function: &str, event: &Value) -> Result<Value> {
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(serde_json::to_vec(
                event,
            )?))
            .send()
            .await
            .with_context(|| format!("invoking {function}"))?;
        let payload = out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        if let Some(kind) = out.function_error() {
            return Err(anyhow!(
                "{function} returned a function error ({kind}): {}",
                String::from_utf8_lossy(&payload)
            ));
        }
        if payload.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&payload)
            .with_context(|| format!("{function} answered something that is not JSON"))
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
        for r in records {
            writeln!(
                f,
                "{}",
                serde_json::json!({"shardId": r.shard_id, "sequenceNumber": r.sequence_number, "reason": reason})
            )?;
        }
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
                .invoke(
                    &self.batch_function,
                    &kinesis_event(&batch, arn, &self.region),
                )
                .await;
            if result.is_ok() && take_one(&self.inject_batch_function_errors) {
                result = Err(anyhow!(
                    "injected function error (as if {} timed out after its work)",
                    self.batch_function
                ));
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
        buffers: &mut BTreeMap<String, FirehoseBuffer>,
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
            outcome = match self.invoke(&self.transform_function, &event).await {
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

    async fn flush(
        &self,
        buffers: &mut BTreeMap<String, FirehoseBuffer>,
        all: bool,
        report: &mut Report,
    ) -> Result<()> {
        let due: Vec<String> = buffers
            .iter()
            .filter(|(_, b)| {
                all || b.data.len() >= self.settings.firehose_buffer_bytes
                    || b.opened
                        .is_some_and(|o| o.elapsed() >= self.settings.firehose_buffer_interval)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for prefix in due {
            let Some(b) = buffers.remove(&prefix) else {
                continue;
            };
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

    /// Runs one path until every shard is read to its end and everything is delivered.
    pub async fn drain(&self, path: Path) -> Result<Report> {
        let arn = self.stream_arn().await?;
        let mut cursors = self.cursors().await?;
        let mut report = Report::default();
        let mut buffers: BTreeMap<String, FirehoseBuffer> = BTreeMap::new();
        loop {
            for c in cursors.iter_mut() {
                let room = self.settings.batch_size.saturating_sub(c.pending.len());
                if room > 0 && !c.caught_up {
                    self.poll(c, room, &mut report).await?;
                }
                let window_over = c
                    .first_pending_at
                    .is_some_and(|t| t.elapsed() >= self.settings.batching_window);
                let full = c.pending.len() >= self.settings.batch_size;
                // Draining: a shard read to its end is delivered at once (the window would
                // only wait for records that are not coming).
                while !c.pending.is_empty() && (full || window_over || c.caught_up) {
                    match path {
                        Path::BatchToS3 => self.deliver_batch(c, &arn, &mut report).await?,
                        Path::Firehose => {
                            self.transform_batch(c, &arn, &mut buffers, &mut report)
                                .await?
                        }
                    }
                    if !c.caught_up && c.pending.len() < self.settings.batch_size {
                        break;
                    }
                }
                if c.pending.is_empty() {
                    c.first_pending_at = None;
                }
            }
            self.flush(&mut buffers, false, &mut report).await?;
            if cursors.iter().all(|c| c.caught_up && c.pending.is_empty()) {
                break;
            }
            if cursors.iter().any(|c| c.caught_up) {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        self.flush(&mut buffers, true, &mut report).await?;
        Ok(report)
    }
}

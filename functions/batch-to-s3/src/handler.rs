//! The invocation, end to end:
//!
//! 1. read the shard's state (a failure here retries the whole batch: without it we cannot
//!    know what is stored); if it holds the write intent of an invocation that did not
//!    finish (killed, timed out), settle it first (`shard_state/`);
//! 2. skip the records at or below the high-water mark;
//! 3. plan the objects for the rest (`plan.rs`), record them as the intent (a conditional
//!    PUT of the state), write them in order (`write.rs`);
//! 4. on a failure, roll back to a stored prefix and report the first unstored record as
//!    the only batch item failure;
//! 5. move the mark to the last stored record and clear the intent (one conditional PUT);
//! 6. log the summary and print the EMF metrics.
//!
//! If the last step fails although the data objects are stored, the invocation still
//! reports success: the records *are* durably stored, and the intent left in the state
//! tells the next invocation so, whatever batch it gets. This is logged at `error` and
//! counted in `HighWaterMarkUpdateFailures`.
//!
//! No window is left: a process killed at any point (before any PUT, after the intent,
//! between two data PUTs, after the last one, after the mark) is followed by an invocation
//! that settles the intent from what exists in S3, and every record ends stored once.
//! Requests: one GET of the state, one PUT of the intent, the data PUTs, one PUT of the
//! mark (one PUT more than without the intent); settling costs a HEAD per planned object.

use crate::catalog::{table_definition, TableDef};
use crate::config::Config;
use crate::error::{EventError, WriteError};
use crate::event::{response, ShardBatch, StreamEvent};
use crate::glue::{ensure_table_logged, CatalogReport, NoCatalog, CATALOG_TIMEOUT};
use crate::key::{state_key, window_key};
use crate::metrics::Summary;
use crate::plan::{plan_skipping, ObjectKind};
use crate::shard_state::intent::{Intent, IntentObject};
use crate::shard_state::watermark::first_unstored;
use crate::shard_state::ShardState;
use crate::store::{Condition, ObjectStore, PutObject};
use crate::write::{settle, write_plan};
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::LambdaEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};
use trickle_glue::GlueTables;
use trickle_kinesis_batch::identities::{
    identities_in, may_carry_identities, next_slot, skip_stored, Skips, WindowRef,
};
use trickle_shared::deadline::invocation_deadline;
use trickle_shared::identity::IdentityWindow;
use trickle_shared::SequenceNumber;

/// The function: configuration plus where objects go, and optionally the Glue table that
/// describes them.
pub struct BatchToS3<S, C = NoCatalog> {
    config: Config,
    store: S,
    /// The catalog and the table to keep matching (`with_catalog`).
    catalog: Option<(C, TableDef)>,
    /// Set once the table matched: not looked at again in this container.
    catalog_done: AtomicBool,
}

/// The result of one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The sequence number to report in `batchItemFailures` (none: full success).
    pub retry_from: Option<String>,
    pub summary: Summary,
}

impl<S: ObjectStore> BatchToS3<S> {
    /// The function without a Glue catalog.
    pub fn new(config: Config, store: S) -> Self {
        Self {
            config,
            store,
            catalog: None,
            catalog_done: AtomicBool::new(false),
        }
    }
}

impl<S, C> BatchToS3<S, C> {
    /// The function keeping the configuration's Glue table matching in `catalog`. Without
    /// `GLUE_TABLE` (and `SCHEMA`) in the configuration, the catalog is never called.
    pub fn with_catalog<K: GlueTables>(self, catalog: K) -> BatchToS3<S, K> {
        let table = table_definition(&self.config);
        BatchToS3 {
            catalog: table.map(|t| (catalog, t)),
            config: self.config,
            store: self.store,
            catalog_done: AtomicBool::new(false),
        }
    }

    /// The store (tests inspect it).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The catalog, if one is called (tests inspect it).
    pub fn catalog(&self) -> Option<&C> {
        self.catalog.as_ref().map(|(c, _)| c)
    }
}

impl<S: ObjectStore, C: GlueTables> BatchToS3<S, C> {
    /// Handles one Lambda invocation. Only a malformed event is an invocation error. The
    /// runtime gives a `StreamEvent`; tests may give `aws_lambda_events`' `KinesisEvent`.
    pub async fn handle<E: Into<StreamEvent>>(
        &self,
        event: LambdaEvent<E>,
    ) -> Result<KinesisEventResponse, lambda_runtime::Error> {
        // 0 or a deadline already past (`cargo lambda watch`): no deadline known.
        let deadline = invocation_deadline(event.context.deadline, SystemTime::now());
        tracing::debug!(
            deadline_ms = event.context.deadline,
            now_ms = chrono::Utc::now().timestamp_millis(),
            "invocation"
        );
        let outcome = self.process(event.payload, deadline).await.map_err(|e| {
            tracing::error!(error = %e, "malformed Kinesis event");
            e
        })?;
        Ok(response(outcome.retry_from.as_deref()))
    }

    /// Processes one event, logs its summary and prints its metrics.
    pub async fn process(
        &self,
        event: impl Into<StreamEvent>,
        deadline: Option<SystemTime>,
    ) -> Result<Outcome, EventError> {
        let started = Instant::now();
        let Some(batch) = ShardBatch::from_event(event.into())? else {
            return Ok(Outcome::default());
        };
        let catalog = self.ensure_catalog().await;
        let mut outcome = self.store_batch(&batch, deadline).await;
        outcome.summary.catalog_failures = usize::from(catalog.failed);
        outcome.summary.catalog_columns_added = catalog.columns_added;
        outcome.summary.catalog_type_conflicts = catalog.type_conflicts;
        outcome.summary.duration_ms = started.elapsed().as_millis();
        outcome.summary.log();
        trickle_shared::emf::emit(&outcome.summary.emf(chrono::Utc::now().timestamp_millis()));
        Ok(outcome)
    }

    async fn store_batch(&self, batch: &ShardBatch, deadline: Option<SystemTime>) -> Outcome {
        let now = chrono::Utc::now();
        let mut summary = Summary {
            stream: batch.stream_name.clone(),
            shard_id: batch.shard_id.clone(),
            records_in: batch.records.len(),
            bytes_in: batch.data_bytes(),
            oldest_record_age_ms: batch.oldest_record_age_ms(now),
            ..Summary::default()
        };
        let fail_at = |summary: &mut Summary, index: usize, err: &WriteError| {
            let seq = batch.records.get(index).map(|r| r.sequence_text.clone());
            tracing::error!(error = %err, retry_from = seq.as_deref(), "records not stored");
            summary.failure = Some(err.to_string());
            summary.retry_from = seq;
        };

        // 1. The mark.
        let key = state_key(
            &self.config.state_prefix,
            &batch.stream_name,
            &batch.shard_id,
        );
        let state = ShardState::new(&self.store, &key, &batch.shard_id);
        let (mut mark, intent, mut etag) = match state.read().await {
            Ok(m) => m,
            Err(e) => {
                fail_at(&mut summary, 0, &e);
                return finish(summary);
            }
        };
        // An intent left by an invocation that died while writing: settle it first.
        if let Some(intent) = intent {
            match state.settle(&intent, mark.clone(), etag.take()).await {
                Ok((m, e, deleted)) => {
                    tracing::warn!(key = %key, objects = intent.objects.len(), deleted,
                        mark = ?m.as_ref().map(ToString::to_string),
                        "settled the write intent of an invocation that did not finish");
                    summary.intents_settled += 1;
                    summary.objects_rolled_back += deleted;
                    mark = m;
                    etag = e;
                }
                Err(e) => {
                    fail_at(&mut summary, 0, &e);
                    return finish(summary);
                }
            }
        }
        summary.high_water_mark = mark.as_ref().map(ToString::to_string);
        let identities_read = state.identities();

        // 2. Skip what is stored.
        let start = first_unstored(
            batch.records.iter().map(|r| r.sequence.clone()),
            mark.as_ref(),
        );
        summary.records_skipped = start;

        // Identities (`trickle_kinesis_batch::identities`): a batch that may carry one reads
        // the shard's window; records at or below the mark enter it, copies after it are
        // skipped.
        let mut window: Option<IdentityWindow> = None;
        let mut skips = Skips::default();
        if may_carry_identities(&batch.records) {
            match self.read_window(&state).await {
                Ok(mut w) => {
                    skips =
                        skip_stored(&mut w, &batch.records, identities_in(&batch.records), start);
                    summary.duplicates_skipped = skips.duplicates;
                    summary.identities_forgotten_early = skips.trimmed.forgotten_early;
                    summary.identity_window_size = w.len();
                    if skips.trimmed.forgotten_early > 0 {
                        tracing::warn!(
                            forgotten = skips.trimmed.forgotten_early,
                            "identity window full: identities younger than the window forgotten"
                        );
                    }
                    window = Some(w);
                }
                Err(e) => {
                    fail_at(&mut summary, 0, &e);
                    return finish(summary);
                }
            }
        }
        let todo = &batch.records[start..];
        if todo.is_empty() {
            // A redelivery after a crash can bring identities the committed window lacks:
            // kept with the mark, or the whole batch comes again.
            if let Some(w) = window.as_ref().filter(|w| w.changed()) {
                let kept = match self.write_window(&state, w).await {
                    Ok(()) => state.write(mark.as_ref(), None, etag).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = kept {
                    fail_at(&mut summary, 0, &e);
                }
            }
            return finish(summary);
        }

        // 3. Plan and write.
        let planned = match plan_skipping(&self.config, &batch.shard_id, todo, &|u| {
            skips.set.contains(&(start + u.record, u.sub))
        }) {
            Ok(p) => p,
            Err(e) => {
                fail_at(&mut summary, start, &e);
                self.keep_identities_before(
                    &state,
                    batch,
                    start,
                    mark.as_ref(),
                    None,
                    etag,
                    &mut summary,
                )
                .await;
                return finish(summary);
            }
        };
        summary.user_records = planned.user_records;
        summary.records_overflowed = planned.overflowed;
        summary.records_reingested_skipped = planned.reingested_copies;
        summary.fields_dropped = planned.fields_dropped;
        summary.wrapped_as_value = planned.wrapped_as_value;
        summary.wrapped_as_message = planned.wrapped_as_message;
        summary.wrapped_as_base64 = planned.wrapped_as_base64;
        let ranges: Vec<(usize, usize)> =
            planned.objects.iter().map(|o| (o.first, o.last)).collect();
        if planned.objects.is_empty() {
            // Nothing to write (every record a re-ingested copy or a copy of a stored
            // identity): only the mark moves, with the window.
            if let Some(w) = window.as_ref().filter(|w| w.changed()) {
                if let Err(e) = self.write_window(&state, w).await {
                    // From the first record: those at or below the mark may have entered
                    // the window, and come again only so.
                    fail_at(&mut summary, 0, &e);
                    return finish(summary);
                }
            }
            if let Some(last) = todo.last() {
                move_mark(&state, &last.sequence, etag, &mut summary).await;
            }
            return finish(unsaved_window(summary, &state, &identities_read, batch));
        }
        // Too close to the deadline to start: nothing is written, not even the intent.
        if deadline.is_some_and(|d| SystemTime::now() + self.config.deadline_margin > d) {
            fail_at(&mut summary, start, &WriteError::DeadlineNear);
            self.keep_identities_before(
                &state,
                batch,
                start,
                mark.as_ref(),
                None,
                etag,
                &mut summary,
            )
            .await;
            return finish(summary);
        }
        // The intent, before the first data PUT (`shard_state/intent.rs`): a process killed
        // from here on leaves enough for the next invocation to know what is stored.
        let intent = Intent::new(
            planned
                .objects
                .iter()
                .map(|o| IntentObject {
                    key: o.put.key.clone(),
                    first: o.first,
                    last: o.last,
                })
                .collect(),
            &todo.iter().map(|r| &r.sequence).collect::<Vec<_>>(),
        );
        let etag = match state
            .write(mark.as_ref(), Some(intent.clone()), etag.clone())
            .await
        {
            Ok(e) => e,
            Err(e) => {
                fail_at(&mut summary, start, &e);
                self.keep_identities_before(
                    &state,
                    batch,
                    start,
                    mark.as_ref(),
                    None,
                    etag,
                    &mut summary,
                )
                .await;
                return finish(summary);
            }
        };
        let report = write_plan(
            &self.store,
            planned.objects,
            deadline,
            self.config.deadline_margin,
        )
        .await;

        // 4. Settle what is stored.
        let (stored_up_to, keep) = match settle(&ranges, report.written.len()) {
            None => (Some(todo.len() - 1), vec![true; report.written.len()]),
            Some(s) => {
                let err = report
                    .failure
                    .as_ref()
                    .map(|(_, e)| e.clone())
                    .unwrap_or(WriteError::DeadlineNear);
                fail_at(&mut summary, start + s.retry_from, &err);
                (s.retry_from.checked_sub(1), s.keep)
            }
        };
        let mut rolled_back = true;
        for (object, keep) in report.written.iter().zip(keep) {
            if keep {
                if object.created {
                    summary.objects_written += 1;
                    summary.bytes_written += object.bytes;
                } else {
                    summary.objects_already_stored += 1;
                }
                if let ObjectKind::Error(_) = object.kind {
                    summary.records_to_errors += object.user_records;
                }
                continue;
            }
            match self.store.delete_object(&object.key).await {
                Ok(()) => summary.objects_rolled_back += 1,
                Err(e) => {
                    // The intent stays: the next invocation settles it (deletes it again).
                    tracing::error!(error = %e, key = %object.key,
                        "could not roll back an object after a failure; the next invocation will");
                    rolled_back = false;
                }
            }
        }

        // A failed PUT may have been applied (its answer lost): remove it.
        // (Not counted as rolled back: usually there is nothing to delete.)
        if let Some(key) = &report.uncertain_key {
            if let Err(e) = self.store.delete_object(key).await {
                tracing::error!(error = %e, key = %key,
                    "could not remove an object whose PUT failed; the next invocation will");
                rolled_back = false;
            }
        }

        // 5. Move the mark and clear the intent (both in one conditional PUT). If the
        // rollback is incomplete, the intent is left for the next invocation to settle.
        // Lambda resumes at the first record not stored; those before it are not delivered
        // again, so the window that goes with the state holds their identities (all of the
        // batch's when everything is stored).
        let resume = start + stored_up_to.map_or(0, |k| k + 1);
        if !rolled_back {
            // The intent stays for the next invocation to settle, which moves the mark at
            // least to `resume`.
            self.keep_identities_before(
                &state,
                batch,
                resume,
                mark.as_ref(),
                Some(intent),
                etag,
                &mut summary,
            )
            .await;
            return finish(summary);
        }
        // The window that goes with the mark: after a partial failure, only the identities
        // of the records before `resume` (the others are not stored, and come again). Not
        // written: the intent stays, and the next invocation settles it; Lambda delivers the
        // whole batch again, which brings the identities back.
        let partial;
        let with_mark = if resume == batch.records.len() {
            window.as_ref()
        } else {
            partial = match self.window_before(&state, batch, resume).await {
                Ok(w) => w,
                Err(e) => {
                    fail_at(&mut summary, 0, &e);
                    return finish(summary);
                }
            };
            partial.as_ref()
        };
        if let Some(w) = with_mark.filter(|w| w.changed()) {
            if let Err(e) = self.write_window(&state, w).await {
                fail_at(&mut summary, 0, &e);
                return finish(summary);
            }
        }
        let to = match stored_up_to {
            Some(last) => Some(&todo[last].sequence),
            None => mark.as_ref(),
        };
        match to {
            Some(to) => move_mark(&state, to, etag, &mut summary).await,
            None => {
                if let Err(e) = state.write(None, None, etag).await {
                    tracing::error!(error = %e, key = %key,
                        "could not clear the write intent; the next invocation will settle it");
                    summary.mark_update_failed = true;
                }
            }
        }
        finish(unsaved_window(summary, &state, &identities_read, batch))
    }

    /// After a failure that Lambda resumes at record `resume`: the records before it are not
    /// delivered again, so the identities this invocation found there (records at or below
    /// the mark after a crash) go with the state now, beside `mark` and `intent`. If that
    /// fails, the batch is reported from its first record, which brings them back.
    #[allow(clippy::too_many_arguments)]
    async fn keep_identities_before(
        &self,
        state: &ShardState<'_, S>,
        batch: &ShardBatch,
        resume: usize,
        mark: Option<&SequenceNumber>,
        intent: Option<Intent>,
        etag: Option<String>,
        summary: &mut Summary,
    ) {
        let kept = match self.window_before(state, batch, resume).await {
            Ok(Some(w)) if w.changed() => match self.write_window(state, &w).await {
                Ok(()) => state.write(mark, intent, etag).await.map(|_| ()),
                Err(e) => Err(e),
            },
            Ok(_) => return,
            Err(e) => Err(e),
        };
        if let Err(e) = kept {
            tracing::error!(error = %e, "could not keep the identities of the stored records; the batch comes again from its first record");
            summary.retry_from = batch.records.first().map(|r| r.sequence_text.clone());
        }
    }

    /// The committed window (read again: only a failure needs it) with the identities of
    /// the batch's records before `resume`; `None` for a batch without identities.
    async fn window_before(
        &self,
        state: &ShardState<'_, S>,
        batch: &ShardBatch,
        resume: usize,
    ) -> Result<Option<IdentityWindow>, WriteError> {
        if !may_carry_identities(&batch.records) {
            return Ok(None);
        }
        let mut w = self.read_window(state).await?;
        skip_stored(
            &mut w,
            &batch.records,
            identities_in(&batch.records[..resume]),
            resume,
        );
        Ok(Some(w))
    }

    /// The shard's committed identity window (empty when the state names none).
    async fn read_window(&self, state: &ShardState<'_, S>) -> Result<IdentityWindow, WriteError> {
        let Some(text) = state.identities() else {
            return Ok(IdentityWindow::new());
        };
        let corrupt = |key: &str, reason: String| WriteError::CorruptState {
            key: key.to_owned(),
            reason,
        };
        let reference = WindowRef::parse(&text).map_err(|r| corrupt(state.key(), r))?;
        let key = window_key(state.key(), reference.slot.name());
        let object = self.store.get_object(&key).await?.ok_or_else(|| {
            corrupt(
                &key,
                "the identity window the shard's state names is missing".into(),
            )
        })?;
        reference.read(&object.body).map_err(|r| corrupt(&key, r))
    }

    /// Writes `window` to the slot the committed one is not in; the state's next write names
    /// it.
    async fn write_window(
        &self,
        state: &ShardState<'_, S>,
        window: &IdentityWindow,
    ) -> Result<(), WriteError> {
        let committed = state
            .identities()
            .and_then(|text| WindowRef::parse(&text).ok());
        let slot = next_slot(committed.as_ref());
        let body = window.encode();
        let reference = WindowRef::of(slot, &body);
        self.store
            .put_object(PutObject {
                key: window_key(state.key(), slot.name()),
                body,
                content_type: "application/octet-stream",
                content_encoding: None,
                metadata: Vec::new(),
                condition: Condition::None,
            })
            .await?;
        state.set_identities(Some(reference.to_string()));
        Ok(())
    }

    /// Makes the Glue table match, until that succeeded once in this container. (Lambda
    /// runs one invocation at a time per container; concurrent calls in a test would both
    /// try, which `ensure_table` tolerates.)
    async fn ensure_catalog(&self) -> CatalogReport {
        let Some((catalog, table)) = &self.catalog else {
            return CatalogReport::default();
        };
        if self.catalog_done.load(Ordering::Acquire) {
            return CatalogReport::default();
        }
        let database = self
            .config
            .glue
            .as_ref()
            .map_or("", |g| g.database.as_str());
        // Boxed: the Glue SDK's futures are large and deeply nested, and run once per
        // container; inline they would bloat every invocation's future (and exceed the
        // compiler's layout depth limit in main).
        let report = Box::pin(ensure_table_logged(
            catalog,
            database,
            table,
            CATALOG_TIMEOUT,
        ))
        .await;
        if !report.failed {
            self.catalog_done.store(true, Ordering::Release);
        }
        report
    }
}

/// A mark that could not be moved leaves the data stored (the next invocation settles the
/// intent) but not the window written for it: then the batch is reported from its first
/// record, whose delivery brings the identities back (at or below the settled mark).
fn unsaved_window<S: ObjectStore>(
    mut summary: Summary,
    state: &ShardState<'_, S>,
    identities_read: &Option<String>,
    batch: &ShardBatch,
) -> Summary {
    if summary.mark_update_failed && state.identities() != *identities_read {
        tracing::warn!("the identity window was not saved with the mark: the batch comes again");
        summary.retry_from = batch.records.first().map(|r| r.sequence_text.clone());
    }
    summary
}

/// Moves the mark to `to` (clearing any intent), recording the outcome in the summary.
/// If it fails although the data is stored, the invocation still succeeds: the next one
/// finds the intent (or the old mark) and settles it.
async fn move_mark<S: ObjectStore>(
    state: &ShardState<'_, S>,
    to: &SequenceNumber,
    etag: Option<String>,
    summary: &mut Summary,
) {
    match state.advance(to, etag).await {
        Ok(m) => summary.high_water_mark = Some(m.to_string()),
        Err(e) => {
            tracing::error!(error = %e, key = %state.key(),
                "data is stored but the high-water mark could not be advanced");
            summary.mark_update_failed = true;
        }
    }
}

fn finish(summary: Summary) -> Outcome {
    Outcome {
        retry_from: summary.retry_from.clone(),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Partitioning;
    use crate::encode::Compression;
    use crate::key::KeyLayout;
    use crate::store::memory::MemoryStore;
    use aws_lambda_events::event::kinesis::KinesisEvent;
    use std::io::Read;
    use trickle_glue::MemoryGlueTables as MemoryCatalog;

    fn fixture(name: &str) -> KinesisEvent {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    /// The same event with only some of its records (a bisected or re-formed batch).
    fn reform(event: &KinesisEvent, range: std::ops::Range<usize>) -> KinesisEvent {
        let mut e = event.clone();
        e.records = event.records[range].to_vec();
        e
    }

    fn config() -> Config {
        Config {
            bucket: "b".into(),
            prefix: "raw/".into(),
            error_prefix: "errors/".into(),
            state_prefix: "state/".into(),
            compression: Compression::Gzip,
            gzip_level: trickle_shared::gzip::DEFAULT_GZIP_LEVEL,
            key_layout: KeyLayout::Firehose,
            partitioning: None,
            deadline_margin: crate::config::DEFAULT_DEADLINE_MARGIN,
            format: crate::config::Format::Ndjson,
            schema: None,
            glue: None,
            non_json_records: crate::config::NonJsonRecords::Wrap,
        }
    }

    fn partitioned(pointer: &str) -> Config {
        Config {
            partitioning: Some(Partitioning {
                pointer: pointer.into(),
                name: pointer.trim_start_matches('/').into(),
                default_value: "__HIVE_DEFAULT_PARTITION__".into(),
                max_partitions: 100,
            }),
            ..config()
        }
    }

    fn function(config: Config) -> BatchToS3<MemoryStore> {
        BatchToS3::new(config, MemoryStore::new())
    }

    fn gunzip(body: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(body)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    /// Every line of every object under a prefix, sorted.
    fn stored_lines<C>(f: &BatchToS3<MemoryStore, C>, prefix: &str) -> Vec<String> {
        let store = f.store();
        let mut lines: Vec<String> = store
            .keys(prefix)
            .iter()
            .flat_map(|k| {
                let o = store.object(k).unwrap();
                gunzip(&o.body)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines
    }

    fn data_lines(event: &KinesisEvent) -> Vec<String> {
        let mut lines: Vec<String> = event
            .records
            .iter()
            .map(|r| {
                // As the object holds it: one line of JSON (`ndjson_line`).
                let line = trickle_shared::json::ndjson_line(&r.kinesis.data.0);
                String::from_utf8(line.as_bytes().to_vec()).unwrap()
            })
            .collect();
        lines.sort();
        lines
    }

    fn mark(f: &BatchToS3<MemoryStore>) -> Option<String> {
        let keys = f.store().keys("state/");
        let key = keys.first()?;
        let o = f.store().object(key)?;
        crate::shard_state::watermark::HighWaterMark::parse(&o.body)
            .ok()
            .map(|s| s.to_string())
    }

    fn seq(event: &KinesisEvent, i: usize) -> String {
        event.records[i].kinesis.sequence_number.clone()
    }

    #[tokio::test]
    async fn stores_a_batch_as_one_compressed_object_with_metadata() {
        let event = fixture("kinesis-batch.json");
        let f = function(config());
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from, None);
        let keys = f.store().keys("raw/");
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(keys[0].starts_with("raw/2024/06/10/06/shardId-000000000000-"));
        assert!(keys[0].ends_with(".ndjson.gz"));
        let o = f.store().object(&keys[0]).unwrap();
        assert_eq!(o.content_type, "application/x-ndjson");
        assert_eq!(o.content_encoding.as_deref(), Some("gzip"));
        let meta: std::collections::HashMap<_, _> = o.metadata.iter().cloned().collect();
        assert_eq!(meta["shard-id"], "shardId-000000000000");
        assert_eq!(meta["first-sequence-number"], seq(&event, 0));
        assert_eq!(meta["last-sequence-number"], seq(&event, 3));
        assert_eq!(meta["record-count"], "4");
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
        assert_eq!(mark(&f), Some(seq(&event, 3)));
        assert_eq!(
            f.store().keys("state/"),
            ["state/trickle/shardId-000000000000.json"]
        );
        assert_eq!(out.summary.objects_written, 1);
        assert_eq!(out.summary.records_in, 4);
    }

    #[tokio::test]
    async fn a_retried_batch_is_skipped_below_the_mark() {
        let event = fixture("kinesis-batch.json");
        let f = function(config());
        f.process(event.clone(), None).await.unwrap();
        let puts = f.store().puts.lock().unwrap().len();
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from, None);
        assert_eq!(out.summary.records_skipped, 4);
        assert_eq!(f.store().puts.lock().unwrap().len(), puts, "no PUT at all");
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
    }

    #[tokio::test]
    async fn a_reformed_overlapping_batch_stores_each_record_once() {
        let event = fixture("kinesis-batch.json");
        let f = function(config());
        f.process(reform(&event, 0..2), None).await.unwrap();
        // Bisected, then re-formed with newer records: 1..4 overlaps the first batch.
        f.process(reform(&event, 1..2), None).await.unwrap();
        let out = f.process(reform(&event, 1..4), None).await.unwrap();
        assert_eq!(out.summary.records_skipped, 1);
        assert_eq!(f.store().keys("raw/").len(), 2);
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
        assert_eq!(mark(&f), Some(seq(&event, 3)));
    }

    /// Fails every state PUT after the first (the intent goes through, the mark does not).
    fn fail_state_puts_after_the_intent(f: &BatchToS3<MemoryStore>) {
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        f.store().fail_puts_where(move |k| {
            k.starts_with("state/") && n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1
        });
    }

    #[tokio::test]
    async fn a_lost_mark_update_is_healed_by_the_intent() {
        let event = fixture("kinesis-batch.json");
        let f = function(config());
        fail_state_puts_after_the_intent(&f);
        let out = f.process(event.clone(), None).await.unwrap();
        // The data is stored: success, but loudly.
        assert_eq!(out.retry_from, None);
        assert!(out.summary.mark_update_failed);
        assert_eq!(mark(&f), None, "the state holds the intent, no mark yet");
        f.store().heal();
        // A bisected redelivery: the intent says everything was stored.
        let out = f.process(reform(&event, 0..2), None).await.unwrap();
        assert_eq!(out.summary.intents_settled, 1);
        assert_eq!(out.summary.records_skipped, 2);
        assert_eq!(out.summary.objects_written, 0);
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
        assert_eq!(mark(&f), Some(seq(&event, 3)));
    }

    #[tokio::test]
    async fn an_invocation_killed_between_its_puts_is_settled_by_the_next_whatever_it_gets() {
        // Partitioned by /n-like values: one object per record, so a kill can fall between
        // data PUTs. The kill is a future dropped while a PUT is pending (the process-level
        // SIGKILL test is tests/tests/crash.rs).
        let event = fixture("kinesis-batch.json");
        for stop_after in 0..=event.records.len() + 1 {
            let f = function(partitioned("/customer"));
            let puts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let p = puts.clone();
            // PUT number `stop_after` (0: the intent) never answers.
            f.store().hang_puts_where(move |_| {
                p.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == stop_after
            });
            let run = f.process(event.clone(), None);
            let killed = tokio::time::timeout(std::time::Duration::from_millis(200), run).await;
            f.store().heal();
            if killed.is_ok() {
                // Past the last PUT: it finished.
                continue;
            }
            // Lambda's next delivery, three ways: the same batch, a bisected half, a re-formed
            // batch with newer records; every record stored once.
            for next in [0..event.records.len(), 0..2, 2..event.records.len()] {
                let out = f.process(reform(&event, next.clone()), None).await.unwrap();
                assert_eq!(out.retry_from, None, "{stop_after} {next:?}");
            }
            f.process(event.clone(), None).await.unwrap();
            let mut lines = stored_lines(&f, "raw/");
            lines.extend(stored_lines(&f, "errors/"));
            lines.sort();
            assert_eq!(lines, data_lines(&event), "killed at PUT {stop_after}");
            assert_eq!(mark(&f), Some(seq(&event, event.records.len() - 1)));
        }
    }

    #[tokio::test]
    async fn reports_first_unwritten_sequence_number_and_writes_nothing_after_it() {
        // Partitioned by /n: one object per record, written in shard order.
        let event = fixture("kinesis-moto-sequence-numbers.json");
        let f = function(partitioned("/n"));
        f.store().fail_puts_where(|k| k.contains("n=10/"));
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from.as_deref(), Some("10"));
        let keys = f.store().keys("raw/");
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(keys[0].starts_with("raw/n=9/"));
        let puts = f.store().puts.lock().unwrap().clone();
        assert!(!puts.iter().any(|k| k.contains("n=11/")), "{puts:?}");
        assert_eq!(mark(&f).as_deref(), Some("9"));
        // Lambda retries from 10.
        f.store().heal();
        let out = f.process(reform(&event, 1..3), None).await.unwrap();
        assert_eq!(out.retry_from, None);
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
    }

    #[tokio::test]
    async fn rolls_back_interleaved_partitions_to_a_stored_prefix() {
        // acme holds records 0 and 2, globex record 1: when globex fails, acme's object
        // holds a record after the failure, so it is deleted and record 0 is reported.
        let event = fixture("kinesis-batch.json");
        let f = function(partitioned("/customer"));
        f.store()
            .fail_puts_where(|k| k.contains("customer=globex/"));
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from, Some(seq(&event, 0)));
        assert_eq!(out.summary.objects_rolled_back, 1);
        assert!(f.store().keys("raw/").is_empty());
        assert_eq!(mark(&f), None);
        f.store().heal();
        assert_eq!(
            f.process(event.clone(), None).await.unwrap().retry_from,
            None
        );
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
        assert_eq!(f.store().keys("raw/").len(), 3);
    }

    #[tokio::test]
    async fn unprocessable_records_go_to_error_objects_with_the_reason() {
        let event = fixture("kinesis-corrupt-aggregate-and-not-json.json");
        let f = function(partitioned("/customer"));
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from, None);
        assert_eq!(out.summary.records_to_errors, 2);
        let errors = f.store().keys("errors/");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("errors/corrupt-aggregate/2024/06/10/06/"));
        assert!(errors[1].starts_with("errors/not-json/"));
        let o = f.store().object(&errors[1]).unwrap();
        assert!(o
            .metadata
            .contains(&("error-reason".to_owned(), "not-json".to_owned())));
        let line: serde_json::Value = serde_json::from_str(gunzip(&o.body).trim_end()).unwrap();
        assert_eq!(line["sequenceNumber"], seq(&event, 2));
        assert_eq!(line["errorCode"], "not-json");
        assert_eq!(stored_lines(&f, "raw/").len(), 2);
        assert_eq!(mark(&f), Some(seq(&event, 3)));
    }

    /// A keyed request's records at positions `order` (a position twice is a copy: a lost
    /// PutRecords answer, a retry that took over a vanished attempt), sequence numbers from
    /// `first_seq` up.
    fn keyed_event(order: &[u32], first_seq: u64) -> KinesisEvent {
        let base = fixture("kinesis-batch.json");
        let mut records = Vec::new();
        for (i, &p) in order.iter().enumerate() {
            let mut r = base.records[0].clone();
            let seq = (first_seq + i as u64).to_string();
            r.event_id = Some(format!("shardId-000000000000:{seq}"));
            r.kinesis.sequence_number = seq;
            r.kinesis.partition_key = trickle_shared::identity::Identity::of(KEYED_ID, p)
                .unwrap()
                .partition_key(None);
            r.kinesis.data.0 = format!("{{\"p\":\"{p}\"}}").into_bytes();
            records.push(r);
        }
        let mut event = base;
        event.records = records;
        event
    }

    const KEYED_ID: &str = "00112233445566778899aabbccddeeff";

    fn positions(lines: &[String]) -> Vec<u32> {
        let mut p: Vec<u32> = lines
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["p"].as_str().unwrap().parse().unwrap()
            })
            .collect();
        p.sort_unstable();
        p
    }

    #[tokio::test]
    async fn copies_of_a_keyed_requests_records_are_stored_once_within_and_across_batches() {
        let f = function(config());
        // Positions 1 and 3 twice in one batch.
        let out = f
            .process(keyed_event(&[0, 1, 2, 1, 3, 3, 4], 100), None)
            .await
            .unwrap();
        assert_eq!(out.retry_from, None);
        assert_eq!(out.summary.duplicates_skipped, 2);
        assert_eq!(out.summary.identity_window_size, 5);
        // Later batches: copies of stored ones (the window is read from its slot), a new
        // position, and records without identities, which are never skipped.
        let out = f.process(keyed_event(&[4, 0, 5], 200), None).await.unwrap();
        assert_eq!(out.summary.duplicates_skipped, 2);
        let plain = fixture("kinesis-batch.json");
        let out = f.process(plain.clone(), None).await.unwrap();
        assert_eq!(out.summary.duplicates_skipped, 0);
        let lines = stored_lines(&f, "raw/");
        let keyed: Vec<String> = lines
            .iter()
            .filter(|l| l.contains("\"p\""))
            .cloned()
            .collect();
        assert_eq!(positions(&keyed), [0, 1, 2, 3, 4, 5]);
        assert_eq!(lines.len() - keyed.len(), data_lines(&plain).len());
        // The window is in its own object; the state names it with its content's MD5.
        let state = f
            .store()
            .object("state/trickle/shardId-000000000000.json")
            .unwrap();
        let state: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
        let reference = state["identities"].as_str().unwrap();
        assert!(
            reference.starts_with("b:"),
            "{reference}: the second window, slot b"
        );
        assert!(f
            .store()
            .object("state/trickle/shardId-000000000000.identities-b.bin")
            .is_some());
    }

    #[tokio::test]
    async fn a_slot_that_changed_under_its_reference_is_an_error_not_trusted() {
        let f = function(config());
        f.process(keyed_event(&[0, 1], 100), None).await.unwrap();
        f.store()
            .put_object(PutObject {
                key: "state/trickle/shardId-000000000000.identities-a.bin".into(),
                body: IdentityWindow::new().encode(),
                content_type: "application/octet-stream",
                content_encoding: None,
                metadata: Vec::new(),
                condition: Condition::None,
            })
            .await
            .unwrap();
        let out = f.process(keyed_event(&[1, 2], 200), None).await.unwrap();
        assert_eq!(out.retry_from.as_deref(), Some("200"));
        assert!(out
            .summary
            .failure
            .unwrap()
            .contains("changed under its reference"));
        assert_eq!(positions(&stored_lines(&f, "raw/")), [0, 1]);
    }

    /// Lambda as it resumes after a reported failure: from the record it names.
    async fn deliver_until_stored(f: &BatchToS3<MemoryStore>, event: &KinesisEvent) -> usize {
        let mut from = 0;
        let mut failures = 0;
        while from < event.records.len() {
            let out = f
                .process(reform(event, from..event.records.len()), None)
                .await
                .unwrap();
            match out.retry_from {
                None => break,
                Some(seq) => {
                    failures += 1;
                    assert!(failures < 50);
                    from = event
                        .records
                        .iter()
                        .position(|r| r.kinesis.sequence_number == seq)
                        .unwrap();
                }
            }
        }
        failures
    }

    #[tokio::test]
    async fn keyed_copies_stay_stored_once_when_any_put_fails_and_lambda_resumes_where_told() {
        // Each PUT number in turn fails once (an S3 500): the intent, a data object, the
        // window's slot, the mark. Lambda resumes from the record the answer names, so
        // records before it never come again: their identities must be kept.
        let event = keyed_event(&[0, 1, 2, 0, 3, 1, 4, 2], 100);
        for fail_at in 0..12 {
            let f = function(partitioned("/p"));
            let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            f.store().fail_puts_where(move |_| {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == fail_at
            });
            deliver_until_stored(&f, &event).await;
            f.store().heal();
            // Copies after all of it.
            deliver_until_stored(&f, &keyed_event(&[3, 4, 0], 900)).await;
            assert_eq!(
                positions(&stored_lines(&f, "raw/")),
                [0, 1, 2, 3, 4],
                "PUT {fail_at} failed"
            );
        }
    }

    #[tokio::test]
    async fn a_batch_of_copies_whose_window_cannot_be_written_comes_again_from_its_start() {
        // The mark of [0, 1, 2] is stored without its window (the state PUT after the data
        // failed): the next delivery settles the intent and takes 0..2 into the window as
        // they pass. When that delivery holds only copies after the mark and its window
        // cannot be written, it must come again from its first record, or 0..2 are never
        // taken in and a later copy is stored again.
        let event = keyed_event(&[0, 1, 2, 0], 100);
        let f = function(config());
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        f.store().fail_puts_where(move |k| {
            k.starts_with("state/") && n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1
        });
        let out = f.process(reform(&event, 0..3), None).await.unwrap();
        assert_eq!(out.retry_from.as_deref(), Some("100"));
        f.store().heal();
        f.store()
            .fail_puts_where(|k| k.contains(".identities-") && k.ends_with(".bin"));
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(
            out.retry_from.as_deref(),
            Some("100"),
            "from the first record"
        );
        f.store().heal();
        deliver_until_stored(&f, &event).await;
        deliver_until_stored(&f, &keyed_event(&[1, 2], 900)).await;
        assert_eq!(positions(&stored_lines(&f, "raw/")), [0, 1, 2]);
    }

    #[tokio::test]
    async fn keyed_copies_stay_stored_once_when_a_writer_is_killed_at_any_put() {
        // One object per record (partitioned by /p), copies across the batch, and a kill at
        // every PUT (intent, data, window, mark); then Lambda's next deliveries.
        let event = keyed_event(&[0, 1, 2, 0, 3, 1, 4, 2], 100);
        let n = event.records.len();
        for stop_after in 0..=n + 3 {
            let f = function(partitioned("/p"));
            let puts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let p = puts.clone();
            f.store().hang_puts_where(move |_| {
                p.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == stop_after
            });
            let killed = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                f.process(event.clone(), None),
            )
            .await;
            f.store().heal();
            if killed.is_ok() {
                continue;
            }
            for next in [0..n, 0..3, 3..n, 0..n] {
                let out = f.process(reform(&event, next.clone()), None).await.unwrap();
                assert_eq!(out.retry_from, None, "{stop_after} {next:?}");
            }
            // And a copy that comes after all of it.
            f.process(keyed_event(&[3, 4], 900), None).await.unwrap();
            assert_eq!(
                positions(&stored_lines(&f, "raw/")),
                [0, 1, 2, 3, 4],
                "killed at PUT {stop_after}"
            );
        }
    }

    #[tokio::test]
    async fn skips_copies_firehose_transform_put_back_and_moves_the_mark_past_them() {
        let mut event = fixture("kinesis-batch.json");
        let copies = [1, event.records.len() - 1];
        for &i in &copies {
            event.records[i].kinesis.partition_key =
                trickle_shared::reingest::reingested_partition_key("pk");
        }
        let f = function(config());
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from, None);
        assert_eq!(out.summary.records_reingested_skipped, copies.len());
        let mut expected = data_lines(&event);
        for &i in &copies {
            let line = String::from_utf8(event.records[i].kinesis.data.0.clone()).unwrap();
            let at = expected.iter().position(|l| *l == line.trim_end()).unwrap();
            expected.remove(at);
        }
        assert_eq!(stored_lines(&f, "raw/"), expected);
        // The last record is a copy: the mark still covers it, so it is never redone.
        assert_eq!(mark(&f), Some(seq(&event, event.records.len() - 1)));
    }

    #[tokio::test]
    async fn non_json_is_fine_without_partitioning() {
        let event = fixture("kinesis-corrupt-aggregate-and-not-json.json");
        let f = function(config());
        let out = f.process(event, None).await.unwrap();
        assert_eq!(out.summary.records_to_errors, 1);
        // Text that is not JSON is a line of JSON: {"message": ...}.
        assert!(stored_lines(&f, "raw/").contains(&r#"{"message":"Hello World"}"#.to_owned()));
        assert_eq!(out.summary.wrapped_as_message, 1);
    }

    #[tokio::test]
    async fn deaggregates_kpl_records_from_the_official_aggregator() {
        let event = fixture("kinesis-kpl-aggregated.json");
        let f = function(config());
        let out = f.process(event, None).await.unwrap();
        assert_eq!(out.summary.user_records, 7);
        let lines = stored_lines(&f, "raw/");
        assert_eq!(lines.len(), 7);
        assert!(lines.contains(&r#"{"customer":"initech","n":5}"#.to_owned()));
        assert!(lines.contains(&r#"{"customer":"plain","n":0}"#.to_owned()));
    }

    #[tokio::test]
    async fn compares_emulator_sequence_numbers_as_integers() {
        let event = fixture("kinesis-moto-sequence-numbers.json");
        let f = function(config());
        f.process(reform(&event, 0..2), None).await.unwrap();
        assert_eq!(mark(&f).as_deref(), Some("10"));
        // As strings "9" > "10" and record 9 would be written again.
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.summary.records_skipped, 2);
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
        let keys = f.store().keys("raw/");
        assert!(keys[0] < keys[1] && keys[0].contains("-0019-"), "{keys:?}");
    }

    #[tokio::test]
    async fn an_unreadable_mark_retries_the_whole_batch() {
        let event = fixture("kinesis-batch.json");
        let f = function(config());
        f.store().fail_gets(true);
        let out = f.process(event.clone(), None).await.unwrap();
        assert_eq!(out.retry_from, Some(seq(&event, 0)));
        assert!(f.store().puts.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn writes_nothing_when_the_deadline_is_near() {
        let event = fixture("kinesis-batch.json");
        let f = function(config());
        let out = f
            .process(event.clone(), Some(SystemTime::now()))
            .await
            .unwrap();
        assert_eq!(out.retry_from, Some(seq(&event, 0)));
        assert!(f.store().keys("").is_empty());
    }

    #[tokio::test]
    async fn handle_answers_batch_item_failures() {
        let f = function(config());
        f.store().fail_puts_where(|k| k.starts_with("raw/"));
        let event = fixture("kinesis-batch.json");
        let first = seq(&event, 0);
        let answer = f
            .handle(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(answer).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": first}]})
        );
    }

    fn with_glue(schema: &str) -> Config {
        Config {
            schema: Some(std::sync::Arc::new(
                trickle_columnar::TableSchema::parse(schema).unwrap(),
            )),
            glue: Some(crate::config::GlueTable {
                database: "db".into(),
                table: "events".into(),
            }),
            ..config()
        }
    }

    fn calls(f: &BatchToS3<MemoryStore, MemoryCatalog>) -> Vec<&'static str> {
        f.catalog().unwrap().calls()
    }

    /// The Glue table as `TableDef` holds it.
    fn stored_table(f: &BatchToS3<MemoryStore, MemoryCatalog>) -> Option<TableDef> {
        let t = f.catalog().unwrap().table("events")?;
        Some(crate::glue::table_def(&t))
    }

    #[tokio::test]
    async fn makes_the_glue_table_match_once_on_the_first_invocation() {
        let event = fixture("kinesis-batch.json");
        let f = function(with_glue("customer string, n int")).with_catalog(MemoryCatalog::new());
        assert!(calls(&f).is_empty(), "nothing before the first invocation");
        let out = f.process(reform(&event, 0..2), None).await.unwrap();
        assert_eq!(out.summary.objects_written, 1);
        assert_eq!(stored_table(&f), table_definition(&f.config));
        f.process(reform(&event, 2..4), None).await.unwrap();
        assert_eq!(calls(&f), ["GetTable", "CreateTable"]);
    }

    #[tokio::test]
    async fn a_catalog_failure_is_counted_and_tried_again_while_writing_goes_on() {
        let event = fixture("kinesis-batch.json");
        let f = function(with_glue("n int")).with_catalog(MemoryCatalog::new());
        f.catalog().unwrap().fail_all(true);
        let out = f.process(reform(&event, 0..2), None).await.unwrap();
        assert_eq!(out.retry_from, None);
        assert_eq!(out.summary.objects_written, 1);
        assert_eq!(out.summary.catalog_failures, 1);
        assert_eq!(out.summary.emf(0)["CatalogUpdateFailures"], 1);
        f.catalog().unwrap().fail_all(false);
        let out = f.process(reform(&event, 2..3), None).await.unwrap();
        assert_eq!(out.summary.catalog_failures, 0);
        assert!(stored_table(&f).is_some());
        f.process(reform(&event, 3..4), None).await.unwrap();
        assert_eq!(calls(&f), ["GetTable", "GetTable", "CreateTable"]);
        assert_eq!(stored_lines(&f, "raw/"), data_lines(&event));
    }

    #[tokio::test]
    async fn counts_added_columns_and_type_conflicts() {
        let catalog = MemoryCatalog::new();
        let def = table_definition(&with_glue("customer string, n int")).unwrap();
        catalog.insert(&crate::glue::table_input(&def, None).unwrap());
        let f = function(with_glue("customer string, n bigint, seen date")).with_catalog(catalog);
        let out = f
            .process(fixture("kinesis-batch.json"), None)
            .await
            .unwrap();
        assert_eq!(out.summary.catalog_columns_added, 1);
        assert_eq!(out.summary.catalog_type_conflicts, 1);
        let doc = out.summary.emf(0);
        assert_eq!(doc["CatalogColumnsAdded"], 1);
        assert_eq!(doc["CatalogTypeConflicts"], 1);
        let table = stored_table(&f).unwrap();
        let columns: Vec<_> = table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty.as_str()))
            .collect();
        assert_eq!(
            columns,
            [("customer", "string"), ("n", "int"), ("seen", "date")]
        );
    }

    #[tokio::test]
    async fn a_catalog_without_a_glue_table_is_never_called() {
        let f = function(config()).with_catalog(MemoryCatalog::new());
        assert!(f.catalog().is_none());
        let out = f
            .process(fixture("kinesis-batch.json"), None)
            .await
            .unwrap();
        assert_eq!(out.summary.catalog_failures, 0);
    }

    #[tokio::test]
    async fn a_malformed_event_fails_the_invocation() {
        let mut event = fixture("kinesis-batch.json");
        event.records.swap(0, 1);
        let f = function(config());
        assert!(f
            .handle(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
            .is_err());
    }
}

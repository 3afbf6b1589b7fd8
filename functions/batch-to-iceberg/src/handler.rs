//! One invocation, end to end: read the shard's checkpoint from the table, encode the
//! records after it, store the error lines, write the data files, and commit them with the
//! new checkpoint in one snapshot. Stream semantics (see `checkpoint.rs` for exactly once):
//!
//! - Lambda sends one shard's records in order; with `ReportBatchItemFailures` it resumes
//!   from the lowest sequence number in `batchItemFailures`. A batch is committed whole or
//!   not at all, so a failure reports the first record after the checkpoint. Routed, each
//!   table is committed (at once with the others) in a snapshot of its own; a failure
//!   reports the first record some table still lacks.
//! - Error lines are stored before the commit: once the checkpoint passes a record, its
//!   error line is durable. (A crash between the two stores them again on the retry: error
//!   lines are at least once, rows exactly once.)
//! - A conflict (another shard, or another engine, committed first) and an unknown outcome
//!   (timeout, 5xx, connection lost after sending) are both retried from the top: read the
//!   table and the checkpoint again, then commit what is still after it. If the unknown
//!   commit had been applied, the checkpoint says so and nothing is committed twice.
//! - Data files written for an attempt are reused by the next while the checkpoint, the
//!   schema and the partition spec stay the same; otherwise they are written again and the
//!   old ones are orphans (never referenced by any snapshot).
//! - A batch with no row to commit (all error lines, or re-ingested copies) makes no
//!   snapshot; its records' error lines are stored and it reports success.

use crate::catalog::LocationCatalog;
use crate::checkpoint::{self, CorruptCheckpoint};
use crate::config::{Config, DEADLINE_MARGIN_MS};
use crate::metadata_location::{LocationError, MetadataLocationStore};
use crate::metrics::Summary;
use crate::route::{route, Routed};
use crate::rows::{self, Rejected};
use crate::schema::{iceberg_schema, SchemaError, TableColumns};
use aws_lambda_events::event::streams::KinesisEventResponse;
use iceberg::spec::{DataFile, UnboundPartitionSpec};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::TableCreation;
use lambda_runtime::LambdaEvent;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};
use trickle_kinesis_batch::decode::{write_error_lines, UserRecord};
use trickle_kinesis_batch::identities::{
    identities_of, may_carry_identities, next_slot, skip_stored, Skips, Slot, WindowRef,
};
use trickle_kinesis_batch::{response, EventError, ShardBatch, SourceRecord, StreamEvent};
use trickle_shared::batching::full_jitter;
use trickle_shared::deadline::{invocation_deadline, time_left};
use trickle_shared::identity::IdentityWindow;

/// Table properties of a table this function creates.
pub const NEW_TABLE_PROPERTIES: [(&str, &str); 2] = [
    ("write.parquet.compression-codec", "zstd"),
    // Athena and Glue's optimizers want v2 (format-version is set by TableCreation too).
    ("write.metadata.delete-after-commit.enabled", "false"),
];
/// Summary property naming the writer of a snapshot.
pub const WRITER_PROPERTY: &str = "trickle.writer";
pub const WRITER: &str = "batch-to-iceberg";
/// Backoff between commit attempts: full jitter under a ceiling doubling from this, at most
/// `MAX_BACKOFF` (racing shards do not retry in step).
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_millis(2_000);

/// Why a batch was not committed (reported through `batchItemFailures`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the table does not exist and SCHEMA is not set to create it")]
    NoTableNoSchema,
    #[error("iceberg: {0}")]
    Iceberg(String),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Checkpoint(#[from] CorruptCheckpoint),
    #[error("the catalog: {0}")]
    Catalog(LocationError),
    #[error("storing the error lines failed: {0}")]
    ErrorObject(String),
    #[error("the identity window: {0}")]
    IdentityWindow(String),
    #[error("too little time left before the deadline to commit again")]
    DeadlineNear,
    #[error("{0} commit attempts, each lost to another writer or unanswered")]
    AttemptsExhausted(u32),
}

impl From<iceberg::Error> for CommitError {
    fn from(e: iceberg::Error) -> Self {
        Self::Iceberg(e.to_string())
    }
}

/// The function: its configuration and a catalog per table.
pub struct BatchToIceberg<P> {
    config: Config,
    /// `catalogs[i]` holds `config.tables[i]`.
    catalogs: Vec<LocationCatalog<P>>,
    /// One batch at a time per instance, as a Lambda instance runs them: a catalog keeps
    /// its table as last read (with its `VersionId`) for the commit that follows, so two
    /// batches sharing an instance (tests, local runs) must not interleave. Concurrency is
    /// between instances (one per shard), which race through the catalog as they should.
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// Files written for an attempt, reusable while these hold.
struct Prepared {
    start: usize,
    schema_id: i32,
    spec_id: i32,
    files: Vec<DataFile>,
    rows: usize,
    /// The window reference to commit with the checkpoint (the summary property), when the
    /// batch carries identities.
    identities: Option<(String, String)>,
}

/// A table as read for a batch, and the index of the batch's first record after its
/// checkpoint.
struct TableRead {
    table: Table,
    start: usize,
}

/// A failed batch: the index of the first record a retry must start from, and why.
type Failed = (usize, CommitError);

impl BatchToIceberg<crate::catalog::AnyLocation> {
    /// The function on the AWS SDK: the tables' files through `s3`, their metadata
    /// locations through `glue` or `s3tables` (as `ICEBERG_CATALOG` says). Inside the tokio
    /// runtime.
    pub fn from_clients(
        config: Config,
        s3: aws_sdk_s3::Client,
        glue: aws_sdk_glue::Client,
        s3tables: aws_sdk_s3tables::Client,
    ) -> iceberg::Result<Self> {
        let file_io = iceberg::io::FileIOBuilder::new(std::sync::Arc::new(
            crate::storage::S3StorageFactory::new(s3),
        ))
        .build();
        let mut catalogs = Vec::with_capacity(config.tables.len());
        for spec in &config.tables {
            let store = match &config.catalog {
                crate::config::CatalogKind::Glue { .. } => {
                    crate::catalog::AnyLocation::Glue(crate::metadata_location::GlueLocation::new(
                        trickle_glue::SdkGlueTables::new(glue.clone(), config.database.clone()),
                        config.database.clone(),
                        spec.name.clone(),
                    ))
                }
                crate::config::CatalogKind::S3Tables { table_bucket_arn } => {
                    crate::catalog::AnyLocation::S3Tables(crate::s3tables::S3TablesLocation::new(
                        s3tables.clone(),
                        table_bucket_arn.clone(),
                        config.database.clone(),
                        spec.name.clone(),
                    ))
                }
            };
            catalogs.push(LocationCatalog::new(
                store,
                file_io.clone(),
                &config.database,
                &spec.name,
            )?);
        }
        Ok(Self::new(config, catalogs))
    }
}

impl BatchToIceberg<crate::metadata_location::GlueLocation<trickle_glue::MemoryGlueTables>> {
    /// The function on iceberg's in-memory storage, each table in an in-memory Glue of its
    /// own (tests and the in-process bench).
    pub fn in_memory(config: Config) -> iceberg::Result<Self> {
        let file_io = iceberg::io::FileIO::new_with_memory();
        let catalogs = config
            .tables
            .iter()
            .map(|t| {
                LocationCatalog::new(
                    crate::metadata_location::GlueLocation::new(
                        trickle_glue::MemoryGlueTables::new(),
                        config.database.clone(),
                        t.name.clone(),
                    ),
                    file_io.clone(),
                    &config.database,
                    &t.name,
                )
            })
            .collect::<iceberg::Result<_>>()?;
        Ok(Self::new(config, catalogs))
    }
}

impl<P: MetadataLocationStore> BatchToIceberg<P> {
    /// `catalogs[i]` holds `config.tables[i]`.
    pub fn new(config: Config, catalogs: Vec<LocationCatalog<P>>) -> Self {
        assert_eq!(
            catalogs.len(),
            config.tables.len(),
            "a catalog for each table"
        );
        Self {
            config,
            catalogs,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// The first table's catalog (the one table's, without routes).
    pub fn catalog(&self) -> &LocationCatalog<P> {
        &self.catalogs[0]
    }

    /// Every table's catalog, in `Config::tables`' order.
    pub fn catalogs(&self) -> &[LocationCatalog<P>] {
        &self.catalogs
    }

    /// The Lambda entry point. Only a malformed event fails the invocation.
    pub async fn handle(
        &self,
        event: LambdaEvent<StreamEvent>,
    ) -> Result<KinesisEventResponse, lambda_runtime::Error> {
        let deadline = invocation_deadline(event.context.deadline, SystemTime::now());
        let Some(batch) = ShardBatch::from_event(event.payload).map_err(|e: EventError| {
            tracing::error!(error = %e, "malformed event");
            lambda_runtime::Error::from(e)
        })?
        else {
            return Ok(response(None));
        };
        let summary = self.process(&batch, deadline).await;
        summary.log();
        trickle_shared::emf::emit(&summary.emf(chrono::Utc::now().timestamp_millis()));
        Ok(response(summary.retry_from.as_deref()))
    }

    /// One shard's batch; the summary says what happened (`retry_from` on failure).
    /// `deadline`: the invocation's (`None`: no deadline known).
    pub async fn process(&self, batch: &ShardBatch, deadline: Option<SystemTime>) -> Summary {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        let started = Instant::now();
        let mut summary = Summary {
            stream: batch.stream_name.clone(),
            shard_id: batch.shard_id.clone(),
            records_in: batch.records.len(),
            bytes_in: batch.data_bytes(),
            oldest_record_age_ms: batch.oldest_record_age_ms(chrono::Utc::now()),
            ..Default::default()
        };
        let routing = Instant::now();
        let routed = route(
            &batch.records,
            self.config.router.as_ref(),
            self.catalogs.len(),
        );
        summary.encode_us += routing.elapsed().as_micros() as u64;
        if let Err((start, e)) = self.commit(batch, routed, deadline, &mut summary).await {
            summary.retry_from = batch.records.get(start).map(|r| r.sequence_text.clone());
            summary.failure = Some(e.to_string());
        }
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary
    }

    /// Commits each table's records of the batch, each table in a snapshot of its own with
    /// its own checkpoint, after storing the error lines of the records no table takes.
    /// On failure: the index of the first record not committed to every table, and why.
    ///
    /// Routed, each table's checkpoint says which of the batch's records it holds: a batch
    /// whose commits did not all land (a crash, a lost race, the deadline) is delivered
    /// again and every table commits only what it lacks.
    async fn commit(
        &self,
        batch: &ShardBatch,
        routed: Routed<'_>,
        deadline: Option<SystemTime>,
        summary: &mut Summary,
    ) -> Result<(), Failed> {
        let records = &batch.records;
        if records.is_empty() {
            return Ok(());
        }
        let key = checkpoint::key(&batch.stream_name, &batch.shard_id);
        let Routed {
            per_table,
            unrouted,
        } = routed;
        // Where a retry must start for each table with records: its first record until its
        // checkpoint is read, then the first record after the checkpoint; `None` once all
        // of its records are committed.
        let mut starts: Vec<Option<usize>> = per_table
            .iter()
            .map(|users| users.first().map(|u| u.record))
            .collect();
        // The first record a retry needs: the first of some table's records not yet in it.
        let retry_from = |starts: &[Option<usize>]| {
            starts
                .iter()
                .zip(&per_table)
                .filter_map(|(start, users)| {
                    let start = (*start)?;
                    users[users.partition_point(|u| u.record < start)..]
                        .first()
                        .map(|u| u.record)
                })
                .min()
        };
        // Every table with records, read (or created) at once, and its checkpoint.
        let reads = per_table
            .iter()
            .enumerate()
            .filter(|(_, users)| !users.is_empty())
            .map(|(i, _)| {
                let key = &key;
                async move {
                    let mut own = Summary::default();
                    let read = match self.table(i, &mut own).await {
                        Ok(table) => checkpoint_start(&table, key, records)
                            .map(|start| (table, start))
                            .map_err(CommitError::from),
                        Err(e) => Err(e),
                    };
                    (i, read, own)
                }
            });
        let mut tables = Vec::new();
        let mut failure = None;
        for (i, read, own) in futures::future::join_all(reads).await {
            summary.add_table(&own);
            match read {
                Ok((table, start)) => {
                    starts[i] = Some(start);
                    tables.push((i, TableRead { table, start }));
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err((retry_from(&starts).unwrap_or(0), e));
        }
        // Records at or below every checkpoint were seen by an earlier delivery, which
        // stored their error lines before committing.
        let pending = starts.iter().flatten().min().copied().unwrap_or(0);
        summary.records_skipped = pending;
        summary.checkpoint = checkpoint_of(records, pending);
        let unrouted: Vec<Rejected> = unrouted
            .into_iter()
            .filter(|u| u.record >= pending)
            .collect();
        if !unrouted.is_empty() {
            summary.records_unrouted = unrouted.len();
            summary.records_to_errors += unrouted.len();
            let uploading = Instant::now();
            self.store_errors(batch, pending, None, &unrouted)
                .await
                .map_err(|e| (pending, e))?;
            summary.upload_us += uploading.elapsed().as_micros() as u64;
        }
        // The tables commit at once: each has its own catalog, checkpoint and retries, so
        // their commits overlap instead of adding up (docs/design/performance.md).
        let mut commits = Vec::new();
        for (i, read) in tables {
            let users = &per_table[i];
            if users.last().is_none_or(|u| u.record < read.start) {
                starts[i] = None; // all of its records are in it: a redelivery.
                continue;
            }
            let key = &key;
            commits.push(async move {
                let mut own = Summary::default();
                let committed = self
                    .commit_table(i, read, batch, users, key, deadline, &mut own)
                    .await;
                (i, committed, own)
            });
        }
        let mut failure = None;
        for (i, committed, own) in futures::future::join_all(commits).await {
            summary.add_table(&own);
            match committed {
                Ok(()) => starts[i] = None,
                Err((start, e)) => {
                    starts[i] = Some(start);
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err((retry_from(&starts).unwrap_or(0), e));
        }
        summary.checkpoint = records.last().map(|r| r.sequence_text.clone());
        Ok(())
    }

    /// Commits `users` (table `index`'s records of the batch) after the table's checkpoint,
    /// with the batch's last sequence number as its new checkpoint. `read`: the table and
    /// its checkpoint as just read. On failure: the index of the first record not committed,
    /// and why.
    #[allow(clippy::too_many_arguments)]
    async fn commit_table(
        &self,
        index: usize,
        read: TableRead,
        batch: &ShardBatch,
        users: &[UserRecord<'_>],
        key: &str,
        deadline: Option<SystemTime>,
        summary: &mut Summary,
    ) -> Result<(), Failed> {
        let records = &batch.records;
        let last = records.last().expect("a batch with records");
        let catalog = &self.catalogs[index];
        let mut prepared: Option<Prepared> = None;
        let TableRead {
            mut table,
            mut start,
        } = read;
        for attempt in 0..self.config.commit_attempts {
            if attempt > 0 {
                let wait = full_jitter(attempt, FIRST_BACKOFF, MAX_BACKOFF, fastrand::f64());
                if deadline.is_some_and(|d| {
                    time_left(d, SystemTime::now())
                        < wait + Duration::from_millis(DEADLINE_MARGIN_MS)
                }) {
                    return Err((start, CommitError::DeadlineNear));
                }
                tokio::time::sleep(wait).await;
                table = self.table(index, summary).await.map_err(|e| (start, e))?;
                start = checkpoint_start(&table, key, records).map_err(|e| (start, e.into()))?;
            }
            if users.last().is_none_or(|u| u.record < start) {
                // Everything is in the table: an unknown commit that was applied after all.
                return Ok(());
            }
            let metadata = table.metadata();
            let p = match prepared.take() {
                Some(p)
                    if p.start == start
                        && p.schema_id == metadata.current_schema_id()
                        && p.spec_id == metadata.default_partition_spec_id() =>
                {
                    prepared.insert(p)
                }
                _ => {
                    let from = users.partition_point(|u| u.record < start);
                    let (identities, skips) = self
                        .skip_identities_stored(index, &table, batch, users, start, summary)
                        .await
                        .map_err(|e| (start, e))?;
                    let kept: Vec<UserRecord<'_>>;
                    let todo = if skips.set.is_empty() {
                        &users[from..]
                    } else {
                        kept = users[from..]
                            .iter()
                            .filter(|u| !skips.skips(u))
                            .cloned()
                            .collect();
                        &kept[..]
                    };
                    let mut p = self
                        .prepare(index, &table, batch, todo, start, summary)
                        .await
                        .map_err(|e| (start, e))?;
                    p.identities = identities;
                    prepared.insert(p)
                }
            };
            if p.files.is_empty() {
                return Ok(());
            }
            summary.commit_attempts += 1;
            let committing = Instant::now();
            let outcome = self
                .append(catalog, &table, &p.files, key, last, p.identities.as_ref())
                .await;
            summary.commit_us += committing.elapsed().as_micros() as u64;
            match outcome {
                Ok(committed) => {
                    summary.snapshot_id = committed.metadata().current_snapshot_id();
                    summary.rows_committed += p.rows;
                    summary.data_files += p.files.len();
                    summary.bytes_written +=
                        p.files.iter().map(|f| f.file_size_in_bytes()).sum::<u64>();
                    summary.tables_committed += 1;
                    return Ok(());
                }
                Err(e) => match catalog.take_swap_error() {
                    Some(LocationError::Conflict(_)) => summary.commit_conflicts += 1,
                    Some(LocationError::Unknown(reason)) => {
                        summary.commit_unknown += 1;
                        tracing::warn!(%reason, "commit outcome unknown: reading the table again");
                    }
                    Some(other) => return Err((start, CommitError::Catalog(other))),
                    None => return Err((start, e.into())),
                },
            }
        }
        Err((
            start,
            CommitError::AttemptsExhausted(self.config.commit_attempts),
        ))
    }

    /// Encodes `users` (the table's records after its checkpoint, which starts at Kinesis
    /// record `start`), stores their error lines, writes the data files.
    async fn prepare(
        &self,
        index: usize,
        table: &Table,
        batch: &ShardBatch,
        users: &[UserRecord<'_>],
        start: usize,
        summary: &mut Summary,
    ) -> Result<Prepared, CommitError> {
        let metadata = table.metadata();
        let encoding = Instant::now();
        let columns = TableColumns::new(
            metadata.current_schema(),
            self.config.extra_column.as_deref(),
        )?;
        for (name, reason) in &columns.unfillable {
            tracing::debug!(column = %name, %reason, "column written as NULL");
        }
        let rows = rows::encode(users.iter().cloned(), &columns)?;
        summary.encode_us += encoding.elapsed().as_micros() as u64;
        summary.user_records += rows.user_records;
        summary.fields_dropped += rows.fields_dropped;
        summary.records_to_errors += rows.rejected.len();
        let uploading = Instant::now();
        if !rows.rejected.is_empty() {
            // Routed, the object names its table: the unrouted records' object of the same
            // records has the plain name.
            let table_name = self
                .config
                .router
                .is_some()
                .then(|| self.config.tables[index].name.as_str());
            self.store_errors(batch, start, table_name, &rows.rejected)
                .await?;
        }
        let (files, count) = match &rows.batch {
            None => (Vec::new(), 0),
            Some(b) => {
                let prefix = format!(
                    "trickle-{}-{}-{}",
                    batch.shard_id,
                    batch.records[start].sequence_text,
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                (
                    crate::write::data_files(table, b, &prefix).await?,
                    b.num_rows(),
                )
            }
        };
        summary.upload_us += uploading.elapsed().as_micros() as u64;
        Ok(Prepared {
            start,
            schema_id: metadata.current_schema_id(),
            spec_id: metadata.default_partition_spec_id(),
            files,
            rows: count,
            identities: None,
        })
    }

    /// Identities (`trickle_kinesis_batch::identities`): when the batch may carry one,
    /// reads the table's window for the shard (the slot its newest reference names), lets
    /// `users` at or below the checkpoint (before `start`) enter it, skips copies after it,
    /// and writes the window to the other slot. Returns the summary property that makes it
    /// the window (committed with the checkpoint) and the records to skip.
    async fn skip_identities_stored(
        &self,
        index: usize,
        table: &Table,
        batch: &ShardBatch,
        users: &[UserRecord<'_>],
        start: usize,
        summary: &mut Summary,
    ) -> Result<(Option<(String, String)>, Skips), CommitError> {
        if !may_carry_identities(&batch.records) {
            return Ok((None, Skips::default()));
        }
        let failed = |e: String| CommitError::IdentityWindow(e);
        let property = checkpoint::identities_key(&batch.stream_name, &batch.shard_id);
        let committed = checkpoint::newest_property(table.metadata(), &property)
            .map(|(_, text)| WindowRef::parse(&text))
            .transpose()
            .map_err(failed)?;
        let file_io = self.catalogs[0].file_io();
        let mut window = match &committed {
            None => IdentityWindow::new(),
            Some(reference) => {
                let location = self.window_location(index, batch, reference.slot);
                let bytes = file_io
                    .new_input(&location)
                    .map_err(|e| failed(e.to_string()))?
                    .read()
                    .await
                    .map_err(|e| failed(format!("{location}: {e}")))?;
                reference
                    .read(&bytes)
                    .map_err(|e| failed(format!("{location}: {e}")))?
            }
        };
        let skips = skip_stored(&mut window, &batch.records, identities_of(users), start);
        summary.duplicates_skipped += skips.duplicates;
        summary.identities_forgotten_early += skips.trimmed.forgotten_early;
        summary.identity_window_size += window.len();
        if skips.trimmed.forgotten_early > 0 {
            tracing::warn!(
                forgotten = skips.trimmed.forgotten_early,
                "identity window full: identities younger than the window forgotten"
            );
        }
        if !window.changed() {
            return Ok((committed.map(|r| (property, r.to_string())), skips));
        }
        let slot = next_slot(committed.as_ref());
        let bytes = window.encode();
        let reference = WindowRef::of(slot, &bytes);
        let location = self.window_location(index, batch, slot);
        file_io
            .new_output(&location)
            .map_err(|e| failed(e.to_string()))?
            .write(bytes.into())
            .await
            .map_err(|e| failed(format!("{location}: {e}")))?;
        Ok((Some((property, reference.to_string())), skips))
    }

    /// Where one of the two window slots of table `index` and the batch's shard lives.
    fn window_location(&self, index: usize, batch: &ShardBatch, slot: Slot) -> String {
        format!(
            "s3://{}/{}{}.{}/{}/{}.identities-{}.bin",
            self.config.error_bucket,
            self.config.state_prefix,
            self.config.database,
            self.config.tables[index].name,
            batch.stream_name,
            batch.shard_id,
            slot.name()
        )
    }

    /// One fast append with the checkpoint in its summary.
    async fn append(
        &self,
        catalog: &LocationCatalog<P>,
        table: &Table,
        files: &[DataFile],
        key: &str,
        last: &SourceRecord,
        identities: Option<&(String, String)>,
    ) -> iceberg::Result<Table> {
        let mut properties = HashMap::from([
            (key.to_owned(), last.sequence_text.clone()),
            (WRITER_PROPERTY.to_owned(), WRITER.to_owned()),
        ]);
        properties.extend(identities.cloned());
        let tx = Transaction::new(table);
        let tx = tx
            .fast_append()
            // The duplicate check reads every manifest of the table on every commit (it
            // grows with the table); these files' names are new (uuid), and what makes a
            // batch exactly once is the checkpoint, not file names.
            .with_check_duplicate(false)
            .set_snapshot_properties(properties)
            .add_data_files(files.iter().cloned())
            .apply(tx)?;
        tx.commit(catalog).await
    }

    /// Table `index`, created from its schema and partition spec when missing.
    async fn table(&self, index: usize, summary: &mut Summary) -> Result<Table, CommitError> {
        let catalog = &self.catalogs[index];
        if let Some(t) = catalog.load().await? {
            return Ok(t);
        }
        let spec = &self.config.tables[index];
        let schema = spec.schema.as_ref().ok_or(CommitError::NoTableNoSchema)?;
        let iceberg = iceberg_schema(schema, self.config.extra_column.as_deref())?;
        let mut unbound = UnboundPartitionSpec::builder();
        for field in &spec.partition {
            let source = iceberg.field_by_name(&field.source).ok_or_else(|| {
                CommitError::Iceberg(format!("partition source {} is not a column", field.source))
            })?;
            unbound = unbound.add_partition_field(source.id, field.name(), field.transform)?;
        }
        let location = catalog
            .store()
            .table_location(&self.config.table_location(&spec.name))
            .await
            .map_err(CommitError::Catalog)?;
        let creation = TableCreation::builder()
            .name(spec.name.clone())
            .location(location)
            .schema(iceberg)
            .partition_spec(unbound.build())
            .properties(
                NEW_TABLE_PROPERTIES
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .build();
        let table = catalog.create(creation).await?;
        summary.table_created = true;
        tracing::info!(table = %spec.name, location = %table.metadata().location(), "created the Iceberg table");
        Ok(table)
    }

    /// One gzip NDJSON object of error lines, keyed by the first and last sequence numbers
    /// of the records from `from` (a retry of the same records overwrites it), with the
    /// table's name when routed.
    async fn store_errors(
        &self,
        batch: &ShardBatch,
        from: usize,
        table: Option<&str>,
        rejected: &[Rejected],
    ) -> Result<(), CommitError> {
        let records = &batch.records;
        let mut body = Vec::new();
        write_error_lines(rejected, records, &mut body);
        let gz = trickle_shared::gzip::gzip(&body, trickle_shared::gzip::DEFAULT_GZIP_LEVEL)
            .map_err(|e| CommitError::ErrorObject(format!("gzip of the error lines: {e}")))?;
        let first = &records[from];
        let day = first.arrival.format("%Y/%m/%d");
        let table = table.map(|t| format!(".{t}")).unwrap_or_default();
        let key = format!(
            "{}{}/{}/{day}/{}-{}{table}.ndjson.gz",
            self.config.error_prefix,
            batch.stream_name,
            batch.shard_id,
            first.sequence_text,
            records[records.len() - 1].sequence_text,
        );
        let location = format!("s3://{}/{key}", self.config.error_bucket);
        self.catalogs[0]
            .file_io()
            .new_output(&location)
            .map_err(|e| CommitError::ErrorObject(e.to_string()))?
            .write(gz.into())
            .await
            .map_err(|e| CommitError::ErrorObject(e.to_string()))
    }
}

/// The index of the first record after `table`'s checkpoint for the shard (`key`).
fn checkpoint_start(
    table: &Table,
    key: &str,
    records: &[SourceRecord],
) -> Result<usize, CorruptCheckpoint> {
    let cp = checkpoint::read(table.metadata(), key)?;
    Ok(match &cp.sequence {
        None => 0,
        Some(seq) => records.partition_point(|r| r.sequence <= *seq),
    })
}

/// The checkpoint every table holds, as the records say: the record before `start`.
fn checkpoint_of(records: &[SourceRecord], start: usize) -> Option<String> {
    start
        .checked_sub(1)
        .and_then(|i| records.get(i))
        .map(|r| r.sequence_text.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata_location::GlueLocation;
    use trickle_glue::{Fault, MemoryGlueTables};

    type MemoryLocation = GlueLocation<MemoryGlueTables>;
    use arrow_array::{Array, Int64Array};
    use chrono::{TimeZone, Utc};
    use futures::TryStreamExt;
    use trickle_shared::config::map_lookup;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("ICEBERG_DATABASE", "db"),
            ("ICEBERG_TABLE", "events"),
            ("ICEBERG_WAREHOUSE", "memory://lake/wh"),
            ("ERROR_BUCKET", "lake"),
            ("SCHEMA", "n bigint, user string, ts timestamp"),
        ];
        pairs.extend_from_slice(extra);
        // The memory storage takes any scheme; Warehouse wants s3://.
        let pairs: Vec<_> = pairs
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    if k == "ICEBERG_WAREHOUSE" {
                        "s3://lake/wh"
                    } else {
                        v
                    },
                )
            })
            .collect();
        Config::from_lookup(map_lookup(&pairs)).unwrap()
    }

    fn function(config: Config) -> BatchToIceberg<MemoryLocation> {
        BatchToIceberg::in_memory(config).unwrap()
    }

    fn batch(shard: &str, seqs: std::ops::RangeInclusive<u64>) -> ShardBatch {
        ShardBatch {
            stream_name: "s".into(),
            shard_id: shard.into(),
            records: seqs
                .map(|n| SourceRecord {
                    sequence: n.to_string().parse().unwrap(),
                    sequence_text: n.to_string(),
                    partition_key: "k".into(),
                    arrival: Utc.timestamp_millis_opt(1_764_583_200_000).unwrap(),
                    data: format!(
                        r#"{{"n":{n},"user":"u{}","ts":"2026-12-01T{:02}:00:00Z"}}"#,
                        n % 3,
                        n % 24
                    )
                    .into_bytes(),
                })
                .collect(),
        }
    }

    /// The error lines of the gzip NDJSON object at `location`.
    async fn error_lines(
        f: &BatchToIceberg<MemoryLocation>,
        location: &str,
    ) -> Vec<serde_json::Value> {
        let gz = f
            .catalog()
            .file_io()
            .new_input(location)
            .unwrap()
            .read()
            .await
            .unwrap();
        let mut d = libdeflater::Decompressor::new();
        let mut out = vec![0; 1 << 16];
        let n = d.gzip_decompress(&gz, &mut out).unwrap();
        out[..n]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    async fn ns(f: &BatchToIceberg<MemoryLocation>) -> Vec<i64> {
        table_ns(f, 0).await
    }

    #[tokio::test]
    async fn creates_the_table_and_commits_the_batch_with_its_checkpoint() {
        let f = function(config(&[]));
        let s = f.process(&batch("shardId-0", 1..=5), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert!(s.table_created);
        assert_eq!(
            (s.rows_committed, s.commit_attempts, s.data_files),
            (5, 1, 1)
        );
        assert_eq!(ns(&f).await, [1, 2, 3, 4, 5]);
        let table = f.catalog().load().await.unwrap().unwrap();
        let summary = &table
            .metadata()
            .current_snapshot()
            .unwrap()
            .summary()
            .additional_properties;
        assert_eq!(summary["trickle.s.shardId-0"], "5");
        assert_eq!(summary[WRITER_PROPERTY], WRITER);
        assert_eq!(s.snapshot_id, table.metadata().current_snapshot_id());
    }

    #[tokio::test]
    async fn the_sample_event_commits_through_the_lambda_entry_point() {
        let mut c = config(&[]);
        c.tables[0].schema = Some(
            trickle_columnar::TableSchema::parse("customer string, event string, n bigint")
                .unwrap(),
        );
        c.tables[0].partition = crate::partition::parse("identity(customer)").unwrap();
        let f = function(c);
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/kinesis-batch.json"
        ))
        .unwrap();
        let event: StreamEvent = serde_json::from_str(&text).unwrap();
        let n = event.records.len();
        let response = f
            .handle(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
        let table = f.catalog().load().await.unwrap().unwrap();
        let summary = &table
            .metadata()
            .current_snapshot()
            .unwrap()
            .summary()
            .additional_properties;
        assert_eq!(summary["added-records"].parse::<usize>().unwrap(), n);
        assert!(
            summary.contains_key("trickle.trickle.shardId-000000000000"),
            "{summary:?}"
        );
    }

    #[tokio::test]
    async fn a_redelivered_batch_is_not_committed_twice() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=5), None).await;
        let again = f.process(&batch("shardId-0", 1..=5), None).await;
        assert_eq!(
            (
                again.records_skipped,
                again.commit_attempts,
                again.retry_from
            ),
            (5, 0, None)
        );
        assert_eq!(ns(&f).await, [1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_reformed_batch_commits_only_what_is_after_the_checkpoint() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=4), None).await;
        let s = f.process(&batch("shardId-0", 3..=8), None).await;
        assert_eq!((s.records_skipped, s.rows_committed), (2, 4));
        assert_eq!(ns(&f).await, (1..=8).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn shards_keep_checkpoints_of_their_own() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=3), None).await;
        f.process(&batch("shardId-1", 1..=3), None).await;
        // shard 0's checkpoint is in an older snapshot now: still found.
        let s = f.process(&batch("shardId-0", 1..=3), None).await;
        assert_eq!(s.records_skipped, 3);
        assert_eq!(ns(&f).await, [1, 1, 2, 2, 3, 3]);
    }

    fn glue_columns(t: &aws_sdk_glue::types::Table) -> Vec<(String, String)> {
        t.storage_descriptor
            .as_ref()
            .map(|sd| sd.columns())
            .unwrap_or_default()
            .iter()
            .map(|c| (c.name.clone(), c.r#type.clone().unwrap_or_default()))
            .collect()
    }

    #[tokio::test]
    async fn a_new_glue_table_has_the_schemas_columns_and_the_location() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        let t = f.catalog().store().tables().table("events").unwrap();
        assert_eq!(
            glue_columns(&t),
            [
                ("n".into(), "bigint".into()),
                ("user".into(), "string".into()),
                ("ts".into(), "timestamp".into()),
            ]
        );
        let sd = t.storage_descriptor.unwrap();
        assert_eq!(sd.location.as_deref(), Some("s3://lake/wh/db.db/events"));
        assert_eq!(t.table_type.as_deref(), Some("EXTERNAL_TABLE"));
        assert_eq!(t.parameters.unwrap()["table_type"], "ICEBERG");
    }

    #[tokio::test]
    async fn a_commit_keeps_what_another_engine_set_on_the_glue_table() {
        use aws_sdk_glue::types::{Column, SerDeInfo};
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        let glue = f.catalog().store().tables();
        glue.change("events", |t| {
            t.description = Some("described".into());
            t.owner = Some("analytics".into());
            t.parameters
                .get_or_insert_with(Default::default)
                .insert("theirs".into(), "kept".into());
            let sd = t.storage_descriptor.as_mut().unwrap();
            sd.serde_info = Some(SerDeInfo::builder().serialization_library("lib").build());
            sd.input_format = Some("in".into());
            sd.columns = Some(vec![Column::builder()
                .name("n")
                .r#type("string")
                .comment("the n")
                .build()
                .unwrap()]);
        });
        let before = glue.table("events").unwrap().parameters.unwrap()["metadata_location"].clone();
        let s = f.process(&batch("shardId-0", 3..=4), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        let t = glue.table("events").unwrap();
        assert_eq!(t.description.as_deref(), Some("described"));
        assert_eq!(t.owner.as_deref(), Some("analytics"));
        let p = t.parameters.clone().unwrap();
        assert_eq!(p["theirs"], "kept");
        assert_eq!(p["table_type"], "ICEBERG");
        assert_eq!(p["previous_metadata_location"], before);
        assert_ne!(p["metadata_location"], before);
        let sd = t.storage_descriptor.clone().unwrap();
        assert_eq!(sd.input_format.as_deref(), Some("in"));
        assert_eq!(
            sd.serde_info
                .clone()
                .unwrap()
                .serialization_library
                .as_deref(),
            Some("lib")
        );
        assert_eq!(sd.location.as_deref(), Some("s3://lake/wh/db.db/events"));
        assert_eq!(glue_columns(&t)[0], ("n".into(), "bigint".into()));
        assert_eq!(sd.columns()[0].comment.as_deref(), Some("the n"));
        assert_eq!(glue_columns(&t).len(), 3);
    }

    const KEYED_ID: &str = "00112233445566778899aabbccddeeff";

    /// A keyed request's records at positions `order` (a position twice: a copy in the
    /// stream), `n` = the position, sequence numbers from `first_seq` up.
    fn keyed_batch(shard: &str, first_seq: u64, order: &[u32]) -> ShardBatch {
        let mut b = batch(shard, first_seq..=first_seq + order.len() as u64 - 1);
        for (r, &p) in b.records.iter_mut().zip(order) {
            r.partition_key = trickle_shared::identity::Identity::of(KEYED_ID, p)
                .unwrap()
                .partition_key(Some("k"));
            r.data = format!(r#"{{"n":{p},"user":"u","ts":"2026-12-01T00:00:00Z"}}"#).into_bytes();
        }
        b
    }

    #[tokio::test]
    async fn copies_of_a_keyed_requests_records_are_committed_once() {
        let f = function(config(&[]));
        let s = f
            .process(&keyed_batch("shardId-0", 1, &[0, 1, 2, 1, 3, 3]), None)
            .await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!(s.duplicates_skipped, 2);
        assert_eq!(s.identity_window_size, 4);
        // Copies in later batches, one after a commit whose answer was lost, and one
        // after a lost race: the window is read back from the slot the table names.
        f.catalog().store().tables().inject(Fault::LoseAnswer);
        let s = f
            .process(&keyed_batch("shardId-0", 10, &[3, 4, 0]), None)
            .await;
        assert_eq!((s.retry_from.clone(), s.duplicates_skipped), (None, 2));
        f.catalog().store().tables().inject(Fault::Conflict);
        let s = f
            .process(&keyed_batch("shardId-0", 20, &[4, 5, 2]), None)
            .await;
        assert_eq!((s.retry_from.clone(), s.duplicates_skipped), (None, 2));
        // A redelivery of the first batch: at or below the checkpoint, nothing again.
        f.process(&keyed_batch("shardId-0", 1, &[0, 1, 2, 1, 3, 3]), None)
            .await;
        // Plain records are never skipped.
        f.process(&batch("shardId-0", 30..=31), None).await;
        assert_eq!(ns(&f).await, [0, 1, 2, 3, 4, 5, 30, 31]);
        let table = f.catalog().load().await.unwrap().unwrap();
        let (_, reference) = checkpoint::newest_property(
            table.metadata(),
            &checkpoint::identities_key("s", "shardId-0"),
        )
        .unwrap();
        assert!(reference.starts_with("a:"), "{reference}: the third window");
    }

    #[tokio::test]
    async fn a_shard_whose_window_slot_changed_under_its_reference_waits() {
        let f = function(config(&[]));
        f.process(&keyed_batch("shardId-0", 1, &[0, 1]), None).await;
        f.catalog()
            .file_io()
            .new_output("s3://lake/iceberg-state/db.events/s/shardId-0.identities-a.bin")
            .unwrap()
            .write(IdentityWindow::new().encode().into())
            .await
            .unwrap();
        let s = f.process(&keyed_batch("shardId-0", 5, &[1, 2]), None).await;
        assert_eq!(s.retry_from.as_deref(), Some("5"));
        assert!(s.failure.unwrap().contains("changed under its reference"));
        assert_eq!(ns(&f).await, [0, 1]);
    }

    #[tokio::test]
    async fn a_commit_applied_but_unanswered_is_settled_not_repeated() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        f.catalog().store().tables().inject(Fault::LoseAnswer);
        let s = f.process(&batch("shardId-0", 3..=5), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!((s.commit_unknown, s.commit_attempts), (1, 1));
        assert_eq!(ns(&f).await, [1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_commit_unanswered_and_not_applied_is_made_again() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        f.catalog().store().tables().inject(Fault::Unknown);
        let s = f.process(&batch("shardId-0", 3..=5), None).await;
        assert_eq!(
            (s.commit_unknown, s.commit_attempts, s.retry_from),
            (1, 2, None)
        );
        assert_eq!(ns(&f).await, [1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_lost_race_is_retried_on_the_new_table() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        f.catalog().store().tables().inject(Fault::Conflict);
        f.catalog().store().tables().inject(Fault::Conflict);
        let s = f.process(&batch("shardId-0", 3..=5), None).await;
        assert_eq!(
            (s.commit_conflicts, s.commit_attempts, s.retry_from),
            (2, 3, None)
        );
        assert_eq!(ns(&f).await, [1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn too_many_lost_races_report_the_first_uncommitted_record() {
        let f = function(config(&[("COMMIT_ATTEMPTS", "2")]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        f.catalog().store().tables().inject(Fault::Conflict);
        f.catalog().store().tables().inject(Fault::Conflict);
        let s = f.process(&batch("shardId-0", 1..=5), None).await;
        assert_eq!(s.retry_from.as_deref(), Some("3"));
        assert!(s.failure.unwrap().contains("2 commit attempts"));
        assert_eq!(ns(&f).await, [1, 2]);
    }

    #[tokio::test]
    async fn records_that_do_not_fit_go_to_the_error_prefix_and_the_rest_commit() {
        let f = function(config(&[]));
        let mut b = batch("shardId-0", 1..=3);
        b.records[1].data = br#"{"n":"two"}"#.to_vec();
        let s = f.process(&b, None).await;
        assert_eq!(
            (s.rows_committed, s.records_to_errors, s.retry_from),
            (2, 1, None)
        );
        assert_eq!(ns(&f).await, [1, 3]);
        let lines = error_lines(
            &f,
            "s3://lake/iceberg-errors/s/shardId-0/2025/12/01/1-3.ndjson.gz",
        )
        .await;
        let line = &lines[0];
        assert_eq!(
            (line["errorCode"].as_str(), line["sequenceNumber"].as_str()),
            (Some("schema-mismatch"), Some("2"))
        );
    }

    #[tokio::test]
    async fn without_a_table_or_a_schema_the_batch_is_reported() {
        let mut c = config(&[]);
        c.tables[0].schema = None;
        let f = function(c);
        let s = f.process(&batch("shardId-0", 7..=9), None).await;
        assert_eq!(s.retry_from.as_deref(), Some("7"));
        assert!(s.failure.unwrap().contains("SCHEMA"));
    }

    #[tokio::test]
    async fn a_partitioned_table_gets_a_file_per_partition() {
        let f = function(config(&[(
            "ICEBERG_PARTITION_SPEC",
            "hour(ts), identity(user)",
        )]));
        let s = f.process(&batch("shardId-0", 1..=6), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        // n % 24 hours x n % 3 users: 6 distinct pairs.
        assert_eq!(s.data_files, 6);
        assert_eq!(ns(&f).await, (1..=6).collect::<Vec<_>>());
        let table = f.catalog().load().await.unwrap().unwrap();
        assert_eq!(table.metadata().default_partition_spec().fields().len(), 2);
    }

    const ROUTES: &str = "logs: t_logs schema (signal string, n bigint); \
        traces: t_traces schema (signal string, n bigint) partition bucket(4, n); \
        metrics: t_metrics schema (signal string, n bigint)";

    fn routed(extra: &[(&str, &str)]) -> BatchToIceberg<MemoryLocation> {
        let mut pairs = vec![
            ("ICEBERG_DATABASE", "db"),
            ("ICEBERG_WAREHOUSE", "s3://lake/wh"),
            ("ERROR_BUCKET", "lake"),
            ("ICEBERG_ROUTE_POINTER", "/signal"),
            ("ICEBERG_ROUTES", ROUTES),
        ];
        pairs.extend_from_slice(extra);
        BatchToIceberg::in_memory(Config::from_lookup(map_lookup(&pairs)).unwrap()).unwrap()
    }

    /// Records 1..=n on one shard, the signal going round logs, traces, metrics (a tenth
    /// have a signal no route names).
    fn signals(shard: &str, seqs: std::ops::RangeInclusive<u64>) -> ShardBatch {
        let mut b = batch(shard, seqs);
        for r in &mut b.records {
            let n: u64 = r.sequence_text.parse().unwrap();
            let signal = match n % 10 {
                0 => "profiles",
                k => ["logs", "traces", "metrics"][(k % 3) as usize],
            };
            r.data = format!(r#"{{"signal":"{signal}","n":{n}}}"#).into_bytes();
        }
        b
    }

    /// Table `i`'s `n`s, read back through its catalog.
    async fn table_ns(f: &BatchToIceberg<MemoryLocation>, i: usize) -> Vec<i64> {
        let Some(table) = f.catalogs()[i].load().await.unwrap() else {
            return Vec::new();
        };
        if table.metadata().current_snapshot_id().is_none() {
            return Vec::new();
        }
        let batches: Vec<_> = table
            .scan()
            .select(["n"])
            .build()
            .unwrap()
            .to_arrow()
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut out: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                let a = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .clone();
                (0..a.len()).map(move |i| a.value(i))
            })
            .collect();
        out.sort();
        out
    }

    /// What each table must hold after records `seqs` (logs, traces, metrics).
    fn expected_ns(seqs: std::ops::RangeInclusive<u64>) -> [Vec<i64>; 3] {
        let mut out: [Vec<i64>; 3] = Default::default();
        for n in seqs.filter(|n| n % 10 != 0) {
            out[(n % 10 % 3) as usize].push(n as i64);
        }
        out
    }

    async fn all_ns(f: &BatchToIceberg<MemoryLocation>) -> [Vec<i64>; 3] {
        [
            table_ns(f, 0).await,
            table_ns(f, 1).await,
            table_ns(f, 2).await,
        ]
    }

    #[tokio::test]
    async fn routed_records_go_each_to_its_table_with_its_own_checkpoint() {
        let f = routed(&[]);
        let s = f.process(&signals("shardId-0", 1..=30), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!((s.tables_committed, s.records_unrouted), (3, 3));
        assert_eq!(s.rows_committed, 27);
        assert_eq!(all_ns(&f).await, expected_ns(1..=30));
        for catalog in f.catalogs() {
            let table = catalog.load().await.unwrap().unwrap();
            let summary = &table.metadata().current_snapshot().unwrap().summary();
            assert_eq!(summary.additional_properties["trickle.s.shardId-0"], "30");
        }
        // The traces table has its own spec.
        let traces = f.catalogs()[1].load().await.unwrap().unwrap();
        assert_eq!(traces.metadata().default_partition_spec().fields().len(), 1);
        // The records no route takes are error lines, each saying why.
        let lines = error_lines(
            &f,
            "s3://lake/iceberg-errors/s/shardId-0/2025/12/01/1-30.ndjson.gz",
        )
        .await;
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["errorCode"], "no-route");
        assert!(lines[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("profiles"));
    }

    #[tokio::test]
    async fn a_routed_batch_retried_or_reformed_is_stored_once_in_every_table() {
        let f = routed(&[]);
        f.process(&signals("shardId-0", 1..=20), None).await;
        let again = f.process(&signals("shardId-0", 1..=20), None).await;
        assert_eq!(
            (
                again.records_skipped,
                again.commit_attempts,
                again.retry_from
            ),
            (20, 0, None)
        );
        let reformed = f.process(&signals("shardId-0", 11..=35), None).await;
        assert_eq!(reformed.retry_from, None, "{:?}", reformed.failure);
        assert_eq!(reformed.records_skipped, 10);
        f.process(&signals("shardId-1", 1..=9), None).await;
        let mut want = expected_ns(1..=35);
        for (table, more) in want.iter_mut().zip(expected_ns(1..=9)) {
            table.extend(more);
            table.sort();
        }
        assert_eq!(all_ns(&f).await, want);
    }

    #[tokio::test]
    async fn routed_copies_are_committed_once_in_the_table_each_goes_to() {
        let f = routed(&[("COMMIT_ATTEMPTS", "1")]);
        // A keyed request's records 1..=12 (position = n), then copies of some of them, as
        // the stream holds them after a lost PutRecords answer; each table keeps its own
        // window. The metrics table loses a race once: its copies come again.
        let keyed = |seqs: std::ops::RangeInclusive<u64>, ns: &[u64]| {
            let mut b = signals("shardId-0", seqs);
            for (r, &n) in b.records.iter_mut().zip(ns) {
                let signal = ["logs", "traces", "metrics"][(n % 3) as usize];
                r.data = format!(r#"{{"signal":"{signal}","n":{n}}}"#).into_bytes();
                r.partition_key = trickle_shared::identity::Identity::of(KEYED_ID, n as u32)
                    .unwrap()
                    .partition_key(None);
            }
            b
        };
        let all: Vec<u64> = (1..=12).collect();
        f.process(&keyed(1..=12, &all), None).await;
        f.catalogs()[2].store().tables().inject(Fault::Conflict);
        let copies = [2, 3, 4, 11, 12, 13, 14];
        let s = f.process(&keyed(13..=19, &copies), None).await;
        assert!(s.retry_from.is_some(), "the metrics table lost its race");
        let s = f.process(&keyed(13..=19, &copies), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        let by_table = |table: u64| -> Vec<i64> {
            (1..=14)
                .filter(|n| n % 3 == table)
                .map(|n| n as i64)
                .collect()
        };
        let [logs, traces, metrics] = all_ns(&f).await;
        assert_eq!(logs, by_table(0));
        assert_eq!(traces, by_table(1));
        assert_eq!(metrics, by_table(2));
    }

    #[tokio::test]
    async fn a_batch_stopped_between_two_tables_commits_only_what_each_lacks() {
        let f = routed(&[("COMMIT_ATTEMPTS", "1")]);
        f.process(&signals("shardId-0", 1..=3), None).await;
        // logs and traces commit; metrics lose their race and the batch stops there.
        f.catalogs()[2].store().tables().inject(Fault::Conflict);
        let s = f.process(&signals("shardId-0", 4..=12), None).await;
        // 4 is a trace, 5 a metric, 6 a log: the retry starts at the first metric.
        assert_eq!(s.retry_from.as_deref(), Some("5"), "{:?}", s.failure);
        assert_eq!(s.tables_committed, 2);
        let [logs, traces, metrics] = all_ns(&f).await;
        let want = expected_ns(1..=12);
        assert_eq!((logs, traces), (want[0].clone(), want[1].clone()));
        assert_eq!(metrics, expected_ns(1..=3)[2]);
        // Lambda delivers from 5 on, with newer records.
        let s = f.process(&signals("shardId-0", 5..=16), None).await;
        assert_eq!(s.retry_from, None, "{:?}", s.failure);
        assert_eq!(all_ns(&f).await, expected_ns(1..=16));
    }

    #[tokio::test]
    async fn a_routed_table_that_cannot_be_made_reports_its_first_record_and_the_rest_wait() {
        // Metrics has no schema and no table: its records are retried, the others committed.
        let f = routed(&[(
            "ICEBERG_ROUTES",
            "logs: t_logs schema (signal string, n bigint); metrics: t_metrics",
        )]);
        let s = f.process(&signals("shardId-0", 1..=6), None).await;
        assert_eq!(s.retry_from.as_deref(), Some("2"), "{:?}", s.failure);
        assert!(s.failure.unwrap().contains("SCHEMA"));
        assert!(
            table_ns(&f, 0).await.is_empty(),
            "nothing committed before every table is read"
        );
    }

    #[tokio::test]
    async fn a_commit_reads_the_metadata_once_while_no_one_else_writes() {
        let f = function(config(&[]));
        f.process(&batch("shardId-0", 1..=2), None).await;
        let before = f.catalog().metadata_reads();
        f.process(&batch("shardId-0", 3..=4), None).await;
        assert_eq!(f.catalog().metadata_reads(), before);
    }
}

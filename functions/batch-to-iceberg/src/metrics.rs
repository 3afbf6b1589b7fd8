//! One summary per invocation: a structured `tracing` line and CloudWatch Embedded Metric
//! Format metrics (raw JSON on stdout; see batch-to-s3's metrics.rs for why not through
//! `tracing`).

use serde_json::Value;

/// The CloudWatch namespace of every metric.
pub const METRICS_NAMESPACE: &str = "trickle/batch-to-iceberg";

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub stream: String,
    pub shard_id: String,
    /// Kinesis records in the event.
    pub records_in: usize,
    pub bytes_in: usize,
    /// Kinesis records at or below the shard's checkpoint (every routed table's): already
    /// committed, skipped.
    pub records_skipped: usize,
    /// User records encoded (after de-aggregation, re-ingested copies excluded).
    pub user_records: usize,
    /// Rows in the committed snapshots.
    pub rows_committed: usize,
    /// Tables committed to (routed: one snapshot each).
    pub tables_committed: usize,
    /// User records no route takes (also in `records_to_errors`).
    pub records_unrouted: usize,
    /// User records written to the error prefix.
    pub records_to_errors: usize,
    /// User records of keyed requests skipped: the table's window for the shard holds their
    /// identity, so a copy is committed already (`trickle_kinesis_batch::identities`).
    pub duplicates_skipped: usize,
    /// Identities younger than the window forgotten to stay within its bound.
    pub identities_forgotten_early: usize,
    /// Identities the windows read hold after the invocation (summed over tables).
    pub identity_window_size: usize,
    /// Fields the table has no column for, dropped (no `EXTRA_COLUMN` in the table).
    pub fields_dropped: usize,
    pub data_files: usize,
    /// Bytes of the data files committed (Parquet).
    pub bytes_written: u64,
    /// Commit attempts (1 when nothing raced).
    pub commit_attempts: usize,
    /// Attempts that lost the race to another writer (ConcurrentModificationException).
    pub commit_conflicts: usize,
    /// Attempts whose outcome was unknown, settled by reading the table again.
    pub commit_unknown: usize,
    /// True when the table was created by this invocation.
    pub table_created: bool,
    /// The (last) snapshot committed.
    pub snapshot_id: Option<i64>,
    /// The shard's checkpoint after the invocation.
    pub checkpoint: Option<String>,
    pub oldest_record_age_ms: i64,
    pub retry_from: Option<String>,
    pub failure: Option<String>,
    /// Time spent routing and encoding rows, uploading files (data and errors), committing
    /// (µs).
    pub encode_us: u64,
    pub upload_us: u64,
    pub commit_us: u64,
    pub duration_ms: u64,
}

impl Summary {
    /// Adds what one table's commit did (routed tables commit at once, each counting on a
    /// summary of its own). Times add up across tables: they are work, not wall time.
    pub fn add_table(&mut self, t: &Summary) {
        self.user_records += t.user_records;
        self.rows_committed += t.rows_committed;
        self.tables_committed += t.tables_committed;
        self.records_to_errors += t.records_to_errors;
        self.duplicates_skipped += t.duplicates_skipped;
        self.identities_forgotten_early += t.identities_forgotten_early;
        self.identity_window_size += t.identity_window_size;
        self.fields_dropped += t.fields_dropped;
        self.data_files += t.data_files;
        self.bytes_written += t.bytes_written;
        self.commit_attempts += t.commit_attempts;
        self.commit_conflicts += t.commit_conflicts;
        self.commit_unknown += t.commit_unknown;
        self.table_created |= t.table_created;
        self.snapshot_id = t.snapshot_id.or(self.snapshot_id);
        self.encode_us += t.encode_us;
        self.upload_us += t.upload_us;
        self.commit_us += t.commit_us;
    }

    /// The summary line, at `info` (or `warn` when records are to be retried).
    pub fn log(&self) {
        macro_rules! summary {
            ($level:ident) => {
                tracing::$level!(
                    stream = %self.stream,
                    shard_id = %self.shard_id,
                    records_in = self.records_in,
                    bytes_in = self.bytes_in,
                    records_skipped = self.records_skipped,
                    user_records = self.user_records,
                    rows_committed = self.rows_committed,
                    tables_committed = self.tables_committed,
                    records_unrouted = self.records_unrouted,
                    duplicates_skipped = self.duplicates_skipped,
                    identities_forgotten_early = self.identities_forgotten_early,
                    identity_window_size = self.identity_window_size,
                    records_to_errors = self.records_to_errors,
                    fields_dropped = self.fields_dropped,
                    data_files = self.data_files,
                    bytes_written = self.bytes_written,
                    commit_attempts = self.commit_attempts,
                    commit_conflicts = self.commit_conflicts,
                    commit_unknown = self.commit_unknown,
                    table_created = self.table_created,
                    snapshot_id = self.snapshot_id,
                    checkpoint = self.checkpoint.as_deref(),
                    oldest_record_age_ms = self.oldest_record_age_ms,
                    retry_from = self.retry_from.as_deref(),
                    failure = self.failure.as_deref(),
                    encode_us = self.encode_us,
                    upload_us = self.upload_us,
                    commit_us = self.commit_us,
                    duration_ms = self.duration_ms,
                    "batch-to-iceberg summary"
                )
            };
        }
        if self.retry_from.is_some() {
            summary!(warn)
        } else {
            summary!(info)
        }
    }

    /// The EMF document, with dimension `Stream`.
    pub fn emf(&self, timestamp_ms: i64) -> Value {
        let metrics: [(&str, &str, i64); 18] = [
            ("RecordsIn", "Count", self.records_in as i64),
            ("BytesIn", "Bytes", self.bytes_in as i64),
            (
                "RecordsSkippedAlreadyCommitted",
                "Count",
                self.records_skipped as i64,
            ),
            ("RowsCommitted", "Count", self.rows_committed as i64),
            ("TablesCommitted", "Count", self.tables_committed as i64),
            ("RecordsUnrouted", "Count", self.records_unrouted as i64),
            (
                "RecordsSkippedDuplicates",
                "Count",
                self.duplicates_skipped as i64,
            ),
            (
                "IdentitiesForgottenEarly",
                "Count",
                self.identities_forgotten_early as i64,
            ),
            (
                "IdentityWindowSize",
                "Count",
                self.identity_window_size as i64,
            ),
            ("RecordsToErrors", "Count", self.records_to_errors as i64),
            ("FieldsDropped", "Count", self.fields_dropped as i64),
            ("DataFiles", "Count", self.data_files as i64),
            ("BytesWritten", "Bytes", self.bytes_written as i64),
            ("CommitAttempts", "Count", self.commit_attempts as i64),
            ("CommitConflicts", "Count", self.commit_conflicts as i64),
            ("CommitsSettled", "Count", self.commit_unknown as i64),
            ("OldestRecordAge", "Milliseconds", self.oldest_record_age_ms),
            (
                "BatchItemFailures",
                "Count",
                i64::from(self.retry_from.is_some()),
            ),
        ];
        let mut doc = trickle_shared::emf::document(
            METRICS_NAMESPACE,
            timestamp_ms,
            &[("Stream", self.stream.as_str())],
            &metrics,
        );
        // Not metrics: context for whoever reads the log line.
        doc["ShardId"] = Value::from(self.shard_id.clone());
        if let Some(id) = self.snapshot_id {
            doc["SnapshotId"] = Value::from(id);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emf_document_declares_every_metric_it_sets() {
        let s = Summary {
            stream: "events".into(),
            rows_committed: 5,
            commit_conflicts: 2,
            snapshot_id: Some(42),
            ..Default::default()
        };
        let doc = s.emf(1);
        let declared = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(declared.len(), 18);
        for m in declared {
            assert!(doc.get(m["Name"].as_str().unwrap()).is_some(), "{m}");
        }
        assert_eq!(doc["RowsCommitted"], 5);
        assert_eq!(doc["CommitConflicts"], 2);
        assert_eq!(doc["SnapshotId"], 42);
    }
}

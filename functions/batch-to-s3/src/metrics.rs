//! One summary per invocation: a structured `tracing` line, and CloudWatch Embedded Metric
//! Format (EMF) metrics, so the numbers cost no API calls.
//!
//! The EMF document is written to stdout as one raw JSON line, not through `tracing`:
//! CloudWatch only extracts metrics from a log event that *is* an EMF object, and a tracing
//! formatter would wrap it in its own JSON. With Lambda's JSON log format, a line the
//! runtime cannot attribute to a logger still arrives verbatim, so both coexist.

use serde_json::{json, Value};

/// The CloudWatch namespace of every metric.
pub const METRICS_NAMESPACE: &str = "trickle/batch-to-s3";

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub stream: String,
    pub shard_id: String,
    /// Kinesis records in the event.
    pub records_in: usize,
    /// Bytes of Kinesis record data in the event.
    pub bytes_in: usize,
    /// User records planned (after de-aggregation; skipped records are not de-aggregated).
    pub user_records: usize,
    /// Kinesis records at or below the high-water mark: already stored, not written again.
    pub records_skipped: usize,
    /// Objects stored by this invocation (412 answers not counted).
    pub objects_written: usize,
    /// Objects found already stored by an earlier attempt (412).
    pub objects_already_stored: usize,
    /// Compressed bytes of the objects stored.
    pub bytes_written: usize,
    /// User records (or whole Kinesis records) sent to error objects.
    pub records_to_errors: usize,
    /// Records put in the default partition only because of `MAX_PARTITIONS`.
    pub records_overflowed: usize,
    /// Copies firehose-transform put back into the stream, skipped (their originals are
    /// stored; `decode.rs`).
    pub records_reingested_skipped: usize,
    /// User records of keyed requests skipped: the shard's window holds their identity, so
    /// a copy is stored already (`trickle_kinesis_batch::identities`).
    pub duplicates_skipped: usize,
    /// Identities younger than the window forgotten to stay within its bound (a later copy
    /// of one would be stored again).
    pub identities_forgotten_early: usize,
    /// Identities the shard's window holds after the invocation (0 when not read).
    pub identity_window_size: usize,
    /// Parquet with `EXTRA_COLUMN=` (empty): fields not in `SCHEMA`, dropped by request.
    pub fields_dropped: usize,
    /// NDJSON: JSON records that are not objects, written as `{"value":...}`.
    pub wrapped_as_value: usize,
    /// NDJSON: records of text that is not JSON, written as `{"message":...}`.
    pub wrapped_as_message: usize,
    /// NDJSON: records of bytes that are not UTF-8, written as `{"data_base64":...}`.
    pub wrapped_as_base64: usize,
    /// Write intents of invocations that died mid-write, settled (`shard_state/intent.rs`).
    pub intents_settled: usize,
    /// Objects deleted again after a failure (see `write.rs`).
    pub objects_rolled_back: usize,
    /// Milliseconds between the oldest record's arrival and now.
    pub oldest_record_age_ms: i64,
    /// The sequence number reported in `batchItemFailures`, if any.
    pub retry_from: Option<String>,
    /// Why.
    pub failure: Option<String>,
    /// The high-water mark after the invocation.
    pub high_water_mark: Option<String>,
    /// True when the mark could not be advanced (data is stored; see the handler).
    pub mark_update_failed: bool,
    /// 1 when making the Glue table match failed in this invocation (tried again on the
    /// next one; see `glue/`).
    pub catalog_failures: usize,
    /// Glue table columns whose type differs from `SCHEMA`'s (left as they are).
    pub catalog_type_conflicts: usize,
    /// Columns `SCHEMA` gained, appended to the Glue table.
    pub catalog_columns_added: usize,
    pub duration_ms: u128,
}

impl Summary {
    /// The summary line, at `info` (or `warn` when records are to be retried).
    pub fn log(&self) {
        macro_rules! summary {
            ($level:ident) => {
                tracing::$level!(
                    stream = %self.stream,
                    shard_id = %self.shard_id,
                    records_in = self.records_in,
                    bytes_in = self.bytes_in,
                    user_records = self.user_records,
                    records_skipped = self.records_skipped,
                    objects_written = self.objects_written,
                    objects_already_stored = self.objects_already_stored,
                    bytes_written = self.bytes_written,
                    records_to_errors = self.records_to_errors,
                    records_overflowed = self.records_overflowed,
                    records_reingested_skipped = self.records_reingested_skipped,
                    duplicates_skipped = self.duplicates_skipped,
                    identities_forgotten_early = self.identities_forgotten_early,
                    identity_window_size = self.identity_window_size,
                    fields_dropped = self.fields_dropped,
                    wrapped_as_value = self.wrapped_as_value,
                    wrapped_as_message = self.wrapped_as_message,
                    wrapped_as_base64 = self.wrapped_as_base64,
                    objects_rolled_back = self.objects_rolled_back,
                    intents_settled = self.intents_settled,
                    oldest_record_age_ms = self.oldest_record_age_ms,
                    retry_from = self.retry_from.as_deref(),
                    failure = self.failure.as_deref(),
                    high_water_mark = self.high_water_mark.as_deref(),
                    mark_update_failed = self.mark_update_failed,
                    catalog_failures = self.catalog_failures,
                    catalog_type_conflicts = self.catalog_type_conflicts,
                    catalog_columns_added = self.catalog_columns_added,
                    duration_ms = self.duration_ms as u64,
                    "batch-to-s3 summary"
                )
            };
        }
        if self.retry_from.is_some() || self.mark_update_failed || self.catalog_failures > 0 {
            summary!(warn)
        } else {
            summary!(info)
        }
    }

    /// The EMF document for this invocation, with dimension `Stream`.
    pub fn emf(&self, timestamp_ms: i64) -> Value {
        let metrics: [(&str, &str, i64); 22] = [
            ("RecordsIn", "Count", self.records_in as i64),
            ("BytesIn", "Bytes", self.bytes_in as i64),
            ("UserRecords", "Count", self.user_records as i64),
            (
                "RecordsSkippedAlreadyStored",
                "Count",
                self.records_skipped as i64,
            ),
            (
                "RecordsSkippedReingestedCopies",
                "Count",
                self.records_reingested_skipped as i64,
            ),
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
            ("ObjectsWritten", "Count", self.objects_written as i64),
            ("BytesWritten", "Bytes", self.bytes_written as i64),
            ("RecordsToErrors", "Count", self.records_to_errors as i64),
            ("FieldsDropped", "Count", self.fields_dropped as i64),
            (
                "RecordsWrappedAsValue",
                "Count",
                self.wrapped_as_value as i64,
            ),
            (
                "RecordsWrappedAsMessage",
                "Count",
                self.wrapped_as_message as i64,
            ),
            (
                "RecordsWrappedAsBase64",
                "Count",
                self.wrapped_as_base64 as i64,
            ),
            ("OldestRecordAge", "Milliseconds", self.oldest_record_age_ms),
            (
                "BatchItemFailures",
                "Count",
                i64::from(self.retry_from.is_some()),
            ),
            (
                "HighWaterMarkUpdateFailures",
                "Count",
                i64::from(self.mark_update_failed),
            ),
            ("IntentsSettled", "Count", self.intents_settled as i64),
            (
                "CatalogUpdateFailures",
                "Count",
                self.catalog_failures as i64,
            ),
            (
                "CatalogTypeConflicts",
                "Count",
                self.catalog_type_conflicts as i64,
            ),
            (
                "CatalogColumnsAdded",
                "Count",
                self.catalog_columns_added as i64,
            ),
        ];
        let mut doc = trickle_shared::emf::document(
            METRICS_NAMESPACE,
            timestamp_ms,
            &[("Stream", &self.stream)],
            &metrics,
        );
        doc["ShardId"] = json!(self.shard_id);
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_declares_every_metric_it_carries() {
        let s = Summary {
            stream: "s".into(),
            records_in: 3,
            bytes_written: 10,
            retry_from: Some("7".into()),
            catalog_type_conflicts: 2,
            ..Summary::default()
        };
        let doc = s.emf(1_718_000_000_000);
        let decl = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], METRICS_NAMESPACE);
        assert_eq!(decl["Dimensions"], json!([["Stream"]]));
        for m in decl["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} has no value");
        }
        assert_eq!(doc["RecordsIn"], 3);
        assert_eq!(doc["BatchItemFailures"], 1);
        assert_eq!(doc["CatalogTypeConflicts"], 2);
        assert_eq!(doc["CatalogUpdateFailures"], 0);
        assert_eq!(doc["Stream"], "s");
        // One line.
        assert!(!doc.to_string().contains('\n'));
    }
}

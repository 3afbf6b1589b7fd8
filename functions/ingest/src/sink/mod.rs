//! The one narrow I/O boundary of `ingest`: putting entries into the stream. The trait is
//! here; it is implemented once for the SDK client (`sdk.rs`) and once in memory for tests
//! (`memory.rs`).

use crate::body::Entry;
use crate::config::StreamTarget;
use std::future::Future;

/// The outcome of one entry of a put call, as Kinesis reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Written {
        shard_id: String,
        sequence_number: String,
    },
    Failed {
        error_code: String,
        error_message: String,
    },
}

/// Per-entry error codes Kinesis uses for entries worth retrying.
pub const RETRYABLE_ENTRY_ERRORS: [&str; 2] =
    ["ProvisionedThroughputExceededException", "InternalFailure"];

impl EntryOutcome {
    /// True for a failure that a later attempt may fix (throttling, internal failure).
    pub fn is_retryable_failure(&self) -> bool {
        matches!(self, Self::Failed { error_code, .. } if RETRYABLE_ENTRY_ERRORS.contains(&error_code.as_str()))
    }
}

/// A whole put call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The stream is over its throughput (or KMS is throttling): retry later.
    #[error("throttled by Kinesis ({code})")]
    Throttled { code: String },
    /// Anything else: not found, access denied, validation, network after the SDK's retries.
    #[error("Kinesis call failed ({code}): {message}")]
    Failed { code: String, message: String },
}

/// Puts entries into the configured stream.
pub trait RecordSink: Send + Sync {
    /// PutRecord: one entry.
    fn put_record(
        &self,
        entry: &Entry,
    ) -> impl Future<Output = Result<EntryOutcome, SinkError>> + Send;
    /// PutRecords: up to 500 entries, 5 MiB; the answer has one outcome per entry, in order.
    /// Entries are borrowed: a retry sends a subset of the request's entries without copying.
    fn put_records(
        &self,
        entries: &[&Entry],
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, SinkError>> + Send;
}

pub mod memory;
pub mod sdk;

//! batch-to-s3's errors. Only a malformed event fails an invocation as a whole (Lambda then
//! retries it, or bisects it with `BisectBatchOnFunctionError`); S3 failures are reported
//! per record through `batchItemFailures`, and unprocessable records go to error objects.

use crate::store::StoreError;

/// An event that does not look like one shard's Kinesis batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("record {index} has no eventSourceARN naming a Kinesis stream")]
    MissingStream { index: usize },
    #[error("record {index} has no eventID of the form shardId-...:<sequence number>")]
    MissingShard { index: usize },
    #[error("the event mixes shards: {first} and {other}")]
    MixedShards { first: String, other: String },
    #[error("record {index} has an invalid sequence number {value:?}")]
    InvalidSequenceNumber { index: usize, value: String },
    #[error("record {index} (sequence number {value}) is not after the record before it")]
    OutOfOrder { index: usize, value: String },
}

/// Why the records from one point on were not stored (reported through
/// `batchItemFailures`, never as an invocation error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the high-water mark object {key} is not valid: {reason}")]
    CorruptState { key: String, reason: String },
    #[error("compressing an object failed: {0}")]
    Compression(String),
    #[error("too little time left before the invocation deadline to write another object")]
    DeadlineNear,
}

//! batch-to-s3's errors. Only a malformed event fails an invocation as a whole (Lambda then
//! retries it, or bisects it with `BisectBatchOnFunctionError`); S3 failures are reported
//! per record through `batchItemFailures`, and unprocessable records go to error objects.

use crate::store::StoreError;

pub use trickle_kinesis_batch::EventError;

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
    #[error("the key {key} holds another object than the one planned for it (its records' digest differs): nothing is written over it")]
    KeyHoldsAnotherObject { key: String },
}

//! One shard's Kinesis batch, as the Kinesis-triggered writers (`batch-to-s3`,
//! `batch-to-iceberg`) read it: the event adapter (`event`), KPL de-aggregation into user
//! records (`decode`) and the `batchItemFailures` response. No SDK, no runtime: the event
//! types only.

pub mod decode;
pub mod error;
pub mod event;

pub use error::EventError;
pub use event::{response, ShardBatch, SourceRecord, StreamEvent};

//! One shard's Kinesis batch, as the Kinesis-triggered writers (`batch-to-s3`,
//! `batch-to-iceberg`) read it: the event adapter (`event`), KPL de-aggregation into user
//! records (`decode`) and the `batchItemFailures` response. No SDK, no runtime: the event
//! types only.
//!
//! - `event`: Lambda's Kinesis event to one shard's batch (`ShardBatch`), and the
//!   `batchItemFailures` response back.
//! - `decode`: Kinesis records to user records (KPL de-aggregation), and bounded error lines.
//! - `identities`: which user records a writer skips because it stored their identity
//!   already, and the two slots its window is kept in.
//! - `error`: why an event is not one shard's Kinesis batch (`EventError`).

pub mod decode;
pub mod error;
pub mod event;
pub mod identities;

pub use error::EventError;
pub use event::{response, ShardBatch, SourceRecord, StreamEvent};

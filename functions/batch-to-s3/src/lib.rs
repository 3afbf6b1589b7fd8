//! `batch-to-s3`: the Kinesis-triggered function that writes records to S3 in batches,
//! exactly once; the Firehose alternative.
//!
//! - `config`: the environment, read once at cold start.
//! - `event` (from `trickle-kinesis-batch`): the adapter from Lambda's `KinesisEvent` to one
//!   shard's batch, and the `KinesisEventResponse` (`batchItemFailures`) back.
//! - `decode` (from `trickle-kinesis-batch`): KPL de-aggregation into user records.
//! - `partition`: dynamic partitioning by a JSON pointer, bounded.
//! - `key`: every S3 key (data, error, state), derived only from the data.
//! - `encode`: NDJSON framing and compression.
//! - `plan`: records -> the objects to write (pure).
//! - `write`: writing a plan, and rolling back to a stored prefix on failure.
//! - `shard_state`: the shard's state object and its compare-and-swap: the high-water mark
//!   that makes redeliveries exact (`watermark`) and the write intent that makes a crash
//!   mid-write exact (`intent`).
//! - `store`: the I/O boundary (`ObjectStore`); its SDK implementation in `store::sdk`, the
//!   in-memory one in `store::memory`.
//! - `catalog`: the Glue table the objects make up, and what to change in an existing one
//!   (pure).
//! - `glue`: `ensure_table` over `trickle-glue`'s Glue tables (`GlueTables`, with the SDK
//!   and in-memory implementations), and the mapping between a Glue table and `TableDef`
//!   (`glue/table_input.rs`).
//! - `error`: why records were not stored, and the malformed event that fails an invocation.
//! - `metrics`: the summary log line and the EMF metrics.
//! - `handler`: one invocation, end to end.

pub mod catalog;
pub mod config;
pub mod encode;
pub mod error;
pub mod glue;
pub mod handler;
pub mod key;
pub mod metrics;
pub mod partition;
pub mod plan;
pub mod shard_state;
pub mod store;
pub mod write;

/// The event adapter and de-aggregation live in `trickle-kinesis-batch` (batch-to-iceberg
/// reads the same batches); re-exported under their old paths.
pub use trickle_kinesis_batch::{decode, event};

pub use config::Config;
pub use handler::BatchToS3;

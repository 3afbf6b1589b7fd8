//! `firehose-transform`: the Kinesis Data Firehose data-transformation function. Firehose
//! invokes it with a batch of records and writes what it answers to S3.
//!
//! - `config`: the environment, read once at cold start.
//! - `event`: the event and response types (tolerant of what generators send).
//! - `decode`: the decode chain (gzip, CloudWatch Logs, JSON, text) of one record's bytes.
//! - `transform`: one record start to finish, with enrichment, drop filter, partition keys.
//! - `budget`: fitting the answers into the 6,000,000-byte response.
//! - `error`: why one record is `ProcessingFailed`.
//! - `reingest`: putting the records that do not fit back into the source, in calls within
//!   its limits.
//! - `sink`: the I/O boundary of re-ingestion (`ReingestSink`); its SDK implementation in
//!   `sink::sdk`, the in-memory one in `sink::memory`.
//! - `handler`: the adapter from the event to all of the above, and the response.
//! - `metrics`: the invocation summary (`Summary`) and its CloudWatch Embedded Metric Format.
//! - `contract`: the checker of Firehose's contract, used by the tests.

pub mod budget;
pub mod config;
pub mod contract;
pub mod decode;
pub mod error;
pub mod event;
pub mod handler;
pub mod metrics;
pub mod reingest;
pub mod sink;
pub mod transform;

pub use config::Config;
pub use handler::FirehoseTransform;

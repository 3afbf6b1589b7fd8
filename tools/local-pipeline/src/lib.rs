//! Local stand-ins for what AWS's managed services do between trickle's functions, so the
//! whole pipeline runs on a laptop against moto and `cargo lambda watch`:
//!
//! - `esm`: the Kinesis event source mapping that invokes `batch-to-s3`;
//! - `firehose`: Kinesis Data Firehose reading the stream, invoking `firehose-transform`,
//!   buffering and writing GZIP objects;
//! - `settings`: both read their settings from `template.yaml`;
//! - `runner`: the I/O loop (Kinesis GetRecords, Lambda Invoke, S3 PutObject).
//!
//! Where they differ from AWS is written in the README ("The local pipeline").

pub mod esm;
pub mod firehose;
pub mod runner;
pub mod settings;
pub mod show;

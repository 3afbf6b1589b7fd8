//! Local stand-ins for what AWS's managed services do between trickle's functions, so the
//! whole pipeline runs on a laptop against moto and `cargo lambda watch`:
//!
//! - `esm`: the Kinesis event source mapping that invokes `batch-to-s3`;
//! - `firehose`: Kinesis Data Firehose reading the stream, invoking `firehose-transform`,
//!   buffering and writing GZIP objects;
//! - `settings`: both read their settings from `template.yaml`;
//! - `lineage`: which shards may be read now, across splits and merges (pure);
//! - `runner`: the I/O (Kinesis ListShards/GetRecords, function invocations, S3 PutObject),
//!   one concurrent reader per shard (`concurrent`);
//! - `invoke`: the `Invoker` boundary: the Lambda Invoke API, or a function in-process;
//! - `show`: what landed in the bucket, listed as a person wants to see it.
//!
//! Where they differ from AWS is written in docs/reference/local-pipeline.md.

pub mod concurrent;
pub mod esm;
pub mod firehose;
pub mod invoke;
pub mod lineage;
pub mod runner;
pub mod settings;
pub mod show;

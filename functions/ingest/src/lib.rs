//! `ingest`: HTTP POST to a Lambda function URL -> Kinesis PutRecord/PutRecords.
//!
//! - `config`: the environment, read once at cold start.
//! - `body`: the body pipeline, a request's parts into entries (method, encoding, content
//!   type, partition keys, limits).
//! - `browser`: requests from web pages with the public browser key: limits and marked records.
//! - `encoding`: `Content-Encoding` decoded within the decoded-size bound.
//! - `msgpack`: Fluent Bit's msgpack events as JSON records.
//! - `otlp`: OTLP/HTTP exports (`/v1/logs`, `/v1/traces`, `/v1/metrics`) as one flat row per
//!   item (`trickle-otlp`), answered as OTLP says.
//! - `write`: chunking into PutRecords calls and retrying the failed subset.
//! - `sink`: the I/O boundary (`RecordSink`); its SDK implementation in `sink::sdk`, the
//!   in-memory one in `sink::memory`.
//! - `idempotency`: `Idempotency-Key`: a retried request puts nothing twice (`RequestMemory`;
//!   DynamoDB in `idempotency::sdk`, in memory in `idempotency::memory`).
//! - `aggregate`: KPL aggregation of a request's records (`AGGREGATE=true`).
//! - `auth`: the token check for a public function URL (Bearer, or Basic with the token as
//!   the password).
//! - `error`: what a client can get wrong, each with its HTTP status.
//! - `event`: the function URL request and response, read and written without `lambda_http`.
//! - `handler`: the adapter from the function URL event to all of the above, and the answer.

pub mod aggregate;
pub mod auth;
pub mod body;
pub mod browser;
pub mod config;
pub mod encoding;
pub mod error;
pub mod event;
pub mod handler;
pub mod idempotency;
pub mod msgpack;
pub mod otlp;
pub mod sink;
pub mod write;

pub use config::Config;
pub use handler::Ingest;

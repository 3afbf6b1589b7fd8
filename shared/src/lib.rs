//! What two or more trickle functions need, and nothing that does I/O: the AWS limits we
//! design against, Kinesis sequence numbers, KPL (de-)aggregation, NDJSON framing, bounded
//! gzip decoding, reading one value at a JSON pointer, request batching, Lambda's invocation
//! deadline and the typed-config helpers. No SDK and no Lambda runtime here, so every item
//! is testable in microseconds.
//!
//! - `limits`: the AWS service limits, named once.
//! - `sequence`: Kinesis sequence numbers (`SequenceNumber`), compared as integers.
//! - `kpl`: KPL record aggregation and de-aggregation, and the aggregate's size bound.
//! - `framing`: NDJSON framing (each record followed by exactly one `\n`).
//! - `gzip`: bounded gzip decoding, and the writers' libdeflate encoding (`GZIP_LEVEL`).
//! - `json`: small JSON helpers (the scalar at a JSON pointer of a parsed value, minifying,
//!   `null` as the default when deserializing).
//! - `pointer`: the scalar at a JSON pointer, read straight from a record's bytes.
//! - `batching`: splitting a request into calls within an API's limits, and the backoff
//!   between retries.
//! - `deadline`: Lambda's invocation deadline, read one way by every function.
//! - `config`: the helpers of every function's typed configuration (`from_lookup`).
//! - `emf`: CloudWatch Embedded Metric Format documents.
//! - `identity`: the identity a keyed request's record carries in its partition key, and
//!   the exact window of identities a writer stored.
//! - `reingest`: how the records firehose-transform puts back into the stream are marked
//!   and told apart.
//! - `counting_alloc`: a counting allocator for the tests that prove a memory bound.

pub mod batching;
pub mod config;
pub mod counting_alloc;
pub mod deadline;
pub mod emf;
pub mod framing;
pub mod gzip;
pub mod identity;
pub mod json;
pub mod kpl;
pub mod limits;
pub mod pointer;
pub mod reingest;
pub mod sequence;

pub use sequence::SequenceNumber;

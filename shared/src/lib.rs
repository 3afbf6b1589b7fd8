//! What two or more trickle functions need, and nothing that does I/O: the AWS limits we
//! design against, Kinesis sequence numbers, KPL (de-)aggregation, NDJSON framing, bounded
//! gzip decoding, reading one value at a JSON pointer, request batching, Lambda's invocation
//! deadline and the typed-config helpers. No SDK and no Lambda runtime here, so every item
//! is testable in microseconds.

pub mod batching;
pub mod config;
pub mod counting_alloc;
pub mod deadline;
pub mod emf;
pub mod framing;
pub mod gzip;
pub mod json;
pub mod kpl;
pub mod limits;
pub mod pointer;
pub mod reingest;
pub mod sequence;

pub use sequence::SequenceNumber;

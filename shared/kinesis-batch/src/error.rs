//! Why an event is not one shard's Kinesis batch.

/// An event that does not look like one shard's Kinesis batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("record {index} has no eventSourceARN naming a Kinesis stream")]
    MissingStream { index: usize },
    #[error("record {index} has no eventID of the form shardId-...:<sequence number>")]
    MissingShard { index: usize },
    #[error("the event mixes shards: {first} and {other}")]
    MixedShards { first: String, other: String },
    #[error("record {index} has an invalid sequence number {value:?}")]
    InvalidSequenceNumber { index: usize, value: String },
    #[error("record {index} (sequence number {value}) is not after the record before it")]
    OutOfOrder { index: usize, value: String },
}

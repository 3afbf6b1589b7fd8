//! The one narrow I/O boundary of the transform: putting records that did not fit the
//! response back into the delivery stream's source. The trait is here; it is implemented
//! once with the AWS SDK (`sdk.rs`) and once in memory for tests (`memory.rs`).
//!
//! - Kinesis source (the event has `sourceKinesisStreamArn`): Kinesis PutRecords to that
//!   stream, each record with its original partition key, so it lands on the same shard's
//!   key range and Firehose reads it again.
//! - Direct put (no source stream): Firehose PutRecordBatch to the delivery stream named in
//!   `deliveryStreamArn`.
//!
//! Both calls are not atomic: each entry succeeds or fails on its own, and the answer lists
//! one result per entry, in order.

use crate::event::FirehoseEvent;
use std::future::Future;
use trickle_shared::limits::{
    FIREHOSE_PUT_RECORD_BATCH_MAX_BYTES, FIREHOSE_PUT_RECORD_BATCH_MAX_ENTRIES,
    PUT_RECORDS_MAX_ENTRIES, PUT_RECORDS_MAX_REQUEST_BYTES,
};

/// Where overflow records go back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReingestTarget {
    /// Kinesis PutRecords to the source stream.
    KinesisStream { stream_arn: String },
    /// Firehose PutRecordBatch to the delivery stream.
    DeliveryStream { name: String },
}

impl ReingestTarget {
    /// The source of an event: its Kinesis stream if it has one, else its delivery stream
    /// (`arn:aws:firehose:<region>:<account>:deliverystream/<name>`); `None` when neither
    /// can be read, and then overflow records cannot be re-ingested.
    pub fn from_event(event: &FirehoseEvent) -> Option<Self> {
        if let Some(arn) = event
            .source_kinesis_stream_arn
            .as_deref()
            .filter(|a| a.starts_with("arn:") && a.contains(":stream/"))
        {
            return Some(Self::KinesisStream {
                stream_arn: arn.to_owned(),
            });
        }
        event
            .delivery_stream_arn
            .as_deref()
            .filter(|a| a.starts_with("arn:") && a.contains(":firehose:"))
            .and_then(|a| a.split_once(":deliverystream/"))
            .map(|(_, name)| name)
            .filter(|name| !name.is_empty())
            .map(|name| Self::DeliveryStream {
                name: name.to_owned(),
            })
    }

    /// Entries in one call.
    pub fn max_entries(&self) -> usize {
        match self {
            Self::KinesisStream { .. } => PUT_RECORDS_MAX_ENTRIES,
            Self::DeliveryStream { .. } => FIREHOSE_PUT_RECORD_BATCH_MAX_ENTRIES,
        }
    }

    /// Bytes in one call.
    pub fn max_request_bytes(&self) -> usize {
        match self {
            Self::KinesisStream { .. } => PUT_RECORDS_MAX_REQUEST_BYTES,
            Self::DeliveryStream { .. } => FIREHOSE_PUT_RECORD_BATCH_MAX_BYTES,
        }
    }

    /// What an entry counts against the request limit: Kinesis bills the partition key too.
    pub fn billed_bytes(&self, entry: &ReingestEntry) -> usize {
        match self {
            Self::KinesisStream { .. } => {
                entry.data.len() + entry.partition_key.as_ref().map_or(0, String::len)
            }
            Self::DeliveryStream { .. } => entry.data.len(),
        }
    }
}

/// One record to put back: the original bytes as Firehose received them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReingestEntry {
    pub data: Vec<u8>,
    /// The Kinesis partition key (a re-ingested copy's, `trickle_shared::reingest`);
    /// required for a Kinesis target, unused otherwise.
    pub partition_key: Option<String>,
    /// The shard to send it to (the original key's hash), for a Kinesis target.
    pub explicit_hash_key: Option<String>,
}

/// The error code of one entry that was not written.
pub type EntryResult = Result<(), String>;

/// A whole call failed (after the SDK's own retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("re-ingestion call failed ({code}): {message}")]
pub struct SinkError {
    pub code: String,
    pub message: String,
}

/// Puts records back into the source.
pub trait ReingestSink: Send + Sync {
    /// One PutRecords / PutRecordBatch call within the target's limits; one result per
    /// entry, in order.
    fn put_batch(
        &self,
        target: &ReingestTarget,
        entries: &[&ReingestEntry],
    ) -> impl Future<Output = Result<Vec<EntryResult>, SinkError>> + Send;
}

pub mod memory;
pub mod sdk;

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: Option<&str>, delivery: Option<&str>) -> FirehoseEvent {
        FirehoseEvent {
            source_kinesis_stream_arn: source.map(Into::into),
            delivery_stream_arn: delivery.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn a_kinesis_source_wins_over_the_delivery_stream() {
        let e = event(
            Some("arn:aws:kinesis:us-east-1:1:stream/s"),
            Some("arn:aws:firehose:us-east-1:1:deliverystream/d"),
        );
        assert_eq!(
            ReingestTarget::from_event(&e),
            Some(ReingestTarget::KinesisStream {
                stream_arn: "arn:aws:kinesis:us-east-1:1:stream/s".into()
            })
        );
    }

    #[test]
    fn direct_put_uses_the_delivery_stream_name() {
        let e = event(
            None,
            Some("arn:aws:firehose:us-east-1:1:deliverystream/my-ds"),
        );
        assert_eq!(
            ReingestTarget::from_event(&e),
            Some(ReingestTarget::DeliveryStream {
                name: "my-ds".into()
            })
        );
    }

    #[test]
    fn unusable_arns_give_no_target() {
        assert_eq!(
            ReingestTarget::from_event(&event(None, Some("arn:aws:kinesis:EXAMPLE"))),
            None
        );
        assert_eq!(ReingestTarget::from_event(&event(Some("x"), None)), None);
        assert_eq!(ReingestTarget::from_event(&event(None, None)), None);
    }
}

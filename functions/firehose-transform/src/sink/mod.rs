//! The one narrow I/O boundary of the transform: putting records that did not fit the
//! response back into the delivery stream's source. Implemented once with the AWS SDK and
//! once in memory for tests.
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

/// The SDK implementation.
pub mod aws {
    use super::*;
    use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

    /// Kinesis and Firehose clients, built once at cold start.
    #[derive(Debug, Clone)]
    pub struct AwsReingestSink {
        kinesis: aws_sdk_kinesis::Client,
        firehose: aws_sdk_firehose::Client,
    }

    impl AwsReingestSink {
        pub fn new(kinesis: aws_sdk_kinesis::Client, firehose: aws_sdk_firehose::Client) -> Self {
            Self { kinesis, firehose }
        }

        /// Both clients from one loaded AWS configuration.
        pub fn from_sdk_config(conf: &aws_config::SdkConfig) -> Self {
            Self::new(
                aws_sdk_kinesis::Client::new(conf),
                aws_sdk_firehose::Client::new(conf),
            )
        }
    }

    fn call_error<E, R>(err: SdkError<E, R>) -> SinkError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        SinkError {
            code: err.code().unwrap_or("Unknown").to_owned(),
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    fn build_error(e: impl std::fmt::Display) -> SinkError {
        SinkError {
            code: "BuildError".into(),
            message: e.to_string(),
        }
    }

    fn count_mismatch(got: usize, sent: usize) -> SinkError {
        SinkError {
            code: "MalformedResponse".into(),
            message: format!("{got} results for {sent} entries"),
        }
    }

    impl AwsReingestSink {
        async fn put_kinesis(
            &self,
            stream_arn: &str,
            entries: &[&ReingestEntry],
        ) -> Result<Vec<EntryResult>, SinkError> {
            use aws_sdk_kinesis::primitives::Blob;
            use aws_sdk_kinesis::types::PutRecordsRequestEntry;
            // Entries without a partition key cannot be sent; they fail on their own.
            let sendable: Vec<usize> = (0..entries.len())
                .filter(|&i| entries[i].partition_key.is_some())
                .collect();
            let mut results: Vec<EntryResult> =
                vec![Err("MissingPartitionKey".to_owned()); entries.len()];
            if sendable.is_empty() {
                return Ok(results);
            }
            let records = sendable
                .iter()
                .map(|&i| {
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(entries[i].data.clone()))
                        .set_partition_key(entries[i].partition_key.clone())
                        .set_explicit_hash_key(entries[i].explicit_hash_key.clone())
                        .build()
                        .map_err(build_error)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .kinesis
                .put_records()
                .stream_arn(stream_arn)
                .set_records(Some(records))
                .send()
                .await
                .map_err(call_error)?;
            if out.records().len() != sendable.len() {
                return Err(count_mismatch(out.records().len(), sendable.len()));
            }
            for (&i, r) in sendable.iter().zip(out.records()) {
                results[i] = match (r.error_code(), r.sequence_number()) {
                    (None, Some(_)) => Ok(()),
                    (code, _) => Err(code.unwrap_or("InternalFailure").to_owned()),
                };
            }
            Ok(results)
        }

        async fn put_firehose(
            &self,
            name: &str,
            entries: &[&ReingestEntry],
        ) -> Result<Vec<EntryResult>, SinkError> {
            use aws_sdk_firehose::primitives::Blob;
            use aws_sdk_firehose::types::Record;
            let records = entries
                .iter()
                .map(|e| {
                    Record::builder()
                        .data(Blob::new(e.data.clone()))
                        .build()
                        .map_err(build_error)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .firehose
                .put_record_batch()
                .delivery_stream_name(name)
                .set_records(Some(records))
                .send()
                .await
                .map_err(|e| SinkError {
                    code: aws_sdk_firehose::error::ProvideErrorMetadata::code(&e)
                        .unwrap_or("Unknown")
                        .to_owned(),
                    message: aws_sdk_firehose::error::DisplayErrorContext(&e).to_string(),
                })?;
            if out.request_responses().len() != entries.len() {
                return Err(count_mismatch(out.request_responses().len(), entries.len()));
            }
            Ok(out
                .request_responses()
                .iter()
                .map(|r| match (r.error_code(), r.record_id()) {
                    (None, Some(_)) => Ok(()),
                    (code, _) => Err(code.unwrap_or("ServiceUnavailableException").to_owned()),
                })
                .collect())
        }
    }

    impl ReingestSink for AwsReingestSink {
        async fn put_batch(
            &self,
            target: &ReingestTarget,
            entries: &[&ReingestEntry],
        ) -> Result<Vec<EntryResult>, SinkError> {
            match target {
                ReingestTarget::KinesisStream { stream_arn } => {
                    self.put_kinesis(stream_arn, entries).await
                }
                ReingestTarget::DeliveryStream { name } => self.put_firehose(name, entries).await,
            }
        }
    }
}

/// An in-memory source for tests: records what was put, and can be told to fail calls or
/// entries.
pub mod memory {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// What the next call does.
    #[derive(Debug, Clone)]
    pub enum Script {
        /// The whole call fails.
        CallFails,
        /// These entry positions of the call fail.
        EntriesFail(Vec<usize>),
    }

    /// A fake source.
    #[derive(Debug, Default)]
    pub struct MemoryReingestSink {
        /// Every written entry with its target, in order.
        pub written: Mutex<Vec<(ReingestTarget, ReingestEntry)>>,
        /// The number of entries in each call.
        pub calls: Mutex<Vec<usize>>,
        script: Mutex<VecDeque<Script>>,
        /// When set, every call does this.
        pub always: Mutex<Option<Script>>,
    }

    impl MemoryReingestSink {
        pub fn new() -> Self {
            Self::default()
        }
        /// Queues what the next calls do; calls beyond the script succeed.
        pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
            self.script.lock().unwrap().extend(steps);
        }
        /// The written entries.
        pub fn written_entries(&self) -> Vec<ReingestEntry> {
            self.written
                .lock()
                .unwrap()
                .iter()
                .map(|(_, e)| e.clone())
                .collect()
        }
    }

    impl ReingestSink for MemoryReingestSink {
        async fn put_batch(
            &self,
            target: &ReingestTarget,
            entries: &[&ReingestEntry],
        ) -> Result<Vec<EntryResult>, SinkError> {
            self.calls.lock().unwrap().push(entries.len());
            assert!(
                entries.len() <= target.max_entries(),
                "too many entries in one call"
            );
            let step = self
                .always
                .lock()
                .unwrap()
                .clone()
                .or_else(|| self.script.lock().unwrap().pop_front());
            let failing = match step {
                Some(Script::CallFails) => {
                    return Err(SinkError {
                        code: "ServiceUnavailable".into(),
                        message: "injected".into(),
                    })
                }
                Some(Script::EntriesFail(p)) => p,
                None => Vec::new(),
            };
            let mut written = self.written.lock().unwrap();
            Ok(entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if failing.contains(&i) {
                        Err("ProvisionedThroughputExceededException".to_owned())
                    } else if matches!(target, ReingestTarget::KinesisStream { .. })
                        && e.partition_key.is_none()
                    {
                        Err("MissingPartitionKey".to_owned())
                    } else {
                        written.push((target.clone(), (*e).clone()));
                        Ok(())
                    }
                })
                .collect())
        }
    }
}

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

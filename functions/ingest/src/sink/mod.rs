//! The one narrow I/O boundary of `ingest`: putting entries into the stream. Implemented once
//! for the SDK client and once in memory for tests.

use crate::body::Entry;
use crate::config::StreamTarget;
use std::future::Future;

/// The outcome of one entry of a put call, as Kinesis reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Written {
        shard_id: String,
        sequence_number: String,
    },
    Failed {
        error_code: String,
        error_message: String,
    },
}

/// Per-entry error codes Kinesis uses for entries worth retrying.
pub const RETRYABLE_ENTRY_ERRORS: [&str; 2] =
    ["ProvisionedThroughputExceededException", "InternalFailure"];

impl EntryOutcome {
    /// True for a failure that a later attempt may fix (throttling, internal failure).
    pub fn is_retryable_failure(&self) -> bool {
        matches!(self, Self::Failed { error_code, .. } if RETRYABLE_ENTRY_ERRORS.contains(&error_code.as_str()))
    }
}

/// A whole put call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The stream is over its throughput (or KMS is throttling): retry later.
    #[error("throttled by Kinesis ({code})")]
    Throttled { code: String },
    /// Anything else: not found, access denied, validation, network after the SDK's retries.
    #[error("Kinesis call failed ({code}): {message}")]
    Failed { code: String, message: String },
}

/// Puts entries into the configured stream.
pub trait RecordSink: Send + Sync {
    /// PutRecord: one entry.
    fn put_record(
        &self,
        entry: &Entry,
    ) -> impl Future<Output = Result<EntryOutcome, SinkError>> + Send;
    /// PutRecords: up to 500 entries, 5 MiB; the answer has one outcome per entry, in order.
    /// Entries are borrowed: a retry sends a subset of the request's entries without copying.
    fn put_records(
        &self,
        entries: &[&Entry],
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, SinkError>> + Send;
}

/// The SDK implementation.
pub mod kinesis {
    use super::*;
    use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
    use aws_sdk_kinesis::Client;

    /// Error codes for which a whole call is throttled rather than failed.
    const THROTTLING_CODES: [&str; 4] = [
        "ProvisionedThroughputExceededException",
        "KMSThrottlingException",
        "LimitExceededException",
        "ThrottlingException",
    ];

    /// Writes to one stream through the AWS SDK.
    #[derive(Debug, Clone)]
    pub struct KinesisSink {
        client: Client,
        stream: StreamTarget,
    }

    impl KinesisSink {
        pub fn new(client: Client, stream: StreamTarget) -> Self {
            Self { client, stream }
        }
    }

    fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        err: SdkError<E, R>,
    ) -> SinkError {
        let code = err.code().unwrap_or("Unknown").to_owned();
        if THROTTLING_CODES.contains(&code.as_str()) {
            return SinkError::Throttled { code };
        }
        let message = match &err {
            SdkError::ServiceError(_) => err.message().unwrap_or_default().to_owned(),
            other => aws_sdk_kinesis::error::DisplayErrorContext(other).to_string(),
        };
        SinkError::Failed { code, message }
    }

    /// The SDK's PutRecords entry for one record: the one copy of its data the call makes.
    pub fn sdk_entry(e: &Entry) -> Result<PutRecordsRequestEntry, SinkError> {
        PutRecordsRequestEntry::builder()
            .data(Blob::new(e.data.to_vec()))
            .partition_key(e.partition_key.as_str())
            .set_explicit_hash_key(e.explicit_hash_key.as_deref().map(str::to_owned))
            .build()
            .map_err(|b| SinkError::Failed {
                code: "BuildError".into(),
                message: b.to_string(),
            })
    }

    impl RecordSink for KinesisSink {
        async fn put_record(&self, entry: &Entry) -> Result<EntryOutcome, SinkError> {
            let mut req = self
                .client
                .put_record()
                .data(Blob::new(entry.data.to_vec()))
                .partition_key(entry.partition_key.as_str())
                .set_explicit_hash_key(entry.explicit_hash_key.as_deref().map(str::to_owned));
            req = match &self.stream {
                StreamTarget::Name(n) => req.stream_name(n),
                StreamTarget::Arn(a) => req.stream_arn(a),
            };
            let out = req.send().await.map_err(classify)?;
            Ok(EntryOutcome::Written {
                shard_id: out.shard_id().to_owned(),
                sequence_number: out.sequence_number().to_owned(),
            })
        }

        async fn put_records(&self, entries: &[&Entry]) -> Result<Vec<EntryOutcome>, SinkError> {
            let records = entries
                .iter()
                .map(|e| sdk_entry(e))
                .collect::<Result<Vec<_>, _>>()?;
            let mut req = self.client.put_records().set_records(Some(records));
            req = match &self.stream {
                StreamTarget::Name(n) => req.stream_name(n),
                StreamTarget::Arn(a) => req.stream_arn(a),
            };
            let out = req.send().await.map_err(classify)?;
            if out.records().len() != entries.len() {
                return Err(SinkError::Failed {
                    code: "MalformedResponse".into(),
                    message: format!(
                        "PutRecords answered {} results for {} entries",
                        out.records().len(),
                        entries.len()
                    ),
                });
            }
            Ok(out
                .records()
                .iter()
                .map(|r| match (r.sequence_number(), r.shard_id()) {
                    (Some(seq), Some(shard)) if r.error_code().is_none() => EntryOutcome::Written {
                        shard_id: shard.to_owned(),
                        sequence_number: seq.to_owned(),
                    },
                    _ => EntryOutcome::Failed {
                        error_code: r.error_code().unwrap_or("InternalFailure").to_owned(),
                        error_message: r.error_message().unwrap_or_default().to_owned(),
                    },
                })
                .collect())
        }
    }
}

/// An in-memory stream for tests: records what was written, and can be told to throttle
/// or fail calls and entries.
pub mod memory {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// What the next call should do.
    #[derive(Debug, Clone)]
    pub enum Script {
        /// The whole call answers this error.
        CallFails(SinkError),
        /// These entry positions of the call fail with this per-entry code.
        EntriesFail(Vec<usize>, &'static str),
    }

    /// A fake single-shard stream.
    #[derive(Debug, Default)]
    pub struct MemorySink {
        pub written: Mutex<Vec<Entry>>,
        pub calls: Mutex<Vec<usize>>,
        script: Mutex<VecDeque<Script>>,
        /// When set, every call fails with this error.
        pub always: Mutex<Option<Script>>,
    }

    impl MemorySink {
        pub fn new() -> Self {
            Self::default()
        }
        /// Queues what the next calls do; calls beyond the script succeed.
        pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
            self.script.lock().unwrap().extend(steps);
        }
        pub fn written_data(&self) -> Vec<Vec<u8>> {
            self.written
                .lock()
                .unwrap()
                .iter()
                .map(|e| e.data.to_vec())
                .collect()
        }
        fn next_step(&self) -> Option<Script> {
            self.always
                .lock()
                .unwrap()
                .clone()
                .or_else(|| self.script.lock().unwrap().pop_front())
        }
        fn write(&self, entries: &[&Entry]) -> Result<Vec<EntryOutcome>, SinkError> {
            self.calls.lock().unwrap().push(entries.len());
            let failing = match self.next_step() {
                Some(Script::CallFails(e)) => return Err(e),
                Some(Script::EntriesFail(positions, code)) => Some((positions, code)),
                None => None,
            };
            let mut written = self.written.lock().unwrap();
            Ok(entries
                .iter()
                .enumerate()
                .map(|(i, e)| match &failing {
                    Some((positions, code)) if positions.contains(&i) => EntryOutcome::Failed {
                        error_code: (*code).to_owned(),
                        error_message: "injected".into(),
                    },
                    _ => {
                        written.push((*e).clone());
                        EntryOutcome::Written {
                            shard_id: "shardId-000000000000".into(),
                            sequence_number: written.len().to_string(),
                        }
                    }
                })
                .collect())
        }
    }

    impl RecordSink for MemorySink {
        async fn put_record(&self, entry: &Entry) -> Result<EntryOutcome, SinkError> {
            let mut out = self.write(&[entry])?;
            match out.pop() {
                Some(EntryOutcome::Failed { error_code, .. }) => {
                    Err(SinkError::Throttled { code: error_code })
                }
                Some(ok) => Ok(ok),
                None => unreachable!("one entry in, one outcome out"),
            }
        }
        async fn put_records(&self, entries: &[&Entry]) -> Result<Vec<EntryOutcome>, SinkError> {
            self.write(entries)
        }
    }
}

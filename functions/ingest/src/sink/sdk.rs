//! The SDK implementation of `RecordSink`: Kinesis `PutRecord` and `PutRecords` on one stream.

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

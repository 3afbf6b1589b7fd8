//! The SDK implementation of `ReingestSink`: Kinesis `PutRecords` to a source stream,
//! Firehose `PutRecordBatch` to a delivery stream (direct put).

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

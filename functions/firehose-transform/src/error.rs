//! Why one record is `ProcessingFailed`. None of these fails the invocation: Firehose writes
//! the original record to the error output prefix, so nothing is lost.

use trickle_shared::gzip::GunzipError;

/// A record that cannot be transformed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record has no data")]
    MissingData,
    #[error("data is not valid base64: {0}")]
    InvalidBase64(#[from] base64::DecodeError),
    #[error("gzip: {0}")]
    Gunzip(#[from] GunzipError),
    #[error("binary data that is not UTF-8 (valid up to byte {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    #[error("malformed CloudWatch Logs envelope: {0}")]
    MalformedCloudWatchLogs(String),
    #[error("unknown CloudWatch Logs messageType {0:?}")]
    UnknownCloudWatchLogsMessageType(String),
    #[error("output line has no usable value for partition key {0:?}")]
    MissingPartitionKey(String),
    #[error("could not encode the output: {0}")]
    Encode(String),
    #[error("output of {bytes} bytes cannot fit any response of at most {budget} bytes")]
    TooLargeForAnyResponse { bytes: usize, budget: usize },
    #[error("did not fit the response and re-ingestion is disabled")]
    ReingestDisabled,
    #[error("did not fit the response and could not be re-ingested: {0}")]
    ReingestFailed(String),
}

impl RecordError {
    /// A short stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingData => "missing_data",
            Self::InvalidBase64(_) => "invalid_base64",
            Self::Gunzip(GunzipError::TooLarge { .. }) => "gzip_too_large",
            Self::Gunzip(GunzipError::Corrupt(_)) => "gzip_corrupt",
            Self::NotUtf8 { .. } => "not_utf8",
            Self::MalformedCloudWatchLogs(_) => "cwl_malformed",
            Self::UnknownCloudWatchLogsMessageType(_) => "cwl_unknown_type",
            Self::MissingPartitionKey(_) => "missing_partition_key",
            Self::Encode(_) => "encode",
            Self::TooLargeForAnyResponse { .. } => "too_large",
            Self::ReingestDisabled => "reingest_disabled",
            Self::ReingestFailed(_) => "reingest_failed",
        }
    }
}

//! Everything a client can get wrong, each with its HTTP status. Upstream (Kinesis) failures
//! are not here: they are per-record outcomes, see `write.rs`.

use crate::encoding::{EncodingError, BATCH_SETTINGS};
use crate::msgpack::MsgpackError;
use http::StatusCode;

/// Bad client input: answered with a 4xx and `{"error": "..."}`, and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("missing or wrong token: send Authorization: Bearer <token>, or Basic auth with the token as the password")]
    Unauthorized,
    #[error("method {0} not allowed: POST records to this URL")]
    MethodNotAllowed(String),
    #[error("empty body: POST one or more records")]
    EmptyBody,
    #[error("a record may not start with the KPL aggregate magic bytes F3 89 9A C2: send the user records themselves (ingest aggregates them with AGGREGATE=true)")]
    KplAggregate,
    #[error("no records in the body: {0}")]
    NoRecords(&'static str),
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("invalid NDJSON on line {line}: {detail}")]
    InvalidNdjson { line: usize, detail: String },
    #[error(
        "record {index} is {bytes} bytes with its partition key; Kinesis takes at most {limit}: split the record"
    )]
    RecordTooLarge {
        index: usize,
        bytes: usize,
        limit: usize,
    },
    #[error("invalid partition key{}: {reason}", .index.map(|i| format!(" for record {i}")).unwrap_or_default())]
    InvalidPartitionKey {
        index: Option<usize>,
        reason: String,
    },
    #[error("more than {limit} records in one request{BATCH_SETTINGS}")]
    TooManyRecords { limit: usize },
    #[error("invalid X-Explicit-Hash-Key: expected a decimal integer from 0 to 2^128-1")]
    InvalidExplicitHashKey,
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    #[error(transparent)]
    Msgpack(#[from] MsgpackError),
    #[error("a browser key may not send {0}: use a token for trusted senders")]
    BrowserRefused(String),
    #[error("a request with the browser key may carry at most {limit} bytes: send fewer events per beacon")]
    BrowserBodyTooLarge { limit: usize },
    #[error("invalid Idempotency-Key: 1 to 255 printable ASCII characters")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was used with a different request (body or headers); use a new key for a new request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is being handled; retry after it")]
    IdempotencyInFlight,
    #[error("the request memory is unavailable ({0}); retry the request")]
    IdempotencyUnavailable(String),
    #[error("unknown browser key")]
    UnknownBrowserKey,
    #[error("the event says isBase64Encoded but its body is not base64: {0}")]
    InvalidBase64Body(String),
}

impl IngestError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::UnknownBrowserKey => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::RecordTooLarge { .. }
            | Self::BrowserBodyTooLarge { .. }
            | Self::Encoding(EncodingError::TooLarge { .. })
            | Self::Msgpack(MsgpackError::TooLarge { .. })
            | Self::TooManyRecords { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Encoding(EncodingError::Unsupported(_) | EncodingError::Stacked(_)) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::EmptyBody
            | Self::KplAggregate
            | Self::NoRecords(_)
            | Self::InvalidJson(_)
            | Self::InvalidNdjson { .. }
            | Self::InvalidPartitionKey { .. }
            | Self::InvalidExplicitHashKey
            | Self::Encoding(EncodingError::Corrupt { .. })
            | Self::Msgpack(MsgpackError::Invalid { .. })
            | Self::BrowserRefused(_)
            | Self::InvalidBase64Body(_)
            | Self::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyInFlight | Self::IdempotencyUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

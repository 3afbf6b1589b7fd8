//! OpenTelemetry in: OTLP/HTTP export requests (logs, traces, metrics; protobuf or OTLP JSON)
//! decoded and turned into flat rows, one per log record, span or metric data point; and the
//! answers OTLP/HTTP clients expect. Pure: no I/O.
//!
//! - `proto`: the OTLP messages as prost types, generated once by `tools/otlp-gen` from the
//!   OTLP `.proto` files (no protoc at build time, no OpenTelemetry SDK).
//! - `json`: OTLP's JSON encoding into those messages.
//! - `rows`: the messages as flat JSON rows, within a byte bound.

pub mod json;
#[rustfmt::skip]
pub mod proto;
pub mod rows;

use prost::Message;
pub use proto::opentelemetry::proto as pb;

/// The three OTLP signals, by the path an exporter posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    /// The signal a request path names: one ending in `/v1/logs`, `/v1/traces` or
    /// `/v1/metrics` (any prefix before it, so an exporter's base endpoint can be the URL).
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/v1/logs") {
            Some(Self::Logs)
        } else if path.ends_with("/v1/traces") {
            Some(Self::Traces)
        } else if path.ends_with("/v1/metrics") {
            Some(Self::Metrics)
        } else {
            None
        }
    }

    /// What one item of the signal is called (for messages).
    pub fn items(self) -> &'static str {
        match self {
            Self::Logs => "log records",
            Self::Traces => "spans",
            Self::Metrics => "data points",
        }
    }
}

/// OTLP/HTTP's two encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`
    Protobuf,
    /// `application/json`
    Json,
}

impl Encoding {
    pub fn from_content_type(content_type: Option<&str>) -> Option<Self> {
        let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Self::Protobuf),
            "application/json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// A body that is not the export request it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not an OTLP protobuf export request: {0}")]
    Protobuf(String),
    #[error(transparent)]
    Json(#[from] json::JsonError),
}

/// A decoded export request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Logs(pb::collector::logs::v1::ExportLogsServiceRequest),
    Traces(pb::collector::trace::v1::ExportTraceServiceRequest),
    Metrics(pb::collector::metrics::v1::ExportMetricsServiceRequest),
}

/// Decodes a body.
pub fn decode(signal: Signal, encoding: Encoding, body: &[u8]) -> Result<Request, DecodeError> {
    let pb_err = |e: prost::DecodeError| DecodeError::Protobuf(e.to_string());
    Ok(match (signal, encoding) {
        (Signal::Logs, Encoding::Protobuf) => Request::Logs(Message::decode(body).map_err(pb_err)?),
        (Signal::Traces, Encoding::Protobuf) => {
            Request::Traces(Message::decode(body).map_err(pb_err)?)
        }
        (Signal::Metrics, Encoding::Protobuf) => {
            Request::Metrics(Message::decode(body).map_err(pb_err)?)
        }
        (Signal::Logs, Encoding::Json) => Request::Logs(json::logs(body)?),
        (Signal::Traces, Encoding::Json) => Request::Traces(json::traces(body)?),
        (Signal::Metrics, Encoding::Json) => Request::Metrics(json::metrics(body)?),
    })
}

impl Request {
    /// Its items as rows, within `limit` bytes in all.
    pub fn rows(&self, received_ns: u64, limit: usize) -> Result<Vec<rows::Row>, rows::TooLarge> {
        match self {
            Self::Logs(r) => rows::logs(r, received_ns, limit),
            Self::Traces(r) => rows::traces(r, limit),
            Self::Metrics(r) => rows::metrics(r, limit),
        }
    }
}

/// The success answer: `Export*ServiceResponse`, with `partial_success` when `rejected` items
/// could never be put (and why).
pub fn success(signal: Signal, encoding: Encoding, rejected: i64, reason: &str) -> Vec<u8> {
    use pb::collector::{logs::v1 as l, metrics::v1 as m, trace::v1 as t};
    let partial = rejected > 0;
    match encoding {
        Encoding::Protobuf => match signal {
            Signal::Logs => l::ExportLogsServiceResponse {
                partial_success: partial.then(|| l::ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: reason.to_owned(),
                }),
            }
            .encode_to_vec(),
            Signal::Traces => t::ExportTraceServiceResponse {
                partial_success: partial.then(|| t::ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: reason.to_owned(),
                }),
            }
            .encode_to_vec(),
            Signal::Metrics => m::ExportMetricsServiceResponse {
                partial_success: partial.then(|| m::ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: reason.to_owned(),
                }),
            }
            .encode_to_vec(),
        },
        Encoding::Json => {
            if !partial {
                return b"{}".to_vec();
            }
            let count = match signal {
                Signal::Logs => "rejectedLogRecords",
                Signal::Traces => "rejectedSpans",
                Signal::Metrics => "rejectedDataPoints",
            };
            serde_json::to_vec(&serde_json::json!({
                "partialSuccess": {count: rejected.to_string(), "errorMessage": reason}
            }))
            .expect("JSON serializes")
        }
    }
}

/// `google.rpc.Status`, what OTLP/HTTP answers an error with.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC's codes that an HTTP status stands for in a `Status`.
pub fn status(encoding: Encoding, http_status: u16, message: &str) -> Vec<u8> {
    let code = match http_status {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    };
    match encoding {
        Encoding::Protobuf => Status {
            code,
            message: message.to_owned(),
        }
        .encode_to_vec(),
        Encoding::Json => {
            serde_json::to_vec(&serde_json::json!({"code": code, "message": message}))
                .expect("JSON serializes")
        }
    }
}

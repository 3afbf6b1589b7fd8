//! OTLP/HTTP in ingest: a POST to a path ending `/v1/logs`, `/v1/traces` or `/v1/metrics`
//! (protobuf or OTLP JSON, in any Content-Encoding ingest decodes) becomes one record per log
//! record, span or metric data point: a flat JSON row (`trickle_otlp::rows`).
//!
//! Partition keys: an item carrying a trace id uses it (a trace stays on one shard, in order);
//! the others get random keys, unless the request names one (`X-Partition-Key` or
//! `?partitionKey=`, for all its items).
//!
//! Answers as OTLP/HTTP says: 200 with the `Export*ServiceResponse` in the request's encoding
//! (`partial_success` names the items that can never be put: a row over Kinesis' 1 MiB); a
//! `google.rpc.Status` in the request's encoding for errors: 400 for a body that does not
//! decode, 413 past a bound, 415 for another content type; 503 with `Retry-After` when
//! Kinesis throttles, 502 when it fails otherwise. Never a 2xx for an item that was not put.

use crate::body::{
    validate_partition_key, Entry, HttpInput, PartitionKey, MAX_DECODED_BODY_BYTES,
    MAX_RECORDS_PER_REQUEST,
};
use crate::encoding::{decode, ContentEncoding, EncodingError, BATCH_SETTINGS};
use bytes::Bytes;
use std::sync::Arc;
use trickle_otlp::{Encoding, Signal};
use trickle_shared::limits::KINESIS_MAX_RECORD_BYTES;

/// The most bytes the rows of one export may take: copying each resource's attributes into
/// every item can make an export of tiny items many times its size.
pub const MAX_OTLP_ROWS_BYTES: usize = 3 * MAX_DECODED_BODY_BYTES;

/// An OTLP request's records, and the items that can never be put.
#[derive(Debug)]
pub struct Parsed {
    pub signal: Signal,
    pub encoding: Encoding,
    pub entries: Vec<Entry>,
    /// Items whose row is over Kinesis' record limit: answered in `partial_success`.
    pub rejected: usize,
}

/// An OTLP request that cannot be taken: its HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn refused(status: u16, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

/// The request's encoding from its Content-Type (JSON when it names none it knows, for the
/// error's body).
pub fn encoding_of(input: &HttpInput<'_>) -> Option<Encoding> {
    Encoding::from_content_type(input.content_type)
}

/// Parses an OTLP export into entries.
pub fn parse(signal: Signal, input: &HttpInput<'_>, received_ns: u64) -> Result<Parsed, Refused> {
    if !input.method.eq_ignore_ascii_case("POST") {
        return Err(refused(
            405,
            format!("method {} not allowed: POST OTLP exports", input.method),
        ));
    }
    let Some(encoding) = encoding_of(input) else {
        return Err(refused(
            415,
            "OTLP/HTTP takes Content-Type application/x-protobuf or application/json",
        ));
    };
    let body: Bytes = match ContentEncoding::from_header(input.content_encoding) {
        Ok(ContentEncoding::Identity) => input.body.clone(),
        Ok(e) => decode(e, &input.body, MAX_DECODED_BODY_BYTES)
            .map_err(|e| match e {
                EncodingError::TooLarge { .. } => refused(413, e.to_string()),
                other => refused(400, other.to_string()),
            })?
            .into(),
        Err(e) => return Err(refused(415, e.to_string())),
    };
    let request =
        trickle_otlp::decode(signal, encoding, &body).map_err(|e| refused(400, e.to_string()))?;
    let rows = request
        .rows(received_ns, MAX_OTLP_ROWS_BYTES)
        .map_err(|e| refused(413, format!("{e}{BATCH_SETTINGS}")))?;
    let fixed_key: Option<Arc<str>> = match input.partition_key_header.or(input.partition_key_query)
    {
        Some(k) => {
            validate_partition_key(k)
                .map_err(|reason| refused(400, format!("invalid partition key: {reason}")))?;
            Some(k.into())
        }
        None => None,
    };
    if rows.len() > MAX_RECORDS_PER_REQUEST {
        return Err(refused(
            413,
            format!(
                "more than {MAX_RECORDS_PER_REQUEST} {} in one export{BATCH_SETTINGS}",
                signal.items()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(rows.len());
    let mut rejected = 0;
    for row in rows {
        let partition_key = match (&fixed_key, row.trace_id) {
            (Some(k), _) => PartitionKey::Shared(Arc::clone(k)),
            (None, Some(trace)) => PartitionKey::Own(trace),
            (None, None) => PartitionKey::random(),
        };
        let entry = Entry {
            data: row.json.into(),
            partition_key,
            explicit_hash_key: None,
        };
        if entry.billed_bytes() > KINESIS_MAX_RECORD_BYTES {
            rejected += 1;
            continue;
        }
        entries.push(entry);
    }
    Ok(Parsed {
        signal,
        encoding,
        entries,
        rejected,
    })
}

/// Why items were rejected, for `partial_success.error_message`.
pub fn rejected_reason(rejected: usize) -> String {
    format!(
        "{rejected} item(s) are over Kinesis' record limit of {KINESIS_MAX_RECORD_BYTES} bytes as rows and can never be put"
    )
}

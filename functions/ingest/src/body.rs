//! Pure request parsing: an HTTP request's parts become the Kinesis entries to write, or a
//! client error. No I/O; the adapter in `handler.rs` extracts the parts from the Lambda event.
//!
//! The body pipeline, in order (docs/reference/ingest.md):
//! 1. the method (POST only);
//! 2. `Content-Encoding` decoded within `MAX_DECODED_BODY_BYTES` (`encoding.rs`);
//! 3. split by `Content-Type` into records (`BodyFormat`): a JSON array or a stream of JSON
//!    values, NDJSON lines, Fluent Bit's msgpack events (`msgpack.rs`), or the body whole;
//! 4. each record with its partition key (header, query, `STREAM_PARTITION_KEY_POINTER`, or
//!    random) and the per-record and per-request limits.

use crate::encoding::{decode, ContentEncoding};
use crate::error::IngestError;
use bytes::Bytes;
use serde_json::value::RawValue;
use std::sync::Arc;
use trickle_shared::json::{minified_len, minify_valid_json};
use trickle_shared::limits::{KINESIS_MAX_PARTITION_KEY_CHARS, KINESIS_MAX_RECORD_BYTES};
use trickle_shared::pointer::scalar_at_pointer;

/// The most a compressed body may decode to. The function URL refuses a request over 6 MB
/// before ingest runs; a decoded body of 6 MiB is what one shard takes in 6 s (1 MiB/s), well
/// within the retry budget, and what ingest's memory holds with its entries (see
/// docs/reference/ingest.md#limits).
pub const MAX_DECODED_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The most JSON a msgpack body may convert to (msgpack is denser than JSON: `nil` is one byte,
/// `null` four).
pub const MAX_CONVERTED_BODY_BYTES: usize = 2 * MAX_DECODED_BODY_BYTES;

/// The most records one request may carry. A 6 MiB body of tiny records (`[0,0,0,...]`) would
/// otherwise become three million entries, each with its own allocations and key: hundreds of
/// MB in a 128 MB function. 50,000 is 100 PutRecords calls, far beyond what a client should
/// send in one request.
pub const MAX_RECORDS_PER_REQUEST: usize = 50_000;

/// One record to put into Kinesis.
///
/// Nothing here is copied per record: `data` is a slice of the request body (an NDJSON line,
/// or a JSON array element that is already compact), and a key given by header or query is
/// shared by all the request's records. The SDK call copies each record once, into its own
/// request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub data: Bytes,
    pub partition_key: PartitionKey,
    pub explicit_hash_key: Option<Arc<str>>,
}

impl Entry {
    /// What the record counts against Kinesis' per-record and per-request limits.
    pub fn billed_bytes(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }

    /// The key is a random UUID (the request gave none): the record has no shard affinity.
    pub fn random_key(&self) -> bool {
        matches!(self.partition_key, PartitionKey::Random(_))
    }
}

/// A record's partition key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartitionKey {
    /// A random UUID v4 (the request gave no key), its 36 ASCII characters held inline.
    Random([u8; 36]),
    /// The header's or query's key, shared by every record of the request.
    Shared(Arc<str>),
    /// The key read from this record's data.
    Own(String),
    /// A keyed request's record: its identity, then the sender's key if it gave one
    /// (`trickle_shared::identity`). The explicit hash key beside it keeps the shard.
    Identity(String),
}

impl PartitionKey {
    /// A random UUID v4. Partition keys need a uniform spread over the hash space, not
    /// secrecy, so the bits come from a fast PRNG (`fastrand`, seeded per thread from the OS)
    /// instead of a `getrandom` system call per record.
    pub fn random() -> Self {
        let mut text = [0u8; 36];
        uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut text);
        Self::Random(text)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Random(text) => std::str::from_utf8(text).expect("a UUID's text is ASCII"),
            Self::Shared(k) => k,
            Self::Own(k) | Self::Identity(k) => k,
        }
    }

    /// Its length in bytes (what Kinesis bills).
    pub fn len(&self) -> usize {
        match self {
            Self::Random(text) => text.len(),
            Self::Shared(k) => k.len(),
            Self::Own(k) | Self::Identity(k) => k.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for PartitionKey {
    fn from(k: &str) -> Self {
        Self::Own(k.to_owned())
    }
}

impl PartialEq<str> for PartitionKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PartitionKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of an HTTP request that decide what is written.
#[derive(Debug, Default, Clone)]
pub struct HttpInput<'a> {
    pub method: &'a str,
    /// The request's path (`rawPath`): one ending `/v1/logs`, `/v1/traces` or `/v1/metrics`
    /// is an OTLP export (`otlp.rs`).
    pub path: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    /// `X-Partition-Key` header.
    pub partition_key_header: Option<&'a str>,
    /// `?partitionKey=` query parameter.
    pub partition_key_query: Option<&'a str>,
    /// `X-Explicit-Hash-Key` header.
    pub explicit_hash_key: Option<&'a str>,
    /// `Authorization` header (checked only when a token is configured).
    pub authorization: Option<&'a str>,
    /// `?key=` query parameter: the public browser key (`browser.rs`).
    pub browser_key: Option<&'a str>,
    /// `Origin` header (a browser's page).
    pub origin: Option<&'a str>,
    /// `Idempotency-Key` header (`idempotency/`).
    pub idempotency_key: Option<&'a str>,
    /// The IAM principal of a signed request (the function URL's `AWS_IAM` auth), the scope
    /// of its idempotency keys.
    pub caller: Option<&'a str>,
    /// The body; records are slices of it.
    pub body: Bytes,
}

impl<'a> HttpInput<'a> {
    /// A POST with this content type and body (copied), and no other header.
    pub fn post(content_type: &'a str, body: &[u8]) -> Self {
        HttpInput {
            method: "POST",
            content_type: Some(content_type),
            body: Bytes::copy_from_slice(body),
            ..Default::default()
        }
    }
}

/// How the body is split into records, from the Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json` (and `application/*+json`): an array is one record per element.
    Json,
    /// `application/x-ndjson`, `application/ndjson`, `application/jsonl`,
    /// `application/x-jsonlines`, `application/jsonlines`: one record per non-empty line.
    Ndjson,
    /// `application/msgpack`, `application/x-msgpack` (Fluent Bit's default `format`): one
    /// JSON object per event.
    Msgpack,
    /// Anything else: the body is one record, byte for byte.
    Raw,
}

impl BodyFormat {
    /// Classifies a Content-Type header value (parameters such as charset are ignored).
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        match essence(content_type).as_str() {
            "application/json" => Self::Json,
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Self::Ndjson,
            "application/msgpack" | "application/x-msgpack" => Self::Msgpack,
            e if e.starts_with("application/") && e.ends_with("+json") => Self::Json,
            _ => Self::Raw,
        }
    }
}

/// A Content-Type's media type, lower-cased, without its parameters (`charset`, ...); empty
/// when there is none.
pub fn essence(content_type: Option<&str>) -> String {
    content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Parses a request into entries, or says exactly what is wrong with it.
pub fn parse(input: &HttpInput<'_>, key_pointer: Option<&str>) -> Result<Vec<Entry>, IngestError> {
    if !input.method.eq_ignore_ascii_case("POST") {
        return Err(IngestError::MethodNotAllowed(input.method.to_owned()));
    }
    let body: Bytes = match ContentEncoding::from_header(input.content_encoding)? {
        ContentEncoding::Identity => input.body.clone(),
        _ if input.body.is_empty() => return Err(IngestError::EmptyBody),
        encoding => decode(encoding, &input.body, MAX_DECODED_BODY_BYTES)?.into(),
    };
    if body.is_empty() {
        return Err(IngestError::EmptyBody);
    }
    let fixed_key = fixed_partition_key(input)?;
    let explicit_hash_key: Option<Arc<str>> = input
        .explicit_hash_key
        .map(|k| {
            let k = k.trim();
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IngestError::InvalidExplicitHashKey);
            }
            k.parse::<u128>()
                .map(|n| n.to_string().into())
                .map_err(|_| IngestError::InvalidExplicitHashKey)
        })
        .transpose()?;

    let mut records = Records {
        fixed_key,
        explicit_hash_key,
        key_pointer,
        out: Vec::new(),
    };
    match BodyFormat::from_content_type(input.content_type) {
        BodyFormat::Json => split_json(&body, &mut records)?,
        BodyFormat::Ndjson => split_ndjson(&body, &mut records)?,
        BodyFormat::Msgpack => split_msgpack(&body, &mut records)?,
        BodyFormat::Raw => records.push(body, None)?,
    }
    Ok(records.out)
}

/// The entries being built, and what every record of the request shares.
struct Records<'p> {
    fixed_key: Option<Arc<str>>,
    explicit_hash_key: Option<Arc<str>>,
    /// Where to read a record's key (only when no key is fixed by header or query).
    key_pointer: Option<&'p str>,
    out: Vec<Entry>,
}

impl Records<'_> {
    /// The partition key a record's JSON carries at the pointer (already validated JSON, so
    /// the pointer reader's error case does not arise).
    fn key_from(&self, raw: &[u8]) -> Option<String> {
        if self.fixed_key.is_some() {
            return None;
        }
        scalar_at_pointer(raw, self.key_pointer?).ok().flatten()
    }

    /// Adds the next record, with the key its data carries, if any.
    fn push(&mut self, data: Bytes, key_from_data: Option<String>) -> Result<(), IngestError> {
        // Only ingest builds aggregates: the writers de-aggregate any record that starts with
        // the magic (and a matching digest), so a client's own aggregate would bypass the
        // bounds ingest keeps (`aggregate.rs`). JSON and NDJSON records are text and never
        // start with these bytes.
        if data.starts_with(&trickle_shared::kpl::KPL_MAGIC) {
            return Err(IngestError::KplAggregate);
        }
        let index = self.out.len();
        if index == MAX_RECORDS_PER_REQUEST {
            return Err(IngestError::TooManyRecords {
                limit: MAX_RECORDS_PER_REQUEST,
            });
        }
        let partition_key = match (&self.fixed_key, key_from_data) {
            (Some(k), _) => PartitionKey::Shared(Arc::clone(k)),
            (None, Some(k)) => {
                validate_partition_key(&k).map_err(|reason| IngestError::InvalidPartitionKey {
                    index: Some(index),
                    reason,
                })?;
                PartitionKey::Own(k)
            }
            (None, None) => PartitionKey::random(),
        };
        let entry = Entry {
            data,
            partition_key,
            explicit_hash_key: self.explicit_hash_key.clone(),
        };
        if entry.billed_bytes() > KINESIS_MAX_RECORD_BYTES {
            return Err(IngestError::RecordTooLarge {
                index,
                bytes: entry.billed_bytes(),
                limit: KINESIS_MAX_RECORD_BYTES,
            });
        }
        self.out.push(entry);
        Ok(())
    }
}

/// The key from the header, else the query parameter; validated.
fn fixed_partition_key(input: &HttpInput<'_>) -> Result<Option<Arc<str>>, IngestError> {
    let Some(key) = input.partition_key_header.or(input.partition_key_query) else {
        return Ok(None);
    };
    validate_partition_key(key).map_err(|reason| IngestError::InvalidPartitionKey {
        index: None,
        reason,
    })?;
    Ok(Some(key.into()))
}

/// Kinesis: 1 to 256 Unicode characters; and neither the prefix of the copies
/// firehose-transform re-ingests, which batch-to-s3 skips (`trickle_shared::reingest`), nor
/// that of a record's identity, which the writers store once (`trickle_shared::identity`).
pub fn validate_partition_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if trickle_shared::reingest::is_reingested(key) {
        Err(format!(
            "it starts with {:?}, which trickle reserves for re-ingested copies",
            trickle_shared::reingest::REINGESTED_PARTITION_KEY_PREFIX
        ))
    } else if trickle_shared::identity::claims_identity(key) {
        Err(format!(
            "it starts with {:?}, which trickle reserves for the identities of keyed requests' records (send an Idempotency-Key instead)",
            trickle_shared::identity::IDENTITY_PARTITION_KEY_PREFIX
        ))
    } else if chars == 0 {
        Err("it is empty".into())
    } else if chars > KINESIS_MAX_PARTITION_KEY_CHARS {
        Err(format!(
            "it has {chars} characters; Kinesis takes at most {KINESIS_MAX_PARTITION_KEY_CHARS}"
        ))
    } else {
        Ok(())
    }
}

/// `application/json`: one value (an array is one record per element), or a stream of values
/// concatenated or separated by whitespace (Fluent Bit's `json_stream` and `gelf` formats,
/// what Firehose de-aggregates): one record per value, an array among them one record.
fn split_json(body: &Bytes, records: &mut Records<'_>) -> Result<(), IngestError> {
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<&RawValue>();
    let first = match values.next() {
        Some(v) => v.map_err(|e| IngestError::InvalidJson(e.to_string()))?,
        None => return Err(IngestError::InvalidJson("no JSON value in the body".into())),
    };
    let second = values.next();
    if second.is_none() && first.get().starts_with('[') {
        return split_json_array(body, records);
    }
    for value in std::iter::once(Ok(first)).chain(second).chain(values) {
        let raw = value.map_err(|e| IngestError::InvalidJson(e.to_string()))?;
        push_json_value(body, raw.get().as_bytes(), records)?;
    }
    Ok(())
}

/// One JSON value of the body as a record: shared when it is already compact, else minified.
fn push_json_value(
    body: &Bytes,
    text: &[u8],
    records: &mut Records<'_>,
) -> Result<(), IngestError> {
    let data = if minified_len(text) == text.len() {
        body.slice_ref(text)
    } else {
        minify_valid_json(text).into()
    };
    let key = records.key_from(text);
    records.push(data, key)
}

fn split_json_array(body: &Bytes, records: &mut Records<'_>) -> Result<(), IngestError> {
    let too_many = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let elements = serde::de::DeserializeSeed::deserialize(
        CappedArray {
            too_many: &too_many,
        },
        &mut de,
    )
    .and_then(|v| de.end().map(|()| v));
    let elements = match elements {
        Ok(e) => e,
        Err(_) if too_many.get() => {
            return Err(IngestError::TooManyRecords {
                limit: MAX_RECORDS_PER_REQUEST,
            })
        }
        Err(e) => return Err(IngestError::InvalidJson(e.to_string())),
    };
    if elements.is_empty() {
        return Err(IngestError::NoRecords("the JSON array is empty"));
    }
    records.out.reserve_exact(elements.len());
    for raw in elements {
        push_json_value(body, raw.get().as_bytes(), records)?;
    }
    Ok(())
}

/// Fluent Bit's msgpack: one JSON object per event (`msgpack.rs`).
fn split_msgpack(body: &Bytes, records: &mut Records<'_>) -> Result<(), IngestError> {
    let mut json = Vec::with_capacity(body.len().saturating_mul(2).min(MAX_CONVERTED_BODY_BYTES));
    let ranges = crate::msgpack::to_json_records(body, &mut json, MAX_CONVERTED_BODY_BYTES)?;
    let json = Bytes::from(json);
    records
        .out
        .reserve_exact(ranges.len().min(MAX_RECORDS_PER_REQUEST));
    for range in ranges {
        let text = json.slice(range);
        let key = records.key_from(&text);
        records.push(text, key)?;
    }
    Ok(())
}

/// A JSON array's elements as raw text, refusing more than `MAX_RECORDS_PER_REQUEST` of
/// them while parsing (so the element list itself stays small).
struct CappedArray<'c> {
    too_many: &'c std::cell::Cell<bool>,
}

impl<'de> serde::de::DeserializeSeed<'de> for CappedArray<'_> {
    type Value = Vec<&'de RawValue>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CappedArray<'_> {
    type Value = Vec<&'de RawValue>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if out.len() == MAX_RECORDS_PER_REQUEST {
                self.too_many.set(true);
                return Err(serde::de::Error::custom("too many records"));
            }
            out.push(raw);
        }
        Ok(out)
    }
}

fn split_ndjson(body: &Bytes, records: &mut Records<'_>) -> Result<(), IngestError> {
    // One entry per line at most; the count is capped so a body of empty lines cannot
    // reserve more than the request may hold.
    let lines = memchr::memchr_iter(b'\n', body).count() + 1;
    records
        .out
        .reserve_exact(lines.min(MAX_RECORDS_PER_REQUEST));
    let mut start = 0;
    for (i, end) in memchr::memchr_iter(b'\n', body)
        .chain(std::iter::once(body.len()))
        .enumerate()
    {
        let line = &body[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        serde_json::from_slice::<&RawValue>(line).map_err(|e| IngestError::InvalidNdjson {
            line: i + 1,
            detail: e.to_string(),
        })?;
        let key = records.key_from(line);
        records.push(body.slice_ref(line), key)?;
    }
    if records.out.is_empty() {
        return Err(IngestError::NoRecords(
            "the NDJSON body has only empty lines",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn post<'a>(content_type: &'a str, body: &'a [u8]) -> HttpInput<'a> {
        HttpInput::post(content_type, body)
    }

    fn datas(entries: &[Entry]) -> Vec<&[u8]> {
        entries.iter().map(|e| &e.data[..]).collect()
    }

    #[test]
    fn splits_a_json_array_into_compact_elements() {
        let e = parse(
            &post("application/json", b"[ {\"a\": 1}, \"x y\" , 2.50 ]"),
            None,
        )
        .unwrap();
        assert_eq!(datas(&e), [&b"{\"a\":1}"[..], b"\"x y\"", b"2.50"]);
    }

    #[test]
    fn any_other_json_value_is_one_compact_record() {
        let body = b"{ \"a\" : [1, 2] }\n";
        let e = parse(&post("application/json; charset=utf-8", body), None).unwrap();
        assert_eq!(datas(&e), [&b"{\"a\":[1,2]}"[..]]);
    }

    #[test]
    fn a_stream_of_json_values_is_one_record_per_value() {
        // Fluent Bit json_stream (concatenated), gelf (newline separated), an array among them.
        let body = b"{\"a\":1}{\"a\": 2}\n\n[1, 2] \"s\" 3";
        let e = parse(&post("application/json", body), None).unwrap();
        assert_eq!(
            datas(&e),
            [&b"{\"a\":1}"[..], b"{\"a\":2}", b"[1,2]", b"\"s\"", b"3"]
        );
        // What is invalid names where.
        let err = parse(&post("application/json", b"{\"a\":1}\n{\"a\":}"), None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn every_content_encoding_is_decoded_before_the_split() {
        use crate::encoding::ContentEncoding as E;
        let body = b"{\"a\":1}\n{\"a\":2}\n";
        for (token, enc) in [
            ("gzip", E::Gzip),
            ("x-gzip", E::Gzip),
            ("deflate", E::Deflate),
            ("zstd", E::Zstd),
            ("br", E::Brotli),
            ("snappy", E::Snappy),
            ("x-snappy-framed", E::SnappyFramed),
        ] {
            let encoded = crate::encoding::tests::encode(enc, body);
            let input = HttpInput {
                content_encoding: Some(token),
                ..post("application/x-ndjson", &encoded)
            };
            let e = parse(&input, None).unwrap();
            assert_eq!(datas(&e), [&b"{\"a\":1}"[..], b"{\"a\":2}"], "{token}");
        }
    }

    #[test]
    fn fluent_bit_msgpack_is_one_json_object_per_event() {
        // [1700000000, {"log": "x"}] twice, the second as [[t, {}], {...}].
        let mut body = vec![0x92, 0xce];
        body.extend(1_700_000_000u32.to_be_bytes());
        body.extend([0x81, 0xa3, b'l', b'o', b'g', 0xa1, b'x']);
        body.extend([0x92, 0x92, 0xce]);
        body.extend(1_700_000_001u32.to_be_bytes());
        body.extend([0x80, 0x81, 0xa3, b'l', b'o', b'g', 0xa1, b'y']);
        for ct in ["application/msgpack", "application/x-msgpack"] {
            let e = parse(&post(ct, &body), Some("/log")).unwrap();
            assert_eq!(
                datas(&e),
                [
                    &b"{\"log\":\"x\",\"date\":1700000000.000000}"[..],
                    b"{\"log\":\"y\",\"date\":1700000001.000000}"
                ]
            );
            assert_eq!(
                e[0].partition_key, "x",
                "the key pointer reads the converted JSON"
            );
        }
        let err = parse(&post("application/msgpack", &[0x92, 0xc0]), None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("event 0"), "{err}");
    }

    #[test]
    fn splits_ndjson_on_non_empty_lines() {
        let body = b"{\"a\":1}\r\n\n  \n[2]\n\"t\"";
        for ct in ["application/x-ndjson", "application/jsonl"] {
            let e = parse(&post(ct, body), None).unwrap();
            assert_eq!(datas(&e), [&b"{\"a\":1}"[..], b"[2]", b"\"t\""]);
        }
    }

    #[test]
    fn refuses_a_raw_body_that_starts_like_a_kpl_aggregate() {
        let agg = trickle_shared::kpl::aggregate(&[trickle_shared::kpl::UserRecord {
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: b"x".to_vec(),
        }]);
        let err = parse(&post("application/octet-stream", &agg), None).unwrap_err();
        assert_eq!(err, IngestError::KplAggregate);
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn raw_bodies_are_one_record_byte_for_byte() {
        let body = b"Hello\nWorld\xff";
        for ct in ["text/plain", "application/octet-stream"] {
            assert_eq!(datas(&parse(&post(ct, body), None).unwrap()), [&body[..]]);
        }
        let none = HttpInput {
            method: "POST",
            body: Bytes::from_static(body),
            ..Default::default()
        };
        assert_eq!(datas(&parse(&none, None).unwrap()), [&body[..]]);
    }

    #[test]
    fn decodes_gzip_bodies() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(b"[1,2]").unwrap();
        let gz = enc.finish().unwrap();
        let input = HttpInput {
            content_encoding: Some("gzip"),
            ..post("application/json", &gz)
        };
        assert_eq!(datas(&parse(&input, None).unwrap()), [&b"1"[..], b"2"]);
    }

    #[test]
    fn refuses_a_gzip_bomb_with_413() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&vec![b'a'; MAX_DECODED_BODY_BYTES + 1])
            .unwrap();
        let gz = enc.finish().unwrap();
        let input = HttpInput {
            content_encoding: Some("gzip"),
            ..post("text/plain", &gz)
        };
        let err = parse(&input, None).unwrap_err();
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn rejects_unknown_encoding_with_415() {
        let input = HttpInput {
            content_encoding: Some("lz4"),
            ..post("text/plain", b"x")
        };
        assert_eq!(parse(&input, None).unwrap_err().status(), 415);
        let stacked = HttpInput {
            content_encoding: Some("gzip, br"),
            ..post("text/plain", b"x")
        };
        let err = parse(&stacked, None).unwrap_err();
        assert_eq!(err.status(), 415);
        assert!(err.to_string().contains(crate::encoding::ACCEPTED), "{err}");
    }

    #[test]
    fn rejects_other_methods_with_405() {
        let input = HttpInput {
            method: "GET",
            ..post("text/plain", b"x")
        };
        assert_eq!(parse(&input, None).unwrap_err().status(), 405);
    }

    #[test]
    fn rejects_empty_bodies_and_empty_collections() {
        assert_eq!(
            parse(&post("text/plain", b""), None).unwrap_err(),
            IngestError::EmptyBody
        );
        assert!(matches!(
            parse(&post("application/json", b" [ ] "), None),
            Err(IngestError::NoRecords(_))
        ));
        assert!(matches!(
            parse(&post("application/x-ndjson", b"\n \n"), None),
            Err(IngestError::NoRecords(_))
        ));
    }

    #[test]
    fn refuses_more_records_than_one_request_may_carry() {
        let many = format!("[{}0]", "0,".repeat(MAX_RECORDS_PER_REQUEST));
        let err = parse(&post("application/json", many.as_bytes()), None).unwrap_err();
        assert_eq!(
            err,
            IngestError::TooManyRecords {
                limit: MAX_RECORDS_PER_REQUEST
            }
        );
        assert_eq!(err.status(), 413);
        let lines = "0\n".repeat(MAX_RECORDS_PER_REQUEST + 1);
        let err = parse(&post("application/x-ndjson", lines.as_bytes()), None).unwrap_err();
        assert_eq!(
            err,
            IngestError::TooManyRecords {
                limit: MAX_RECORDS_PER_REQUEST
            }
        );
        let just = format!("[{}0]", "0,".repeat(MAX_RECORDS_PER_REQUEST - 1));
        assert_eq!(
            parse(&post("application/json", just.as_bytes()), None)
                .unwrap()
                .len(),
            MAX_RECORDS_PER_REQUEST
        );
    }

    #[test]
    fn invalid_json_names_the_position() {
        let err = parse(&post("application/json", b"[1,\n{]"), None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn invalid_ndjson_names_the_line() {
        let err = parse(&post("application/x-ndjson", b"{}\n\n{nope}\n"), None).unwrap_err();
        assert!(
            matches!(err, IngestError::InvalidNdjson { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_record_over_one_mebibyte_naming_its_index() {
        let big = format!("[1, \"{}\"]", "a".repeat(KINESIS_MAX_RECORD_BYTES));
        let err = parse(&post("application/json", big.as_bytes()), None).unwrap_err();
        assert!(
            matches!(err, IngestError::RecordTooLarge { index: 1, .. }),
            "{err}"
        );
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn record_limit_counts_the_partition_key() {
        let body = vec![b'a'; KINESIS_MAX_RECORD_BYTES - 3];
        let ok = HttpInput {
            partition_key_header: Some("abc"),
            ..post("text/plain", &body)
        };
        assert!(parse(&ok, None).is_ok());
        let over = HttpInput {
            partition_key_header: Some("abcd"),
            ..post("text/plain", &body)
        };
        assert!(matches!(
            parse(&over, None),
            Err(IngestError::RecordTooLarge { index: 0, .. })
        ));
    }

    #[test]
    fn partition_key_prefers_header_then_query_then_pointer_then_uuid() {
        let body = b"[{\"u\":\"from-data\"},{\"v\":1}]";
        let both = HttpInput {
            partition_key_header: Some("h"),
            partition_key_query: Some("q"),
            ..post("application/json", body)
        };
        assert!(parse(&both, Some("/u"))
            .unwrap()
            .iter()
            .all(|e| e.partition_key == "h"));
        let query = HttpInput {
            partition_key_query: Some("q"),
            ..post("application/json", body)
        };
        assert!(parse(&query, Some("/u"))
            .unwrap()
            .iter()
            .all(|e| e.partition_key == "q"));
        let e = parse(&post("application/json", body), Some("/u")).unwrap();
        assert_eq!(e[0].partition_key, "from-data");
        assert_eq!(
            e[1].partition_key.len(),
            36,
            "a UUID when the pointer is absent"
        );
        assert_ne!(
            e[1].partition_key,
            parse(&post("application/json", body), Some("/u")).unwrap()[1].partition_key
        );
    }

    #[test]
    fn rejects_the_reserved_prefix_of_re_ingested_copies() {
        let reserved = HttpInput {
            partition_key_header: Some("trickle-reingested:x"),
            ..post("text/plain", b"x")
        };
        let err = parse(&reserved, None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("reserves"), "{err}");
        // From a JSON pointer too.
        let body = br#"[{"u":"trickle-reingested:y"}]"#;
        assert_eq!(
            parse(&post("application/json", body), Some("/u"))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn rejects_empty_or_long_partition_keys() {
        let empty = HttpInput {
            partition_key_header: Some(""),
            ..post("text/plain", b"x")
        };
        assert!(matches!(
            parse(&empty, None),
            Err(IngestError::InvalidPartitionKey { .. })
        ));
        let long = "k".repeat(257);
        let too_long = HttpInput {
            partition_key_query: Some(&long),
            ..post("text/plain", b"x")
        };
        assert_eq!(parse(&too_long, None).unwrap_err().status(), 400);
        let ok = "é".repeat(256);
        let unicode = HttpInput {
            partition_key_header: Some(&ok),
            ..post("text/plain", b"x")
        };
        assert!(parse(&unicode, None).is_ok(), "256 characters, not bytes");
    }

    #[test]
    fn passes_a_valid_explicit_hash_key_and_rejects_others() {
        let ok = HttpInput {
            explicit_hash_key: Some("12345"),
            ..post("text/plain", b"x")
        };
        assert_eq!(
            parse(&ok, None).unwrap()[0].explicit_hash_key.as_deref(),
            Some("12345")
        );
        for k in ["0x10", "+1", "", "340282366920938463463374607431768211456"] {
            let bad = HttpInput {
                explicit_hash_key: Some(k),
                ..post("text/plain", b"x")
            };
            assert_eq!(
                parse(&bad, None).unwrap_err(),
                IngestError::InvalidExplicitHashKey,
                "{k:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_any_body(body in proptest::collection::vec(any::<u8>(), 0..512),
                                    ct in prop_oneof![Just("application/json"), Just("application/x-ndjson"), Just("text/plain")]) {
            let _ = parse(&post(ct, &body), Some("/k"));
        }

        #[test]
        fn ndjson_lines_round_trip(values in proptest::collection::vec(any::<i64>(), 1..50)) {
            let body: String = values.iter().map(|v| format!("{v}\n")).collect();
            let e = parse(&post("application/x-ndjson", body.as_bytes()), None).unwrap();
            let back: Vec<i64> = e.iter().map(|e| serde_json::from_slice(&e.data).unwrap()).collect();
            prop_assert_eq!(back, values);
        }
    }
}

//! The decode chain: one record's bytes -> output lines (compact JSON, without newlines), or
//! the reason it is dropped or failed. Pure and synchronous.
//!
//! In this order, exactly:
//! 0. empty bytes (before or after gunzip) -> `Dropped`;
//! 1. gzip (magic `1F 8B`) -> decompressed with a bound; a corrupt stream or one past the
//!    bound -> `ProcessingFailed`;
//! 2. anything not UTF-8 -> `ProcessingFailed` (JSON is UTF-8 too, so this is checked first);
//! 3. a CloudWatch Logs subscription envelope (`messageType`, `logGroup`, `logStream`,
//!    `logEvents`): `CONTROL_MESSAGE` -> `Dropped`; `DATA_MESSAGE` -> one line per log event,
//!    `{"id","timestamp","message","logGroup","logStream","owner"}` (no events -> `Dropped`);
//!    any other type, or an envelope whose events are malformed -> `ProcessingFailed`;
//! 4. any valid JSON value -> the same value without insignificant whitespace: keys keep
//!    their order, numbers their digits and strings their escapes;
//! 5. other text -> `{"message": "<text>"}` without one trailing `\n` (or `\r\n`).

use crate::error::RecordError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use trickle_shared::gzip::{gunzip_bounded, is_gzip};
use trickle_shared::json::{minified_len, minify_valid_json};
use trickle_shared::limits::FIREHOSE_RESPONSE_BUDGET_BYTES;

/// `messageType` of the health check CloudWatch Logs sends when a subscription is created.
pub const CWL_CONTROL_MESSAGE: &str = "CONTROL_MESSAGE";
/// `messageType` of log data.
pub const CWL_DATA_MESSAGE: &str = "DATA_MESSAGE";

/// Why a record is dropped on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Zero bytes.
    Empty,
    /// A CloudWatch Logs `CONTROL_MESSAGE`.
    ControlMessage,
    /// A CloudWatch Logs `DATA_MESSAGE` without events.
    NoLogEvents,
    /// Every line matched the drop filter.
    Filtered,
}

/// What one record decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Output lines, each compact JSON; at least one.
    Lines(Lines),
    /// Nothing to deliver.
    Dropped(DropReason),
}

/// Output lines one after another in one buffer, each ended by `\n`: already the framing
/// Firehose delivers, so a record without options hands the buffer over as its data. No line
/// holds a raw newline (each is JSON text, which escapes it), so the lines are the buffer
/// split at `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    text: Vec<u8>,
}

impl Lines {
    /// One line (its text, without a newline) as the whole buffer.
    pub fn one(mut line: Vec<u8>) -> Self {
        line.push(b'\n');
        Self { text: line }
    }

    /// Appends a line written by `write` into the buffer.
    fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.text);
        self.text.push(b'\n');
    }

    /// The lines, without their newlines.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.text
            .split_inclusive(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\n").unwrap_or(line))
    }

    pub fn len(&self) -> usize {
        memchr::memchr_iter(b'\n', &self.text).count()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The bytes of the framed text (every line and its `\n`).
    pub fn framed_len(&self) -> usize {
        self.text.len()
    }

    /// The framed text: every line followed by `\n`.
    pub fn into_text(self) -> Vec<u8> {
        self.text
    }
}

/// A JSON object that may be a CloudWatch Logs subscription envelope: it is one when the
/// four keys CloudWatch Logs always sends are there. Parsing a record as this both validates
/// any JSON object (other keys are skipped, checked) and reads an envelope, in one pass. Its
/// strings are kept as their raw JSON text, borrowed from the record: an output line copies
/// them as they are (escapes included) instead of unescaping and escaping them again.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CwlEnvelope<'a> {
    #[serde(default, borrow)]
    message_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    owner: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    log_group: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    log_stream: Option<JsonStr<'a>>,
    #[serde(default, borrow)]
    log_events: Option<Vec<CwlLogEvent<'a>>>,
}

#[derive(Debug, Deserialize)]
struct CwlLogEvent<'a> {
    #[serde(borrow)]
    id: JsonStr<'a>,
    timestamp: i64,
    #[serde(borrow)]
    message: JsonStr<'a>,
}

/// A JSON string as its raw text, quotes and escapes included (checked to be a string).
#[derive(Debug, Clone, Copy)]
struct JsonStr<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de serde_json::value::RawValue>::deserialize(d)?;
        if raw.get().starts_with('"') {
            Ok(JsonStr(raw.get()))
        } else {
            Err(serde::de::Error::custom(format!(
                "expected a string, found {}",
                raw.get().chars().take(32).collect::<String>()
            )))
        }
    }
}

/// What a log event's line adds to its raw fields: `{"id":`, `,"timestamp":`,
/// `,"message":`, `,"logGroup":`, `,"logStream":`, `,"owner":`, `}` and the newline.
const CWL_LINE_NAMES_BYTES: usize = 6 + 13 + 11 + 12 + 13 + 9 + 1 + 1;

/// The length of an integer's decimal text.
fn decimal_len(n: i64) -> usize {
    n.unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1)
        + usize::from(n < 0)
}

/// An envelope's fields, all there (`owner` is `""` when the envelope has none).
struct Envelope<'a> {
    log_group: JsonStr<'a>,
    log_stream: JsonStr<'a>,
    owner: JsonStr<'a>,
}

/// Appends one log event's output line: its fields in this order, then the envelope's
/// group, stream and owner (`""` when the envelope has none).
fn push_cwl_line(out: &mut Vec<u8>, e: &CwlLogEvent<'_>, envelope: &Envelope<'_>) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(e.id.0.as_bytes());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(itoa::Buffer::new().format(e.timestamp).as_bytes());
    for (name, raw) in [
        (&b",\"message\":"[..], e.message),
        (b",\"logGroup\":", envelope.log_group),
        (b",\"logStream\":", envelope.log_stream),
        (b",\"owner\":", envelope.owner),
    ] {
        out.extend_from_slice(name);
        out.extend_from_slice(raw.0.as_bytes());
    }
    out.push(b'}');
}

/// Which envelope keys a JSON object has, read without building the values.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CwlProbe {
    message_type: Option<serde::de::IgnoredAny>,
    log_group: Option<serde::de::IgnoredAny>,
    log_stream: Option<serde::de::IgnoredAny>,
    log_events: Option<serde::de::IgnoredAny>,
}

#[derive(Serialize)]
struct TextLine<'a> {
    message: &'a str,
}

/// Decodes a record's bytes (already base64-decoded).
pub fn decode(bytes: &[u8], max_decompressed_bytes: usize) -> Result<Decoded, RecordError> {
    if bytes.is_empty() {
        return Ok(Decoded::Dropped(DropReason::Empty));
    }
    let gunzipped;
    let bytes = if is_gzip(bytes) {
        gunzipped = gunzip_bounded(bytes, max_decompressed_bytes)?;
        if gunzipped.is_empty() {
            return Ok(Decoded::Dropped(DropReason::Empty));
        }
        gunzipped.as_slice()
    } else {
        bytes
    };
    let mut left = MAX_RECORD_OUTPUT_BYTES;
    let json = match json_object(bytes, &mut left)? {
        Object::Envelope(decoded) => return Ok(decoded),
        Object::Json => true,
        // IgnoredAny checks the syntax without building values, so numbers of any size pass.
        Object::Unknown => serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok(),
    };
    // Valid JSON is valid UTF-8 (the parser checks strings; all else must be ASCII), so the
    // text is checked for UTF-8 only when it is not JSON.
    if json {
        // Minifying never lengthens: only a text longer than any response could take is
        // measured first, so it is refused before it is copied.
        if bytes.len() > MAX_RECORD_OUTPUT_BYTES {
            let len = minified_len(bytes);
            if len > MAX_RECORD_OUTPUT_BYTES {
                return Err(RecordError::TooLargeForAnyResponse {
                    bytes: len,
                    budget: FIREHOSE_RESPONSE_BUDGET_BYTES,
                });
            }
        }
        return Ok(Decoded::Lines(Lines::one(minify_valid_json(bytes))));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| RecordError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let message = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    // `{"message":"..."}`, and room for a few escapes.
    let capacity = message.len() + message.len() / 8 + 16;
    Ok(Decoded::Lines(Lines::one(to_json(
        &TextLine { message },
        capacity,
        &mut left,
    )?)))
}

/// What one parse of a record as a JSON object told.
enum Object {
    /// A CloudWatch Logs envelope, decoded.
    Envelope(Decoded),
    /// Valid JSON, not an envelope.
    Json,
    /// Not a JSON object, or not readable as one: still to be checked as JSON.
    Unknown,
}

/// Parses a record that starts as a JSON object once: an envelope is decoded, any other
/// object is known to be valid JSON.
fn json_object(text: &[u8], left: &mut usize) -> Result<Object, RecordError> {
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Ok(Object::Unknown);
    }
    let parsed: CwlEnvelope = match serde_json::from_slice(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            // Only when that fails does the probe tell a malformed envelope (all four keys)
            // from other text.
            let is_envelope = matches!(
                serde_json::from_slice::<CwlProbe>(text),
                Ok(CwlProbe {
                    message_type: Some(_),
                    log_group: Some(_),
                    log_stream: Some(_),
                    log_events: Some(_),
                })
            );
            if !is_envelope {
                return Ok(Object::Unknown);
            }
            return Err(RecordError::MalformedCloudWatchLogs(e.to_string()));
        }
    };
    let CwlEnvelope {
        message_type: Some(message_type),
        owner,
        log_group: Some(log_group),
        log_stream: Some(log_stream),
        log_events: Some(log_events),
    } = parsed
    else {
        return Ok(Object::Json);
    };
    let envelope = Envelope {
        log_group,
        log_stream,
        owner: owner.unwrap_or(JsonStr("\"\"")),
    };
    cloudwatch_logs(&message_type, &log_events, &envelope, left).map(Object::Envelope)
}

/// The lines of a CloudWatch Logs envelope's events, or why it has none.
fn cloudwatch_logs(
    message_type: &str,
    log_events: &[CwlLogEvent<'_>],
    envelope: &Envelope<'_>,
    left: &mut usize,
) -> Result<Decoded, RecordError> {
    match message_type {
        CWL_CONTROL_MESSAGE => Ok(Decoded::Dropped(DropReason::ControlMessage)),
        CWL_DATA_MESSAGE if log_events.is_empty() => Ok(Decoded::Dropped(DropReason::NoLogEvents)),
        CWL_DATA_MESSAGE => {
            // The output's exact size, known before anything is written.
            let shared = envelope.log_group.0.len()
                + envelope.log_stream.0.len()
                + envelope.owner.0.len()
                + CWL_LINE_NAMES_BYTES;
            let expected: usize = log_events
                .iter()
                .map(|e| e.id.0.len() + e.message.0.len() + decimal_len(e.timestamp) + shared)
                .sum();
            if expected > *left {
                return Err(RecordError::TooLargeForAnyResponse {
                    bytes: expected,
                    budget: FIREHOSE_RESPONSE_BUDGET_BYTES,
                });
            }
            let mut lines = Lines {
                text: Vec::with_capacity(expected),
            };
            for e in log_events {
                lines.push_with(|out| push_cwl_line(out, e, envelope));
            }
            debug_assert_eq!(lines.text.len(), expected);
            *left -= expected;
            Ok(Decoded::Lines(lines))
        }
        other => Err(RecordError::UnknownCloudWatchLogsMessageType(
            other.chars().take(64).collect(),
        )),
    }
}

/// Splits a CloudWatch Logs `DATA_MESSAGE` record (its original bytes, gzip or not) into two
/// gzip records with half the log events each, as AWS's CloudWatch Logs blueprint does for a
/// record too large for any response once processed. `None` when the record is not such an
/// envelope or has a single event (it cannot be split).
pub fn split_cloudwatch_logs(
    original: &[u8],
    max_decompressed_bytes: usize,
) -> Option<[Vec<u8>; 2]> {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let plain;
    let bytes = if is_gzip(original) {
        plain = gunzip_bounded(original, max_decompressed_bytes).ok()?;
        plain.as_slice()
    } else {
        original
    };
    let mut envelope: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if envelope.get("messageType")?.as_str()? != CWL_DATA_MESSAGE {
        return None;
    }
    let events = envelope.get_mut("logEvents")?.as_array_mut()?;
    if events.len() < 2 {
        return None;
    }
    let second = events.split_off(events.len() / 2);
    let first = std::mem::take(events);
    let gzip_with = |events: Vec<serde_json::Value>| -> Option<Vec<u8>> {
        let mut half = envelope.clone();
        half["logEvents"] = serde_json::Value::Array(events);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        serde_json::to_writer(&mut encoder, &half).ok()?;
        encoder.flush().ok()?;
        encoder.finish().ok()
    };
    Some([gzip_with(first)?, gzip_with(second)?])
}

/// The most output one record can have and still be returned `Ok`: its base64 must fit the
/// largest response Lambda takes (`FIREHOSE_RESPONSE_BUDGET_BYTES`). Output is cut off past
/// it, so a small record that expands (a gzip bomb of control characters, escaped six-fold,
/// or tiny CloudWatch Logs events that each gain the envelope's fields) never holds more
/// than this in memory; the handler then treats the record as too large for any response.
pub const MAX_RECORD_OUTPUT_BYTES: usize = FIREHOSE_RESPONSE_BUDGET_BYTES / 4 * 3;

/// A writer that refuses to grow past a shared allowance.
struct Bounded<'a> {
    out: Vec<u8>,
    left: &'a mut usize,
}

impl std::io::Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > *self.left {
            return Err(std::io::Error::other("output too large"));
        }
        *self.left -= buf.len();
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serializes one line as compact JSON, spending from the record's output allowance as it
/// writes: escaping can multiply a text's size (a control character becomes six bytes), so
/// the line is cut off at the allowance, never built whole first. `capacity` is the
/// expected length.
fn to_json<T: Serialize>(
    value: &T,
    capacity: usize,
    left: &mut usize,
) -> Result<Vec<u8>, RecordError> {
    let mut w = Bounded {
        out: Vec::with_capacity(capacity.min(*left)),
        left,
    };
    match serde_json::to_writer(&mut w, value) {
        Ok(()) => Ok(w.out),
        Err(e) if e.is_io() => Err(RecordError::TooLargeForAnyResponse {
            bytes: MAX_RECORD_OUTPUT_BYTES + 1,
            budget: FIREHOSE_RESPONSE_BUDGET_BYTES,
        }),
        Err(e) => Err(RecordError::Encode(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use proptest::prelude::*;
    use std::io::Write;

    const LIMIT: usize = 1024 * 1024;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn output_past_any_response_is_cut_off_not_built() {
        // 64 MiB of control characters (65 KB of gzip) would escape to 384 MiB of JSON.
        let bomb = gz(&vec![1u8; 64 * 1024 * 1024]);
        let started = std::time::Instant::now();
        let err = decode(&bomb, 64 * 1024 * 1024).unwrap_err();
        assert!(
            matches!(err, RecordError::TooLargeForAnyResponse { .. }),
            "{err:?}"
        );
        // Big JSON is refused from its length, before it is copied.
        let big_json = format!("[\"{}\"]", "a".repeat(MAX_RECORD_OUTPUT_BYTES));
        assert!(matches!(
            decode(big_json.as_bytes(), LIMIT * 8),
            Err(RecordError::TooLargeForAnyResponse { .. })
        ));
        // And the largest text that fits is still fine.
        let fits = "b".repeat(MAX_RECORD_OUTPUT_BYTES - 20);
        assert_eq!(
            lines(decode(fits.as_bytes(), LIMIT * 8).unwrap())[0].len(),
            MAX_RECORD_OUTPUT_BYTES - 20 + 14
        );
        let _ = started;
    }

    fn lines(d: Decoded) -> Vec<String> {
        match d {
            Decoded::Lines(l) => l
                .iter()
                .map(|l| String::from_utf8(l.to_vec()).unwrap())
                .collect(),
            other => panic!("expected lines, got {other:?}"),
        }
    }

    #[test]
    fn empty_record_is_dropped() {
        assert_eq!(
            decode(b"", LIMIT).unwrap(),
            Decoded::Dropped(DropReason::Empty)
        );
        assert_eq!(
            decode(&gz(b""), LIMIT).unwrap(),
            Decoded::Dropped(DropReason::Empty)
        );
    }

    #[test]
    fn json_is_compacted_keeping_order_digits_and_escapes() {
        let out = lines(
            decode(
                b"{ \"z\": 1.50,\n \"a\": \"x\\ny\", \"n\": 1e400 }\n",
                LIMIT,
            )
            .unwrap(),
        );
        assert_eq!(out, vec![r#"{"z":1.50,"a":"x\ny","n":1e400}"#]);
        assert_eq!(lines(decode(b" 42 ", LIMIT).unwrap()), vec!["42"]);
    }

    #[test]
    fn text_becomes_a_message_without_its_trailing_newline() {
        assert_eq!(
            lines(decode(b"hello \"world\"\n", LIMIT).unwrap()),
            vec![r#"{"message":"hello \"world\""}"#]
        );
        assert_eq!(
            lines(decode(b"a\r\nb\r\n", LIMIT).unwrap()),
            vec![r#"{"message":"a\r\nb"}"#]
        );
        assert_eq!(
            lines(decode(b"\n", LIMIT).unwrap()),
            vec![r#"{"message":""}"#]
        );
    }

    #[test]
    fn non_utf8_binary_fails() {
        assert!(matches!(
            decode(&[0x00, 0xff, 0xfe, 0x80], LIMIT),
            Err(RecordError::NotUtf8 { valid_up_to: 1 })
        ));
    }

    #[test]
    fn gzip_is_decoded_then_classified() {
        assert_eq!(
            lines(decode(&gz(b"{\"a\": 1}"), LIMIT).unwrap()),
            vec![r#"{"a":1}"#]
        );
        assert_eq!(
            lines(decode(&gz(b"plain"), LIMIT).unwrap()),
            vec![r#"{"message":"plain"}"#]
        );
    }

    #[test]
    fn corrupt_gzip_and_bombs_fail() {
        let mut corrupt = gz(b"hello world, hello world");
        corrupt.truncate(corrupt.len() - 5);
        assert!(matches!(
            decode(&corrupt, LIMIT),
            Err(RecordError::Gunzip(_))
        ));
        let bomb = gz(&vec![b' '; 2 * LIMIT]);
        assert!(matches!(decode(&bomb, LIMIT), Err(RecordError::Gunzip(_))));
    }

    fn envelope(kind: &str, events: &str) -> Vec<u8> {
        format!(
            r#"{{"messageType":"{kind}","owner":"123","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{events}]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn cloudwatch_logs_data_message_becomes_one_line_per_event() {
        let data = envelope(
            "DATA_MESSAGE",
            r#"{"id":"1","timestamp":10,"message":"first"},{"id":"2","timestamp":11,"message":"{\"a\":1}\n"}"#,
        );
        assert_eq!(
            lines(decode(&gz(&data), LIMIT).unwrap()),
            vec![
                r#"{"id":"1","timestamp":10,"message":"first","logGroup":"g","logStream":"s","owner":"123"}"#,
                r#"{"id":"2","timestamp":11,"message":"{\"a\":1}\n","logGroup":"g","logStream":"s","owner":"123"}"#,
            ]
        );
    }

    #[test]
    fn log_strings_keep_their_escapes_and_read_back_the_same() {
        let data = envelope(
            "DATA_MESSAGE",
            r#"{"id":"7","timestamp":-5,"message":"a\u00e9\/\"b\\ \ud83d\ude00\t"}"#,
        );
        let lines = lines(decode(&data, LIMIT).unwrap());
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["message"], "a\u{e9}/\"b\\ \u{1f600}\t");
        assert_eq!(line["timestamp"], -5);
        assert_eq!(line["owner"], "123");
    }

    #[test]
    fn cloudwatch_logs_control_message_and_empty_data_are_dropped() {
        let control = envelope(
            "CONTROL_MESSAGE",
            r#"{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health"}"#,
        );
        assert_eq!(
            decode(&gz(&control), LIMIT).unwrap(),
            Decoded::Dropped(DropReason::ControlMessage)
        );
        assert_eq!(
            decode(&envelope("DATA_MESSAGE", ""), LIMIT).unwrap(),
            Decoded::Dropped(DropReason::NoLogEvents)
        );
    }

    #[test]
    fn unknown_type_or_malformed_envelope_fails() {
        assert!(matches!(
            decode(&envelope("OTHER", ""), LIMIT),
            Err(RecordError::UnknownCloudWatchLogsMessageType(t)) if t == "OTHER"
        ));
        assert!(matches!(
            decode(&envelope("DATA_MESSAGE", r#"{"id":1}"#), LIMIT),
            Err(RecordError::MalformedCloudWatchLogs(_))
        ));
    }

    #[test]
    fn json_that_only_mentions_log_events_is_plain_json() {
        assert_eq!(
            lines(decode(br#"{"logEvents": [], "x": 1}"#, LIMIT).unwrap()),
            vec![r#"{"logEvents":[],"x":1}"#]
        );
    }

    #[test]
    fn objects_using_envelope_keys_otherwise_are_plain_json() {
        for text in [
            r#"{"owner": 5, "logEvents": "none"}"#,
            r#"{"messageType": "DATA_MESSAGE", "logGroup": "g"}"#,
            r#"{"logEvents": [{"id": 1}]}"#,
        ] {
            let want: String = text.chars().filter(|c| *c != ' ').collect();
            assert_eq!(lines(decode(text.as_bytes(), LIMIT).unwrap()), vec![want]);
        }
    }

    #[test]
    fn splits_a_cloudwatch_logs_record_into_two_halves() {
        let events = r#"{"id":"1","timestamp":1,"message":"a"},{"id":"2","timestamp":2,"message":"b"},{"id":"3","timestamp":3,"message":"c"}"#;
        let [first, second] =
            split_cloudwatch_logs(&gz(&envelope("DATA_MESSAGE", events)), LIMIT).unwrap();
        let first = lines(decode(&first, LIMIT).unwrap());
        let second = lines(decode(&second, LIMIT).unwrap());
        assert_eq!((first.len(), second.len()), (1, 2));
        assert!(first[0].contains("\"message\":\"a\""));
        assert!(second[1].contains("\"logGroup\":\"g\""));
    }

    #[test]
    fn does_not_split_one_event_control_messages_or_other_data() {
        let one = envelope("DATA_MESSAGE", r#"{"id":"1","timestamp":1,"message":"a"}"#);
        assert!(split_cloudwatch_logs(&gz(&one), LIMIT).is_none());
        let control = envelope(
            "CONTROL_MESSAGE",
            r#"{"id":"","timestamp":1,"message":"a"},{"id":"","timestamp":1,"message":"b"}"#,
        );
        assert!(split_cloudwatch_logs(&control, LIMIT).is_none());
        assert!(split_cloudwatch_logs(b"[1,2]", LIMIT).is_none());
    }

    proptest! {
        #[test]
        fn lines_are_always_one_line_of_valid_json(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Decoded::Lines(ls)) = decode(&bytes, LIMIT) {
                prop_assert!(!ls.is_empty());
                prop_assert_eq!(ls.iter().count(), ls.len());
                for l in ls.iter() {
                    prop_assert!(!l.contains(&b'\n'));
                    prop_assert!(serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok());
                }
            }
        }

        #[test]
        fn any_text_round_trips_through_message(text in "\\PC{1,60}") {
            prop_assume!(serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err());
            let ls = lines(decode(text.as_bytes(), LIMIT).unwrap());
            let v: serde_json::Value = serde_json::from_str(&ls[0]).unwrap();
            prop_assert_eq!(v["message"].as_str().unwrap(), text.strip_suffix('\n').unwrap_or(&text));
        }
    }
}

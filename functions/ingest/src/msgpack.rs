//! Fluent Bit's `msgpack` body as JSON records: one JSON object per event.
//!
//! A body is a stream of msgpack values. Each is an event in one of Fluent Bit's forms
//! (its `development/msgpack-format.md` and `flb_time_append_to_msgpack`):
//! - `[timestamp, record]`, the timestamp a uint, a float or the EventTime ext (type 0: 4
//!   bytes of seconds and 4 of nanoseconds, big-endian);
//! - `[[timestamp, metadata], record]`, Fluent Bit 2.1's form (the metadata left out, as
//!   Fluent Bit's own JSON output leaves it);
//! - a map: a record without a timestamp.
//!
//! The record becomes a JSON object with the timestamp as field `date` (Fluent Bit's
//! `json_date_key` default) in epoch seconds with six decimals (its default `double` format),
//! unless the record has its own `date`. Inside a record: `bin` values become base64 strings,
//! non-string map keys their JSON text (`1`, `true`, `null`), floats that JSON cannot hold
//! (NaN, infinities) the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, an EventTime its
//! seconds. Any other ext type, a truncated value or nesting deeper than `MAX_DEPTH` is an
//! error naming the event and the byte offset.
//!
//! Converted without a tree in between: each event is written straight to the output, which
//! the caller bounds (`out_limit`).

use base64::Engine;
use std::fmt::Write as _;

/// Nesting deeper than this is refused (each level is a stack frame here).
pub const MAX_DEPTH: usize = 64;

/// msgpack's ext type of Fluent Bit's EventTime.
const EVENT_TIME_EXT: i8 = 0;

/// What is wrong with a msgpack body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    #[error("invalid msgpack in event {event} at byte {offset}: {reason}")]
    Invalid {
        event: usize,
        offset: usize,
        reason: String,
    },
    #[error(
        "the msgpack body converts to more than {limit} bytes of JSON{}",
        crate::encoding::BATCH_SETTINGS
    )]
    TooLarge { limit: usize },
}

/// Converts a msgpack body into JSON records: `out` holds them back to back, and the returned
/// ranges are where each is. Refuses a body whose JSON would exceed `out_limit` bytes.
pub fn to_json_records(
    body: &[u8],
    out: &mut Vec<u8>,
    out_limit: usize,
) -> Result<Vec<std::ops::Range<usize>>, MsgpackError> {
    let mut reader = Reader {
        data: body,
        pos: 0,
        out_limit,
    };
    let mut ranges = Vec::new();
    while reader.pos < body.len() {
        let event = ranges.len();
        let start = out.len();
        let fail = |pos: usize, reason: String| MsgpackError::Invalid {
            event,
            offset: pos,
            reason,
        };
        let converted = event_to_json(&mut reader, out);
        // Checked as the JSON grows (inside arrays and maps too), so one event of a million
        // nils stops at the limit instead of growing past it.
        if out.len() > out_limit {
            return Err(MsgpackError::TooLarge { limit: out_limit });
        }
        converted.map_err(|(pos, reason)| fail(pos, reason))?;
        ranges.push(start..out.len());
    }
    Ok(ranges)
}

type Failure = (usize, String);

/// A msgpack value's header: what it is and, for containers and strings, its length.
enum Head {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(i8, usize),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The JSON output's limit: a container stops converting once the output is past it.
    out_limit: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Failure> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err((self.pos, format!("{n} bytes expected, the body ends first")));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Failure> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn head(&mut self) -> Result<Head, Failure> {
        let at = self.pos;
        let b = self.take(1)?[0];
        Ok(match b {
            0x00..=0x7f => Head::Uint(u64::from(b)),
            0x80..=0x8f => Head::Map(usize::from(b & 0x0f)),
            0x90..=0x9f => Head::Array(usize::from(b & 0x0f)),
            0xa0..=0xbf => Head::Str(usize::from(b & 0x1f)),
            0xc0 => Head::Nil,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4 => Head::Bin(self.be(1)? as usize),
            0xc5 => Head::Bin(self.be(2)? as usize),
            0xc6 => Head::Bin(self.be(4)? as usize),
            0xc7 => {
                let n = self.be(1)? as usize;
                Head::Ext(self.take(1)?[0] as i8, n)
            }
            0xc8 => {
                let n = self.be(2)? as usize;
                Head::Ext(self.take(1)?[0] as i8, n)
            }
            0xc9 => {
                let n = self.be(4)? as usize;
                Head::Ext(self.take(1)?[0] as i8, n)
            }
            0xca => Head::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Head::Float(f64::from_bits(self.be(8)?)),
            0xcc => Head::Uint(self.be(1)?),
            0xcd => Head::Uint(self.be(2)?),
            0xce => Head::Uint(self.be(4)?),
            0xcf => Head::Uint(self.be(8)?),
            0xd0 => Head::Int(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => Head::Int(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Head::Int(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Head::Int(self.be(8)? as i64),
            0xd4 => Head::Ext(self.take(1)?[0] as i8, 1),
            0xd5 => Head::Ext(self.take(1)?[0] as i8, 2),
            0xd6 => Head::Ext(self.take(1)?[0] as i8, 4),
            0xd7 => Head::Ext(self.take(1)?[0] as i8, 8),
            0xd8 => Head::Ext(self.take(1)?[0] as i8, 16),
            0xd9 => Head::Str(self.be(1)? as usize),
            0xda => Head::Str(self.be(2)? as usize),
            0xdb => Head::Str(self.be(4)? as usize),
            0xdc => Head::Array(self.be(2)? as usize),
            0xdd => Head::Array(self.be(4)? as usize),
            0xde => Head::Map(self.be(2)? as usize),
            0xdf => Head::Map(self.be(4)? as usize),
            0xe0..=0xff => Head::Int(i64::from(b as i8)),
            0xc1 => return Err((at, "byte 0xc1 is never used in msgpack".into())),
        })
    }

    /// An EventTime ext's payload as epoch seconds.
    fn event_time(&mut self, len: usize) -> Result<(u64, u32), Failure> {
        if len != 8 {
            return Err((self.pos, format!("an EventTime has 8 bytes, not {len}")));
        }
        let secs = self.be(4)?;
        let nanos = self.be(4)? as u32;
        Ok((secs, nanos))
    }
}

/// One event: its record as a JSON object with `date`, written to `out`.
fn event_to_json(r: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
    let at = r.pos;
    match r.head()? {
        Head::Map(n) => map_to_json(r, n, None, out, 1),
        Head::Array(2) => {
            let ts_at = r.pos;
            let date = match r.head()? {
                // [[timestamp, metadata], record]
                Head::Array(2) => {
                    let inner_at = r.pos;
                    let head = r.head()?;
                    let date = timestamp(r, head, inner_at)?;
                    skip(r, 1)?; // the metadata
                    date
                }
                head => timestamp(r, head, ts_at)?,
            };
            let rec_at = r.pos;
            match r.head()? {
                Head::Map(n) => map_to_json(r, n, Some(date), out, 1),
                _ => Err((rec_at, "an event's record must be a map".into())),
            }
        }
        _ => Err((
            at,
            "an event must be [timestamp, record], [[timestamp, metadata], record] or a map".into(),
        )),
    }
}

/// A timestamp as the JSON number `date` holds: seconds with six decimals.
fn timestamp(r: &mut Reader<'_>, head: Head, at: usize) -> Result<String, Failure> {
    match head {
        Head::Uint(s) => Ok(format!("{s}.000000")),
        Head::Int(s) => Ok(format!("{s}.000000")),
        Head::Float(f) if f.is_finite() => Ok(format!("{f:.6}")),
        Head::Ext(EVENT_TIME_EXT, len) => {
            let (secs, nanos) = r.event_time(len)?;
            Ok(format!("{secs}.{:06}", nanos / 1000))
        }
        _ => Err((
            at,
            "an event's timestamp must be an integer, a float or an EventTime".into(),
        )),
    }
}

/// Skips `n` values.
fn skip(r: &mut Reader<'_>, n: usize) -> Result<(), Failure> {
    let mut sink = Vec::new();
    for _ in 0..n {
        sink.clear();
        value_to_json(r, &mut sink, 1)?;
    }
    Ok(())
}

fn map_to_json(
    r: &mut Reader<'_>,
    n: usize,
    date: Option<String>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Failure> {
    out.push(b'{');
    let mut has_date = false;
    let mut key = Vec::new();
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        key.clear();
        key_to_json(r, &mut key, depth)?;
        has_date |= key == b"\"date\"";
        out.extend_from_slice(&key);
        out.push(b':');
        value_to_json(r, out, depth + 1)?;
        if out.len() > r.out_limit {
            return Err((r.pos, "the JSON is over its limit".into()));
        }
    }
    if let (Some(date), false) = (date, has_date) {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"date\":");
        out.extend_from_slice(date.as_bytes());
    }
    out.push(b'}');
    Ok(())
}

/// A map key: a string as it is, anything else as the JSON string of its JSON text.
fn key_to_json(r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), Failure> {
    let at = r.pos;
    if let Ok(Head::Str(len)) = r.head() {
        return string_to_json(r, len, out);
    }
    r.pos = at;
    let mut text = Vec::new();
    value_to_json(r, &mut text, depth + 1)?;
    let text = String::from_utf8(text).map_err(|_| (at, "a key is not UTF-8".to_string()))?;
    write_json_string(&text, out);
    Ok(())
}

fn string_to_json(r: &mut Reader<'_>, len: usize, out: &mut Vec<u8>) -> Result<(), Failure> {
    let at = r.pos;
    let bytes = r.take(len)?;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| (at + e.valid_up_to(), "a string is not UTF-8".to_string()))?;
    write_json_string(text, out);
    Ok(())
}

fn write_json_string(text: &str, out: &mut Vec<u8>) {
    // serde_json's escaping; writing to a Vec cannot fail.
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

fn value_to_json(r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), Failure> {
    let at = r.pos;
    if depth > MAX_DEPTH {
        return Err((at, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    match r.head()? {
        Head::Nil => out.extend_from_slice(b"null"),
        Head::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Head::Uint(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Head::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Head::Float(f) => {
            if f.is_finite() {
                // serde_json writes the shortest text that reads back as the same f64.
                serde_json::to_writer(&mut *out, &f).expect("writing to a Vec cannot fail");
            } else {
                let s = if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                write_json_string(s, out);
            }
        }
        Head::Str(len) => string_to_json(r, len, out)?,
        Head::Bin(len) => {
            let bytes = r.take(len)?;
            let mut text = String::with_capacity(len.div_ceil(3) * 4 + 2);
            text.push('"');
            base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut text);
            text.push('"');
            out.extend_from_slice(text.as_bytes());
        }
        Head::Array(n) => {
            out.push(b'[');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                value_to_json(r, out, depth + 1)?;
                if out.len() > r.out_limit {
                    return Err((r.pos, "the JSON is over its limit".into()));
                }
            }
            out.push(b']');
        }
        Head::Map(n) => map_to_json(r, n, None, out, depth)?,
        Head::Ext(EVENT_TIME_EXT, len) => {
            let (secs, nanos) = r.event_time(len)?;
            let mut s = String::new();
            let _ = write!(s, "{secs}.{:06}", nanos / 1000);
            out.extend_from_slice(s.as_bytes());
        }
        Head::Ext(kind, _) => {
            return Err((
                at,
                format!("ext type {kind} is not supported (only Fluent Bit's EventTime, type 0)"),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn convert(body: &[u8]) -> Result<Vec<Value>, MsgpackError> {
        let mut out = Vec::new();
        let ranges = to_json_records(body, &mut out, 1 << 20)?;
        Ok(ranges
            .into_iter()
            .map(|r| serde_json::from_slice(&out[r]).expect("the output is JSON"))
            .collect())
    }

    /// msgpack bytes written by hand (the spec's encodings).
    fn str8(s: &str) -> Vec<u8> {
        let mut v = vec![0xd9, s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn event_time(secs: u32, nanos: u32) -> Vec<u8> {
        let mut v = vec![0xd7, 0x00];
        v.extend_from_slice(&secs.to_be_bytes());
        v.extend_from_slice(&nanos.to_be_bytes());
        v
    }

    #[test]
    fn fluent_bit_events_in_each_form_become_one_object_each() {
        let mut body = Vec::new();
        // [EventTime, {"log": "a"}]
        body.extend([0x92]);
        body.extend(event_time(1_700_000_000, 123_456_789));
        body.extend([0x81]);
        body.extend(str8("log"));
        body.extend(str8("a"));
        // [[EventTime, {}], {"log": "b"}]  (Fluent Bit 2.1+)
        body.extend([0x92, 0x92]);
        body.extend(event_time(1_700_000_001, 0));
        body.extend([0x80, 0x81]);
        body.extend(str8("log"));
        body.extend(str8("b"));
        // [17, {"date": "mine"}]: the record's own date wins.
        body.extend([0x92, 0x11, 0x81]);
        body.extend(str8("date"));
        body.extend(str8("mine"));
        // {"k": nil}: a map alone, no date.
        body.extend([0x81, 0xa1, b'k', 0xc0]);
        assert_eq!(
            convert(&body).unwrap(),
            vec![
                json!({"log": "a", "date": 1700000000.123456}),
                json!({"log": "b", "date": 1700000001.0}),
                json!({"date": "mine"}),
                json!({"k": null}),
            ]
        );
    }

    #[test]
    fn values_json_cannot_hold_are_written_as_documented() {
        // {1: bin "\x00\xff", true: NaN, "f": -inf, "n": [-1, 255, 1.5]}
        let mut body = vec![0x84, 0x01, 0xc4, 0x02, 0x00, 0xff, 0xc3, 0xcb];
        body.extend(f64::NAN.to_bits().to_be_bytes());
        body.extend([0xa1, b'f', 0xcb]);
        body.extend(f64::NEG_INFINITY.to_bits().to_be_bytes());
        body.extend([0xa1, b'n', 0x93, 0xff, 0xcc, 0xff, 0xcb]);
        body.extend(1.5f64.to_bits().to_be_bytes());
        assert_eq!(
            convert(&body).unwrap(),
            vec![json!({"1": "AP8=", "true": "NaN", "f": "-Infinity", "n": [-1, 255, 1.5]})]
        );
    }

    #[test]
    fn bad_bodies_name_the_event_and_offset() {
        // A second event truncated.
        let mut body = vec![0x81, 0xa1, b'a', 0x01];
        body.extend([0x81, 0xa1, b'b', 0xd9, 0x10, b'x']);
        let err = convert(&body).unwrap_err();
        assert!(
            matches!(err, MsgpackError::Invalid { event: 1, .. }),
            "{err}"
        );
        // An ext type other than EventTime.
        let err = convert(&[0x81, 0xa1, b'a', 0xd4, 0x05, 0x00]).unwrap_err();
        assert!(err.to_string().contains("ext type 5"), "{err}");
        assert!(err.to_string().contains("byte 3"), "{err}");
        // An event that is neither form.
        assert!(convert(&[0x01]).is_err());
        assert!(convert(&[0x92, 0xc0, 0x80]).is_err(), "nil timestamp");
        assert!(convert(&[0xc1]).is_err());
        // Too deep.
        let mut deep = vec![0x81, 0xa1, b'a'];
        deep.extend(std::iter::repeat_n(0x91, MAX_DEPTH + 1));
        deep.push(0xc0);
        assert!(convert(&deep).unwrap_err().to_string().contains("nested"));
    }

    #[test]
    fn the_output_bound_holds() {
        // 1,000 nil values in an array: 1 byte each in, 5 out.
        let mut body = vec![0x81, 0xa1, b'a', 0xdc, 0x03, 0xe8];
        body.extend(std::iter::repeat_n(0xc0, 1000));
        let mut out = Vec::new();
        assert_eq!(
            to_json_records(&body, &mut out, 1000),
            Err(MsgpackError::TooLarge { limit: 1000 })
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut out = Vec::new();
            if let Ok(ranges) = to_json_records(&body, &mut out, 1 << 16) {
                for r in ranges {
                    serde_json::from_slice::<Value>(&out[r]).expect("every record is JSON");
                }
            }
        }
    }
}

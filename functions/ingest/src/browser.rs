//! Requests from web pages: `navigator.sendBeacon` and `fetch(..., {keepalive: true})` with
//! the public browser key in the query string (`?key=BROWSER_KEY`).
//!
//! A key in a page is public, and CORS does not stop curl: anyone can write with it. So a
//! browser request gets less than a trusted sender's (docs/design/security.md#browser-key):
//! - a body of at most `BROWSER_MAX_BODY_BYTES` (64 KiB, what a keepalive fetch may carry),
//!   not compressed;
//! - `text/plain` (what a beacon sends with a string, without a CORS preflight; JSON inside is
//!   read as JSON) or `application/json`;
//! - no partition key, explicit hash key or other header a trusted sender may set: random
//!   partition keys only;
//! - every record marked: `{"source":"browser","origin":ORIGIN,"record":RECORD}`, the record
//!   as JSON (text that is not JSON as a JSON string), so readers tell it from a trusted
//!   sender's record.

use crate::body::{essence, parse, Entry, HttpInput};
use crate::error::IngestError;

/// The largest body a browser request may carry: a keepalive fetch's limit (the Fetch
/// standard's 64 KiB for all in-flight keepalive requests of a page).
pub const BROWSER_MAX_BODY_BYTES: usize = 64 * 1024;

/// The `source` of a browser record's mark.
pub const BROWSER_SOURCE: &str = "browser";

/// Parses a browser request into marked entries, or says what it may not do.
pub fn parse_browser(
    input: &HttpInput<'_>,
    origin: Option<&str>,
) -> Result<Vec<Entry>, IngestError> {
    let refuse = |what: &str| Err(IngestError::BrowserRefused(what.to_owned()));
    if input.body.len() > BROWSER_MAX_BODY_BYTES {
        return Err(IngestError::BrowserBodyTooLarge {
            limit: BROWSER_MAX_BODY_BYTES,
        });
    }
    if input
        .content_encoding
        .is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"))
    {
        return refuse("a compressed body");
    }
    if input.partition_key_header.is_some() || input.partition_key_query.is_some() {
        return refuse("a partition key");
    }
    if input.explicit_hash_key.is_some() {
        return refuse("an explicit hash key");
    }
    let entries = match essence(input.content_type).as_str() {
        "application/json" => parse(input, None)?,
        // A beacon's string: JSON when it parses as JSON, else one text record.
        "text/plain" | "" => {
            let as_json = HttpInput {
                content_type: Some("application/json"),
                ..input.clone()
            };
            match parse(&as_json, None) {
                Ok(entries) => entries,
                Err(IngestError::InvalidJson(_)) => {
                    let text = std::str::from_utf8(&input.body).map_err(|_| {
                        IngestError::BrowserRefused("text that is not UTF-8".into())
                    })?;
                    let as_text = HttpInput {
                        content_type: Some("text/plain"),
                        body: serde_json::to_vec(text)
                            .expect("a string serializes")
                            .into(),
                        ..input.clone()
                    };
                    parse(&as_text, None)?
                }
                Err(e) => return Err(e),
            }
        }
        _ => return refuse("a Content-Type other than text/plain or application/json"),
    };
    Ok(entries
        .into_iter()
        .map(|mut e| {
            e.data = mark(&e.data, origin).into();
            e
        })
        .collect())
}

/// `{"source":"browser","origin":ORIGIN,"record":RECORD}`; `record` is already JSON.
fn mark(record: &[u8], origin: Option<&str>) -> Vec<u8> {
    let origin = serde_json::to_string(&origin).expect("an option of a string serializes");
    let mut out = Vec::with_capacity(record.len() + origin.len() + 48);
    out.extend_from_slice(br#"{"source":""#);
    out.extend_from_slice(BROWSER_SOURCE.as_bytes());
    out.extend_from_slice(br#"","origin":"#);
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(br#","record":"#);
    out.extend_from_slice(record);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn records(input: &HttpInput<'_>) -> Result<Vec<Value>, IngestError> {
        Ok(parse_browser(input, Some("https://page.example"))?
            .into_iter()
            .map(|e| serde_json::from_slice(&e.data).unwrap())
            .collect())
    }

    #[test]
    fn a_beacon_of_json_text_is_read_as_json_and_marked() {
        let beacon = HttpInput::post(
            "text/plain;charset=UTF-8",
            br#"[{"e":"view"},{"e":"click"}]"#,
        );
        assert_eq!(
            records(&beacon).unwrap(),
            vec![
                json!({"source": "browser", "origin": "https://page.example", "record": {"e": "view"}}),
                json!({"source": "browser", "origin": "https://page.example", "record": {"e": "click"}}),
            ]
        );
        let text = HttpInput::post("text/plain", b"just text");
        assert_eq!(records(&text).unwrap()[0]["record"], "just text");
        let json = HttpInput::post("application/json", br#"{"e":"fetch"}"#);
        assert_eq!(records(&json).unwrap()[0]["record"], json!({"e": "fetch"}));
        // Every key is random: a page cannot steer records to a shard.
        let e = parse_browser(&beacon, None).unwrap();
        assert!(e.iter().all(Entry::random_key));
        assert_eq!(
            serde_json::from_slice::<Value>(&e[0].data).unwrap()["origin"],
            Value::Null
        );
    }

    #[test]
    fn what_a_browser_request_may_not_do() {
        let big = vec![b'a'; BROWSER_MAX_BODY_BYTES + 1];
        let err = parse_browser(&HttpInput::post("text/plain", &big), None).unwrap_err();
        assert_eq!(err.status(), 413);
        for input in [
            HttpInput {
                partition_key_header: Some("k"),
                ..HttpInput::post("application/json", b"{}")
            },
            HttpInput {
                partition_key_query: Some("k"),
                ..HttpInput::post("application/json", b"{}")
            },
            HttpInput {
                explicit_hash_key: Some("1"),
                ..HttpInput::post("application/json", b"{}")
            },
            HttpInput {
                content_encoding: Some("gzip"),
                ..HttpInput::post("application/json", b"{}")
            },
            HttpInput::post("application/x-ndjson", b"{}\n"),
            HttpInput::post("application/msgpack", b"\x80"),
            HttpInput::post("text/plain", b"\xff\xfe"),
        ] {
            let err = parse_browser(&input, None).unwrap_err();
            assert_eq!(err.status(), 400, "{err}");
            assert!(err.to_string().contains("browser key"), "{err}");
        }
        // Bad JSON sent as JSON is still a 400 naming where.
        let err = parse_browser(&HttpInput::post("application/json", b"{"), None).unwrap_err();
        assert_eq!(err.status(), 400);
    }
}

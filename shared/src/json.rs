//! Small JSON helpers shared by the functions.

use serde::Deserialize;
use serde_json::Value;

/// The text of a JSON value at a pointer, for partition keys and key segments: a string as
/// itself, a number or bool as its JSON text; `None` when absent, null, an object or an array.
pub fn scalar_at_pointer(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// For `#[serde(deserialize_with)]`: an absent or `null` field reads as the type's default
/// (event senders differ in whether they omit a field or send it as `null`).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Calls `run` with each stretch of *valid* JSON text that is not insignificant whitespace
/// (whitespace outside strings), in order; every other byte is kept, so numbers keep their
/// exact digits and strings their exact escapes. Strings are skipped with `memchr` to their
/// closing quote, and whole runs are handed over at once, so minifying costs about a copy.
fn significant_runs(text: &[u8], mut run: impl FnMut(&[u8])) {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = 0;
    while i < text.len() {
        if is_space(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && !is_space(text[i]) {
            if text[i] == b'"' {
                // To the closing quote, stepping over escapes.
                i += 1;
                while let Some(at) = memchr::memchr2(b'"', b'\\', &text[i..]) {
                    i += at;
                    if text[i] == b'"' {
                        break;
                    }
                    i += 2;
                    if i >= text.len() {
                        break;
                    }
                }
                if i >= text.len() || text[i] != b'"' {
                    // Unterminated (invalid JSON): keep the rest as it is.
                    i = text.len();
                    break;
                }
            }
            i += 1;
        }
        run(&text[start..i]);
    }
}

/// Removes the insignificant whitespace from *valid* JSON text.
pub fn minify_valid_json(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    minify_valid_json_into(text, &mut out);
    out
}

/// `minify_valid_json`, appending to `out`.
pub fn minify_valid_json_into(text: &[u8], out: &mut Vec<u8>) {
    significant_runs(text, |r| out.extend_from_slice(r));
}

/// The length `minify_valid_json` would return, without allocating.
pub fn minified_len(text: &[u8]) -> usize {
    let mut len = 0;
    significant_runs(text, |r| len += r.len());
    len
}

/// One record as a line of an NDJSON object: every line is one JSON object, and one record is
/// one line, whatever the record holds (so every NDJSON reader, the OpenX JSON SerDe of a Glue
/// table included, reads every line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NdjsonLine<'a> {
    /// A JSON object, without insignificant whitespace (the record itself when already compact).
    Json(std::borrow::Cow<'a, [u8]>),
    /// Any other JSON value (array, string, number, `true`, `false`, `null`), compact, as
    /// `{"value":...}`.
    Value(Vec<u8>),
    /// UTF-8 text that is not JSON, as `{"message":"..."}` without one trailing `\n` (or
    /// `\r\n`): what firehose-transform writes for text, so both paths agree.
    Text(Vec<u8>),
    /// Bytes that are not UTF-8, as `{"data_base64":"..."}` (standard alphabet, padded).
    Binary(Vec<u8>),
}

impl NdjsonLine<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Json(j) => j,
            Self::Value(t) | Self::Text(t) | Self::Binary(t) => t,
        }
    }
}

/// A record as its NDJSON line (`NdjsonLine`).
pub fn ndjson_line(data: &[u8]) -> NdjsonLine<'_> {
    if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
        let is_object = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if !is_object {
            let mut out = Vec::with_capacity(data.len() + 10);
            out.extend_from_slice(b"{\"value\":");
            minify_valid_json_into(data, &mut out);
            out.push(b'}');
            return NdjsonLine::Value(out);
        }
        return NdjsonLine::Json(if minified_len(data) == data.len() {
            std::borrow::Cow::Borrowed(data)
        } else {
            std::borrow::Cow::Owned(minify_valid_json(data))
        });
    }
    match std::str::from_utf8(data) {
        Ok(text) => {
            let message = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(text);
            let mut out = Vec::with_capacity(message.len() + message.len() / 8 + 16);
            out.extend_from_slice(b"{\"message\":");
            serde_json::to_writer(&mut out, message).expect("writing to a Vec cannot fail");
            out.push(b'}');
            NdjsonLine::Text(out)
        }
        Err(_) => {
            use base64::Engine;
            let mut out = String::with_capacity(data.len().div_ceil(3) * 4 + 20);
            out.push_str("{\"data_base64\":\"");
            base64::engine::general_purpose::STANDARD.encode_string(data, &mut out);
            out.push_str("\"}");
            NdjsonLine::Binary(out.into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn scalar_at_pointer_handles_kinds() {
        let v = json!({"a": "x", "n": 12, "b": true, "o": {}, "z": null});
        assert_eq!(scalar_at_pointer(&v, "/a").as_deref(), Some("x"));
        assert_eq!(scalar_at_pointer(&v, "/n").as_deref(), Some("12"));
        assert_eq!(scalar_at_pointer(&v, "/b").as_deref(), Some("true"));
        assert_eq!(scalar_at_pointer(&v, "/o"), None);
        assert_eq!(scalar_at_pointer(&v, "/z"), None);
        assert_eq!(scalar_at_pointer(&v, "/missing"), None);
    }

    #[test]
    fn minify_keeps_strings_and_numbers_exact() {
        let text = br#" { "a b" : [ 1.50 , "x\" y" ] ,"n":1e400 } "#;
        assert_eq!(
            minify_valid_json(text),
            br#"{"a b":[1.50,"x\" y"],"n":1e400}"#
        );
    }

    proptest! {
        #[test]
        fn minify_matches_serde_for_plain_values(s in "[ -~]{0,20}", n in any::<i64>()) {
            let v = json!({"s": s, "n": n, "l": [1, 2, {"k": null}]});
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            prop_assert_eq!(minify_valid_json(&pretty), serde_json::to_vec(&v).unwrap());
            prop_assert_eq!(minified_len(&pretty), minify_valid_json(&pretty).len());
        }

        #[test]
        fn minify_keeps_every_string_byte_and_drops_only_outside_whitespace(
            parts in proptest::collection::vec((" {0,3}", "[ -~]{0,12}"), 0..12),
        ) {
            // Strings full of quotes, backslashes and spaces, between whitespace.
            let values: Vec<String> = parts.iter().map(|(_, s)| s.clone()).collect();
            let spaced: String = parts
                .iter()
                .map(|(pad, s)| format!("{pad}{}{pad},", serde_json::to_string(s).unwrap()))
                .collect();
            let text = format!("[{}\n null ]", spaced);
            let compact = format!(
                "[{}null]",
                values.iter().map(|s| serde_json::to_string(s).unwrap() + ",").collect::<String>()
            );
            prop_assert_eq!(String::from_utf8(minify_valid_json(text.as_bytes())).unwrap(), compact);
        }
    }

    #[test]
    fn every_record_is_one_json_line() {
        let line = |d: &[u8]| String::from_utf8(ndjson_line(d).as_bytes().to_vec()).unwrap();
        assert!(matches!(
            ndjson_line(b"{\"a\":1}"),
            NdjsonLine::Json(std::borrow::Cow::Borrowed(_))
        ));
        assert_eq!(line(b"{ \"a\" :\n [1, 2] }\n"), r#"{"a":[1,2]}"#);
        assert_eq!(line(b"3"), r#"{"value":3}"#);
        assert_eq!(line(b" [1, \"a\"]\n"), r#"{"value":[1,"a"]}"#);
        assert_eq!(line(b"\"s\""), r#"{"value":"s"}"#);
        assert_eq!(line(b"HelloWorld"), r#"{"message":"HelloWorld"}"#);
        assert_eq!(line(b"two\nlines\r\n"), r#"{"message":"two\nlines"}"#);
        assert_eq!(line(b"{\"cut\":"), r#"{"message":"{\"cut\":"}"#);
        assert_eq!(line(b""), r#"{"message":""}"#);
        assert_eq!(line(&[0xff, 0x00, 0x0a]), r#"{"data_base64":"/wAK"}"#);
    }

    proptest! {
        #[test]
        fn a_line_is_json_without_a_newline(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let line = ndjson_line(&data);
            prop_assert!(!line.as_bytes().contains(&b'\n'));
            let value = serde_json::from_slice::<Value>(line.as_bytes()).expect("a JSON line");
            prop_assert!(value.is_object());
        }
    }
}

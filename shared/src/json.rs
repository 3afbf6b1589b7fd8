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
}

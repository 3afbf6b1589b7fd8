//! Small JSON helpers shared by the functions.

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

/// The bytes of *valid* JSON text without its insignificant whitespace (whitespace outside
/// strings); every other byte is kept, so numbers keep their exact digits and strings their
/// exact escapes.
fn significant_bytes(text: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut in_string = false;
    let mut escaped = false;
    text.iter().copied().filter(move |&b| {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            true
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            false
        } else {
            in_string = b == b'"';
            true
        }
    })
}

/// Removes the insignificant whitespace from *valid* JSON text.
pub fn minify_valid_json(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    out.extend(significant_bytes(text));
    out
}

/// The length `minify_valid_json` would return, without allocating.
pub fn minified_len(text: &[u8]) -> usize {
    significant_bytes(text).count()
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
    }
}

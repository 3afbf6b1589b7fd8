//! The scalar at a JSON pointer, read straight from a record's bytes: the same answer and the
//! same errors as parsing the record into a `serde_json::Value` and calling
//! `crate::json::scalar_at_pointer` on it, without building the `Value`.
//!
//! Partitioning reads one small value from every record, and building a whole `Value` (a
//! `String` per key and per string, a map per object) cost more than the rest of the
//! function's own work. Here the record goes through the same `serde_json` deserializer,
//! with the same calls `Value` makes (`deserialize_any` for values, `deserialize_str` for
//! keys), so it accepts and rejects exactly the same input with exactly the same messages
//! (UTF-8, escapes, number range, nesting depth, trailing characters); but only the value
//! at the pointer is kept, and keys and strings are compared in place.
//!
//! What `Value` does that this mirrors on purpose:
//! - a key repeated in an object: the last one wins;
//! - an object whose first key is serde_json's private raw-value token is the JSON inside
//!   the string that follows (the `raw_value` feature is on in the workspace);
//! - a float is formatted as `serde_json::Number` formats it.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The first key of an object that `Value` reads as "the JSON text in this string"
/// (serde_json's `raw::TOKEN`, used when the `raw_value` feature is on).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A JSON pointer split into its reference tokens (`~1` is `/`, `~0` is `~`), or `None`
/// when the pointer cannot match anything (it is neither empty nor starts with `/`).
pub fn pointer_tokens(pointer: &str) -> Option<Vec<Cow<'_, str>>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| {
                if t.contains('~') {
                    // The same order as `Value::pointer`.
                    Cow::Owned(t.replace("~1", "/").replace("~0", "~"))
                } else {
                    Cow::Borrowed(t)
                }
            })
            .collect(),
    )
}

/// The scalar at `pointer` in the JSON text `data`: a string as itself, a number or bool as
/// its JSON text; `Ok(None)` when absent, null, an object or an array; `Err` exactly when
/// `serde_json::from_slice::<Value>(data)` fails, with the same error.
pub fn scalar_at_pointer(data: &[u8], pointer: &str) -> serde_json::Result<Option<String>> {
    let tokens = pointer_tokens(pointer);
    let mut de = serde_json::Deserializer::from_slice(data);
    let found = Seek {
        tokens: tokens.as_deref(),
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// Reads one JSON value. With `tokens` it returns the scalar at those tokens below it; with
/// `None` (off the pointer's path) it only checks the value, keeping nothing.
#[derive(Clone, Copy)]
struct Seek<'p> {
    tokens: Option<&'p [Cow<'p, str>]>,
}

impl<'p> Seek<'p> {
    /// True when this value itself is the target.
    fn here(self) -> bool {
        self.tokens.is_some_and(<[_]>::is_empty)
    }

    /// The token for this value's children and the seek for the child it names.
    fn step(self) -> Option<(&'p str, Seek<'p>)> {
        let (first, rest) = self.tokens?.split_first()?;
        Some((first.as_ref(), Seek { tokens: Some(rest) }))
    }
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// `Value::pointer`'s array index: decimal digits, no sign, no leading zero.
fn parse_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.here().then(|| v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.here().then(|| serde_json::Number::from(v).to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.here().then(|| serde_json::Number::from(v).to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `Value` turns a float it cannot hold into null.
        Ok(self
            .here()
            .then(|| serde_json::Number::from_f64(v).map(|n| n.to_string()))
            .flatten())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.here().then(|| v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let step = self.step();
        let index = step.and_then(|(token, _)| parse_index(token));
        let mut found = None;
        let mut i = 0usize;
        loop {
            let seek = match (index, step) {
                (Some(n), Some((_, below))) if n == i => below,
                _ => Seek { tokens: None },
            };
            match seq.next_element_seed(seek)? {
                Some(v) => {
                    if seek.tokens.is_some() {
                        found = v;
                    }
                }
                None => return Ok(found),
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let step = self.step();
        let token = step.map(|(t, _)| t);
        let mut found = None;
        let mut first = true;
        loop {
            let key = map.next_key_seed(KeyMatch { token, first })?;
            let seek = match key {
                None => return Ok(found),
                Some(KeyClass::RawValue) => {
                    // `Value` reads the string as JSON text and is that value, whatever
                    // follows (the deserializer then insists the object ends).
                    let text = map.next_value_seed(RawText)?;
                    let mut inner = serde_json::Deserializer::from_str(&text);
                    return self
                        .deserialize(&mut inner)
                        .and_then(|v| inner.end().map(|()| v))
                        .map_err(de::Error::custom);
                }
                Some(KeyClass::Match) => step.map_or(Seek { tokens: None }, |(_, below)| below),
                Some(KeyClass::Other) => Seek { tokens: None },
            };
            first = false;
            let v = map.next_value_seed(seek)?;
            if seek.tokens.is_some() {
                // A repeated key: the last one wins, as in `Value`'s map.
                found = v;
            }
        }
    }
}

enum KeyClass {
    Match,
    Other,
    RawValue,
}

/// Reads a key (as `Value` does, with `deserialize_str`) and compares it with the token.
struct KeyMatch<'p> {
    token: Option<&'p str>,
    first: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = KeyClass;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = KeyClass;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(if self.first && key == RAW_VALUE_TOKEN {
            KeyClass::RawValue
        } else if self.token == Some(key) {
            KeyClass::Match
        } else {
            KeyClass::Other
        })
    }
}

/// The string after the raw-value token (serde_json's `BoxedFromString`, same message).
struct RawText;

impl<'de> DeserializeSeed<'de> for RawText {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RawText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("raw value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// What partitioning did before: parse the whole record, then follow the pointer.
    fn reference(data: &[u8], pointer: &str) -> Result<Option<String>, String> {
        let value: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        Ok(crate::json::scalar_at_pointer(&value, pointer))
    }

    fn ours(data: &[u8], pointer: &str) -> Result<Option<String>, String> {
        scalar_at_pointer(data, pointer).map_err(|e| e.to_string())
    }

    #[track_caller]
    fn agrees(data: &str, pointer: &str) {
        assert_eq!(
            ours(data.as_bytes(), pointer),
            reference(data.as_bytes(), pointer),
            "{data} at {pointer:?}"
        );
    }

    #[test]
    fn reads_scalars_and_ignores_containers_and_null() {
        let doc = r#"{"a":"x","n":12,"f":1.50,"e":1e2,"b":true,"o":{},"z":null,"l":[1,{"k":"v"}]}"#;
        assert_eq!(ours(doc.as_bytes(), "/a"), Ok(Some("x".into())));
        assert_eq!(ours(doc.as_bytes(), "/f"), Ok(Some("1.5".into())));
        assert_eq!(ours(doc.as_bytes(), "/e"), Ok(Some("100.0".into())));
        assert_eq!(ours(doc.as_bytes(), "/l/1/k"), Ok(Some("v".into())));
        for p in [
            "", "/", "a", "/a", "/n", "/f", "/e", "/b", "/o", "/z", "/l", "/l/0", "/l/1", "/l/01",
            "/l/+1", "/l/2", "/l/1/k", "/l/1/k/x", "/a/0", "/missing", "/o/x",
        ] {
            agrees(doc, p);
        }
    }

    #[test]
    fn repeated_keys_take_the_last_value() {
        agrees(r#"{"a":1,"a":{"b":2}}"#, "/a");
        agrees(r#"{"a":{"b":2},"a":3}"#, "/a");
        agrees(r#"{"a":{"b":2},"a":{"c":3}}"#, "/a/b");
        assert_eq!(ours(br#"{"a":1,"a":"two"}"#, "/a"), Ok(Some("two".into())));
    }

    #[test]
    fn escapes_in_keys_values_and_pointers() {
        agrees(r#"{"a/b":"s","m~n":"t","\u0061":"\u00e9\n"}"#, "/a~1b");
        agrees(r#"{"a/b":"s","m~n":"t"}"#, "/m~0n");
        agrees(r#"{"~1":"u"}"#, "/~01");
        agrees(r#"{"a":"\u00e9\n"}"#, "/a");
        agrees(r#"{"":{"":"empty keys"}}"#, "//");
    }

    #[test]
    fn rejects_what_serde_json_rejects_with_the_same_message() {
        for bad in [
            "Hello World",
            "",
            "{",
            r#"{"a":1}x"#,
            r#"{"a":1,}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":1e400}"#,
            r#"{"a":01}"#,
            r#"{"a":[1,]}"#,
            r#"{1:2}"#,
            "{\"a\":\"tab\there\"}",
            &"[".repeat(200),
            &format!("{}{}", "[".repeat(127), "]".repeat(127)),
            &format!("{}{}", "[".repeat(128), "]".repeat(128)),
        ] {
            agrees(bad, "/a");
            agrees(bad, "/0");
        }
        let invalid_utf8 = b"{\"a\":\"\xff\"}";
        assert_eq!(ours(invalid_utf8, "/a"), reference(invalid_utf8, "/a"));
        assert!(ours(invalid_utf8, "/a").is_err());
    }

    #[test]
    fn mirrors_the_raw_value_token() {
        let token = RAW_VALUE_TOKEN;
        for doc in [
            format!(r#"{{"{token}":"{{\"a\":\"inner\"}}"}}"#),
            format!(r#"{{"x":{{"{token}":"{{\"a\":7}}"}}}}"#),
            format!(r#"{{"{token}":"not json"}}"#),
            format!(r#"{{"{token}":5}}"#),
            format!(r#"{{"{token}":"1","b":2}}"#),
            format!(r#"{{"a":1,"{token}":"2"}}"#),
        ] {
            for p in ["/a", "/x/a", "", "/b"] {
                agrees(&doc, p);
            }
        }
    }

    /// Arbitrary JSON values, with keys drawn from a small set so that pointers hit.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-c~/ é\"\\\\\n]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-c~/]{0,2}", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn pointer() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            proptest::collection::vec("[a-c~/01]{0,2}|[0-5]", 1..4)
                .prop_map(|ts| ts.iter().map(|t| format!("/{t}")).collect()),
            "[a-c/~0-9]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_value_pointer_on_arbitrary_json(v in json_value(), p in pointer()) {
            let text = serde_json::to_vec(&v).unwrap();
            // Against the text parsed back, not `v`: without serde_json's `float_roundtrip`
            // a float's last digit may change on the way through text (for both readers).
            prop_assert_eq!(ours(&text, &p), reference(&text, &p));
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            prop_assert_eq!(ours(&pretty, &p), reference(&pretty, &p));
        }

        #[test]
        fn agrees_with_value_on_arbitrary_json_text(
            text in r#"[\[\]{}",:0-9a-c.eE+\-\\ \t\nnul]{0,40}"#,
            p in pointer(),
        ) {
            prop_assert_eq!(ours(text.as_bytes(), &p), reference(text.as_bytes(), &p));
        }

        #[test]
        fn agrees_with_value_on_damaged_json(
            v in json_value(),
            cut in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            p in pointer(),
        ) {
            let mut text = serde_json::to_vec(&v).unwrap();
            let at = cut.index(text.len() + 1);
            text.insert(at, byte);
            prop_assert_eq!(ours(&text, &p), reference(&text, &p));
            text.truncate(at);
            prop_assert_eq!(ours(&text, &p), reference(&text, &p));
        }
    }
}

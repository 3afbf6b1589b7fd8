//! One column's values while a file is being built: plain vectors that can be cut back to a
//! row count, so a record that does not fit halfway through is taken out again whole, and
//! turned into an Arrow array at the end.
//!
//! `append` reads one JSON value (its raw text: numbers keep their digits) by the column's
//! type, and returns what of it the schema does not hold (a *residual*: the unknown fields of
//! structs inside it, as compact JSON), which the caller keeps in the extra column.

use crate::schema::{map_entries_field, Column, ColumnType, LIST_ELEMENT};
use crate::value;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, TimestampMicrosecondType,
};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, ListArray, MapArray, PrimitiveArray,
    StringArray, StructArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{Field, Fields};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A value that does not fit its column: where, what was expected, what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Field names and `[index]` / `["key"]` steps, outermost first.
    pub path: Vec<String>,
    pub expected: String,
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = String::new();
        for step in &self.path {
            if !path.is_empty() && !step.starts_with('[') {
                path.push('.');
            }
            path.push_str(step);
        }
        write!(
            f,
            "field {path}: expected {}, got {}",
            self.expected, self.got
        )
    }
}

impl Mismatch {
    fn new(expected: impl fmt::Display, got: String) -> Self {
        Self {
            path: Vec::new(),
            expected: expected.to_string(),
            got,
        }
    }

    pub(crate) fn at(mut self, step: String) -> Self {
        self.path.insert(0, step);
        self
    }
}

/// The entries of a JSON object, in order, values as raw text.
pub(crate) struct Entries<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key<'a>(Cow<'a, str>);
        impl<'de> serde::Deserialize<'de> for Key<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Key<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string key")
                    }
                    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Borrowed(v)))
                    }
                    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Owned(v.to_owned())))
                    }
                }
                d.deserialize_str(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k.0, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A string value's text (unescaped), or `None` when the value is not a string.
fn string_value(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

/// Compact JSON text of a value (no insignificant whitespace), appended to `out`.
pub(crate) fn compact_into(raw: &RawValue, out: &mut Vec<u8>) {
    trickle_shared::json::minify_valid_json_into(raw.get().as_bytes(), out);
}

/// Values of one primitive type, with validity.
#[derive(Debug, Default)]
pub(crate) struct Prim<T> {
    values: Vec<T>,
    valid: Vec<bool>,
}

impl<T: Copy + Default> Prim<T> {
    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.valid.push(v.is_some());
    }
    fn truncate(&mut self, n: usize) {
        self.values.truncate(n);
        self.valid.truncate(n);
    }
}

impl<T: Copy + Default + arrow_buffer::ArrowNativeType> Prim<T> {
    fn finish<A: ArrowPrimitiveType<Native = T>>(self) -> PrimitiveArray<A> {
        PrimitiveArray::new(ScalarBuffer::from(self.values), nulls(self.valid))
    }
}

/// Variable-length values (strings, binary), with validity.
#[derive(Debug)]
pub(crate) struct Bytes {
    offsets: Vec<i32>,
    data: Vec<u8>,
    valid: Vec<bool>,
}

impl Default for Bytes {
    fn default() -> Self {
        Self {
            offsets: vec![0],
            data: Vec::new(),
            valid: Vec::new(),
        }
    }
}

impl Bytes {
    pub(crate) fn push(&mut self, v: Option<&[u8]>) {
        if let Some(v) = v {
            self.data.extend_from_slice(v);
        }
        self.close(v.is_some());
    }
    /// Ends a value whose bytes were appended to `data_mut()`.
    pub(crate) fn close(&mut self, valid: bool) {
        self.offsets.push(self.data.len() as i32);
        self.valid.push(valid);
    }
    pub(crate) fn data_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }
    pub(crate) fn len(&self) -> usize {
        self.valid.len()
    }
    pub(crate) fn truncate(&mut self, n: usize) {
        self.offsets.truncate(n + 1);
        self.data.truncate(self.offsets[n] as usize);
        self.valid.truncate(n);
    }
    fn parts(self) -> (OffsetBuffer<i32>, Buffer, Option<NullBuffer>) {
        (
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Buffer::from_vec(self.data),
            nulls(self.valid),
        )
    }
    pub(crate) fn finish_utf8(self) -> StringArray {
        let (o, d, n) = self.parts();
        // Every value pushed is a whole UTF-8 string (from JSON text or a &str).
        StringArray::new(o, d, n)
    }
    fn finish_binary(self) -> BinaryArray {
        let (o, d, n) = self.parts();
        BinaryArray::new(o, d, n)
    }
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::new(BooleanBuffer::from(valid)))
    }
}

/// One column's (or nested field's) values.
#[derive(Debug)]
pub(crate) enum Builder {
    Boolean(Prim<bool>),
    TinyInt(Prim<i8>),
    SmallInt(Prim<i16>),
    Int(Prim<i32>),
    BigInt(Prim<i64>),
    Float(Prim<f32>),
    Double(Prim<f64>),
    Decimal(Prim<i128>, u8, u8),
    String(Bytes),
    Binary(Bytes),
    Date(Prim<i32>),
    Timestamp(Prim<i64>),
    List {
        offsets: Vec<i32>,
        valid: Vec<bool>,
        element: Box<Builder>,
    },
    Map {
        offsets: Vec<i32>,
        valid: Vec<bool>,
        keys: Bytes,
        values: Box<Builder>,
    },
    Struct {
        fields: Vec<Column>,
        children: Vec<Builder>,
        valid: Vec<bool>,
    },
}

impl Builder {
    pub(crate) fn new(ty: &ColumnType) -> Self {
        match ty {
            ColumnType::Boolean => Self::Boolean(Prim::default()),
            ColumnType::TinyInt => Self::TinyInt(Prim::default()),
            ColumnType::SmallInt => Self::SmallInt(Prim::default()),
            ColumnType::Int => Self::Int(Prim::default()),
            ColumnType::BigInt => Self::BigInt(Prim::default()),
            ColumnType::Float => Self::Float(Prim::default()),
            ColumnType::Double => Self::Double(Prim::default()),
            ColumnType::Decimal { precision, scale } => {
                Self::Decimal(Prim::default(), *precision, *scale)
            }
            ColumnType::String => Self::String(Bytes::default()),
            ColumnType::Binary => Self::Binary(Bytes::default()),
            ColumnType::Date => Self::Date(Prim::default()),
            ColumnType::Timestamp => Self::Timestamp(Prim::default()),
            ColumnType::Array(element) => Self::List {
                offsets: vec![0],
                valid: Vec::new(),
                element: Box::new(Self::new(element)),
            },
            ColumnType::Map(value) => Self::Map {
                offsets: vec![0],
                valid: Vec::new(),
                keys: Bytes::default(),
                values: Box::new(Self::new(value)),
            },
            ColumnType::Struct(fields) => Self::Struct {
                fields: fields.clone(),
                children: fields.iter().map(|f| Self::new(&f.ty)).collect(),
                valid: Vec::new(),
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Boolean(p) => p.valid.len(),
            Self::TinyInt(p) => p.valid.len(),
            Self::SmallInt(p) => p.valid.len(),
            Self::Int(p) | Self::Date(p) => p.valid.len(),
            Self::BigInt(p) | Self::Timestamp(p) => p.valid.len(),
            Self::Float(p) => p.valid.len(),
            Self::Double(p) => p.valid.len(),
            Self::Decimal(p, ..) => p.valid.len(),
            Self::String(b) | Self::Binary(b) => b.len(),
            Self::List { valid, .. } | Self::Map { valid, .. } | Self::Struct { valid, .. } => {
                valid.len()
            }
        }
    }

    /// Cuts back to `n` values (children to what those values hold).
    pub(crate) fn truncate(&mut self, n: usize) {
        match self {
            Self::Boolean(p) => p.truncate(n),
            Self::TinyInt(p) => p.truncate(n),
            Self::SmallInt(p) => p.truncate(n),
            Self::Int(p) | Self::Date(p) => p.truncate(n),
            Self::BigInt(p) | Self::Timestamp(p) => p.truncate(n),
            Self::Float(p) => p.truncate(n),
            Self::Double(p) => p.truncate(n),
            Self::Decimal(p, ..) => p.truncate(n),
            Self::String(b) | Self::Binary(b) => b.truncate(n),
            Self::List {
                offsets,
                valid,
                element,
            } => {
                offsets.truncate(n + 1);
                valid.truncate(n);
                element.truncate(offsets[n] as usize);
            }
            Self::Map {
                offsets,
                valid,
                keys,
                values,
            } => {
                offsets.truncate(n + 1);
                valid.truncate(n);
                keys.truncate(offsets[n] as usize);
                values.truncate(offsets[n] as usize);
            }
            Self::Struct {
                children, valid, ..
            } => {
                valid.truncate(n);
                for c in children {
                    c.truncate(n);
                }
            }
        }
    }

    pub(crate) fn push_null(&mut self) {
        match self {
            Self::Boolean(p) => p.push(None),
            Self::TinyInt(p) => p.push(None),
            Self::SmallInt(p) => p.push(None),
            Self::Int(p) | Self::Date(p) => p.push(None),
            Self::BigInt(p) | Self::Timestamp(p) => p.push(None),
            Self::Float(p) => p.push(None),
            Self::Double(p) => p.push(None),
            Self::Decimal(p, ..) => p.push(None),
            Self::String(b) | Self::Binary(b) => b.push(None),
            Self::List { offsets, valid, .. } | Self::Map { offsets, valid, .. } => {
                offsets.push(*offsets.last().unwrap_or(&0));
                valid.push(false);
            }
            Self::Struct {
                children, valid, ..
            } => {
                for c in children {
                    c.push_null();
                }
                valid.push(false);
            }
        }
    }

    /// Appends one value; on a mismatch the builder may hold part of it: the caller
    /// truncates. Returns the value's residual (unknown struct fields), counting them in
    /// `unknown`.
    pub(crate) fn append(
        &mut self,
        raw: Option<&RawValue>,
        unknown: &mut usize,
    ) -> Result<Option<Vec<u8>>, Mismatch> {
        let Some(raw) = raw.filter(|r| r.get() != "null") else {
            self.push_null();
            return Ok(None);
        };
        let text = raw.get();
        let got = || value::describe(text);
        match self {
            Self::Boolean(p) => match text {
                "true" => p.push(Some(true)),
                "false" => p.push(Some(false)),
                _ => return Err(Mismatch::new("boolean", got())),
            },
            Self::TinyInt(p) => p.push(Some(
                value::integer(text)
                    .and_then(|v| i8::try_from(v).ok())
                    .ok_or_else(|| Mismatch::new("tinyint", got()))?,
            )),
            Self::SmallInt(p) => p.push(Some(
                value::integer(text)
                    .and_then(|v| i16::try_from(v).ok())
                    .ok_or_else(|| Mismatch::new("smallint", got()))?,
            )),
            Self::Int(p) => p.push(Some(
                value::integer(text)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| Mismatch::new("int", got()))?,
            )),
            Self::BigInt(p) => p.push(Some(
                value::integer(text).ok_or_else(|| Mismatch::new("bigint", got()))?,
            )),
            Self::Float(p) => {
                let v = value::double(text)
                    .map(|v| v as f32)
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| Mismatch::new("float", got()))?;
                p.push(Some(v))
            }
            Self::Double(p) => p.push(Some(
                value::double(text).ok_or_else(|| Mismatch::new("double", got()))?,
            )),
            Self::Decimal(p, precision, scale) => {
                let ty = format!("decimal({precision},{scale})");
                let literal = match string_value(raw) {
                    Some(s) => s,
                    None if !text.starts_with(['{', '[', 't', 'f']) => Cow::Borrowed(text),
                    None => return Err(Mismatch::new(ty, got())),
                };
                let v = value::decimal(&literal, *precision, *scale)
                    .map_err(|why| Mismatch::new(ty, format!("{} ({why})", got())))?;
                p.push(Some(v))
            }
            Self::String(b) => match string_value(raw) {
                Some(s) => b.push(Some(s.as_bytes())),
                None => {
                    // Any other value is kept as its compact JSON text.
                    compact_into(raw, b.data_mut());
                    b.close(true);
                }
            },
            Self::Binary(b) => {
                let bytes = string_value(raw)
                    .and_then(|s| value::binary(&s))
                    .ok_or_else(|| Mismatch::new("binary (base64)", got()))?;
                b.push(Some(&bytes))
            }
            Self::Date(p) => p.push(Some(
                string_value(raw)
                    .and_then(|s| value::date(&s))
                    .ok_or_else(|| Mismatch::new("date (YYYY-MM-DD)", got()))?,
            )),
            Self::Timestamp(p) => {
                let micros = match string_value(raw) {
                    Some(s) => value::timestamp(&s),
                    None => value::timestamp_from_millis(text),
                };
                p.push(Some(micros.ok_or_else(|| {
                    Mismatch::new("timestamp (ISO 8601, or epoch milliseconds)", got())
                })?))
            }
            Self::List {
                offsets,
                valid,
                element,
            } => {
                let items: Vec<&RawValue> = match text.as_bytes().first() {
                    Some(b'[') => {
                        serde_json::from_str(text).map_err(|_| Mismatch::new("an array", got()))?
                    }
                    _ => return Err(Mismatch::new("an array", got())),
                };
                let mut residuals: Vec<Option<Vec<u8>>> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let r = element
                        .append(Some(item), unknown)
                        .map_err(|m| m.at(format!("[{i}]")))?;
                    if r.is_some() && residuals.is_empty() {
                        residuals.resize(i, None);
                    }
                    if !residuals.is_empty() || r.is_some() {
                        residuals.push(r);
                    }
                }
                offsets.push(element.len() as i32);
                valid.push(true);
                if residuals.is_empty() {
                    return Ok(None);
                }
                residuals.resize(items.len(), None);
                // Positions are kept: a null where an element left nothing over.
                let mut out = b"[".to_vec();
                for (i, r) in residuals.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(r.as_deref().unwrap_or(b"null"));
                }
                out.push(b']');
                return Ok(Some(out));
            }
            Self::Map {
                offsets,
                valid,
                keys,
                values,
            } => {
                if !text.starts_with('{') {
                    return Err(Mismatch::new("an object (map)", got()));
                }
                let entries: Entries<'_> = serde_json::from_str(text)
                    .map_err(|_| Mismatch::new("an object (map)", got()))?;
                let mut out: Option<Vec<u8>> = None;
                for (k, v) in &entries.0 {
                    keys.push(Some(k.as_bytes()));
                    let r = values
                        .append(Some(v), unknown)
                        .map_err(|m| m.at(format!("[{}]", json_string(k))))?;
                    if let Some(r) = r {
                        let o = out.get_or_insert_with(|| b"{".to_vec());
                        if o.len() > 1 {
                            o.push(b',');
                        }
                        o.extend_from_slice(json_string(k).as_bytes());
                        o.push(b':');
                        o.extend_from_slice(&r);
                    }
                }
                offsets.push(keys.len() as i32);
                valid.push(true);
                return Ok(out.map(|mut o| {
                    o.push(b'}');
                    o
                }));
            }
            Self::Struct {
                fields,
                children,
                valid,
            } => {
                if !text.starts_with('{') {
                    return Err(Mismatch::new("an object (struct)", got()));
                }
                let entries: Entries<'_> = serde_json::from_str(text)
                    .map_err(|_| Mismatch::new("an object (struct)", got()))?;
                let slots = match_fields(fields.iter().map(|f| f.name.as_str()), &entries.0)?;
                let mut out = Vec::new();
                for (i, child) in children.iter_mut().enumerate() {
                    let (key, value) = match slots.matched[i] {
                        Some(e) => (Some(&entries.0[e].0), Some(entries.0[e].1)),
                        None => (None, None),
                    };
                    let r = child
                        .append(value, unknown)
                        .map_err(|m| m.at(fields[i].name.clone()))?;
                    if let (Some(r), Some(key)) = (r, key) {
                        push_member(&mut out, key, &r);
                    }
                }
                for &e in &slots.unknown {
                    let (k, v) = &entries.0[e];
                    let mut compact = Vec::new();
                    compact_into(v, &mut compact);
                    push_member(&mut out, k, &compact);
                }
                *unknown += slots.unknown.len();
                valid.push(true);
                if out.is_empty() {
                    return Ok(None);
                }
                out.push(b'}');
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Self::Boolean(p) => Arc::new(BooleanArray::new(
                BooleanBuffer::from(p.values),
                nulls(p.valid),
            )),
            Self::TinyInt(p) => Arc::new(p.finish::<Int8Type>()),
            Self::SmallInt(p) => Arc::new(p.finish::<Int16Type>()),
            Self::Int(p) => Arc::new(p.finish::<Int32Type>()),
            Self::BigInt(p) => Arc::new(p.finish::<Int64Type>()),
            Self::Float(p) => Arc::new(p.finish::<Float32Type>()),
            Self::Double(p) => Arc::new(p.finish::<Float64Type>()),
            Self::Decimal(p, precision, scale) => Arc::new(
                p.finish::<Decimal128Type>()
                    .with_precision_and_scale(precision, scale as i8)
                    .unwrap_or_else(|_| unreachable!("the schema checked precision and scale")),
            ),
            Self::String(b) => Arc::new(b.finish_utf8()),
            Self::Binary(b) => Arc::new(b.finish_binary()),
            Self::Date(p) => Arc::new(p.finish::<Date32Type>()),
            Self::Timestamp(p) => Arc::new(
                p.finish::<TimestampMicrosecondType>()
                    .with_timezone(crate::schema::TIMESTAMP_ZONE),
            ),
            Self::List {
                offsets,
                valid,
                element,
            } => {
                let values = element.finish();
                let field = Arc::new(Field::new(LIST_ELEMENT, values.data_type().clone(), true));
                Arc::new(ListArray::new(
                    field,
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    values,
                    nulls(valid),
                ))
            }
            Self::Map {
                offsets,
                valid,
                keys,
                values,
            } => {
                let keys: ArrayRef = Arc::new(keys.finish_utf8());
                let values = values.finish();
                let entries_field = map_entries_field_for(&values);
                let arrow_schema::DataType::Struct(entry_fields) = entries_field.data_type() else {
                    unreachable!("map entries are a struct")
                };
                let entries = StructArray::new(entry_fields.clone(), vec![keys, values], None);
                Arc::new(MapArray::new(
                    Arc::new(entries_field),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    entries,
                    nulls(valid),
                    false,
                ))
            }
            Self::Struct {
                fields,
                children,
                valid,
            } => {
                let arrow_fields: Fields = fields.iter().map(Column::arrow_field).collect();
                let arrays: Vec<ArrayRef> = children.into_iter().map(Builder::finish).collect();
                Arc::new(StructArray::new(arrow_fields, arrays, nulls(valid)))
            }
        }
    }
}

fn map_entries_field_for(values: &ArrayRef) -> Field {
    // The value field's type is the array's (it carries nested field names as built).
    let f = map_entries_field(&ColumnType::String);
    let arrow_schema::DataType::Struct(fs) = f.data_type() else {
        unreachable!()
    };
    Field::new(
        f.name(),
        arrow_schema::DataType::Struct(Fields::from(vec![
            fs[0].as_ref().clone(),
            Field::new("value", values.data_type().clone(), true),
        ])),
        false,
    )
}

/// A string as JSON text.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Appends `"key":value` to an object being written (`{` written on first use).
pub(crate) fn push_member(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.push(if out.is_empty() { b'{' } else { b',' });
    out.extend_from_slice(json_string(key).as_bytes());
    out.push(b':');
    out.extend_from_slice(value);
}

/// Which object entry fills each named field, and which entries are unknown.
pub(crate) struct Slots {
    pub matched: Vec<Option<usize>>,
    pub unknown: Vec<usize>,
}

/// Matches entries to field names: exactly, else ignoring ASCII case (names are lower
/// case). Two entries for one field (`"User"` and `"user"`) do not fit.
pub(crate) fn match_fields<'n>(
    names: impl Iterator<Item = &'n str>,
    entries: &[(Cow<'_, str>, &RawValue)],
) -> Result<Slots, Mismatch> {
    let names: Vec<&str> = names.collect();
    let mut matched: Vec<Option<usize>> = vec![None; names.len()];
    let mut unknown = Vec::new();
    for (e, (key, _)) in entries.iter().enumerate() {
        let found = names
            .iter()
            .position(|n| *n == key.as_ref())
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(key)));
        match found {
            Some(i) => {
                if let Some(prev) = matched[i] {
                    return Err(Mismatch {
                        path: vec![names[i].to_owned()],
                        expected: "one value".into(),
                        got: format!(
                            "two fields, {} and {}",
                            json_string(&entries[prev].0),
                            json_string(key)
                        ),
                    });
                }
                matched[i] = Some(e);
            }
            None => unknown.push(e),
        }
    }
    Ok(Slots { matched, unknown })
}

//! OTLP requests as flat rows: one JSON object per log record, span or metric data point,
//! with snake_case names modelled on the OpenTelemetry Collector's ClickHouse exporter tables
//! (`otel_logs`, `otel_traces`, `otel_metrics_*`), so Athena, Glue and DuckDB see plain
//! columns. The field list per signal is in docs/reference/otlp.md.
//!
//! Values: timestamps as RFC 3339 UTC with nanoseconds (absent when zero); ids as lower-case
//! hex (absent when empty); attributes as objects of strings, a non-string value as its
//! compact JSON text; a log's `body` as a string, a non-string body as its compact JSON text;
//! `AnyValue` as JSON: bytes as base64, 64-bit integers as exact JSON numbers, NaN and the
//! infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`; enums by the names the
//! Collector's data model prints (`Server`, `Error`, `Cumulative`).
//!
//! Bounded: the rows of one request may take at most `limit` bytes in all. Copying resource
//! attributes into every item can make a request of tiny items many times its size; past the
//! limit the conversion stops with `TooLarge`.

use crate::pb::collector::logs::v1::ExportLogsServiceRequest;
use crate::pb::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::pb::collector::trace::v1::ExportTraceServiceRequest;
use crate::pb::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use crate::pb::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, ExponentialHistogramDataPoint,
    HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
};
use crate::pb::resource::v1::Resource;
use base64::Engine;
use serde_json::{json, Value};
use std::io::Write as _;

/// One item as a row, and the trace it belongs to (its partition key, when it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub json: Vec<u8>,
    pub trace_id: Option<String>,
}

/// The rows of a request would be larger than their bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request's items would be more than {limit} bytes as rows")]
pub struct TooLarge {
    pub limit: usize,
}

/// Rows being built, within a byte bound.
struct Out {
    rows: Vec<Row>,
    bytes: usize,
    limit: usize,
}

impl Out {
    fn new(limit: usize) -> Self {
        Self {
            rows: Vec::new(),
            bytes: 0,
            limit,
        }
    }

    fn push(&mut self, row: W, trace_id: Option<String>) -> Result<(), TooLarge> {
        let json = row.finish();
        self.bytes += json.len();
        if self.bytes > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        self.rows.push(Row { json, trace_id });
        Ok(())
    }
}

/// A JSON object written field by field, straight to bytes: rows are built without a tree of
/// values in between (the benchmark's floor is writing the rows).
struct W(Vec<u8>);

impl W {
    fn object(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        Self(out)
    }

    /// A field's name (the names here are ASCII without escapes).
    fn key(&mut self, k: &str) {
        if self.0.last() != Some(&b'{') {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(k.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        write_str(&mut self.0, v);
    }

    fn num(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        let _ = write!(self.0, "{v}");
    }

    fn value(&mut self, k: &str, v: &Value) {
        self.key(k);
        serde_json::to_writer(&mut self.0, v).expect("writing to a Vec cannot fail");
    }

    /// A timestamp field, left out when zero.
    fn time(&mut self, k: &str, unix_nano: u64) {
        if unix_nano != 0 {
            self.key(k);
            self.0.push(b'"');
            write_timestamp(&mut self.0, unix_nano);
            self.0.push(b'"');
        }
    }

    /// An id field, left out when empty.
    fn id(&mut self, k: &str, bytes: &[u8]) {
        if !is_unset_id(bytes) {
            self.key(k);
            self.0.push(b'"');
            write_hex(&mut self.0, bytes);
            self.0.push(b'"');
        }
    }

    fn attrs(&mut self, k: &str, kvs: &[KeyValue]) {
        self.key(k);
        write_attributes(&mut self.0, kvs);
    }

    /// Bytes that are already `,"name":value,...` (a scope's shared fields).
    fn raw(&mut self, fields: &[u8]) {
        self.0.extend_from_slice(fields);
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(b'}');
        self.0
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn is_unset_id(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

fn write_timestamp(out: &mut Vec<u8>, unix_nano: u64) {
    use chrono::{Datelike, Timelike};
    let secs = (unix_nano / 1_000_000_000) as i64;
    let nanos = (unix_nano % 1_000_000_000) as u32;
    if let Some(t) = chrono::DateTime::from_timestamp(secs, nanos) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            nanos
        );
    }
}

fn hex(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() || is_unset_id(bytes) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 2);
    write_hex(&mut out, bytes);
    String::from_utf8(out).ok()
}

fn number(f: f64) -> Value {
    if f.is_nan() {
        json!("NaN")
    } else if f == f64::INFINITY {
        json!("Infinity")
    } else if f == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(f)
    }
}

/// An `AnyValue` as JSON.
pub fn any_value(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(d)) => number(*d),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(any_value).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map_or(Value::Null, any_value),
                    )
                })
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => {
            json!(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::StringValueStrindex(i)) => json!(i),
    }
}

/// A value as a JSON string: a string as it is, anything else as its compact JSON text.
fn write_as_text(out: &mut Vec<u8>, v: Option<&AnyValue>) {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => write_str(out, s),
        None => out.extend_from_slice(b"\"\""),
        Some(_) => match v.map(any_value) {
            Some(Value::Null) | None => out.extend_from_slice(b"\"\""),
            Some(other) => write_str(out, &other.to_string()),
        },
    }
}

fn write_attributes(out: &mut Vec<u8>, kvs: &[KeyValue]) {
    out.push(b'{');
    for (i, kv) in kvs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, &kv.key);
        out.push(b':');
        write_as_text(out, kv.value.as_ref());
    }
    out.push(b'}');
}

/// What every item of a resource and scope shares, written once as `,"name":value,...`.
struct Context {
    fields: Vec<u8>,
}

impl Context {
    fn new(
        resource: Option<&Resource>,
        schema_url: &str,
        scope: Option<&InstrumentationScope>,
    ) -> Self {
        let attrs = resource.map_or(&[][..], |r| &r.attributes[..]);
        let mut w = W(vec![b'{']);
        if let Some(kv) = attrs.iter().find(|kv| kv.key == "service.name") {
            w.key("service_name");
            write_as_text(&mut w.0, kv.value.as_ref());
        }
        w.attrs("resource_attributes", attrs);
        w.str("resource_schema_url", schema_url);
        w.str("scope_name", scope.map_or("", |s| s.name.as_str()));
        w.str("scope_version", scope.map_or("", |s| s.version.as_str()));
        w.attrs(
            "scope_attributes",
            scope.map_or(&[][..], |s| &s.attributes[..]),
        );
        let mut fields = w.0;
        fields[0] = b',';
        Self { fields }
    }

    /// A row with its signal and these shared fields.
    fn row(&self, signal: &str, capacity: usize) -> W {
        let mut w = W::object(capacity + self.fields.len());
        w.str("signal", signal);
        w.raw(&self.fields);
        w
    }
}

/// Each log record as a row. `received_ns` is when ingest got the request: the timestamp of
/// a record with neither its time nor its observed time.
pub fn logs(
    req: &ExportLogsServiceRequest,
    received_ns: u64,
    limit: usize,
) -> Result<Vec<Row>, TooLarge> {
    let mut out = Out::new(limit);
    for rl in &req.resource_logs {
        for sl in &rl.scope_logs {
            let ctx = Context::new(rl.resource.as_ref(), &rl.schema_url, sl.scope.as_ref());
            for r in &sl.log_records {
                let mut row = ctx.row("logs", 256);
                let time = [r.time_unix_nano, r.observed_time_unix_nano, received_ns]
                    .into_iter()
                    .find(|&t| t != 0)
                    .unwrap_or(0);
                row.time("timestamp", time);
                row.time("observed_timestamp", r.observed_time_unix_nano);
                row.str("severity_text", &r.severity_text);
                row.num("severity_number", r.severity_number);
                row.key("body");
                write_as_text(&mut row.0, r.body.as_ref());
                row.id("trace_id", &r.trace_id);
                row.id("span_id", &r.span_id);
                row.num("trace_flags", r.flags & 0xff);
                row.str("event_name", &r.event_name);
                row.attrs("attributes", &r.attributes);
                row.num("dropped_attributes_count", r.dropped_attributes_count);
                out.push(row, hex(&r.trace_id))?;
            }
        }
    }
    Ok(out.rows)
}

/// The Collector's names for span kinds and status codes.
fn span_kind(kind: i32) -> &'static str {
    match kind {
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "Unspecified",
    }
}

fn status_code(code: i32) -> &'static str {
    match code {
        1 => "Ok",
        2 => "Error",
        _ => "Unset",
    }
}

/// Each span as a row.
pub fn traces(req: &ExportTraceServiceRequest, limit: usize) -> Result<Vec<Row>, TooLarge> {
    let mut out = Out::new(limit);
    for rs in &req.resource_spans {
        for ss in &rs.scope_spans {
            let ctx = Context::new(rs.resource.as_ref(), &rs.schema_url, ss.scope.as_ref());
            for s in &ss.spans {
                let mut row = ctx.row("traces", 384);
                row.time("timestamp", s.start_time_unix_nano);
                row.time("end_timestamp", s.end_time_unix_nano);
                row.num(
                    "duration_ns",
                    s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
                );
                row.id("trace_id", &s.trace_id);
                row.id("span_id", &s.span_id);
                row.id("parent_span_id", &s.parent_span_id);
                row.str("trace_state", &s.trace_state);
                row.str("name", &s.name);
                row.str("kind", span_kind(s.kind));
                let status = s.status.as_ref();
                row.str("status_code", status_code(status.map_or(0, |s| s.code)));
                row.str(
                    "status_message",
                    status.map(|s| s.message.as_str()).unwrap_or_default(),
                );
                row.attrs("attributes", &s.attributes);
                row.key("events");
                row.0.push(b'[');
                for (i, e) in s.events.iter().enumerate() {
                    if i > 0 {
                        row.0.push(b',');
                    }
                    let mut ev = W::object(64);
                    ev.time("timestamp", e.time_unix_nano);
                    ev.str("name", &e.name);
                    ev.attrs("attributes", &e.attributes);
                    row.0.extend_from_slice(&ev.finish());
                }
                row.0.push(b']');
                row.key("links");
                row.0.push(b'[');
                for (i, l) in s.links.iter().enumerate() {
                    if i > 0 {
                        row.0.push(b',');
                    }
                    let mut link = W::object(96);
                    link.id("trace_id", &l.trace_id);
                    link.id("span_id", &l.span_id);
                    link.str("trace_state", &l.trace_state);
                    link.attrs("attributes", &l.attributes);
                    row.0.extend_from_slice(&link.finish());
                }
                row.0.push(b']');
                out.push(row, hex(&s.trace_id))?;
            }
        }
    }
    Ok(out.rows)
}

fn temporality(t: i32) -> &'static str {
    match t {
        1 => "Delta",
        2 => "Cumulative",
        _ => "Unspecified",
    }
}

fn write_exemplars(w: &mut W, es: &[Exemplar]) {
    w.key("exemplars");
    w.0.push(b'[');
    for (i, e) in es.iter().enumerate() {
        if i > 0 {
            w.0.push(b',');
        }
        let mut x = W::object(96);
        x.time("timestamp", e.time_unix_nano);
        x.value(
            "value",
            &match e.value {
                Some(exemplar::Value::AsDouble(d)) => number(d),
                Some(exemplar::Value::AsInt(i)) => json!(i),
                None => Value::Null,
            },
        );
        x.id("trace_id", &e.trace_id);
        x.id("span_id", &e.span_id);
        x.attrs("filtered_attributes", &e.filtered_attributes);
        w.0.extend_from_slice(&x.finish());
    }
    w.0.push(b']');
}

/// The fields every kind of data point has.
struct Point<'a> {
    attrs: &'a [KeyValue],
    start: u64,
    time: u64,
    flags: u32,
    ex: &'a [Exemplar],
}

/// The common fields of each kind of data point.
trait DataPoint {
    fn common(&self) -> Point<'_>;
}

macro_rules! data_point {
    ($($t:ty => $ex:expr),* $(,)?) => {$(
        impl DataPoint for $t {
            fn common(&self) -> Point<'_> {
                let ex: fn(&Self) -> &[Exemplar] = $ex;
                Point {
                    attrs: &self.attributes,
                    start: self.start_time_unix_nano,
                    time: self.time_unix_nano,
                    flags: self.flags,
                    ex: ex(self),
                }
            }
        }
    )*};
}

data_point! {
    NumberDataPoint => |p| &p.exemplars,
    HistogramDataPoint => |p| &p.exemplars,
    ExponentialHistogramDataPoint => |p| &p.exemplars,
    SummaryDataPoint => |_| &[],
}

/// What every data point of a metric shares, and the point's own common fields.
fn point_row(
    ctx: &Context,
    m: &crate::pb::metrics::v1::Metric,
    metric_type: &str,
    Point {
        attrs,
        start,
        time,
        flags,
        ex,
    }: Point<'_>,
) -> W {
    let mut row = ctx.row("metrics", 256);
    row.time("timestamp", time);
    row.time("start_timestamp", start);
    row.str("metric_name", &m.name);
    row.str("metric_description", &m.description);
    row.str("metric_unit", &m.unit);
    row.str("metric_type", metric_type);
    row.attrs("attributes", attrs);
    row.num("flags", flags);
    write_exemplars(&mut row, ex);
    row
}

fn opt_number(v: Option<f64>) -> Value {
    v.map_or(Value::Null, number)
}

/// Each metric data point as a row.
pub fn metrics(req: &ExportMetricsServiceRequest, limit: usize) -> Result<Vec<Row>, TooLarge> {
    let mut out = Out::new(limit);
    for rm in &req.resource_metrics {
        for sm in &rm.scope_metrics {
            let ctx = Context::new(rm.resource.as_ref(), &rm.schema_url, sm.scope.as_ref());
            for m in &sm.metrics {
                let point = |p: Point<'_>, t: &str| point_row(&ctx, m, t, p);
                match &m.data {
                    None => {}
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            let mut row = point(p.common(), "gauge");
                            row.value("value", &number_value(&p.value));
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::Sum(s)) => {
                        for p in &s.data_points {
                            let mut row = point(p.common(), "sum");
                            row.value("value", &number_value(&p.value));
                            row.value("is_monotonic", &json!(s.is_monotonic));
                            row.str(
                                "aggregation_temporality",
                                temporality(s.aggregation_temporality),
                            );
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for p in &h.data_points {
                            let mut row = point(p.common(), "histogram");
                            row.num("count", p.count);
                            row.value("sum", &opt_number(p.sum));
                            row.value("min", &opt_number(p.min));
                            row.value("max", &opt_number(p.max));
                            row.value("bucket_counts", &json!(p.bucket_counts));
                            row.value(
                                "explicit_bounds",
                                &Value::Array(
                                    p.explicit_bounds.iter().map(|&b| number(b)).collect(),
                                ),
                            );
                            row.str(
                                "aggregation_temporality",
                                temporality(h.aggregation_temporality),
                            );
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        for p in &h.data_points {
                            let mut row = point(p.common(), "exponential_histogram");
                            row.num("count", p.count);
                            row.value("sum", &opt_number(p.sum));
                            row.value("min", &opt_number(p.min));
                            row.value("max", &opt_number(p.max));
                            row.num("scale", p.scale);
                            row.num("zero_count", p.zero_count);
                            let pos = p.positive.as_ref();
                            let neg = p.negative.as_ref();
                            row.num("positive_offset", pos.map_or(0, |b| b.offset));
                            row.value(
                                "positive_bucket_counts",
                                &json!(pos.map_or(&[][..], |b| &b.bucket_counts[..])),
                            );
                            row.num("negative_offset", neg.map_or(0, |b| b.offset));
                            row.value(
                                "negative_bucket_counts",
                                &json!(neg.map_or(&[][..], |b| &b.bucket_counts[..])),
                            );
                            row.str(
                                "aggregation_temporality",
                                temporality(h.aggregation_temporality),
                            );
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::Summary(s)) => {
                        for p in &s.data_points {
                            let mut row = point(p.common(), "summary");
                            row.num("count", p.count);
                            row.value("sum", &number(p.sum));
                            row.value(
                                "quantiles",
                                &Value::Array(
                                    p.quantile_values
                                        .iter()
                                        .map(|q| {
                                            json!({"quantile": number(q.quantile), "value": number(q.value)})
                                        })
                                        .collect(),
                                ),
                            );
                            out.push(row, None)?;
                        }
                    }
                }
            }
        }
    }
    Ok(out.rows)
}

fn number_value(v: &Option<number_data_point::Value>) -> Value {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => number(*d),
        Some(number_data_point::Value::AsInt(i)) => json!(i),
        None => Value::Null,
    }
}

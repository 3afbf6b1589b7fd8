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
use crate::pb::metrics::v1::{exemplar, metric, number_data_point, Exemplar};
use crate::pb::resource::v1::Resource;
use base64::Engine;
use serde_json::{json, Map, Value};

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

    fn push(&mut self, row: Map<String, Value>, trace_id: Option<String>) -> Result<(), TooLarge> {
        let json = serde_json::to_vec(&Value::Object(row)).expect("a JSON value serializes");
        self.bytes += json.len();
        if self.bytes > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        self.rows.push(Row { json, trace_id });
        Ok(())
    }
}

/// RFC 3339 UTC with nanoseconds; `None` for 0 (unset).
pub fn timestamp(unix_nano: u64) -> Option<String> {
    if unix_nano == 0 {
        return None;
    }
    let secs = (unix_nano / 1_000_000_000) as i64;
    let nanos = (unix_nano % 1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
}

fn hex(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() || bytes.iter().all(|&b| b == 0) {
        return None;
    }
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

/// A value as a string: a string as it is, anything else as its compact JSON text.
fn as_text(v: Option<&AnyValue>) -> String {
    match v.map(any_value) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// Attributes as an object of strings.
pub fn attributes(kvs: &[KeyValue]) -> Value {
    Value::Object(
        kvs.iter()
            .map(|kv| (kv.key.clone(), json!(as_text(kv.value.as_ref()))))
            .collect(),
    )
}

/// What every item of a resource and scope shares.
struct Context {
    service_name: Option<String>,
    resource_attributes: Value,
    resource_schema_url: String,
    scope_name: String,
    scope_version: String,
    scope_attributes: Value,
}

impl Context {
    fn new(
        resource: Option<&Resource>,
        schema_url: &str,
        scope: Option<&InstrumentationScope>,
    ) -> Self {
        let attrs = resource.map_or(&[][..], |r| &r.attributes[..]);
        Self {
            service_name: attrs
                .iter()
                .find(|kv| kv.key == "service.name")
                .map(|kv| as_text(kv.value.as_ref())),
            resource_attributes: attributes(attrs),
            resource_schema_url: schema_url.to_owned(),
            scope_name: scope.map(|s| s.name.clone()).unwrap_or_default(),
            scope_version: scope.map(|s| s.version.clone()).unwrap_or_default(),
            scope_attributes: attributes(scope.map_or(&[][..], |s| &s.attributes[..])),
        }
    }

    fn row(&self, signal: &str) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert("signal".into(), json!(signal));
        if let Some(s) = &self.service_name {
            row.insert("service_name".into(), json!(s));
        }
        row.insert(
            "resource_attributes".into(),
            self.resource_attributes.clone(),
        );
        row.insert(
            "resource_schema_url".into(),
            json!(self.resource_schema_url),
        );
        row.insert("scope_name".into(), json!(self.scope_name));
        row.insert("scope_version".into(), json!(self.scope_version));
        row.insert("scope_attributes".into(), self.scope_attributes.clone());
        row
    }
}

fn put(row: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        row.insert(key.into(), json!(v));
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
                let mut row = ctx.row("logs");
                let time = [r.time_unix_nano, r.observed_time_unix_nano, received_ns]
                    .into_iter()
                    .find(|&t| t != 0)
                    .unwrap_or(0);
                put(&mut row, "timestamp", timestamp(time));
                put(
                    &mut row,
                    "observed_timestamp",
                    timestamp(r.observed_time_unix_nano),
                );
                row.insert("severity_text".into(), json!(r.severity_text));
                row.insert("severity_number".into(), json!(r.severity_number));
                row.insert("body".into(), json!(as_text(r.body.as_ref())));
                let trace_id = hex(&r.trace_id);
                put(&mut row, "trace_id", trace_id.clone());
                put(&mut row, "span_id", hex(&r.span_id));
                row.insert("trace_flags".into(), json!(r.flags & 0xff));
                row.insert("event_name".into(), json!(r.event_name));
                row.insert("attributes".into(), attributes(&r.attributes));
                row.insert(
                    "dropped_attributes_count".into(),
                    json!(r.dropped_attributes_count),
                );
                out.push(row, trace_id)?;
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
                let mut row = ctx.row("traces");
                put(&mut row, "timestamp", timestamp(s.start_time_unix_nano));
                put(&mut row, "end_timestamp", timestamp(s.end_time_unix_nano));
                row.insert(
                    "duration_ns".into(),
                    json!(s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)),
                );
                let trace_id = hex(&s.trace_id);
                put(&mut row, "trace_id", trace_id.clone());
                put(&mut row, "span_id", hex(&s.span_id));
                put(&mut row, "parent_span_id", hex(&s.parent_span_id));
                row.insert("trace_state".into(), json!(s.trace_state));
                row.insert("name".into(), json!(s.name));
                row.insert("kind".into(), json!(span_kind(s.kind)));
                let status = s.status.as_ref();
                row.insert(
                    "status_code".into(),
                    json!(status_code(status.map_or(0, |s| s.code))),
                );
                row.insert(
                    "status_message".into(),
                    json!(status.map(|s| s.message.as_str()).unwrap_or_default()),
                );
                row.insert("attributes".into(), attributes(&s.attributes));
                let events: Vec<Value> = s
                    .events
                    .iter()
                    .map(|e| {
                        let mut m = Map::new();
                        put(&mut m, "timestamp", timestamp(e.time_unix_nano));
                        m.insert("name".into(), json!(e.name));
                        m.insert("attributes".into(), attributes(&e.attributes));
                        Value::Object(m)
                    })
                    .collect();
                row.insert("events".into(), Value::Array(events));
                let links: Vec<Value> = s
                    .links
                    .iter()
                    .map(|l| {
                        let mut m = Map::new();
                        put(&mut m, "trace_id", hex(&l.trace_id));
                        put(&mut m, "span_id", hex(&l.span_id));
                        m.insert("trace_state".into(), json!(l.trace_state));
                        m.insert("attributes".into(), attributes(&l.attributes));
                        Value::Object(m)
                    })
                    .collect();
                row.insert("links".into(), Value::Array(links));
                out.push(row, trace_id)?;
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

fn exemplars(es: &[Exemplar]) -> Value {
    Value::Array(
        es.iter()
            .map(|e| {
                let mut m = Map::new();
                put(&mut m, "timestamp", timestamp(e.time_unix_nano));
                m.insert(
                    "value".into(),
                    match e.value {
                        Some(exemplar::Value::AsDouble(d)) => number(d),
                        Some(exemplar::Value::AsInt(i)) => json!(i),
                        None => Value::Null,
                    },
                );
                put(&mut m, "trace_id", hex(&e.trace_id));
                put(&mut m, "span_id", hex(&e.span_id));
                m.insert(
                    "filtered_attributes".into(),
                    attributes(&e.filtered_attributes),
                );
                Value::Object(m)
            })
            .collect(),
    )
}

/// The fields every kind of data point has.
struct Point<'a> {
    attrs: &'a [KeyValue],
    start: u64,
    time: u64,
    flags: u32,
    ex: &'a [Exemplar],
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
) -> Map<String, Value> {
    let mut row = ctx.row("metrics");
    put(&mut row, "timestamp", timestamp(time));
    put(&mut row, "start_timestamp", timestamp(start));
    row.insert("metric_name".into(), json!(m.name));
    row.insert("metric_description".into(), json!(m.description));
    row.insert("metric_unit".into(), json!(m.unit));
    row.insert("metric_type".into(), json!(metric_type));
    row.insert("attributes".into(), attributes(attrs));
    row.insert("flags".into(), json!(flags));
    row.insert("exemplars".into(), exemplars(ex));
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
                match &m.data {
                    None => {}
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            let mut row = point_row(
                                &ctx,
                                m,
                                "gauge",
                                Point {
                                    attrs: &p.attributes,
                                    start: p.start_time_unix_nano,
                                    time: p.time_unix_nano,
                                    flags: p.flags,
                                    ex: &p.exemplars,
                                },
                            );
                            row.insert("value".into(), number_value(&p.value));
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::Sum(s)) => {
                        for p in &s.data_points {
                            let mut row = point_row(
                                &ctx,
                                m,
                                "sum",
                                Point {
                                    attrs: &p.attributes,
                                    start: p.start_time_unix_nano,
                                    time: p.time_unix_nano,
                                    flags: p.flags,
                                    ex: &p.exemplars,
                                },
                            );
                            row.insert("value".into(), number_value(&p.value));
                            row.insert("is_monotonic".into(), json!(s.is_monotonic));
                            row.insert(
                                "aggregation_temporality".into(),
                                json!(temporality(s.aggregation_temporality)),
                            );
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for p in &h.data_points {
                            let mut row = point_row(
                                &ctx,
                                m,
                                "histogram",
                                Point {
                                    attrs: &p.attributes,
                                    start: p.start_time_unix_nano,
                                    time: p.time_unix_nano,
                                    flags: p.flags,
                                    ex: &p.exemplars,
                                },
                            );
                            row.insert("count".into(), json!(p.count));
                            row.insert("sum".into(), opt_number(p.sum));
                            row.insert("min".into(), opt_number(p.min));
                            row.insert("max".into(), opt_number(p.max));
                            row.insert("bucket_counts".into(), json!(p.bucket_counts));
                            row.insert(
                                "explicit_bounds".into(),
                                Value::Array(
                                    p.explicit_bounds.iter().map(|&b| number(b)).collect(),
                                ),
                            );
                            row.insert(
                                "aggregation_temporality".into(),
                                json!(temporality(h.aggregation_temporality)),
                            );
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        for p in &h.data_points {
                            let mut row = point_row(
                                &ctx,
                                m,
                                "exponential_histogram",
                                Point {
                                    attrs: &p.attributes,
                                    start: p.start_time_unix_nano,
                                    time: p.time_unix_nano,
                                    flags: p.flags,
                                    ex: &p.exemplars,
                                },
                            );
                            row.insert("count".into(), json!(p.count));
                            row.insert("sum".into(), opt_number(p.sum));
                            row.insert("min".into(), opt_number(p.min));
                            row.insert("max".into(), opt_number(p.max));
                            row.insert("scale".into(), json!(p.scale));
                            row.insert("zero_count".into(), json!(p.zero_count));
                            let pos = p.positive.as_ref();
                            let neg = p.negative.as_ref();
                            row.insert(
                                "positive_offset".into(),
                                json!(pos.map_or(0, |b| b.offset)),
                            );
                            row.insert(
                                "positive_bucket_counts".into(),
                                json!(pos.map_or(&[][..], |b| &b.bucket_counts[..])),
                            );
                            row.insert(
                                "negative_offset".into(),
                                json!(neg.map_or(0, |b| b.offset)),
                            );
                            row.insert(
                                "negative_bucket_counts".into(),
                                json!(neg.map_or(&[][..], |b| &b.bucket_counts[..])),
                            );
                            row.insert(
                                "aggregation_temporality".into(),
                                json!(temporality(h.aggregation_temporality)),
                            );
                            out.push(row, None)?;
                        }
                    }
                    Some(metric::Data::Summary(s)) => {
                        for p in &s.data_points {
                            let mut row = point_row(
                                &ctx,
                                m,
                                "summary",
                                Point {
                                    attrs: &p.attributes,
                                    start: p.start_time_unix_nano,
                                    time: p.time_unix_nano,
                                    flags: p.flags,
                                    ex: &[],
                                },
                            );
                            row.insert("count".into(), json!(p.count));
                            row.insert("sum".into(), number(p.sum));
                            row.insert(
                                "quantiles".into(),
                                Value::Array(
                                    p.quantile_values
                                        .iter()
                                        .map(|q| json!({"quantile": number(q.quantile), "value": number(q.value)}))
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

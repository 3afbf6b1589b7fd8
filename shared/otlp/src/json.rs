//! OTLP's JSON encoding (OTLP/HTTP `application/json`) into the protobuf messages, so both
//! encodings become rows by one path (`rows.rs`).
//!
//! The rules (the OTLP specification, "JSON Protobuf Encoding"): field names in lowerCamelCase
//! (the proto names in snake_case are accepted too); `traceId`, `spanId` and `parentSpanId` as
//! hex strings; 64-bit integers as decimal strings or numbers; enums as numbers; `bytesValue`
//! as base64; doubles as numbers or the strings `"NaN"`, `"Infinity"`, `"-Infinity"`. Unknown
//! fields are ignored, as the specification requires. A value of the wrong type is an error
//! naming its field.

use crate::pb::collector::logs::v1::ExportLogsServiceRequest;
use crate::pb::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::pb::collector::trace::v1::ExportTraceServiceRequest;
use crate::pb::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::pb::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::pb::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use crate::pb::resource::v1::Resource;
use crate::pb::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use base64::Engine;
use serde_json::{Map, Value};

/// A JSON value that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OTLP JSON field {field}: {reason}")]
pub struct JsonError {
    pub field: String,
    pub reason: String,
}

type R<T> = Result<T, JsonError>;

fn err<T>(field: &str, reason: impl Into<String>) -> R<T> {
    Err(JsonError {
        field: field.to_owned(),
        reason: reason.into(),
    })
}

/// An object's field by its JSON name or its proto name.
struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    fn of(v: &'a Value, field: &str) -> R<Self> {
        match v {
            Value::Object(m) => Ok(Self(m)),
            _ => err(field, "expected an object"),
        }
    }

    fn get(&self, camel: &str) -> Option<&'a Value> {
        self.0
            .get(camel)
            .or_else(|| self.0.get(&snake(camel)))
            .filter(|v| !v.is_null())
    }

    fn string(&self, name: &str) -> R<String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => err(name, "expected a string"),
        }
    }

    fn u64(&self, name: &str) -> R<u64> {
        self.get(name).map_or(Ok(0), |v| as_u64(v, name))
    }

    fn i64(&self, name: &str) -> R<i64> {
        match self.get(name) {
            None => Ok(0),
            Some(Value::Number(n)) => n
                .as_i64()
                .map_or_else(|| err(name, "expected an integer"), Ok),
            Some(Value::String(s)) => s.parse().or_else(|_| err(name, "expected an integer")),
            Some(_) => err(name, "expected an integer"),
        }
    }

    fn u32(&self, name: &str) -> R<u32> {
        u32::try_from(self.u64(name)?).or_else(|_| err(name, "out of range"))
    }

    fn i32(&self, name: &str) -> R<i32> {
        i32::try_from(self.i64(name)?).or_else(|_| err(name, "out of range"))
    }

    fn f64(&self, name: &str) -> R<f64> {
        self.get(name).map_or(Ok(0.0), |v| as_f64(v, name))
    }

    fn opt_f64(&self, name: &str) -> R<Option<f64>> {
        self.get(name).map(|v| as_f64(v, name)).transpose()
    }

    fn bool(&self, name: &str) -> R<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => err(name, "expected true or false"),
        }
    }

    fn hex(&self, name: &str) -> R<Vec<u8>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => hex(s).map_or_else(|| err(name, "expected hex"), Ok),
            Some(_) => err(name, "expected a hex string"),
        }
    }

    fn list<T>(&self, name: &str, each: impl Fn(&Value) -> R<T>) -> R<Vec<T>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(each).collect(),
            Some(_) => err(name, "expected an array"),
        }
    }

    fn message<T>(&self, name: &str, each: impl Fn(&Value) -> R<T>) -> R<Option<T>> {
        self.get(name).map(each).transpose()
    }

    fn attributes(&self, name: &str) -> R<Vec<KeyValue>> {
        self.list(name, key_value)
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn as_u64(v: &Value, name: &str) -> R<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map_or_else(|| err(name, "expected an unsigned integer"), Ok),
        Value::String(s) => s
            .parse()
            .or_else(|_| err(name, "expected an unsigned integer")),
        _ => err(name, "expected an unsigned integer"),
    }
}

fn as_f64(v: &Value, name: &str) -> R<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| err(name, "expected a number"), Ok),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => s.parse().or_else(|_| err(name, "expected a number")),
        },
        _ => err(name, "expected a number"),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn any_value(v: &Value) -> R<AnyValue> {
    let o = Obj::of(v, "value")?;
    let value = if let Some(s) = o.get("stringValue") {
        match s {
            Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
            _ => return err("stringValue", "expected a string"),
        }
    } else if o.get("boolValue").is_some() {
        Some(any_value::Value::BoolValue(o.bool("boolValue")?))
    } else if o.get("intValue").is_some() {
        Some(any_value::Value::IntValue(o.i64("intValue")?))
    } else if o.get("doubleValue").is_some() {
        Some(any_value::Value::DoubleValue(o.f64("doubleValue")?))
    } else if let Some(a) = o.get("arrayValue") {
        Some(any_value::Value::ArrayValue(ArrayValue {
            values: Obj::of(a, "arrayValue")?.list("values", any_value)?,
        }))
    } else if let Some(kv) = o.get("kvlistValue") {
        Some(any_value::Value::KvlistValue(KeyValueList {
            values: Obj::of(kv, "kvlistValue")?.list("values", key_value)?,
        }))
    } else if let Some(b) = o.get("bytesValue") {
        match b {
            Value::String(s) => Some(any_value::Value::BytesValue(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .or_else(|_| err("bytesValue", "expected base64"))?,
            )),
            _ => return err("bytesValue", "expected a base64 string"),
        }
    } else {
        None
    };
    Ok(AnyValue { value })
}

fn key_value(v: &Value) -> R<KeyValue> {
    let o = Obj::of(v, "attributes")?;
    Ok(KeyValue {
        key: o.string("key")?,
        value: o.message("value", any_value)?,
        key_strindex: 0,
    })
}

fn resource(v: &Value) -> R<Resource> {
    let o = Obj::of(v, "resource")?;
    Ok(Resource {
        attributes: o.attributes("attributes")?,
        dropped_attributes_count: o.u32("droppedAttributesCount")?,
        entity_refs: Vec::new(),
    })
}

fn scope(v: &Value) -> R<InstrumentationScope> {
    let o = Obj::of(v, "scope")?;
    Ok(InstrumentationScope {
        name: o.string("name")?,
        version: o.string("version")?,
        attributes: o.attributes("attributes")?,
        dropped_attributes_count: o.u32("droppedAttributesCount")?,
    })
}

/// A request body as JSON.
fn parse_body(body: &[u8]) -> R<Value> {
    serde_json::from_slice(body).or_else(|e| err("(body)", e.to_string()))
}

/// An `ExportLogsServiceRequest` in OTLP JSON.
pub fn logs(body: &[u8]) -> R<ExportLogsServiceRequest> {
    let v = parse_body(body)?;
    let resource_logs = Obj::of(&v, "(body)")?.list("resourceLogs", |v| {
        let o = Obj::of(v, "resourceLogs")?;
        Ok(ResourceLogs {
            resource: o.message("resource", resource)?,
            schema_url: o.string("schemaUrl")?,
            scope_logs: o.list("scopeLogs", |v| {
                let o = Obj::of(v, "scopeLogs")?;
                Ok(ScopeLogs {
                    scope: o.message("scope", scope)?,
                    schema_url: o.string("schemaUrl")?,
                    log_records: o.list("logRecords", log_record)?,
                })
            })?,
        })
    })?;
    Ok(ExportLogsServiceRequest { resource_logs })
}

fn log_record(v: &Value) -> R<LogRecord> {
    let o = Obj::of(v, "logRecords")?;
    Ok(LogRecord {
        time_unix_nano: o.u64("timeUnixNano")?,
        observed_time_unix_nano: o.u64("observedTimeUnixNano")?,
        severity_number: o.i32("severityNumber")?,
        severity_text: o.string("severityText")?,
        body: o.message("body", any_value)?,
        attributes: o.attributes("attributes")?,
        dropped_attributes_count: o.u32("droppedAttributesCount")?,
        flags: o.u32("flags")?,
        trace_id: o.hex("traceId")?,
        span_id: o.hex("spanId")?,
        event_name: o.string("eventName")?,
    })
}

/// An `ExportTraceServiceRequest` in OTLP JSON.
pub fn traces(body: &[u8]) -> R<ExportTraceServiceRequest> {
    let v = parse_body(body)?;
    let resource_spans = Obj::of(&v, "(body)")?.list("resourceSpans", |v| {
        let o = Obj::of(v, "resourceSpans")?;
        Ok(ResourceSpans {
            resource: o.message("resource", resource)?,
            schema_url: o.string("schemaUrl")?,
            scope_spans: o.list("scopeSpans", |v| {
                let o = Obj::of(v, "scopeSpans")?;
                Ok(ScopeSpans {
                    scope: o.message("scope", scope)?,
                    schema_url: o.string("schemaUrl")?,
                    spans: o.list("spans", span)?,
                })
            })?,
        })
    })?;
    Ok(ExportTraceServiceRequest { resource_spans })
}

fn span(v: &Value) -> R<Span> {
    let o = Obj::of(v, "spans")?;
    Ok(Span {
        trace_id: o.hex("traceId")?,
        span_id: o.hex("spanId")?,
        trace_state: o.string("traceState")?,
        parent_span_id: o.hex("parentSpanId")?,
        flags: o.u32("flags")?,
        name: o.string("name")?,
        kind: o.i32("kind")?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        end_time_unix_nano: o.u64("endTimeUnixNano")?,
        attributes: o.attributes("attributes")?,
        dropped_attributes_count: o.u32("droppedAttributesCount")?,
        events: o.list("events", |v| {
            let o = Obj::of(v, "events")?;
            Ok(span::Event {
                time_unix_nano: o.u64("timeUnixNano")?,
                name: o.string("name")?,
                attributes: o.attributes("attributes")?,
                dropped_attributes_count: o.u32("droppedAttributesCount")?,
            })
        })?,
        dropped_events_count: o.u32("droppedEventsCount")?,
        links: o.list("links", |v| {
            let o = Obj::of(v, "links")?;
            Ok(span::Link {
                trace_id: o.hex("traceId")?,
                span_id: o.hex("spanId")?,
                trace_state: o.string("traceState")?,
                attributes: o.attributes("attributes")?,
                dropped_attributes_count: o.u32("droppedAttributesCount")?,
                flags: o.u32("flags")?,
            })
        })?,
        dropped_links_count: o.u32("droppedLinksCount")?,
        status: o.message("status", |v| {
            let o = Obj::of(v, "status")?;
            Ok(Status {
                message: o.string("message")?,
                code: o.i32("code")?,
            })
        })?,
    })
}

/// An `ExportMetricsServiceRequest` in OTLP JSON.
pub fn metrics(body: &[u8]) -> R<ExportMetricsServiceRequest> {
    let v = parse_body(body)?;
    let resource_metrics = Obj::of(&v, "(body)")?.list("resourceMetrics", |v| {
        let o = Obj::of(v, "resourceMetrics")?;
        Ok(ResourceMetrics {
            resource: o.message("resource", resource)?,
            schema_url: o.string("schemaUrl")?,
            scope_metrics: o.list("scopeMetrics", |v| {
                let o = Obj::of(v, "scopeMetrics")?;
                Ok(ScopeMetrics {
                    scope: o.message("scope", scope)?,
                    schema_url: o.string("schemaUrl")?,
                    metrics: o.list("metrics", metric)?,
                })
            })?,
        })
    })?;
    Ok(ExportMetricsServiceRequest { resource_metrics })
}

fn metric(v: &Value) -> R<Metric> {
    let o = Obj::of(v, "metrics")?;
    let data = if let Some(g) = o.get("gauge") {
        let g = Obj::of(g, "gauge")?;
        Some(metric::Data::Gauge(Gauge {
            data_points: g.list("dataPoints", number_point)?,
        }))
    } else if let Some(s) = o.get("sum") {
        let s = Obj::of(s, "sum")?;
        Some(metric::Data::Sum(Sum {
            data_points: s.list("dataPoints", number_point)?,
            aggregation_temporality: s.i32("aggregationTemporality")?,
            is_monotonic: s.bool("isMonotonic")?,
        }))
    } else if let Some(h) = o.get("histogram") {
        let h = Obj::of(h, "histogram")?;
        Some(metric::Data::Histogram(Histogram {
            data_points: h.list("dataPoints", histogram_point)?,
            aggregation_temporality: h.i32("aggregationTemporality")?,
        }))
    } else if let Some(h) = o.get("exponentialHistogram") {
        let h = Obj::of(h, "exponentialHistogram")?;
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: h.list("dataPoints", exponential_point)?,
            aggregation_temporality: h.i32("aggregationTemporality")?,
        }))
    } else if let Some(s) = o.get("summary") {
        let s = Obj::of(s, "summary")?;
        Some(metric::Data::Summary(Summary {
            data_points: s.list("dataPoints", summary_point)?,
        }))
    } else {
        None
    };
    Ok(Metric {
        name: o.string("name")?,
        description: o.string("description")?,
        unit: o.string("unit")?,
        metadata: o.attributes("metadata")?,
        data,
    })
}

fn exemplars(o: &Obj<'_>) -> R<Vec<Exemplar>> {
    o.list("exemplars", |v| {
        let e = Obj::of(v, "exemplars")?;
        let value = if e.get("asDouble").is_some() {
            Some(exemplar::Value::AsDouble(e.f64("asDouble")?))
        } else if e.get("asInt").is_some() {
            Some(exemplar::Value::AsInt(e.i64("asInt")?))
        } else {
            None
        };
        Ok(Exemplar {
            filtered_attributes: e.attributes("filteredAttributes")?,
            time_unix_nano: e.u64("timeUnixNano")?,
            span_id: e.hex("spanId")?,
            trace_id: e.hex("traceId")?,
            value,
        })
    })
}

fn number_point(v: &Value) -> R<NumberDataPoint> {
    let o = Obj::of(v, "dataPoints")?;
    let value = if o.get("asDouble").is_some() {
        Some(number_data_point::Value::AsDouble(o.f64("asDouble")?))
    } else if o.get("asInt").is_some() {
        Some(number_data_point::Value::AsInt(o.i64("asInt")?))
    } else {
        None
    };
    Ok(NumberDataPoint {
        attributes: o.attributes("attributes")?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        exemplars: exemplars(&o)?,
        flags: o.u32("flags")?,
        value,
    })
}

fn u64s(o: &Obj<'_>, name: &str) -> R<Vec<u64>> {
    o.list(name, |v| as_u64(v, name))
}

fn histogram_point(v: &Value) -> R<HistogramDataPoint> {
    let o = Obj::of(v, "dataPoints")?;
    Ok(HistogramDataPoint {
        attributes: o.attributes("attributes")?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        count: o.u64("count")?,
        sum: o.opt_f64("sum")?,
        bucket_counts: u64s(&o, "bucketCounts")?,
        explicit_bounds: o.list("explicitBounds", |v| as_f64(v, "explicitBounds"))?,
        exemplars: exemplars(&o)?,
        flags: o.u32("flags")?,
        min: o.opt_f64("min")?,
        max: o.opt_f64("max")?,
    })
}

fn buckets(v: &Value) -> R<Buckets> {
    let o = Obj::of(v, "buckets")?;
    Ok(Buckets {
        offset: o.i32("offset")?,
        bucket_counts: u64s(&o, "bucketCounts")?,
    })
}

fn exponential_point(v: &Value) -> R<ExponentialHistogramDataPoint> {
    let o = Obj::of(v, "dataPoints")?;
    Ok(ExponentialHistogramDataPoint {
        attributes: o.attributes("attributes")?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        count: o.u64("count")?,
        sum: o.opt_f64("sum")?,
        scale: o.i32("scale")?,
        zero_count: o.u64("zeroCount")?,
        positive: o.message("positive", buckets)?,
        negative: o.message("negative", buckets)?,
        flags: o.u32("flags")?,
        exemplars: exemplars(&o)?,
        min: o.opt_f64("min")?,
        max: o.opt_f64("max")?,
        zero_threshold: o.f64("zeroThreshold")?,
    })
}

fn summary_point(v: &Value) -> R<SummaryDataPoint> {
    let o = Obj::of(v, "dataPoints")?;
    Ok(SummaryDataPoint {
        attributes: o.attributes("attributes")?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        count: o.u64("count")?,
        sum: o.f64("sum")?,
        quantile_values: o.list("quantileValues", |v| {
            let q = Obj::of(v, "quantileValues")?;
            Ok(ValueAtQuantile {
                quantile: q.f64("quantile")?,
                value: q.f64("value")?,
            })
        })?,
        flags: o.u32("flags")?,
    })
}

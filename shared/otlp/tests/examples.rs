//! The OTLP JSON examples of the opentelemetry-proto repository (events/otlp/) as rows, and the
//! same requests in protobuf giving the same rows.

use prost::Message;
use serde_json::{json, Value};
use trickle_otlp::{decode, rows::Row, Encoding, Request, Signal};

const LIMIT: usize = 1 << 20;

fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../events/otlp/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn values(rows: &[Row]) -> Vec<Value> {
    rows.iter()
        .map(|r| serde_json::from_slice(&r.json).unwrap())
        .collect()
}

/// The same request encoded as protobuf decodes to the same rows.
fn protobuf_agrees(signal: Signal, request: &Request, rows: &[Row]) {
    let bytes = match request {
        Request::Logs(r) => r.encode_to_vec(),
        Request::Traces(r) => r.encode_to_vec(),
        Request::Metrics(r) => r.encode_to_vec(),
    };
    let again = decode(signal, Encoding::Protobuf, &bytes).unwrap();
    assert_eq!(&again, request);
    assert_eq!(again.rows(7, LIMIT).unwrap(), rows);
}

#[test]
fn the_logs_example_is_one_flat_row_per_log_record() {
    let request = decode(Signal::Logs, Encoding::Json, &example("logs.json")).unwrap();
    let rows = request.rows(7, LIMIT).unwrap();
    let v = values(&rows);
    assert_eq!(v.len(), 1);
    let r = &v[0];
    assert_eq!(r["signal"], "logs");
    assert_eq!(r["timestamp"], "2018-12-13T14:51:00.300000000Z");
    assert_eq!(r["severity_number"], 10);
    assert_eq!(r["severity_text"], "Information");
    assert_eq!(r["body"], "Example log record");
    assert_eq!(r["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(r["span_id"], "eee19b7ec3c1b174");
    assert_eq!(r["service_name"], "my.service");
    assert_eq!(r["scope_name"], "my.library");
    assert_eq!(
        r["scope_attributes"],
        json!({"my.scope.attribute": "some scope attribute"})
    );
    // Attributes are strings; other values their compact JSON text.
    let attrs = r["attributes"].as_object().unwrap();
    assert_eq!(attrs["string.attribute"], "some string");
    assert_eq!(attrs["boolean.attribute"], "true");
    assert!(attrs.values().all(Value::is_string), "{attrs:?}");
    assert_eq!(
        rows[0].trace_id.as_deref(),
        Some("5b8efff798038103d269b633813fc60c")
    );
    protobuf_agrees(Signal::Logs, &request, &rows);
}

#[test]
fn the_trace_example_is_one_row_per_span() {
    let request = decode(Signal::Traces, Encoding::Json, &example("trace.json")).unwrap();
    let rows = request.rows(7, LIMIT).unwrap();
    let v = values(&rows);
    assert!(!v.is_empty());
    for r in &v {
        assert_eq!(r["signal"], "traces");
        assert!(r["trace_id"].is_string() && r["span_id"].is_string(), "{r}");
        assert!(r["duration_ns"].is_u64());
        assert!([
            "Unspecified",
            "Internal",
            "Server",
            "Client",
            "Producer",
            "Consumer"
        ]
        .contains(&r["kind"].as_str().unwrap()));
        assert!(r["events"].is_array() && r["links"].is_array());
    }
    assert!(rows.iter().all(|r| r.trace_id.is_some()));
    protobuf_agrees(Signal::Traces, &request, &rows);
}

#[test]
fn the_metrics_example_is_one_row_per_data_point() {
    let request = decode(Signal::Metrics, Encoding::Json, &example("metrics.json")).unwrap();
    let rows = request.rows(7, LIMIT).unwrap();
    let v = values(&rows);
    let types: std::collections::BTreeSet<&str> = v
        .iter()
        .map(|r| r["metric_type"].as_str().unwrap())
        .collect();
    assert!(types.len() >= 3, "{types:?}");
    for r in &v {
        assert_eq!(r["signal"], "metrics");
        match r["metric_type"].as_str().unwrap() {
            "sum" => {
                assert!(r["value"].is_number());
                assert!(["Delta", "Cumulative"]
                    .contains(&r["aggregation_temporality"].as_str().unwrap()));
            }
            "gauge" => assert!(r["value"].is_number()),
            "histogram" => {
                assert!(r["bucket_counts"].is_array() && r["explicit_bounds"].is_array())
            }
            "exponential_histogram" => assert!(r["positive_bucket_counts"].is_array()),
            "summary" => assert!(r["quantiles"].is_array()),
            other => panic!("{other}"),
        }
    }
    assert!(rows.iter().all(|r| r.trace_id.is_none()));
    protobuf_agrees(Signal::Metrics, &request, &rows);
}

#[test]
fn rows_stop_at_their_bound() {
    let request = decode(Signal::Logs, Encoding::Json, &example("logs.json")).unwrap();
    let err = request.rows(7, 100).unwrap_err();
    assert_eq!(err.limit, 100);
}

#[test]
fn bad_json_names_the_field() {
    let err = decode(
        Signal::Logs,
        Encoding::Json,
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("traceId"), "{err}");
    assert!(decode(Signal::Traces, Encoding::Protobuf, b"\xff\xff\xff").is_err());
}

#[test]
fn a_log_without_times_takes_when_it_was_received_and_a_non_string_body_its_json() {
    let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"n","value":{"intValue":"9007199254740993"}}]}}}]}]}]}"#;
    let rows = decode(Signal::Logs, Encoding::Json, body)
        .unwrap()
        .rows(1_700_000_000_000_000_001, LIMIT)
        .unwrap();
    let v = values(&rows);
    assert_eq!(v[0]["timestamp"], "2023-11-14T22:13:20.000000001Z");
    // 2^53 + 1, exact: 64-bit integers stay exact JSON numbers.
    assert_eq!(v[0]["body"], r#"{"n":9007199254740993}"#);
    assert!(v[0].get("trace_id").is_none());
}

/// The ready SCHEMAs (schemas/otel_*.schema) hold every field of every row: nothing for an
/// extra column, and Parquet types them (timestamps as timestamps, attributes as maps).
#[test]
fn the_ready_schemas_type_every_field_of_every_row() {
    use trickle_columnar::{RecordEncoder, TableSchema};
    for (signal, file, schema) in [
        (Signal::Logs, "logs.json", "otel_logs.schema"),
        (Signal::Traces, "trace.json", "otel_traces.schema"),
        (Signal::Metrics, "metrics.json", "otel_metrics.schema"),
    ] {
        let text = std::fs::read_to_string(format!(
            "{}/../../schemas/{schema}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let schema = TableSchema::parse(text.trim()).unwrap_or_else(|e| panic!("{schema}: {e}"));
        let rows = decode(signal, Encoding::Json, &example(file))
            .unwrap()
            .rows(7, LIMIT)
            .unwrap();
        // No extra column: a field the schema lacked would be dropped and counted.
        let mut encoder = RecordEncoder::new(&schema, None);
        for r in &rows {
            encoder
                .push(&r.json)
                .unwrap_or_else(|e| panic!("{file}: {e:?}: {}", String::from_utf8_lossy(&r.json)));
        }
        assert_eq!(encoder.fields_dropped(), 0, "{file}");
        let batch = encoder.finish();
        assert_eq!(batch.num_rows(), rows.len());
    }
}

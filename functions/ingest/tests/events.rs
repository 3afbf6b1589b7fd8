//! Handler tests: the checked-in function URL events (payload format 2.0) through the whole
//! adapter, with an in-memory stream.

use ingest::config::{Config, StreamTarget};
use ingest::event::UrlRequest;
use ingest::sink::memory::MemorySink;
use ingest::Ingest;
use serde_json::Value;
use std::time::Duration;

async fn invoke(file: &str) -> (u16, Value, MemorySink) {
    let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let req: UrlRequest = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{file} is not a function URL event: {e}"));
    let ingest = Ingest::new(
        Config {
            partition_key_pointer: Some("/user".into()),
            retry_budget: Duration::from_millis(50),
            ..Config::new(StreamTarget::Name("test".into()))
        },
        MemorySink::new(),
    );
    let context = lambda_runtime::Context::default();
    let resp = ingest
        .handle(lambda_runtime::LambdaEvent::new(req, context))
        .await
        .unwrap();
    // What the runtime sends back: the function URL response's JSON.
    let sent: Value = serde_json::to_value(&resp).unwrap();
    assert_eq!(sent["headers"]["content-type"], "application/json");
    assert_eq!(sent["isBase64Encoded"], false);
    let status = sent["statusCode"].as_u64().unwrap() as u16;
    // The shape `cargo lambda watch` (and lambda_http) read a function URL response as.
    let apigw: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse =
        serde_json::from_value(sent.clone()).expect("an API Gateway v2 response");
    assert_eq!(apigw.status_code, i64::from(status));
    let body = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    (status, body, take_sink(ingest))
}

fn take_sink(ingest: Ingest<MemorySink>) -> MemorySink {
    ingest.into_sink()
}

#[tokio::test]
async fn helloworld_with_header_key_is_one_put_record() {
    let (status, body, sink) = invoke("ingest-post-text-helloworld.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["SequenceNumber"], "1");
    let written = sink.written.lock().unwrap();
    assert_eq!(&written[0].data[..], b"HelloWorld");
    assert_eq!(written[0].partition_key, "hoge-key");
}

#[tokio::test]
async fn byeworld_takes_the_key_from_the_query() {
    let (status, _, sink) = invoke("ingest-post-text-byeworld-query-key.json").await;
    assert_eq!(status, 200);
    assert_eq!(sink.written.lock().unwrap()[0].partition_key, "hoge-key");
}

#[tokio::test]
async fn json_array_records_are_keyed_by_the_pointer() {
    let (status, body, sink) = invoke("ingest-post-json-array.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["FailedRecordCount"], 0);
    assert_eq!(body["Records"].as_array().unwrap().len(), 3);
    let keys: Vec<String> = sink
        .written
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.partition_key.to_string())
        .collect();
    assert_eq!(keys, ["u-1", "u-2", "u-1"]);
    assert_eq!(
        sink.written_data()[0],
        br#"{"event":"click","user":"u-1","n":1}"#
    );
}

#[tokio::test]
async fn ndjson_and_gzip_ndjson_split_into_lines() {
    let (status, _, sink) = invoke("ingest-post-ndjson.json").await;
    assert_eq!(status, 200);
    assert_eq!(sink.written_data().len(), 2);
    let (status, _, sink) = invoke("ingest-post-gzip-ndjson.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        sink.written_data(),
        vec![b"{\"a\":1}".to_vec(), b"{\"a\":2}".to_vec()]
    );
}

#[tokio::test]
async fn binary_bodies_arrive_base64_decoded() {
    let (status, _, sink) = invoke("ingest-post-binary.json").await;
    assert_eq!(status, 200);
    assert_eq!(sink.written_data(), vec![(0u8..=255).collect::<Vec<u8>>()]);
}

#[tokio::test]
async fn bad_requests_get_4xx_and_write_nothing() {
    for (file, want) in [
        ("ingest-post-invalid-json.json", 400),
        ("ingest-post-empty.json", 400),
        ("ingest-get-not-allowed.json", 405),
    ] {
        let (status, body, sink) = invoke(file).await;
        assert_eq!(status, want, "{file}");
        assert!(body["error"].is_string(), "{file}: {body}");
        assert!(sink.calls.lock().unwrap().is_empty(), "{file}");
    }
}

/// A compressed body arrives base64-encoded (`isBase64Encoded: true`), as a function URL
/// hands the function any binary body: Fluent Bit's msgpack, zstd-compressed.
#[tokio::test]
async fn fluent_bit_msgpack_in_zstd_is_one_json_record_per_event() {
    let (status, body, sink) = invoke("ingest-post-msgpack-zstd.json").await;
    assert_eq!(status, 200, "{body}");
    let written = sink.written.lock().unwrap();
    let records: Vec<&[u8]> = written.iter().map(|e| &e.data[..]).collect();
    assert_eq!(
        records,
        [
            &br#"{"user":"u0","log":"line 0","date":1700000000.250000}"#[..],
            br#"{"user":"u1","log":"line 1","date":1700000001.250000}"#,
            br#"{"user":"u2","log":"line 2","date":1700000002.250000}"#,
        ]
    );
    // STREAM_PARTITION_KEY_POINTER (/user) reads the converted JSON.
    assert_eq!(written[1].partition_key, "u1");
}

/// An uncompressed JSON body arrives as text: several JSON values in it are one record each.
#[tokio::test]
async fn a_json_stream_as_text_is_one_record_per_value() {
    let (status, body, sink) = invoke("ingest-post-json-stream.json").await;
    assert_eq!(status, 200, "{body}");
    let written = sink.written.lock().unwrap();
    let keys: Vec<&str> = written.iter().map(|e| e.partition_key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(&written[2].data[..], br#"{"user":"c","n":3}"#);
}

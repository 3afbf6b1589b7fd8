//! The whole Firehose transform, `FirehoseTransform::process`, on any batch of records (data
//! as base64 of any bytes, of gzip of any bytes, or not base64 at all; any ids, timestamps,
//! Kinesis metadata, event sources), with the options off or on, a small response budget (so
//! records overflow, are split and re-ingested) and the in-memory re-ingest sink.
//!
//! Invariant: the serialized response always passes `contract::check_response` (every id
//! once, in order; only Ok / Dropped / ProcessingFailed; base64; newline framing; within the
//! budget) and is no larger than the size the handler accounted for.
#![no_main]

use base64::Engine;
use firehose_transform::config::{Config, DropFilter, Enrichment, PartitionKeySpec};
use firehose_transform::contract::check_response;
use firehose_transform::event::{
    FirehoseEvent, FirehoseRecord, FirehoseResponse, KinesisRecordMetadata, ResponseRecord,
    TransformResult,
};
use firehose_transform::sink::memory::MemoryReingestSink;
use firehose_transform::FirehoseTransform;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

/// At most this many records per batch, to keep runs fast.
const MAX_RECORDS: usize = 32;

#[derive(Debug, Arbitrary)]
enum Data<'a> {
    Missing,
    Base64Of(&'a [u8]),
    Base64OfGzipOf(&'a [u8]),
    /// Possibly not base64.
    Text(&'a str),
}

#[derive(Debug, Arbitrary)]
struct Rec<'a> {
    id: &'a str,
    data: Data<'a>,
    arrival_ms: Option<i64>,
    kinesis: Option<(Option<&'a str>, Option<&'a str>)>,
}

#[derive(Debug, Arbitrary)]
enum Source<'a> {
    None,
    Kinesis,
    DeliveryStream,
    Arns(Option<&'a str>, Option<&'a str>),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    options: bool,
    reingest_enabled: bool,
    /// 0: the production budget; otherwise a small one (raised to the response's floor).
    small_budget: u16,
    /// 0: the production bound; otherwise a small one.
    small_gunzip_bound: u16,
    source: Source<'a>,
    records: Vec<Rec<'a>>,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory write");
    e.finish().expect("in-memory write")
}

fn config(input: &Input<'_>) -> Config {
    let mut c = Config {
        reingest_enabled: input.reingest_enabled,
        ..Config::default()
    };
    if input.options {
        c.enrichment = Some(Enrichment {
            arrival_time_field: "at".into(),
            partition_key_field: "pk".into(),
            sequence_number_field: "seq".into(),
        });
        c.partition_keys = vec![PartitionKeySpec {
            name: "customer".into(),
            pointer: "/customer/id".into(),
        }];
        c.drop_filter = Some(DropFilter {
            pointer: "/level".into(),
            value: "debug".into(),
        });
    }
    if input.small_gunzip_bound != 0 {
        c.max_decompressed_bytes = usize::from(input.small_gunzip_bound);
    }
    c
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    // Paused time: re-ingestion back-offs complete at once.
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|input: Input<'_>| {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let records: Vec<FirehoseRecord> = input
        .records
        .iter()
        .take(MAX_RECORDS)
        .map(|r| FirehoseRecord {
            record_id: r.id.to_owned(),
            approximate_arrival_timestamp: r.arrival_ms,
            data: match r.data {
                Data::Missing => None,
                Data::Base64Of(b) => Some(b64.encode(b)),
                Data::Base64OfGzipOf(b) => Some(b64.encode(gzip(b))),
                Data::Text(t) => Some(t.to_owned()),
            },
            kinesis_record_metadata: r.kinesis.map(|(pk, seq)| KinesisRecordMetadata {
                shard_id: Some("shardId-000000000000".into()),
                partition_key: pk.map(str::to_owned),
                sequence_number: seq.map(str::to_owned),
                subsequence_number: None,
                approximate_arrival_timestamp: None,
            }),
        })
        .collect();
    let (kinesis, delivery) = match &input.source {
        Source::None => (None, None),
        Source::Kinesis => (
            Some("arn:aws:kinesis:us-east-1:123456789012:stream/s".to_owned()),
            None,
        ),
        Source::DeliveryStream => (
            None,
            Some("arn:aws:firehose:us-east-1:123456789012:deliverystream/d".to_owned()),
        ),
        Source::Arns(k, d) => (k.map(str::to_owned), d.map(str::to_owned)),
    };
    let event = FirehoseEvent {
        invocation_id: Some("fuzz".into()),
        delivery_stream_arn: delivery,
        source_kinesis_stream_arn: kinesis,
        region: Some("us-east-1".into()),
        records,
    };

    let mut config = config(&input);
    if input.small_budget != 0 {
        // The smallest response the event allows: every record ProcessingFailed.
        let floor = serde_json::to_vec(&FirehoseResponse {
            records: event
                .records
                .iter()
                .map(|r| ResponseRecord {
                    record_id: r.record_id.clone(),
                    result: TransformResult::ProcessingFailed,
                    data: String::new(),
                    metadata: None,
                })
                .collect(),
        })
        .expect("serializable")
        .len();
        config.response_budget_bytes = usize::from(input.small_budget).max(floor);
    }
    let budget = config.response_budget_bytes;

    let transform = FirehoseTransform::new(config, MemoryReingestSink::new());
    let (response, summary) = runtime().block_on(transform.process(&event));
    let bytes = serde_json::to_vec(&response).expect("the response serializes");
    if let Err(violations) = check_response(&event, &bytes, budget) {
        panic!("contract violated: {violations:#?}");
    }
    assert!(
        bytes.len() <= summary.response_bytes,
        "response of {} bytes, accounted {}",
        bytes.len(),
        summary.response_bytes
    );
    assert_eq!(
        summary.ok + summary.dropped + summary.failed,
        event.records.len(),
        "summary counts"
    );
});

//! The adapter between Firehose's event and the pure parts: transform every record, fit the
//! answers into the response budget, re-ingest what does not fit, answer.
//!
//! The invocation never fails because of a record: a record that cannot be transformed is
//! `ProcessingFailed` and Firehose writes the original to the error prefix. Only an event
//! that cannot be read at all (the runtime's deserialization) fails the invocation, and
//! Firehose then retries the whole batch.

use crate::budget::{place, Candidate, Placement};
use crate::config::Config;
use crate::decode::split_cloudwatch_logs;
use crate::error::RecordError;
use crate::event::{
    FirehoseEvent, FirehoseResponse, ResponseMetadata, ResponseRecord, TransformResult,
};
use crate::metrics::Summary;
use crate::reingest::reingest;
use crate::sink::{ReingestEntry, ReingestSink, ReingestTarget};
use crate::transform::{original_bytes, transform_record, Outcome};
use base64::Engine;
use lambda_runtime::LambdaEvent;
use trickle_shared::reingest::{
    explicit_hash_key, original_partition_key, reingested_partition_key,
};

/// The transform function: configuration plus where overflow records go back to.
pub struct FirehoseTransform<S> {
    config: Config,
    sink: S,
}

/// Where one record stands while the response is being built.
enum Slot {
    Ok {
        data: Vec<u8>,
        metadata: Option<ResponseMetadata>,
    },
    /// An `Ok` record whose data was not kept, to bound memory: it cannot be in the response
    /// (it is larger than any response, or the data already held fills the budget), so only
    /// its size is needed to place it; it is re-ingested or failed like any overflow.
    Discarded {
        bytes: usize,
        metadata: Option<ResponseMetadata>,
    },
    Dropped,
    Failed(RecordError),
}

impl<S: ReingestSink> FirehoseTransform<S> {
    pub fn new(config: Config, sink: S) -> Self {
        Self { config, sink }
    }

    /// The Lambda entry point.
    pub async fn handle(
        &self,
        event: LambdaEvent<FirehoseEvent>,
    ) -> Result<FirehoseResponse, lambda_runtime::Error> {
        let (response, summary) = self.process(&event.payload).await;
        tracing::info!(
            invocation_id = event.payload.invocation_id.as_deref().unwrap_or(""),
            records = summary.records,
            ok = summary.ok,
            dropped = summary.dropped,
            processing_failed = summary.failed,
            reingested = summary.reingested,
            reingest_failed = summary.reingest_failed,
            failures = ?summary.failures,
            response_bytes = summary.response_bytes,
            "firehose-transform summary"
        );
        crate::metrics::emit_emf(&summary);
        Ok(response)
    }

    /// Transforms an event into its response; never fails.
    pub async fn process(&self, event: &FirehoseEvent) -> (FirehoseResponse, Summary) {
        // Memory stays bounded by the budget: the data of `Ok` records is kept only while the
        // kept data fits the response budget; beyond that a record could not be placed `Ok`
        // anyway (first fit in input order), so only its size is kept.
        let budget = self.config.response_budget_bytes;
        let mut held = 0usize;
        let mut slots: Vec<Slot> = event
            .records
            .iter()
            .map(|r| match transform_record(r, &self.config) {
                Outcome::Ok(t) => {
                    let metadata = t
                        .partition_keys
                        .map(|partition_keys| ResponseMetadata { partition_keys });
                    if held + t.data.len() <= budget {
                        held += t.data.len();
                        Slot::Ok {
                            data: t.data,
                            metadata,
                        }
                    } else {
                        Slot::Discarded {
                            bytes: t.data.len(),
                            metadata,
                        }
                    }
                }
                Outcome::Dropped(reason) => {
                    tracing::debug!(record_id = %r.record_id, ?reason, "record dropped");
                    Slot::Dropped
                }
                // Output past what any response could hold: placed as too large (a
                // CloudWatch Logs record is then split and re-ingested, as the blueprint does).
                Outcome::Failed(RecordError::TooLargeForAnyResponse { .. }) => Slot::Discarded {
                    bytes: budget + 1,
                    metadata: None,
                },
                Outcome::Failed(e) => Slot::Failed(e),
            })
            .collect();

        let candidates: Vec<Candidate<'_>> = event
            .records
            .iter()
            .zip(&slots)
            .map(|(r, slot)| match slot {
                Slot::Ok { data, metadata } => Candidate::Ok {
                    record_id: &r.record_id,
                    data_bytes: data.len(),
                    metadata: metadata.as_ref(),
                },
                Slot::Discarded { bytes, metadata } => Candidate::Ok {
                    record_id: &r.record_id,
                    data_bytes: *bytes,
                    metadata: metadata.as_ref(),
                },
                Slot::Dropped => Candidate::Final {
                    record_id: &r.record_id,
                    result: TransformResult::Dropped,
                },
                Slot::Failed(_) => Candidate::Final {
                    record_id: &r.record_id,
                    result: TransformResult::ProcessingFailed,
                },
            })
            .collect();
        let (placements, response_bytes) = place(&candidates, self.config.response_budget_bytes);
        drop(candidates);
        if response_bytes > self.config.response_budget_bytes {
            // Only if the record ids alone exceed the budget, which Firehose's own input
            // limit rules out; say so loudly rather than hide it.
            tracing::error!(
                response_bytes,
                budget = self.config.response_budget_bytes,
                "even the smallest response exceeds the budget"
            );
        }

        let mut overflow = Vec::new();
        for (i, placement) in placements.iter().enumerate() {
            match *placement {
                // Placed, but its data was not kept: send it round again instead.
                Placement::Ok if matches!(slots[i], Slot::Discarded { .. }) => {
                    overflow.push(Reingest::Whole(i))
                }
                Placement::Ok | Placement::Final(_) => {}
                Placement::Overflow => overflow.push(Reingest::Whole(i)),
                Placement::TooLarge { entry_bytes } => {
                    // As the blueprint does: a CloudWatch Logs record with several events
                    // goes back as two records of half the events each (and may be split
                    // again next time); anything else cannot ever fit.
                    let halves = original_bytes(&event.records[i]).ok().and_then(|b| {
                        split_cloudwatch_logs(&b, self.config.max_decompressed_bytes)
                    });
                    match halves {
                        Some(halves) if self.config.reingest_enabled => {
                            overflow.push(Reingest::Split(i, halves))
                        }
                        _ => {
                            slots[i] = Slot::Failed(RecordError::TooLargeForAnyResponse {
                                bytes: entry_bytes,
                                budget: self.config.response_budget_bytes,
                            })
                        }
                    }
                }
            }
        }
        let mut summary = Summary {
            records: event.records.len(),
            response_bytes,
            ..Summary::default()
        };
        if !overflow.is_empty() {
            self.reingest_overflow(event, overflow, &mut slots, &mut summary)
                .await;
        }

        let engine = &base64::engine::general_purpose::STANDARD;
        let records = event
            .records
            .iter()
            .zip(slots)
            .map(|(r, slot)| {
                let (result, data, metadata) = match slot {
                    Slot::Ok { data, metadata } => {
                        summary.ok += 1;
                        (TransformResult::Ok, engine.encode(data), metadata)
                    }
                    Slot::Dropped => {
                        summary.dropped += 1;
                        (TransformResult::Dropped, String::new(), None)
                    }
                    // Every discarded record was placed as overflow or too large, and those
                    // paths replace the slot; kept as a failure, never lost, if one did not.
                    Slot::Discarded { .. } => {
                        summary.failed += 1;
                        tracing::error!(record_id = %r.record_id, "a record without data reached the response");
                        (TransformResult::ProcessingFailed, String::new(), None)
                    }
                    Slot::Failed(e) => {
                        summary.failed += 1;
                        *summary.failures.entry(e.kind()).or_default() += 1;
                        tracing::debug!(record_id = %r.record_id, kind = e.kind(), error = %e, "record failed");
                        (TransformResult::ProcessingFailed, String::new(), None)
                    }
                };
                ResponseRecord {
                    record_id: r.record_id.clone(),
                    result,
                    data,
                    metadata,
                }
            })
            .collect();
        (FirehoseResponse { records }, summary)
    }

    /// Re-ingests the overflow records; each becomes `Dropped` once the source has it back,
    /// `ProcessingFailed` otherwise.
    async fn reingest_overflow(
        &self,
        event: &FirehoseEvent,
        overflow: Vec<Reingest>,
        slots: &mut [Slot],
        summary: &mut Summary,
    ) {
        if !self.config.reingest_enabled {
            for r in &overflow {
                slots[r.index()] = Slot::Failed(RecordError::ReingestDisabled);
            }
            return;
        }
        let Some(target) = ReingestTarget::from_event(event) else {
            tracing::warn!(
                records = overflow.len(),
                "records overflow the response but the event names no source to re-ingest into"
            );
            for r in &overflow {
                slots[r.index()] = Slot::Failed(RecordError::ReingestFailed(
                    "the event has no usable sourceKinesisStreamArn or deliveryStreamArn".into(),
                ));
            }
            return;
        };
        let is_kinesis = matches!(target, ReingestTarget::KinesisStream { .. });
        // Each record's entries are a range of `entries`: one, or two for a split record.
        let mut groups = Vec::with_capacity(overflow.len());
        let mut entries = Vec::with_capacity(overflow.len());
        for r in overflow {
            let i = r.index();
            let record = &event.records[i];
            let original_key = record
                .kinesis_record_metadata
                .as_ref()
                .and_then(|m| m.partition_key.as_deref());
            if is_kinesis && original_key.is_none() {
                slots[i] = Slot::Failed(RecordError::ReingestFailed(
                    "no kinesisRecordMetadata.partitionKey to re-ingest with".into(),
                ));
                continue;
            }
            let datas = match r {
                Reingest::Whole(_) => match original_bytes(record) {
                    Ok(data) => vec![data],
                    Err(e) => {
                        slots[i] = Slot::Failed(e);
                        continue;
                    }
                },
                Reingest::Split(_, halves) => halves.into(),
            };
            // A copy put back into the stream is marked, so that batch-to-s3, which stored
            // the original already, skips it; it goes to the shard of the original key.
            let (partition_key, hash_key) = match original_key {
                Some(key) if is_kinesis => (
                    Some(reingested_partition_key(key)),
                    Some(explicit_hash_key(original_partition_key(key))),
                ),
                _ => (None, None),
            };
            let start = entries.len();
            entries.extend(datas.into_iter().map(|data| ReingestEntry {
                data,
                partition_key: partition_key.clone(),
                explicit_hash_key: hash_key.clone(),
            }));
            groups.push((i, start..entries.len()));
        }
        let results = reingest(
            &self.sink,
            &target,
            &entries,
            self.config.reingest_max_attempts,
        )
        .await;
        for (i, range) in groups {
            // Dropped only when the source has all of it back. (If one half of a split record
            // is written and the other is not, the record goes to the error output whole and
            // the written half is also delivered: at least once, never lost.)
            slots[i] = match results[range].iter().find_map(|r| r.as_ref().err()) {
                None => {
                    summary.reingested += 1;
                    Slot::Dropped
                }
                Some(code) => {
                    summary.reingest_failed += 1;
                    Slot::Failed(RecordError::ReingestFailed(code.clone()))
                }
            };
        }
    }
}

/// A record to put back into the source.
enum Reingest {
    /// Its original bytes.
    Whole(usize),
    /// Two halves of a CloudWatch Logs record too large for any response.
    Split(usize, [Vec<u8>; 2]),
}

impl Reingest {
    fn index(&self) -> usize {
        match self {
            Self::Whole(i) | Self::Split(i, _) => *i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DropFilter, Enrichment, PartitionKeySpec};
    use crate::contract::check_response;
    use crate::event::FirehoseRecord;
    use crate::sink::memory::{MemoryReingestSink, Script};
    use proptest::prelude::*;
    use trickle_shared::limits::FIREHOSE_RESPONSE_BUDGET_BYTES;
    use TransformResult::{Dropped, Ok as OkR, ProcessingFailed as Failed};

    /// Every fixture this function reads.
    const FIXTURES: [&str; 11] = [
        "firehose-direct-put-sam.json",
        "firehose-streams-as-source-sam.json",
        "cloudwatch-logs-processor-sam.json",
        "cloudwatch-logs-control-and-data.json",
        "firehose-kinesis-json.json",
        "firehose-direct-put-text.json",
        "firehose-binary.json",
        "firehose-gzip.json",
        "firehose-empty-record.json",
        "firehose-overflow.json",
        "firehose-kinesis-json.json",
    ];

    fn fixture(name: &str) -> FirehoseEvent {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn all_options() -> Config {
        Config {
            enrichment: Some(Enrichment {
                arrival_time_field: "at".into(),
                partition_key_field: "pk".into(),
                sequence_number_field: "seq".into(),
            }),
            partition_keys: vec![PartitionKeySpec {
                name: "customer".into(),
                pointer: "/customer/id".into(),
            }],
            drop_filter: Some(DropFilter {
                pointer: "/level".into(),
                value: "debug".into(),
            }),
            ..Config::default()
        }
    }

    /// Runs the handler and checks the serialized response against the contract.
    async fn run(
        config: Config,
        event: &FirehoseEvent,
    ) -> (FirehoseResponse, Summary, MemoryReingestSink) {
        let t = FirehoseTransform::new(config, MemoryReingestSink::new());
        let (response, summary) = t.process(event).await;
        let bytes = serde_json::to_vec(&response).unwrap();
        if let Err(v) = check_response(event, &bytes, t.config.response_budget_bytes) {
            panic!("contract violated: {v:#?}");
        }
        assert!(
            bytes.len() <= summary.response_bytes,
            "size tracking under-counted"
        );
        (response, summary, t.sink)
    }

    #[tokio::test]
    async fn holds_no_more_data_than_the_budget_and_loses_nothing() {
        // Ten records of 1.1 MB of output (1.47 MB as base64) each, a 6 MB budget: four fit,
        // the rest are re-ingested; the data of records past the budget is not held.
        let mut event = fixture("firehose-kinesis-json.json");
        let template = event.records[0].clone();
        event.records = (0..10)
            .map(|i| {
                let mut r = template.clone();
                r.record_id = format!("r{i}");
                let body = format!("{{\"i\":{i},\"pad\":\"{}\"}}", "p".repeat(1_100_000));
                r.data = Some(base64::engine::general_purpose::STANDARD.encode(body));
                r
            })
            .collect();
        let (response, summary, sink) = run(Config::default(), &event).await;
        let ok = results(&response)
            .iter()
            .filter(|r| **r == TransformResult::Ok)
            .count();
        let dropped = results(&response)
            .iter()
            .filter(|r| **r == TransformResult::Dropped)
            .count();
        assert_eq!(ok, 4, "{summary:?}");
        assert_eq!(dropped, 6, "the rest went back to the stream");
        assert_eq!(sink.written_entries().len(), 6);
    }

    fn results(r: &FirehoseResponse) -> Vec<TransformResult> {
        r.records.iter().map(|r| r.result).collect()
    }

    fn text(r: &ResponseRecord) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&r.data)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[tokio::test]
    async fn every_fixture_keeps_the_contract_with_and_without_options() {
        for name in FIXTURES {
            let event = fixture(name);
            run(Config::default(), &event).await;
            run(all_options(), &event).await;
        }
    }

    #[tokio::test]
    async fn the_lambda_entry_point_answers_the_fixture() {
        let t = FirehoseTransform::new(Config::default(), MemoryReingestSink::new());
        let event = fixture("cloudwatch-logs-processor-sam.json");
        let response = t
            .handle(LambdaEvent::new(
                event.clone(),
                lambda_runtime::Context::default(),
            ))
            .await
            .unwrap();
        let bytes = serde_json::to_vec(&response).unwrap();
        let report = check_response(&event, &bytes, FIREHOSE_RESPONSE_BUDGET_BYTES).unwrap();
        assert_eq!(
            (report.ok, report.dropped, report.processing_failed),
            (3, 1, 0)
        );
    }

    #[tokio::test]
    async fn json_records_are_compacted_with_exact_numbers() {
        let (r, s, _) = run(Config::default(), &fixture("firehose-kinesis-json.json")).await;
        assert_eq!(results(&r), vec![OkR; 4]);
        assert_eq!(
            text(&r.records[0]),
            "{\"customer\":{\"id\":\"c-1\"},\"level\":\"info\",\"amount\":12.50,\"big\":123456789012345678901234567890}\n"
        );
        assert_eq!(
            text(&r.records[1]),
            "{\"customer\":{\"id\":\"c-2\"},\"level\":\"debug\",\"note\":\"tab\\there\"}\n"
        );
        assert_eq!(text(&r.records[2]), "[1,2,3]\n");
        assert_eq!(text(&r.records[3]), "\"just a string\"\n");
        // Without overflow the tracked size is the exact size.
        assert_eq!(serde_json::to_vec(&r).unwrap().len(), s.response_bytes);
        assert!(!String::from_utf8(serde_json::to_vec(&r).unwrap())
            .unwrap()
            .contains("metadata"));
    }

    #[tokio::test]
    async fn text_records_become_messages() {
        let (r, _, _) = run(Config::default(), &fixture("firehose-direct-put-text.json")).await;
        assert_eq!(results(&r), vec![OkR; 4]);
        assert_eq!(text(&r.records[0]), "{\"message\":\"hello world\"}\n");
        assert_eq!(
            text(&r.records[1]),
            "{\"message\":\"line one\\nline two\"}\n"
        );
        assert_eq!(
            text(&r.records[2]),
            "{\"message\":\"quotes \\\"and\\\" backslash \\\\ and unicode é\"}\n"
        );
        assert_eq!(text(&r.records[3]), "{\"message\":\"{not json\"}\n");
    }

    #[tokio::test]
    async fn binary_fails_alone() {
        let (r, s, _) = run(Config::default(), &fixture("firehose-binary.json")).await;
        assert_eq!(results(&r), vec![Failed, OkR]);
        assert_eq!(s.failures.get("not_utf8"), Some(&1));
        assert_eq!(r.records[0].data, "");
    }

    #[tokio::test]
    async fn gzip_is_decoded_and_a_cut_stream_fails() {
        let (r, _, _) = run(Config::default(), &fixture("firehose-gzip.json")).await;
        assert_eq!(results(&r), vec![OkR, OkR, Failed]);
        assert_eq!(
            text(&r.records[0]),
            "{\"customer\":{\"id\":\"c-9\"},\"gz\":true}\n"
        );
        assert_eq!(text(&r.records[1]), "{\"message\":\"gzipped text line\"}\n");
    }

    #[tokio::test]
    async fn cloudwatch_logs_control_is_dropped_and_data_is_one_line_per_event() {
        let (r, _, _) = run(
            Config::default(),
            &fixture("cloudwatch-logs-control-and-data.json"),
        )
        .await;
        assert_eq!(results(&r), vec![Dropped, OkR]);
        let lines: Vec<serde_json::Value> = text(&r.records[1])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["message"], "plain text event\n");
        assert_eq!(lines[1]["logGroup"], "/aws/lambda/trickle-ingest");
        assert_eq!(lines[1]["owner"], "123456789012");
        assert_eq!(lines[2]["timestamp"], 1700000000002i64);

        let (r, _, _) = run(
            Config::default(),
            &fixture("cloudwatch-logs-processor-sam.json"),
        )
        .await;
        assert_eq!(results(&r), vec![Dropped, OkR, OkR, OkR]);
    }

    #[tokio::test]
    async fn empty_records_are_dropped() {
        let (r, _, _) = run(Config::default(), &fixture("firehose-empty-record.json")).await;
        assert_eq!(results(&r), vec![Dropped, OkR, Dropped]);
    }

    #[tokio::test]
    async fn sam_events_are_read_including_a_string_subsequence_number() {
        let (r, _, _) = run(
            Config::default(),
            &fixture("firehose-streams-as-source-sam.json"),
        )
        .await;
        assert_eq!(results(&r), vec![OkR]);
        assert_eq!(
            text(&r.records[0]),
            "{\"message\":\"Hello, this is a test 123.\"}\n"
        );
    }

    #[tokio::test]
    async fn options_enrich_filter_and_partition() {
        let (r, _, _) = run(all_options(), &fixture("firehose-kinesis-json.json")).await;
        // c-2 is level debug: filtered; [1,2,3] and a string have no customer id.
        assert_eq!(results(&r), vec![OkR, Dropped, Failed, Failed]);
        let line: serde_json::Value = serde_json::from_str(text(&r.records[0]).trim_end()).unwrap();
        assert_eq!(line["at"], "2023-11-14T22:13:20.124Z");
        assert_eq!(line["pk"], "c-1");
        assert_eq!(
            line["seq"],
            "49590000000000000000000000000000000000000000000000000001"
        );
        let keys = &r.records[0].metadata.as_ref().unwrap().partition_keys;
        assert_eq!(keys["customer"], "c-1");
        assert!(r.records[1].metadata.is_none());
    }

    #[tokio::test]
    async fn cloudwatch_logs_events_are_filtered_one_by_one_and_keyed_by_the_first() {
        let config = Config {
            partition_keys: vec![PartitionKeySpec {
                name: "group".into(),
                pointer: "/logGroup".into(),
            }],
            drop_filter: Some(DropFilter {
                pointer: "/id".into(),
                value: "30000000000000000000000000000000000000000000000000000000".into(),
            }),
            ..Config::default()
        };
        let (r, _, _) = run(config, &fixture("cloudwatch-logs-control-and-data.json")).await;
        assert_eq!(results(&r), vec![Dropped, OkR]);
        assert_eq!(text(&r.records[1]).lines().count(), 2);
        assert_eq!(
            r.records[1].metadata.as_ref().unwrap().partition_keys["group"],
            "/aws/lambda/trickle-ingest"
        );
    }

    #[tokio::test]
    async fn overflow_is_re_ingested_as_a_marked_copy_on_its_original_shard() {
        let event = fixture("firehose-overflow.json");
        let (r, s, sink) = run(Config::default(), &event).await;
        assert_eq!(results(&r), vec![OkR, Dropped, OkR]);
        assert_eq!(s.reingested, 1);
        let written = sink.written.lock().unwrap().clone();
        assert_eq!(written.len(), 1);
        assert_eq!(
            written[0].0,
            ReingestTarget::KinesisStream {
                stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/trickle-records".into()
            }
        );
        // Marked as a copy (batch-to-s3 stored the original and skips it), routed by the
        // original key's hash.
        assert_eq!(
            written[0].1.partition_key.as_deref(),
            Some("trickle-reingested:big-2")
        );
        assert_eq!(
            written[0].1.explicit_hash_key,
            Some(trickle_shared::reingest::explicit_hash_key("big-2"))
        );
        assert_eq!(
            written[0].1.data,
            original_bytes(&event.records[1]).unwrap(),
            "the original (gzip) bytes go back, not the transformed ones"
        );
        let size = serde_json::to_vec(&r).unwrap().len();
        assert!(
            size > 4_000_000 && size <= FIREHOSE_RESPONSE_BUDGET_BYTES,
            "{size}"
        );
    }

    #[tokio::test]
    async fn direct_put_overflow_goes_to_the_delivery_stream() {
        let mut event = fixture("firehose-direct-put-text.json");
        event.source_kinesis_stream_arn = None;
        let config = Config {
            // Above the floor of 4 empty entries (~450 bytes), below all 4 as Ok.
            response_budget_bytes: 600,
            ..Config::default()
        };
        let (r, s, sink) = run(config, &event).await;
        assert!(s.reingested > 0, "{:?}", results(&r));
        let written = sink.written.lock().unwrap().clone();
        assert!(written.iter().all(|(t, _)| *t
            == ReingestTarget::DeliveryStream {
                name: "trickle-delivery".into()
            }));
    }

    #[tokio::test]
    async fn overflow_is_processing_failed_when_re_ingestion_is_off_or_keeps_failing() {
        let event = fixture("firehose-overflow.json");
        let off = Config {
            reingest_enabled: false,
            ..Config::default()
        };
        let (r, _, sink) = run(off, &event).await;
        assert_eq!(results(&r), vec![OkR, Failed, OkR]);
        assert!(sink.calls.lock().unwrap().is_empty());

        let t = FirehoseTransform::new(
            Config {
                reingest_max_attempts: 2,
                ..Config::default()
            },
            MemoryReingestSink::new(),
        );
        *t.sink.always.lock().unwrap() = Some(Script::EntriesFail(vec![0]));
        let (r, s) = t.process(&event).await;
        assert_eq!(results(&r), vec![OkR, Failed, OkR]);
        assert_eq!(s.reingest_failed, 1);
        assert_eq!(*t.sink.calls.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test]
    async fn a_record_too_large_for_any_response_fails_instead_of_looping() {
        let config = Config {
            response_budget_bytes: 1_000_000,
            ..Config::default()
        };
        let (r, s, sink) = run(config, &fixture("firehose-overflow.json")).await;
        assert_eq!(results(&r), vec![Failed, Failed, OkR]);
        assert_eq!(s.failures.get("too_large"), Some(&2));
        assert!(sink.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cloudwatch_logs_record_too_large_for_any_response_goes_back_in_halves() {
        let event = fixture("cloudwatch-logs-control-and-data.json");
        let config = Config {
            // Above the floor of two empty entries, below the 3-event record's Ok entry.
            response_budget_bytes: 500,
            ..Config::default()
        };
        let (r, s, sink) = run(config, &event).await;
        assert_eq!(results(&r), vec![Dropped, Dropped]);
        assert_eq!(s.reingested, 1);
        let written = sink.written_entries();
        assert_eq!(written.len(), 2);
        let events: Vec<usize> = written
            .iter()
            .map(|e| match crate::decode::decode(&e.data, 1 << 20).unwrap() {
                crate::decode::Decoded::Lines(l) => l.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(events, vec![1, 2]);
    }

    fn arb_event() -> impl Strategy<Value = FirehoseEvent> {
        let data = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            "\\PC{0,80}".prop_map(String::into_bytes),
            "[ -~]{0,40}".prop_map(|s| format!(
                "{{\"customer\":{{\"id\":\"{s}\"}},\"level\":\"debug\"}}"
            )
            .into_bytes()),
        ];
        let record = (
            data,
            any::<bool>(),
            "[a-zA-Z0-9\"\\\\é]{1,20}",
            any::<bool>(),
        );
        proptest::collection::vec(record, 0..20).prop_map(|records| FirehoseEvent {
            source_kinesis_stream_arn: Some("arn:aws:kinesis:us-east-1:1:stream/s".into()),
            records: records
                .into_iter()
                .enumerate()
                .map(|(i, (data, gzip, pk, bad_base64))| {
                    let bytes = if gzip {
                        use std::io::Write;
                        let mut e =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                        e.write_all(&data).unwrap();
                        e.finish().unwrap()
                    } else {
                        data
                    };
                    let mut b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                    if bad_base64 && i % 3 == 0 {
                        b64.push('!');
                    }
                    FirehoseRecord {
                        record_id: format!("id-{i}"),
                        approximate_arrival_timestamp: Some(i as i64 * 1_000_000_007),
                        data: Some(b64),
                        kinesis_record_metadata: Some(crate::event::KinesisRecordMetadata {
                            partition_key: Some(pk),
                            sequence_number: Some(i.to_string()),
                            ..Default::default()
                        }),
                    }
                })
                .collect(),
            ..Default::default()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_event_gets_a_valid_contract_answer(
            event in arb_event(),
            budget in 200usize..4_000,
            options in any::<bool>(),
            reingest_enabled in any::<bool>(),
        ) {
            let config = Config {
                response_budget_bytes: budget,
                reingest_enabled,
                ..if options { all_options() } else { Config::default() }
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let (response, sink) = rt.block_on(async {
                let t = FirehoseTransform::new(config, MemoryReingestSink::new());
                let (r, _) = t.process(&event).await;
                (r, t.sink)
            });
            let bytes = serde_json::to_vec(&response).unwrap();
            // The floor (ids and results) may exceed a tiny budget: check against the floor then.
            let floor: usize = crate::budget::ENVELOPE_BYTES + event.records.len()
                + event.records.iter().map(|r| crate::budget::entry_len(&r.record_id, Failed, 0, None)).sum::<usize>();
            if let Err(v) = check_response(&event, &bytes, budget.max(floor)) {
                prop_assert!(false, "{:#?}", v);
            }
            // Nothing is lost: every Dropped-by-overflow record is in the fake source.
            let reingested = sink.written_entries().len();
            prop_assert!(reingested <= response.records.iter().filter(|r| r.result == Dropped).count());
        }
    }
}

//! The adapter between Lambda's Kinesis event and the domain: a `KinesisEvent` becomes a
//! `ShardBatch` (one shard's records, in sequence order), and the outcome becomes a
//! `KinesisEventResponse`.
//!
//! The event is read into this module's own `StreamEvent`, only the fields used, instead of
//! `aws_lambda_events`' `KinesisEvent`: that type keeps every unknown field through
//! `#[serde(flatten)]`, which makes serde buffer each record (its base64 data included)
//! before parsing it, and gives each record a dozen strings. `StreamEvent` skips unknown
//! fields and decodes `data` straight from the event's text (`cargo run --release -p
//! batch-to-s3 --example bench` prints both). `KinesisEvent` converts into it (`From`).
//!
//! Stream semantics this relies on:
//! - An event source mapping invokes the function with records of exactly one shard, in
//!   sequence order. `kinesis.data` is base64 and `approximateArrivalTimestamp` is in
//!   (fractional) seconds, with millisecond precision.
//! - With `FunctionResponseTypes: [ReportBatchItemFailures]`, Lambda checkpoints the shard
//!   just before the lowest sequence number in `batchItemFailures` and retries from there;
//!   an empty list is full success. So we report at most one: the first record not durably
//!   stored.

use crate::error::EventError;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use trickle_shared::SequenceNumber;

/// Lambda's Kinesis event: the fields the Kinesis-triggered writers read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

/// One record of the event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StreamRecord {
    /// `shardId-000000000000:<sequence number>`.
    #[serde(rename = "eventID", default)]
    pub event_id: Option<String>,
    /// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: Option<String>,
    pub kinesis: StreamRecordData,
}

/// The Kinesis part of a record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRecordData {
    #[serde(default, deserialize_with = "trickle_shared::json::null_as_default")]
    pub partition_key: String,
    /// Checked by `ShardBatch::from_event` (absent or null reads as empty, and is refused there).
    #[serde(default, deserialize_with = "trickle_shared::json::null_as_default")]
    pub sequence_number: String,
    /// Decoded from base64 while the event is read (one allocation, no text copy).
    #[serde(deserialize_with = "base64_data")]
    pub data: Vec<u8>,
    #[serde(deserialize_with = "epoch_seconds")]
    pub approximate_arrival_timestamp: DateTime<Utc>,
}

impl From<KinesisEvent> for StreamEvent {
    fn from(event: KinesisEvent) -> Self {
        Self {
            records: event
                .records
                .into_iter()
                .map(|r| StreamRecord {
                    event_id: r.event_id,
                    event_source_arn: r.event_source_arn,
                    kinesis: StreamRecordData {
                        partition_key: r.kinesis.partition_key,
                        sequence_number: r.kinesis.sequence_number,
                        data: r.kinesis.data.0,
                        approximate_arrival_timestamp: r.kinesis.approximate_arrival_timestamp.0,
                    },
                })
                .collect(),
        }
    }
}

fn base64_data<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct Base64;
    impl Visitor<'_> for Base64 {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("base64 text")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|e| E::custom(format!("kinesis.data is not base64: {e}")))
        }
    }
    d.deserialize_str(Base64)
}

/// Epoch seconds (a number, or a string holding one) to the millisecond, as Kinesis keeps
/// arrival times.
fn epoch_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    struct Seconds;
    impl Visitor<'_> for Seconds {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("epoch seconds")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            let millis = (v * 1000.0).round();
            if !millis.is_finite() || millis.abs() > i64::MAX as f64 {
                return Err(E::custom(format!("{v} is not a timestamp")));
            }
            DateTime::from_timestamp_millis(millis as i64)
                .ok_or_else(|| E::custom(format!("{v} is not a timestamp")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let seconds: f64 = v
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("{v:?} is not a timestamp")))?;
            self.visit_f64(seconds)
        }
    }
    d.deserialize_any(Seconds)
}

/// One Kinesis record of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The sequence number, as an integer.
    pub sequence: SequenceNumber,
    /// The sequence number exactly as Lambda sent it (reported back verbatim).
    pub sequence_text: String,
    pub partition_key: String,
    pub arrival: DateTime<Utc>,
    /// The data, base64-decoded.
    pub data: Vec<u8>,
}

/// One invocation's records: all from one shard, in strictly increasing sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardBatch {
    /// The stream name from `eventSourceARN`.
    pub stream_name: String,
    /// The shard id from `eventID` (`shardId-000000000000:<sequence number>`).
    pub shard_id: String,
    pub records: Vec<SourceRecord>,
}

impl ShardBatch {
    /// Bytes of record data in the batch (the `BytesIn` metric).
    pub fn data_bytes(&self) -> usize {
        self.records.iter().map(|r| r.data.len()).sum()
    }

    /// Milliseconds between the oldest record's arrival and `now` (0 for none, or for
    /// clocks that disagree).
    pub fn oldest_record_age_ms(&self, now: DateTime<Utc>) -> i64 {
        self.records
            .iter()
            .map(|r| (now - r.arrival).num_milliseconds())
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// Checks and converts an event. An empty event gives `None`.
    pub fn from_event(event: StreamEvent) -> Result<Option<Self>, EventError> {
        let mut shard: Option<(String, String)> = None;
        let mut records: Vec<SourceRecord> = Vec::with_capacity(event.records.len());
        for (index, r) in event.records.into_iter().enumerate() {
            // Compared in place: only the first record's names are kept (no per-record copies).
            let stream_name = r
                .event_source_arn
                .as_deref()
                .and_then(|arn| arn.split_once(":stream/"))
                // A stream name has no `/`; an enhanced fan-out consumer's ARN continues
                // `/consumer/<name>:<time>`. Either way the stream is the same, and so are
                // the names derived from it (checkpoints, keys) when fan-out is turned on.
                .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
                .filter(|n| !n.is_empty())
                .ok_or(EventError::MissingStream { index })?;
            let shard_id = r
                .event_id
                .as_deref()
                .and_then(|id| id.split_once(':'))
                .map(|(shard, _)| shard)
                .filter(|s| !s.is_empty())
                .ok_or(EventError::MissingShard { index })?;
            match &shard {
                None => shard = Some((stream_name.to_owned(), shard_id.to_owned())),
                Some((first_stream, first_shard))
                    if first_stream != stream_name || first_shard != shard_id =>
                {
                    return Err(EventError::MixedShards {
                        first: format!("{first_stream}/{first_shard}"),
                        other: format!("{stream_name}/{shard_id}"),
                    })
                }
                Some(_) => {}
            }
            let k = r.kinesis;
            let sequence: SequenceNumber =
                k.sequence_number
                    .parse()
                    .map_err(|_| EventError::InvalidSequenceNumber {
                        index,
                        value: k.sequence_number.clone(),
                    })?;
            if let Some(prev) = records.last() {
                if prev.sequence >= sequence {
                    return Err(EventError::OutOfOrder {
                        index,
                        value: k.sequence_number,
                    });
                }
            }
            records.push(SourceRecord {
                sequence,
                sequence_text: k.sequence_number,
                partition_key: k.partition_key,
                arrival: k.approximate_arrival_timestamp,
                data: k.data,
            });
        }
        Ok(shard.map(|(stream_name, shard_id)| Self {
            stream_name,
            shard_id,
            records,
        }))
    }
}

/// The response: empty for full success, else the one sequence number to retry from.
pub fn response(retry_from: Option<&str>) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    if let Some(seq) = retry_from {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(seq.to_owned());
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_consumer_arn_names_its_stream() {
        let event: StreamEvent = serde_json::from_value(json!({"Records": [record(
            "shardId-000000000001",
            "arn:aws:kinesis:us-east-1:123456789012:stream/events/consumer/iceberg:1764583200",
            "7",
        )]}))
        .unwrap();
        let batch = ShardBatch::from_event(event).unwrap().unwrap();
        assert_eq!(
            (batch.stream_name.as_str(), batch.shard_id.as_str()),
            ("events", "shardId-000000000001")
        );
    }

    fn record(event_id: &str, arn: &str, seq: &str) -> serde_json::Value {
        json!({
            "kinesis": {
                "partitionKey": "k",
                "sequenceNumber": seq,
                "data": "SGVsbG8=",
                "approximateArrivalTimestamp": 1718000000.477
            },
            "eventID": format!("{event_id}:{seq}"),
            "eventSourceARN": arn,
        })
    }

    fn event(records: Vec<serde_json::Value>) -> StreamEvent {
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    const ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

    #[test]
    fn reads_shard_stream_and_decoded_data() {
        let b = ShardBatch::from_event(event(vec![
            record("shardId-000000000001", ARN, "9"),
            record("shardId-000000000001", ARN, "10"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(b.stream_name, "s");
        assert_eq!(b.shard_id, "shardId-000000000001");
        assert_eq!(b.records[0].data, b"Hello");
        assert_eq!(b.records[1].sequence_text, "10");
        assert_eq!(b.records[0].arrival.timestamp_millis(), 1_718_000_000_477);
    }

    #[test]
    fn reads_what_the_event_crate_reads_and_converts_from_it() {
        let text = include_str!("../../../events/kinesis-batch.json");
        let ours: StreamEvent = serde_json::from_str(text).unwrap();
        let theirs: KinesisEvent = serde_json::from_str(text).unwrap();
        assert!(!ours.records.is_empty());
        assert_eq!(StreamEvent::from(theirs), ours);
    }

    #[test]
    fn arrival_times_keep_their_milliseconds_in_any_form() {
        for (t, millis) in [
            (json!(1718000000.5), 1_718_000_000_500),
            (json!(1718000000), 1_718_000_000_000),
            (json!("1718000000.25"), 1_718_000_000_250),
        ] {
            let mut r = record("shardId-1", ARN, "1");
            r["kinesis"]["approximateArrivalTimestamp"] = t.clone();
            let b = ShardBatch::from_event(event(vec![r])).unwrap().unwrap();
            assert_eq!(b.records[0].arrival.timestamp_millis(), millis, "{t}");
        }
    }

    #[test]
    fn data_that_is_not_base64_is_refused_naming_the_field() {
        let mut r = record("shardId-1", ARN, "1");
        r["kinesis"]["data"] = json!("not base64!");
        let err = serde_json::from_value::<StreamEvent>(json!({ "Records": [r] })).unwrap_err();
        assert!(
            err.to_string().contains("kinesis.data is not base64"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_event_is_no_batch() {
        assert_eq!(ShardBatch::from_event(event(vec![])).unwrap(), None);
    }

    #[test]
    fn rejects_mixed_shards_bad_and_unordered_sequence_numbers() {
        let mixed = event(vec![
            record("shardId-000000000001", ARN, "1"),
            record("shardId-000000000002", ARN, "2"),
        ]);
        assert!(matches!(
            ShardBatch::from_event(mixed),
            Err(EventError::MixedShards { .. })
        ));
        let bad = event(vec![record("shardId-1", ARN, "12x")]);
        assert!(matches!(
            ShardBatch::from_event(bad),
            Err(EventError::InvalidSequenceNumber { index: 0, .. })
        ));
        // "10" after "9" is in order as integers; "9" after "10" is not.
        let unordered = event(vec![
            record("shardId-1", ARN, "10"),
            record("shardId-1", ARN, "9"),
        ]);
        assert!(matches!(
            ShardBatch::from_event(unordered),
            Err(EventError::OutOfOrder { index: 1, .. })
        ));
        let no_arn = event(vec![record("shardId-1", "arn:aws:sqs:x", "1")]);
        assert!(matches!(
            ShardBatch::from_event(no_arn),
            Err(EventError::MissingStream { index: 0 })
        ));
    }

    #[test]
    fn response_reports_at_most_one_failure() {
        assert_eq!(
            serde_json::to_value(response(None)).unwrap(),
            json!({"batchItemFailures": []})
        );
        assert_eq!(
            serde_json::to_value(response(Some("42"))).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "42"}]})
        );
    }
}

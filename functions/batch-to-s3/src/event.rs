//! The adapter between Lambda's Kinesis event and the domain: a `KinesisEvent` becomes a
//! `ShardBatch` (one shard's records, in sequence order), and the outcome becomes a
//! `KinesisEventResponse`.
//!
//! Stream semantics this relies on:
//! - An event source mapping invokes the function with records of exactly one shard, in
//!   sequence order. `KinesisRecord.data` is already base64-decoded by the event crate and
//!   `approximateArrivalTimestamp` is in (fractional) seconds.
//! - With `FunctionResponseTypes: [ReportBatchItemFailures]`, Lambda checkpoints the shard
//!   just before the lowest sequence number in `batchItemFailures` and retries from there;
//!   an empty list is full success. So we report at most one: the first record not durably
//!   stored.

use crate::error::EventError;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use chrono::{DateTime, Utc};
use trickle_shared::SequenceNumber;

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
    /// Checks and converts an event. An empty event gives `None`.
    pub fn from_event(event: KinesisEvent) -> Result<Option<Self>, EventError> {
        let mut shard: Option<(String, String)> = None;
        let mut records: Vec<SourceRecord> = Vec::with_capacity(event.records.len());
        for (index, r) in event.records.into_iter().enumerate() {
            // Compared in place: only the first record's names are kept (no per-record copies).
            let stream_name = r
                .event_source_arn
                .as_deref()
                .and_then(|arn| arn.split_once(":stream/"))
                .map(|(_, name)| name)
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
                arrival: k.approximate_arrival_timestamp.0,
                data: k.data.0,
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

    fn event(records: Vec<serde_json::Value>) -> KinesisEvent {
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
        // Whole seconds are exact. (aws_lambda_events 1.2 reads fractions of fewer than three
        // digits as milliseconds, e.g. `.5` as 5 ms; keys only use the hour, so it is harmless.)
        assert_eq!(b.records[0].arrival.timestamp_millis(), 1_718_000_000_477);
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

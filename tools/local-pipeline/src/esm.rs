//! The Kinesis event source mapping, as AWS documents it, in pure functions:
//!
//! - records of one shard are delivered in order, in batches of at most `BatchSize`;
//! - the function's `batchItemFailures` decide the checkpoint: an empty list (or no
//!   response) is full success; otherwise the shard resumes from the *lowest* reported
//!   sequence number (compared as integers), and the records before it are done;
//! - an item identifier that is empty or not in the batch makes the whole batch a failure;
//! - a function error retries the batch; with `BisectBatchOnFunctionError` the batch is split
//!   in two and each half retried; after `MaximumRetryAttempts` the failed records go to the
//!   on-failure destination (locally: a JSON line in `.local/on-failure.jsonl`) and the shard
//!   moves on.

use base64::Engine;
use serde_json::{json, Value};
use trickle_shared::SequenceNumber;

/// One record as read from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// Milliseconds since the epoch.
    pub arrival_ms: i64,
}

/// What the answer to a batch means for the shard's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record is done.
    Done,
    /// Records before this index are done; resume from it.
    ResumeFrom(usize),
    /// The answer is malformed: the whole batch failed.
    WholeBatchFailed(String),
}

/// Interprets a function's answer to a batch.
pub fn verdict(batch: &[StreamRecord], response: &Value) -> Verdict {
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return Verdict::Done,
        Some(Value::Array(a)) if a.is_empty() => return Verdict::Done,
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Verdict::WholeBatchFailed(format!("batchItemFailures is not a list: {other}"))
        }
    };
    let mut lowest: Option<SequenceNumber> = None;
    for f in failures {
        let Some(id) = f
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Verdict::WholeBatchFailed("an itemIdentifier is missing or empty".into());
        };
        let Ok(seq) = id.parse::<SequenceNumber>() else {
            return Verdict::WholeBatchFailed(format!(
                "itemIdentifier {id:?} is not a sequence number"
            ));
        };
        if lowest.as_ref().is_none_or(|l| seq < *l) {
            lowest = Some(seq);
        }
    }
    let Some(lowest) = lowest else {
        return Verdict::Done;
    };
    match batch
        .iter()
        .position(|r| r.sequence_number.parse::<SequenceNumber>().ok().as_ref() == Some(&lowest))
    {
        Some(i) => Verdict::ResumeFrom(i),
        None => Verdict::WholeBatchFailed(format!("itemIdentifier {lowest} is not in the batch")),
    }
}

/// The `KinesisEvent` Lambda would send for a batch.
pub fn kinesis_event(batch: &[StreamRecord], stream_arn: &str, region: &str) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "Records": batch.iter().map(|r| json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": r.partition_key,
                "sequenceNumber": r.sequence_number,
                "data": b64.encode(&r.data),
                // Kinesis events carry seconds, with a fraction.
                "approximateArrivalTimestamp": r.arrival_ms as f64 / 1000.0,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("{}:{}", r.shard_id, r.sequence_number),
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/local-pipeline",
            "awsRegion": region,
            "eventSourceARN": stream_arn,
        })).collect::<Vec<_>>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seqs: &[&str]) -> Vec<StreamRecord> {
        seqs.iter()
            .map(|s| StreamRecord {
                shard_id: "shardId-000000000000".into(),
                sequence_number: s.to_string(),
                partition_key: "k".into(),
                data: b"x".to_vec(),
                arrival_ms: 1_700_000_000_123,
            })
            .collect()
    }

    #[test]
    fn empty_failures_is_full_success() {
        let b = batch(&["1", "2"]);
        assert_eq!(
            verdict(&b, &json!({"batchItemFailures": []})),
            Verdict::Done
        );
        assert_eq!(verdict(&b, &Value::Null), Verdict::Done);
    }

    #[test]
    fn resumes_from_the_lowest_reported_number_as_an_integer() {
        let b = batch(&["8", "9", "10", "11"]);
        let r = json!({"batchItemFailures": [{"itemIdentifier": "11"}, {"itemIdentifier": "9"}, {"itemIdentifier": "10"}]});
        assert_eq!(verdict(&b, &r), Verdict::ResumeFrom(1));
    }

    #[test]
    fn unknown_or_empty_identifiers_fail_the_whole_batch() {
        let b = batch(&["1", "2"]);
        assert!(matches!(
            verdict(&b, &json!({"batchItemFailures": [{"itemIdentifier": "7"}]})),
            Verdict::WholeBatchFailed(_)
        ));
        assert!(matches!(
            verdict(&b, &json!({"batchItemFailures": [{"itemIdentifier": ""}]})),
            Verdict::WholeBatchFailed(_)
        ));
        assert!(matches!(
            verdict(&b, &json!({"batchItemFailures": [{}]})),
            Verdict::WholeBatchFailed(_)
        ));
    }

    #[test]
    fn event_carries_seconds_and_base64() {
        let e = kinesis_event(
            &batch(&["5"]),
            "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            "us-east-1",
        );
        assert_eq!(e["Records"][0]["kinesis"]["data"], "eA==");
        assert_eq!(
            e["Records"][0]["kinesis"]["approximateArrivalTimestamp"],
            1_700_000_000.123
        );
        assert_eq!(e["Records"][0]["eventID"], "shardId-000000000000:5");
    }
}

//! The Firehose transformation event and response, as serde types of our own.
//!
//! Why not `aws_lambda_events::firehose` directly (its types are checked against ours in the
//! tests below):
//! - its record metadata insists on a numeric `subsequenceNumber`, while the SAM generator's
//!   "streams-as-source" event (and so anyone testing with it) sends a string; its timestamps
//!   must be numbers. One odd field must not turn into a failed invocation, so our numeric
//!   fields accept a number, a numeric string or null, and unknown fields are ignored;
//! - its response record always serializes `metadata`, but Firehose should see `metadata`
//!   only when dynamic partitioning is configured.
//!
//! What Firehose sends: `data` is base64; `approximateArrivalTimestamp` is in
//! **milliseconds** since the epoch (Kinesis *events* to Lambda use seconds);
//! `kinesisRecordMetadata` is present only when the delivery stream reads a Kinesis stream,
//! and then the event carries `sourceKinesisStreamArn`.
//!
//! What Firehose accepts back: every input `recordId` exactly once, in input order; `result`
//! exactly `Ok`, `Dropped` or `ProcessingFailed`; `data` base64. Anything else fails the
//! whole batch.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The event Firehose invokes the transform with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseEvent {
    #[serde(default)]
    pub invocation_id: Option<String>,
    /// The SAM generator's streams-as-source event spells it `deliverySteamArn`.
    #[serde(default, alias = "deliverySteamArn")]
    pub delivery_stream_arn: Option<String>,
    /// Present when the delivery stream's source is a Kinesis data stream.
    #[serde(default)]
    pub source_kinesis_stream_arn: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub records: Vec<FirehoseRecord>,
}

/// One input record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    /// Required: without it the record cannot be answered, so the event is unreadable.
    pub record_id: String,
    /// Milliseconds since the epoch.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub approximate_arrival_timestamp: Option<i64>,
    /// Base64; a missing or null `data` makes this record (only) `ProcessingFailed`.
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub kinesis_record_metadata: Option<KinesisRecordMetadata>,
}

/// The Kinesis record a Firehose record came from (Kinesis source only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisRecordMetadata {
    #[serde(default)]
    pub shard_id: Option<String>,
    #[serde(default)]
    pub partition_key: Option<String>,
    #[serde(default)]
    pub sequence_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub subsequence_number: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub approximate_arrival_timestamp: Option<i64>,
}

/// The answer to Firehose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct FirehoseResponse {
    pub records: Vec<ResponseRecord>,
}

/// One answered record. Serialized as `{"recordId","result","data"[,"metadata"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    pub record_id: String,
    pub result: TransformResult,
    /// Base64 of the output lines; empty for `Dropped` and `ProcessingFailed` (Firehose
    /// writes the *original* record to the error prefix for the latter).
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ResponseMetadata>,
}

/// Dynamic partitioning keys, for `!{partitionKeyFromLambda:name}` in the S3 prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMetadata {
    pub partition_keys: BTreeMap<String, String>,
}

/// The three results Firehose accepts, spelled exactly as it expects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum TransformResult {
    Ok,
    Dropped,
    ProcessingFailed,
}

impl TransformResult {
    /// The exact wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "Ok",
            Self::Dropped => "Dropped",
            Self::ProcessingFailed => "ProcessingFailed",
        }
    }
}

/// A number, a numeric string or null; anything else reads as absent rather than failing
/// the whole event (these fields only feed enrichment).
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Int(i64),
        Float(f64),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Lenient>::deserialize(d)? {
        Some(Lenient::Int(i)) => Some(i),
        Some(Lenient::Float(f)) if f.is_finite() => Some(f as i64),
        Some(Lenient::Text(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_the_sam_streams_as_source_event_with_a_string_subsequence_number() {
        let raw = fixture("firehose-streams-as-source-sam.json");
        // The event crate's own type refuses this event...
        assert!(
            serde_json::from_slice::<aws_lambda_events::event::firehose::KinesisFirehoseEvent>(
                &raw
            )
            .is_err()
        );
        // ...ours reads it.
        let e: FirehoseEvent = serde_json::from_slice(&raw).unwrap();
        let meta = e.records[0].kinesis_record_metadata.as_ref().unwrap();
        assert_eq!(meta.subsequence_number, Some(123456));
        assert_eq!(meta.partition_key.as_deref(), Some("partitionKey-03"));
        assert_eq!(
            e.delivery_stream_arn.as_deref(),
            Some("arn:aws:kinesis:EXAMPLE")
        );
    }

    #[test]
    fn reads_everything_the_event_crate_reads() {
        for name in [
            "firehose-direct-put-sam.json",
            "cloudwatch-logs-processor-sam.json",
        ] {
            let raw = fixture(name);
            let theirs: aws_lambda_events::event::firehose::KinesisFirehoseEvent =
                serde_json::from_slice(&raw).unwrap();
            let ours: FirehoseEvent = serde_json::from_slice(&raw).unwrap();
            assert_eq!(ours.records.len(), theirs.records.len());
            for (o, t) in ours.records.iter().zip(&theirs.records) {
                assert_eq!(Some(&o.record_id), t.record_id.as_ref());
                // Theirs goes through an f64 and can come out a millisecond short; ours
                // keeps the integer Firehose sent.
                let theirs_ms = t.approximate_arrival_timestamp.0.timestamp_millis();
                let ours_ms = o.approximate_arrival_timestamp.unwrap();
                assert!((ours_ms - theirs_ms).abs() <= 1, "{ours_ms} vs {theirs_ms}");
            }
        }
    }

    #[test]
    fn odd_numeric_fields_read_as_absent_not_as_an_error() {
        let e: FirehoseEvent = serde_json::from_str(
            r#"{"records":[{"recordId":"a","approximateArrivalTimestamp":"soon","data":"",
                "kinesisRecordMetadata":{"subsequenceNumber":{"x":1},"approximateArrivalTimestamp":null}}]}"#,
        )
        .unwrap();
        assert_eq!(e.records[0].approximate_arrival_timestamp, None);
        assert_eq!(
            e.records[0]
                .kinesis_record_metadata
                .as_ref()
                .unwrap()
                .subsequence_number,
            None
        );
    }

    #[test]
    fn a_record_without_an_id_makes_the_event_unreadable() {
        assert!(serde_json::from_str::<FirehoseEvent>(r#"{"records":[{"data":""}]}"#).is_err());
    }

    #[test]
    fn response_has_metadata_only_when_set_and_matches_the_event_crate_shape() {
        let mut r = ResponseRecord {
            record_id: "a".into(),
            result: TransformResult::ProcessingFailed,
            data: String::new(),
            metadata: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"recordId":"a","result":"ProcessingFailed","data":""}"#
        );
        r.metadata = Some(ResponseMetadata {
            partition_keys: [("k".to_string(), "v".to_string())].into(),
        });
        let text = serde_json::to_string(&FirehoseResponse { records: vec![r] }).unwrap();
        let theirs: aws_lambda_events::event::firehose::KinesisFirehoseResponse =
            serde_json::from_str(&text).unwrap();
        assert_eq!(
            theirs.records[0].result.as_deref(),
            Some("ProcessingFailed")
        );
        assert_eq!(theirs.records[0].metadata.partition_keys["k"], "v");
    }
}

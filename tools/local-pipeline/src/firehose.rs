//! Kinesis Data Firehose with a Kinesis source and a Lambda processor, as AWS documents it,
//! in pure functions: the transform event, the contract its answer must keep (every recordId
//! once, in order; result Ok/Dropped/ProcessingFailed; base64 data), and the S3 key layout
//! (`{prefix}YYYY/MM/DD/HH/{stream}-1-{yyyy-MM-dd-HH-mm-ss}-{id}.gz`, the timestamp folders
//! added only when the prefix names no `!{timestamp:...}` or `!{partitionKeyFromLambda:...}`).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::esm::StreamRecord;

/// What Firehose does with one record after the transform answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Deliver `data` under the prefix resolved with these partition keys.
    Deliver {
        data: Vec<u8>,
        partition_keys: BTreeMap<String, String>,
    },
    /// The transform dropped it on purpose.
    Dropped,
    /// Goes to the error prefix (`processing-failed`) with its raw data.
    Failed { reason: String },
}

/// The transform event for a batch (a Kinesis source: `kinesisRecordMetadata`, ms timestamps).
pub fn transform_event(
    batch: &[StreamRecord],
    delivery_arn: &str,
    stream_arn: &str,
    region: &str,
) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "invocationId": uuid::Uuid::new_v4().to_string(),
        "deliveryStreamArn": delivery_arn,
        "sourceKinesisStreamArn": stream_arn,
        "region": region,
        "records": batch.iter().enumerate().map(|(i, r)| json!({
            "recordId": record_id(i, r),
            "approximateArrivalTimestamp": r.arrival_ms,
            "data": b64.encode(&r.data),
            "kinesisRecordMetadata": {
                "shardId": r.shard_id,
                "partitionKey": r.partition_key,
                "approximateArrivalTimestamp": r.arrival_ms,
                "sequenceNumber": r.sequence_number,
                "subsequenceNumber": 0,
            },
        })).collect::<Vec<_>>(),
    })
}

/// A record id unique within the invocation.
pub fn record_id(index: usize, r: &StreamRecord) -> String {
    format!("{}{:06}", r.sequence_number, index)
}

/// Checks the transform's answer against the contract and turns it into outcomes. A broken
/// contract fails the whole batch, as it does in Firehose.
pub fn apply_response(batch: &[StreamRecord], response: &Value) -> Result<Vec<Outcome>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records = response
        .get("records")
        .and_then(Value::as_array)
        .ok_or("the answer has no records list")?;
    if records.len() != batch.len() {
        return Err(format!(
            "{} records answered for {} sent",
            records.len(),
            batch.len()
        ));
    }
    records
        .iter()
        .zip(batch.iter().enumerate())
        .map(|(answer, (i, sent))| {
            let id = answer.get("recordId").and_then(Value::as_str).unwrap_or_default();
            if id != record_id(i, sent) {
                return Err(format!("record {i}: recordId {id:?} is not the one sent, or out of order"));
            }
            match answer.get("result").and_then(Value::as_str) {
                Some("Ok") => {
                    let data = answer
                        .get("data")
                        .and_then(Value::as_str)
                        .and_then(|d| b64.decode(d).ok())
                        .ok_or(format!("record {i}: data is not base64"))?;
                    let partition_keys = answer
                        .pointer("/metadata/partitionKeys")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(Outcome::Deliver { data, partition_keys })
                }
                Some("Dropped") => Ok(Outcome::Dropped),
                Some("ProcessingFailed") => Ok(Outcome::Failed {
                    reason: "The Lambda function was successfully invoked but it returned an error result.".into(),
                }),
                other => Err(format!("record {i}: result {other:?} is not Ok, Dropped or ProcessingFailed")),
            }
        })
        .collect()
}

/// Resolves a prefix's namespaces. Unknown partition keys resolve to nothing, as an error
/// would in Firehose; the caller checks `missing`.
pub fn resolve_prefix(
    prefix: &str,
    keys: &BTreeMap<String, String>,
    error_type: Option<&str>,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let mut rest = prefix;
    let mut had_time_or_keys = false;
    while let Some(start) = rest.find("!{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let expr = &rest[start + 2..start + end];
        if let Some(fmt) = expr.strip_prefix("timestamp:") {
            had_time_or_keys = true;
            out.push_str(&now.format(&java_to_chrono(fmt)).to_string());
        } else if let Some(name) = expr.strip_prefix("partitionKeyFromLambda:") {
            had_time_or_keys = true;
            out.push_str(keys.get(name).map(String::as_str).unwrap_or(""));
        } else if expr == "firehose:error-output-type" {
            out.push_str(error_type.unwrap_or(""));
        } else if expr == "firehose:random-string" {
            out.push_str(&uuid::Uuid::new_v4().simple().to_string()[..11]);
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    if !had_time_or_keys {
        out.push_str(&now.format("%Y/%m/%d/%H/").to_string());
    }
    out
}

/// Firehose's object name: `{stream}-{version}-{yyyy-MM-dd-HH-mm-ss}-{random}` plus `.gz`.
pub fn object_name(delivery_stream: &str, now: DateTime<Utc>) -> String {
    format!(
        "{delivery_stream}-1-{}-{}.gz",
        now.format("%Y-%m-%d-%H-%M-%S"),
        uuid::Uuid::new_v4()
    )
}

/// One line of Firehose's processing-failed output.
pub fn error_line(r: &StreamRecord, reason: &str, lambda_arn: &str, now: DateTime<Utc>) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut line = serde_json::to_vec(&json!({
        "attemptsMade": 1,
        "arrivalTimestamp": r.arrival_ms,
        "errorCode": "Lambda.ProcessingFailed",
        "errorMessage": reason,
        "attemptEndingTimestamp": now.timestamp_millis(),
        "rawData": b64.encode(&r.data),
        "lambdaArn": lambda_arn,
    }))
    .unwrap_or_default();
    line.push(b'\n');
    line
}

/// Java date patterns as Firehose takes them (yyyy, MM, dd, HH, mm, ss) to chrono's.
fn java_to_chrono(fmt: &str) -> String {
    fmt.replace("yyyy", "%Y")
        .replace("MM", "%m")
        .replace("dd", "%d")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("ss", "%S")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(seq: &str) -> StreamRecord {
        StreamRecord {
            shard_id: "shardId-000000000000".into(),
            sequence_number: seq.into(),
            partition_key: "k".into(),
            data: b"raw".to_vec(),
            arrival_ms: 1_700_000_000_000,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 21, 5, 9).unwrap()
    }

    #[test]
    fn default_prefix_gets_hour_folders() {
        assert_eq!(
            resolve_prefix("firehose/", &BTreeMap::new(), None, now()),
            "firehose/2026/11/25/21/"
        );
        assert!(object_name("s", now()).starts_with("s-1-2026-11-25-21-05-09-"));
    }

    #[test]
    fn error_prefix_names_the_output_type_and_date() {
        let p = "firehose-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/";
        assert_eq!(
            resolve_prefix(p, &BTreeMap::new(), Some("processing-failed"), now()),
            "firehose-errors/processing-failed/2026/11/25/"
        );
    }

    #[test]
    fn dynamic_prefix_uses_partition_keys() {
        let keys = BTreeMap::from([("type".to_string(), "click".to_string())]);
        assert_eq!(
            resolve_prefix(
                "firehose/type=!{partitionKeyFromLambda:type}/",
                &keys,
                None,
                now()
            ),
            "firehose/type=click/"
        );
    }

    #[test]
    fn answers_are_held_to_the_contract() {
        let b = vec![rec("1"), rec("2")];
        let ok = json!({"records": [
            {"recordId": record_id(0, &b[0]), "result": "Ok", "data": "eyJhIjoxfQo="},
            {"recordId": record_id(1, &b[1]), "result": "Dropped", "data": ""}]});
        let out = apply_response(&b, &ok).unwrap();
        assert_eq!(
            out[0],
            Outcome::Deliver {
                data: b"{\"a\":1}\n".to_vec(),
                partition_keys: BTreeMap::new()
            }
        );
        assert_eq!(out[1], Outcome::Dropped);
        let swapped = json!({"records": [
            {"recordId": record_id(1, &b[1]), "result": "Ok", "data": ""},
            {"recordId": record_id(0, &b[0]), "result": "Ok", "data": ""}]});
        assert!(apply_response(&b, &swapped).is_err());
        let bad_result = json!({"records": [
            {"recordId": record_id(0, &b[0]), "result": "OK", "data": ""},
            {"recordId": record_id(1, &b[1]), "result": "Ok", "data": ""}]});
        assert!(apply_response(&b, &bad_result).is_err());
        assert!(apply_response(&b, &json!({"records": []})).is_err());
    }
}

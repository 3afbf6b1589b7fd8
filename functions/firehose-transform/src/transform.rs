//! One record, start to finish: base64 -> the decode chain -> the configured options
//! (enrichment, drop filter, partition keys) -> newline-framed output. Pure and synchronous.
//!
//! Options act on each output line, in this order:
//! 1. enrichment adds the arrival time and, for a Kinesis source, the partition key and
//!    sequence number to every JSON *object* line (other JSON values are left as they are);
//!    a field the line already has is kept, never overwritten;
//! 2. the drop filter removes lines whose value at the pointer equals the configured value
//!    (a CloudWatch Logs record is filtered event by event); a record left with no lines is
//!    `Dropped`;
//! 3. partition keys are read from the record's **first remaining line**. Firehose delivers
//!    one record's data under one prefix, so a CloudWatch Logs record with several events
//!    takes the keys of its first event; keys from the envelope (`/logGroup`, `/logStream`,
//!    `/owner`) are the same for every event of a record. A missing, null, object, array or
//!    empty-string value is `ProcessingFailed`, as the issue asks: never a made-up prefix.
//!
//! Enrichment and filtering run before partitioning, so a key may use an enriched field.

use crate::config::Config;
use crate::decode::{decode, Decoded, DropReason, Lines};
use crate::error::RecordError;
use crate::event::FirehoseRecord;
use base64::Engine;
use chrono::{DateTime, SecondsFormat};
use serde_json::Value;
use std::collections::BTreeMap;
use trickle_shared::framing::push_line;
use trickle_shared::json::scalar_at_pointer;

/// A record ready to answer `Ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformed {
    /// The output lines, each ending with exactly one `\n` (not yet base64).
    pub data: Vec<u8>,
    /// `Some` exactly when partition keys are configured.
    pub partition_keys: Option<BTreeMap<String, String>>,
}

/// What became of one record before the response budget is applied.
#[derive(Debug)]
pub enum Outcome {
    Ok(Transformed),
    Dropped(DropReason),
    Failed(RecordError),
}

/// Transforms one record. Never panics, whatever the record holds.
pub fn transform_record(record: &FirehoseRecord, config: &Config) -> Outcome {
    match try_transform(record, config) {
        Ok(Decoded::Dropped(reason)) => Outcome::Dropped(reason),
        Ok(Decoded::Lines(lines)) => match apply_options(record, lines, config) {
            Ok(Some(t)) => Outcome::Ok(t),
            Ok(None) => Outcome::Dropped(DropReason::Filtered),
            Err(e) => Outcome::Failed(e),
        },
        Err(e) => Outcome::Failed(e),
    }
}

/// The record's data, base64-decoded.
pub fn original_bytes(record: &FirehoseRecord) -> Result<Vec<u8>, RecordError> {
    let data = record.data.as_deref().ok_or(RecordError::MissingData)?;
    Ok(base64::engine::general_purpose::STANDARD.decode(data)?)
}

fn try_transform(record: &FirehoseRecord, config: &Config) -> Result<Decoded, RecordError> {
    decode(&original_bytes(record)?, config.max_decompressed_bytes)
}

/// Applies the options; `None` when the filter removed every line.
fn apply_options(
    record: &FirehoseRecord,
    lines: Lines,
    config: &Config,
) -> Result<Option<Transformed>, RecordError> {
    if !config.inspects_lines() {
        // Already framed: the lines' buffer becomes the data, not a copy.
        return Ok(Some(Transformed {
            data: lines.into_text(),
            partition_keys: None,
        }));
    }
    let mut data = Vec::with_capacity(lines.framed_len());
    let extra = enrichment_fields(record, config);
    let mut first_value: Option<Option<Value>> = None;
    for line in lines.iter() {
        let mut line = line.to_vec();
        // Out-of-range numbers (1e400) are valid JSON that `Value` cannot hold: such a line
        // is kept as is, and reads as having no fields.
        let mut value = serde_json::from_slice::<Value>(&line).ok();
        if !extra.is_empty() {
            enrich(&mut line, value.as_mut(), &extra)?;
        }
        if let (Some(filter), Some(v)) = (&config.drop_filter, &value) {
            if scalar_at_pointer(v, &filter.pointer).as_deref() == Some(filter.value.as_str()) {
                continue;
            }
        }
        push_line(&mut data, &line);
        if first_value.is_none() {
            first_value = Some(value);
        }
    }
    let Some(first) = first_value else {
        return Ok(None);
    };
    let partition_keys = if config.partition_keys.is_empty() {
        None
    } else {
        let mut keys = BTreeMap::new();
        for spec in &config.partition_keys {
            let value = first
                .as_ref()
                .and_then(|v| scalar_at_pointer(v, &spec.pointer))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| RecordError::MissingPartitionKey(spec.name.clone()))?;
            keys.insert(spec.name.clone(), value);
        }
        Some(keys)
    };
    Ok(Some(Transformed {
        data,
        partition_keys,
    }))
}

/// The (field, value) pairs enrichment adds for this record.
fn enrichment_fields(record: &FirehoseRecord, config: &Config) -> Vec<(String, String)> {
    let Some(e) = &config.enrichment else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Firehose's approximateArrivalTimestamp is in milliseconds.
    if let Some(time) = record
        .approximate_arrival_timestamp
        .and_then(DateTime::from_timestamp_millis)
    {
        out.push((
            e.arrival_time_field.clone(),
            time.to_rfc3339_opts(SecondsFormat::Millis, true),
        ));
    }
    if let Some(meta) = &record.kinesis_record_metadata {
        if let Some(pk) = &meta.partition_key {
            // A re-ingested copy is enriched with the key its original was written with.
            let original = trickle_shared::reingest::original_partition_key(pk);
            out.push((e.partition_key_field.clone(), original.to_owned()));
        }
        if let Some(seq) = &meta.sequence_number {
            out.push((e.sequence_number_field.clone(), seq.clone()));
        }
    }
    out
}

/// Adds the fields a JSON object line does not have yet, editing the text (so keys keep
/// their order and numbers their digits) and the parsed value alike.
fn enrich(
    line: &mut Vec<u8>,
    value: Option<&mut Value>,
    fields: &[(String, String)],
) -> Result<(), RecordError> {
    if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
        return Ok(());
    }
    let mut object = match value {
        Some(Value::Object(map)) => Some(map),
        Some(_) => return Ok(()),
        None => None,
    };
    let mut added = Vec::new();
    for (name, text) in fields {
        if let Some(map) = object.as_mut() {
            if map.contains_key(name) {
                continue;
            }
            map.insert(name.clone(), Value::String(text.clone()));
        }
        if !added.is_empty() || line.len() > 2 {
            added.push(b',');
        }
        added.extend(serde_json::to_vec(name).map_err(|e| RecordError::Encode(e.to_string()))?);
        added.push(b':');
        added.extend(serde_json::to_vec(text).map_err(|e| RecordError::Encode(e.to_string()))?);
    }
    if !added.is_empty() {
        line.pop();
        line.extend_from_slice(&added);
        line.push(b'}');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DropFilter, Enrichment, PartitionKeySpec};
    use crate::event::KinesisRecordMetadata;

    fn record(data: &[u8]) -> FirehoseRecord {
        FirehoseRecord {
            record_id: "r".into(),
            approximate_arrival_timestamp: Some(1_495_072_949_453),
            data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
            kinesis_record_metadata: None,
        }
    }

    fn ok_text(o: Outcome) -> String {
        match o {
            Outcome::Ok(t) => String::from_utf8(t.data).unwrap(),
            other => panic!("expected Ok, got {other:?}"),
        }
    }

    fn enriched() -> Config {
        Config {
            enrichment: Some(Enrichment {
                arrival_time_field: "at".into(),
                partition_key_field: "pk".into(),
                sequence_number_field: "seq".into(),
            }),
            ..Config::default()
        }
    }

    #[test]
    fn frames_each_line_with_one_newline() {
        assert_eq!(
            ok_text(transform_record(
                &record(b"{\"a\":1}\n\n"),
                &Config::default()
            )),
            "{\"a\":1}\n"
        );
    }

    #[test]
    fn invalid_base64_or_missing_data_fails_the_record() {
        let mut r = record(b"x");
        r.data = Some("not base64!".into());
        assert!(matches!(
            transform_record(&r, &Config::default()),
            Outcome::Failed(RecordError::InvalidBase64(_))
        ));
        r.data = None;
        assert!(matches!(
            transform_record(&r, &Config::default()),
            Outcome::Failed(RecordError::MissingData)
        ));
    }

    #[test]
    fn enrichment_adds_arrival_time_in_milliseconds_and_kinesis_fields() {
        let mut r = record(br#"{"b":2,"a":1}"#);
        r.kinesis_record_metadata = Some(KinesisRecordMetadata {
            partition_key: Some("p-1".into()),
            sequence_number: Some("4954".into()),
            ..Default::default()
        });
        assert_eq!(
            ok_text(transform_record(&r, &enriched())),
            "{\"b\":2,\"a\":1,\"at\":\"2017-05-18T02:02:29.453Z\",\"pk\":\"p-1\",\"seq\":\"4954\"}\n"
        );
    }

    #[test]
    fn enrichment_keeps_existing_fields_and_skips_non_objects() {
        assert_eq!(
            ok_text(transform_record(&record(br#"{"at":"mine"}"#), &enriched())),
            "{\"at\":\"mine\"}\n"
        );
        assert_eq!(
            ok_text(transform_record(&record(b"{}"), &enriched())),
            "{\"at\":\"2017-05-18T02:02:29.453Z\"}\n"
        );
        assert_eq!(
            ok_text(transform_record(&record(b"[1]"), &enriched())),
            "[1]\n"
        );
        assert_eq!(
            ok_text(transform_record(&record(b"hi"), &enriched())),
            "{\"message\":\"hi\",\"at\":\"2017-05-18T02:02:29.453Z\"}\n"
        );
    }

    #[test]
    fn drop_filter_drops_matching_records() {
        let c = Config {
            drop_filter: Some(DropFilter {
                pointer: "/level".into(),
                value: "debug".into(),
            }),
            ..Config::default()
        };
        assert!(matches!(
            transform_record(&record(br#"{"level":"debug"}"#), &c),
            Outcome::Dropped(DropReason::Filtered)
        ));
        assert_eq!(
            ok_text(transform_record(&record(br#"{"level":"info"}"#), &c)),
            "{\"level\":\"info\"}\n"
        );
        assert_eq!(
            ok_text(transform_record(&record(b"text"), &c)),
            "{\"message\":\"text\"}\n"
        );
    }

    fn partitioned() -> Config {
        Config {
            partition_keys: vec![
                PartitionKeySpec {
                    name: "customer".into(),
                    pointer: "/customer/id".into(),
                },
                PartitionKeySpec {
                    name: "n".into(),
                    pointer: "/n".into(),
                },
            ],
            ..Config::default()
        }
    }

    #[test]
    fn partition_keys_come_from_the_line() {
        match transform_record(
            &record(br#"{"customer":{"id":"c-9"},"n":3}"#),
            &partitioned(),
        ) {
            Outcome::Ok(t) => {
                let keys = t.partition_keys.unwrap();
                assert_eq!(keys["customer"], "c-9");
                assert_eq!(keys["n"], "3");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_or_empty_partition_key_fails_the_record() {
        for data in [
            &br#"{"n":3}"#[..],
            br#"{"customer":{"id":""},"n":3}"#,
            br#"{"customer":{"id":null},"n":3}"#,
            b"text",
        ] {
            assert!(
                matches!(
                    transform_record(&record(data), &partitioned()),
                    Outcome::Failed(RecordError::MissingPartitionKey(k)) if k == "customer"
                ),
                "{}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn no_metadata_without_partition_keys() {
        match transform_record(&record(b"{}"), &Config::default()) {
            Outcome::Ok(t) => assert_eq!(t.partition_keys, None),
            other => panic!("{other:?}"),
        }
    }
}

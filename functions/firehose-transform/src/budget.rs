//! Keeping the serialized response within its budget (6,000,000 bytes: Lambda's 6 MB
//! response limit less headroom). Pure.
//!
//! The size is computed exactly, before any base64 is produced: every entry's JSON is
//! `{"recordId":<id>,"result":"<result>","data":"<base64>"[,"metadata":{...}]}` and base64
//! text needs no escaping, so an entry's length is its length with empty data plus the
//! base64 length. Entries are joined with `,` inside `{"records":[...]}`.
//!
//! Placement, in input order:
//! 1. Every record first reserves its smallest possible entry: its final result with empty
//!    data, or `ProcessingFailed` with empty data for records that would be `Ok` (an overflow
//!    record ends as `Dropped` or, if re-ingestion fails, `ProcessingFailed`: the reservation
//!    covers the longer). The sum is the floor of the response.
//! 2. Each `Ok` record then takes the extra bytes of its data and metadata if they fit in what
//!    is left; otherwise it overflows (re-ingested, then `Dropped`). Later, smaller records
//!    may still fit: first fit, in order.
//! 3. A record whose `Ok` entry alone exceeds the budget would overflow again in every later
//!    invocation: it is not re-ingested as it is. The handler splits a CloudWatch Logs record
//!    with several events into two halves and re-ingests those (as AWS's blueprint does);
//!    anything else is `ProcessingFailed`.

use crate::event::{ResponseMetadata, TransformResult};
use serde::Serialize;

/// `{"records":[` and `]}`.
pub const ENVELOPE_BYTES: usize = r#"{"records":[]}"#.len();

/// The length of `n` bytes in padded standard base64.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Mirrors `event::ResponseRecord`'s serialization (same names, order and skipping), borrowed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryShape<'a> {
    record_id: &'a str,
    result: TransformResult,
    data: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a ResponseMetadata>,
}

/// Counts bytes without storing them.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The exact serialized length of a value (compact `serde_json`, as the runtime sends it).
pub fn serialized_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut counter = ByteCounter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        // Our response types cannot fail to serialize; count the worst case if they ever do.
        Err(_) => usize::MAX / 4,
    }
}

/// The exact length of one response entry whose data is `data_bytes` before base64.
pub fn entry_len(
    record_id: &str,
    result: TransformResult,
    data_bytes: usize,
    metadata: Option<&ResponseMetadata>,
) -> usize {
    serialized_len(&EntryShape {
        record_id,
        result,
        data: "",
        metadata,
    }) + base64_len(data_bytes)
}

/// One record as placement sees it.
#[derive(Debug, Clone, Copy)]
pub enum Candidate<'a> {
    /// Would be `Ok` with this many data bytes (before base64) and this metadata.
    Ok {
        record_id: &'a str,
        data_bytes: usize,
        metadata: Option<&'a ResponseMetadata>,
    },
    /// Already `Dropped` or `ProcessingFailed`, with empty data.
    Final {
        record_id: &'a str,
        result: TransformResult,
    },
}

/// Where a candidate ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the response as `Ok`.
    Ok,
    /// Its final result, unchanged.
    Final(TransformResult),
    /// Does not fit this response: re-ingest, then `Dropped` (or `ProcessingFailed`).
    Overflow,
    /// Its `Ok` entry alone exceeds the budget: `ProcessingFailed`.
    TooLarge { entry_bytes: usize },
}

/// The placement of every candidate, and the largest size the response can reach.
pub fn place(candidates: &[Candidate<'_>], budget: usize) -> (Vec<Placement>, usize) {
    let separators = candidates.len().saturating_sub(1);
    let floor_of = |c: &Candidate<'_>| match *c {
        Candidate::Ok { record_id, .. } => {
            entry_len(record_id, TransformResult::ProcessingFailed, 0, None)
        }
        Candidate::Final { record_id, result } => entry_len(record_id, result, 0, None),
    };
    let mut size = ENVELOPE_BYTES + separators + candidates.iter().map(floor_of).sum::<usize>();
    let placements = candidates
        .iter()
        .map(|c| match *c {
            Candidate::Final { result, .. } => Placement::Final(result),
            Candidate::Ok {
                record_id,
                data_bytes,
                metadata,
            } => {
                let ok = entry_len(record_id, TransformResult::Ok, data_bytes, metadata);
                if ENVELOPE_BYTES + ok > budget {
                    return Placement::TooLarge { entry_bytes: ok };
                }
                // `size` holds this record's floor; an `Ok` entry can be shorter than it
                // ("Ok" vs "ProcessingFailed" with little data), so swap rather than add.
                let with_ok = size - floor_of(c) + ok;
                if with_ok <= budget {
                    size = with_ok;
                    Placement::Ok
                } else {
                    Placement::Overflow
                }
            }
        })
        .collect();
    (placements, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{FirehoseResponse, ResponseRecord};
    use base64::Engine;

    fn response(entries: &[(&str, TransformResult, usize, Option<ResponseMetadata>)]) -> Vec<u8> {
        serde_json::to_vec(&FirehoseResponse {
            records: entries
                .iter()
                .map(|(id, result, n, metadata)| ResponseRecord {
                    record_id: id.to_string(),
                    result: *result,
                    data: base64::engine::general_purpose::STANDARD.encode(vec![7u8; *n]),
                    metadata: metadata.clone(),
                })
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn entry_length_is_exact_including_escapes_and_metadata() {
        let meta = ResponseMetadata {
            partition_keys: [("k\"1".to_string(), "v/é".to_string())].into(),
        };
        for (id, n, m) in [
            ("a", 0, None),
            ("i\"d\\\u{1}", 1, None),
            ("x", 5, Some(meta.clone())),
        ] {
            let one = response(&[(id, TransformResult::Ok, n, m.clone())]);
            assert_eq!(
                ENVELOPE_BYTES + entry_len(id, TransformResult::Ok, n, m.as_ref()),
                one.len()
            );
        }
    }

    #[test]
    fn keeps_within_budget_first_fit_in_order() {
        let c = |id, n| Candidate::Ok {
            record_id: id,
            data_bytes: n,
            metadata: None,
        };
        let one = ENVELOPE_BYTES + entry_len("a", TransformResult::Ok, 300, None);
        // Room for the first record and a little more.
        let budget = one + 200;
        let (p, size) = place(&[c("a", 300), c("b", 300), c("c", 30)], budget);
        assert_eq!(p, vec![Placement::Ok, Placement::Overflow, Placement::Ok]);
        assert!(size <= budget);
        let actual = response(&[
            ("a", TransformResult::Ok, 300, None),
            ("b", TransformResult::ProcessingFailed, 0, None),
            ("c", TransformResult::Ok, 30, None),
        ]);
        assert_eq!(actual.len(), size);
    }

    #[test]
    fn a_record_too_large_for_any_response_is_not_re_ingested() {
        let (p, _) = place(
            &[Candidate::Ok {
                record_id: "a",
                data_bytes: 1000,
                metadata: None,
            }],
            500,
        );
        assert!(matches!(p[0], Placement::TooLarge { .. }));
    }

    #[test]
    fn final_results_stay() {
        let (p, size) = place(
            &[Candidate::Final {
                record_id: "a",
                result: TransformResult::Dropped,
            }],
            1000,
        );
        assert_eq!(p, vec![Placement::Final(TransformResult::Dropped)]);
        assert_eq!(
            size,
            response(&[("a", TransformResult::Dropped, 0, None)]).len()
        );
    }
}

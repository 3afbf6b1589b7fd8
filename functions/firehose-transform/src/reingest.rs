//! Putting overflow records back into the source, with the call limits and retries.
//!
//! - Entries are split, in order, into calls within the target's limits (Kinesis PutRecords:
//!   500 entries, 5 MiB with partition keys; Firehose PutRecordBatch: 500 entries, 4 MiB).
//! - Neither call is atomic: only the failed entries (or all entries of a failed call) are
//!   sent again, with exponential backoff and full jitter, up to `max_attempts` in all.
//! - An entry is re-ingested only when the service answered it with success. Whatever is
//!   still failed at the end is reported, and the handler answers it `ProcessingFailed`:
//!   never `Dropped` unless it is back in the source.

use crate::sink::{EntryResult, ReingestEntry, ReingestSink, ReingestTarget};
use std::time::Duration;

/// Backoff: first delay ceiling.
pub const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Backoff: largest delay ceiling.
pub const BACKOFF_CAP: Duration = Duration::from_millis(2_000);
/// The error code of an entry never attempted.
pub const NOT_ATTEMPTED: &str = "NotAttempted";

/// "Full jitter" between attempts.
pub fn backoff_delay(attempt: u32, unit_random: f64) -> Duration {
    trickle_shared::batching::full_jitter(attempt, BACKOFF_BASE, BACKOFF_CAP, unit_random)
}

/// Re-ingests every entry; one result per entry, in order.
pub async fn reingest<S: ReingestSink>(
    sink: &S,
    target: &ReingestTarget,
    entries: &[ReingestEntry],
    max_attempts: u32,
) -> Vec<EntryResult> {
    let mut results: Vec<EntryResult> = vec![Err(NOT_ATTEMPTED.to_owned()); entries.len()];
    let mut pending: Vec<usize> = (0..entries.len()).collect();
    for attempt in 0..max_attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(backoff_delay(attempt - 1, fastrand::f64())).await;
        }
        let sizes: Vec<usize> = pending
            .iter()
            .map(|&i| target.billed_bytes(&entries[i]))
            .collect();
        for range in trickle_shared::batching::chunk_ranges(
            &sizes,
            target.max_entries(),
            target.max_request_bytes(),
        ) {
            let indices = &pending[range];
            let batch: Vec<&ReingestEntry> = indices.iter().map(|&i| &entries[i]).collect();
            match sink.put_batch(target, &batch).await {
                Ok(answers) if answers.len() == indices.len() => {
                    for (&i, answer) in indices.iter().zip(answers) {
                        results[i] = answer;
                    }
                }
                Ok(answers) => {
                    let code = format!("{} results for {} entries", answers.len(), indices.len());
                    for &i in indices {
                        results[i] = Err(code.clone());
                    }
                }
                Err(e) => {
                    tracing::warn!(attempt, code = %e.code, error = %e, "re-ingestion call failed");
                    for &i in indices {
                        results[i] = Err(e.code.clone());
                    }
                }
            }
        }
        pending.retain(|&i| results[i].is_err());
        if pending.is_empty() {
            break;
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::memory::{MemoryReingestSink, Script};

    fn kinesis() -> ReingestTarget {
        ReingestTarget::KinesisStream {
            stream_arn: "arn:aws:kinesis:us-east-1:1:stream/s".into(),
        }
    }

    fn entries(n: usize) -> Vec<ReingestEntry> {
        (0..n)
            .map(|i| ReingestEntry {
                data: i.to_string().into_bytes(),
                partition_key: Some(format!("k{i}")),
                explicit_hash_key: None,
            })
            .collect()
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        assert_eq!(backoff_delay(0, 0.0), Duration::ZERO);
        assert_eq!(backoff_delay(0, 1.0), BACKOFF_BASE);
        assert_eq!(backoff_delay(2, 1.0), BACKOFF_BASE * 4);
        assert_eq!(backoff_delay(50, 1.0), BACKOFF_CAP);
    }

    #[tokio::test]
    async fn retries_only_the_failed_subset_with_its_partition_keys() {
        let sink = MemoryReingestSink::new();
        sink.script([Script::EntriesFail(vec![1, 3])]);
        let results = reingest(&sink, &kinesis(), &entries(5), 3).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(*sink.calls.lock().unwrap(), vec![5, 2]);
        let mut written = sink.written_entries();
        written.sort_by(|a, b| a.data.cmp(&b.data));
        assert_eq!(written, entries(5));
    }

    #[tokio::test]
    async fn retries_a_failed_call_then_reports_what_is_still_failed() {
        let sink = MemoryReingestSink::new();
        *sink.always.lock().unwrap() = Some(Script::CallFails);
        let results = reingest(&sink, &kinesis(), &entries(2), 3).await;
        assert_eq!(*sink.calls.lock().unwrap(), vec![2, 2, 2]);
        assert!(results
            .iter()
            .all(|r| r.as_ref().err().map(String::as_str) == Some("ServiceUnavailable")));
        assert!(sink.written_entries().is_empty());
    }

    #[tokio::test]
    async fn splits_more_than_500_entries_into_calls() {
        let sink = MemoryReingestSink::new();
        let results = reingest(&sink, &kinesis(), &entries(1200), 1).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(*sink.calls.lock().unwrap(), vec![500, 500, 200]);
    }
}

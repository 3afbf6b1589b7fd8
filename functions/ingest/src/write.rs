//! Writing entries with Kinesis' limits and retry semantics.
//!
//! - Entries are split, in order, into PutRecords calls of at most 500 entries and 5 MiB
//!   (data plus partition keys); a single entry uses PutRecord.
//! - PutRecords is not atomic: each entry succeeds or fails on its own. Only the failed,
//!   retryable entries (throttling, InternalFailure) are sent again, with exponential backoff
//!   and full jitter, until the retry budget is spent.
//! - A non-retryable failure of a whole call stops the write: nothing after it is attempted,
//!   so the answer tells the client exactly which records are in the stream.

use crate::body::Entry;
use crate::sink::{EntryOutcome, RecordSink, SinkError};
use std::ops::Range;
use std::time::{Duration, Instant};
use trickle_shared::batching;
use trickle_shared::limits::{PUT_RECORDS_MAX_ENTRIES, PUT_RECORDS_MAX_REQUEST_BYTES};

/// Backoff: first delay ceiling.
pub const BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Backoff: largest delay ceiling.
pub const BACKOFF_CAP: Duration = Duration::from_millis(1_000);
/// The error code given to entries never attempted after a fatal call failure.
pub const NOT_ATTEMPTED: &str = "NotAttempted";

/// Splits `sizes` (billed bytes per entry) into consecutive ranges that fit one PutRecords call.
pub fn chunk_ranges(sizes: &[usize]) -> Vec<Range<usize>> {
    batching::chunk_ranges(
        sizes,
        PUT_RECORDS_MAX_ENTRIES,
        PUT_RECORDS_MAX_REQUEST_BYTES,
    )
}

/// "Full jitter" between retries of throttled entries.
pub fn backoff_delay(attempt: u32, unit_random: f64) -> Duration {
    batching::full_jitter(attempt, BACKOFF_BASE, BACKOFF_CAP, unit_random)
}

/// The result of writing one request's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// One outcome per entry, in request order.
    pub outcomes: Vec<EntryOutcome>,
    /// Set when a call failed for a reason other than throttling.
    pub fatal: Option<SinkError>,
    /// Put calls made.
    pub calls: usize,
}

impl WriteReport {
    pub fn failed_count(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, EntryOutcome::Failed { .. }))
            .count()
    }
}

/// Writes every entry, retrying throttled ones within `budget`.
pub async fn write_all<S: RecordSink>(
    sink: &S,
    entries: &[Entry],
    budget: Duration,
) -> WriteReport {
    let deadline = Instant::now() + budget;
    let mut outcomes: Vec<EntryOutcome> = vec![
        EntryOutcome::Failed {
            error_code: NOT_ATTEMPTED.into(),
            error_message: "not attempted".into(),
        };
        entries.len()
    ];
    let mut pending: Vec<usize> = (0..entries.len()).collect();
    let mut calls = 0;
    let mut attempt = 0u32;
    loop {
        let fatal = write_pending(sink, entries, &pending, &mut outcomes, &mut calls).await;
        if fatal.is_some() {
            return WriteReport {
                outcomes,
                fatal,
                calls,
            };
        }
        pending.retain(|&i| outcomes[i].is_retryable_failure());
        if pending.is_empty() {
            break;
        }
        let delay = backoff_delay(attempt, fastrand::f64());
        if Instant::now() + delay >= deadline {
            break;
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
    WriteReport {
        outcomes,
        fatal: None,
        calls,
    }
}

/// One pass over the pending entries; returns the fatal error that stopped it, if any.
async fn write_pending<S: RecordSink>(
    sink: &S,
    entries: &[Entry],
    pending: &[usize],
    outcomes: &mut [EntryOutcome],
    calls: &mut usize,
) -> Option<SinkError> {
    if entries.len() == 1 {
        *calls += 1;
        return match sink.put_record(&entries[0]).await {
            Ok(o) => {
                outcomes[0] = o;
                None
            }
            Err(SinkError::Throttled { code }) => {
                outcomes[0] = throttled(code);
                None
            }
            Err(e) => Some(fail_from(e, pending, outcomes)),
        };
    }
    let sizes: Vec<usize> = pending.iter().map(|&i| entries[i].billed_bytes()).collect();
    for range in chunk_ranges(&sizes) {
        let indices = &pending[range];
        let batch: Vec<&Entry> = indices.iter().map(|&i| &entries[i]).collect();
        *calls += 1;
        match sink.put_records(&batch).await {
            Ok(results) => {
                for (&i, o) in indices.iter().zip(results) {
                    outcomes[i] = o;
                }
            }
            Err(SinkError::Throttled { code }) => {
                for &i in indices {
                    outcomes[i] = throttled(code.clone());
                }
            }
            Err(e) => {
                let first = indices[0];
                let rest: Vec<usize> = pending.iter().copied().filter(|&i| i >= first).collect();
                return Some(fail_from(e, &rest, outcomes));
            }
        }
    }
    None
}

fn throttled(code: String) -> EntryOutcome {
    EntryOutcome::Failed {
        error_message: "Rate exceeded; retry later".into(),
        error_code: code,
    }
}

/// Marks the entries of a fatally failed call (and those after it, never attempted).
fn fail_from(err: SinkError, indices: &[usize], outcomes: &mut [EntryOutcome]) -> SinkError {
    let code = match &err {
        SinkError::Throttled { code } | SinkError::Failed { code, .. } => code.clone(),
    };
    for &i in indices {
        if !matches!(outcomes[i], EntryOutcome::Written { .. }) {
            outcomes[i] = EntryOutcome::Failed {
                error_code: code.clone(),
                error_message: "the stream rejected the request".into(),
            };
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::memory::{MemorySink, Script};

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry {
                data: i.to_string().into_bytes().into(),
                partition_key: "k".into(),
                explicit_hash_key: None,
            })
            .collect()
    }

    #[test]
    fn chunks_at_put_records_limits() {
        let mib = 1024 * 1024;
        assert_eq!(
            chunk_ranges(&vec![10; 1001]),
            vec![0..500, 500..1000, 1000..1001]
        );
        assert_eq!(
            chunk_ranges(&[mib, mib, mib, mib, mib, 1, mib]),
            vec![0..5, 5..7]
        );
    }

    #[tokio::test]
    async fn retries_only_the_failed_subset() {
        let sink = MemorySink::new();
        sink.script([Script::EntriesFail(
            vec![1, 3],
            "ProvisionedThroughputExceededException",
        )]);
        let e = entries(5);
        let report = write_all(&sink, &e, Duration::from_secs(5)).await;
        assert_eq!(report.failed_count(), 0);
        assert_eq!(*sink.calls.lock().unwrap(), vec![5, 2]);
        let mut written = sink.written_data();
        written.sort();
        assert_eq!(
            written,
            e.iter().map(|e| e.data.clone()).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn reports_entries_still_throttled_when_the_budget_ends() {
        let sink = MemorySink::new();
        *sink.always.lock().unwrap() = Some(Script::EntriesFail(
            vec![0],
            "ProvisionedThroughputExceededException",
        ));
        let report = write_all(&sink, &entries(3), Duration::from_millis(30)).await;
        assert_eq!(report.fatal, None);
        assert_eq!(report.failed_count(), 1);
        assert!(report.outcomes[0].is_retryable_failure());
        assert!(matches!(report.outcomes[1], EntryOutcome::Written { .. }));
    }

    #[tokio::test]
    async fn stops_at_a_fatal_error_and_attempts_nothing_after_it() {
        let sink = MemorySink::new();
        let fatal = SinkError::Failed {
            code: "AccessDeniedException".into(),
            message: "no".into(),
        };
        sink.script([
            Script::EntriesFail(vec![], ""),
            Script::CallFails(fatal.clone()),
        ]);
        let report = write_all(&sink, &entries(1200), Duration::from_secs(1)).await;
        assert_eq!(report.fatal, Some(fatal));
        assert_eq!(report.calls, 2);
        assert_eq!(report.failed_count(), 700);
        assert_eq!(sink.written_data().len(), 500);
    }
}

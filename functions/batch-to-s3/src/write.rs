//! Writing a plan, and what is durably stored when a write fails.
//!
//! Lambda checkpoints a shard just before the lowest sequence number in `batchItemFailures`
//! and redelivers everything from there. So after a failure, what is stored must be exactly
//! the records *before* the one we report, or the retry duplicates data:
//!
//! 1. Objects are written one at a time, in plan order (by first record). Each data PUT is
//!    `If-None-Match: *`; a 412 means an earlier attempt stored an object under this
//!    data-derived key. It counts as stored only when that object is the planned one: its
//!    `records-sha256` metadata (the digest of the records it holds, see `plan.rs`) is the
//!    planned object's. Anything else is a failure, never a success: two different objects
//!    must never share a key, and one that does is not written over.
//! 2. If a PUT fails (after the SDK's own retries) or the invocation deadline is near,
//!    nothing after it is attempted. The first record not stored is the lowest first record
//!    of the unwritten objects. Written objects that hold that record or any later one would
//!    be written again by the retry, so they are deleted; deleting may lower the first
//!    unstored record again, and the rule is applied until nothing changes (`settle`).
//!    The object whose PUT failed is deleted too: a PUT whose answer was lost (a reset or a
//!    timeout on every attempt) may have been applied, and a retry re-formed with more
//!    records would store its records again under another key.
//! 3. The handler then reports that record as the only batch item failure and moves the
//!    high-water mark to the record before it.

use crate::error::WriteError;
use crate::plan::{ObjectKind, PlannedObject, META_RECORDS_DIGEST};
use crate::store::{ObjectStore, PutOutcome};
use std::time::{Duration, SystemTime};

/// An object stored by this invocation (or found stored by an earlier one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenObject {
    pub key: String,
    pub kind: ObjectKind,
    /// False when the PUT answered 412: an earlier attempt had stored it.
    pub created: bool,
    pub bytes: usize,
    /// User records in it.
    pub user_records: usize,
    pub first: usize,
    pub last: usize,
}

/// The result of writing a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteReport {
    /// Objects stored, in plan order.
    pub written: Vec<WrittenObject>,
    /// The first object not stored and why (nothing after it was attempted).
    pub failure: Option<(usize, WriteError)>,
    /// The key of a PUT that failed: S3 may have stored it even so (the answer can be lost
    /// after S3 applied the write), so its outcome is unknown and it must be rolled back
    /// like the written objects after the failure point.
    pub uncertain_key: Option<String>,
}

/// Writes the objects in order, stopping at the first failure.
pub async fn write_plan<S: ObjectStore>(
    store: &S,
    objects: Vec<PlannedObject>,
    deadline: Option<SystemTime>,
    margin: Duration,
) -> WriteReport {
    let mut report = WriteReport::default();
    for (index, o) in objects.into_iter().enumerate() {
        if deadline.is_some_and(|d| SystemTime::now() + margin > d) {
            report.failure = Some((index, WriteError::DeadlineNear));
            break;
        }
        let key = o.put.key.clone();
        let bytes = o.put.body.len();
        let digest = records_digest_in(&o.put.metadata).map(str::to_owned);
        let outcome = match store.put_object(o.put).await {
            Ok(PutOutcome::PreconditionFailed) => match store.object_metadata(&key).await {
                Ok(Some(stored))
                    if digest.is_some() && records_digest_in(&stored) == digest.as_deref() =>
                {
                    Ok(PutOutcome::PreconditionFailed)
                }
                // Gone again (a rollback raced us) or another object: not ours to count.
                Ok(_) => {
                    tracing::error!(key = %key, "a key holds another object than the planned one");
                    report.failure = Some((index, WriteError::KeyHoldsAnotherObject { key }));
                    break;
                }
                Err(e) => {
                    report.failure = Some((index, WriteError::Store(e)));
                    break;
                }
            },
            other => other,
        };
        match outcome {
            Ok(outcome) => report.written.push(WrittenObject {
                key,
                kind: o.kind,
                created: matches!(outcome, PutOutcome::Created { .. }),
                bytes,
                user_records: o.user_records,
                first: o.first,
                last: o.last,
            }),
            Err(e) => {
                report.failure = Some((index, WriteError::Store(e)));
                report.uncertain_key = Some(key);
                break;
            }
        }
    }
    report
}

/// The `records-sha256` of an object's metadata (planned, or as S3 gives it back).
fn records_digest_in(metadata: &[(String, String)]) -> Option<&str> {
    metadata
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(META_RECORDS_DIGEST))
        .map(|(_, v)| v.as_str())
}

/// What stays stored after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Index of the first record not stored (the one to report).
    pub retry_from: usize,
    /// For each written object: keep it (true) or delete it (false).
    pub keep: Vec<bool>,
}

/// Given every planned object's record range `(first, last)` in write order, of which the
/// first `written` were stored, finds the first unstored record and the written objects
/// that hold only records before it. `None` when everything was written.
pub fn settle(ranges: &[(usize, usize)], written: usize) -> Option<Settled> {
    let mut retry_from = ranges.get(written..)?.iter().map(|r| r.0).min()?;
    let mut keep = vec![true; written];
    loop {
        let mut changed = false;
        for (i, &(first, last)) in ranges[..written].iter().enumerate() {
            if keep[i] && last >= retry_from {
                keep[i] = false;
                retry_from = retry_from.min(first);
                changed = true;
            }
        }
        if !changed {
            return Some(Settled { retry_from, keep });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nothing_to_settle_when_all_written() {
        assert_eq!(settle(&[(0, 5), (2, 9)], 2), None);
    }

    #[test]
    fn keeps_objects_wholly_before_the_failure() {
        // Unpartitioned with an error object in the middle: [0..3] data, then error [4..4]
        // fails: the data object is before record 4 and stays.
        let s = settle(&[(0, 3), (4, 4), (5, 9)], 1).unwrap();
        assert_eq!(
            s,
            Settled {
                retry_from: 4,
                keep: vec![true]
            }
        );
    }

    #[test]
    fn deletes_interleaved_partition_objects_and_lowers_the_retry_point() {
        // Partition a holds records 0..9, partition b 2..7 (fails): a must go, so the
        // first unstored record becomes 0.
        let s = settle(&[(0, 9), (2, 7)], 1).unwrap();
        assert_eq!(
            s,
            Settled {
                retry_from: 0,
                keep: vec![false]
            }
        );
        // Chain: c (5..6) forces b (3..8) out, which forces a (1..4) out.
        let s = settle(&[(1, 4), (3, 8), (5, 6)], 2).unwrap();
        assert_eq!(s.retry_from, 1);
        assert_eq!(s.keep, vec![false, false]);
    }

    fn planned(key: &str, records: &[&[u8]]) -> PlannedObject {
        use crate::store::{Condition, PutObject};
        PlannedObject {
            put: PutObject {
                key: key.into(),
                body: records.concat(),
                content_type: "application/x-ndjson",
                content_encoding: None,
                metadata: vec![(
                    META_RECORDS_DIGEST.into(),
                    crate::plan::records_digest(records.iter().copied()),
                )],
                condition: Condition::IfNoneMatch,
            },
            kind: ObjectKind::Data,
            first: 0,
            last: 0,
            user_records: records.len(),
            raw_bytes: 0,
        }
    }

    /// Found with hostile input: a 412 was counted as "already stored" whatever the key
    /// held. Only the planned object itself counts.
    #[tokio::test]
    async fn a_412_counts_as_stored_only_for_the_planned_object() {
        use crate::store::memory::MemoryStore;
        let store = MemoryStore::new();
        let first = write_plan(&store, vec![planned("k", &[b"a"])], None, Duration::ZERO).await;
        assert!(first.failure.is_none() && first.written[0].created);
        // The same object again (a retry): stored already.
        let again = write_plan(&store, vec![planned("k", &[b"a"])], None, Duration::ZERO).await;
        assert!(again.failure.is_none());
        assert!(!again.written[0].created);
        // Another object under the same key: a failure, never a success, and not deleted.
        let other = write_plan(&store, vec![planned("k", &[b"b"])], None, Duration::ZERO).await;
        assert!(other.written.is_empty());
        assert!(matches!(
            other.failure,
            Some((0, WriteError::KeyHoldsAnotherObject { .. }))
        ));
        assert_eq!(other.uncertain_key, None);
        assert_eq!(store.object("k").unwrap().body, b"a");
    }

    proptest! {
        /// After settling, kept objects hold only records before the retry point, and every
        /// unkept or unwritten object starts at or after it: the stored set is a prefix.
        #[test]
        fn the_stored_set_is_a_prefix(
            raw in proptest::collection::vec((0usize..50, 0usize..10), 1..12),
            written_frac in 0usize..12,
        ) {
            let mut ranges: Vec<(usize, usize)> = raw.iter().map(|&(f, len)| (f, f + len)).collect();
            ranges.sort();
            let written = written_frac % ranges.len();
            let s = settle(&ranges, written).unwrap();
            for (i, &(first, last)) in ranges.iter().enumerate() {
                let kept = i < written && s.keep[i];
                if kept {
                    prop_assert!(last < s.retry_from);
                } else {
                    prop_assert!(first >= s.retry_from);
                }
            }
        }
    }
}

//! The write intent: what an invocation is about to PUT, recorded in the shard's state before
//! the first data PUT, so that a process killed at any point (out of memory, a timeout, the
//! sandbox reclaimed) leaves enough behind for the next invocation to know exactly what is
//! stored, whatever batch Lambda delivers next (the same, a bisected half, or one re-formed
//! with newer records).
//!
//! The shard's state object goes through three states per invocation, each written with a
//! conditional PUT on the ETag read before:
//!
//! 1. `{mark}`: the high-water mark, as before;
//! 2. `{mark, intent}`: before the first data PUT, the planned objects in write order with
//!    the range of records each holds and the sequence numbers the mark would move to;
//! 3. `{mark'}`: after the objects are written (or rolled back to a stored prefix), the new
//!    mark and no intent.
//!
//! An invocation that reads an intent (its predecessor died between 2 and 3) settles it
//! before anything else: it asks S3 which of the planned objects exist (HeadObject, in write
//! order), and since objects are written one at a time in that order, the stored ones are a
//! prefix. From that prefix `write::settle` gives the stored records exactly as after a
//! failed PUT: objects that hold only records before the first unstored one stay, the others
//! are deleted (and the object after the prefix too: its PUT may have been in flight), and
//! the mark moves to the record before the first unstored one. Then the intent is cleared and
//! the batch is processed against the new mark, so no record is stored twice or lost.
//!
//! Cost: one more PUT (the intent) per invocation that writes anything; settling an intent
//! (only after a crash) costs one HEAD per planned object, the deletes, and one PUT.

use crate::write::settle;
use serde::{Deserialize, Serialize};
use trickle_shared::SequenceNumber;

/// One planned object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentObject {
    pub key: String,
    /// Index (in the planned records) of the first and last record it holds any of.
    pub first: usize,
    pub last: usize,
}

/// What an invocation is about to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// In write order.
    pub objects: Vec<IntentObject>,
    /// The sequence numbers the mark can move to, by record index: the record before each
    /// object's first record, and the last planned record.
    pub marks: Vec<(usize, String)>,
    /// Records planned (the last may be in no object: a skipped re-ingested copy).
    pub records: usize,
}

/// What to do about an intent, given which of its objects exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The mark to move to (`None`: no record of the intent is stored; keep the old mark).
    pub mark: Option<SequenceNumber>,
    /// Objects to delete: they hold records at or after the first unstored one.
    pub delete: Vec<String>,
    /// Objects that stay.
    pub kept: usize,
}

impl Intent {
    /// The intent for objects `(key, first, last)` in write order over records whose
    /// sequence numbers are `sequences` (index = record index).
    pub fn new(objects: Vec<IntentObject>, sequences: &[&SequenceNumber]) -> Self {
        let mut indices: Vec<usize> = objects
            .iter()
            .filter_map(|o| o.first.checked_sub(1))
            .chain(sequences.len().checked_sub(1))
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let marks = indices
            .into_iter()
            .filter_map(|i| sequences.get(i).map(|s| (i, s.to_string())))
            .collect();
        Self {
            objects,
            marks,
            records: sequences.len(),
        }
    }

    fn mark_at(&self, index: usize) -> Result<SequenceNumber, String> {
        let text = self
            .marks
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, s)| s)
            .ok_or_else(|| format!("the intent has no sequence number for record {index}"))?;
        text.parse().map_err(|e| format!("{e}"))
    }

    /// Settles the intent: `exists[i]` says whether object `i` is in S3.
    pub fn settle(&self, exists: &[bool]) -> Result<Settlement, String> {
        let ranges: Vec<(usize, usize)> = self.objects.iter().map(|o| (o.first, o.last)).collect();
        // Objects are written one at a time in order: the stored ones are a prefix.
        let written = exists.iter().take_while(|e| **e).count();
        match settle(&ranges, written) {
            None => {
                let last = self
                    .records
                    .checked_sub(1)
                    .ok_or("an intent of no records")?;
                Ok(Settlement {
                    mark: Some(self.mark_at(last)?),
                    delete: Vec::new(),
                    kept: written,
                })
            }
            Some(s) => {
                let mark = match s.retry_from.checked_sub(1) {
                    Some(i) => Some(self.mark_at(i)?),
                    None => None,
                };
                let delete = self
                    .objects
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        // Not kept, and stored or possibly in flight (the one after the prefix);
                        // anything past that was never attempted, unless S3 says otherwise.
                        let kept = s.keep.get(*i).copied().unwrap_or(false);
                        !kept && (exists.get(*i).copied().unwrap_or(false) || *i == written)
                    })
                    .map(|(_, o)| o.key.clone())
                    .collect();
                Ok(Settlement {
                    mark,
                    delete,
                    kept: s.keep.iter().filter(|k| **k).count(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(n: usize) -> Vec<SequenceNumber> {
        (0..n)
            .map(|i| (100 + i).to_string().parse().unwrap())
            .collect()
    }

    fn intent(ranges: &[(usize, usize)], n: usize) -> Intent {
        let s = seqs(n);
        let refs: Vec<&SequenceNumber> = s.iter().collect();
        Intent::new(
            ranges
                .iter()
                .enumerate()
                .map(|(i, &(first, last))| IntentObject {
                    key: format!("k{i}"),
                    first,
                    last,
                })
                .collect(),
            &refs,
        )
    }

    fn mark(s: &Settlement) -> Option<String> {
        s.mark.as_ref().map(ToString::to_string)
    }

    #[test]
    fn all_written_moves_the_mark_to_the_last_record() {
        let i = intent(&[(0, 9)], 10);
        let s = i.settle(&[true]).unwrap();
        assert_eq!(mark(&s), Some("109".into()));
        assert!(s.delete.is_empty());
    }

    #[test]
    fn nothing_written_keeps_the_old_mark_and_deletes_the_one_in_flight() {
        let i = intent(&[(0, 4), (5, 9)], 10);
        let s = i.settle(&[false, false]).unwrap();
        assert_eq!(mark(&s), None);
        assert_eq!(s.delete, ["k0"]);
    }

    #[test]
    fn a_stored_prefix_moves_the_mark_before_the_first_unstored_record() {
        // Unpartitioned data 0..=3, an error object 4..=4, data 5..=9: the first two stored.
        let i = intent(&[(0, 3), (4, 4), (5, 9)], 10);
        let s = i.settle(&[true, true, false]).unwrap();
        assert_eq!(mark(&s), Some("104".into()));
        assert_eq!(s.delete, ["k2"]);
        assert_eq!(s.kept, 2);
    }

    #[test]
    fn interleaved_partitions_are_rolled_back_to_what_a_mark_can_say() {
        // Partition a holds 0..=9, b 2..=7: with only a stored, records 2.. are not, and a
        // holds some of them, so a goes and nothing is stored.
        let i = intent(&[(0, 9), (2, 7)], 10);
        let s = i.settle(&[true, false]).unwrap();
        assert_eq!(mark(&s), None);
        assert_eq!(s.delete, ["k0", "k1"]);
    }

    #[test]
    fn round_trips_as_json() {
        let i = intent(&[(0, 3), (4, 9)], 10);
        let text = serde_json::to_string(&i).unwrap();
        assert_eq!(serde_json::from_str::<Intent>(&text).unwrap(), i);
        assert_eq!(i.marks, [(3, "103".into()), (9, "109".into())]);
    }
}

//! What the writers share to store each identity once (`trickle_shared::identity`): which
//! user records of a batch to skip, and how a shard's window is kept beside its mark or
//! checkpoint.
//!
//! **Stream semantics.** A copy of a record has a later sequence number than its original and,
//! with the same explicit hash key, lands on the same shard (resharding in between is the
//! exception: see docs/reference/idempotency.md). A writer walks a batch in order:
//!
//! - a user record at or below the mark (stored by an earlier delivery) enters the window:
//!   after a crash the committed window may predate it, and the redelivered batch brings it
//!   back before any of its copies;
//! - a user record after the mark is skipped when its identity is held, else it enters the
//!   window.
//!
//! The decision depends only on the committed window and the records in sequence order, so a
//! retried, bisected or re-formed batch decides the same.
//!
//! **Where the window lives.** In an object of its own, in one of two slots per shard (and
//! table): a writer reads the slot its committed state names and writes the other, and only
//! the mark or checkpoint that names it (one conditional write or one commit) makes it the
//! window. A slot written by an attempt that did not commit is never read, and the next
//! attempt writes it again. The state names the slot with the MD5 of its content
//! (`WindowRef`), so a slot that changed under its reference is an error, never trusted.

use crate::decode::UserRecord;
use crate::event::SourceRecord;
use md5::{Digest, Md5};
use std::collections::HashSet;
use trickle_shared::identity::{
    claims_identity, Identity, IdentityWindow, Trimmed, WINDOW, WINDOW_MAX_IDENTITIES,
};

/// True when some record of the batch may carry an identity (ingest puts an aggregate of
/// keyed records under its first record's identity): only then is the window read.
pub fn may_carry_identities(records: &[SourceRecord]) -> bool {
    records.iter().any(|r| claims_identity(&r.partition_key))
}

/// The user records to skip, as (Kinesis record index, sub-record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skips {
    pub set: HashSet<(usize, Option<usize>)>,
    /// User records after `start` whose identity the window held (skipped, counted).
    pub duplicates: usize,
    /// Identities of records before `start` the window did not hold yet.
    pub healed: usize,
    pub trimmed: Trimmed,
}

impl Skips {
    pub fn skips(&self, u: &UserRecord<'_>) -> bool {
        self.set.contains(&(u.record, u.sub))
    }
}

/// Walks `users` (the (Kinesis record index into `records`, sub-record, identity) of each
/// user record with one, in order) against `window`: before `start` they enter it, from
/// `start` on those it holds are skipped; then trims it.
pub fn skip_stored(
    window: &mut IdentityWindow,
    records: &[SourceRecord],
    users: impl IntoIterator<Item = (usize, Option<usize>, Identity)>,
    start: usize,
) -> Skips {
    let mut skips = Skips::default();
    for (record, sub, id) in users {
        let arrival = records[record].arrival.timestamp_millis();
        let new = window.insert(id, arrival);
        if record < start {
            skips.healed += usize::from(new);
        } else if !new {
            skips.set.insert((record, sub));
            skips.duplicates += 1;
        }
    }
    skips.trimmed = window.trim(WINDOW, WINDOW_MAX_IDENTITIES);
    skips
}

/// The (record, sub-record, identity) of each user record of `records` that has one,
/// de-aggregating one Kinesis record at a time.
pub fn identities_in(
    records: &[SourceRecord],
) -> impl Iterator<Item = (usize, Option<usize>, Identity)> + '_ {
    crate::decode::each_user_record(records)
        .filter_map(|u| u.identity.map(|i| (u.record, u.sub, i)))
}

/// The (record, sub-record, identity) of each user record that has one.
pub fn identities_of<'a, 'b: 'a, I: IntoIterator<Item = &'a UserRecord<'b>>>(
    users: I,
) -> impl Iterator<Item = (usize, Option<usize>, Identity)> + use<'a, 'b, I> {
    users
        .into_iter()
        .filter_map(|u| u.identity.map(|i| (u.record, u.sub, i)))
}

/// One of a shard's two window slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn name(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
}

/// The committed window: its slot and the MD5 of its content, as `<slot>:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRef {
    pub slot: Slot,
    pub md5: String,
}

impl WindowRef {
    /// The reference to `bytes` written to `slot`.
    pub fn of(slot: Slot, bytes: &[u8]) -> Self {
        Self {
            slot,
            md5: hex(&Md5::digest(bytes)),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not an identity window reference (a:<md5> or b:<md5>)");
        let (slot, md5) = text.split_once(':').ok_or_else(bad)?;
        let slot = match slot {
            "a" => Slot::A,
            "b" => Slot::B,
            _ => return Err(bad()),
        };
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Self {
            slot,
            md5: md5.to_owned(),
        })
    }

    /// The window in `bytes` (the slot's content), checked against the reference.
    pub fn read(&self, bytes: &[u8]) -> Result<IdentityWindow, String> {
        let md5 = hex(&Md5::digest(bytes));
        if md5 != self.md5 {
            return Err(format!(
                "identity window slot {} changed under its reference (md5 {md5}, expected {})",
                self.slot.name(),
                self.md5
            ));
        }
        IdentityWindow::decode(bytes)
    }
}

impl std::fmt::Display for WindowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.slot.name(), self.md5)
    }
}

/// The slot the next window goes to: the one the committed window is not in.
pub fn next_slot(committed: Option<&WindowRef>) -> Slot {
    committed.map_or(Slot::A, |r| r.slot.other())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::user_records;
    use chrono::{DateTime, Utc};

    fn record(seq: u64, key: &str) -> SourceRecord {
        SourceRecord {
            sequence: seq.to_string().parse().unwrap(),
            sequence_text: seq.to_string(),
            partition_key: key.to_owned(),
            arrival: DateTime::<Utc>::from_timestamp_millis(1_700_000_000_000 + seq as i64)
                .unwrap(),
            data: b"{}".to_vec(),
        }
    }

    const ID: &str = "00112233445566778899aabbccddeeff";

    fn keyed(seq: u64, position: u32) -> SourceRecord {
        record(
            seq,
            &Identity::of(ID, position).unwrap().partition_key(None),
        )
    }

    #[test]
    fn copies_after_the_original_are_skipped_and_plain_records_never() {
        let records = vec![
            keyed(1, 0),
            keyed(2, 1),
            record(3, "plain"),
            keyed(4, 1), // a copy of 2
            record(5, "plain"),
            keyed(6, 0), // a copy of 1
        ];
        assert!(may_carry_identities(&records));
        assert!(!may_carry_identities(&records[2..3]));
        let mut window = IdentityWindow::new();
        let users = user_records(&records);
        let skips = skip_stored(&mut window, &records, identities_of(&users), 0);
        assert_eq!(skips.duplicates, 2);
        let kept: Vec<usize> = users
            .iter()
            .filter(|u| !skips.skips(u))
            .map(|u| u.record)
            .collect();
        assert_eq!(kept, [0, 1, 2, 4]);
    }

    #[test]
    fn a_redelivery_decides_the_same_from_the_committed_window() {
        let records: Vec<SourceRecord> = vec![keyed(1, 0), keyed(2, 1), keyed(3, 0), keyed(4, 2)];
        let users = user_records(&records);
        // First delivery: all four, committed.
        let mut committed = IdentityWindow::new();
        let first = skip_stored(&mut committed, &records, identities_of(&users), 0);
        // A crash left the window before the batch but the mark after record 1: the
        // redelivery heals 0 and 1 and decides 2 and 3 as the first delivery did.
        let mut stale = IdentityWindow::new();
        let again = skip_stored(&mut stale, &records, identities_of(&users), 2);
        assert_eq!(again.healed, 2);
        assert_eq!(again.set, first.set);
        assert_eq!(stale, committed);
    }

    #[test]
    fn a_window_reference_names_its_slot_and_content() {
        let mut w = IdentityWindow::new();
        w.insert(Identity::of(ID, 3).unwrap(), 5);
        let bytes = w.encode();
        let r = WindowRef::of(Slot::B, &bytes);
        let parsed = WindowRef::parse(&r.to_string()).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(parsed.read(&bytes).unwrap().len(), 1);
        assert!(parsed.read(&IdentityWindow::new().encode()).is_err());
        assert_eq!(next_slot(Some(&r)), Slot::A);
        assert_eq!(next_slot(None), Slot::A);
        assert!(WindowRef::parse("c:00").is_err());
    }
}

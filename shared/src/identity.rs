//! Record identities: how a record put for a keyed request (`Idempotency-Key`) is known again
//! when the stream holds it twice, and the window of identities a writer has stored.
//!
//! The stream can hold a record twice even when ingest puts nothing twice on purpose: a
//! PutRecords answer lost after Kinesis applied it (the SDK sends the call again), or an
//! ingest attempt that put records and vanished before it recorded them (a retry that takes
//! its request over after the lease puts them again). The copies have different sequence
//! numbers, so the writers' marks and checkpoints cannot tell them apart; their identity can.
//!
//! - **The identity** of a keyed request's record is the request's id (the first 128 bits of
//!   ingest's `request_id`, which is scoped to the caller) and the record's position in the
//!   request. Every attempt of the request gives each record the same identity.
//! - **Where it travels:** in the record's partition key, `trickle-id:<32 hex>.<position>`,
//!   followed by `:` and the sender's own key when it gave one (cut to fit Kinesis' 256
//!   characters). The record's data is unchanged. Inside a KPL aggregate it is the user
//!   record's own partition key. The shard is kept by the explicit hash key ingest sets
//!   beside it: the MD5 of the sender's key (where that key alone would have gone), the
//!   sender's own explicit hash key, or, for records without a key, one derived from the
//!   request's id and the position's block, so every attempt puts a record on one shard.
//! - **Trust:** ingest refuses a client partition key with the prefix, and a writer reads an
//!   identity only in exactly the form `partition_key` writes (lowercase hex, a position
//!   without leading zeros); any other key is a plain key.
//! - **The window** (`IdentityWindow`): the identities a writer stored for one shard (and
//!   table), held for `WINDOW` of arrival time and at most `WINDOW_MAX_IDENTITIES`. A
//!   writer skips a record whose identity the window holds. It is exact (no probabilistic
//!   set: a false positive would be a lost record). When the count bound forgets requests
//!   younger than `WINDOW`, they are counted (`forgotten_early`), never silent.

use std::collections::HashMap;
use std::time::Duration;

/// The partition-key prefix of a record that carries an identity.
pub const IDENTITY_PARTITION_KEY_PREFIX: &str = "trickle-id:";

/// How long (in the records' arrival time) a writer remembers a stored identity: longer than
/// ingest's lease (60 s) plus a sender's retries of a request whose attempt vanished, and
/// far longer than the SDK's retry of a PutRecords call whose answer was lost (seconds).
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The most identities a window holds per shard (and table). A shard takes at most 1,000
/// records/s, so `WINDOW` is held in full up to about 220 keyed records/s per shard; beyond
/// that the oldest requests are forgotten first and counted. Encoded, a request costs about
/// 25 bytes and its positions a byte or two per run: 200,000 identities are 0.1 MB in
/// 50-record requests and 5 MB at worst, in 1-record requests (measured by
/// `cargo run --release -p trickle-shared --example identity_window`).
pub const WINDOW_MAX_IDENTITIES: usize = 200_000;

/// Records of a keyed request without a partition key share a derived shard key per block of
/// this many positions: a retry puts each on the shard it went to first, and a KPL aggregate
/// can still hold many.
pub const POSITIONS_PER_DERIVED_KEY: u32 = 256;

/// A keyed request's record: the request's id and the record's position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub request: u128,
    pub position: u32,
}

impl Identity {
    /// The identity of record `position` of the request whose id is `request_id_hex` (at
    /// least 32 hex digits; the first 32 are used).
    pub fn of(request_id_hex: &str, position: u32) -> Option<Self> {
        let hex = request_id_hex.get(..32)?;
        let request = u128::from_str_radix(hex, 16).ok()?;
        Some(Self { request, position })
    }

    /// The partition key that carries the identity, with the sender's key after it (cut to
    /// Kinesis' 256 characters).
    pub fn partition_key(&self, sender_key: Option<&str>) -> String {
        let mut key = format!(
            "{IDENTITY_PARTITION_KEY_PREFIX}{:032x}.{}",
            self.request, self.position
        );
        if let Some(k) = sender_key {
            key.push(':');
            let room = crate::limits::KINESIS_MAX_PARTITION_KEY_CHARS - key.len();
            let cut = k.char_indices().nth(room).map_or(k.len(), |(at, _)| at);
            key.push_str(&k[..cut]);
        }
        key
    }

    /// The identity a partition key carries, only in exactly the form `partition_key`
    /// writes; `None` for any other key.
    pub fn from_partition_key(key: &str) -> Option<Self> {
        let rest = key.strip_prefix(IDENTITY_PARTITION_KEY_PREFIX)?;
        let (id, rest) = rest.split_once('.')?;
        let position = rest.split_once(':').map_or(rest, |(p, _)| p);
        let lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let decimal = |s: &str| {
            !s.is_empty()
                && s.len() <= 10
                && s.bytes().all(|b| b.is_ascii_digit())
                && (s == "0" || !s.starts_with('0'))
        };
        if id.len() != 32 || !lower_hex(id) || !decimal(position) {
            return None;
        }
        Some(Self {
            request: u128::from_str_radix(id, 16).ok()?,
            position: position.parse().ok()?,
        })
    }
}

/// True for a key that claims to carry an identity (ingest refuses these from clients).
pub fn claims_identity(partition_key: &str) -> bool {
    partition_key.starts_with(IDENTITY_PARTITION_KEY_PREFIX)
}

/// One request's identities in a window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Held {
    /// The newest arrival (ms since the epoch) of its records stored.
    newest_ms: i64,
    /// Positions stored, sorted, without repeats.
    positions: Vec<u32>,
}

/// The identities one writer stored for one shard (and table): exact, bounded by `WINDOW`
/// of arrival time and `WINDOW_MAX_IDENTITIES` (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityWindow {
    requests: HashMap<u128, Held>,
    identities: usize,
    /// The newest arrival of any identity stored.
    newest_ms: i64,
    changed: bool,
}

/// What `IdentityWindow::trim` let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trimmed {
    /// Identities older than `WINDOW`: the window is done with them.
    pub aged: usize,
    /// Identities younger than `WINDOW` forgotten to stay within the count bound: a copy of
    /// one of them arriving later would be stored again.
    pub forgotten_early: usize,
}

/// The window's encoding: magic and version.
const MAGIC: &[u8; 8] = b"TRKIDW01";

impl IdentityWindow {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.identities
    }

    pub fn is_empty(&self) -> bool {
        self.identities == 0
    }

    /// Whether anything was inserted or trimmed since it was made or decoded.
    pub fn changed(&self) -> bool {
        self.changed
    }

    pub fn contains(&self, id: &Identity) -> bool {
        self.requests
            .get(&id.request)
            .is_some_and(|h| h.positions.binary_search(&id.position).is_ok())
    }

    /// Remembers `id`, stored with arrival time `arrival_ms`; false when it was already held.
    pub fn insert(&mut self, id: Identity, arrival_ms: i64) -> bool {
        let held = self.requests.entry(id.request).or_default();
        let at = match held.positions.last() {
            Some(&last) if last < id.position => held.positions.len(),
            None => 0,
            _ => match held.positions.binary_search(&id.position) {
                Ok(_) => return false,
                Err(at) => at,
            },
        };
        held.positions.insert(at, id.position);
        held.newest_ms = held.newest_ms.max(arrival_ms);
        self.newest_ms = self.newest_ms.max(arrival_ms);
        self.identities += 1;
        self.changed = true;
        true
    }

    /// Lets go of requests whose newest record arrived more than `window` before the newest
    /// of all, then of the oldest requests while more than `max` identities are held.
    pub fn trim(&mut self, window: Duration, max: usize) -> Trimmed {
        let mut trimmed = Trimmed::default();
        let oldest_kept = self.newest_ms - window.as_millis() as i64;
        let before = self.identities;
        self.requests.retain(|_, h| h.newest_ms >= oldest_kept);
        self.identities = self.requests.values().map(|h| h.positions.len()).sum();
        trimmed.aged = before - self.identities;
        if self.identities > max {
            let mut by_age: Vec<(i64, u128, usize)> = self
                .requests
                .iter()
                .map(|(r, h)| (h.newest_ms, *r, h.positions.len()))
                .collect();
            by_age.sort_unstable();
            for (_, request, n) in by_age {
                if self.identities <= max {
                    break;
                }
                self.requests.remove(&request);
                self.identities -= n;
                trimmed.forgotten_early += n;
            }
        }
        if trimmed.aged + trimmed.forgotten_early > 0 {
            self.changed = true;
        }
        trimmed
    }

    /// The window as bytes: magic, then per request (in id order) its id, newest arrival and
    /// positions as runs of (gap, length) varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.requests.len() * 24 + self.identities);
        out.extend_from_slice(MAGIC);
        put_varint(&mut out, self.requests.len() as u64);
        let mut ids: Vec<&u128> = self.requests.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let held = &self.requests[id];
            out.extend_from_slice(&id.to_be_bytes());
            put_varint(&mut out, held.newest_ms.max(0) as u64);
            let runs = runs(&held.positions);
            put_varint(&mut out, runs.len() as u64);
            let mut next = 0u32;
            for (start, len) in runs {
                put_varint(&mut out, u64::from(start - next));
                put_varint(&mut out, u64::from(len));
                next = start + len;
            }
        }
        out
    }

    /// Reads what `encode` wrote; an error for anything else, and for more identities than
    /// a trimmed window holds (`WINDOW_MAX_IDENTITIES`), before allocating them.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or("not an identity window (no TRKIDW01 header)")?;
        let mut window = Self::new();
        let requests = take_varint(&mut rest)?;
        for _ in 0..requests {
            let (id, after) = rest
                .split_first_chunk::<16>()
                .ok_or("truncated identity window")?;
            rest = after;
            let request = u128::from_be_bytes(*id);
            let newest_ms = i64::try_from(take_varint(&mut rest)?).map_err(|e| e.to_string())?;
            let runs = take_varint(&mut rest)?;
            let mut held = Held {
                newest_ms,
                positions: Vec::new(),
            };
            let mut next = 0u64;
            for _ in 0..runs {
                let start = next + take_varint(&mut rest)?;
                let len = take_varint(&mut rest)?;
                let end = start + len;
                if len == 0 || end > u64::from(u32::MAX) + 1 {
                    return Err("an identity window's run is out of range".into());
                }
                if window.identities + held.positions.len() + len as usize > WINDOW_MAX_IDENTITIES {
                    return Err(format!(
                        "an identity window holds more than {WINDOW_MAX_IDENTITIES} identities"
                    ));
                }
                held.positions.extend((start..end).map(|p| p as u32));
                next = end;
            }
            window.identities += held.positions.len();
            window.newest_ms = window.newest_ms.max(newest_ms);
            if window.requests.insert(request, held).is_some() {
                return Err("an identity window holds a request twice".into());
            }
        }
        if !rest.is_empty() {
            return Err("trailing bytes after an identity window".into());
        }
        Ok(window)
    }
}

/// Sorted positions as (start, length) runs.
fn runs(positions: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &p in positions {
        match out.last_mut() {
            Some((start, len)) if *start + *len == p => *len += 1,
            _ => out.push((p, 1)),
        }
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(rest: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, after) = rest.split_first().ok_or("truncated identity window")?;
        *rest = after;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("an identity window's number is too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_partition_key_carries_the_identity_and_the_senders_key() {
        let id = Identity::of(ID, 7).unwrap();
        let key = id.partition_key(Some("tenant-a"));
        assert_eq!(
            key,
            "trickle-id:0123456789abcdef0123456789abcdef.7:tenant-a"
        );
        assert_eq!(Identity::from_partition_key(&key), Some(id));
        let bare = id.partition_key(None);
        assert_eq!(bare, "trickle-id:0123456789abcdef0123456789abcdef.7");
        assert_eq!(Identity::from_partition_key(&bare), Some(id));
    }

    #[test]
    fn a_long_senders_key_is_cut_to_kinesis_limit() {
        let long = "é".repeat(300);
        let key = Identity::of(ID, 49_999).unwrap().partition_key(Some(&long));
        assert_eq!(key.chars().count(), 256);
        assert_eq!(
            Identity::from_partition_key(&key).map(|i| i.position),
            Some(49_999)
        );
    }

    #[test]
    fn only_the_exact_form_is_an_identity() {
        for key in [
            "trickle-id:0123456789ABCDEF0123456789abcdef.7", // upper case
            "trickle-id:0123456789abcdef0123456789abcde.7",  // 31 digits
            "trickle-id:0123456789abcdef0123456789abcdef.07", // leading zero
            "trickle-id:0123456789abcdef0123456789abcdef.",  // no position
            "trickle-id:0123456789abcdef0123456789abcdef.1x",
            "trickle-id:0123456789abcdef0123456789abcdef.99999999999",
            "trickle-id:0123456789abcdef0123456789abcdef",
            "x-trickle-id:0123456789abcdef0123456789abcdef.7",
            "tenant-a",
        ] {
            assert_eq!(Identity::from_partition_key(key), None, "{key}");
        }
        assert!(claims_identity("trickle-id:anything"));
        assert!(!claims_identity("tenant-a"));
    }

    fn id(request: u128, position: u32) -> Identity {
        Identity { request, position }
    }

    #[test]
    fn a_window_holds_what_it_was_given_exactly() {
        let mut w = IdentityWindow::new();
        assert!(w.insert(id(1, 0), 10));
        assert!(w.insert(id(1, 2), 11));
        assert!(!w.insert(id(1, 2), 12), "already held");
        assert!(w.insert(id(1, 1), 12), "out of order");
        assert!(w.contains(&id(1, 1)));
        assert!(!w.contains(&id(1, 3)));
        assert!(!w.contains(&id(2, 0)));
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn trimming_ages_out_old_requests_and_counts_what_the_bound_forgets() {
        let minute = 60_000;
        let mut w = IdentityWindow::new();
        for p in 0..10 {
            w.insert(id(1, p), 0); // old
        }
        for p in 0..5 {
            w.insert(id(2, p), 20 * minute);
        }
        for p in 0..5 {
            w.insert(id(3, p), 21 * minute);
        }
        let t = w.trim(WINDOW, 8);
        assert_eq!(t.aged, 10);
        assert_eq!(t.forgotten_early, 5, "request 2 is the oldest left");
        assert!(!w.contains(&id(2, 0)));
        assert!(w.contains(&id(3, 4)));
        assert_eq!(w.len(), 5);
    }

    #[test]
    fn a_window_that_changed_nothing_says_so() {
        let mut w = IdentityWindow::new();
        w.insert(id(1, 0), 5);
        let read = IdentityWindow::decode(&w.encode()).unwrap();
        assert!(!read.changed());
        let mut again = read.clone();
        assert!(!again.insert(id(1, 0), 5));
        assert_eq!(again.trim(WINDOW, 10), Trimmed::default());
        assert!(!again.changed());
    }

    #[test]
    fn anything_else_is_refused_when_decoded() {
        let mut w = IdentityWindow::new();
        w.insert(id(1, 3), 5);
        let bytes = w.encode();
        assert!(IdentityWindow::decode(b"{}").is_err());
        assert!(IdentityWindow::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(IdentityWindow::decode(&longer).is_err());
    }

    #[test]
    fn a_window_claiming_more_than_the_bound_is_refused_before_it_is_allocated() {
        let mut bytes = MAGIC.to_vec();
        put_varint(&mut bytes, 1); // one request
        bytes.extend_from_slice(&7u128.to_be_bytes());
        put_varint(&mut bytes, 5); // its newest arrival
        put_varint(&mut bytes, 1); // one run
        put_varint(&mut bytes, 0); // from 0
        put_varint(&mut bytes, u64::from(u32::MAX)); // of four billion positions
        let err = IdentityWindow::decode(&bytes).unwrap_err();
        assert!(err.contains("more than 200000"), "{err}");
    }

    #[test]
    fn runs_keep_the_encoding_small() {
        let mut w = IdentityWindow::new();
        for r in 0..100u128 {
            for p in 0..300 {
                w.insert(id(r, p), 1_700_000_000_000);
            }
        }
        let bytes = w.encode();
        // 30,000 identities in 100 contiguous requests: ~28 bytes a request.
        assert!(bytes.len() < 100 * 30, "{}", bytes.len());
    }

    proptest! {
        #[test]
        fn encoding_round_trips(
            entries in proptest::collection::vec((0u128..20, 0u32..2_000, 0i64..1_000_000), 0..400)
        ) {
            let mut w = IdentityWindow::new();
            for (r, p, t) in &entries {
                w.insert(id(*r, *p), *t);
            }
            let read = IdentityWindow::decode(&w.encode()).unwrap();
            prop_assert_eq!(read.len(), w.len());
            for (r, p, _) in &entries {
                prop_assert!(read.contains(&id(*r, *p)));
            }
            prop_assert_eq!(read.encode(), w.encode());
        }

        #[test]
        fn any_bytes_decode_or_are_refused_within_the_bound(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut with_header = MAGIC.to_vec();
            with_header.append(&mut bytes);
            for input in [&bytes[..], &with_header[..]] {
                if let Ok(w) = IdentityWindow::decode(input) {
                    prop_assert!(w.len() <= WINDOW_MAX_IDENTITIES);
                }
            }
        }

        #[test]
        fn any_partition_key_written_reads_back(request: u128, position: u32, key in "\\PC{0,300}") {
            let i = Identity { request, position };
            let sender = (!key.is_empty()).then_some(key.as_str());
            let pk = i.partition_key(sender);
            prop_assert!(pk.chars().count() <= 256);
            prop_assert_eq!(Identity::from_partition_key(&pk), Some(i));
        }
    }
}

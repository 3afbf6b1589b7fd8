//! Request keys: a sender names a request's identity with the `Idempotency-Key` header (the
//! IETF draft's name), and a retry of that request never puts a record twice.
//!
//! - **Scope.** A key is scoped to its caller: the IAM principal (signed requests), the
//!   token (every holder of the one token shares a scope), or the browser key and page
//!   origin. One caller cannot suppress another's records. The memory's id is
//!   `sha256(scope, key)`.
//! - **Digest.** The memory keeps a digest of the request (method, path, content type and
//!   encoding, the partition key and hash key settings, the body). The same key with another
//!   request answers 422 and writes nothing.
//! - **States.** `in_flight` (an attempt holds a lease: a retry answers 503 with
//!   `Retry-After`, never a 4xx a sender drops), `partial` (some entries were put: a retry
//!   puts only the others), `done` (a retry gets the first answer again, with
//!   `Idempotent-Replayed: true`: the full per-record answer when it fits the item, a
//!   summary beyond).
//! - **Identities.** Every record put for a keyed request carries its identity (the id and
//!   its position) in its partition key, and an explicit hash key that keeps its shard:
//!   the one its own key maps to, or, for a record without a key, one derived from the id
//!   and its position's block, so a retry sends each to the shard the first attempt did
//!   (`identify`, `trickle_shared::identity`).
//! - **Expiry.** An item is kept `MEMORY_TTL` (a day) after its last write, by DynamoDB's TTL
//!   on `expires_at`; an expired item is read as absent even while DynamoDB still holds it
//!   (TTL deletes within days, not at once).
//! - **What the memory cannot cover, the writers do.** An attempt that crashes after putting
//!   entries and before recording them (its lease then runs out) is retried whole; and a
//!   PutRecords call whose answer is lost after Kinesis applied it is retried by the SDK.
//!   Both put records into the stream twice, with one identity: batch-to-s3 and
//!   batch-to-iceberg store each identity once within their window
//!   (docs/reference/idempotency.md).
//!
//! The boundary is `RequestMemory` (`sdk.rs`: DynamoDB; `memory.rs`: in memory); the
//! decision from an item's state is `decide`, pure, shared by both.

pub mod memory;
pub mod sdk;

use crate::body::{Entry, HttpInput, PartitionKey};
use crate::error::IngestError;
use crate::sink::EntryOutcome;
use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use trickle_shared::identity::{Identity, POSITIONS_PER_DERIVED_KEY};
use trickle_shared::reingest::explicit_hash_key;

/// The longest key accepted (the draft leaves it to the server; Stripe's is 255).
pub const MAX_KEY_CHARS: usize = 255;
/// How long the memory keeps a request after its last write.
pub const MEMORY_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long an attempt holds a request: at least the function's timeout, so a live attempt
/// is never taken over (template.yaml's ingest Timeout is 30 s).
pub const LEASE: Duration = Duration::from_secs(60);
/// The stored answer's most bytes. DynamoDB's item limit is 400 KB (names and values); the
/// rest of the item (ids, digest, bitmap of up to 50,000 entries) takes well under 20 KB.
pub const MAX_STORED_ANSWER_BYTES: usize = 350_000;

/// A parsed `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `None` without the header; 400 for an empty, too long or non-printable key.
    pub fn parse(header: Option<&str>) -> Result<Option<Self>, IngestError> {
        let Some(raw) = header else {
            return Ok(None);
        };
        // The draft's form is a quoted string; a bare token is what most clients send.
        let key = raw
            .trim()
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .unwrap_or(raw.trim());
        let ok = !key.is_empty()
            && key.chars().count() <= MAX_KEY_CHARS
            && key.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if ok {
            Ok(Some(Self(key.to_owned())))
        } else {
            Err(IngestError::InvalidIdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The memory's id of a key in its caller's scope: hex SHA-256 of both.
pub fn request_id(scope: &str, key: &IdempotencyKey) -> String {
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(key.as_str().as_bytes());
    hex(&h.finalize())
}

/// The digest of everything that makes the request what it is.
pub fn request_digest(input: &HttpInput<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        Some(input.method),
        Some(input.path),
        input.content_type,
        input.content_encoding,
        input.partition_key_header,
        input.partition_key_query,
        input.explicit_hash_key,
    ] {
        match part {
            Some(p) => {
                h.update([1]);
                h.update((p.len() as u64).to_le_bytes());
                h.update(p.as_bytes());
            }
            None => h.update([0]),
        }
    }
    h.update(&input.body);
    hex(&h.finalize())
}

/// Gives record `position` of the keyed request `id` its identity
/// (`trickle_shared::identity`): the partition key carries the identity (and the sender's
/// key), and the explicit hash key keeps the shard the record would have gone to: the
/// sender's explicit hash key, the MD5 of the sender's key, or, for a record without a key,
/// one derived from the id and the position's block, the same on every retry.
pub fn identify(id: &str, position: usize, entry: &mut Entry) {
    if matches!(entry.partition_key, PartitionKey::Identity(_)) {
        return; // identified by its own id (`identify_by_id`)
    }
    let identity = Identity::of(id, position as u32).expect("a request id is 64 hex digits");
    let sender_key = (!entry.random_key()).then(|| entry.partition_key.as_str());
    let hash_key: Arc<str> = match (&entry.explicit_hash_key, sender_key) {
        (Some(k), _) => Arc::clone(k),
        (None, Some(k)) => explicit_hash_key(k).into(),
        (None, None) => derived_hash_key(id, position as u32 / POSITIONS_PER_DERIVED_KEY).into(),
    };
    entry.partition_key = PartitionKey::Identity(identity.partition_key(sender_key));
    entry.explicit_hash_key = Some(hash_key);
}

/// The id of a record identified by `value`, its value at `RECORD_ID_POINTER`, in its
/// caller's scope: hex SHA-256 of both (domain-separated from request ids).
pub fn record_id(scope: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"record\0");
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    hex(&h.finalize())
}

/// Gives every entry with a scalar at `pointer` the identity of that value (position 0 of
/// the record id `record_id(scope, value)`), with the explicit hash key that keeps its
/// shard: the sender's, the MD5 of the sender's key, or one derived from the id, so a
/// record sent again in any request goes to the same shard. Returns how many were
/// identified. Entries without the value keep their keys.
pub fn identify_by_id(scope: &str, pointer: &str, entries: &mut [Entry]) -> usize {
    let mut identified = 0;
    for e in entries.iter_mut() {
        let Ok(Some(value)) = trickle_shared::pointer::scalar_at_pointer(&e.data, pointer) else {
            continue;
        };
        let id = record_id(scope, &value);
        identify(&id, 0, e);
        identified += 1;
    }
    identified
}

/// An explicit hash key from the request's id and a block of positions.
fn derived_hash_key(id: &str, block: u32) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(block.to_le_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which of a request's entries are in the stream, one bit each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutSet(Vec<u8>);

impl PutSet {
    pub fn new(entries: usize) -> Self {
        Self(vec![0; entries.div_ceil(8)])
    }
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn contains(&self, i: usize) -> bool {
        self.0.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }
    pub fn insert(&mut self, i: usize) {
        if let Some(b) = self.0.get_mut(i / 8) {
            *b |= 1 << (i % 8);
        }
    }
}

/// What the memory holds for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub digest: String,
    pub state: State,
    /// Bumped by every claim: a write names the version it claimed.
    pub version: u64,
    /// Until when an `in_flight` attempt holds it (ms since the epoch).
    pub lease_until_ms: u64,
    /// When the memory forgets it (s since the epoch): DynamoDB's TTL attribute.
    pub expires_at_s: u64,
    pub put: PutSet,
    /// The outcome of each entry put so far, where it fits (`[shard, sequence]` or null).
    pub outcomes: Option<Value>,
    /// The answer of a `done` request: status and JSON body.
    pub answer: Option<(u16, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    InFlight,
    Partial,
    Done,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InFlight => "in_flight",
            Self::Partial => "partial",
            Self::Done => "done",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "in_flight" => Some(Self::InFlight),
            "partial" => Some(Self::Partial),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// What a request finds in the memory.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Nothing (or an expired item): this attempt holds it now; put every entry.
    New { version: u64 },
    /// An earlier attempt put some entries (or held it and vanished): this attempt holds it
    /// now; put the others.
    Resume {
        version: u64,
        put: PutSet,
        outcomes: Option<Value>,
    },
    /// Another attempt holds it: answer 503 and let the sender retry after this.
    InFlight { retry_after: Duration },
    /// Done: the first answer again.
    Replay { status: u16, body: Value },
    /// The key was used with another request.
    Mismatch,
}

/// What `decide` says to do with an item found (or not) at `now`.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Create the item (conditional on it being absent or expired).
    Create,
    /// Take it over: bump `version` (conditional on it still being `version`).
    TakeOver { version: u64 },
    /// Answer without writing.
    Answer(Claim),
}

pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The pure rule both memories follow.
pub fn decide(item: Option<&Item>, digest: &str, now: SystemTime) -> Decision {
    let now_ms = epoch_ms(now);
    let Some(item) = item.filter(|i| i.expires_at_s * 1000 > now_ms) else {
        return Decision::Create;
    };
    if item.digest != digest {
        return Decision::Answer(Claim::Mismatch);
    }
    match item.state {
        State::Done => {
            let (status, body) = item.answer.clone().unwrap_or((200, Value::Null));
            Decision::Answer(Claim::Replay { status, body })
        }
        State::InFlight if item.lease_until_ms > now_ms => Decision::Answer(Claim::InFlight {
            retry_after: Duration::from_millis(item.lease_until_ms - now_ms),
        }),
        State::InFlight | State::Partial => Decision::TakeOver {
            version: item.version,
        },
    }
}

/// A new item held by this attempt.
pub fn new_item(digest: &str, entries: usize, now: SystemTime) -> Item {
    Item {
        digest: digest.to_owned(),
        state: State::InFlight,
        // Unique per new item, so an attempt of an expired item's time can never write
        // over its successor.
        version: epoch_ms(now).max(1),
        lease_until_ms: epoch_ms(now) + LEASE.as_millis() as u64,
        expires_at_s: expires_at(now),
        put: PutSet::new(entries),
        outcomes: None,
        answer: None,
    }
}

pub fn expires_at(now: SystemTime) -> u64 {
    epoch_ms(now) / 1000 + MEMORY_TTL.as_secs()
}

/// What an attempt records when it has answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub state: State,
    pub put: PutSet,
    pub outcomes: Option<Value>,
    pub answer: Option<(u16, Value)>,
}

/// Each entry's outcome as stored: `[shard, sequence]` for one put, null otherwise.
pub fn stored_outcomes(outcomes: &[EntryOutcome]) -> Value {
    Value::Array(
        outcomes
            .iter()
            .map(|o| match o {
                EntryOutcome::Written {
                    shard_id,
                    sequence_number,
                } => serde_json::json!([shard_id, sequence_number]),
                EntryOutcome::Failed { .. } => Value::Null,
            })
            .collect(),
    )
}

/// An entry already put by an earlier attempt, as this answer reports it.
pub fn earlier_outcome(outcomes: Option<&Value>, i: usize) -> EntryOutcome {
    match outcomes.and_then(|o| o.get(i)).and_then(Value::as_array) {
        Some(pair) if pair.len() == 2 => EntryOutcome::Written {
            shard_id: pair[0].as_str().unwrap_or_default().to_owned(),
            sequence_number: pair[1].as_str().unwrap_or_default().to_owned(),
        },
        _ => EntryOutcome::Written {
            shard_id: String::new(),
            sequence_number: String::new(),
        },
    }
}

/// Why the memory could not be used. The request is answered 503: the sender retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the idempotency memory: {0}")]
pub struct MemoryError(pub String);

/// Where requests are remembered.
#[async_trait]
pub trait RequestMemory: Send + Sync {
    /// Finds the request `id` and, unless the answer is known without it, takes it for this
    /// attempt (conditionally: two attempts never both hold it).
    async fn claim(
        &self,
        id: &str,
        digest: &str,
        entries: usize,
        now: SystemTime,
    ) -> Result<Claim, MemoryError>;

    /// Records what the attempt holding `version` did. `false` when another attempt took the
    /// request over meanwhile (its lease ran out): nothing is recorded then.
    async fn record(
        &self,
        id: &str,
        version: u64,
        recorded: Recorded,
        now: SystemTime,
    ) -> Result<bool, MemoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_at_most_255_characters() {
        assert_eq!(IdempotencyKey::parse(None), Ok(None));
        assert_eq!(
            IdempotencyKey::parse(Some("\"8e03978e-40d5-43e8-bc93-6894a57f9324\""))
                .unwrap()
                .unwrap()
                .as_str(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        );
        assert!(IdempotencyKey::parse(Some(&"k".repeat(255))).is_ok());
        for bad in ["", "  ", &"k".repeat(256), "a\u{1}b", "é"] {
            assert_eq!(
                IdempotencyKey::parse(Some(bad)),
                Err(IngestError::InvalidIdempotencyKey),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ids_are_scoped_to_the_caller() {
        let k = IdempotencyKey::parse(Some("k1")).unwrap().unwrap();
        assert_ne!(request_id("token", &k), request_id("iam:arn:a", &k));
        assert_eq!(request_id("token", &k), request_id("token", &k));
    }

    #[test]
    fn the_digest_covers_the_body_and_the_routing_headers() {
        let a = HttpInput::post("application/json", b"{\"a\":1}");
        let b = HttpInput::post("application/json", b"{\"a\":2}");
        let c = HttpInput {
            partition_key_header: Some("p"),
            ..HttpInput::post("application/json", b"{\"a\":1}")
        };
        let d = HttpInput::post("application/json", b"{\"a\":1}");
        assert_ne!(request_digest(&a), request_digest(&b));
        assert_ne!(request_digest(&a), request_digest(&c));
        assert_eq!(request_digest(&a), request_digest(&d));
    }

    #[test]
    fn derived_hash_keys_are_stable_per_block_and_valid() {
        assert_eq!(derived_hash_key("id", 3), derived_hash_key("id", 3));
        assert_ne!(derived_hash_key("id", 3), derived_hash_key("id", 4));
        assert_ne!(derived_hash_key("id", 3), derived_hash_key("other", 3));
        assert!(derived_hash_key("id", 0).parse::<u128>().is_ok());
        let id = "ab".repeat(32);
        let hash_key = |p: usize| {
            let mut e = Entry {
                data: bytes::Bytes::from_static(b"{}"),
                partition_key: PartitionKey::random(),
                explicit_hash_key: None,
            };
            identify(&id, p, &mut e);
            e.explicit_hash_key
        };
        let block = POSITIONS_PER_DERIVED_KEY as usize;
        assert_eq!(hash_key(0), hash_key(block - 1));
        assert_ne!(hash_key(0), hash_key(block));
    }

    #[test]
    fn the_put_set_holds_each_position() {
        let mut s = PutSet::new(10);
        s.insert(0);
        s.insert(9);
        assert!(s.contains(0) && s.contains(9) && !s.contains(5));
        assert_eq!(s.as_bytes().len(), 2);
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn the_rule_answers_each_state() {
        let t0 = at(1_000_000_000_000);
        let item = new_item("d", 3, t0);
        assert_eq!(decide(None, "d", t0), Decision::Create);
        assert_eq!(
            decide(Some(&item), "other", t0),
            Decision::Answer(Claim::Mismatch)
        );
        assert_eq!(
            decide(Some(&item), "d", at(1_000_000_001_000)),
            Decision::Answer(Claim::InFlight {
                retry_after: LEASE - Duration::from_secs(1)
            })
        );
        // The lease ran out: the attempt that held it is gone.
        let later = at(1_000_000_000_000 + LEASE.as_millis() as u64);
        assert_eq!(
            decide(Some(&item), "d", later),
            Decision::TakeOver {
                version: item.version
            }
        );
        let partial = Item {
            state: State::Partial,
            ..item.clone()
        };
        assert_eq!(
            decide(Some(&partial), "d", t0),
            Decision::TakeOver {
                version: item.version
            }
        );
        let done = Item {
            state: State::Done,
            answer: Some((200, serde_json::json!({"FailedRecordCount": 0}))),
            ..item.clone()
        };
        assert_eq!(
            decide(Some(&done), "d", t0),
            Decision::Answer(Claim::Replay {
                status: 200,
                body: serde_json::json!({"FailedRecordCount": 0})
            })
        );
        // Expired: read as absent, whatever its state (DynamoDB deletes it later).
        let expired = at((item.expires_at_s) * 1000);
        assert_eq!(decide(Some(&done), "other", expired), Decision::Create);
    }
}

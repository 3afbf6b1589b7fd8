//! The shard's state and its compare-and-swap: one small JSON object per shard (the key is
//! `key::state_key`) that holds the high-water mark (`watermark.rs`) and, while an
//! invocation writes, its write intent (`intent.rs`). The handler drives it through three
//! states per invocation, `{mark}` -> `{mark, intent}` -> `{mark'}` (see `intent.rs`), and
//! settles the intent of an invocation that died in between.
//!
//! The state also names the shard's committed identity window (`identities()`): every write
//! carries it, so the mark and the window it goes with move in one conditional PUT
//! (`trickle_kinesis_batch::identities`).
//!
//! Every write is a conditional PUT on the ETag read before (`If-Match: <etag>`, or
//! `If-None-Match: *` when there was no object), so another writer in between is noticed,
//! never written over; the mark only ever moves forward.

pub mod intent;
pub mod watermark;

use crate::error::WriteError;
use crate::plan::{META_LAST_SEQUENCE, META_SHARD_ID};
use crate::store::{Condition, ObjectStore, PutObject, PutOutcome, StoreError};
use intent::Intent;
use std::sync::Mutex;
use trickle_shared::SequenceNumber;
use watermark::HighWaterMark;

/// Compare-and-swap attempts on the high-water mark before giving up.
pub const MARK_ATTEMPTS: usize = 3;
/// The state object's Content-Type.
const CONTENT_TYPE_JSON: &str = "application/json";

/// One shard's state object in the store.
pub struct ShardState<'a, S> {
    store: &'a S,
    /// The state object's key (`key::state_key`).
    key: &'a str,
    shard_id: &'a str,
    /// The identity window's reference, as read and as every write stores it.
    identities: Mutex<Option<String>>,
}

impl<'a, S: ObjectStore> ShardState<'a, S> {
    /// The state object `key` of shard `shard_id` in `store`.
    pub fn new(store: &'a S, key: &'a str, shard_id: &'a str) -> Self {
        Self {
            store,
            key,
            shard_id,
            identities: Mutex::new(None),
        }
    }

    /// The committed identity window's reference, as last read (or set).
    pub fn identities(&self) -> Option<String> {
        self.identities.lock().expect("lock").clone()
    }

    /// The reference the next writes store (a new window, written to its slot already).
    pub fn set_identities(&self, reference: Option<String>) {
        *self.identities.lock().expect("lock") = reference;
    }

    fn body(&self, mark: Option<&SequenceNumber>, intent: Option<Intent>) -> Vec<u8> {
        let mut state = HighWaterMark::with_intent(self.shard_id, mark, intent);
        state.identities = self.identities();
        state.to_body()
    }

    /// The state object's key.
    pub fn key(&self) -> &str {
        self.key
    }

    /// Reads the shard's state: the mark, an intent, and the ETag (all `None` for a shard
    /// never written).
    #[allow(clippy::type_complexity)]
    pub async fn read(
        &self,
    ) -> Result<(Option<SequenceNumber>, Option<Intent>, Option<String>), WriteError> {
        let (mark, intent, etag, identities) = self.read_all().await?;
        self.set_identities(identities);
        Ok((mark, intent, etag))
    }

    #[allow(clippy::type_complexity)]
    async fn read_all(
        &self,
    ) -> Result<
        (
            Option<SequenceNumber>,
            Option<Intent>,
            Option<String>,
            Option<String>,
        ),
        WriteError,
    > {
        let key = self.key;
        match self.store.get_object(key).await? {
            None => Ok((None, None, None, None)),
            Some(o) => {
                let (mark, intent, identities) =
                    HighWaterMark::read_all(&o.body).map_err(|reason| {
                        WriteError::CorruptState {
                            key: key.to_owned(),
                            reason,
                        }
                    })?;
                Ok((mark, intent, o.etag, identities))
            }
        }
    }

    /// One conditional PUT of the state object (`If-Match` the ETag read, or
    /// `If-None-Match: *` when there was none); returns the new ETag. Another writer in
    /// between is an error.
    pub async fn write(
        &self,
        mark: Option<&SequenceNumber>,
        intent: Option<Intent>,
        etag: Option<String>,
    ) -> Result<Option<String>, WriteError> {
        let (key, shard_id) = (self.key, self.shard_id);
        let mut metadata = vec![(META_SHARD_ID.to_owned(), shard_id.to_owned())];
        if let Some(m) = mark {
            metadata.push((META_LAST_SEQUENCE.to_owned(), m.to_string()));
        }
        let put = PutObject {
            key: key.to_owned(),
            body: self.body(mark, intent),
            content_type: CONTENT_TYPE_JSON,
            content_encoding: None,
            metadata,
            condition: match etag {
                Some(e) => Condition::IfMatch(e),
                None => Condition::IfNoneMatch,
            },
        };
        match self.store.put_object(put).await? {
            PutOutcome::Created { etag } => Ok(etag),
            PutOutcome::PreconditionFailed => Err(WriteError::Store(StoreError {
                operation: "PutObject",
                key: key.to_owned(),
                code: "PreconditionFailed".into(),
                message: "the shard's state changed under us (another writer?)".into(),
            })),
        }
    }

    /// Settles an intent (`intent.rs`): which of its objects exist, which go, where the mark
    /// moves; then writes the mark without the intent. Returns the mark, the state's new
    /// ETag and how many objects were deleted.
    pub async fn settle(
        &self,
        intent: &Intent,
        mark: Option<SequenceNumber>,
        etag: Option<String>,
    ) -> Result<(Option<SequenceNumber>, Option<String>, usize), WriteError> {
        let mut exists = Vec::with_capacity(intent.objects.len());
        for o in &intent.objects {
            exists.push(self.store.head_object(&o.key).await?);
        }
        let settled = intent
            .settle(&exists)
            .map_err(|reason| WriteError::CorruptState {
                key: self.key.to_owned(),
                reason,
            })?;
        for k in &settled.delete {
            self.store.delete_object(k).await?;
        }
        // Never backwards.
        let mark = match (mark, settled.mark) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let etag = self.write(mark.as_ref(), None, etag).await?;
        Ok((mark, etag, settled.delete.len()))
    }

    /// Moves the mark forward to `to` with a compare-and-swap, never backwards (clearing any
    /// intent). Returns the mark now stored.
    pub async fn advance(
        &self,
        to: &SequenceNumber,
        mut etag: Option<String>,
    ) -> Result<SequenceNumber, WriteError> {
        let (key, shard_id) = (self.key, self.shard_id);
        for _ in 0..MARK_ATTEMPTS {
            let put = PutObject {
                key: key.to_owned(),
                body: self.body(Some(to), None),
                content_type: CONTENT_TYPE_JSON,
                content_encoding: None,
                metadata: vec![
                    (META_SHARD_ID.to_owned(), shard_id.to_owned()),
                    (META_LAST_SEQUENCE.to_owned(), to.to_string()),
                ],
                condition: match etag.take() {
                    Some(e) => Condition::IfMatch(e),
                    None => Condition::IfNoneMatch,
                },
            };
            match self.store.put_object(put).await? {
                PutOutcome::Created { .. } => return Ok(to.clone()),
                PutOutcome::PreconditionFailed => {
                    // Someone else moved it (ParallelizationFactor > 1, or a late earlier
                    // attempt): re-read, and stop if it is already at or past ours.
                    let (current, intent, current_etag, _) = self.read_all().await?;
                    if intent.is_some() {
                        // Another invocation's intent: it (or the next one) settles it.
                        return Err(WriteError::Store(StoreError {
                            operation: "PutObject",
                            key: key.to_owned(),
                            code: "PreconditionFailed".into(),
                            message: "another invocation is writing this shard".into(),
                        }));
                    }
                    tracing::warn!(key, current = ?current.as_ref().map(ToString::to_string),
                        "high-water mark changed under us");
                    if let Some(c) = current.filter(|c| c >= to) {
                        return Ok(c);
                    }
                    etag = current_etag;
                }
            }
        }
        Err(WriteError::Store(StoreError {
            operation: "PutObject",
            key: key.to_owned(),
            code: "PreconditionFailed".into(),
            message: format!("the mark kept changing over {MARK_ATTEMPTS} attempts"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use intent::IntentObject;

    const KEY: &str = "state/stream/shardId-1.json";

    fn seq(s: &str) -> SequenceNumber {
        s.parse().unwrap()
    }

    fn state(store: &MemoryStore) -> ShardState<'_, MemoryStore> {
        ShardState::new(store, KEY, "shardId-1")
    }

    #[tokio::test]
    async fn a_shard_never_written_has_no_mark_intent_or_etag() {
        let store = MemoryStore::new();
        assert_eq!(state(&store).read().await.unwrap(), (None, None, None));
    }

    #[tokio::test]
    async fn a_write_on_a_stale_etag_is_an_error() {
        let store = MemoryStore::new();
        let s = state(&store);
        let first = s.write(Some(&seq("1")), None, None).await.unwrap();
        s.write(Some(&seq("2")), None, first.clone()).await.unwrap();
        assert!(s.write(Some(&seq("3")), None, first).await.is_err());
        assert_eq!(s.read().await.unwrap().0, Some(seq("2")));
    }

    #[tokio::test]
    async fn advancing_never_moves_the_mark_backwards() {
        let store = MemoryStore::new();
        let s = state(&store);
        let stale = s.write(Some(&seq("5")), None, None).await.unwrap();
        // Another writer moved it past ours in between.
        s.write(Some(&seq("20")), None, stale.clone())
            .await
            .unwrap();
        assert_eq!(s.advance(&seq("10"), stale).await.unwrap(), seq("20"));
        assert_eq!(s.read().await.unwrap().0, Some(seq("20")));
    }

    #[tokio::test]
    async fn advancing_stops_at_another_invocations_intent() {
        let store = MemoryStore::new();
        let s = state(&store);
        let stale = s.write(Some(&seq("5")), None, None).await.unwrap();
        let theirs = Intent::new(
            vec![IntentObject {
                key: "raw/k".into(),
                first: 0,
                last: 0,
            }],
            &[&seq("6")],
        );
        s.write(Some(&seq("5")), Some(theirs.clone()), stale.clone())
            .await
            .unwrap();
        assert!(s.advance(&seq("10"), stale).await.is_err());
        assert_eq!(s.read().await.unwrap().1, Some(theirs));
    }

    #[tokio::test]
    async fn settling_keeps_the_stored_prefix_and_clears_the_intent() {
        let store = MemoryStore::new();
        let s = state(&store);
        let objects = ["raw/a", "raw/b"].map(|k| IntentObject {
            key: k.into(),
            first: usize::from(k == "raw/b"),
            last: usize::from(k == "raw/b"),
        });
        let intent = Intent::new(objects.to_vec(), &[&seq("7"), &seq("8")]);
        let etag = s.write(None, Some(intent.clone()), None).await.unwrap();
        // Only the first object was stored before the invocation died.
        store
            .put_object(PutObject {
                key: "raw/a".into(),
                body: b"x".to_vec(),
                content_type: "text/plain",
                content_encoding: None,
                metadata: vec![],
                condition: Condition::IfNoneMatch,
            })
            .await
            .unwrap();
        let (mark, _, deleted) = s.settle(&intent, None, etag).await.unwrap();
        assert_eq!(mark, Some(seq("7")));
        assert_eq!(
            deleted, 1,
            "the second object's PUT may have been in flight"
        );
        assert_eq!(store.keys("raw/"), ["raw/a"]);
        let (mark, intent, _) = s.read().await.unwrap();
        assert_eq!((mark, intent), (Some(seq("7")), None));
    }
}

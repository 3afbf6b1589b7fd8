//! The per-shard high-water mark: the highest sequence number whose records are all durably
//! stored. It lives in one small JSON object per shard under `STATE_PREFIX`
//! (`{"shardId": ..., "sequenceNumber": "..."}`) and is only ever moved forward, with a
//! conditional PUT: `If-None-Match: *` for the first, `If-Match: <ETag>` after that.
//!
//! Why it gives exactly once: Lambda may deliver records again after it stored them (the
//! invocation timed out or crashed after the PUTs, the response was lost, the batch was
//! bisected or re-formed with newer records). Records at or below the mark are skipped, so
//! they are not written a second time, under keys that may differ.
//!
//! Assumption: one invocation at a time per shard, i.e. the event source mapping's
//! `ParallelizationFactor` is 1 (the default). With more, two invocations would process
//! different records of one shard concurrently and a single mark per shard could not
//! describe what is stored. (A concurrent writer is still detected: the conditional PUT
//! fails, and the mark is re-read, never moved backwards.)

use super::intent::Intent;
use serde::{Deserialize, Serialize};
use trickle_shared::SequenceNumber;

/// The state object's content: the mark (absent until the shard's first records are
/// stored) and, while an invocation writes, its intent (`intent.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HighWaterMark {
    pub shard_id: String,
    /// The highest sequence number stored (a decimal string: it does not fit a JSON number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// What the invocation in progress (or the one that died) is writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// The committed identity window: its slot and the MD5 of its content
    /// (`trickle_kinesis_batch::identities::WindowRef`); absent until the shard stored a
    /// keyed request's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<String>,
}

impl HighWaterMark {
    pub fn new(shard_id: &str, sequence: &SequenceNumber) -> Self {
        Self::with_intent(shard_id, Some(sequence), None)
    }

    pub fn with_intent(
        shard_id: &str,
        sequence: Option<&SequenceNumber>,
        intent: Option<Intent>,
    ) -> Self {
        Self {
            shard_id: shard_id.to_owned(),
            sequence_number: sequence.map(ToString::to_string),
            intent,
            identities: None,
        }
    }

    /// The mark in the object's body (an error when it has none).
    pub fn parse(body: &[u8]) -> Result<SequenceNumber, String> {
        Self::read(body)?
            .0
            .ok_or_else(|| "no sequence number".to_owned())
    }

    /// The mark and the intent in the object's body.
    pub fn read(body: &[u8]) -> Result<(Option<SequenceNumber>, Option<Intent>), String> {
        let (mark, intent, _) = Self::read_all(body)?;
        Ok((mark, intent))
    }

    /// The mark, the intent and the identity window's reference in the object's body.
    #[allow(clippy::type_complexity)]
    pub fn read_all(
        body: &[u8],
    ) -> Result<(Option<SequenceNumber>, Option<Intent>, Option<String>), String> {
        let state: HighWaterMark = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mark = match state.sequence_number {
            Some(s) => Some(s.parse().map_err(|e| format!("{e}"))?),
            None => None,
        };
        Ok((mark, state.intent, state.identities))
    }

    /// The object's body.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The records still to store: those above the mark (all of them without one). Records come
/// in increasing order, so they are a suffix; returns where it starts.
pub fn first_unstored(
    sequences: impl IntoIterator<Item = SequenceNumber>,
    mark: Option<&SequenceNumber>,
) -> usize {
    let Some(mark) = mark else { return 0 };
    sequences.into_iter().take_while(|s| s <= mark).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seq(s: &str) -> SequenceNumber {
        s.parse().unwrap()
    }

    #[test]
    fn round_trips_56_digit_numbers() {
        let s = seq("49590338271490256608559692538361571095921575989136588898");
        let body = HighWaterMark::new("shardId-1", &s).to_body();
        assert_eq!(HighWaterMark::parse(&body), Ok(s));
        assert!(HighWaterMark::parse(b"{}").is_err());
        assert!(HighWaterMark::parse(br#"{"shardId":"s","sequenceNumber":"x"}"#).is_err());
    }

    #[test]
    fn skips_at_or_below_the_mark_as_integers() {
        let seqs = || ["8", "9", "10", "11"].map(seq);
        assert_eq!(first_unstored(seqs(), None), 0);
        assert_eq!(first_unstored(seqs(), Some(&seq("9"))), 2);
        // "10" > "9" as integers even though "10" < "9" as strings.
        assert_eq!(first_unstored(seqs(), Some(&seq("10"))), 3);
        assert_eq!(first_unstored(seqs(), Some(&seq("100"))), 4);
    }

    proptest! {
        #[test]
        fn skipped_are_exactly_those_at_or_below(mut v in proptest::collection::btree_set(any::<u128>(), 0..30), m: u128) {
            let sorted: Vec<u128> = std::mem::take(&mut v).into_iter().collect();
            let n = first_unstored(sorted.iter().map(|s| seq(&s.to_string())), Some(&seq(&m.to_string())));
            prop_assert_eq!(n, sorted.iter().filter(|&&s| s <= m).count());
        }
    }
}

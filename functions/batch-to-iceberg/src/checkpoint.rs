//! Exactly once, the way Iceberg's Flink and Kafka Connect sinks do it: every commit stores,
//! in its snapshot's summary, the last Kinesis sequence number it committed for its shard,
//! under `trickle.<stream>.<shardId>`. Before writing, an invocation reads that number back
//! from the table and skips every record at or below it.
//!
//! - The append and its checkpoint are one snapshot, committed by one atomic metadata location swap:
//!   either both are in the table or neither is.
//! - The checkpoint is the newest one in the current snapshot's ancestry (main branch):
//!   each commit writes only its own shard's key, so another shard's commit, a compaction
//!   or another engine's append in between does not hide it.
//! - Snapshot expiry must keep a shard's last trickle snapshot for as long as Lambda can
//!   still redeliver records it committed (the event source mapping's
//!   `MaximumRecordAgeInSeconds`, or the stream's retention when unlimited):
//!   docs/design/exactly-once.md. A shard whose checkpoint has expired is read as new.
//! - Within a shard Lambda delivers in order and one invocation at a time
//!   (ParallelizationFactor 1), so a shard's key only ever grows; resharding gives the
//!   children keys of their own.

use iceberg::spec::TableMetadata;
use trickle_shared::SequenceNumber;

/// The prefix of every summary property this function writes.
pub const PROPERTY_PREFIX: &str = "trickle.";

/// The summary property that holds a shard's checkpoint.
pub fn key(stream: &str, shard_id: &str) -> String {
    format!("{PROPERTY_PREFIX}{stream}.{shard_id}")
}

/// The summary property that names a shard's identity window (`<slot>:<md5>`,
/// `trickle_kinesis_batch::identities::WindowRef`), written with the checkpoint by a commit
/// of keyed requests' records. A shard id ends `shardId-<digits>`, so this never equals a
/// checkpoint's key.
pub fn identities_key(stream: &str, shard_id: &str) -> String {
    format!("{}.identities", key(stream, shard_id))
}

/// The newest value of `key` in the current snapshot's ancestry, newest first, and the
/// snapshot that holds it (the checkpoint; the window reference).
pub fn newest_property(metadata: &TableMetadata, key: &str) -> Option<(i64, String)> {
    let mut next = metadata.current_snapshot_id();
    // Bounded by the snapshots the metadata holds: a parent id that loops is not followed
    // twice.
    let mut steps = 0usize;
    while let Some(id) = next {
        if steps > metadata.snapshots().len() {
            break;
        }
        steps += 1;
        // An expired snapshot ends the ancestry.
        let snapshot = metadata.snapshot_by_id(id)?;
        if let Some(value) = snapshot.summary().additional_properties.get(key) {
            return Some((id, value.clone()));
        }
        next = snapshot.parent_snapshot_id();
    }
    None
}

/// A shard's checkpoint as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last sequence number committed; `None` when the shard never committed (or its
    /// snapshot has expired).
    pub sequence: Option<SequenceNumber>,
    /// The snapshot that holds it.
    pub snapshot_id: Option<i64>,
}

/// Why a checkpoint cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot {snapshot_id} has {key}={value:?}, which is not a sequence number")]
pub struct CorruptCheckpoint {
    pub snapshot_id: i64,
    pub key: String,
    pub value: String,
}

/// The checkpoint under `key`: the newest in the current snapshot's ancestry.
pub fn read(metadata: &TableMetadata, key: &str) -> Result<Checkpoint, CorruptCheckpoint> {
    let Some((snapshot_id, value)) = newest_property(metadata, key) else {
        return Ok(Checkpoint {
            sequence: None,
            snapshot_id: None,
        });
    };
    let sequence = value.parse().map_err(|_| CorruptCheckpoint {
        snapshot_id,
        key: key.to_owned(),
        value: value.clone(),
    })?;
    Ok(Checkpoint {
        sequence: Some(sequence),
        snapshot_id: Some(snapshot_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_names_stream_and_shard() {
        assert_eq!(
            key("events", "shardId-000000000003"),
            "trickle.events.shardId-000000000003"
        );
    }
}

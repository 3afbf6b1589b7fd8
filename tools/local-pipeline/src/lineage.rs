//! Shard lineage, as the Kinesis event source mapping follows it across resharding, in pure
//! functions: which shards may be read now, given what is known of their parents.
//!
//! - SplitShard closes one shard and opens two children whose `ParentShardId` is it;
//!   MergeShards closes two adjacent shards and opens one child with `ParentShardId` and
//!   `AdjacentParentShardId`. UpdateShardCount is a series of both.
//! - A closed shard keeps its records until they expire. GetRecords reads it to its end, then
//!   answers without a `NextShardIterator` (and with the `ChildShards`).
//! - Records of one partition key are ordered only within a shard. To keep them in order across
//!   a reshard, Lambda starts a child only after *every* parent has been read to its end and
//!   its last batch processed and checkpointed.
//! - A parent that no listing shows has aged out of the stream's retention: nothing of it is
//!   left to read, so it holds no child back.
//! - Shards without lineage between them are independent and are read in parallel.

use std::collections::BTreeMap;

/// A shard and its parents, as ListShards or GetRecords' `ChildShards` name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardNode {
    pub id: String,
    /// None for a shard of the stream's creation; one after a split; two after a merge.
    pub parents: Vec<String>,
}

impl ShardNode {
    pub fn new<P: Into<String>>(
        id: impl Into<String>,
        parents: impl IntoIterator<Item = P>,
    ) -> Self {
        Self {
            id: id.into(),
            parents: parents.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where the reading of one shard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardState {
    /// Known, not started (a parent is not drained yet, or it was just learned).
    Waiting,
    /// Being read.
    Reading,
    /// Read to its end (closed), and its last batch delivered and checkpointed.
    Drained,
    /// Read up to the newest record when the run stopped; not closed, or its end not seen.
    CaughtUp,
}

/// Every shard the run has heard of, with its parents and where its reading is.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    shards: BTreeMap<String, (Vec<String>, ShardState)>,
}

impl Lineage {
    /// Adds shards from a listing or from `ChildShards`. A shard known already keeps its
    /// parents and state: lineage never changes, and a later listing must not restart a shard.
    pub fn learn(&mut self, shards: impl IntoIterator<Item = ShardNode>) {
        for s in shards {
            self.shards
                .entry(s.id)
                .or_insert((s.parents, ShardState::Waiting));
        }
    }

    /// The shards that may start now, in shard-id order: waiting, and every parent drained
    /// or unknown (aged out of retention).
    pub fn ready(&self) -> Vec<String> {
        self.shards
            .iter()
            .filter(|(_, (parents, state))| {
                *state == ShardState::Waiting
                    && parents.iter().all(|p| {
                        self.shards
                            .get(p)
                            .is_none_or(|(_, s)| *s == ShardState::Drained)
                    })
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Waiting shards that are not ready: a parent is not drained. When the run ends they
    /// were never read (a parent's end was not seen).
    pub fn blocked(&self) -> Vec<String> {
        let ready = self.ready();
        self.shards
            .iter()
            .filter(|(id, (_, state))| *state == ShardState::Waiting && !ready.contains(id))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A shard's state (None: never heard of).
    pub fn state(&self, id: &str) -> Option<ShardState> {
        self.shards.get(id).map(|(_, s)| *s)
    }

    /// Records that reading `id` started.
    pub fn started(&mut self, id: &str) {
        self.set(id, ShardState::Reading);
    }

    /// Records that `id` was read to its end and its last batch checkpointed.
    pub fn drained(&mut self, id: &str) {
        self.set(id, ShardState::Drained);
    }

    /// Records that reading `id` stopped at the newest record, before any end.
    pub fn caught_up(&mut self, id: &str) {
        self.set(id, ShardState::CaughtUp);
    }

    fn set(&mut self, id: &str, state: ShardState) {
        match self.shards.get_mut(id) {
            Some((_, s)) => *s = state,
            None => {
                self.shards.insert(id.to_owned(), (Vec::new(), state));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parents: &[&str]) -> ShardNode {
        ShardNode::new(id, parents.iter().copied())
    }

    /// 0 and 1 from creation; 0 split into 2 and 3, 1 into 4 and 5; 2 and 3 merged into 6.
    fn resharded() -> Lineage {
        let mut l = Lineage::default();
        l.learn([
            node("s0", &[]),
            node("s1", &[]),
            node("s2", &["s0"]),
            node("s3", &["s0"]),
            node("s4", &["s1"]),
            node("s5", &["s1"]),
            node("s6", &["s2", "s3"]),
        ]);
        l
    }

    #[test]
    fn shards_without_parents_start_at_once_and_in_parallel() {
        assert_eq!(resharded().ready(), ["s0", "s1"]);
    }

    #[test]
    fn split_children_wait_until_their_parent_is_drained() {
        let mut l = resharded();
        l.started("s0");
        l.started("s1");
        assert!(l.ready().is_empty());
        l.drained("s1");
        assert_eq!(l.ready(), ["s4", "s5"]);
    }

    #[test]
    fn a_merged_child_waits_for_both_parents() {
        let mut l = resharded();
        for s in ["s0", "s1", "s2", "s3"] {
            l.started(s);
        }
        l.drained("s0");
        l.drained("s2");
        assert!(!l.ready().contains(&"s6".to_string()));
        l.drained("s3");
        assert!(l.ready().contains(&"s6".to_string()));
    }

    #[test]
    fn a_parent_aged_out_of_retention_holds_no_child_back() {
        let mut l = Lineage::default();
        l.learn([node("s6", &["s2", "s3"]), node("s3", &["s0"])]);
        // s2 and s0 are listed no more; s3 still holds records.
        assert_eq!(l.ready(), ["s3"]);
        l.started("s3");
        l.drained("s3");
        assert_eq!(l.ready(), ["s6"]);
    }

    #[test]
    fn started_or_finished_shards_are_not_ready_again_when_listed_again() {
        let mut l = resharded();
        l.started("s0");
        l.caught_up("s1");
        l.learn([node("s0", &[]), node("s1", &[])]);
        assert!(l.ready().is_empty());
        assert_eq!(l.state("s0"), Some(ShardState::Reading));
    }

    #[test]
    fn children_of_a_parent_whose_end_was_not_seen_stay_blocked() {
        let mut l = resharded();
        l.started("s0");
        l.drained("s0");
        l.started("s1");
        l.caught_up("s1");
        assert_eq!(l.ready(), ["s2", "s3"]);
        assert_eq!(l.blocked(), ["s4", "s5", "s6"]);
    }

    #[test]
    fn children_learned_from_get_records_keep_the_lineage_first_known() {
        let mut l = Lineage::default();
        l.learn([node("s0", &[])]);
        l.started("s0");
        l.drained("s0");
        l.learn([node("s1", &["s0"]), node("s2", &["s0"])]);
        l.learn([node("s1", &["something-else"])]);
        assert_eq!(l.ready(), ["s1", "s2"]);
    }
}

//! Dynamic partitioning (what Firehose charges extra for): records are grouped by the value
//! at `OBJECT_PARTITION_POINTER` into `{name}={value}/` key segments.
//!
//! - The value is a JSON scalar (string as itself, number/bool as JSON text), escaped for a
//!   key and cut to `MAX_PARTITION_VALUE_BYTES` (see `key::safe_segment`).
//! - A record without the value (absent, null, object, array, or empty) goes to the default
//!   partition (`DEFAULT_PARTITION`, `__HIVE_DEFAULT_PARTITION__` unless set). So does a
//!   record whose value is spelled like the default partition: it names the same key
//!   segment, which every reader (Hive, Athena, Spark) reads as the default partition too.
//!   Slots and key segments are one to one, so two data objects of one plan never share a
//!   key (see `plan.rs`).
//! - At most `MAX_PARTITIONS` named partitions per invocation, taken in order of first
//!   appearance in the shard. Records of any further value are not dropped: they go to the
//!   default partition too, whole and unchanged (their value is still in the record, so a
//!   query can still filter on it). A batch therefore never writes more than
//!   `MAX_PARTITIONS + 1` data objects, which keeps partitioning from bringing back the
//!   small-files problem. Which values overflow depends only on the records, so the same
//!   records always partition the same way.
//! - A record that is not JSON cannot be partitioned; it goes to the error output.

use crate::key::{safe_segment, MAX_PARTITION_VALUE_BYTES};
use std::collections::HashMap;
use trickle_shared::pointer::scalar_at_pointer;

/// The value a record partitions by: `Ok(None)` when it has none, `Err` when it is not JSON.
/// The record is checked as a whole (valid JSON, as `serde_json::Value` would accept it) but
/// only the value at the pointer is kept (see `pointer.rs`).
pub fn partition_value(data: &[u8], pointer: &str) -> Result<Option<String>, String> {
    Ok(scalar_at_pointer(data, pointer)
        .map_err(|e| e.to_string())?
        .map(|v| safe_segment(&v, MAX_PARTITION_VALUE_BYTES))
        .filter(|v| !v.is_empty()))
}

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The n-th named partition (in order of first appearance).
    Named(usize),
    /// The default partition: no value, or over the bound.
    Default,
}

/// Assigns values to at most `max` named partitions.
#[derive(Debug, Clone)]
pub struct PartitionBound {
    max: usize,
    /// The default partition's (key-safe) value: a record with this value is in it.
    default_value: String,
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// Records sent to the default partition only because of the bound.
    pub overflowed: usize,
}

impl PartitionBound {
    pub fn new(max: usize, default_value: &str) -> Self {
        Self {
            max,
            default_value: default_value.to_owned(),
            names: Vec::new(),
            index: HashMap::new(),
            overflowed: 0,
        }
    }

    /// The slot of a record with this (already key-safe) value.
    pub fn slot(&mut self, value: Option<&str>) -> Slot {
        let Some(v) = value.filter(|v| *v != self.default_value) else {
            return Slot::Default;
        };
        if let Some(&i) = self.index.get(v) {
            return Slot::Named(i);
        }
        if self.names.len() < self.max {
            self.names.push(v.to_owned());
            self.index.insert(v.to_owned(), self.names.len() - 1);
            return Slot::Named(self.names.len() - 1);
        }
        self.overflowed += 1;
        Slot::Default
    }

    /// The value of a named slot.
    pub fn value(&self, slot: Slot) -> Option<&str> {
        match slot {
            Slot::Named(i) => self.names.get(i).map(String::as_str),
            Slot::Default => None,
        }
    }

    /// Named partitions handed out.
    pub fn named(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extracts_escaped_scalar_values() {
        assert_eq!(
            partition_value(br#"{"c":{"id":"a b"}}"#, "/c/id"),
            Ok(Some("a%20b".into()))
        );
        assert_eq!(partition_value(br#"{"c":7}"#, "/c"), Ok(Some("7".into())));
        assert_eq!(partition_value(br#"{"c":""}"#, "/c"), Ok(None));
        assert_eq!(partition_value(br#"{"c":null}"#, "/c"), Ok(None));
        assert_eq!(partition_value(br#"[1]"#, "/c"), Ok(None));
        assert!(partition_value(b"Hello World", "/c").is_err());
    }

    #[test]
    fn bounds_named_partitions_and_sends_overflow_to_default() {
        let mut b = PartitionBound::new(2, "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(b.slot(Some("__HIVE_DEFAULT_PARTITION__")), Slot::Default);
        assert_eq!(b.slot(Some("a")), Slot::Named(0));
        assert_eq!(b.slot(None), Slot::Default);
        assert_eq!(b.slot(Some("b")), Slot::Named(1));
        assert_eq!(b.slot(Some("c")), Slot::Default);
        assert_eq!(b.slot(Some("a")), Slot::Named(0));
        assert_eq!(b.overflowed, 1);
        assert_eq!(b.value(Slot::Named(1)), Some("b"));
        assert_eq!(b.named(), 2);
    }

    proptest! {
        #[test]
        fn never_more_than_max_named_and_nothing_lost(
            values in proptest::collection::vec(proptest::option::of("[a-e]{1,2}"), 0..200),
            max in 1usize..10,
        ) {
            let mut b = PartitionBound::new(max, "d");
            let slots: Vec<Slot> = values.iter().map(|v| b.slot(v.as_deref())).collect();
            prop_assert!(b.named() <= max);
            prop_assert_eq!(slots.len(), values.len());
            // Named values are distinct and never the default's: slots and segments are
            // one to one.
            prop_assert!((0..b.named()).all(|i| b.value(Slot::Named(i)) != Some("d")));
        }

        #[test]
        fn named_slots_hold_their_value(
            values in proptest::collection::vec(proptest::option::of("[a-e]{1,2}"), 0..200),
            max in 1usize..10,
        ) {
            let mut b = PartitionBound::new(max, "d");
            let slots: Vec<Slot> = values.iter().map(|v| b.slot(v.as_deref())).collect();
            prop_assert!(b.named() <= max);
            prop_assert_eq!(slots.len(), values.len());
            for (v, s) in values.iter().zip(&slots) {
                if let Slot::Named(_) = s {
                    prop_assert_eq!(b.value(*s), v.as_deref());
                }
            }
        }
    }
}

//! KPL aggregation on ingest (`AGGREGATE=true`).
//!
//! A shard takes at most 1,000 records/s however small they are, and Firehose bills every
//! record as at least 5 KB; packing many small records into one KPL aggregate (magic,
//! protobuf `AggregatedRecord`, MD5; at most 1 MiB) lifts both limits. Firehose and
//! batch-to-s3 de-aggregate them; the format is checked against the official
//! `aws-kinesis-agg` package (tests/tests/kpl_interop.rs).
//!
//! Grouping keeps Kinesis' routing: records with a partition key (header, query or pointer)
//! are packed only with records of the same key and explicit hash key, and the aggregate is
//! put with that key, so each lands on the shard it would have reached alone, in order.
//! Records whose key was random (no key given) have no affinity; they are packed together
//! under the first one's random key. A keyed request's records each carry their identity in
//! their own partition key (`trickle_shared::identity`): they are packed by explicit hash
//! key, which is what routes them, and each keeps its key inside the aggregate.

use crate::body::{Entry, PartitionKey};
use prost::Message;
use std::collections::HashMap;
use trickle_shared::kpl::{self, UserRecord, KPL_DIGEST_BYTES, KPL_MAGIC};
use trickle_shared::limits::KINESIS_MAX_RECORD_BYTES;

/// One Kinesis record to put, and which request records it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub entry: Entry,
    /// Indices into the request's entries, in order.
    pub members: Vec<usize>,
}

/// Exact size accounting for one aggregate being filled: the protobuf grows by each
/// `Record` message (field 3) and by each key the tables do not hold yet (fields 1 and 2).
#[derive(Default)]
struct Sizer<'a> {
    partition_keys: HashMap<&'a str, u64>,
    hash_keys: HashMap<&'a str, u64>,
    bytes: usize,
}

fn field_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

impl<'a> Sizer<'a> {
    /// The bytes `e` would add.
    fn added(&self, e: &'a Entry) -> usize {
        let (pk_index, new_pk) = match self.partition_keys.get(e.partition_key.as_str()) {
            Some(&i) => (i, 0),
            None => (
                self.partition_keys.len() as u64,
                field_len(e.partition_key.len()),
            ),
        };
        let (ehk_index, new_ehk) = match e.explicit_hash_key.as_deref() {
            None => (None, 0),
            Some(k) => match self.hash_keys.get(k) {
                Some(&i) => (Some(i), 0),
                None => (Some(self.hash_keys.len() as u64), field_len(k.len())),
            },
        };
        let record = kpl::Record {
            partition_key_index: pk_index,
            explicit_hash_key_index: ehk_index,
            data: Vec::new(),
            tags: Vec::new(),
        };
        // `record` has empty data: its encoding holds the data field's tag and a 0 length.
        let record_len = record.encoded_len() - 1
            + prost::encoding::encoded_len_varint(e.data.len() as u64)
            + e.data.len();
        field_len(record_len) + new_pk + new_ehk
    }

    fn add(&mut self, e: &'a Entry) {
        self.bytes += self.added(e);
        let n = self.partition_keys.len() as u64;
        self.partition_keys
            .entry(e.partition_key.as_str())
            .or_insert(n);
        if let Some(k) = e.explicit_hash_key.as_deref() {
            let n = self.hash_keys.len() as u64;
            self.hash_keys.entry(k).or_insert(n);
        }
    }
}

/// Packs a request's entries into aggregates of at most 1 MiB (with the outer partition
/// key); an entry too large to share an aggregate is put as it is.
pub fn pack(entries: &[Entry]) -> Vec<Packed> {
    let overhead = KPL_MAGIC.len() + KPL_DIGEST_BYTES;
    // Groups in order of first appearance.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<Option<(&str, Option<&str>)>, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let key = match &e.partition_key {
            PartitionKey::Random(_) => None,
            // Each has a key of its own; the hash key routes them all alike.
            PartitionKey::Identity(_) => Some(("", e.explicit_hash_key.as_deref())),
            k => Some((k.as_str(), e.explicit_hash_key.as_deref())),
        };
        let g = *group_of.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut out = Vec::new();
    for group in groups {
        let outer_key = &entries[group[0]].partition_key;
        let budget = KINESIS_MAX_RECORD_BYTES - outer_key.len() - overhead;
        let mut current: Vec<usize> = Vec::new();
        let mut sizer = Sizer::default();
        for i in group {
            if Sizer::default().added(&entries[i]) > budget {
                out.push(Packed {
                    entry: entries[i].clone(),
                    members: vec![i],
                });
                continue;
            }
            // Full, or too dense for the writers to read it (an aggregate keeps at least
            // `MIN_AGGREGATE_BYTES_PER_RECORD` bytes per record: tiny records go a few at a
            // time).
            let after = sizer.bytes + sizer.added(&entries[i]);
            let too_dense =
                (current.len() + 1) * kpl::MIN_AGGREGATE_BYTES_PER_RECORD > overhead + after;
            if !current.is_empty() && (after > budget || too_dense) {
                out.push(seal(entries, std::mem::take(&mut current), outer_key));
                sizer = Sizer::default();
            }
            sizer.add(&entries[i]);
            current.push(i);
        }
        if !current.is_empty() {
            out.push(seal(entries, current, outer_key));
        }
    }
    out.sort_by_key(|p| p.members[0]);
    out
}

fn seal(entries: &[Entry], members: Vec<usize>, outer_key: &PartitionKey) -> Packed {
    if let [only] = members.as_slice() {
        // One record gains nothing from the envelope.
        return Packed {
            entry: entries[*only].clone(),
            members,
        };
    }
    let users: Vec<UserRecord> = members
        .iter()
        .map(|&i| UserRecord {
            partition_key: entries[i].partition_key.as_str().to_owned(),
            explicit_hash_key: entries[i].explicit_hash_key.as_deref().map(str::to_owned),
            data: entries[i].data.to_vec(),
        })
        .collect();
    let first = &entries[members[0]];
    Packed {
        entry: Entry {
            data: kpl::aggregate(&users).into(),
            partition_key: outer_key.clone(),
            explicit_hash_key: first.explicit_hash_key.clone(),
        },
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trickle_shared::kpl::{deaggregate, Deaggregated};

    /// Records long enough to share an aggregate (`MIN_AGGREGATE_BYTES_PER_RECORD`).
    fn padded(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.resize(40, b' ');
        v
    }

    fn entry(pk: &str, random: bool, data: Vec<u8>) -> Entry {
        let partition_key = if random {
            let mut text = [b'0'; 36];
            text[36 - pk.len().min(36)..].copy_from_slice(&pk.as_bytes()[..pk.len().min(36)]);
            PartitionKey::Random(text)
        } else {
            pk.into()
        };
        Entry {
            data: data.into(),
            partition_key,
            explicit_hash_key: None,
        }
    }

    /// The writers refuse an aggregate denser than `MIN_AGGREGATE_BYTES_PER_RECORD`; ingest
    /// never builds one, however small the records, and loses none.
    #[test]
    fn builds_no_aggregate_the_writers_would_refuse() {
        for size in [0usize, 1, 5, 20, 26, 40] {
            let entries: Vec<Entry> = (0..5000)
                .map(|_| entry("k", false, vec![b'x'; size]))
                .collect();
            let packed = pack(&entries);
            assert_eq!(packed.iter().map(|p| p.members.len()).sum::<usize>(), 5000);
            for p in &packed {
                if let Deaggregated::Aggregated(users) = deaggregate(&p.entry.data).unwrap() {
                    assert!(
                        users.len() <= kpl::max_aggregated_records(p.entry.data.len()),
                        "{size}-byte records: {} in {} bytes",
                        users.len(),
                        p.entry.data.len()
                    );
                }
            }
        }
    }

    #[test]
    fn ten_thousand_small_unkeyed_records_become_two_aggregates() {
        let entries: Vec<Entry> = (0..10_000)
            .map(|i| entry(&format!("{i:036}"), true, vec![b'x'; 100]))
            .collect();
        let packed = pack(&entries);
        assert_eq!(packed.len(), 2);
        let mut back = Vec::new();
        for p in &packed {
            assert!(p.entry.billed_bytes() <= KINESIS_MAX_RECORD_BYTES);
            let Deaggregated::Aggregated(users) = deaggregate(&p.entry.data).unwrap() else {
                panic!("not an aggregate")
            };
            back.extend(users.into_iter().map(|u| (u.partition_key, u.data)));
        }
        let want: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|e| (e.partition_key.to_string(), e.data.to_vec()))
            .collect();
        assert_eq!(back, want, "every record once, in order, with its own key");
    }

    proptest::proptest! {
        #[test]
        fn size_accounting_is_exact(datas in proptest::collection::vec(proptest::collection::vec(0u8..255, 0..300), 2..40),
                                    keyed in proptest::bool::ANY) {
            let entries: Vec<Entry> = datas.into_iter().enumerate()
                .map(|(i, d)| entry(&if keyed { "same".to_string() } else { format!("k{i}") }, !keyed, d))
                .collect();
            let mut sizer = Sizer::default();
            for e in &entries {
                sizer.add(e);
            }
            let users: Vec<UserRecord> = entries.iter().map(|e| UserRecord {
                partition_key: e.partition_key.to_string(), explicit_hash_key: None, data: e.data.to_vec(),
            }).collect();
            proptest::prop_assert_eq!(sizer.bytes + KPL_MAGIC.len() + KPL_DIGEST_BYTES, kpl::aggregate(&users).len());
        }
    }

    #[test]
    fn keyed_records_are_packed_only_with_their_key() {
        let entries = vec![
            entry("a", false, padded(b"1")),
            entry("b", false, padded(b"2")),
            entry("a", false, padded(b"3")),
            entry("r", true, padded(b"4")),
        ];
        let packed = pack(&entries);
        let members: Vec<Vec<usize>> = packed.iter().map(|p| p.members.clone()).collect();
        assert_eq!(members, vec![vec![0, 2], vec![1], vec![3]]);
        assert_eq!(packed[0].entry.partition_key, "a");
        assert_eq!(
            &packed[1].entry.data[..],
            &padded(b"2")[..],
            "a lone record is put as it is"
        );
    }

    #[test]
    fn a_record_too_big_to_share_is_put_alone() {
        let entries = vec![
            entry("k", false, vec![b'x'; KINESIS_MAX_RECORD_BYTES - 10]),
            entry("k", false, padded(b"small")),
            entry("k", false, padded(b"small")),
        ];
        let packed = pack(&entries);
        assert_eq!(packed.len(), 2);
        assert_eq!(packed[0].members, vec![0]);
        assert_eq!(packed[0].entry.data.len(), KINESIS_MAX_RECORD_BYTES - 10);
        assert_eq!(packed[1].members, vec![1, 2]);
    }

    #[test]
    fn aggregates_fill_up_to_but_not_past_one_mebibyte() {
        let entries: Vec<Entry> = (0..3000)
            .map(|_| entry("k", false, vec![b'y'; 1000]))
            .collect();
        let packed = pack(&entries);
        assert_eq!(packed.len(), 3);
        for p in &packed {
            assert!(p.entry.billed_bytes() <= KINESIS_MAX_RECORD_BYTES);
            assert!(
                p.entry.billed_bytes() > KINESIS_MAX_RECORD_BYTES - 2000
                    || p.members.last() == Some(&2999)
            );
        }
    }
}

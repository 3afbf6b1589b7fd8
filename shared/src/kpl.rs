//! KPL (Kinesis Producer Library) record aggregation, the format Firehose and the KCL
//! de-aggregate:
//!
//! ```text
//! F3 89 9A C2 | protobuf AggregatedRecord | MD5(protobuf bytes), 16 bytes
//! ```
//!
//! The protobuf messages are declared with `prost` derives (the schema is tiny and fixed), so
//! no build-time `protoc` is needed. A record that starts with the magic bytes but whose MD5
//! does not match is, as in the KCL, an ordinary record that happens to start that way.

use md5::{Digest, Md5};
use prost::Message;

/// The four magic bytes that open an aggregated record.
pub const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// The MD5 digest that closes an aggregated record.
pub const KPL_DIGEST_BYTES: usize = 16;

/// `message AggregatedRecord` of the KPL's `messages.proto`.
#[derive(Clone, PartialEq, Message)]
pub struct AggregatedRecord {
    #[prost(string, repeated, tag = "1")]
    pub partition_key_table: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub explicit_hash_key_table: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    pub records: Vec<Record>,
}

/// `message Record`: one user record inside an aggregate.
#[derive(Clone, PartialEq, Message)]
pub struct Record {
    #[prost(uint64, required, tag = "1")]
    pub partition_key_index: u64,
    #[prost(uint64, optional, tag = "2")]
    pub explicit_hash_key_index: Option<u64>,
    #[prost(bytes = "vec", required, tag = "3")]
    pub data: Vec<u8>,
    #[prost(message, repeated, tag = "4")]
    pub tags: Vec<Tag>,
}

/// `message Tag` (unused by Kinesis itself, kept for wire compatibility).
#[derive(Clone, PartialEq, Message)]
pub struct Tag {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// One user record recovered from an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

/// An aggregate whose framing and digest are right but whose contents are not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KplError {
    #[error("KPL aggregate has a valid digest but its protobuf does not decode: {0}")]
    Protobuf(String),
    #[error(
        "KPL user record {index} names partition key index {key_index}, table has {table_len}"
    )]
    PartitionKeyIndex {
        index: usize,
        key_index: u64,
        table_len: usize,
    },
    #[error(
        "KPL user record {index} names explicit hash key index {key_index}, table has {table_len}"
    )]
    ExplicitHashKeyIndex {
        index: usize,
        key_index: u64,
        table_len: usize,
    },
    #[error("KPL aggregate of {bytes} bytes holds {records} user records, more than the {max} allowed for its size")]
    TooManyRecords {
        records: usize,
        max: usize,
        bytes: usize,
    },
}

/// The fewest bytes of an aggregate per user record it holds, for the writers that read
/// aggregates (batch-to-s3, batch-to-iceberg) and ingest, which builds none denser. A user
/// record takes its data and 6 bytes or more of framing in an aggregate, so this admits
/// records of 26 data bytes on average (the KPL's aggregates of JSON or log lines are far
/// above it). What one user record costs a writer in memory (its place in the batch, an
/// error line's fixed part) is then bounded by a multiple of the aggregate's size.
pub const MIN_AGGREGATE_BYTES_PER_RECORD: usize = 32;

/// The most user records an aggregate of `bytes` bytes (magic and digest included) may hold.
pub fn max_aggregated_records(bytes: usize) -> usize {
    (bytes / MIN_AGGREGATE_BYTES_PER_RECORD).max(1)
}

/// The result of looking at one Kinesis record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deaggregated {
    /// Not an aggregate (no magic, too short, or the digest does not match): the data is
    /// one user record as it stands.
    Plain,
    /// An aggregate and its user records, in order.
    Aggregated(Vec<UserRecord>),
}

/// True when the data is framed as an aggregate with a matching digest.
fn checked_payload(data: &[u8]) -> Option<&[u8]> {
    if data.len() < KPL_MAGIC.len() + KPL_DIGEST_BYTES || !data.starts_with(&KPL_MAGIC) {
        return None;
    }
    let (payload, digest) =
        data[KPL_MAGIC.len()..].split_at(data.len() - KPL_MAGIC.len() - KPL_DIGEST_BYTES);
    (Md5::digest(payload).as_slice() == digest).then_some(payload)
}

/// De-aggregates one Kinesis record's data.
pub fn deaggregate(data: &[u8]) -> Result<Deaggregated, KplError> {
    Ok(match deaggregate_ref(data, usize::MAX)? {
        DeaggregatedRef::Plain => Deaggregated::Plain,
        DeaggregatedRef::Aggregated(users) => Deaggregated::Aggregated(
            users
                .into_iter()
                .map(|u| UserRecord {
                    partition_key: u.partition_key.to_owned(),
                    explicit_hash_key: u.explicit_hash_key.map(str::to_owned),
                    data: u.data.to_vec(),
                })
                .collect(),
        ),
    })
}

/// One user record of an aggregate, borrowed from the aggregate's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRecordRef<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
    pub data: &'a [u8],
}

/// `Deaggregated` without copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeaggregatedRef<'a> {
    Plain,
    Aggregated(Vec<UserRecordRef<'a>>),
}

/// De-aggregates one Kinesis record's data without copying it: what it adds in memory is a
/// `UserRecordRef` per user record. An aggregate of more than `max_records` user records is
/// refused (`TooManyRecords`) after counting them, before anything is allocated.
///
/// The protobuf is read by hand (three fields at the top, four in a record), as prost reads
/// it: fields in any order, unknown fields skipped, the last value of a repeated scalar wins,
/// a missing `partition_key_index` is 0 and a missing `data` empty. `prost`'s messages above
/// stay the writer (`aggregate`) and the tests' oracle.
pub fn deaggregate_ref(data: &[u8], max_records: usize) -> Result<DeaggregatedRef<'_>, KplError> {
    let Some(payload) = checked_payload(data) else {
        return Ok(DeaggregatedRef::Plain);
    };
    let (mut pk_len, mut ehk_len, mut count) = (0usize, 0usize, 0usize);
    for field in Fields(payload) {
        match field? {
            (1, Wire::Bytes(_)) => pk_len += 1,
            (2, Wire::Bytes(_)) => ehk_len += 1,
            (3, Wire::Bytes(_)) => count += 1,
            (1..=3, _) => {
                return Err(wire_error(
                    "a field of AggregatedRecord has the wrong wire type",
                ))
            }
            _ => {}
        }
    }
    if count > max_records {
        return Err(KplError::TooManyRecords {
            records: count,
            max: max_records,
            bytes: data.len(),
        });
    }
    let mut partition_keys = Vec::with_capacity(pk_len);
    let mut explicit_hash_keys = Vec::with_capacity(ehk_len);
    let mut records = Vec::with_capacity(count);
    for field in Fields(payload) {
        match field? {
            (1, Wire::Bytes(b)) => partition_keys.push(utf8(b)?),
            (2, Wire::Bytes(b)) => explicit_hash_keys.push(utf8(b)?),
            (3, Wire::Bytes(b)) => records.push(b),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(count);
    for (index, record) in records.into_iter().enumerate() {
        let (mut pk_index, mut ehk_index, mut bytes) = (0u64, None, &record[..0]);
        for field in Fields(record) {
            match field? {
                (1, Wire::Varint(v)) => pk_index = v,
                (2, Wire::Varint(v)) => ehk_index = Some(v),
                (3, Wire::Bytes(b)) => bytes = b,
                (4, Wire::Bytes(tag)) => check_tag(tag)?,
                (1..=4, _) => return Err(wire_error("a field of Record has the wrong wire type")),
                _ => {}
            }
        }
        let partition_key = usize::try_from(pk_index)
            .ok()
            .and_then(|i| partition_keys.get(i).copied())
            .ok_or(KplError::PartitionKeyIndex {
                index,
                key_index: pk_index,
                table_len: partition_keys.len(),
            })?;
        let explicit_hash_key = match ehk_index {
            None => None,
            Some(k) => Some(
                usize::try_from(k)
                    .ok()
                    .and_then(|i| explicit_hash_keys.get(i).copied())
                    .ok_or(KplError::ExplicitHashKeyIndex {
                        index,
                        key_index: k,
                        table_len: explicit_hash_keys.len(),
                    })?,
            ),
        };
        out.push(UserRecordRef {
            partition_key,
            explicit_hash_key,
            data: bytes,
        });
    }
    Ok(DeaggregatedRef::Aggregated(out))
}

fn wire_error(what: &str) -> KplError {
    KplError::Protobuf(what.to_owned())
}

fn utf8(b: &[u8]) -> Result<&str, KplError> {
    std::str::from_utf8(b).map_err(|_| wire_error("a key table entry is not UTF-8"))
}

/// A `Tag` is skipped, but checked as prost would decode it (its strings are UTF-8).
fn check_tag(tag: &[u8]) -> Result<(), KplError> {
    for field in Fields(tag) {
        match field? {
            (1 | 2, Wire::Bytes(b)) => {
                utf8(b)?;
            }
            (1 | 2, _) => return Err(wire_error("a field of Tag has the wrong wire type")),
            _ => {}
        }
    }
    Ok(())
}

/// One protobuf field's value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one protobuf message, as `(field number, value)`.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, KplError> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&b, rest) = self
                .0
                .split_first()
                .ok_or_else(|| wire_error("a varint runs past the end"))?;
            self.0 = rest;
            if i == 9 && b > 1 {
                return Err(wire_error("a varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(wire_error("a varint is longer than 10 bytes"))
    }

    /// Skips the fields of a group up to its end-group marker.
    fn skip_group(&mut self, number: u64, depth: usize) -> Result<(), KplError> {
        if depth > 100 {
            return Err(wire_error("groups nest too deep"));
        }
        loop {
            let key = self.varint()?;
            let inner = key >> 3;
            if inner == 0 || inner > u64::from(u32::MAX >> 3) {
                return Err(wire_error("a field number is out of range"));
            }
            match key & 7 {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8)?;
                }
                2 => {
                    let n = self.varint()?;
                    self.take(n)?;
                }
                3 => self.skip_group(inner, depth + 1)?,
                4 if inner == number => return Ok(()),
                5 => {
                    self.take(4)?;
                }
                _ => return Err(wire_error("a group ends out of place")),
            }
        }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], KplError> {
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or_else(|| wire_error("a field runs past the end"))?;
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), KplError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = (|| {
            let key = self.varint()?;
            let number = key >> 3;
            if number == 0 || number > u64::from(u32::MAX >> 3) {
                return Err(wire_error("a field number is out of range"));
            }
            let value = match key & 7 {
                0 => Wire::Varint(self.varint()?),
                1 => {
                    self.take(8)?;
                    Wire::Fixed
                }
                2 => {
                    let n = self.varint()?;
                    Wire::Bytes(self.take(n)?)
                }
                5 => {
                    self.take(4)?;
                    Wire::Fixed
                }
                // A group (deprecated, never in an aggregate): skipped to its end, as prost
                // skips an unknown one.
                3 => {
                    self.skip_group(number, 0)?;
                    Wire::Fixed
                }
                _ => return Err(wire_error("an unexpected wire type")),
            };
            Ok((number, value))
        })();
        if field.is_err() {
            self.0 = &[];
        }
        Some(field)
    }
}

/// Builds an aggregate from user records (partition keys and explicit hash keys are stored
/// once each in the tables, as the KPL does).
pub fn aggregate(records: &[UserRecord]) -> Vec<u8> {
    let mut agg = AggregatedRecord::default();
    let mut pk_index = std::collections::HashMap::<&str, u64>::new();
    let mut ehk_index = std::collections::HashMap::<&str, u64>::new();
    for r in records {
        let pk = *pk_index.entry(&r.partition_key).or_insert_with(|| {
            agg.partition_key_table.push(r.partition_key.clone());
            agg.partition_key_table.len() as u64 - 1
        });
        let ehk = r.explicit_hash_key.as_deref().map(|e| {
            *ehk_index.entry(e).or_insert_with(|| {
                agg.explicit_hash_key_table.push(e.to_owned());
                agg.explicit_hash_key_table.len() as u64 - 1
            })
        });
        agg.records.push(Record {
            partition_key_index: pk,
            explicit_hash_key_index: ehk,
            data: r.data.clone(),
            tags: Vec::new(),
        });
    }
    let payload = agg.encode_to_vec();
    let mut out = Vec::with_capacity(KPL_MAGIC.len() + payload.len() + KPL_DIGEST_BYTES);
    out.extend_from_slice(&KPL_MAGIC);
    out.extend_from_slice(&payload);
    out.extend_from_slice(&Md5::digest(&payload));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(pk: &str, data: &[u8]) -> UserRecord {
        UserRecord {
            partition_key: pk.into(),
            explicit_hash_key: None,
            data: data.to_vec(),
        }
    }

    #[test]
    fn plain_data_is_not_an_aggregate() {
        assert_eq!(deaggregate(b"HelloWorld").unwrap(), Deaggregated::Plain);
        assert_eq!(deaggregate(&KPL_MAGIC).unwrap(), Deaggregated::Plain);
    }

    #[test]
    fn bad_digest_is_treated_as_a_plain_record() {
        let mut agg = aggregate(&[user("a", b"x")]);
        let last = agg.len() - 1;
        agg[last] ^= 0xff;
        assert_eq!(deaggregate(&agg).unwrap(), Deaggregated::Plain);
    }

    #[test]
    fn valid_digest_over_garbage_is_corrupt() {
        let payload = b"\xff\xff\xff";
        let mut data = KPL_MAGIC.to_vec();
        data.extend_from_slice(payload);
        data.extend_from_slice(&Md5::digest(payload));
        assert!(matches!(deaggregate(&data), Err(KplError::Protobuf(_))));
    }

    #[test]
    fn out_of_range_key_index_is_corrupt() {
        let agg = AggregatedRecord {
            partition_key_table: vec!["a".into()],
            explicit_hash_key_table: vec![],
            records: vec![Record {
                partition_key_index: 3,
                explicit_hash_key_index: None,
                data: b"x".to_vec(),
                tags: vec![],
            }],
        };
        let payload = agg.encode_to_vec();
        let mut data = KPL_MAGIC.to_vec();
        data.extend_from_slice(&payload);
        data.extend_from_slice(&Md5::digest(&payload));
        assert!(matches!(
            deaggregate(&data),
            Err(KplError::PartitionKeyIndex {
                index: 0,
                key_index: 3,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn aggregate_round_trips(records in proptest::collection::vec(
            ("[a-z]{1,8}", proptest::option::of("[0-9]{1,38}"), proptest::collection::vec(any::<u8>(), 0..64)),
            1..20,
        )) {
            let records: Vec<UserRecord> = records.into_iter().map(|(pk, ehk, data)| UserRecord {
                partition_key: pk, explicit_hash_key: ehk, data,
            }).collect();
            let bytes = aggregate(&records);
            prop_assert_eq!(deaggregate(&bytes).unwrap(), Deaggregated::Aggregated(records));
        }

        /// The hand-written reader and prost's decoding agree on any payload.
        #[test]
        fn reads_as_prost_decodes(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut framed = KPL_MAGIC.to_vec();
            framed.extend_from_slice(&payload);
            framed.extend_from_slice(&Md5::digest(&payload));
            let ours = deaggregate(&framed);
            match AggregatedRecord::decode(payload.as_slice()) {
                Err(_) => prop_assert!(matches!(ours, Err(KplError::Protobuf(_))), "{:?}", ours),
                Ok(agg) => {
                    let expected: Result<Vec<UserRecord>, ()> = agg.records.iter().map(|r| {
                        Ok(UserRecord {
                            partition_key: agg.partition_key_table.get(r.partition_key_index as usize).ok_or(())?.clone(),
                            explicit_hash_key: match r.explicit_hash_key_index {
                                None => None,
                                Some(i) => Some(agg.explicit_hash_key_table.get(i as usize).ok_or(())?.clone()),
                            },
                            data: r.data.clone(),
                        })
                    }).collect();
                    match expected {
                        Ok(users) => prop_assert_eq!(ours, Ok(Deaggregated::Aggregated(users))),
                        Err(()) => prop_assert!(ours.is_err()),
                    }
                }
            }
        }

        /// Valid aggregates (prost-encoded, with tags and unknown fields kept out) read the
        /// same through both.
        #[test]
        fn reads_prost_encoded_aggregates(records in proptest::collection::vec(
            (0u64..3, proptest::option::of(0u64..2), proptest::collection::vec(any::<u8>(), 0..40), any::<bool>()),
            0..12,
        )) {
            let agg = AggregatedRecord {
                partition_key_table: vec!["a".into(), "bb".into(), "c".into()],
                explicit_hash_key_table: vec!["1".into(), "22".into()],
                records: records.iter().map(|(pk, ehk, data, tag)| Record {
                    partition_key_index: *pk,
                    explicit_hash_key_index: *ehk,
                    data: data.clone(),
                    tags: if *tag { vec![Tag { key: "k".into(), value: Some("v".into()) }] } else { vec![] },
                }).collect(),
            };
            let payload = agg.encode_to_vec();
            let mut framed = KPL_MAGIC.to_vec();
            framed.extend_from_slice(&payload);
            framed.extend_from_slice(&Md5::digest(&payload));
            let Ok(DeaggregatedRef::Aggregated(users)) = deaggregate_ref(&framed, usize::MAX) else {
                return Err(TestCaseError::fail("not read"));
            };
            prop_assert_eq!(users.len(), records.len());
            for (u, (pk, ehk, data, _)) in users.iter().zip(&records) {
                prop_assert_eq!(u.partition_key, agg.partition_key_table[*pk as usize].as_str());
                prop_assert_eq!(u.explicit_hash_key, ehk.map(|e| agg.explicit_hash_key_table[e as usize].as_str()));
                prop_assert_eq!(u.data, data.as_slice());
            }
            // The count is known before anything is allocated.
            if !records.is_empty() {
                let refused = matches!(
                    deaggregate_ref(&framed, records.len() - 1),
                    Err(KplError::TooManyRecords { .. })
                );
                prop_assert!(refused);
            }
        }

        #[test]
        fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut framed = KPL_MAGIC.to_vec();
            framed.extend_from_slice(&data);
            let _ = deaggregate(&data);
            let _ = deaggregate(&framed);
        }
    }
}

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
    let Some(payload) = checked_payload(data) else {
        return Ok(Deaggregated::Plain);
    };
    let agg = AggregatedRecord::decode(payload).map_err(|e| KplError::Protobuf(e.to_string()))?;
    let pk_len = agg.partition_key_table.len();
    let ehk_len = agg.explicit_hash_key_table.len();
    let mut out = Vec::with_capacity(agg.records.len());
    let AggregatedRecord {
        partition_key_table,
        explicit_hash_key_table,
        records,
    } = agg;
    for (index, r) in records.into_iter().enumerate() {
        let partition_key = usize::try_from(r.partition_key_index)
            .ok()
            .and_then(|i| partition_key_table.get(i))
            .ok_or(KplError::PartitionKeyIndex {
                index,
                key_index: r.partition_key_index,
                table_len: pk_len,
            })?
            .clone();
        let explicit_hash_key = match r.explicit_hash_key_index {
            None => None,
            Some(k) => Some(
                usize::try_from(k)
                    .ok()
                    .and_then(|i| explicit_hash_key_table.get(i))
                    .ok_or(KplError::ExplicitHashKeyIndex {
                        index,
                        key_index: k,
                        table_len: ehk_len,
                    })?
                    .clone(),
            ),
        };
        out.push(UserRecord {
            partition_key,
            explicit_hash_key,
            data: r.data,
        });
    }
    Ok(Deaggregated::Aggregated(out))
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

        #[test]
        fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut framed = KPL_MAGIC.to_vec();
            framed.extend_from_slice(&data);
            let _ = deaggregate(&data);
            let _ = deaggregate(&framed);
        }
    }
}

//! `trickle_shared::kpl::deaggregate` on raw bytes, and on the same bytes framed as an
//! aggregate with a correct digest (magic `F3 89 9A C2`, the bytes, their MD5) so that the
//! protobuf decoding is reached on every run.
//!
//! Invariants:
//! - never panics; memory stays bounded by the input (a length prefix must not make it
//!   allocate what the input does not hold);
//! - a correctly framed input is never `Plain`;
//! - whatever de-aggregates re-aggregates (`kpl::aggregate`) to something that
//!   de-aggregates to the same user records;
//! - the hand-written protobuf reader agrees with prost's decoding of the same payload (the
//!   same user records, or both refuse it);
//! - with the writers' bound (`max_aggregated_records`), an aggregate is refused or holds no
//!   more user records than its size allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};
use prost::Message;
use trickle_shared::kpl::{
    aggregate, deaggregate, deaggregate_ref, max_aggregated_records, AggregatedRecord,
    Deaggregated, DeaggregatedRef, KplError, KPL_MAGIC,
};

/// What prost makes of the payload, as user records (`None`: it, or a key index, fails).
fn prost_users(payload: &[u8]) -> Option<Vec<(String, Option<String>, Vec<u8>)>> {
    let agg = AggregatedRecord::decode(payload).ok()?;
    agg.records
        .iter()
        .map(|r| {
            let pk = agg.partition_key_table.get(usize::try_from(r.partition_key_index).ok()?)?;
            let ehk = match r.explicit_hash_key_index {
                None => None,
                Some(i) => Some(agg.explicit_hash_key_table.get(usize::try_from(i).ok()?)?.clone()),
            };
            Some((pk.clone(), ehk, r.data.clone()))
        })
        .collect()
}

fn round_trips(data: &[u8]) {
    if let Ok(Deaggregated::Aggregated(users)) = deaggregate(data) {
        let again = aggregate(&users);
        match deaggregate(&again) {
            Ok(Deaggregated::Aggregated(back)) => {
                assert_eq!(back, users, "aggregate/deaggregate round trip")
            }
            other => panic!("re-aggregated records do not de-aggregate: {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // As it comes: mostly plain records, sometimes the fuzzer finds the framing itself.
    round_trips(data);

    // Framed with a valid digest: the protobuf decoder sees `data`.
    let mut framed = Vec::with_capacity(KPL_MAGIC.len() + data.len() + 16);
    framed.extend_from_slice(&KPL_MAGIC);
    framed.extend_from_slice(data);
    framed.extend_from_slice(&Md5::digest(data));
    let result = deaggregate(&framed);
    assert!(
        !matches!(result, Ok(Deaggregated::Plain)),
        "a record with magic and a matching digest was taken as plain"
    );
    let ours = result.as_ref().ok().map(|d| match d {
        Deaggregated::Aggregated(users) => users
            .iter()
            .map(|u| (u.partition_key.clone(), u.explicit_hash_key.clone(), u.data.clone()))
            .collect::<Vec<_>>(),
        Deaggregated::Plain => unreachable!("checked above"),
    });
    assert_eq!(ours, prost_users(data), "the reader and prost disagree");
    match deaggregate_ref(&framed, max_aggregated_records(framed.len())) {
        Ok(DeaggregatedRef::Aggregated(users)) => {
            assert!(users.len() <= max_aggregated_records(framed.len()))
        }
        Ok(DeaggregatedRef::Plain) => panic!("framed taken as plain"),
        Err(KplError::TooManyRecords { records, max, .. }) => assert!(records > max),
        Err(_) => assert!(result.is_err()),
    }
    round_trips(&framed);
});

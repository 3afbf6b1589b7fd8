//! `trickle_shared::kpl::deaggregate` on raw bytes, and on the same bytes framed as an
//! aggregate with a correct digest (magic `F3 89 9A C2`, the bytes, their MD5) so that the
//! protobuf decoding is reached on every run.
//!
//! Invariants:
//! - never panics; memory stays bounded by the input (a length prefix must not make it
//!   allocate what the input does not hold);
//! - a correctly framed input is never `Plain`;
//! - whatever de-aggregates re-aggregates (`kpl::aggregate`) to something that
//!   de-aggregates to the same user records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};
use trickle_shared::kpl::{aggregate, deaggregate, Deaggregated, KPL_MAGIC};

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
    round_trips(&framed);
});

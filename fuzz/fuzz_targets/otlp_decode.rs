//! `trickle_otlp::decode` and `rows` on any bytes: `[kind] ++ body`, where `kind % 3` is the
//! signal (logs, traces, metrics) and `kind / 3 % 2` the encoding (protobuf, JSON).
//!
//! Invariants: never panics; the rows stay within their byte bound; every row is a JSON
//! object; a decoded request re-encodes to protobuf that decodes and re-encodes to the same
//! bytes (compared as bytes: a NaN is not equal to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use trickle_otlp::{decode, Encoding, Request, Signal};

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let signal = [Signal::Logs, Signal::Traces, Signal::Metrics][usize::from(kind % 3)];
    let encoding = [Encoding::Protobuf, Encoding::Json][usize::from(kind / 3 % 2)];
    let Ok(request) = decode(signal, encoding, body) else {
        return;
    };
    if let Ok(rows) = request.rows(1, LIMIT) {
        assert!(rows.iter().map(|r| r.json.len()).sum::<usize>() <= LIMIT);
        for r in rows {
            let v: serde_json::Value = serde_json::from_slice(&r.json).expect("a row is JSON");
            assert!(v.is_object());
        }
    }
    let encode = |request: &Request| match request {
        Request::Logs(r) => r.encode_to_vec(),
        Request::Traces(r) => r.encode_to_vec(),
        Request::Metrics(r) => r.encode_to_vec(),
    };
    let again = encode(&request);
    let decoded = decode(signal, Encoding::Protobuf, &again).expect("our own encoding decodes");
    assert_eq!(encode(&decoded), again);
});

//! `ingest::body::parse` of a compressed (or msgpack) request whose body is the input bytes as
//! they are after a first byte that picks the content type and the encoding, so the fuzzer
//! mutates the compressed stream itself and crafted bombs can be replayed from a file:
//! `[kind] ++ body`, where `kind % 4` is the content type (0 json, 1 ndjson, 2 text,
//! 3 msgpack) and `kind / 4 % 7` the Content-Encoding (0 gzip, 1 deflate, 2 zstd, 3 br,
//! 4 snappy, 5 x-snappy-framed, 6 identity). Kinds 0-2 are the gzip inputs of the target's
//! first form (`ingest_gzip`), so its regressions replay unchanged.
//!
//! Invariants: never panics; memory stays bounded (the decoded body is at most
//! `MAX_DECODED_BODY_BYTES`, msgpack's JSON at most `MAX_CONVERTED_BODY_BYTES`, and what is
//! built from them must stay within the function's memory: the run's `-rss_limit_mb`).
#![no_main]

use ingest::body::{parse, HttpInput};
use libfuzzer_sys::fuzz_target;

const ENCODINGS: [&str; 7] = ["gzip", "deflate", "zstd", "br", "snappy", "x-snappy-framed", "identity"];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let content_type = match kind % 4 {
        0 => "application/json",
        1 => "application/x-ndjson",
        2 => "text/plain",
        _ => "application/msgpack",
    };
    let input = HttpInput {
        method: "POST",
        content_type: Some(content_type),
        content_encoding: Some(ENCODINGS[usize::from(kind / 4) % ENCODINGS.len()]),
        body: body.to_vec().into(),
        ..Default::default()
    };
    let _ = parse(&input, Some("/k"));
});

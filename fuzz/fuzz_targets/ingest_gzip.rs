//! `ingest::body::parse` of a `Content-Encoding: gzip` request whose body is the input
//! bytes as they are (after a first byte that picks the content type), so the fuzzer mutates
//! the gzip stream itself and crafted bombs can be replayed from a file:
//! `[0 json | 1 ndjson | 2 text] ++ gzip bytes`.
//!
//! Invariants: never panics; memory stays bounded (the decoded body is at most
//! `MAX_DECODED_BODY_BYTES`, and what is built from it must stay within the function's
//! memory: the run's `-rss_limit_mb`).
#![no_main]

use ingest::body::{parse, HttpInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let content_type = match kind % 3 {
        0 => "application/json",
        1 => "application/x-ndjson",
        _ => "text/plain",
    };
    let input = HttpInput {
        method: "POST",
        content_type: Some(content_type),
        content_encoding: Some("gzip"),
        body: body.to_vec().into(),
        ..Default::default()
    };
    let _ = parse(&input, Some("/k"));
});

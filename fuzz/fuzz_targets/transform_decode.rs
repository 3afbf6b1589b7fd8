//! The transform's decode chain (`firehose_transform::decode::decode`: gzip, UTF-8,
//! CloudWatch Logs envelopes, JSON, text) and `split_cloudwatch_logs`, on any bytes, as they
//! come or gzip-compressed here (so the envelope parser is reached through the decoder),
//! with a small or the default decompression bound.
//!
//! Invariants:
//! - never panics; memory bounded (gzip bombs stop at the bound);
//! - `Lines` is non-empty and every line is one JSON value without a newline;
//! - splitting a CloudWatch Logs record loses and reorders nothing: the two halves decode
//!   to the original's lines, in order.
#![no_main]

use firehose_transform::config::DEFAULT_MAX_DECOMPRESSED_BYTES;
use firehose_transform::decode::{decode, split_cloudwatch_logs, Decoded};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    gzip_here: bool,
    /// 0: the production default; otherwise a small bound (bytes).
    small_bound: u16,
    bytes: &'a [u8],
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory write");
    e.finish().expect("in-memory write")
}

fn lines(d: Decoded) -> Option<Vec<Vec<u8>>> {
    match d {
        Decoded::Lines(l) => {
            assert_eq!(l.iter().count(), l.len(), "line count");
            Some(l.iter().map(<[u8]>::to_vec).collect())
        }
        Decoded::Dropped(_) => None,
    }
}

fuzz_target!(|input: Input<'_>| {
    let bound = match input.small_bound {
        0 => DEFAULT_MAX_DECOMPRESSED_BYTES,
        n => usize::from(n),
    };
    let compressed;
    let bytes = if input.gzip_here {
        compressed = gzip(input.bytes);
        compressed.as_slice()
    } else {
        input.bytes
    };
    let Ok(decoded) = decode(bytes, bound) else {
        return;
    };
    let Some(out) = lines(decoded) else {
        return;
    };
    assert!(!out.is_empty(), "Lines with no line");
    for l in &out {
        assert!(
            !l.contains(&b'\n'),
            "a line with a newline: {:?}",
            String::from_utf8_lossy(l)
        );
        assert!(
            serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok(),
            "a line that is not one JSON value: {:?}",
            String::from_utf8_lossy(l)
        );
    }
    // Several lines only come from a CloudWatch Logs DATA_MESSAGE with several events.
    if out.len() >= 2 {
        let Some([first, second]) = split_cloudwatch_logs(bytes, DEFAULT_MAX_DECOMPRESSED_BYTES)
        else {
            panic!(
                "a CloudWatch Logs record of {} events does not split",
                out.len()
            );
        };
        // The halves are decoded with the production bound: with a tiny test bound even a
        // half of a plain (not gzip) record may not fit it, which says nothing about splitting.
        let a = decode(&first, DEFAULT_MAX_DECOMPRESSED_BYTES).map(lines);
        let b = decode(&second, DEFAULT_MAX_DECOMPRESSED_BYTES).map(lines);
        match (a, b) {
            (Ok(Some(mut a)), Ok(Some(b))) => {
                a.extend(b);
                assert_eq!(a, out, "the halves do not give back the original lines");
            }
            (a, b) => panic!("halves do not decode to lines: {a:?} / {b:?}"),
        }
    }
});

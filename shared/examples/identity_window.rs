//! The identity window's size and speed at its bound (`WINDOW_MAX_IDENTITIES`), for the
//! shapes keyed requests give a shard (docs/reference/idempotency.md):
//! `cargo run --release -p trickle-shared --example identity_window`.
//!
//! - 50-record requests whose records share a shard (a sender's key, or none: keyless
//!   records share a derived key per block of 256 positions): one run per request;
//! - 1-record requests (a browser's beacons): one request per identity;
//! - 500-record requests whose records have keys of their own (a pointer), spread over two
//!   shards: every other position on this shard, runs of one.
//!
//! For each: the encoded bytes per identity, and the time to decode the window, check and
//! insert one batch of 10,000 new identities, trim, and encode it again (what an invocation
//! that carries identities adds to its work).

use std::time::Instant;
use trickle_shared::identity::{Identity, IdentityWindow, WINDOW, WINDOW_MAX_IDENTITIES};

fn build(per_request: u32, stride: u32) -> IdentityWindow {
    let mut w = IdentityWindow::new();
    let (mut request, mut t) = (0u128, 1_700_000_000_000i64);
    while w.len() < WINDOW_MAX_IDENTITIES {
        for p in (0..per_request * stride).step_by(stride as usize) {
            w.insert(
                Identity {
                    request: request.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
                    position: p,
                },
                t,
            );
        }
        request += 1;
        t += 1;
    }
    w
}

fn main() {
    for (name, per_request, stride) in [
        ("50-record requests, one shard", 50, 1),
        ("1-record requests", 1, 1),
        ("500-record requests over two shards", 250, 2),
    ] {
        let w = build(per_request, stride);
        let bytes = w.encode();
        let rounds = 5;
        let started = Instant::now();
        for round in 0..rounds {
            let mut read = IdentityWindow::decode(&bytes).expect("decodes");
            let mut skipped = 0;
            for i in 0..10_000u32 {
                let id = Identity {
                    request: u128::MAX - u128::from(round as u32),
                    position: i,
                };
                if !read.insert(id, 1_800_000_000_000) {
                    skipped += 1;
                }
            }
            assert_eq!(skipped, 0);
            read.trim(WINDOW, WINDOW_MAX_IDENTITIES);
            assert!(read.encode().len() > 16);
        }
        let per_round = started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
        println!(
            "{name}: {} identities in {} bytes ({:.1} bytes each); decode + 10,000 inserts + trim + encode: {per_round:.1} ms",
            w.len(),
            bytes.len(),
            bytes.len() as f64 / w.len() as f64
        );
    }
}

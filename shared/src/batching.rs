//! Splitting a request into calls within an API's limits, and the backoff between retries of
//! the entries a call did not take. Used by ingest (PutRecords) and firehose-transform
//! (re-ingestion through PutRecords / PutRecordBatch); the backoff also by batch-to-iceberg
//! (between commit attempts).

use std::ops::Range;
use std::time::Duration;

/// Splits entry sizes into consecutive ranges of at most `max_entries` entries and
/// `max_bytes` bytes each, in order. An entry larger than `max_bytes` gets a range of its own
/// (the service then rejects it, per entry, with its own error).
pub fn chunk_ranges(sizes: &[usize], max_entries: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && (i - start == max_entries || bytes + size > max_bytes) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// "Full jitter" backoff: a uniformly random delay between zero and
/// `min(cap, base * 2^attempt)`; `unit_random` is a sample from [0, 1].
pub fn full_jitter(attempt: u32, base: Duration, cap: Duration, unit_random: f64) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(cap);
    ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn chunks_by_count_and_by_bytes() {
        assert_eq!(
            chunk_ranges(&[10; 1001], 500, 5 * MIB),
            vec![0..500, 500..1000, 1000..1001]
        );
        assert_eq!(
            chunk_ranges(&[MIB, MIB, MIB, MIB, MIB, 1, MIB], 500, 5 * MIB),
            vec![0..5, 5..7]
        );
        assert_eq!(chunk_ranges(&[6 * MIB, 1], 500, 5 * MIB), vec![0..1, 1..2]);
        assert!(chunk_ranges(&[], 500, 5 * MIB).is_empty());
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let (base, cap) = (Duration::from_millis(50), Duration::from_secs(1));
        assert_eq!(full_jitter(0, base, cap, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(0, base, cap, 1.0), base);
        assert_eq!(full_jitter(3, base, cap, 1.0), base * 8);
        assert_eq!(full_jitter(40, base, cap, 1.0), cap);
    }

    proptest! {
        #[test]
        fn chunks_cover_everything_in_order_within_limits(sizes in proptest::collection::vec(0usize..3000, 0..400),
                                                          max_entries in 1usize..50, max_bytes in 1usize..10_000) {
            let ranges = chunk_ranges(&sizes, max_entries, max_bytes);
            let mut next = 0;
            for r in &ranges {
                prop_assert_eq!(r.start, next);
                prop_assert!(!r.is_empty() && r.len() <= max_entries);
                let bytes: usize = sizes[r.clone()].iter().sum();
                prop_assert!(bytes <= max_bytes || r.len() == 1);
                next = r.end;
            }
            prop_assert_eq!(next, sizes.len());
        }
    }
}

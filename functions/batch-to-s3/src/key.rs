//! S3 object keys. Every key is derived only from the data it names, never from the clock
//! or a random id, so the same records always produce the same key: that is what makes a
//! retried write land on the object the first attempt wrote (and answer 412).
//!
//! ```text
//! data:  {PREFIX}[{name}={value}/]{date}{name}
//! error: {ERROR_PREFIX}{reason}/{date}{name}
//! name:  {shard_id}-{first_seq}-{last_seq}{ext}      (one segment, when it fits 255 bytes)
//!        {shard_id}/{first_seq}/{last_seq}{ext}      (otherwise: ids longer than AWS issues)
//! state: {STATE_PREFIX}{stream_name}/{shard_id}.json
//! date:  YYYY/MM/DD/HH/                       (KEY_LAYOUT=firehose, the default)
//!        year=YYYY/month=MM/day=DD/hour=HH/   (KEY_LAYOUT=hive)
//! ```
//!
//! The date is the approximate arrival time (UTC) of the first record the invocation writes,
//! as Firehose does with its own buffer.
//!
//! A sequence number is written length-prefixed: its digit count in three digits, then its
//! digits (`9` is `0019`, `10` is `00210`, AWS's 56-digit numbers are `056...`). Since a
//! longer number is a larger one, a listing (which S3 returns in UTF-8 byte order) is in
//! shard order, and the 56-digit numbers AWS issues sort correctly against the short ones
//! local emulators issue.
//!
//! Every segment of a key is at most 255 bytes (`MAX_SEGMENT_BYTES`), the file-name limit of
//! the file systems that `aws s3 cp --recursive`, `aws s3 sync`, rclone, s3fs and Mountpoint
//! copy or mount objects to. The file name is one segment whenever it fits, which is always
//! the case for the ids AWS issues (20-byte shard ids, 56-digit sequence numbers): shard ids
//! up to `ONE_SEGMENT_MAX_SHARD_ID_BYTES` with sequence numbers up to
//! `ONE_SEGMENT_MAX_SEQUENCE_DIGITS` digits fit (checked at compile time). A longer name is
//! split at its two separators into three segments instead. Within a shard the split form
//! is taken from some sequence number length on and never left again (sequence numbers only
//! grow), and `/` sorts after `-`, so the listing order stays the shard order.

use chrono::{DateTime, Datelike, Timelike, Utc};
use std::str::FromStr;
use trickle_shared::limits::S3_MAX_KEY_BYTES;
use trickle_shared::sequence::MAX_SEQUENCE_DIGITS;
use trickle_shared::SequenceNumber;

/// The longest file name (one key segment) the common file systems take.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Digits of a key sequence number's length prefix (enough for `MAX_SEQUENCE_DIGITS`).
pub const SEQUENCE_LENGTH_DIGITS: usize = 3;
/// The shard ids AWS issues: `shardId-` and 12 digits.
pub const AWS_SHARD_ID_BYTES: usize = 20;
/// The sequence numbers AWS issues today.
pub const AWS_SEQUENCE_DIGITS: usize = 56;
/// The longest shard id whose file names are always one segment (with sequence numbers of
/// up to `ONE_SEGMENT_MAX_SEQUENCE_DIGITS` digits).
pub const ONE_SEGMENT_MAX_SHARD_ID_BYTES: usize = 64;
/// The longest sequence number whose file names are always one segment.
pub const ONE_SEGMENT_MAX_SEQUENCE_DIGITS: usize = 85;

/// The longest `PREFIX`, `ERROR_PREFIX` or `STATE_PREFIX` accepted.
pub const MAX_PREFIX_BYTES: usize = 256;
/// The longest `PARTITION_NAME` accepted (the `{name}=` of a partition segment).
pub const MAX_PARTITION_NAME_BYTES: usize = 64;
/// The longest partition value segment; longer values are cut (after escaping).
pub const MAX_PARTITION_VALUE_BYTES: usize = 128;
/// Kinesis: a shard id is 1 to 128 characters.
pub const MAX_SHARD_ID_BYTES: usize = 128;
/// The longest error-reason segment we generate.
pub const MAX_REASON_BYTES: usize = 32;
/// The longest extension (`.ndjson.zst`).
pub const MAX_EXTENSION_BYTES: usize = 11;

/// How the date part of a key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// `YYYY/MM/DD/HH/`, Firehose's default.
    Firehose,
    /// `year=YYYY/month=MM/day=DD/hour=HH/`, which Athena and Glue read as partitions.
    Hive,
}

impl FromStr for KeyLayout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "firehose" | "default" => Ok(Self::Firehose),
            "hive" => Ok(Self::Hive),
            _ => Err("expected firehose or hive".into()),
        }
    }
}

/// The date path of a key, from a UTC time.
pub fn date_path(layout: KeyLayout, t: DateTime<Utc>) -> String {
    let (y, m, d, h) = (t.year(), t.month(), t.day(), t.hour());
    match layout {
        KeyLayout::Firehose => format!("{y:04}/{m:02}/{d:02}/{h:02}/"),
        KeyLayout::Hive => format!("year={y:04}/month={m:02}/day={d:02}/hour={h:02}/"),
    }
}

/// A sequence number as it appears in a key: its digit count in `SEQUENCE_LENGTH_DIGITS`
/// digits, then its digits, so that byte order is numeric order.
pub fn key_sequence(seq: &SequenceNumber) -> String {
    let digits = seq.as_str();
    format!(
        "{:0width$}{digits}",
        digits.len(),
        width = SEQUENCE_LENGTH_DIGITS
    )
}

/// Bytes of a one-segment file name.
const fn one_segment_name_bytes(shard_id: usize, first: usize, last: usize, ext: usize) -> usize {
    shard_id + 1 + SEQUENCE_LENGTH_DIGITS + first + 1 + SEQUENCE_LENGTH_DIGITS + last + ext
}

// The ids AWS issues, and well beyond, always make one-segment names; the split form's
// segments always fit.
const _: () = assert!(
    one_segment_name_bytes(
        ONE_SEGMENT_MAX_SHARD_ID_BYTES,
        ONE_SEGMENT_MAX_SEQUENCE_DIGITS,
        ONE_SEGMENT_MAX_SEQUENCE_DIGITS,
        MAX_EXTENSION_BYTES
    ) <= MAX_SEGMENT_BYTES
);
const _: () = assert!(AWS_SHARD_ID_BYTES <= ONE_SEGMENT_MAX_SHARD_ID_BYTES);
const _: () = assert!(AWS_SEQUENCE_DIGITS <= ONE_SEGMENT_MAX_SEQUENCE_DIGITS);
const _: () = assert!(MAX_SHARD_ID_BYTES <= MAX_SEGMENT_BYTES);
const _: () = assert!(
    SEQUENCE_LENGTH_DIGITS + MAX_SEQUENCE_DIGITS + MAX_EXTENSION_BYTES <= MAX_SEGMENT_BYTES
);
const _: () = assert!(MAX_SEQUENCE_DIGITS < 10usize.pow(SEQUENCE_LENGTH_DIGITS as u32));

/// A value made safe for one key segment: `A-Z a-z 0-9 . _ -` stay, every other byte becomes
/// `%XX` (as Hive escapes partition values), a value of only dots is escaped whole (no `.` or
/// `..` segments), and the result is cut to `max` bytes without splitting an escape.
pub fn safe_segment(value: &str, max: usize) -> String {
    let only_dots = !value.is_empty() && value.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(value.len().min(max));
    for b in value.bytes() {
        let piece = if b.is_ascii_alphanumeric() || (matches!(b, b'_' | b'-' | b'.') && !only_dots)
        {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        };
        if out.len() + piece.len() > max {
            break;
        }
        out.push_str(&piece);
    }
    if !out.is_empty() && out.bytes().all(|b| b == b'.') {
        // Cut short after its dots (". " with room for 3 bytes kept "."): escape them too.
        let dots = out.len();
        out.clear();
        for _ in 0..dots {
            if out.len() + 3 > max {
                break;
            }
            out.push_str("%2E");
        }
    }
    out
}

/// What is needed to name one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName<'a> {
    /// `PREFIX` or `ERROR_PREFIX`.
    pub prefix: &'a str,
    /// A segment such as `customer=acme/` or `not-json/` (already safe), or empty.
    pub segment: &'a str,
    pub date: &'a str,
    pub shard_id: &'a str,
    pub first: &'a SequenceNumber,
    pub last: &'a SequenceNumber,
    pub extension: &'a str,
}

impl ObjectName<'_> {
    /// The full key.
    pub fn key(&self) -> String {
        let shard = safe_segment(self.shard_id, MAX_SHARD_ID_BYTES);
        let (first, last) = (key_sequence(self.first), key_sequence(self.last));
        let one_segment = shard.len() + 1 + first.len() + 1 + last.len() + self.extension.len()
            <= MAX_SEGMENT_BYTES;
        let sep = if one_segment { '-' } else { '/' };
        format!(
            "{}{}{}{shard}{sep}{first}{sep}{last}{}",
            self.prefix, self.segment, self.date, self.extension
        )
    }
}

/// The key of a shard's high-water mark. The stream name is part of it because shard ids
/// repeat across streams.
pub fn state_key(state_prefix: &str, stream_name: &str, shard_id: &str) -> String {
    format!(
        "{state_prefix}{}/{}.json",
        safe_segment(stream_name, MAX_SHARD_ID_BYTES),
        safe_segment(shard_id, MAX_SHARD_ID_BYTES)
    )
}

/// The object of one of a shard's two identity-window slots, beside its state object
/// (`trickle_kinesis_batch::identities`).
pub fn window_key(state_key: &str, slot: &str) -> String {
    let base = state_key.strip_suffix(".json").unwrap_or(state_key);
    format!("{base}.identities-{slot}.bin")
}

/// The longest key this module can build, which must fit S3's limit.
pub const fn longest_key_bytes() -> usize {
    let segment = MAX_PARTITION_NAME_BYTES + 1 + MAX_PARTITION_VALUE_BYTES + 1;
    let date = "year=YYYY/month=MM/day=DD/hour=HH/".len();
    MAX_PREFIX_BYTES
        + segment
        + date
        + MAX_SHARD_ID_BYTES
        + 2 * (1 + SEQUENCE_LENGTH_DIGITS + MAX_SEQUENCE_DIGITS)
        + MAX_EXTENSION_BYTES
}

const _: () = assert!(longest_key_bytes() <= S3_MAX_KEY_BYTES);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn seq(s: &str) -> SequenceNumber {
        s.parse().unwrap()
    }

    fn name<'a>(first: &'a SequenceNumber, last: &'a SequenceNumber) -> ObjectName<'a> {
        ObjectName {
            prefix: "raw/",
            segment: "",
            date: "2024/06/10/06/",
            shard_id: "shardId-000000000000",
            first,
            last,
            extension: ".ndjson.gz",
        }
    }

    #[test]
    fn date_paths_follow_the_layout() {
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 7, 59, 59).unwrap();
        assert_eq!(date_path(KeyLayout::Firehose, t), "2024/06/01/07/");
        assert_eq!(
            date_path(KeyLayout::Hive, t),
            "year=2024/month=06/day=01/hour=07/"
        );
    }

    #[test]
    fn key_names_shard_and_length_prefixed_range() {
        let (a, b) = (seq("9"), seq("10"));
        assert_eq!(
            name(&a, &b).key(),
            "raw/2024/06/10/06/shardId-000000000000-0019-00210.ndjson.gz"
        );
        assert_eq!(key_sequence(&seq("0")), "0010");
    }

    #[test]
    fn aws_ids_make_a_file_name_well_under_255_bytes() {
        let aws = seq(&"4".repeat(AWS_SEQUENCE_DIGITS));
        let key = name(&aws, &aws).key();
        let file = key.rsplit('/').next().unwrap();
        assert_eq!(file.len(), 20 + 2 * (1 + 3 + 56) + ".ndjson.gz".len());
        assert!(file.len() <= MAX_SEGMENT_BYTES);
    }

    #[test]
    fn names_too_long_for_one_segment_are_split_and_every_segment_fits() {
        let long = seq(&"7".repeat(MAX_SEQUENCE_DIGITS));
        let shard = "s".repeat(MAX_SHARD_ID_BYTES);
        let key = ObjectName {
            shard_id: &shard,
            extension: ".ndjson.zst",
            ..name(&long, &long)
        }
        .key();
        assert!(
            key.split('/').all(|s| s.len() <= MAX_SEGMENT_BYTES),
            "{key}"
        );
        let digits = format!("129{}", "7".repeat(MAX_SEQUENCE_DIGITS));
        assert!(
            key.ends_with(&format!("/{shard}/{digits}/{digits}.ndjson.zst")),
            "{key}"
        );
    }

    #[test]
    fn escapes_unsafe_partition_values() {
        assert_eq!(safe_segment("acme-01_x.y", 128), "acme-01_x.y");
        assert_eq!(safe_segment("a/b c=d", 128), "a%2Fb%20c%3Dd");
        assert_eq!(safe_segment("..", 128), "%2E%2E");
        assert_eq!(safe_segment("é", 128), "%C3%A9");
        // Cut without splitting an escape.
        assert_eq!(safe_segment("ab/", 4), "ab");
    }

    #[test]
    fn the_longest_key_fits_s3() {
        let long = seq(&"9".repeat(MAX_SEQUENCE_DIGITS));
        let prefix = "p".repeat(MAX_PREFIX_BYTES);
        let segment = format!(
            "{}={}/",
            "n".repeat(MAX_PARTITION_NAME_BYTES),
            "v".repeat(MAX_PARTITION_VALUE_BYTES)
        );
        let shard = "s".repeat(MAX_SHARD_ID_BYTES);
        let key = ObjectName {
            prefix: &prefix,
            segment: &segment,
            date: "year=2024/month=06/day=10/hour=06/",
            shard_id: &shard,
            first: &long,
            last: &long,
            extension: ".ndjson.zst",
        }
        .key();
        assert!(key.len() <= S3_MAX_KEY_BYTES, "{}", key.len());
    }

    #[test]
    fn a_value_cut_short_to_its_dots_is_no_dot_segment() {
        assert_eq!(safe_segment(". ", 3), "%2E");
        assert_eq!(safe_segment(".. ", 4), "%2E");
        assert_eq!(safe_segment(".. ", 5), "..%20");
        assert_eq!(safe_segment(".a", 3), ".a");
    }

    proptest! {
        #[test]
        fn keys_sort_like_their_sequence_numbers(a in "[1-9][0-9]{0,128}", b in "[1-9][0-9]{0,128}") {
            let (a, b) = (seq(&a), seq(&b));
            let ka = name(&a, &a).key();
            let kb = name(&b, &b).key();
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }

        /// Objects of one shard in sequence order (each starting at or after the last one's
        /// end) list in that order, whichever form their names take, and no segment is
        /// longer than 255 bytes.
        #[test]
        fn consecutive_objects_list_in_shard_order(
            shard in "[a-zA-Z0-9-]{1,128}",
            mut seqs in proptest::collection::vec("[1-9][0-9]{0,128}", 4),
        ) {
            let mut seqs: Vec<SequenceNumber> = seqs.drain(..).map(|s| seq(&s)).collect();
            seqs.sort();
            let key = |a: &SequenceNumber, b: &SequenceNumber| ObjectName { shard_id: &shard, ..name(a, b) }.key();
            let (k1, k2) = (key(&seqs[0], &seqs[1]), key(&seqs[2], &seqs[3]));
            prop_assert!(k1 <= k2, "{} > {}", k1, k2);
            prop_assert!(k1.split('/').chain(k2.split('/')).all(|s| s.len() <= MAX_SEGMENT_BYTES));
        }

        #[test]
        fn same_range_same_key(a in "[0-9]{1,56}", b in "[0-9]{1,56}") {
            let (a1, b1, a2, b2) = (seq(&a), seq(&b), seq(&a), seq(&b));
            prop_assert_eq!(name(&a1, &b1).key(), name(&a2, &b2).key());
        }

        #[test]
        fn safe_segments_are_safe_and_bounded(v in any::<String>(), max in 3usize..200) {
            let s = safe_segment(&v, max);
            prop_assert!(s.len() <= max);
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"%._-".contains(&b)));
            prop_assert!(s != "." && s != "..");
        }
    }
}

//! Records that firehose-transform puts back into the source stream, and how every reader of
//! that stream tells them apart.
//!
//! When a Firehose transform's answer would pass Lambda's 6 MB limit, the records that do not
//! fit go back into the source (as AWS's blueprints do) and are answered `Dropped`; Firehose
//! reads them again later. The stream is also read by batch-to-s3, which stored each of those
//! records already when it first passed: a copy put back must not be stored again. So a copy
//! carries a reserved partition-key prefix:
//!
//! - firehose-transform writes `REINGESTED_PARTITION_KEY_PREFIX` + the original key (cut to
//!   Kinesis' 256 characters), with the original key's MD5 as the explicit hash key, so the
//!   copy lands on the shard the original key maps to;
//! - batch-to-s3 skips records whose key has the prefix (counted, never stored);
//! - ingest refuses partition keys with the prefix, so no client record is ever taken for a
//!   copy. (A producer writing to the stream directly must not use the prefix either.)

use crate::limits::KINESIS_MAX_PARTITION_KEY_CHARS;
use md5::{Digest, Md5};

/// The partition-key prefix of a record firehose-transform put back into the stream.
pub const REINGESTED_PARTITION_KEY_PREFIX: &str = "trickle-reingested:";

/// True for the partition key of a record put back by firehose-transform.
pub fn is_reingested(partition_key: &str) -> bool {
    partition_key.starts_with(REINGESTED_PARTITION_KEY_PREFIX)
}

/// The key a record was first written with (a copy's key without the prefix).
pub fn original_partition_key(partition_key: &str) -> &str {
    partition_key
        .strip_prefix(REINGESTED_PARTITION_KEY_PREFIX)
        .unwrap_or(partition_key)
}

/// The partition key for a copy of a record first written with `original` (a copy's copy
/// keeps the first original), within Kinesis' 256 characters.
pub fn reingested_partition_key(original: &str) -> String {
    let original = original_partition_key(original);
    let room = KINESIS_MAX_PARTITION_KEY_CHARS - REINGESTED_PARTITION_KEY_PREFIX.chars().count();
    let cut = original
        .char_indices()
        .nth(room)
        .map_or(original.len(), |(at, _)| at);
    let mut key = String::with_capacity(REINGESTED_PARTITION_KEY_PREFIX.len() + cut);
    key.push_str(REINGESTED_PARTITION_KEY_PREFIX);
    key.push_str(&original[..cut]);
    key
}

/// Where Kinesis routes `partition_key`: the MD5 of its UTF-8 bytes as a 128-bit integer,
/// in decimal (the form of PutRecords' `ExplicitHashKey`).
pub fn explicit_hash_key(partition_key: &str) -> String {
    let digest: [u8; 16] = Md5::digest(partition_key.as_bytes()).into();
    u128::from_be_bytes(digest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_recognised_and_keeps_its_original_key() {
        let copy = reingested_partition_key("hoge-key");
        assert!(is_reingested(&copy));
        assert!(!is_reingested("hoge-key"));
        assert_eq!(original_partition_key(&copy), "hoge-key");
        assert_eq!(original_partition_key("hoge-key"), "hoge-key");
        // A copy of a copy is not prefixed twice.
        assert_eq!(reingested_partition_key(&copy), copy);
    }

    #[test]
    fn a_copys_key_fits_kinesis_limit() {
        for original in ["é".repeat(256), "k".repeat(256), "k".repeat(237)] {
            let copy = reingested_partition_key(&original);
            assert_eq!(
                copy.chars().count(),
                KINESIS_MAX_PARTITION_KEY_CHARS
                    .min(REINGESTED_PARTITION_KEY_PREFIX.len() + original.chars().count())
            );
            assert!(original.starts_with(original_partition_key(&copy)));
        }
    }

    #[test]
    fn explicit_hash_key_is_the_md5_of_the_key_as_an_integer() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(
            explicit_hash_key(""),
            u128::from_str_radix("d41d8cd98f00b204e9800998ecf8427e", 16)
                .unwrap()
                .to_string()
        );
        // int(hashlib.md5(b"hoge-key").hexdigest(), 16), by Python.
        assert_eq!(
            explicit_hash_key("hoge-key"),
            "292255710379799249435412997559482906875"
        );
    }
}

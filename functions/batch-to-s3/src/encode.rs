//! Object bodies: NDJSON-style framing (each user record, then `\n` unless it already ends
//! with one) and the compression named by `COMPRESSION`, with the key extension and the
//! Content-Type/Content-Encoding that say which.

use std::str::FromStr;
use trickle_shared::framing::{framed_len, push_line};

/// The Content-Type of every object: newline-delimited records.
pub const CONTENT_TYPE_NDJSON: &str = "application/x-ndjson";
/// zstd's level: its default, a good speed/ratio balance for a 128 MB Lambda.
pub const ZSTD_LEVEL: i32 = 3;

/// How object bodies are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gzip" | "gz" => Ok(Self::Gzip),
            "zstd" | "zst" => Ok(Self::Zstd),
            "none" | "uncompressed" => Ok(Self::None),
            _ => Err("expected gzip, zstd or none".into()),
        }
    }
}

impl Compression {
    /// The key's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Gzip => ".ndjson.gz",
            Self::Zstd => ".ndjson.zst",
            Self::None => ".ndjson",
        }
    }

    /// The object's Content-Encoding, if any.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Self::Gzip => Some("gzip"),
            Self::Zstd => Some("zstd"),
            Self::None => None,
        }
    }

    /// The short name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::None => "none",
        }
    }

    /// Compresses a body (gzip by libdeflate at `gzip_level`, see `trickle_shared::gzip`).
    /// gzip output is deterministic (no timestamp or file name in the header), so the same
    /// records always give the same bytes.
    pub fn compress(self, body: Vec<u8>, gzip_level: u8) -> std::io::Result<Vec<u8>> {
        match self {
            Self::None => Ok(body),
            Self::Gzip => trickle_shared::gzip::gzip(&body, gzip_level),
            Self::Zstd => ZSTD.with(|cell| {
                let mut cell = cell.borrow_mut();
                let compressor = match &mut *cell {
                    Some(c) => c,
                    None => cell.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
                };
                compressor.compress(&body)
            }),
        }
    }
}

thread_local! {
    /// One zstd context per thread, kept across objects and invocations: a fresh context
    /// allocates its tables (several MB at level 3 for a 3 MB body) and faults them in for
    /// every object, which cost a third as much again as compressing (docs/design/performance.md).
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Frames records into one NDJSON body.
pub fn frame<'a>(records: impl IntoIterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let len = records.clone().into_iter().map(framed_len).sum();
    let mut out = Vec::with_capacity(len);
    for r in records {
        push_line(&mut out, r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Read;
    use trickle_shared::gzip::DEFAULT_GZIP_LEVEL;

    fn decompress(c: Compression, body: &[u8]) -> Vec<u8> {
        match c {
            Compression::None => body.to_vec(),
            Compression::Gzip => {
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(body)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Compression::Zstd => zstd::stream::decode_all(body).unwrap(),
        }
    }

    #[test]
    fn names_match_the_compression() {
        assert_eq!("GZIP".parse::<Compression>(), Ok(Compression::Gzip));
        assert_eq!(Compression::Zstd.extension(), ".ndjson.zst");
        assert_eq!(Compression::Zstd.content_encoding(), Some("zstd"));
        assert_eq!(Compression::None.content_encoding(), None);
        assert!("lz4".parse::<Compression>().is_err());
    }

    #[test]
    fn frames_each_record_on_its_own_line() {
        let recs: Vec<&[u8]> = vec![b"{\"a\":1}", b"{\"b\":2}\n", b""];
        assert_eq!(frame(recs.iter().copied()), b"{\"a\":1}\n{\"b\":2}\n\n");
    }

    #[test]
    fn a_reused_zstd_context_gives_the_same_bytes_as_a_fresh_one() {
        let bodies = [b"first body\n".repeat(500), b"second\n".repeat(90)];
        for body in bodies.iter().chain(bodies.iter()) {
            assert_eq!(
                Compression::Zstd
                    .compress(body.clone(), DEFAULT_GZIP_LEVEL)
                    .unwrap(),
                zstd::bulk::compress(body, ZSTD_LEVEL).unwrap()
            );
        }
    }

    #[test]
    fn gzip_is_deterministic() {
        let body = b"same records\n".repeat(100);
        assert_eq!(
            Compression::Gzip
                .compress(body.clone(), DEFAULT_GZIP_LEVEL)
                .unwrap(),
            Compression::Gzip
                .compress(body, DEFAULT_GZIP_LEVEL)
                .unwrap()
        );
    }

    proptest! {
        #[test]
        fn every_compression_round_trips(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..20),
            which in 0usize..3,
        ) {
            let c = [Compression::Gzip, Compression::Zstd, Compression::None][which];
            let framed = frame(records.iter().map(Vec::as_slice));
            let expected: usize = records.iter().map(|r| framed_len(r)).sum();
            prop_assert_eq!(framed.len(), expected);
            let packed = c.compress(framed.clone(), DEFAULT_GZIP_LEVEL).unwrap();
            prop_assert_eq!(decompress(c, &packed), framed);
        }

        #[test]
        fn framed_lines_are_the_records_when_they_have_no_newlines(
            records in proptest::collection::vec("[^\n]{0,30}", 1..20),
        ) {
            let framed = frame(records.iter().map(|r| r.as_bytes()));
            let text = String::from_utf8(framed).unwrap();
            let lines: Vec<&str> = text.strip_suffix('\n').unwrap().split('\n').collect();
            prop_assert_eq!(lines, records.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

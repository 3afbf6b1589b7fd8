//! Step 2 of the body pipeline: `Content-Encoding` decoded, within one decoded-size bound.
//!
//! Every encoding the common senders use: gzip and x-gzip (OTel SDKs, Fluent Bit, Vector,
//! Logstash, curl `--compressed`), deflate (the OTel SDKs; zlib-wrapped as RFC 9110 says, or
//! raw as some clients send it), zstd and snappy (Vector, the OTel Collector), x-snappy-framed
//! (the Collector), br (browsers' `CompressionStream` does not make it, but proxies do).
//!
//! Memory: each decoder reads through a bound of `limit + 1` bytes, so a bomb stops at the
//! bound; zstd's window is capped (`ZSTD_MAX_WINDOW_LOG`), brotli's is at most 16 MiB by its
//! format, snappy's declared length is checked before anything is allocated.

use std::io::Read;

/// zstd frames may ask for a window of up to 2 GiB (`--long`); the decoder refuses more than
/// 8 MiB, which is zstd's own default for levels up to 19 and larger than any body ingest takes.
pub const ZSTD_MAX_WINDOW_LOG: u32 = 23;

/// What every 413 adds: the sender setting that makes requests smaller.
pub const BATCH_SETTINGS: &str = ": send smaller requests (Vector batch.max_bytes, Fluent Bit a shorter Flush, Logstash pipeline.batch.size, OpenTelemetry max_export_batch_size or the Collector's send_batch_max_size)";

/// The encodings ingest decodes, by their `Content-Encoding` token.
pub const ACCEPTED: &str = "gzip, x-gzip, deflate, zstd, br, snappy, x-snappy-framed, identity";

/// A body's `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    /// zlib-wrapped deflate (RFC 1950), or raw deflate (RFC 1951) when the first two bytes are
    /// not a zlib header.
    Deflate,
    Zstd,
    Brotli,
    /// Snappy's raw block format (Vector's and the Collector's `snappy`).
    Snappy,
    /// Snappy's framing format (`x-snappy-framed`).
    SnappyFramed,
}

/// What is wrong with a body's encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    #[error("Content-Encoding {0:?} is not supported; send one of: {ACCEPTED}")]
    Unsupported(String),
    #[error("Content-Encoding {0:?} stacks several encodings; send one of: {ACCEPTED}")]
    Stacked(String),
    #[error("the body decodes to more than {limit} bytes{}", BATCH_SETTINGS)]
    TooLarge { limit: usize },
    #[error("the body is not valid {encoding}: {detail}")]
    Corrupt {
        encoding: &'static str,
        detail: String,
    },
}

impl ContentEncoding {
    /// Reads the header (case-insensitive; absent, empty or `identity` is no encoding).
    pub fn from_header(header: Option<&str>) -> Result<Self, EncodingError> {
        let Some(value) = header.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(Self::Identity);
        };
        if value.contains(',') {
            return Err(EncodingError::Stacked(value.to_owned()));
        }
        Ok(match value.to_ascii_lowercase().as_str() {
            "identity" => Self::Identity,
            "gzip" | "x-gzip" => Self::Gzip,
            "deflate" => Self::Deflate,
            "zstd" => Self::Zstd,
            "br" => Self::Brotli,
            "snappy" => Self::Snappy,
            "x-snappy-framed" => Self::SnappyFramed,
            _ => return Err(EncodingError::Unsupported(value.to_owned())),
        })
    }

    /// The header token, for messages and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Zstd => "zstd",
            Self::Brotli => "br",
            Self::Snappy => "snappy",
            Self::SnappyFramed => "x-snappy-framed",
        }
    }
}

/// Decodes `body` (not `Identity`: the caller keeps an identity body as it is), refusing
/// anything that decodes to more than `limit` bytes.
pub fn decode(
    encoding: ContentEncoding,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, EncodingError> {
    let corrupt = |detail: String| EncodingError::Corrupt {
        encoding: encoding.name(),
        detail,
    };
    match encoding {
        ContentEncoding::Identity => bounded(body, body.len(), limit, corrupt),
        ContentEncoding::Gzip => bounded(
            flate2::read::MultiGzDecoder::new(body),
            body.len(),
            limit,
            corrupt,
        ),
        ContentEncoding::Deflate => {
            if is_zlib_header(body) {
                // A raw stream whose first two bytes read as a zlib header (only a non-final
                // stored block with non-zero padding bits can) fails as zlib, and is then read
                // as raw deflate. It would be misread only if it also parsed as zlib to the end,
                // Adler-32 included.
                let zlib = bounded(
                    flate2::read::ZlibDecoder::new(body),
                    body.len(),
                    limit,
                    corrupt,
                );
                match zlib {
                    Err(EncodingError::Corrupt { .. }) => {}
                    other => return other,
                }
            }
            bounded(
                flate2::read::DeflateDecoder::new(body),
                body.len(),
                limit,
                corrupt,
            )
        }
        ContentEncoding::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::new(body).map_err(|e| corrupt(e.to_string()))?;
            decoder
                .window_log_max(ZSTD_MAX_WINDOW_LOG)
                .map_err(|e| corrupt(e.to_string()))?;
            bounded(decoder, body.len(), limit, corrupt)
        }
        ContentEncoding::Brotli => bounded(
            brotli_decompressor::Decompressor::new(body, 4096),
            body.len(),
            limit,
            corrupt,
        ),
        ContentEncoding::Snappy => {
            let declared = snap::raw::decompress_len(body).map_err(|e| corrupt(e.to_string()))?;
            if declared > limit {
                return Err(EncodingError::TooLarge { limit });
            }
            snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|e| corrupt(e.to_string()))
        }
        ContentEncoding::SnappyFramed => bounded(
            snap::read::FrameDecoder::new(body),
            body.len(),
            limit,
            corrupt,
        ),
    }
}

/// RFC 1950: CM 8 (deflate), a window of at most 32 KiB, no preset dictionary, and the two
/// bytes a multiple of 31.
fn is_zlib_header(body: &[u8]) -> bool {
    let [cmf, flg, ..] = *body else {
        return false;
    };
    cmf & 0x0f == 8
        && cmf >> 4 <= 7
        && flg & 0x20 == 0
        && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// Reads all of `reader`, or `TooLarge` once it yields more than `limit` bytes.
fn bounded(
    reader: impl Read,
    encoded_len: usize,
    limit: usize,
    corrupt: impl Fn(String) -> EncodingError,
) -> Result<Vec<u8>, EncodingError> {
    let mut out = Vec::with_capacity(encoded_len.saturating_mul(4).min(limit));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(EncodingError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    const ALL: [ContentEncoding; 6] = [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Zstd,
        ContentEncoding::Brotli,
        ContentEncoding::Snappy,
        ContentEncoding::SnappyFramed,
    ];

    /// Encodes as a sender would (the crates' encoders, not ours).
    pub(crate) fn encode(encoding: ContentEncoding, data: &[u8]) -> Vec<u8> {
        match encoding {
            ContentEncoding::Identity => data.to_vec(),
            ContentEncoding::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            ContentEncoding::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            ContentEncoding::Zstd => zstd::bulk::compress(data, 3).unwrap(),
            ContentEncoding::Brotli => {
                let mut out = Vec::new();
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(data).unwrap();
                drop(w);
                out
            }
            ContentEncoding::Snappy => snap::raw::Encoder::new().compress_vec(data).unwrap(),
            ContentEncoding::SnappyFramed => {
                let mut w = snap::write::FrameEncoder::new(Vec::new());
                w.write_all(data).unwrap();
                w.into_inner().unwrap()
            }
        }
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_each_header_token_and_refuses_stacks_and_unknowns() {
        for (h, want) in [
            (None, ContentEncoding::Identity),
            (Some(""), ContentEncoding::Identity),
            (Some("IDENTITY"), ContentEncoding::Identity),
            (Some("x-gzip"), ContentEncoding::Gzip),
            (Some(" GZIP "), ContentEncoding::Gzip),
            (Some("deflate"), ContentEncoding::Deflate),
            (Some("zstd"), ContentEncoding::Zstd),
            (Some("br"), ContentEncoding::Brotli),
            (Some("snappy"), ContentEncoding::Snappy),
            (Some("x-snappy-framed"), ContentEncoding::SnappyFramed),
        ] {
            assert_eq!(ContentEncoding::from_header(h), Ok(want), "{h:?}");
        }
        let stacked = ContentEncoding::from_header(Some("gzip, br")).unwrap_err();
        assert!(matches!(stacked, EncodingError::Stacked(_)));
        assert!(stacked.to_string().contains(ACCEPTED), "{stacked}");
        let unknown = ContentEncoding::from_header(Some("lz4")).unwrap_err();
        assert!(unknown.to_string().contains("\"lz4\""), "{unknown}");
        assert!(unknown.to_string().contains("zstd"), "{unknown}");
    }

    #[test]
    fn every_encoding_round_trips() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for enc in ALL {
            let encoded = encode(enc, &data);
            assert_eq!(decode(enc, &encoded, data.len()).unwrap(), data, "{enc:?}");
        }
    }

    #[test]
    fn raw_deflate_is_read_when_the_zlib_header_is_absent() {
        let data = b"{\"a\":1}\n{\"a\":2}\n".repeat(100);
        let raw = raw_deflate(&data);
        assert_eq!(
            decode(ContentEncoding::Deflate, &raw, 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn a_raw_stream_that_looks_like_zlib_is_still_read() {
        // A raw stream can pass the zlib header check only when it opens with a non-final
        // stored block whose padding bits are not zero: made here by hand. 0x08 0x1d passes
        // (0x081d is 31 x 67); the block's LEN is then 0xe21d, which its NLEN contradicts for
        // zlib, so the zlib read fails and the raw read takes over.
        let data = b"twenty-nine bytes of content!";
        assert_eq!(data.len(), 0x1d);
        let mut raw = vec![0x08, 0x1d, 0x00, 0xe2, 0xff];
        raw.extend_from_slice(data);
        raw.extend([0x01, 0x00, 0x00, 0xff, 0xff]); // a final empty stored block
        assert!(is_zlib_header(&raw));
        assert_eq!(
            decode(ContentEncoding::Deflate, &raw, 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn every_encoding_stops_at_the_bound() {
        let bomb = vec![0u8; 8 << 20];
        for enc in ALL {
            let encoded = encode(enc, &bomb);
            assert_eq!(
                decode(enc, &encoded, 1 << 20),
                Err(EncodingError::TooLarge { limit: 1 << 20 }),
                "{enc:?}"
            );
            // One byte over the bound is over; exactly the bound is fine.
            assert!(decode(enc, &encoded, bomb.len()).is_ok(), "{enc:?}");
            assert!(decode(enc, &encoded, bomb.len() - 1).is_err(), "{enc:?}");
        }
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_refused() {
        let data = vec![7u8; 1 << 16];
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.long_distance_matching(true).unwrap();
        e.window_log(27).unwrap();
        e.write_all(&data).unwrap();
        let encoded = e.finish().unwrap();
        let err = decode(ContentEncoding::Zstd, &encoded, 1 << 24).unwrap_err();
        assert!(matches!(err, EncodingError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_snappy_block_declaring_more_than_the_bound_allocates_nothing() {
        // A varint length of 2^32 - 1 and no data.
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(
            decode(ContentEncoding::Snappy, &body, 1 << 20),
            Err(EncodingError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn corrupt_bodies_name_their_encoding() {
        for enc in ALL {
            let err = decode(enc, b"\x00\x01not compressed at all", 1 << 20);
            // Raw deflate and snappy may read some garbage as a valid (tiny) stream; what
            // must hold is that nothing panics and an error names the encoding.
            if let Err(e) = err {
                assert!(
                    e.to_string().contains(enc.name())
                        || matches!(e, EncodingError::TooLarge { .. }),
                    "{enc:?}: {e}"
                );
            }
        }
    }
}

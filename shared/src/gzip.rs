//! gzip both ways: bounded decoding (a decompression bomb must fail fast with a clear error
//! instead of exhausting a 128 MB Lambda), and the writers' encoding by libdeflate at a level
//! set by `GZIP_LEVEL` (`DEFAULT_GZIP_LEVEL` unless set), chosen against zlib's level 6 on the
//! corpus of `corpus` (the test below and `examples/bench.rs --deflate` in batch-to-s3).

use std::io::Read;

/// libdeflate's levels.
pub const GZIP_LEVELS: std::ops::RangeInclusive<u8> = 1..=12;
/// The default gzip level: the fastest libdeflate level whose output is at most
/// `MAX_SIZE_VS_ZLIB_6` times zlib level 6's on every input of `corpus` (a test holds it) and
/// on batch-to-s3's benchmark records (`examples/bench.rs --deflate`: level 5 is 1.085x there,
/// though within the bound on the corpus).
pub const DEFAULT_GZIP_LEVEL: u8 = 6;
/// How much larger than zlib level 6's (what Python's `gzip`, Go and Java write by default)
/// the default level's output may be.
pub const MAX_SIZE_VS_ZLIB_6: f64 = 1.05;

thread_local! {
    /// One libdeflate compressor per thread and level, kept across objects and invocations.
    static COMPRESSOR: std::cell::RefCell<Option<(u8, libdeflater::Compressor)>> =
        const { std::cell::RefCell::new(None) };
}

/// gzip of `body` by libdeflate at `level` (1-12). The output is deterministic (no time or
/// name in the header): the same bytes and level always give the same object.
pub fn gzip(body: &[u8], level: u8) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|(l, _)| *l != level) {
            let lvl = libdeflater::CompressionLvl::new(i32::from(level))
                .map_err(|e| std::io::Error::other(format!("gzip level {level}: {e:?}")))?;
            *cell = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let Some((_, compressor)) = cell.as_mut() else {
            return Err(std::io::Error::other("no gzip compressor"));
        };
        let mut out = vec![0; compressor.gzip_compress_bound(body.len())];
        let n = compressor
            .gzip_compress(body, &mut out)
            .map_err(|e| std::io::Error::other(format!("gzip: {e}")))?;
        out.truncate(n);
        Ok(out)
    })
}

/// The inputs the gzip level is chosen on, generated deterministically: the shapes of data
/// trickle stores.
pub mod corpus {
    /// A small deterministic generator (xorshift), so the corpus needs no file.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
        fn hex(&mut self, n: usize) -> String {
            (0..n)
                .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
                .collect()
        }
    }

    /// At least `bytes` of lines made by `line(rng, i)`, each ended by `\n`.
    fn lines(bytes: usize, seed: u64, mut line: impl FnMut(&mut Rng, usize) -> String) -> Vec<u8> {
        let mut rng = Rng(seed);
        let mut out = Vec::with_capacity(bytes + 1024);
        let mut i = 0usize;
        while out.len() < bytes {
            out.extend_from_slice(line(&mut rng, i).as_bytes());
            out.push(b'\n');
            i += 1;
        }
        out
    }

    /// JSON events as an application sends them (nested, ids, amounts, varied).
    pub fn event_records(bytes: usize) -> Vec<u8> {
        lines(bytes, 0x9E37_79B9_7F4A_7C15, |rng, i| {
            format!(
                r#"{{"eventId":"{}","eventType":"{}","timestamp":"2026-12-04T12:{:02}:{:02}.{:03}Z","customer":{{"id":"c-{:05}","tier":"{}","country":"{}"}},"items":[{{"sku":"SKU-{:05}","qty":{},"unitPrice":{}.{:02}}}],"total":{}.{:02},"currency":"EUR","latencyMs":{}}}"#,
                rng.hex(32),
                rng.pick(&["view", "click", "cart", "purchase", "refund"]),
                (i / 60_000) % 60,
                (i / 1_000) % 60,
                i % 1_000,
                rng.below(5_000),
                rng.pick(&["free", "pro", "enterprise"]),
                rng.pick(&["DE", "FR", "US", "JP", "BR", "IN"]),
                rng.below(100_000),
                1 + rng.below(4),
                rng.below(200),
                rng.below(100),
                rng.below(800),
                rng.below(100),
                rng.below(2_000),
            )
        })
    }

    /// Access-log lines as JSON (short fields, many repeats).
    pub fn log_lines(bytes: usize) -> Vec<u8> {
        lines(bytes, 0x1234_5678_9ABC_DEF1, |rng, i| {
            format!(
                r#"{{"time":"2026-12-04T06:{:02}:{:02}.{:03}Z","level":"{}","method":"{}","path":"{}","status":{},"latency_ms":{},"ip":"10.{}.{}.{}","request_id":"{}"}}"#,
                (i / 60_000) % 60,
                (i / 1_000) % 60,
                i % 1_000,
                if rng.below(50) == 0 { "ERROR" } else { "INFO" },
                rng.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE"]),
                rng.pick(&[
                    "/",
                    "/api/orders",
                    "/api/users/42",
                    "/static/app.js",
                    "/health"
                ]),
                rng.pick(&["200", "200", "201", "304", "404", "500"]),
                rng.below(900),
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.hex(32),
            )
        })
    }

    /// JSON records with a long run of one character, as load generators and the side-by-side
    /// benchmark's Python handler send them (`"pad": "xxxx..."`).
    pub fn padded_records(bytes: usize) -> Vec<u8> {
        lines(bytes, 1, |_, i| {
            format!(
                r#"{{"id": {i}, "user": "user-{}", "event": "{}", "ts": {}, "pad": "{}"}}"#,
                i % 97,
                ["click", "view", "buy"][i % 3],
                1_700_000_000 + i,
                "x".repeat(910),
            )
        })
    }

    /// Prose kept in the repository (its own docs: English with code and tables, as free-text
    /// fields and log messages hold), repeated to `bytes`. The pages together are longer than
    /// deflate's 32 KiB window, so a repeat gives no match a real text would not.
    const PROSE: [&str; 4] = [
        include_str!("../../docs/design/exactly-once.md"),
        include_str!("../../docs/reference/batch-to-s3.md"),
        include_str!("../../docs/design/performance.md"),
        include_str!("../../docs/design/testing.md"),
    ];

    /// Plain text: `PROSE`, repeated to at least `bytes`.
    pub fn text(bytes: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes + 20_000);
        while out.len() < bytes {
            for page in PROSE {
                out.extend_from_slice(page.as_bytes());
            }
        }
        out
    }

    /// Every input, named.
    pub fn all(bytes: usize) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("event records", event_records(bytes)),
            ("log lines", log_lines(bytes)),
            ("padded records", padded_records(bytes)),
            ("text", text(bytes)),
        ]
    }
}

/// gzip's two magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a gzip body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum GunzipError {
    #[error("gzip data decodes to more than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("corrupt gzip data: {0}")]
    Corrupt(#[from] std::io::Error),
}

/// True when `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&GZIP_MAGIC)
}

/// Decompresses gzip (all members, as `gzip -d` does), refusing more than `limit` bytes of
/// output. Memory stays bounded by `limit` whatever the input claims.
pub fn gunzip_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
    let decoder = flate2::read::MultiGzDecoder::new(data);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    // Read one byte past the limit: if it arrives, the data is too large.
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(GunzipError::Corrupt)?;
    if out.len() > limit {
        return Err(GunzipError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib_6(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// The default level keeps within `MAX_SIZE_VS_ZLIB_6` of zlib level 6 on every input of
    /// the corpus (sizes are deterministic; speed is the benchmark's, not a test's).
    #[test]
    fn the_default_gzip_level_keeps_within_its_size_bound() {
        for (name, data) in corpus::all(1 << 20) {
            let ratio =
                gzip(&data, DEFAULT_GZIP_LEVEL).unwrap().len() as f64 / zlib_6(&data).len() as f64;
            assert!(ratio <= MAX_SIZE_VS_ZLIB_6, "{name}: {ratio:.3} of zlib-6");
        }
        // And the bound means something: the fastest levels exceed it somewhere.
        let worst = corpus::all(1 << 20)
            .iter()
            .map(|(_, data)| gzip(data, 1).unwrap().len() as f64 / zlib_6(data).len() as f64)
            .fold(0.0, f64::max);
        assert!(worst > MAX_SIZE_VS_ZLIB_6, "{worst}");
    }

    #[test]
    fn gzip_round_trips_at_every_level() {
        let data = corpus::text(10_000);
        for level in GZIP_LEVELS {
            assert_eq!(
                gunzip_bounded(&gzip(&data, level).unwrap(), data.len()).unwrap(),
                data
            );
        }
        assert!(gzip(&data, 13).is_err());
    }

    #[test]
    fn decodes_within_limit() {
        assert_eq!(gunzip_bounded(&gz(b"hello"), 5).unwrap(), b"hello");
    }

    #[test]
    fn refuses_a_bomb_past_the_limit() {
        let bomb = gz(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 100_000);
        assert!(matches!(
            gunzip_bounded(&bomb, 1024 * 1024),
            Err(GunzipError::TooLarge { .. })
        ));
    }

    #[test]
    fn reports_corrupt_data() {
        let mut data = gz(b"hello world");
        let n = data.len();
        data.truncate(n - 6);
        assert!(matches!(
            gunzip_bounded(&data, 1024),
            Err(GunzipError::Corrupt(_))
        ));
    }
}

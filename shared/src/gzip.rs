//! Bounded gzip decoding: a decompression bomb must fail fast with a clear error instead of
//! exhausting a 128 MB Lambda.

use std::io::Read;

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

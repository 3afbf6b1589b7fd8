//! Lists what landed in the bucket, as a person wants to see it: every object with its size
//! and record count, and a few decoded records.

use anyhow::{Context, Result};
use std::io::Read;

/// One object, decoded.
#[derive(Debug, Clone)]
pub struct ObjectSummary {
    pub key: String,
    pub bytes: usize,
    /// The records as text (lossy), for display and JSON checks.
    pub lines: Vec<String>,
    /// The records as stored, byte for byte.
    pub raw_lines: Vec<Vec<u8>>,
}

/// Decompresses an object body by its key's extension (`.gz`, `.zst`, anything else as is).
pub fn decode_body(key: &str, body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if key.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut out)
            .context(key.to_owned())?;
    } else if key.ends_with(".zst") {
        zstd::stream::read::Decoder::new(body)?
            .read_to_end(&mut out)
            .context(key.to_owned())?;
    } else {
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// Splits a decoded NDJSON body into its records (lines), lossily as text for display.
pub fn lines(decoded: &[u8]) -> Vec<String> {
    decoded
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Every object under `prefix`, decoded.
pub async fn objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectSummary>> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page?.contents() {
            let key = o.key().unwrap_or_default().to_owned();
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await?
                .body
                .collect()
                .await?
                .into_bytes();
            let decoded = decode_body(&key, &body)?;
            let raw_lines: Vec<Vec<u8>> = decoded
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            out.push(ObjectSummary {
                bytes: body.len(),
                lines: lines(&decoded),
                raw_lines,
                key,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodes_by_extension_and_splits_lines() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let body = gz.finish().unwrap();
        assert_eq!(
            lines(&decode_body("x.gz", &body).unwrap()),
            ["{\"a\":1}", "{\"b\":2}"]
        );
        let z = zstd::encode_all(&b"x\ny\n"[..], 3).unwrap();
        assert_eq!(lines(&decode_body("x.ndjson.zst", &z).unwrap()), ["x", "y"]);
        assert_eq!(lines(&decode_body("x.ndjson", b"p\n").unwrap()), ["p"]);
    }
}

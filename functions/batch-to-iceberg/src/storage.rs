//! The table's files in S3 (metadata, manifests, data files, error objects), through the AWS
//! SDK: Iceberg's `Storage` trait on `aws_sdk_s3::Client`, so every S3 call of the function
//! honours `AWS_ENDPOINT_URL` (moto, the fault proxy) and the Lambda role's credentials
//! like the other functions' calls, and no second HTTP stack is linked.
//!
//! Only what an append needs: GetObject (whole or a byte range), HeadObject, PutObject.
//! This function never deletes: files of a commit that did not happen stay under the
//! table's `data/` and `metadata/` prefixes, where an orphan-file cleanup finds them
//! (docs/design/iceberg-catalog.md).

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::stream::BoxStream;
use iceberg::io::{
    FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage, StorageConfig,
    StorageFactory,
};
use iceberg::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// An `s3://bucket/key` (or `s3a://`) location split in two.
pub fn split_location(location: &str) -> Result<(&str, &str)> {
    let rest = location
        .strip_prefix("s3://")
        .or_else(|| location.strip_prefix("s3a://"))
        .ok_or_else(|| invalid(format!("not an s3:// location: {location}")))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => Err(invalid(format!("no bucket and key in {location}"))),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::DataInvalid, message)
}

fn s3_error<E: std::fmt::Debug>(op: &str, location: &str, e: E) -> Error {
    // Not retryable for iceberg's own retry loop: the handler decides (handler.rs).
    Error::new(ErrorKind::Unexpected, format!("S3 {op} {location}: {e:?}"))
}

/// The S3 storage. The client is not serialized (Iceberg's `Storage` must be serde, for
/// engines that ship a `FileIO` to workers; this function never does).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct S3Storage {
    #[serde(skip)]
    client: Option<aws_sdk_s3::Client>,
}

impl S3Storage {
    fn client(&self) -> Result<&aws_sdk_s3::Client> {
        self.client.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                "S3Storage used without its SDK client",
            )
        })
    }

    async fn get(&self, location: &str, range: Option<Range<u64>>) -> Result<Bytes> {
        let (bucket, key) = split_location(location)?;
        let mut request = self.client()?.get_object().bucket(bucket).key(key);
        if let Some(r) = range {
            if r.start >= r.end {
                return Ok(Bytes::new());
            }
            request = request.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = request
            .send()
            .await
            .map_err(|e| s3_error("GetObject", location, e))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| s3_error("GetObject body", location, e))?;
        Ok(body.into_bytes())
    }

    async fn put(&self, location: &str, body: Bytes) -> Result<()> {
        let (bucket, key) = split_location(location)?;
        self.client()?
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", location, e))?;
        Ok(())
    }

    async fn head(&self, location: &str) -> Result<Option<u64>> {
        let (bucket, key) = split_location(location)?;
        match self
            .client()?
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or_default().max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_error("HeadObject", location, e)),
        }
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for S3Storage {
    async fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.head(path).await?.is_some())
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        match self.head(path).await? {
            Some(size) => Ok(FileMetadata { size }),
            None => Err(invalid(format!("no such object: {path}"))),
        }
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        self.get(path, None).await
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        Ok(Box::new(S3FileRead {
            storage: self.clone(),
            location: path.to_owned(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> Result<()> {
        self.put(path, bs).await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn FileWrite>> {
        Ok(Box::new(S3FileWrite {
            storage: self.clone(),
            location: path.to_owned(),
            buffer: Vec::new(),
            closed: false,
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        Err(never_deletes(path))
    }

    async fn delete_prefix(&self, path: &str) -> Result<()> {
        Err(never_deletes(path))
    }

    async fn delete_stream(&self, _paths: BoxStream<'static, String>) -> Result<()> {
        Err(never_deletes("a stream of paths"))
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_owned()))
    }

    fn new_output(&self, path: &str) -> Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_owned()))
    }
}

fn never_deletes(path: &str) -> Error {
    Error::new(
        ErrorKind::FeatureUnsupported,
        format!("batch-to-iceberg never deletes ({path}); expire snapshots and remove orphan files with the table's maintenance"),
    )
}

/// Builds the `S3Storage` for a `FileIO`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct S3StorageFactory {
    #[serde(skip)]
    client: Option<aws_sdk_s3::Client>,
}

impl S3StorageFactory {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self {
            client: Some(client),
        }
    }
}

#[typetag::serde]
impl StorageFactory for S3StorageFactory {
    fn build(&self, _config: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(S3Storage {
            client: self.client.clone(),
        }))
    }
}

/// Reads byte ranges (Parquet footers, manifests) with ranged GetObjects.
struct S3FileRead {
    storage: S3Storage,
    location: String,
}

#[async_trait]
impl FileRead for S3FileRead {
    async fn read(&self, range: Range<u64>) -> Result<Bytes> {
        self.storage.get(&self.location, Some(range)).await
    }
}

/// Buffers a file and stores it with one PutObject on `close`. A data file is at most a
/// batch's worth (Lambda's 6 MB payload, smaller as Parquet), so one PUT is enough and a
/// half-written object never exists.
struct S3FileWrite {
    storage: S3Storage,
    location: String,
    buffer: Vec<u8>,
    closed: bool,
}

#[async_trait]
impl FileWrite for S3FileWrite {
    async fn write(&mut self, bs: Bytes) -> Result<()> {
        if self.closed {
            return Err(Error::new(ErrorKind::Unexpected, "write after close"));
        }
        self.buffer.extend_from_slice(&bs);
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let body = Bytes::from(std::mem::take(&mut self.buffer));
        self.storage.put(&self.location, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_s3_locations() {
        assert_eq!(
            split_location("s3://lake/wh/db.db/t/data/x.parquet").unwrap(),
            ("lake", "wh/db.db/t/data/x.parquet")
        );
        assert_eq!(split_location("s3a://lake/k").unwrap(), ("lake", "k"));
        for bad in [
            "lake/k",
            "s3://lake",
            "s3://lake/",
            "s3:///k",
            "file:///tmp/x",
        ] {
            assert!(split_location(bad).is_err(), "{bad}");
        }
    }
}

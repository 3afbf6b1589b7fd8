//! The one narrow I/O boundary of `batch-to-s3`: conditional PUT, GET and DELETE of objects
//! in one bucket. The trait is here; it is implemented once for the SDK client (`sdk.rs`)
//! and once in memory for tests (`memory.rs`).
//!
//! S3 semantics relied on:
//! - `PutObject` with `If-None-Match: *` creates the object only if the key is free and
//!   answers 412 PreconditionFailed otherwise. Our keys are derived from the data, so a 412
//!   on a data object means an earlier attempt stored this object; `write.rs` checks that
//!   by the digest of its records in the stored object's metadata (`HeadObject`).
//! - `PutObject` with `If-Match: <etag>` replaces the object only if it is still the version
//!   we read (412 otherwise): a compare-and-swap for the high-water mark.
//! - S3 is strongly consistent for reads after writes, so a GET sees the latest PUT.

use std::future::Future;

/// The condition a PUT is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `If-None-Match: *`: only if no object has the key.
    IfNoneMatch,
    /// `If-Match: <etag>`: only if the object is still this version.
    IfMatch(String),
    /// Whatever is there (an identity window's slot: only the state's reference makes it
    /// the window).
    None,
}

/// One object to PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObject {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
    /// S3 user metadata (sent as `x-amz-meta-<name>`).
    pub metadata: Vec<(String, String)>,
    pub condition: Condition,
}

/// What a conditional PUT did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; the new ETag when S3 gave one.
    Created { etag: Option<String> },
    /// 412: the condition did not hold (the key exists, or changed since it was read).
    PreconditionFailed,
}

/// An object read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// A call that failed after the SDK's own retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("S3 {operation} of {key} failed ({code}): {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub key: String,
    pub code: String,
    pub message: String,
}

/// Objects in the configured bucket.
pub trait ObjectStore: Send + Sync {
    /// A conditional PutObject.
    fn put_object(
        &self,
        object: PutObject,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;
    /// GetObject; `None` when there is no such key.
    fn get_object(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredObject>, StoreError>> + Send;
    /// DeleteObject (succeeds when the key is already gone).
    fn delete_object(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// HeadObject: whether the key exists (settling a write intent asks this per object).
    fn head_object(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move { Ok(self.object_metadata(key).await?.is_some()) }
    }
    /// HeadObject: the object's user metadata (names without `x-amz-meta-`), `None` when
    /// there is no such key.
    fn object_metadata(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<(String, String)>>, StoreError>> + Send;
}

pub mod memory;
pub mod sdk;

//! The one narrow I/O boundary of `batch-to-s3`: conditional PUT, GET and DELETE of objects
//! in one bucket. Implemented once for the SDK client (`s3`) and once in memory (`memory`).
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

/// The SDK implementation.
pub mod s3 {
    use super::*;
    use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::Client;

    /// HTTP status of a failed precondition.
    const PRECONDITION_FAILED: u16 = 412;
    /// HTTP status of a missing key.
    const NOT_FOUND: u16 = 404;

    /// One bucket through the AWS SDK (which retries throttling and 5xx itself).
    #[derive(Debug, Clone)]
    pub struct S3Store {
        client: Client,
        bucket: String,
    }

    impl S3Store {
        pub fn new(client: Client, bucket: impl Into<String>) -> Self {
            Self {
                client,
                bucket: bucket.into(),
            }
        }
    }

    fn status<E, R: HttpStatus>(err: &SdkError<E, R>) -> Option<u16> {
        match err {
            SdkError::ServiceError(e) => Some(e.raw().status_u16()),
            _ => None,
        }
    }

    /// The raw response's status, whatever the response type.
    trait HttpStatus {
        fn status_u16(&self) -> u16;
    }
    impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
        fn status_u16(&self) -> u16 {
            self.status().as_u16()
        }
    }

    fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        key: &str,
        err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> StoreError {
        let code = err.code().unwrap_or("Unknown").to_owned();
        let message = match &err {
            SdkError::ServiceError(_) => err.message().unwrap_or_default().to_owned(),
            other => DisplayErrorContext(other).to_string(),
        };
        StoreError {
            operation,
            key: key.to_owned(),
            code,
            message,
        }
    }

    impl ObjectStore for S3Store {
        async fn put_object(&self, object: PutObject) -> Result<PutOutcome, StoreError> {
            let PutObject {
                key,
                body,
                content_type,
                content_encoding,
                metadata,
                condition,
            } = object;
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .body(ByteStream::from(body))
                .content_type(content_type)
                .set_content_encoding(content_encoding.map(str::to_owned))
                .set_metadata(Some(metadata.into_iter().collect()));
            req = match condition {
                Condition::IfNoneMatch => req.if_none_match("*"),
                Condition::IfMatch(etag) => req.if_match(etag),
            };
            match req.send().await {
                Ok(out) => Ok(PutOutcome::Created {
                    etag: out.e_tag().map(str::to_owned),
                }),
                Err(e) if status(&e) == Some(PRECONDITION_FAILED) => {
                    Ok(PutOutcome::PreconditionFailed)
                }
                Err(e) => Err(failed("PutObject", &key, e)),
            }
        }

        async fn get_object(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
            let out = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if status(&e) == Some(NOT_FOUND) => return Ok(None),
                Err(e) => return Err(failed("GetObject", key, e)),
            };
            let etag = out.e_tag().map(str::to_owned);
            let body = out.body.collect().await.map_err(|e| StoreError {
                operation: "GetObject",
                key: key.to_owned(),
                code: "ReadBody".into(),
                message: e.to_string(),
            })?;
            Ok(Some(StoredObject {
                body: body.into_bytes().to_vec(),
                etag,
            }))
        }

        async fn object_metadata(
            &self,
            key: &str,
        ) -> Result<Option<Vec<(String, String)>>, StoreError> {
            match self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => Ok(Some(
                    out.metadata()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                )),
                Err(e) if status(&e) == Some(NOT_FOUND) => Ok(None),
                Err(e) => Err(failed("HeadObject", key, e)),
            }
        }

        async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failed("DeleteObject", key, e))
        }
    }
}

/// An in-memory bucket for tests: honours the conditions as S3 does, and can be told to
/// fail calls.
pub mod memory {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// A stored object with everything the PUT carried.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MemoryObject {
        pub body: Vec<u8>,
        pub etag: String,
        pub content_type: String,
        pub content_encoding: Option<String>,
        pub metadata: Vec<(String, String)>,
    }

    type KeyPredicate = Box<dyn Fn(&str) -> bool + Send + Sync>;

    /// A fake bucket.
    #[derive(Default)]
    pub struct MemoryStore {
        pub objects: Mutex<BTreeMap<String, MemoryObject>>,
        /// Every PUT attempted, by key, in order.
        pub puts: Mutex<Vec<String>>,
        /// Every DELETE attempted, by key, in order.
        pub deletes: Mutex<Vec<String>>,
        versions: Mutex<u64>,
        fail_put: Mutex<Option<KeyPredicate>>,
        hang_put: Mutex<Option<KeyPredicate>>,
        fail_get: Mutex<bool>,
    }

    impl MemoryStore {
        pub fn new() -> Self {
            Self::default()
        }

        /// PUTs of keys matching `pred` fail (as after the SDK's retries) until cleared.
        pub fn fail_puts_where(&self, pred: impl Fn(&str) -> bool + Send + Sync + 'static) {
            *lock(&self.fail_put) = Some(Box::new(pred));
        }

        /// PUTs of keys matching `pred` never answer and are not applied (a process killed
        /// while it waits), until cleared.
        pub fn hang_puts_where(&self, pred: impl Fn(&str) -> bool + Send + Sync + 'static) {
            *lock(&self.hang_put) = Some(Box::new(pred));
        }

        /// Every GET fails while set.
        pub fn fail_gets(&self, fail: bool) {
            *lock(&self.fail_get) = fail;
        }

        /// Lets every call succeed again.
        pub fn heal(&self) {
            *lock(&self.fail_put) = None;
            *lock(&self.hang_put) = None;
            *lock(&self.fail_get) = false;
        }

        /// The keys under a prefix, in S3's (byte) order.
        pub fn keys(&self, prefix: &str) -> Vec<String> {
            lock(&self.objects)
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect()
        }

        /// One object.
        pub fn object(&self, key: &str) -> Option<MemoryObject> {
            lock(&self.objects).get(key).cloned()
        }

        fn injected(operation: &'static str, key: &str) -> StoreError {
            StoreError {
                operation,
                key: key.to_owned(),
                code: "InternalError".into(),
                message: "injected failure".into(),
            }
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    impl ObjectStore for MemoryStore {
        async fn put_object(&self, object: PutObject) -> Result<PutOutcome, StoreError> {
            lock(&self.puts).push(object.key.clone());
            let hang = lock(&self.hang_put)
                .as_ref()
                .is_some_and(|p| p(&object.key));
            if hang {
                std::future::pending::<()>().await;
            }
            if lock(&self.fail_put)
                .as_ref()
                .is_some_and(|p| p(&object.key))
            {
                return Err(Self::injected("PutObject", &object.key));
            }
            let mut objects = lock(&self.objects);
            let current = objects.get(&object.key).map(|o| o.etag.clone());
            let allowed = match (&object.condition, current) {
                (Condition::IfNoneMatch, None) => true,
                (Condition::IfNoneMatch, Some(_)) => false,
                (Condition::IfMatch(want), Some(have)) => *want == have,
                (Condition::IfMatch(_), None) => false,
            };
            if !allowed {
                return Ok(PutOutcome::PreconditionFailed);
            }
            let etag = {
                let mut v = lock(&self.versions);
                *v += 1;
                format!("\"{}\"", *v)
            };
            objects.insert(
                object.key,
                MemoryObject {
                    body: object.body,
                    etag: etag.clone(),
                    content_type: object.content_type.to_owned(),
                    content_encoding: object.content_encoding.map(str::to_owned),
                    metadata: object.metadata,
                },
            );
            Ok(PutOutcome::Created { etag: Some(etag) })
        }

        async fn get_object(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
            if *lock(&self.fail_get) {
                return Err(Self::injected("GetObject", key));
            }
            Ok(lock(&self.objects).get(key).map(|o| StoredObject {
                body: o.body.clone(),
                etag: Some(o.etag.clone()),
            }))
        }

        async fn object_metadata(
            &self,
            key: &str,
        ) -> Result<Option<Vec<(String, String)>>, StoreError> {
            if *lock(&self.fail_get) {
                return Err(Self::injected("HeadObject", key));
            }
            Ok(lock(&self.objects).get(key).map(|o| o.metadata.clone()))
        }

        async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
            lock(&self.deletes).push(key.to_owned());
            lock(&self.objects).remove(key);
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn put(key: &str, condition: Condition) -> PutObject {
            PutObject {
                key: key.into(),
                body: b"x".to_vec(),
                content_type: "text/plain",
                content_encoding: None,
                metadata: vec![],
                condition,
            }
        }

        #[tokio::test]
        async fn honours_conditions_like_s3() {
            let s = MemoryStore::new();
            let created = s.put_object(put("k", Condition::IfNoneMatch)).await;
            let Ok(PutOutcome::Created { etag: Some(etag) }) = created else {
                panic!("{created:?}")
            };
            assert_eq!(
                s.put_object(put("k", Condition::IfNoneMatch)).await,
                Ok(PutOutcome::PreconditionFailed)
            );
            assert_eq!(
                s.put_object(put("k", Condition::IfMatch("\"nope\"".into())))
                    .await,
                Ok(PutOutcome::PreconditionFailed)
            );
            assert!(matches!(
                s.put_object(put("k", Condition::IfMatch(etag))).await,
                Ok(PutOutcome::Created { .. })
            ));
        }
    }
}

//! The SDK implementation of `ObjectStore`: one bucket through `aws_sdk_s3`.

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
            Condition::None => req,
        };
        match req.send().await {
            Ok(out) => Ok(PutOutcome::Created {
                etag: out.e_tag().map(str::to_owned),
            }),
            Err(e) if status(&e) == Some(PRECONDITION_FAILED) => Ok(PutOutcome::PreconditionFailed),
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

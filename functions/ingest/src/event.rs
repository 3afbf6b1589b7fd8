//! The function URL event (payload format 2.0) and response, only the fields ingest reads
//! and writes.
//!
//! Why not `lambda_http`: it copies the whole invocation into a `RawValue`, parses that copy
//! into an API Gateway v2 request, then builds an `http::Request` from it. On a 1.2 MB body of
//! 10,000 NDJSON records that was 3-4x the cost of deserializing this struct straight from the
//! invocation's bytes (`cargo run --release -p ingest --example bench` prints both), and the
//! body is the one large field. Function URLs, API Gateway HTTP APIs (payload 2.0) and
//! `cargo lambda watch` all send this shape.

use crate::error::IngestError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A function URL request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlRequest {
    // Every optional field may be absent or `null` (`cargo lambda watch` sends
    // `"rawQueryString": null`, for one).
    /// Header names as sent (function URLs lowercase them); repeated headers are joined by
    /// commas, as function URLs do.
    #[serde(default, deserialize_with = "trickle_shared::json::null_as_default")]
    pub headers: HashMap<String, String>,
    /// The decoded query parameters (absent when there is no query string).
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
    /// The path as sent (`/` when absent).
    #[serde(default, deserialize_with = "trickle_shared::json::null_as_default")]
    pub raw_path: String,
    /// The query string as sent, percent-encoded; read when the map above is absent.
    #[serde(default, deserialize_with = "trickle_shared::json::null_as_default")]
    pub raw_query_string: String,
    #[serde(default)]
    pub body: Option<String>,
    /// The body is base64 (function URLs do this for binary content types).
    #[serde(default, deserialize_with = "trickle_shared::json::null_as_default")]
    pub is_base64_encoded: bool,
    /// Required, as is its method: an event without them is not an HTTP request, and is
    /// refused by the runtime with serde's message naming the missing field.
    pub request_context: RequestContext,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestContext {
    pub http: HttpContext,
    /// With `AWS_IAM` auth, who signed the request.
    #[serde(default)]
    pub authorizer: Option<Authorizer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Authorizer {
    #[serde(default)]
    pub iam: Option<IamAuthorizer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IamAuthorizer {
    #[serde(default)]
    pub user_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpContext {
    pub method: String,
}

impl UrlRequest {
    /// A header's value; names match case-insensitively, as HTTP's do.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's decoded value (the first, if repeated in the raw query string).
    pub fn query(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        match &self.query_string_parameters {
            Some(map) => map.get(name).map(|v| v.as_str().into()),
            None => form_urlencoded::parse(self.raw_query_string.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v),
        }
    }

    /// The body's bytes, taken out of the event (base64-decoded if it came encoded). The
    /// text body is moved, not copied.
    pub fn take_body(&mut self) -> Result<Vec<u8>, IngestError> {
        let body = self.body.take().unwrap_or_default();
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| IngestError::InvalidBase64Body(e.to_string()))
        } else {
            Ok(body.into_bytes())
        }
    }
}

/// A function URL response: status, headers and a text body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlResponse {
    pub status_code: u16,
    pub headers: BTreeMap<&'static str, String>,
    pub body: String,
    pub is_base64_encoded: bool,
    /// Always empty. Function URLs accept a response without it, but `cargo lambda watch`
    /// reads responses as API Gateway v2 ones, where it is required.
    pub cookies: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_function_url_event() {
        let mut e: UrlRequest = serde_json::from_str(
            r#"{"version":"2.0","rawQueryString":"partitionKey=a%20b&x=1",
                "headers":{"Content-Type":"text/plain","x-partition-key":"k"},
                "requestContext":{"http":{"method":"POST","path":"/"}},
                "body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(e.header("content-type"), Some("text/plain"));
        assert_eq!(e.header("X-Partition-Key"), Some("k"));
        assert_eq!(e.query("partitionKey").as_deref(), Some("a b"));
        assert_eq!(e.request_context.http.method, "POST");
        assert_eq!(e.take_body().unwrap(), b"hi");
    }

    #[test]
    fn the_decoded_query_map_wins_and_a_missing_body_is_empty() {
        let mut e: UrlRequest = serde_json::from_str(
            r#"{"rawQueryString":"partitionKey=raw","queryStringParameters":{"partitionKey":"map"},
                "requestContext":{"http":{"method":"POST"}}}"#,
        )
        .unwrap();
        assert_eq!(e.query("partitionKey").as_deref(), Some("map"));
        assert_eq!(e.query("other"), None);
        assert_eq!(e.take_body().unwrap(), b"");
    }

    #[test]
    fn null_fields_read_as_absent() {
        let mut e: UrlRequest = serde_json::from_str(
            r#"{"headers":null,"rawQueryString":null,"queryStringParameters":null,
                "body":null,"isBase64Encoded":null,"requestContext":{"http":{"method":"POST"}}}"#,
        )
        .unwrap();
        assert_eq!(e.header("content-type"), None);
        assert_eq!(e.query("partitionKey"), None);
        assert_eq!(e.take_body().unwrap(), b"");
    }

    #[test]
    fn an_event_without_a_method_is_refused_naming_the_field() {
        let err =
            serde_json::from_str::<UrlRequest>(r#"{"body":"x","requestContext":{}}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `http`"), "{err}");
    }

    #[test]
    fn a_body_that_is_not_base64_is_a_clear_error() {
        let mut e = UrlRequest {
            body: Some("not base64!".into()),
            is_base64_encoded: true,
            ..Default::default()
        };
        let err = e.take_body().unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("base64"), "{err}");
    }
}

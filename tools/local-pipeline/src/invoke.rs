//! "Invoke this function with this event": the one boundary between the stand-ins and the
//! functions. The Lambda SDK client implements it with the Invoke API (against `cargo lambda
//! watch`, which `main.rs` uses); tests implement it in-process, calling a function's library.

use serde_json::Value;
use std::future::Future;

/// An invocation that did not give an answer to act on. For the event source mapping each
/// kind means the same: the batch failed and is retried (or bisected).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The call itself failed (connection, SDK, service error).
    #[error("invoking {function}: {reason}")]
    Call { function: String, reason: String },
    /// The function failed (an unhandled error, a timeout): Lambda's `FunctionError`.
    #[error("{function} returned a function error ({kind}): {payload}")]
    Function {
        function: String,
        kind: String,
        payload: String,
    },
    /// The function answered with something that is not JSON.
    #[error("{function} answered something that is not JSON: {reason}")]
    NotJson { function: String, reason: String },
}

/// Calls a function synchronously (`RequestResponse`) and returns its answer.
pub trait Invoker: Sync {
    /// The function's answer as JSON (`Value::Null` for an empty payload).
    fn invoke(
        &self,
        function: &str,
        event: &Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send;
}

/// The Lambda Invoke API (`cargo lambda watch` serves it locally).
impl Invoker for aws_sdk_lambda::Client {
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        let payload = serde_json::to_vec(event).map_err(|e| InvokeError::Call {
            function: function.to_owned(),
            reason: e.to_string(),
        })?;
        // The SDK's own `invoke` (the inherent method), not this trait's.
        let out = aws_sdk_lambda::Client::invoke(self)
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| InvokeError::Call {
                function: function.to_owned(),
                reason: aws_sdk_lambda::error::DisplayErrorContext(e).to_string(),
            })?;
        let payload = out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        if let Some(kind) = out.function_error() {
            return Err(InvokeError::Function {
                function: function.to_owned(),
                kind: kind.to_owned(),
                payload: String::from_utf8_lossy(&payload).into_owned(),
            });
        }
        if payload.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&payload).map_err(|e| InvokeError::NotJson {
            function: function.to_owned(),
            reason: e.to_string(),
        })
    }
}

//! Whether a failed AWS SDK request may have been applied. A writer that cannot tell must
//! read the resource again before it reports anything (batch-to-iceberg settles an unknown
//! commit that way); a writer that knows it was not applied can simply try again.
//!
//! Decided from the HTTP status, not from the error's text: only a 4xx answer says the
//! request was refused, unless its code is one of the caller's `unknown_codes` (Glue answers
//! throttling with a 400 after the SDK's own retries, and some internal errors likewise).
//! A 5xx, a 2xx whose body the SDK could not read, a timeout or a lost connection may have
//! been applied. A request that could not be built was never sent.
//!
//! Generic over the operation's error type: every AWS SDK crate uses the same `SdkError` and
//! HTTP response types (S3 Tables' pointer in batch-to-iceberg classifies with this too).

use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};

/// What a failed request means for the resource it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkOutcome {
    /// The service refused it (a 4xx), or it was never sent: nothing changed.
    NotApplied,
    /// It may have been applied (5xx, throttling after retries, timeout, lost connection).
    Unknown,
}

/// Glue's error codes that come with a 4xx and still do not mean "not applied".
pub const GLUE_UNKNOWN_CODES: [&str; 2] = ["InternalService", "Throttling"];

/// The outcome of a failed request; `unknown_codes` are error codes (matched as substrings)
/// that count as unknown even with a 4xx.
pub fn classify<E>(e: &SdkError<E, HttpResponse>, unknown_codes: &[&str]) -> SdkOutcome
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or_default();
            let refused = (400..500).contains(&s.raw().status().as_u16())
                && !unknown_codes.iter().any(|c| code.contains(c));
            if refused {
                SdkOutcome::NotApplied
            } else {
                SdkOutcome::Unknown
            }
        }
        SdkError::ConstructionFailure(_) => SdkOutcome::NotApplied,
        _ => SdkOutcome::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_glue::error::ErrorMetadata;
    use aws_sdk_glue::operation::update_table::UpdateTableError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn answered(status: u16, code: &str) -> SdkError<UpdateTableError, HttpResponse> {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        let err = UpdateTableError::generic(ErrorMetadata::builder().code(code).build());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn a_4xx_answer_was_not_applied() {
        for code in [
            "ConcurrentModificationException",
            "EntityNotFoundException",
            "InvalidInputException",
        ] {
            assert_eq!(
                classify(&answered(400, code), &GLUE_UNKNOWN_CODES),
                SdkOutcome::NotApplied,
                "{code}"
            );
        }
    }

    #[test]
    fn a_5xx_or_throttling_may_have_been_applied() {
        assert_eq!(
            classify(&answered(500, "InternalServiceException"), &[]),
            SdkOutcome::Unknown
        );
        assert_eq!(
            classify(&answered(503, "Whatever"), &[]),
            SdkOutcome::Unknown
        );
        assert_eq!(
            classify(&answered(400, "ThrottlingException"), &GLUE_UNKNOWN_CODES),
            SdkOutcome::Unknown
        );
        // Without Glue's list, a 400 is a refusal whatever its code.
        assert_eq!(
            classify(&answered(400, "ThrottlingException"), &[]),
            SdkOutcome::NotApplied
        );
    }

    #[test]
    fn no_answer_may_have_been_applied_and_an_unsent_request_was_not() {
        let timeout: SdkError<UpdateTableError, HttpResponse> =
            SdkError::timeout_error("no answer");
        assert_eq!(classify(&timeout, &[]), SdkOutcome::Unknown);
        let unbuilt: SdkError<UpdateTableError, HttpResponse> =
            SdkError::construction_failure("no name");
        assert_eq!(classify(&unbuilt, &[]), SdkOutcome::NotApplied);
    }
}

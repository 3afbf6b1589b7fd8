//! `GlueTables` on the AWS SDK's Glue client (which retries throttling and 5xx itself),
//! each call bounded by a timeout, every failure classified once (`glue_error`).

use super::{GlueError, GlueTables, CALL_TIMEOUT};
use crate::outcome::{classify, SdkOutcome, GLUE_UNKNOWN_CODES};
use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{Table, TableInput};
use aws_sdk_glue::Client;
use std::future::Future;
use std::time::Duration;

/// One database through the SDK client.
#[derive(Debug, Clone)]
pub struct SdkGlueTables {
    client: Client,
    database: String,
    timeout: Duration,
}

impl SdkGlueTables {
    /// The tables of `database`, each call bounded by `CALL_TIMEOUT`.
    pub fn new(client: Client, database: impl Into<String>) -> Self {
        Self {
            client,
            database: database.into(),
            timeout: CALL_TIMEOUT,
        }
    }

    /// Another bound per call (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// `call` within the timeout; no answer in time is an unknown outcome (the request may
    /// have reached Glue).
    async fn bounded<T>(
        &self,
        operation: &'static str,
        table: &str,
        call: impl Future<Output = Result<T, GlueError>>,
    ) -> Result<T, GlueError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(GlueError::Unknown {
                    operation,
                    table: table.to_owned(),
                    message: format!("no answer within {:?}", self.timeout),
                })
            })
    }
}

/// The one mapping of a failed Glue request: by HTTP status first (`classify`), then, for a
/// refusal, by Glue's error code.
pub(crate) fn glue_error<E>(
    operation: &'static str,
    table: &str,
    e: SdkError<E, HttpResponse>,
) -> GlueError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let table = table.to_owned();
    let code = e.code().unwrap_or("Unknown").to_owned();
    let message = match &e {
        SdkError::ServiceError(_) => e.message().unwrap_or_default().to_owned(),
        other => DisplayErrorContext(other).to_string(),
    };
    match classify(&e, &GLUE_UNKNOWN_CODES) {
        SdkOutcome::Unknown => GlueError::Unknown {
            operation,
            table,
            message: format!("{code}: {message}"),
        },
        SdkOutcome::NotApplied => match code.as_str() {
            "ConcurrentModificationException" => GlueError::Conflict { operation, table },
            "AlreadyExistsException" => GlueError::AlreadyExists { table },
            "EntityNotFoundException" => GlueError::NotFound { operation, table },
            _ => GlueError::Refused {
                operation,
                table,
                code,
                message,
            },
        },
    }
}

impl GlueTables for SdkGlueTables {
    async fn get_table(&self, name: &str) -> Result<Option<Table>, GlueError> {
        let call = async {
            match self
                .client
                .get_table()
                .database_name(&self.database)
                .name(name)
                .send()
                .await
            {
                Ok(out) => Ok(out.table),
                Err(e) => match glue_error("GetTable", name, e) {
                    GlueError::NotFound { .. } => Ok(None),
                    other => Err(other),
                },
            }
        };
        self.bounded("GetTable", name, call).await
    }

    async fn create_table(&self, input: TableInput) -> Result<(), GlueError> {
        let name = input.name.clone();
        let call = async {
            self.client
                .create_table()
                .database_name(&self.database)
                .table_input(input)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| glue_error("CreateTable", &name, e))
        };
        self.bounded("CreateTable", &name, call).await
    }

    async fn update_table(
        &self,
        input: TableInput,
        version_id: &str,
        skip_archive: bool,
    ) -> Result<(), GlueError> {
        let name = input.name.clone();
        let call = async {
            self.client
                .update_table()
                .database_name(&self.database)
                .table_input(input)
                .version_id(version_id)
                .skip_archive(skip_archive)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| glue_error("UpdateTable", &name, e))
        };
        self.bounded("UpdateTable", &name, call).await
    }
}

#[cfg(test)]
mod tests {
    //! Through the real SDK client against a loopback server that answers as Glue would
    //! (or not at all), with the SDK's retries off.
    use super::*;
    use aws_sdk_glue::config::{retry::RetryConfig, BehaviorVersion, Credentials, Region};
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server answering every request with `status` and a Glue error `code` (or hanging
    /// when `status` is 0); its URL.
    fn glue_answering(status: u16, code: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    let _ = stream.read(&mut buf);
                    if status == 0 {
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                    let body = format!(r#"{{"__type":"{code}","Message":"as Glue says"}}"#);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        url
    }

    fn tables(url: &str) -> SdkGlueTables {
        let conf = aws_sdk_glue::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(url)
            .retry_config(RetryConfig::disabled())
            .build();
        SdkGlueTables::new(Client::from_conf(conf), "db")
    }

    fn input() -> TableInput {
        TableInput::builder().name("t").build().unwrap()
    }

    #[tokio::test]
    async fn glues_answers_are_classified_by_status_then_code() {
        type Expected = fn(&GlueError) -> bool;
        let cases: [(u16, &str, Expected); 6] = [
            (400, "ConcurrentModificationException", |e| {
                matches!(e, GlueError::Conflict { .. })
            }),
            (400, "EntityNotFoundException", |e| {
                matches!(e, GlueError::NotFound { .. })
            }),
            (
                400,
                "InvalidInputException",
                |e| matches!(e, GlueError::Refused { code, .. } if code == "InvalidInputException"),
            ),
            (400, "ThrottlingException", |e| e.may_have_been_applied()),
            (500, "InternalServiceException", |e| {
                e.may_have_been_applied()
            }),
            (503, "ServiceUnavailable", |e| e.may_have_been_applied()),
        ];
        for (status, code, expected) in cases {
            let g = tables(&glue_answering(status, code));
            let err = g.update_table(input(), "1", true).await.unwrap_err();
            assert!(expected(&err), "{status} {code}: {err:?}");
        }
        let g = tables(&glue_answering(400, "AlreadyExistsException"));
        let err = g.create_table(input()).await.unwrap_err();
        assert_eq!(err, GlueError::AlreadyExists { table: "t".into() });
    }

    #[tokio::test]
    async fn a_missing_table_reads_as_none() {
        let g = tables(&glue_answering(400, "EntityNotFoundException"));
        assert_eq!(g.get_table("t").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_glue_that_does_not_answer_is_an_unknown_outcome_after_the_timeout() {
        let g = tables(&glue_answering(0, "")).with_timeout(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let err = g.update_table(input(), "1", true).await.unwrap_err();
        assert!(err.may_have_been_applied(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let err = g.get_table("t").await.unwrap_err();
        assert!(matches!(
            err,
            GlueError::Unknown {
                operation: "GetTable",
                ..
            }
        ));
    }
}

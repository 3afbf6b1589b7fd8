//! The adapter between the function URL event and the pure parts: extracts the request's
//! parts, writes the entries, and answers in the shape of Kinesis' own PutRecord/PutRecords
//! responses.

use crate::aggregate::pack;
use crate::auth::bearer_matches;
use crate::body::{parse, HttpInput};
use crate::browser::parse_browser;
use crate::config::Config;
use crate::error::IngestError;
use crate::event::{UrlRequest, UrlResponse};
use crate::idempotency::{
    earlier_outcome, identify, identify_by_id, request_digest, request_id, stored_outcomes, Claim,
    IdempotencyKey, PutSet, Recorded, RequestMemory, State, MAX_STORED_ANSWER_BYTES,
};
use crate::otlp;
use crate::sink::{EntryOutcome, RecordSink};
use crate::write::{write_all, WriteReport};
use base64::Engine;
use http::StatusCode;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;
use trickle_shared::limits::KINESIS_MAX_RECORD_BYTES;

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// A sender with the token (or any sender, when no token is configured).
    Trusted,
    /// A web page with the public browser key: less allowed, records marked (`browser.rs`).
    Browser,
}

/// Seconds a client should wait before retrying throttled records.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The ingest function: configuration plus where records go, and where keyed requests are
/// remembered (`IDEMPOTENCY_TABLE`).
pub struct Ingest<S> {
    config: Config,
    sink: S,
    memory: Option<Arc<dyn RequestMemory>>,
}

/// A status and a JSON body (plus `Retry-After` / `Allow` where they apply).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// A body in another encoding than JSON (OTLP's protobuf answers): its Content-Type and
    /// bytes, sent instead of `body`.
    pub raw: Option<(&'static str, Vec<u8>)>,
}

impl<S: RecordSink> Ingest<S> {
    pub fn new(config: Config, sink: S) -> Self {
        Self {
            config,
            sink,
            memory: None,
        }
    }

    /// With a request memory: `Idempotency-Key` makes a retried request put nothing twice.
    pub fn with_memory(mut self, memory: Arc<dyn RequestMemory>) -> Self {
        self.memory = Some(memory);
        self
    }

    /// Gives the sink back (tests inspect what an in-memory sink received).
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// Handles one function URL invocation. Never fails: every outcome is an HTTP answer.
    pub async fn handle(
        &self,
        event: LambdaEvent<UrlRequest>,
    ) -> Result<UrlResponse, std::convert::Infallible> {
        Ok(self.respond(event.payload).await)
    }

    /// Handles one function URL request.
    pub async fn respond(&self, mut req: UrlRequest) -> UrlResponse {
        let body = req.take_body();
        let caller = req
            .request_context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone());
        let query_key = req.query("partitionKey");
        let browser_key = req.query("key");
        let mut input = HttpInput {
            method: &req.request_context.http.method,
            content_type: req.header("content-type"),
            content_encoding: req.header("content-encoding"),
            partition_key_header: req.header("x-partition-key"),
            partition_key_query: query_key.as_deref(),
            explicit_hash_key: req.header("x-explicit-hash-key"),
            authorization: req.header("authorization"),
            browser_key: browser_key.as_deref(),
            path: &req.raw_path,
            origin: req.header("origin"),
            idempotency_key: req.header("idempotency-key"),
            caller: caller.as_deref(),
            body: Default::default(),
        };
        let answer = match body {
            Ok(body) => {
                input.body = body.into();
                self.answer(&input).await
            }
            Err(err) => self
                .refuse_unauthorized(&input)
                .unwrap_or_else(|| client_error(&err)),
        };
        to_response(answer)
    }

    /// The 401 answer when a token is configured and the request lacks it.
    fn refuse_unauthorized(&self, input: &HttpInput<'_>) -> Option<Answer> {
        let expected = self.config.auth_token_sha256.as_ref()?;
        if bearer_matches(input.authorization, expected) {
            return None;
        }
        tracing::warn!(
            status = 401,
            "rejected request: missing or wrong bearer token"
        );
        Some(client_error(&IngestError::Unauthorized))
    }

    /// Which sender a request is: a browser when it carries the browser key (and no valid
    /// token), else a trusted sender once the token, if one is configured, matches.
    fn sender(&self, input: &HttpInput<'_>) -> Result<Sender, Answer> {
        let token_ok = self
            .config
            .auth_token_sha256
            .as_ref()
            .is_none_or(|expected| bearer_matches(input.authorization, expected));
        match (input.browser_key, &self.config.browser_key) {
            (Some(_), _) if token_ok && self.config.auth_token_sha256.is_some() => {
                Ok(Sender::Trusted)
            }
            (Some(given), Some(key)) if given == key => Ok(Sender::Browser),
            (Some(_), _) => {
                tracing::warn!(status = 401, "rejected request: unknown browser key");
                Err(client_error(&IngestError::UnknownBrowserKey))
            }
            (None, _) => match self.refuse_unauthorized(input) {
                Some(refused) => Err(refused),
                None => Ok(Sender::Trusted),
            },
        }
    }

    /// Parses, writes and builds the answer for a request's parts.
    pub async fn answer(&self, input: &HttpInput<'_>) -> Answer {
        let sender = match self.sender(input) {
            Ok(sender) => sender,
            Err(refused) => return refused,
        };
        if let Some(signal) = trickle_otlp::Signal::from_path(input.path) {
            return self.answer_otlp(signal, sender, input).await;
        }
        let parsed = match sender {
            Sender::Trusted => parse(input, self.config.partition_key_pointer.as_deref()),
            Sender::Browser => {
                if !input.method.eq_ignore_ascii_case("POST") {
                    Err(IngestError::MethodNotAllowed(input.method.to_owned()))
                } else {
                    parse_browser(input, input.origin)
                }
            }
        };
        // The body's errors first, then the key's.
        let checked = parsed.and_then(|e| Ok((e, IdempotencyKey::parse(input.idempotency_key)?)));
        let (mut entries, key) = match checked {
            Ok(both) => both,
            Err(err) => {
                tracing::warn!(status = err.status().as_u16(), reason = %err, "rejected request");
                return client_error(&err);
            }
        };
        if let Some(refused) = self.identify_records(sender, input, &mut entries) {
            return refused;
        }
        if let (Some(key), Some(memory)) = (key, &self.memory) {
            let id = request_id(&self.scope(sender, input), &key);
            return self
                .answer_keyed(memory.as_ref(), &id, input, &mut entries)
                .await;
        }
        let report = self.write(&entries).await;
        let answer = answer_for(&report);
        if let Some(fatal) = &report.fatal {
            tracing::error!(error = %fatal, "Kinesis call failed");
        }
        tracing::info!(
            records = entries.len(),
            failed = report.failed_count(),
            calls = report.calls,
            status = answer.status.as_u16(),
            "ingest summary"
        );
        answer
    }
}

impl<S: RecordSink> Ingest<S> {
    /// Whose keys and record ids these are (`idempotency/`): the IAM principal, the token's
    /// holders, or the browser key with the page's origin.
    fn scope(&self, sender: Sender, input: &HttpInput<'_>) -> String {
        match sender {
            Sender::Browser => format!("browser:{}", input.origin.unwrap_or_default()),
            Sender::Trusted if self.config.auth_token_sha256.is_some() => "token".into(),
            Sender::Trusted => match input.caller {
                Some(arn) => format!("iam:{arn}"),
                None => "open".into(),
            },
        }
    }

    /// With `RECORD_ID_POINTER`: every record with a value there carries the identity of
    /// that id; a record the identity makes too large is refused.
    fn identify_records(
        &self,
        sender: Sender,
        input: &HttpInput<'_>,
        entries: &mut [crate::body::Entry],
    ) -> Option<Answer> {
        let pointer = self.config.record_id_pointer.as_deref()?;
        if identify_by_id(&self.scope(sender, input), pointer, entries) == 0 {
            return None;
        }
        oversized(entries)
    }

    /// A keyed request (`idempotency/`): what the memory says, then only the entries not yet
    /// in the stream, and what was done recorded.
    async fn answer_keyed(
        &self,
        memory: &dyn RequestMemory,
        id: &str,
        input: &HttpInput<'_>,
        entries: &mut [crate::body::Entry],
    ) -> Answer {
        for (i, e) in entries.iter_mut().enumerate() {
            identify(id, i, e);
        }
        if let Some(refused) = oversized(entries) {
            return refused;
        }
        let now = SystemTime::now();
        let claim = memory
            .claim(id, &request_digest(input), entries.len(), now)
            .await;
        let (version, put, earlier) = match claim {
            Err(e) => {
                tracing::error!(error = %e, "request memory unavailable");
                return client_error(&IngestError::IdempotencyUnavailable(e.0));
            }
            Ok(Claim::Mismatch) => {
                tracing::warn!(status = 422, "Idempotency-Key reused with another request");
                return client_error(&IngestError::IdempotencyKeyReused);
            }
            Ok(Claim::InFlight { retry_after }) => {
                tracing::info!(
                    retry_after_ms = retry_after.as_millis() as u64,
                    "keyed request in flight"
                );
                return client_error(&IngestError::IdempotencyInFlight);
            }
            Ok(Claim::Replay { status, body }) => {
                tracing::info!(status, "keyed request replayed");
                return Answer {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    body,
                    raw: None,
                };
            }
            Ok(Claim::New { version }) => (version, PutSet::new(entries.len()), None),
            Ok(Claim::Resume {
                version,
                put,
                outcomes,
            }) => (version, put, outcomes),
        };
        let pending: Vec<usize> = (0..entries.len()).filter(|&i| !put.contains(i)).collect();
        let written = if pending.is_empty() {
            WriteReport {
                outcomes: Vec::new(),
                fatal: None,
                calls: 0,
            }
        } else if pending.len() == entries.len() {
            self.write(entries).await // a first attempt: every entry, as they are
        } else {
            let subset: Vec<crate::body::Entry> =
                pending.iter().map(|&i| entries[i].clone()).collect();
            self.write(&subset).await
        };
        let mut outcomes: Vec<EntryOutcome> = (0..entries.len())
            .map(|i| earlier_outcome(earlier.as_ref(), i))
            .collect();
        let mut put = put;
        for (&i, o) in pending.iter().zip(&written.outcomes) {
            if matches!(o, EntryOutcome::Written { .. }) {
                put.insert(i);
            }
            outcomes[i] = o.clone();
        }
        let report = WriteReport {
            outcomes,
            fatal: written.fatal,
            calls: written.calls,
        };
        let answer = answer_for(&report);
        let done = report.failed_count() == 0;
        let stored = stored_outcomes(&report.outcomes);
        let fits = |v: &Value| v.to_string().len() <= MAX_STORED_ANSWER_BYTES;
        let recorded = Recorded {
            state: if done { State::Done } else { State::Partial },
            put,
            // Kept for a retry of a partial request; a done one keeps its answer instead
            // (both would not fit one item).
            outcomes: (!done && fits(&stored)).then_some(stored),
            answer: done.then(|| {
                let body = if fits(&answer.body) {
                    answer.body.clone()
                } else {
                    json!({
                        "FailedRecordCount": 0,
                        "RecordCount": report.outcomes.len(),
                        "Replayed": "the per-record answer was too large to keep",
                    })
                };
                (answer.status.as_u16(), body)
            }),
        };
        match memory
            .record(id, version, recorded, SystemTime::now())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("keyed request taken over by another attempt before it was recorded")
            }
            Err(e) => {
                tracing::error!(error = %e, "keyed request not recorded: a retry puts its entries again")
            }
        }
        tracing::info!(
            records = entries.len(),
            already_put = entries.len() - pending.len(),
            failed = report.failed_count(),
            calls = report.calls,
            status = answer.status.as_u16(),
            "ingest summary (keyed)"
        );
        answer
    }

    /// An OTLP/HTTP export (`otlp.rs`): rows written, answered as OTLP says.
    async fn answer_otlp(
        &self,
        signal: trickle_otlp::Signal,
        sender: Sender,
        input: &HttpInput<'_>,
    ) -> Answer {
        let encoding = otlp::encoding_of(input).unwrap_or(trickle_otlp::Encoding::Json);
        let status_answer = |status: u16, message: &str| Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            body: Value::Null,
            raw: Some((
                encoding.content_type(),
                trickle_otlp::status(encoding, status, message),
            )),
        };
        if sender == Sender::Browser {
            return status_answer(400, "a browser key may not send OTLP exports: use a token");
        }
        let received_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut parsed = match otlp::parse(signal, input, received_ns) {
            Ok(p) => p,
            Err(refused) => {
                tracing::warn!(status = refused.status, reason = %refused.message, "rejected OTLP export");
                return status_answer(refused.status, &refused.message);
            }
        };
        let mut entries = std::mem::take(&mut parsed.entries);
        if let Some(refused) = self.identify_records(sender, input, &mut entries) {
            return status_answer(refused.status.as_u16(), &refused.body.to_string());
        }
        let report = self.write(&entries).await;
        let failed = report.failed_count();
        let answer = if let Some(fatal) = &report.fatal {
            tracing::error!(error = %fatal, "Kinesis call failed");
            status_answer(502, "the stream rejected the request; retry the export")
        } else if failed > 0 {
            status_answer(
                503,
                &format!(
                    "{failed} of {} {} were not written (throttled); retry the export",
                    entries.len(),
                    signal.items()
                ),
            )
        } else {
            Answer {
                status: StatusCode::OK,
                body: Value::Null,
                raw: Some((
                    parsed.encoding.content_type(),
                    trickle_otlp::success(
                        signal,
                        parsed.encoding,
                        parsed.rejected as i64,
                        &otlp::rejected_reason(parsed.rejected),
                    ),
                )),
            }
        };
        tracing::info!(
            records = entries.len(),
            rejected = parsed.rejected,
            failed,
            calls = report.calls,
            status = answer.status.as_u16(),
            "ingest OTLP summary"
        );
        answer
    }

    /// Writes entries, packed into KPL aggregates with `AGGREGATE=true`.
    async fn write(&self, entries: &[crate::body::Entry]) -> WriteReport {
        if self.config.aggregate {
            let (kinesis_entries, members): (Vec<_>, Vec<_>) = pack(entries)
                .into_iter()
                .map(|p| (p.entry, p.members))
                .unzip();
            let written = write_all(&self.sink, &kinesis_entries, self.config.retry_budget).await;
            tracing::debug!(
                records = entries.len(),
                aggregates = members.len(),
                "aggregated"
            );
            expand(written, &members, entries.len())
        } else {
            write_all(&self.sink, entries, self.config.retry_budget).await
        }
    }
}

/// The refusal of a request with a record over Kinesis' limit once its identity is in its
/// partition key.
fn oversized(entries: &[crate::body::Entry]) -> Option<Answer> {
    let (index, e) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| e.billed_bytes() > KINESIS_MAX_RECORD_BYTES)?;
    let err = IngestError::RecordTooLarge {
        index,
        bytes: e.billed_bytes(),
        limit: KINESIS_MAX_RECORD_BYTES,
    };
    tracing::warn!(status = err.status().as_u16(), reason = %err, "rejected request");
    Some(client_error(&err))
}

/// Each request record's outcome is that of the Kinesis record (aggregate) that carried it.
fn expand(written: WriteReport, members: &[Vec<usize>], records: usize) -> WriteReport {
    let mut outcomes = vec![None; records];
    for (carried, outcome) in members.iter().zip(&written.outcomes) {
        for &i in carried {
            outcomes[i] = Some(outcome.clone());
        }
    }
    WriteReport {
        outcomes: outcomes.into_iter().flatten().collect(),
        fatal: written.fatal,
        calls: written.calls,
    }
}

/// `{"error": "..."}` with the error's status.
pub fn client_error(err: &IngestError) -> Answer {
    Answer {
        status: err.status(),
        body: json!({ "error": err.to_string() }),
        raw: None,
    }
}

fn outcome_json(o: &EntryOutcome) -> Value {
    match o {
        EntryOutcome::Written {
            shard_id,
            sequence_number,
        } => {
            json!({ "ShardId": shard_id, "SequenceNumber": sequence_number })
        }
        EntryOutcome::Failed {
            error_code,
            error_message,
        } => {
            json!({ "ErrorCode": error_code, "ErrorMessage": error_message })
        }
    }
}

/// The answer for a finished write: PutRecord's shape for one written record, PutRecords'
/// shape otherwise; 200 only when every record has a sequence number.
pub fn answer_for(report: &WriteReport) -> Answer {
    let failed = report.failed_count();
    if let ([only @ EntryOutcome::Written { .. }], 0) = (report.outcomes.as_slice(), failed) {
        return Answer {
            status: StatusCode::OK,
            body: outcome_json(only),
            raw: None,
        };
    }
    let mut body = json!({
        "FailedRecordCount": failed,
        "Records": report.outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
    });
    let status = if report.fatal.is_some() {
        body["error"] = json!(
            "the stream rejected the request; records without a SequenceNumber were not written"
        );
        StatusCode::BAD_GATEWAY
    } else if failed > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Answer {
        status,
        body,
        raw: None,
    }
}

/// Turns an answer into the HTTP response Lambda returns.
pub fn to_response(answer: Answer) -> UrlResponse {
    let mut headers = BTreeMap::from([("content-type", "application/json".to_owned())]);
    match answer.status {
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert("retry-after", RETRY_AFTER_SECONDS.to_string());
        }
        StatusCode::UNAUTHORIZED => {
            headers.insert(
                "www-authenticate",
                r#"Bearer, Basic realm="trickle""#.to_owned(),
            );
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            headers.insert("allow", "POST".to_owned());
        }
        _ => {}
    }
    let (body, is_base64_encoded) = match answer.raw {
        None => (answer.body.to_string(), false),
        Some((content_type, bytes)) => {
            headers.insert("content-type", content_type.to_owned());
            match String::from_utf8(bytes) {
                Ok(text) => (text, false),
                Err(e) => (
                    base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
                    true,
                ),
            }
        }
    };
    UrlResponse {
        status_code: answer.status.as_u16(),
        headers,
        body,
        is_base64_encoded,
        cookies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StreamTarget;
    use crate::sink::memory::{MemorySink, Script};
    use crate::sink::SinkError;
    use std::time::Duration;

    fn ingest() -> Ingest<MemorySink> {
        Ingest::new(
            Config {
                retry_budget: Duration::from_millis(20),
                ..Config::new(StreamTarget::Name("s".into()))
            },
            MemorySink::new(),
        )
    }

    #[tokio::test]
    async fn aggregation_packs_ten_thousand_records_into_two_kinesis_records_in_one_call() {
        let mut i = ingest();
        i.config.aggregate = true;
        let body: String = (0..10_000)
            .map(|n| format!("{{\"n\":\"{n:0>90}\"}}\n"))
            .collect();
        let a = i
            .answer(&HttpInput {
                content_type: Some("application/x-ndjson"),
                ..post(body.as_bytes())
            })
            .await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body["Records"].as_array().unwrap().len(),
            10_000,
            "one answer per request record"
        );
        assert_eq!(
            a.body["Records"][0], a.body["Records"][1],
            "records in one aggregate share its sequence number"
        );
        assert_eq!(
            *i.sink.calls.lock().unwrap(),
            vec![2],
            "one PutRecords call of two aggregates"
        );
        let mut back = Vec::new();
        for data in i.sink.written_data() {
            let trickle_shared::kpl::Deaggregated::Aggregated(users) =
                trickle_shared::kpl::deaggregate(&data).unwrap()
            else {
                panic!("not an aggregate")
            };
            back.extend(users.into_iter().map(|u| u.data));
        }
        let want: Vec<Vec<u8>> = body.lines().map(|l| l.as_bytes().to_vec()).collect();
        assert_eq!(back, want);
    }

    #[tokio::test]
    async fn a_configured_token_is_required_and_checked() {
        let mut i = ingest();
        i.config.auth_token_sha256 = crate::auth::parse_digest(
            "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0",
        );
        for auth in [None, Some("Bearer wrong"), Some("Basic s3cret")] {
            let a = i
                .answer(&HttpInput {
                    authorization: auth,
                    ..post(b"1")
                })
                .await;
            assert_eq!(a.status, 401, "{auth:?}");
            assert_eq!(
                to_response(a).headers["www-authenticate"],
                r#"Bearer, Basic realm="trickle""#
            );
        }
        assert!(i.sink.calls.lock().unwrap().is_empty());
        let a = i
            .answer(&HttpInput {
                authorization: Some("Bearer s3cret"),
                ..post(b"1")
            })
            .await;
        assert_eq!(a.status, 200);
    }

    fn post(body: &[u8]) -> HttpInput<'_> {
        HttpInput::post("application/json", body)
    }

    #[tokio::test]
    async fn the_browser_key_marks_records_and_the_token_still_wins() {
        const KEY: &str = "page-key-0123456789";
        let mut i = ingest();
        i.config.browser_key = Some(KEY.into());
        i.config.auth_token_sha256 = Some(<sha2::Sha256 as sha2::Digest>::digest(b"s3cret").into());
        let beacon = HttpInput {
            browser_key: Some(KEY),
            origin: Some("https://page.example"),
            ..HttpInput::post("text/plain", br#"{"e":1}"#)
        };
        assert_eq!(i.answer(&beacon).await.status, 200);
        // The token, with or without the key: a trusted sender, its record as sent.
        let trusted = HttpInput {
            authorization: Some("Bearer s3cret"),
            ..beacon.clone()
        };
        assert_eq!(i.answer(&trusted).await.status, 200);
        let wrong = HttpInput {
            browser_key: Some("not-the-key-000000"),
            ..beacon.clone()
        };
        assert_eq!(i.answer(&wrong).await.status, 401);
        let none = HttpInput {
            browser_key: None,
            ..beacon.clone()
        };
        assert_eq!(i.answer(&none).await.status, 401);
        let written = i.into_sink().written.lock().unwrap().clone();
        assert_eq!(
            &written[0].data[..],
            br#"{"source":"browser","origin":"https://page.example","record":{"e":1}}"#
        );
        assert_eq!(&written[1].data[..], br#"{"e":1}"#);
        assert_eq!(written.len(), 2);
    }

    fn otlp_logs(bodies: &[&str], trace: &[u8]) -> Vec<u8> {
        use prost::Message;
        use trickle_otlp::pb::{
            collector::logs::v1::ExportLogsServiceRequest, common::v1, logs::v1 as l,
        };
        ExportLogsServiceRequest {
            resource_logs: vec![l::ResourceLogs {
                scope_logs: vec![l::ScopeLogs {
                    log_records: bodies
                        .iter()
                        .map(|b| l::LogRecord {
                            time_unix_nano: 1_700_000_000_000_000_000,
                            body: Some(v1::AnyValue {
                                value: Some(v1::any_value::Value::StringValue((*b).into())),
                            }),
                            trace_id: trace.to_vec(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[tokio::test]
    async fn an_otlp_export_is_one_row_per_item_keyed_by_its_trace() {
        use prost::Message;
        let i = ingest();
        let body = otlp_logs(&["a", "b"], &[0xab; 16]);
        let input = HttpInput {
            path: "/otel/v1/logs",
            ..HttpInput::post("application/x-protobuf", &body)
        };
        let a = i.answer(&input).await;
        assert_eq!(a.status, 200);
        let (content_type, raw) = a.raw.clone().unwrap();
        assert_eq!(content_type, "application/x-protobuf");
        let resp =
            trickle_otlp::pb::collector::logs::v1::ExportLogsServiceResponse::decode(&raw[..])
                .unwrap();
        assert_eq!(resp.partial_success, None);
        // A protobuf answer goes out base64-encoded.
        assert!(to_response(a).is_base64_encoded || raw.is_empty());
        let written = i.into_sink().written.lock().unwrap().clone();
        assert_eq!(written.len(), 2);
        let row: Value = serde_json::from_slice(&written[0].data).unwrap();
        assert_eq!(row["signal"], "logs");
        assert_eq!(row["body"], "a");
        assert_eq!(written[0].partition_key, "abababababababababababababababab");
    }

    #[tokio::test]
    async fn otlp_answers_errors_with_a_status_and_rows_too_large_in_partial_success() {
        let i = ingest();
        // Not protobuf: 400 with a google.rpc.Status in JSON (the request's encoding).
        let bad = HttpInput {
            path: "/v1/traces",
            ..HttpInput::post("application/json", b"{\"resourceSpans\": 3}")
        };
        let a = i.answer(&bad).await;
        assert_eq!(a.status, 400);
        let status: Value = serde_json::from_slice(&a.raw.unwrap().1).unwrap();
        assert_eq!(status["code"], 3);
        assert!(status["message"]
            .as_str()
            .unwrap()
            .contains("resourceSpans"));
        // Another content type: 415.
        let other = HttpInput {
            path: "/v1/logs",
            ..HttpInput::post("text/plain", b"x")
        };
        assert_eq!(i.answer(&other).await.status, 415);
        // A row over 1 MiB can never be put: the rest is, and partial_success says so.
        let big = "x".repeat(1 << 20);
        let body = otlp_logs(&["small", &big], &[]);
        let input = HttpInput {
            path: "/v1/logs",
            ..HttpInput::post("application/x-protobuf", &body)
        };
        let a = i.answer(&input).await;
        assert_eq!(a.status, 200);
        use prost::Message;
        let resp = trickle_otlp::pb::collector::logs::v1::ExportLogsServiceResponse::decode(
            &a.raw.unwrap().1[..],
        )
        .unwrap();
        let partial = resp.partial_success.unwrap();
        assert_eq!(partial.rejected_log_records, 1);
        assert!(partial.error_message.contains("record limit"));
        assert_eq!(i.into_sink().written.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn one_record_answers_in_put_record_shape() {
        let a = ingest().answer(&post(b"{\"a\":1}")).await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body,
            json!({"ShardId": "shardId-000000000000", "SequenceNumber": "1"})
        );
    }

    #[tokio::test]
    async fn several_records_answer_in_put_records_shape() {
        let a = ingest().answer(&post(b"[1,2]")).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body["FailedRecordCount"], 0);
        assert_eq!(a.body["Records"][1]["SequenceNumber"], "2");
    }

    #[tokio::test]
    async fn still_throttled_records_get_503_naming_exactly_them() {
        let i = ingest();
        *i.sink.always.lock().unwrap() = Some(Script::EntriesFail(
            vec![0],
            "ProvisionedThroughputExceededException",
        ));
        let a = i.answer(&post(b"[1,2,3]")).await;
        assert_eq!(a.status, 503);
        assert_eq!(a.body["FailedRecordCount"], 1);
        assert_eq!(
            a.body["Records"][0]["ErrorCode"],
            "ProvisionedThroughputExceededException"
        );
        assert!(a.body["Records"][1]["SequenceNumber"].is_string());
        assert!(a.body["Records"][2]["SequenceNumber"].is_string());
        assert_eq!(i.sink.written_data(), vec![b"2".to_vec(), b"3".to_vec()]);
        let r = to_response(a);
        assert_eq!(r.headers["retry-after"], "1");
    }

    #[tokio::test]
    async fn a_single_throttled_record_is_never_a_2xx() {
        let i = ingest();
        *i.sink.always.lock().unwrap() = Some(Script::CallFails(SinkError::Throttled {
            code: "ProvisionedThroughputExceededException".into(),
        }));
        let a = i.answer(&post(b"1")).await;
        assert_eq!(a.status, 503);
        assert_eq!(a.body["FailedRecordCount"], 1);
        assert!(i.sink.written_data().is_empty());
    }

    #[tokio::test]
    async fn other_kinesis_errors_are_502() {
        let i = ingest();
        i.sink.script([Script::CallFails(SinkError::Failed {
            code: "ResourceNotFoundException".into(),
            message: "x".into(),
        })]);
        let a = i.answer(&post(b"[1,2]")).await;
        assert_eq!(a.status, 502);
        assert_eq!(a.body["FailedRecordCount"], 2);
        assert!(a.body["error"].is_string());
    }

    #[tokio::test]
    async fn bad_input_writes_nothing() {
        let i = ingest();
        let a = i.answer(&post(b"[1,")).await;
        assert_eq!(a.status, 400);
        assert!(a.body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON"));
        assert!(i.sink.calls.lock().unwrap().is_empty());
    }

    #[test]
    fn method_not_allowed_names_post() {
        let r = to_response(client_error(&IngestError::MethodNotAllowed("GET".into())));
        assert_eq!(r.status_code, 405);
        assert_eq!(r.headers["allow"], "POST");
    }

    fn keyed() -> (
        Ingest<MemorySink>,
        Arc<crate::idempotency::memory::MemoryRequests>,
    ) {
        // No retry of throttled entries inside a request: the sender's retry is what these
        // tests are about.
        let memory = Arc::new(crate::idempotency::memory::MemoryRequests::new());
        let mut i = ingest();
        i.config.retry_budget = Duration::ZERO;
        (i.with_memory(memory.clone()), memory)
    }

    fn keyed_post<'a>(key: &'a str, body: &'a [u8]) -> HttpInput<'a> {
        HttpInput {
            idempotency_key: Some(key),
            ..HttpInput::post("application/x-ndjson", body)
        }
    }

    const FOUR: &[u8] = b"{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n";

    #[tokio::test]
    async fn a_keyed_request_retried_after_success_is_answered_again_and_puts_nothing() {
        let (i, memory) = keyed();
        let first = i.answer(&keyed_post("k1", FOUR)).await;
        assert_eq!(first.status, 200, "{}", first.body);
        for _ in 0..2 {
            let again = i.answer(&keyed_post("k1", FOUR)).await;
            assert_eq!((again.status, &again.body), (first.status, &first.body));
        }
        assert_eq!(i.sink.written_data().len(), 4);
        assert_eq!(memory.len(), 1);
    }

    #[tokio::test]
    async fn a_retry_after_throttling_puts_only_the_entries_not_yet_put() {
        let (i, _) = keyed();
        // Entries 1 and 3 stay throttled through the whole retry budget.
        i.sink.always.lock().unwrap().replace(Script::EntriesFail(
            vec![1, 3],
            "ProvisionedThroughputExceededException",
        ));
        let first = i.answer(&keyed_post("k1", FOUR)).await;
        assert_eq!(first.status, 503, "{}", first.body);
        assert_eq!(first.body["FailedRecordCount"], 2);
        i.sink.always.lock().unwrap().take();
        let retry = i.answer(&keyed_post("k1", FOUR)).await;
        assert_eq!(retry.status, 200, "{}", retry.body);
        assert_eq!(retry.body["FailedRecordCount"], 0);
        let mut data = i.sink.written_data();
        data.sort();
        assert_eq!(data.len(), 4, "each record once: {data:?}");
        data.dedup();
        assert_eq!(data.len(), 4);
        // The answer names every record's sequence number, the earlier ones included.
        let records = retry.body["Records"].as_array().unwrap();
        assert!(
            records.iter().all(|r| r["SequenceNumber"].is_string()),
            "{retry:?}"
        );
    }

    #[tokio::test]
    async fn the_same_key_with_another_body_answers_422_and_puts_nothing() {
        let (i, _) = keyed();
        assert_eq!(i.answer(&keyed_post("k1", FOUR)).await.status, 200);
        let other = i.answer(&keyed_post("k1", b"{\"n\":9}\n")).await;
        assert_eq!(other.status, 422, "{}", other.body);
        assert!(other.body["error"]
            .as_str()
            .unwrap()
            .contains("different request"));
        assert_eq!(i.sink.written_data().len(), 4);
        // Two keys, one body: two sends.
        assert_eq!(i.answer(&keyed_post("k2", FOUR)).await.status, 200);
        assert_eq!(i.sink.written_data().len(), 8);
    }

    #[tokio::test]
    async fn a_retry_while_the_first_is_in_flight_answers_503_with_retry_after() {
        let (i, memory) = keyed();
        let input = keyed_post("k1", FOUR);
        let id = crate::idempotency::request_id(
            "open",
            &IdempotencyKey::parse(Some("k1")).unwrap().unwrap(),
        );
        // Another attempt holds it.
        let claim = memory
            .claim(&id, &request_digest(&input), 4, SystemTime::now())
            .await
            .unwrap();
        assert!(matches!(claim, Claim::New { .. }));
        let answer = i.answer(&input).await;
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(to_response(answer).headers["retry-after"], "1");
        assert!(i.sink.written_data().is_empty());
    }

    #[tokio::test]
    async fn keys_are_scoped_to_the_caller_and_an_unavailable_memory_answers_503() {
        let (i, memory) = keyed();
        let a = HttpInput {
            caller: Some("arn:aws:iam::1:user/a"),
            ..keyed_post("k1", FOUR)
        };
        let b = HttpInput {
            caller: Some("arn:aws:iam::1:user/b"),
            ..keyed_post("k1", FOUR)
        };
        assert_eq!(i.answer(&a).await.status, 200);
        assert_eq!(i.answer(&b).await.status, 200, "b's key is b's");
        assert_eq!(i.sink.written_data().len(), 8);
        memory.set_unavailable(true);
        let answer = i.answer(&keyed_post("k3", FOUR)).await;
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(i.sink.written_data().len(), 8);
    }

    #[tokio::test]
    async fn every_record_of_a_keyed_request_carries_its_identity_and_keeps_its_shard() {
        use trickle_shared::identity::Identity;
        let id = crate::idempotency::request_id(
            "open",
            &IdempotencyKey::parse(Some("k1")).unwrap().unwrap(),
        );
        let put = |input: HttpInput<'static>| async move {
            // A fresh memory each time: what a retry that takes the request over puts.
            let (i, _) = keyed();
            assert_eq!(i.answer(&input).await.status, 200);
            let written = i.sink.written.lock().unwrap().clone();
            written
                .iter()
                .map(|e| {
                    (
                        e.partition_key.as_str().to_owned(),
                        e.explicit_hash_key.as_deref().map(str::to_owned),
                    )
                })
                .collect::<Vec<_>>()
        };
        // Without a key: the identity alone, and one derived hash key for the block.
        let keyless = put(keyed_post("k1", FOUR)).await;
        assert_eq!(
            keyless,
            put(keyed_post("k1", FOUR)).await,
            "the same on a retry"
        );
        for (p, (pk, ehk)) in keyless.iter().enumerate() {
            assert_eq!(
                pk,
                &Identity::of(&id, p as u32).unwrap().partition_key(None)
            );
            assert_eq!(ehk, &keyless[0].1);
            assert!(ehk.is_some());
        }
        // With the sender's key: it follows the identity, and its own MD5 keeps the shard.
        let tenant = put(HttpInput {
            partition_key_header: Some("tenant-a"),
            ..keyed_post("k1", FOUR)
        })
        .await;
        let scope = crate::idempotency::request_id(
            "open",
            &IdempotencyKey::parse(Some("k1")).unwrap().unwrap(),
        );
        for (p, (pk, ehk)) in tenant.iter().enumerate() {
            let identity = Identity::of(&scope, p as u32).unwrap();
            assert_eq!(pk, &identity.partition_key(Some("tenant-a")));
            assert_eq!(Identity::from_partition_key(pk), Some(identity));
            assert_eq!(
                ehk.as_deref(),
                Some(trickle_shared::reingest::explicit_hash_key("tenant-a").as_str())
            );
        }
    }

    fn keys_written(i: &Ingest<MemorySink>) -> Vec<(String, Option<String>)> {
        i.sink
            .written
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e.partition_key.as_str().to_owned(),
                    e.explicit_hash_key.as_deref().map(str::to_owned),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn a_record_id_gives_the_same_identity_and_shard_in_any_request_of_its_caller() {
        use trickle_shared::identity::Identity;
        let with_ids = || {
            let mut i = ingest();
            i.config.record_id_pointer = Some("/message_id".into());
            i
        };
        let a = with_ids();
        let body = b"{\"message_id\":\"m1\",\"n\":1}\n{\"n\":2}\n{\"message_id\":7,\"n\":3}\n";
        assert_eq!(
            a.answer(&HttpInput::post("application/x-ndjson", body))
                .await
                .status,
            200
        );
        let first = keys_written(&a);
        // No id: a random key as before. An id: its identity, at position 0.
        assert!(Identity::from_partition_key(&first[1].0).is_none());
        let m1 = Identity::from_partition_key(&first[0].0).unwrap();
        assert_eq!(m1.position, 0);
        assert_eq!(
            m1,
            Identity::of(&crate::idempotency::record_id("open", "m1"), 0).unwrap()
        );
        assert!(
            Identity::from_partition_key(&first[2].0).is_some(),
            "a number is an id too"
        );
        // The same id in another request, in another place: the same key and hash key.
        let b = with_ids();
        let other = b"{\"n\":9}\n{\"message_id\":\"m1\",\"n\":1}\n";
        b.answer(&HttpInput::post("application/x-ndjson", other))
            .await;
        assert_eq!(keys_written(&b)[1], first[0]);
        // Another caller's m1 is another record.
        let mut c = with_ids();
        c.config.auth_token_sha256 = Some({
            use sha2::Digest;
            sha2::Sha256::digest(b"t0ken").into()
        });
        c.answer(&HttpInput {
            authorization: Some("Bearer t0ken"),
            ..HttpInput::post("application/x-ndjson", other)
        })
        .await;
        assert_ne!(keys_written(&c)[1].0, first[0].0);
        // A keyed request: records with an id keep the id's identity, the others their
        // position's.
        let (mut k, _) = keyed();
        k.config.record_id_pointer = Some("/message_id".into());
        assert_eq!(k.answer(&keyed_post("k1", body)).await.status, 200);
        let keyed_keys = keys_written(&k);
        assert_eq!(keyed_keys[0], first[0]);
        let id = crate::idempotency::request_id(
            "open",
            &IdempotencyKey::parse(Some("k1")).unwrap().unwrap(),
        );
        assert_eq!(
            Identity::from_partition_key(&keyed_keys[1].0),
            Identity::of(&id, 1)
        );
    }

    #[tokio::test]
    async fn a_client_partition_key_shaped_like_an_identity_is_refused() {
        let (i, memory) = keyed();
        for input in [
            HttpInput {
                partition_key_header: Some("trickle-id:0123456789abcdef0123456789abcdef.0"),
                ..keyed_post("k1", FOUR)
            },
            HttpInput {
                partition_key_query: Some("trickle-id:x"),
                ..HttpInput::post("application/x-ndjson", FOUR)
            },
        ] {
            let answer = i.answer(&input).await;
            assert_eq!(answer.status, 400, "{}", answer.body);
            assert!(
                answer.body.to_string().contains("trickle-id:"),
                "{}",
                answer.body
            );
        }
        assert!(i.sink.written.lock().unwrap().is_empty());
        assert!(memory.is_empty(), "refused before the memory is asked");
    }

    #[tokio::test]
    async fn aggregated_keyed_records_keep_their_identities_inside_the_aggregate() {
        use trickle_shared::identity::Identity;
        let (mut i, _) = keyed();
        i.config.aggregate = true;
        let body: Vec<u8> = (0..600)
            .flat_map(|n| {
                format!("{{\"n\":{n},\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n").into_bytes()
            })
            .collect();
        let body: &'static [u8] = Box::leak(body.into_boxed_slice());
        assert_eq!(i.answer(&keyed_post("k1", body)).await.status, 200);
        let written = i.sink.written.lock().unwrap().clone();
        assert!(written.len() < 600, "packed: {} records", written.len());
        let mut positions = Vec::new();
        for e in &written {
            let trickle_shared::kpl::Deaggregated::Aggregated(users) =
                trickle_shared::kpl::deaggregate(&e.data).unwrap()
            else {
                panic!("an aggregate");
            };
            for u in users {
                positions.push(
                    Identity::from_partition_key(&u.partition_key)
                        .unwrap()
                        .position,
                );
            }
        }
        assert_eq!(positions, (0..600).collect::<Vec<u32>>());
    }

    #[tokio::test]
    async fn an_invalid_key_is_400_and_without_a_memory_the_key_changes_nothing() {
        let (i, _) = keyed();
        let bad = i.answer(&keyed_post("", FOUR)).await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        let plain = ingest();
        assert_eq!(plain.answer(&keyed_post("k1", FOUR)).await.status, 200);
        assert_eq!(plain.answer(&keyed_post("k1", FOUR)).await.status, 200);
        assert_eq!(
            plain.sink.written_data().len(),
            8,
            "no memory: at least once, as before"
        );
    }
}

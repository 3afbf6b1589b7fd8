//! A fault-injecting HTTP/1.1 proxy in front of the local stack (moto), for tests that need
//! AWS to misbehave while the code under test talks to it through the real AWS SDK.
//!
//! The proxy listens on a free port of 127.0.0.1 and forwards to `AWS_ENDPOINT_URL` (checked
//! to be loopback). A test builds its clients with the proxy's URL as their endpoint and gives
//! it [`Rule`]s: which requests ([`Match`]), which of them ([`Schedule`], deterministic: every
//! Nth, the first N, or a seeded share) and what goes wrong ([`Fault`]):
//!
//! - S3 `500 InternalError` and `503 SlowDown`, as S3's XML error documents;
//! - Kinesis `400 ProvisionedThroughputExceededException` for a whole call;
//! - per-entry `ProvisionedThroughputExceededException` inside a PutRecords answer, done the
//!   way Kinesis does it: the chosen entries are removed from the request before it reaches
//!   moto, and failure entries are spliced back into moto's answer at their positions, with
//!   `FailedRecordCount` fixed, so a failed entry is really not in the stream;
//! - a connection reset (`SO_LINGER` 0, then close) without an answer, before or after the
//!   request reached moto;
//! - a slow answer, past the client's attempt timeout: either moto processed the request and
//!   the answer comes late, or the request is held and never processed.
//!
//! - Glue's optimistic lock, which moto lacks ([`FaultProxy::enforce_glue_version_id`]):
//!   an `UpdateTable` whose `VersionId` is not the table's current one is answered
//!   `400 ConcurrentModificationException`, as Glue does; moto ignores `VersionId`, so two
//!   racing commits would both "succeed" there and one snapshot would be lost. Updates are
//!   checked and applied one at a time, so the check and the update are atomic.
//!
//! - Kinesis never loses a record it acknowledged; moto can: a put takes the shard's highest
//!   sequence number plus one without a lock, so two puts to one shard at once can get the
//!   same number and one record replaces the other while both are answered (found by
//!   `tests/tests/idempotency.rs`'s soak). Likewise DynamoDB's conditional writes are atomic
//!   and moto's check-then-write is not: two `PutItem`s conditioned on the item's absence can
//!   both succeed there. The proxy forwards `PutRecord`, `PutRecords`, `PutItem`,
//!   `UpdateItem` and `DeleteItem` one at a time. Always on.
//!
//! - S3 Tables' `UpdateTableMetadataLocation` answer as AWS shapes it: moto returns its
//!   `namespace` as a string where the API (and so the SDK) has a list of strings, and the
//!   SDK cannot read moto's answer to a commit that succeeded. Always on.
//!
//! [`FaultProxy::stats`] counts what was injected. The SDK signs requests (SigV4) but moto
//! does not check signatures, so rewriting a PutRecords body is fine locally; the proxy
//! always sends a correct `Content-Length`.
//!
//! It is a small, careful HTTP/1.1 implementation (keep-alive, `Content-Length` and chunked
//! bodies, `Expect: 100-continue`, HEAD) rather than hyper's server, which is not compiled in
//! the dependency tree: enabling it would rebuild every AWS SDK crate.

use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request or response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers parsed per message.
const MAX_HEADERS: usize = 100;
/// Kinesis' JSON protocol media type.
const KINESIS_JSON: &str = "application/x-amz-json-1.1";
/// The per-entry (and whole-call) throttling code of Kinesis.
pub const THROTTLED: &str = "ProvisionedThroughputExceededException";

/// Which requests a rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// A Kinesis JSON-protocol operation, by the `X-Amz-Target` header's operation name
    /// (`"PutRecords"` matches `Kinesis_20131202.PutRecords`).
    Kinesis(&'static str),
    /// An S3 object request (`/<bucket>/<key>`, path-style) with this method whose path
    /// contains `path_contains` (empty: any object).
    S3Object {
        method: &'static str,
        path_contains: String,
    },
    /// A Glue operation, by the `X-Amz-Target` header (`"UpdateTable"` matches
    /// `AWSGlue.UpdateTable`).
    Glue(&'static str),
    /// Every request.
    Any,
}

impl Match {
    /// S3 PutObject of keys whose path (`/<bucket>/<key>`) contains `part`.
    pub fn s3_put(part: impl Into<String>) -> Self {
        Self::S3Object {
            method: "PUT",
            path_contains: part.into(),
        }
    }

    fn matches(&self, req: &Request) -> bool {
        match self {
            Self::Any => true,
            Self::Kinesis(op) => req
                .header("x-amz-target")
                .and_then(|t| t.rsplit_once('.'))
                .is_some_and(|(service, o)| o == *op && service.starts_with("Kinesis")),
            Self::Glue(op) => req
                .header("x-amz-target")
                .is_some_and(|t| t.strip_prefix("AWSGlue.") == Some(*op)),
            Self::S3Object {
                method,
                path_contains,
            } => {
                let path = req.target.split('?').next().unwrap_or("");
                let is_object = path
                    .trim_start_matches('/')
                    .split_once('/')
                    .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty());
                req.header("x-amz-target").is_none()
                    && req.method == *method
                    && is_object
                    && path.contains(path_contains.as_str())
            }
        }
    }
}

/// Which of the matching requests a rule hits. Deterministic for a given order of requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every matching request.
    Always,
    /// The first `n` matching requests.
    FirstN(u64),
    /// The k-th matching request (k = 0, 1, ...) when `k % n == offset`.
    EveryNth { n: u64, offset: u64 },
    /// Each matching request with this probability, from the rule's seeded generator.
    Percent(u32),
}

/// Which entries of a PutRecords call fail, for [`Fault::KinesisEntries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPick {
    /// Entries whose (decoded) data contains these bytes: on every attempt, so they can
    /// never be written.
    Containing(Vec<u8>),
    /// Each entry with this probability, on every attempt (seeded).
    Percent(u32),
    /// Each entry with this probability the first time the proxy sees it (same data and
    /// partition key); an entry sent again passes. Retries then always succeed.
    FirstSightPercent(u32),
    /// The entries at these positions of the call.
    Positions(Vec<usize>),
    /// An entry fails when any of these picks it (all are evaluated, for determinism).
    AnyOf(Vec<EntryPick>),
}

/// What goes wrong with a hit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// S3's `500 InternalError` (not forwarded).
    S3InternalError,
    /// S3's `503 SlowDown` (not forwarded).
    S3SlowDown,
    /// Kinesis' `400 ProvisionedThroughputExceededException` for the whole call (not
    /// forwarded).
    KinesisThrottle,
    /// Per-entry throttling inside a PutRecords answer; the picked entries never reach moto.
    KinesisEntries(EntryPick),
    /// The connection is reset without an answer; `processed`: after moto handled the
    /// request (its effect stands, the answer is lost) or before (moto never saw it).
    Reset { processed: bool },
    /// The answer takes `delay` (make it longer than the client's attempt timeout).
    /// `processed`: moto handles the request at once and the answer is held back; otherwise
    /// the request is held for `delay` and the connection closed, never forwarded.
    Slow { delay: Duration, processed: bool },
}

/// A fault for some requests.
#[derive(Debug, Clone)]
pub struct Rule {
    pub matches: Match,
    pub schedule: Schedule,
    pub fault: Fault,
    /// Seeds the rule's generator (for `Percent` schedules and picks).
    pub seed: u64,
}

impl Rule {
    pub fn new(matches: Match, schedule: Schedule, fault: Fault) -> Self {
        Self {
            matches,
            schedule,
            fault,
            seed: 0,
        }
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// What the proxy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests read from clients.
    pub requests: u64,
    /// Requests sent on to moto (possibly rewritten).
    pub forwarded: u64,
    pub s3_internal_errors: u64,
    pub s3_slow_downs: u64,
    pub kinesis_throttles: u64,
    /// PutRecords calls in which some entries were failed, and those entries.
    pub entry_fault_calls: u64,
    pub entries_failed: u64,
    pub resets: u64,
    pub slow_answers: u64,
    /// Moto could not be reached or answered something unreadable (answered 502).
    pub upstream_errors: u64,
    /// Glue UpdateTable calls refused for a stale `VersionId` (not a fault: Glue's
    /// behaviour, with `enforce_glue_version_id`).
    pub glue_conflicts: u64,
}

impl Stats {
    /// Requests that were answered with a fault (entry faults count once per call).
    pub fn faults(&self) -> u64 {
        self.s3_internal_errors
            + self.s3_slow_downs
            + self.kinesis_throttles
            + self.entry_fault_calls
            + self.resets
            + self.slow_answers
    }
}

struct RuleState {
    rule: Rule,
    seen_matching: u64,
    rng: fastrand::Rng,
}

#[derive(Default)]
struct State {
    rules: Vec<RuleState>,
    stats: Stats,
    /// Entries seen by `FirstSightPercent` picks: (base64 data, partition key).
    seen_entries: HashSet<(String, String)>,
    /// Glue's `VersionId` check in front of moto's UpdateTable.
    glue_version_check: bool,
    /// Every request read, as `Kinesis_20131202.PutRecords`, `AWSGlue.GetTable` or
    /// `PUT /bucket/key` (without the query).
    log: Vec<String>,
}

/// The running proxy; stops accepting connections when dropped.
pub struct FaultProxy {
    url: String,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) in front of the local stack.
    pub async fn start(rules: Vec<Rule>) -> Self {
        Self::start_in_front_of(&crate::endpoint(), rules).await
    }

    /// Starts a proxy in front of another local endpoint (`http://127.0.0.1:<port>`, e.g. a
    /// moto server a test started itself).
    pub async fn start_in_front_of(upstream: &str, rules: Vec<Rule>) -> Self {
        assert!(
            upstream.starts_with("http://127.0.0.1:") || upstream.starts_with("http://localhost:"),
            "the fault proxy only forwards to loopback, not {upstream}"
        );
        let upstream = upstream
            .strip_prefix("http://")
            .expect("checked by endpoint()")
            .trim_end_matches('/')
            .replace("localhost", "127.0.0.1");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fault proxy on 127.0.0.1");
        let addr = listener.local_addr().expect("the proxy's address");
        let state = Arc::new(Mutex::new(State::default()));
        // Serializes checked Glue updates (check, then update, atomically).
        let glue = Arc::new(tokio::sync::Mutex::new(()));
        let proxy = Self {
            url: format!("http://{addr}"),
            state: state.clone(),
            accept: tokio::spawn(accept_loop(listener, state, Arc::new(upstream), glue)),
        };
        proxy.set_rules(rules);
        proxy
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the SDK clients.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replaces the rules (an empty list heals everything); their counters start afresh.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        lock(&self.state).rules = rules
            .into_iter()
            .map(|rule| RuleState {
                rng: fastrand::Rng::with_seed(rule.seed),
                rule,
                seen_matching: 0,
            })
            .collect();
    }

    /// From now on, answers a Glue `UpdateTable` with a stale `VersionId` as Glue does.
    pub fn enforce_glue_version_id(&self) {
        lock(&self.state).glue_version_check = true;
    }

    /// Every request read so far, in order (see `State::log`).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).log.clone()
    }

    /// What was injected so far.
    pub fn stats(&self) -> Stats {
        lock(&self.state).stats.clone()
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    upstream: Arc<String>,
    glue: Arc<tokio::sync::Mutex<()>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (state, upstream, glue) = (state.clone(), upstream.clone(), glue.clone());
        tokio::spawn(async move {
            let _ = serve(Conn::new(stream), &state, &upstream, &glue).await;
        });
    }
}

/// One client connection: requests in turn (keep-alive) until the client closes or a
/// fault closes it.
async fn serve(
    mut client: Conn,
    state: &Mutex<State>,
    upstream: &str,
    glue: &tokio::sync::Mutex<()>,
) -> io::Result<()> {
    loop {
        let Some(mut req) = client.read_request().await? else {
            return Ok(());
        };
        let fault = decide(state, &req);
        let response = match fault {
            None => forward_checked(state, upstream, &req, glue).await,
            Some((_, Fault::S3InternalError)) => {
                lock(state).stats.s3_internal_errors += 1;
                s3_error(
                    500,
                    "Internal Server Error",
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
            Some((_, Fault::S3SlowDown)) => {
                lock(state).stats.s3_slow_downs += 1;
                s3_error(
                    503,
                    "Slow Down",
                    "SlowDown",
                    "Please reduce your request rate.",
                )
            }
            Some((_, Fault::KinesisThrottle)) => {
                lock(state).stats.kinesis_throttles += 1;
                kinesis_throttle(&req)
            }
            Some((index, Fault::KinesisEntries(pick))) => {
                put_records_with_failures(state, upstream, &mut req, index, &pick).await
            }
            Some((_, Fault::Reset { processed })) => {
                if processed {
                    let _ = forward_checked(state, upstream, &req, glue).await;
                }
                lock(state).stats.resets += 1;
                client.stream.set_zero_linger()?;
                return Ok(()); // dropping a socket with SO_LINGER 0 sends RST
            }
            Some((_, Fault::Slow { delay, processed })) => {
                lock(state).stats.slow_answers += 1;
                if !processed {
                    tokio::time::sleep(delay).await;
                    return Ok(());
                }
                let response = forward_checked(state, upstream, &req, glue).await;
                tokio::time::sleep(delay).await;
                response
            }
        };
        client.write_response(&req, &response).await?;
        if req.close {
            return Ok(());
        }
    }
}

/// The first rule that hits this request, with its index. Every matching rule counts it.
fn decide(state: &Mutex<State>, req: &Request) -> Option<(usize, Fault)> {
    let mut s = lock(state);
    s.stats.requests += 1;
    let entry = match req.header("x-amz-target") {
        Some(target) => target.to_owned(),
        None => format!(
            "{} {}",
            req.method,
            req.target.split('?').next().unwrap_or("")
        ),
    };
    s.log.push(entry);
    let mut hit = None;
    for (i, r) in s.rules.iter_mut().enumerate() {
        if !r.rule.matches.matches(req) {
            continue;
        }
        let k = r.seen_matching;
        r.seen_matching += 1;
        let fires = match r.rule.schedule {
            Schedule::Always => true,
            Schedule::FirstN(n) => k < n,
            Schedule::EveryNth { n, offset } => n > 0 && k % n == offset,
            Schedule::Percent(p) => r.rng.u32(0..100) < p,
        };
        if fires && hit.is_none() {
            hit = Some((i, r.rule.fault.clone()));
        }
    }
    hit
}

/// PutRecords with some entries failed: they are removed from the request moto sees, and
/// their failures are spliced back into moto's answer at their positions.
async fn put_records_with_failures(
    state: &Mutex<State>,
    upstream: &str,
    req: &mut Request,
    rule: usize,
    pick: &EntryPick,
) -> Response {
    let is_put_records = req
        .header("x-amz-target")
        .is_some_and(|t| t.ends_with(".PutRecords"));
    let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
    let Some(mut body) = parsed.filter(|_| is_put_records) else {
        eprintln!("fault proxy: per-entry faults need a JSON PutRecords request; forwarded as is");
        return forward(state, upstream, req).await;
    };
    let entries = body["Records"].as_array().cloned().unwrap_or_default();
    let failed: Vec<bool> = {
        let mut s = lock(state);
        let State {
            rules,
            seen_entries,
            ..
        } = &mut *s;
        let rng = &mut rules[rule].rng;
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| picks(pick, i, e, rng, seen_entries))
            .collect()
    };
    let n_failed = failed.iter().filter(|f| **f).count();
    if n_failed == 0 {
        return forward(state, upstream, req).await;
    }
    let stream = body["StreamName"]
        .as_str()
        .or_else(|| body["StreamARN"].as_str())
        .unwrap_or("")
        .to_owned();
    let failure = json!({
        "ErrorCode": THROTTLED,
        "ErrorMessage": format!("Rate exceeded for shard shardId-000000000000 in stream {stream} under account 123456789012."),
    });
    let kept: Vec<Value> = entries
        .iter()
        .zip(&failed)
        .filter(|(_, f)| !**f)
        .map(|(e, _)| e.clone())
        .collect();
    let (moto_failed, mut moto_records) = if kept.is_empty() {
        // Kinesis rejects an empty Records list: answer for moto.
        (0, Vec::new().into_iter())
    } else {
        body["Records"] = Value::Array(kept);
        req.body = serde_json::to_vec(&body).expect("JSON");
        let answer = forward(state, upstream, req).await;
        if answer.status != 200 {
            return answer; // the whole call failed at moto: nothing was written
        }
        let Ok(v) = serde_json::from_slice::<Value>(&answer.body) else {
            lock(state).stats.upstream_errors += 1;
            return bad_gateway("moto's PutRecords answer is not JSON");
        };
        let records = v["Records"].as_array().cloned().unwrap_or_default();
        if records.len() != entries.len() - n_failed {
            lock(state).stats.upstream_errors += 1;
            return bad_gateway("moto's PutRecords answer has the wrong number of records");
        }
        (
            v["FailedRecordCount"].as_u64().unwrap_or(0),
            records.into_iter(),
        )
    };
    let records: Vec<Value> = failed
        .iter()
        .map(|f| {
            if *f {
                failure.clone()
            } else {
                moto_records.next().expect("counted above")
            }
        })
        .collect();
    {
        let mut s = lock(state);
        s.stats.entry_fault_calls += 1;
        s.stats.entries_failed += n_failed as u64;
    }
    let answer = json!({
        "FailedRecordCount": moto_failed + n_failed as u64,
        "Records": records,
        "EncryptionType": "NONE",
    });
    kinesis_response(200, "OK", &answer)
}

fn picks(
    pick: &EntryPick,
    position: usize,
    entry: &Value,
    rng: &mut fastrand::Rng,
    seen: &mut HashSet<(String, String)>,
) -> bool {
    match pick {
        EntryPick::Containing(marker) => entry["Data"]
            .as_str()
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .is_some_and(|data| {
                !marker.is_empty() && data.windows(marker.len()).any(|w| w == &marker[..])
            }),
        EntryPick::Percent(p) => rng.u32(0..100) < *p,
        EntryPick::FirstSightPercent(p) => {
            let key = (
                entry["Data"].as_str().unwrap_or("").to_owned(),
                entry["PartitionKey"].as_str().unwrap_or("").to_owned(),
            );
            seen.insert(key) && rng.u32(0..100) < *p
        }
        EntryPick::Positions(ps) => ps.contains(&position),
        EntryPick::AnyOf(all) => all
            .iter()
            .map(|p| picks(p, position, entry, rng, seen))
            .fold(false, |a, b| a | b),
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn s3_error(status: u16, reason: &str, code: &str, message: &str) -> Response {
    let id = request_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{id}</RequestId><HostId>fault-proxy</HostId></Error>"
    );
    Response {
        status,
        reason: reason.into(),
        headers: vec![
            ("Content-Type".into(), b"application/xml".to_vec()),
            ("x-amz-request-id".into(), id.into_bytes()),
        ],
        body: body.into_bytes(),
    }
}

fn kinesis_response(status: u16, reason: &str, body: &Value) -> Response {
    Response {
        status,
        reason: reason.into(),
        headers: vec![
            ("Content-Type".into(), KINESIS_JSON.as_bytes().to_vec()),
            ("x-amzn-RequestId".into(), request_id().into_bytes()),
        ],
        body: serde_json::to_vec(body).expect("JSON"),
    }
}

fn kinesis_throttle(req: &Request) -> Response {
    let stream = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| v["StreamName"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut r = kinesis_response(
        400,
        "Bad Request",
        &json!({
            "__type": THROTTLED,
            "message": format!("Rate exceeded for stream {stream} under account 123456789012."),
        }),
    );
    r.headers
        .push(("x-amzn-ErrorType".into(), THROTTLED.as_bytes().to_vec()));
    r
}

fn bad_gateway(why: &str) -> Response {
    Response {
        status: 502,
        reason: "Bad Gateway".into(),
        headers: vec![("Content-Type".into(), b"text/plain".to_vec())],
        body: format!("fault proxy: {why}").into_bytes(),
    }
}

/// Kinesis puts and DynamoDB writes forwarded one at a time, whichever proxy forwards them
/// (see the module's text: moto's are not atomic under concurrency).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The calls `ONE_AT_A_TIME` serializes.
const SERIALIZED: [&str; 5] = [
    "Kinesis_20131202.PutRecords",
    "Kinesis_20131202.PutRecord",
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
];

/// Sends the request to moto on a fresh connection and reads the whole answer.
async fn forward(state: &Mutex<State>, upstream: &str, req: &Request) -> Response {
    lock(state).stats.forwarded += 1;
    let serialized = req
        .header("x-amz-target")
        .is_some_and(|t| SERIALIZED.contains(&t));
    let _one_at_a_time = if serialized {
        Some(ONE_AT_A_TIME.lock().await)
    } else {
        None
    };
    match exchange(upstream, req).await {
        Ok(r) => as_aws_answers(req, r),
        Err(e) => {
            lock(state).stats.upstream_errors += 1;
            bad_gateway(&format!("forwarding to {upstream}: {e}"))
        }
    }
}

/// `forward`, with Glue's `VersionId` check in front of UpdateTable when enabled.
async fn forward_checked(
    state: &Mutex<State>,
    upstream: &str,
    req: &Request,
    glue: &tokio::sync::Mutex<()>,
) -> Response {
    let is_update = req.header("x-amz-target") == Some("AWSGlue.UpdateTable");
    if !is_update || !lock(state).glue_version_check {
        return forward(state, upstream, req).await;
    }
    let _one_at_a_time = glue.lock().await;
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let Some(sent) = body["VersionId"].as_str() else {
        // Without a VersionId Glue does not check: the last writer wins.
        return forward(state, upstream, req).await;
    };
    let mut get_body = json!({
        "DatabaseName": body["DatabaseName"],
        "Name": body["TableInput"]["Name"],
    });
    if let Some(catalog) = body["CatalogId"].as_str() {
        get_body["CatalogId"] = json!(catalog);
    }
    let get = Request {
        method: "POST".into(),
        target: req.target.clone(),
        headers: req
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case("x-amz-target") {
                    (name.clone(), b"AWSGlue.GetTable".to_vec())
                } else {
                    (name.clone(), value.clone())
                }
            })
            .collect(),
        body: serde_json::to_vec(&get_body).unwrap_or_default(),
        close: true,
    };
    let current = match exchange(upstream, &get).await {
        Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| v["Table"]["VersionId"].as_str().map(str::to_owned)),
        // A missing table or an unreadable answer: moto's own UpdateTable answers it.
        _ => return forward(state, upstream, req).await,
    };
    if current.as_deref() != Some(sent) {
        lock(state).stats.glue_conflicts += 1;
        let mut r = kinesis_response(
            400,
            "Bad Request",
            &json!({
                "__type": "ConcurrentModificationException",
                "Message": format!(
                    "Update table failed due to concurrent modifications: VersionId {sent} is not the current {}",
                    current.unwrap_or_default()
                ),
            }),
        );
        r.headers.push((
            "x-amzn-ErrorType".into(),
            b"ConcurrentModificationException".to_vec(),
        ));
        return r;
    }
    forward(state, upstream, req).await
}

/// moto's answers where they differ from AWS's shape (see the module's list).
fn as_aws_answers(req: &Request, mut r: Response) -> Response {
    let path = req.target.split('?').next().unwrap_or("");
    if req.method == "PUT" && path.ends_with("/metadata-location") && r.status == 200 {
        if let Ok(mut body) = serde_json::from_slice::<Value>(&r.body) {
            if let Some(ns) = body["namespace"].as_str().map(str::to_owned) {
                body["namespace"] = json!([ns]);
                r.body = serde_json::to_vec(&body).unwrap_or(r.body);
            }
        }
    }
    r
}

async fn exchange(upstream: &str, req: &Request) -> io::Result<Response> {
    let mut conn = Conn::new(TcpStream::connect(upstream).await?);
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target).into_bytes();
    for (name, value) in &req.headers {
        if is_hop_header(name) || name.eq_ignore_ascii_case("expect") {
            continue;
        }
        push_header(&mut head, name, value);
    }
    push_header(
        &mut head,
        "Content-Length",
        req.body.len().to_string().as_bytes(),
    );
    push_header(&mut head, "Connection", b"close");
    head.extend_from_slice(b"\r\n");
    conn.stream.write_all(&head).await?;
    conn.stream.write_all(&req.body).await?;
    conn.stream.flush().await?;
    conn.read_response(req.method == "HEAD").await
}

/// One request as read from a client.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// Path and query.
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// The client asked to close the connection after this exchange.
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// One response, whole.
#[derive(Debug, Clone)]
struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Headers that describe one connection's framing, not the message: rewritten per hop.
fn is_hop_header(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "te",
        "trailer",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

fn push_header(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A TCP connection with a read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Waits for a whole head (`\r\n\r\n`) in the buffer; `None` at a clean end of stream.
    async fn head(&mut self) -> io::Result<Option<usize>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(end + 4));
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(invalid("head too large"));
            }
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let mut line: Vec<u8> = self.buf.drain(..end + 2).collect();
                line.truncate(end);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(invalid("line too long"));
            }
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    async fn chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = std::str::from_utf8(&line)
                .ok()
                .and_then(|l| l.split(';').next())
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| invalid("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to an empty line.
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.take(size).await?);
            if !self.take(2).await?.eq(b"\r\n") {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
    }

    async fn body(&mut self, headers: &[(String, Vec<u8>)]) -> io::Result<Option<Vec<u8>>> {
        let chunked = header(headers, "transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return self.chunked().await.map(Some);
        }
        match header(headers, "content-length") {
            Some(n) => {
                let n: usize = n
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad Content-Length"))?;
                self.take(n).await.map(Some)
            }
            None => Ok(None),
        }
    }

    async fn read_request(&mut self) -> io::Result<Option<Request>> {
        let Some(end) = self.head().await? else {
            return Ok(None);
        };
        let (method, target, headers, version_minor) = {
            let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Request::new(&mut hs);
            match r.parse(&self.buf[..end]) {
                Ok(httparse::Status::Complete(_)) => {}
                _ => return Err(invalid("bad request head")),
            }
            (
                r.method.unwrap_or("").to_owned(),
                r.path.unwrap_or("/").to_owned(),
                owned_headers(r.headers),
                r.version.unwrap_or(1),
            )
        };
        self.buf.drain(..end);
        if header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let body = self.body(&headers).await?.unwrap_or_default();
        let connection = header(&headers, "connection")
            .unwrap_or("")
            .to_ascii_lowercase();
        let close = connection.contains("close")
            || (version_minor == 0 && !connection.contains("keep-alive"));
        Ok(Some(Request {
            method,
            target,
            headers,
            body,
            close,
        }))
    }

    async fn read_response(&mut self, head_request: bool) -> io::Result<Response> {
        loop {
            let end = self.head().await?.ok_or(io::ErrorKind::UnexpectedEof)?;
            let (status, reason, headers) = {
                let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut r = httparse::Response::new(&mut hs);
                match r.parse(&self.buf[..end]) {
                    Ok(httparse::Status::Complete(_)) => {}
                    _ => return Err(invalid("bad response head")),
                }
                (
                    r.code.unwrap_or(0),
                    r.reason.unwrap_or("").to_owned(),
                    owned_headers(r.headers),
                )
            };
            self.buf.drain(..end);
            if (100..200).contains(&status) {
                continue;
            }
            let body = if head_request || status == 204 || status == 304 {
                Vec::new()
            } else {
                match self.body(&headers).await? {
                    Some(b) => b,
                    None => {
                        // Delimited by the end of the connection (we sent Connection: close).
                        while self.fill().await? {}
                        std::mem::take(&mut self.buf)
                    }
                }
            };
            return Ok(Response {
                status,
                reason,
                headers,
                body,
            });
        }
    }

    async fn write_response(&mut self, req: &Request, r: &Response) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, r.reason).into_bytes();
        let is_head = req.method == "HEAD";
        for (name, value) in &r.headers {
            // A HEAD answer keeps the length of the body it does not carry.
            let keep_length = is_head && name.eq_ignore_ascii_case("content-length");
            if is_hop_header(name) && !keep_length {
                continue;
            }
            push_header(&mut head, name, value);
        }
        if !is_head {
            push_header(
                &mut head,
                "Content-Length",
                r.body.len().to_string().as_bytes(),
            );
        }
        if req.close {
            push_header(&mut head, "Connection", b"close");
        }
        head.extend_from_slice(b"\r\n");
        self.stream.write_all(&head).await?;
        if !is_head {
            self.stream.write_all(&r.body).await?;
        }
        self.stream.flush().await
    }
}

fn owned_headers(hs: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    hs.iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect()
}

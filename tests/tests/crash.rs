//! batch-to-s3 killed for real: the `batch-to-s3` binary (debug build) runs under a Runtime
//! API stand-in (`trickle_tests::runtime_api`), talking to moto through the fault proxy. The
//! proxy holds one chosen S3 PUT (never answering it, before or after moto applied it), and
//! while the function waits on it the test kills the process with SIGKILL. Then a fresh
//! process gets what Lambda would deliver next: the same batch, a bisected half, or a batch
//! re-formed with newer records; and after the rest is delivered every record is stored
//! exactly once, for each crash point:
//!
//! - before any PUT (the intent's PUT held, never applied);
//! - after the intent (the first data PUT held);
//! - between two data PUTs;
//! - after the last data PUT, before the mark (the mark's PUT held, never applied);
//! - after the mark (the mark's PUT applied, its answer never came);
//! - a data PUT applied whose answer never came (as a PUT outliving the function's timeout).
//!
//! Run: `source .local/stack.env && cargo test -p trickle-tests --test crash` after
//! `cargo build --bin batch-to-s3`.

use std::io::Read;
use std::time::Duration;
use trickle_tests::fault_proxy::{Fault, FaultProxy, Match, Rule, Schedule};
use trickle_tests::runtime_api::{binary, FunctionProcess};
use trickle_tests::{create_bucket, kinesis_event_json, object_body, object_keys};

/// Records 0..N: three customers, so a batch makes interleaved partition objects (several
/// data PUTs between the intent and the mark).
const N: usize = 9;

fn data(i: usize) -> String {
    format!("{{\"customer\":\"c{}\",\"n\":{i}}}", i % 3)
}

fn event(range: std::ops::Range<usize>) -> Vec<u8> {
    serde_json::to_vec(&kinesis_event_json(range, data)).expect("JSON")
}

fn env<'a>(bucket: &'a str, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("BUCKET_NAME", bucket),
        ("PREFIX", "raw/"),
        ("OBJECT_PARTITION_POINTER", "/customer"),
        ("AWS_ENDPOINT_URL", endpoint),
        // One attempt: a held request is not retried around the kill.
        ("AWS_MAX_ATTEMPTS", "1"),
    ]
}

/// Runs one delivery to the end; panics unless it answered with no batch item failure.
async fn deliver(bucket: &str, endpoint: &str, range: std::ops::Range<usize>) {
    let p = FunctionProcess::start(
        &binary("batch-to-s3"),
        &env(bucket, endpoint),
        event(range.clone()),
    )
    .await;
    p.expect_no_batch_item_failures(Duration::from_secs(60), &format!("delivery {range:?}"))
        .await;
}

/// Every record in the data objects, sorted by n.
async fn stored(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for key in object_keys(client, bucket, "raw/").await {
        let body = object_body(client, bucket, &key).await;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gzip");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a record");
            out.push(v["n"].as_u64().expect("n") as usize);
        }
    }
    out.sort_unstable();
    out
}

/// The S3 PUTs of one delivery of 0..N, in order: the intent, 3 data objects, the mark.
#[derive(Debug, Clone, Copy)]
enum CrashPoint {
    BeforeAnyPut,
    AfterTheIntent,
    BetweenDataPuts,
    BeforeTheMark,
    AfterTheMark,
    DataPutAppliedAnswerLost,
}

impl CrashPoint {
    /// Which PUT to hold (0: the intent) and whether moto applies it first.
    fn hold(self) -> (u64, bool) {
        match self {
            Self::BeforeAnyPut => (0, false),
            Self::AfterTheIntent => (1, false),
            Self::BetweenDataPuts => (2, false),
            Self::BeforeTheMark => (4, false),
            Self::AfterTheMark => (4, true),
            Self::DataPutAppliedAnswerLost => (2, true),
        }
    }
}

/// Lambda's next deliveries after the killed one, each ending with everything delivered.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// The same batch again.
    Same,
    /// Bisected: the first half, then the rest.
    Bisected,
    /// The killed batch held records 0..6; Lambda resumes from its checkpoint (record 0) with
    /// a batch re-formed to hold newer records too: 0..9.
    ReformedWithNewer,
}

async fn scenario(point: CrashPoint, next: Next) {
    let (client, bucket) = create_bucket("crash").await;
    let (index, processed) = point.hold();
    let proxy = FaultProxy::start(vec![Rule::new(
        Match::S3Object {
            method: "PUT",
            path_contains: format!("/{bucket}/"),
        },
        Schedule::EveryNth {
            n: u64::MAX,
            offset: index,
        },
        Fault::Slow {
            delay: Duration::from_secs(120),
            processed,
        },
    )])
    .await;
    let endpoint = proxy.url().to_owned();

    // The delivery that dies.
    let batch = if matches!(next, Next::ReformedWithNewer) {
        0..N - 3
    } else {
        0..N
    };
    let p = FunctionProcess::start(
        &binary("batch-to-s3"),
        &env(&bucket, &endpoint),
        event(batch.clone()),
    )
    .await;
    let held = async {
        for _ in 0..3000 {
            if proxy.stats().slow_answers > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(held.await, "{point:?}: PUT {index} was never reached");
    if processed {
        // The held request reached moto: wait until moto applied it.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        p.answer(Duration::ZERO).await,
        None,
        "it must die before answering"
    );
    p.kill();
    proxy.set_rules(Vec::new());

    // What Lambda delivers next, through to the end.
    match next {
        Next::Same => deliver(&bucket, &endpoint, 0..N).await,
        Next::Bisected => {
            deliver(&bucket, &endpoint, 0..N / 2).await;
            deliver(&bucket, &endpoint, N / 2..N).await;
        }
        Next::ReformedWithNewer => deliver(&bucket, &endpoint, 0..N).await,
    }
    // A stale redelivery of everything changes nothing.
    deliver(&bucket, &endpoint, 0..N).await;
    assert_eq!(
        stored(&client, &bucket).await,
        (0..N).collect::<Vec<_>>(),
        "{point:?} then {next:?}: every record exactly once"
    );
}

macro_rules! crash_tests {
    ($($name:ident: $point:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for next in [Next::Same, Next::Bisected, Next::ReformedWithNewer] {
                scenario(CrashPoint::$point, next).await;
            }
        }
    )*};
}

crash_tests! {
    killed_before_any_put: BeforeAnyPut,
    killed_after_the_intent: AfterTheIntent,
    killed_between_two_data_puts: BetweenDataPuts,
    killed_before_the_mark: BeforeTheMark,
    killed_after_the_mark: AfterTheMark,
    killed_with_a_data_put_applied_and_its_answer_lost: DataPutAppliedAnswerLost,
}

//! A Lambda Runtime API stand-in on 127.0.0.1, to run a function's real binary as Lambda
//! runs it: one process that asks for its next event, handles it, posts the answer. The
//! crash tests start a process, let it hand its event over, and kill it (SIGKILL) at a
//! chosen point; then a fresh process gets the next delivery.
//!
//! It serves one event per process: `GET .../invocation/next` answers the event the first
//! time and never again (the process then waits, as between invocations); the answer
//! (`.../response`) or error (`.../error`, `init/error`) is kept for the test.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the function said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Response(Vec<u8>),
    Error(Vec<u8>),
}

#[derive(Default)]
struct Shared {
    event: Vec<u8>,
    served: bool,
    answer: Option<Answer>,
}

/// One function process under the stand-in.
pub struct FunctionProcess {
    child: Child,
    shared: Arc<Mutex<Shared>>,
    server: tokio::task::JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The path of a workspace binary of the debug build (`make test` builds them first).
pub fn binary(name: &str) -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo build --bin {name}` (make test builds every binary first)",
        path.display()
    );
    path
}

impl FunctionProcess {
    /// Starts `binary` with the function's environment `env` (plus the Runtime API's and
    /// the local AWS settings of this process's environment) and one `event` to serve.
    pub async fn start(binary: &std::path::Path, env: &[(&str, &str)], event: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Mutex::new(Shared {
            event,
            ..Shared::default()
        }));
        let s = shared.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(conn, s.clone()));
            }
        });
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "crash-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for k in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        Self {
            child,
            shared,
            server,
        }
    }

    /// Waits for the answer, at most `limit`.
    pub async fn answer(&self, limit: Duration) -> Option<Answer> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(a) = lock(&self.shared).answer.clone() {
                return Some(a);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// Waits for the answer, at most `limit`, and asserts it is a Kinesis batch response
    /// with no `batchItemFailures` (`what` names the delivery in the failure message).
    pub async fn expect_no_batch_item_failures(&self, limit: Duration, what: &str) {
        match self.answer(limit).await {
            Some(Answer::Response(body)) => {
                let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON answer");
                assert_eq!(
                    v["batchItemFailures"],
                    serde_json::json!([]),
                    "{what} answered {v}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }

    /// SIGKILL: the process ends at once, wherever it is.
    pub fn kill(mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        self.server.abort();
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        self.server.abort();
    }
}

async fn serve(mut conn: TcpStream, shared: Arc<Mutex<Shared>>) {
    let mut buf = Vec::new();
    loop {
        // One request: the head, then Content-Length bytes.
        let (method, path, body) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut req = httparse::Request::new(&mut headers);
                if req.parse(&buf[..end + 4]).is_err() {
                    return;
                }
                let method = req.method.unwrap_or("").to_owned();
                let path = req.path.unwrap_or("").to_owned();
                let len = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .unwrap_or(0usize);
                while buf.len() < end + 4 + len {
                    let mut chunk = [0u8; 65536];
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                break (method, path, body);
            }
            let mut chunk = [0u8; 65536];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let reply: Vec<u8> = if method == "GET" && path.ends_with("/invocation/next") {
            let event = {
                let mut s = lock(&shared);
                if s.served {
                    None
                } else {
                    s.served = true;
                    Some(s.event.clone())
                }
            };
            let Some(event) = event else {
                // Between invocations: wait (the test kills the process).
                std::future::pending::<()>().await;
                return;
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                + 300_000;
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: crash-1\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:crash-test\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                 Content-Length: {}\r\n\r\n",
                event.len()
            )
            .into_bytes();
            r.extend_from_slice(&event);
            r
        } else if method == "POST" {
            let answer = if path.ends_with("/response") {
                Answer::Response(body)
            } else {
                Answer::Error(body)
            };
            lock(&shared).answer = Some(answer);
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_vec()
        } else {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
        };
        if conn.write_all(&reply).await.is_err() {
            return;
        }
    }
}

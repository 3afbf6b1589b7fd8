#!/usr/bin/env python3
"""Whole-process figures for each function, release build: cold start and peak memory.

A minimal Lambda Runtime API stand-in on 127.0.0.1 (loopback only) serves one event to a
function binary started with AWS_LAMBDA_RUNTIME_API pointing at it, and measures:

- cold start: from just before the process is spawned until it first asks the Runtime API
  for an event (GET /2018-06-01/runtime/invocation/next), i.e. init including config parsing
  and building the AWS SDK clients;
- peak RSS (VmHWM from /proc/<pid>/status) after handling the event, and the handling time
  (event handed over -> response posted).

Usage: python3 bench/runtime_bench.py [--runs N] [--target-dir target]
Builds nothing: run `cargo build --release --bin ingest --bin batch-to-s3 --bin firehose-transform` first.
The stand-in also answers as a minimal S3 (path-style: a missing high-water mark is 404
NoSuchKey, every PUT succeeds), so batch-to-s3 does its whole job: decode, frame, gzip and
PUT the objects, then move its mark. Nothing leaves 127.0.0.1.
"""

import argparse
import base64
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


LAMBDA_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


def kinesis_event(size=1000):
    """As many ~1 KB records as fit in Lambda's 6 MiB invocation payload."""
    records = []
    total = 20
    for i in range(100000):
        body = json.dumps({"id": i, "user": f"user-{i % 97}", "event": ["click", "view", "buy"][i % 3],
                           "ts": 1700000000 + i, "pad": "x" * max(0, size - 90)})[:size]
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"user-{i % 97}",
                        "sequenceNumber": str(49590000000000000000000000000000000000000000000000000000 + i),
                        "data": base64.b64encode(body.encode()).decode(),
                        "approximateArrivalTimestamp": 1700000000.123},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{i}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench"})
        total += len(json.dumps(records[-1])) + 2
        if total > LAMBDA_MAX_PAYLOAD_BYTES:
            records.pop()
            break
    return {"Records": records}


def firehose_event(n=3000, size=1000):
    records = []
    for i in range(n):
        body = json.dumps({"id": i, "user": f"user-{i % 97}", "pad": "x" * max(0, size - 40)})[:size]
        records.append({"recordId": f"{i:056d}", "approximateArrivalTimestamp": 1700000000123,
                        "data": base64.b64encode(body.encode()).decode(),
                        "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": "k",
                                                  "approximateArrivalTimestamp": 1700000000123,
                                                  "sequenceNumber": str(i), "subsequenceNumber": 0}})
    return {"invocationId": "bench", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
            "sourceKinesisStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            "region": "us-east-1", "records": records}


def url_event(n=500):
    body = "\n".join(json.dumps({"id": i, "user": f"user-{i % 97}", "pad": "x" * 100}) for i in range(n))
    return {"version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
            "headers": {"content-type": "application/x-ndjson", "host": "x.lambda-url.us-east-1.on.aws"},
            "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
                               "domainPrefix": "x", "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                                                             "sourceIp": "127.0.0.1", "userAgent": "bench"},
                               "requestId": "r", "routeKey": "$default", "stage": "$default",
                               "time": "25/Nov/2026:20:00:00 +0000", "timeEpoch": 1795636800000},
            "body": body, "isBase64Encoded": False}


class Runtime(http.server.BaseHTTPRequestHandler):
    event = b""
    first_next = None
    handed = None
    responded = None
    response = b""
    done = threading.Event()

    def log_message(self, *args):
        pass

    def _s3_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                self.rfile.read(size + 2)
                if size == 0:
                    break
        else:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_PUT(self):
        self._s3_body()
        self.send_response(200)
        self.send_header("ETag", '"bench"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        cls = type(self)
        if not self.path.startswith("/2018-06-01/"):
            body = b"<?xml version='1.0'?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>"
            self.send_response(404)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if cls.first_next is None:
            cls.first_next = time.perf_counter()
            cls.handed = time.perf_counter()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(cls.event)))
            self.end_headers()
            self.wfile.write(cls.event)
        else:
            # The second "next": the first invocation is done; hold it until we are finished.
            cls.done.wait(30)
            self.send_response(500)
            self.end_headers()

    def do_POST(self):
        cls = type(self)
        if not self.path.startswith("/2018-06-01/"):
            # Kinesis PutRecords (JSON protocol): every entry written.
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            n = len(req.get("Records", [])) or 1
            body = json.dumps({"FailedRecordCount": 0, "ShardId": "shardId-000000000000", "SequenceNumber": "1",
                               "Records": [{"ShardId": "shardId-000000000000", "SequenceNumber": str(i + 1)}
                                           for i in range(n)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length", 0))
        cls.response = self.rfile.read(length)
        cls.responded = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def function_env(port, env, memory_mb=128):
    """The environment Lambda gives a function, pointed at the stand-in on `port` (which
    answers S3 and Kinesis calls too: nothing leaves the machine), plus `env`."""
    full_env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
                "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_FORMAT": "JSON",
                "AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_MAX_ATTEMPTS": "1"}
    full_env.update(env)
    return full_env


def run_process(binary, event_bytes, env, memory_mb=128, capture_stdout=False):
    """One cold process serving one event. `env` is laid over `function_env` (a value of None
    removes the variable). Returns cold start, handling time, peak RSS, process CPU (10 ms
    ticks), the event's size, the function's response and, if asked, its stdout."""
    Runtime.event = event_bytes
    Runtime.first_next = Runtime.handed = Runtime.responded = None
    Runtime.done.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full_env = function_env(server.server_port, {}, memory_mb)
    for k, v in env.items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=full_env, stderr=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL)
    deadline = time.time() + 300
    while Runtime.responded is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.001)
    hwm_kb = None
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
    except FileNotFoundError:
        pass
    cpu = cpu_ms(proc.pid)
    Runtime.done.set()
    proc.kill()
    out = proc.communicate()[0] if capture_stdout else b""
    proc.wait()
    server.shutdown()
    if Runtime.responded is None:
        raise SystemExit(f"{binary}: no response\n{out[-2000:].decode(errors='replace')}")
    return {"cold_ms": (Runtime.first_next - start) * 1000,
            "handle_ms": (Runtime.responded - Runtime.handed) * 1000,
            "rss_mb": (hwm_kb or 0) / 1024, "cpu_ms": cpu, "event_bytes": len(Runtime.event),
            "response": Runtime.response, "stdout": out.decode(errors="replace")}


def cpu_ms(pid):
    """A process's CPU time (user + system) from /proc/<pid>/stat, in ms (10 ms ticks)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, IndexError):
        return 0.0


def run_once(binary, event, env):
    r = run_process(binary, json.dumps(event).encode(), env)
    return r["cold_ms"], r["handle_ms"], r["rss_mb"], r["event_bytes"], r["response"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    args = ap.parse_args()
    cases = [
        ("ingest", "500 NDJSON records (function URL)", url_event(), {"STREAM_NAME": "bench"}),
        ("batch-to-s3", "~1 KB JSON records up to Lambda's 6 MiB payload, gzip", kinesis_event(), {"BUCKET_NAME": "bench"}),
        ("firehose-transform", "2,200 x 1 KB JSON records (~3 MB)", firehose_event(2200), {}),
    ]
    print(f"| function | event | event bytes | cold start ms (median of {args.runs}) | handle ms | peak RSS MB | binary MB |")
    print("|---|---|---|---|---|---|---|")
    for name, label, event, env in cases:
        binary = os.path.join(args.target_dir, "release", name)
        if not os.path.exists(binary):
            sys.exit(f"{binary} is missing: cargo build --release --bin {name}")
        results = [run_once(binary, event, env) for _ in range(args.runs)]
        cold = statistics.median(r[0] for r in results)
        handle = statistics.median(r[1] for r in results)
        rss = max(r[2] for r in results)
        size = os.path.getsize(binary) / 1e6
        print(f"| {name} | {label} | {results[0][3]:,} | {cold:.1f} | {handle:.1f} | {rss:.1f} | {size:.1f} |")
        resp = results[0][4][:160].decode(errors="replace")
        print(f"<!-- {name} answered: {resp} -->", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""batch-to-s3 with FORMAT=parquet against a Python handler doing the same job with pyarrow,
side by side in one run, on the same 6 MB Kinesis event of log-like records.

- Rust: the release `batch-to-s3` binary, a fresh process per round, under the Runtime API
  stand-in of runtime_bench.py (which also answers as S3 on 127.0.0.1). CPU is read from
  /proc/<pid>/task/*/schedstat (nanoseconds, every thread) when the event is handed over
  and when the answer is posted: the difference is the invocation's CPU (deserialize the
  event, decode, build columns, encode Parquet, PUT, move the mark). Also: cold start, wall
  time of the invocation, peak RSS, and the size of the Parquet object it PUT.
- Python: the handler a Python user would write: `json.loads` of the event,
  base64-decode each record, `pyarrow.json.read_json` with the explicit schema,
  `pyarrow.parquet.write_table(compression="zstd")`, a boto3 `put_object` to the same
  stand-in. CPU by `time.process_time()` around the call (every thread of the process).
- Rounds alternate the two, so every ratio is taken under the same machine state.

Usage: python bench/parquet_bench.py [--rounds 7] (needs `cargo build --release --bin
batch-to-s3` and .venv with pyarrow and boto3; scripts/bench.sh runs it).
"""

import argparse
import base64
import datetime
import io
import json
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_bench  # noqa: E402

SCHEMA = ("ts timestamp, user string, latency_ms bigint, price double, ok boolean, "
          "tags array<string>, geo struct<lat:double,lon:double>, path string, status int")


def records():
    rng = random.Random(7)
    paths = ["/", "/api/orders", "/api/users/{id}", "/static/app.js", "/health"]
    base = datetime.datetime(2026, 12, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
    i = 0
    while True:
        ts = base + datetime.timedelta(milliseconds=i * 37)
        yield json.dumps({
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "user": f"user-{rng.randrange(5000)}",
            "latency_ms": rng.randrange(1, 3000),
            "price": round(rng.random() * 100, 2),
            "ok": rng.random() > 0.05,
            "tags": rng.sample(["web", "mobile", "beta", "eu", "us", "retry"], rng.randrange(0, 4)),
            "geo": {"lat": round(rng.uniform(-90, 90), 5), "lon": round(rng.uniform(-180, 180), 5)},
            "path": rng.choice(paths),
            "status": rng.choice([200, 200, 200, 201, 304, 404, 500]),
        }, separators=(",", ":"))
        i += 1


def kinesis_event():
    """Log-like records up to Lambda's 6 MiB invocation payload."""
    out, total = [], 20
    for i, body in enumerate(records()):
        r = {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"k-{i % 97}",
                         "sequenceNumber": str(49590000000000000000000000000000000000000000000000000000 + i),
                         "data": base64.b64encode(body.encode()).decode(),
                         "approximateArrivalTimestamp": 1796112000.123},
             "eventSource": "aws:kinesis", "eventVersion": "1.0",
             "eventID": f"shardId-000000000000:{i}", "eventName": "aws:kinesis:record",
             "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench", "awsRegion": "us-east-1",
             "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench"}
        total += len(json.dumps(r)) + 2
        if total > runtime_bench.LAMBDA_MAX_PAYLOAD_BYTES:
            break
        out.append(r)
    return {"Records": out}


def task_cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


class Measured(runtime_bench.Runtime):
    """The stand-in serving `events` invocations of the same event to one process (the first
    cold, the rest warm, as Lambda reuses a container), reading the function's CPU when each
    event is handed over and when its answer is posted, and keeping the size of the largest
    object PUT."""
    pid = None
    events = 1
    served = 0
    cpu_handed = []
    cpu_responded = []
    answers = []
    started = None
    cold_ms = None
    all_done = threading.Event()
    largest_put = 0

    def _s3_body(self):
        cls = type(self)
        n = 0
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                self.rfile.read(size + 2)
                n += size
                if size == 0:
                    break
        else:
            n = len(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        cls.largest_put = max(cls.largest_put, n)

    def do_GET(self):
        cls = type(self)
        if not self.path.startswith("/2018-06-01/"):
            return super().do_GET()
        if cls.served >= cls.events:
            cls.all_done.set()
            time.sleep(30)
            self.send_response(500)
            self.end_headers()
            return
        if cls.served == 0:
            cls.cold_ms = (time.perf_counter() - cls.started) * 1000
        cls.served += 1
        cls.cpu_handed.append(task_cpu_ns(cls.pid))
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"bench-{cls.served}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(cls.event)))
        self.end_headers()
        self.wfile.write(cls.event)

    def do_POST(self):
        cls = type(self)
        if not self.path.startswith("/2018-06-01/"):
            return super().do_POST()
        cls.cpu_responded.append(task_cpu_ns(cls.pid))
        cls.answers.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def run_rust(binary, event_bytes, env, events):
    """One process, `events` invocations of the event: (cold start ms, CPU ms of the first
    (cold) invocation, CPU ms of each later (warm) one, peak RSS MB, object bytes)."""
    import http.server
    import subprocess
    import tempfile

    Measured.event = event_bytes
    Measured.events = events
    Measured.served = 0
    Measured.cpu_handed, Measured.cpu_responded, Measured.answers = [], [], []
    Measured.largest_put = 0
    Measured.all_done.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Measured)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full_env = runtime_bench.function_env(server.server_port, env, memory_mb=256)
    err = tempfile.TemporaryFile()
    Measured.started = time.perf_counter()
    proc = subprocess.Popen([binary], env=full_env, stdout=subprocess.DEVNULL, stderr=err)
    Measured.pid = proc.pid
    deadline = time.time() + 120
    while len(Measured.answers) < events and time.time() < deadline and proc.poll() is None:
        time.sleep(0.001)
    hwm_kb = 0
    if proc.poll() is None:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
    proc.kill()
    proc.wait()
    server.shutdown()
    if len(Measured.answers) < events:
        err.seek(0)
        raise SystemExit(f"{binary}: {len(Measured.answers)} of {events} answers (exit {proc.returncode}): "
                         f"{err.read()[-2000:].decode(errors='replace')}")
    for a in Measured.answers:
        if json.loads(a).get("batchItemFailures"):
            raise SystemExit(f"{binary} failed the batch: {a[:300]}")
    cpu = [(r - h) / 1e6 for h, r in zip(Measured.cpu_handed, Measured.cpu_responded)]
    return Measured.cold_ms, cpu[0], cpu[1:], hwm_kb / 1024, Measured.largest_put


def python_handler_factory(endpoint):
    import boto3
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("ts", pa.timestamp("us", tz="UTC")), ("user", pa.string()), ("latency_ms", pa.int64()),
        ("price", pa.float64()), ("ok", pa.bool_()), ("tags", pa.list_(pa.string())),
        ("geo", pa.struct([("lat", pa.float64()), ("lon", pa.float64())])),
        ("path", pa.string()), ("status", pa.int32()),
    ])
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")

    def handler(event_bytes):
        event = json.loads(event_bytes)
        lines = b"\n".join(base64.b64decode(r["kinesis"]["data"]) for r in event["Records"])
        table = pj.read_json(io.BytesIO(lines), parse_options=options)
        out = io.BytesIO()
        pq.write_table(table, out, compression="zstd")
        body = out.getvalue()
        s3.put_object(Bucket="bench", Key="python/object.parquet", Body=body)
        return table.num_rows, len(body)

    return handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--events", type=int, default=6, help="invocations per process (the first is cold)")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(runtime_bench.ROOT, "target")))
    args = ap.parse_args()
    binary = os.path.join(args.target_dir, "release", "batch-to-s3")
    if not os.path.exists(binary):
        sys.exit(f"{binary} is missing: cargo build --release --bin batch-to-s3")
    med = statistics.median
    event = kinesis_event()
    event_bytes = json.dumps(event).encode()
    rows = len(event["Records"])
    payload = sum(len(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"])

    # The Python handler's S3: the same stand-in, kept up for the whole run, speaking
    # HTTP/1.1 so that it answers boto3's `Expect: 100-continue` at once.
    import http.server

    class PythonS3(runtime_bench.Runtime):
        protocol_version = "HTTP/1.1"

    s3_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PythonS3)
    threading.Thread(target=s3_server.serve_forever, daemon=True).start()
    handler = python_handler_factory(f"http://127.0.0.1:{s3_server.server_port}")
    handler(event_bytes)  # warm: imports, the client's first connection

    envs = {
        "parquet zstd": {"BUCKET_NAME": "bench", "FORMAT": "parquet", "SCHEMA": SCHEMA},
        "ndjson gzip": {"BUCKET_NAME": "bench", "COMPRESSION": "gzip"},
        "ndjson zstd": {"BUCKET_NAME": "bench", "COMPRESSION": "zstd"},
    }
    res = {k: [] for k in envs}
    py = []
    ratios = []
    for _ in range(args.rounds):
        t0 = time.process_time()
        w0 = time.perf_counter()
        n, py_bytes = handler(event_bytes)
        py.append(((time.process_time() - t0) * 1000, (time.perf_counter() - w0) * 1000, py_bytes))
        assert n == rows, (n, rows)
        for name, env in envs.items():
            res[name].append(run_rust(binary, event_bytes, env, args.events))
        ratios.append(py[-1][0] / med(res["parquet zstd"][-1][2]))

    print(f"## batch-to-s3 FORMAT=parquet vs a pyarrow handler: one {len(event_bytes) / 1e6:.2f} MB Kinesis event, "
          f"{rows:,} records ({payload / 1e6:.2f} MB of JSON); {args.rounds} rounds, each a fresh process "
          f"handling the event {args.events} times (the first cold, the rest warm); medians; {os.cpu_count()} cores")
    print()
    print("| path | warm CPU ms | first (cold) invocation CPU ms | MB/s (record JSON, warm CPU) | rows/s (warm CPU) | object bytes | cold start ms | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in res.items():
        warm = med([c for r in rs for c in r[2]])
        print(f"| rust {name} | {warm:.1f} | {med(r[1] for r in rs):.1f} | {payload / 1e6 / (warm / 1000):.0f} | "
              f"{rows / (warm / 1000):,.0f} | {rs[0][4]:,} | {med(r[0] for r in rs):.1f} | {max(r[3] for r in rs):.1f} |")
    pcpu = med(p[0] for p in py)
    print(f"| python pyarrow zstd (warm) | {pcpu:.1f} | | {payload / 1e6 / (pcpu / 1000):.0f} | "
          f"{rows / (pcpu / 1000):,.0f} | {py[0][2]:,} | | |")
    print()
    print(f"warm CPU ratio python / rust parquet, per round: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {med(ratios):.2f}")
    print(f"object size rust / pyarrow: {res['parquet zstd'][0][4] / py[0][2]:.3f}")
    s3_server.shutdown()


if __name__ == "__main__":
    main()

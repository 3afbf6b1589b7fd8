#!/usr/bin/env python3
"""batch-to-iceberg as a whole process, release build, against the local stack (moto's Glue
and S3): cold start, the handling of one 6 MiB Kinesis event split into encode / write /
commit (from the function's own summary line), process CPU, peak RSS and binary size; and,
side by side in the same run, a Python handler doing the same job with pyiceberg
(base64 -> pyarrow.json -> table.append), the way AWS's Python samples would; and the cost
of routing: each run's event appended once to one table and once routed by /event to three
tables (ICEBERG_ROUTES), the two runs one after the other.

Usage: python3 bench/iceberg_bench.py [--runs N] [--target-dir target]
Needs the stack (scripts/stack.sh start; scripts/bench.sh starts it) and
`cargo build --release --bin batch-to-iceberg`. Nothing leaves 127.0.0.1.
"""

import argparse
import base64
import io
import json
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_bench as rb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = "id bigint, user string, event string, ts bigint, pad string"


def glue_and_s3():
    import boto3
    kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    return boto3.client("glue", **kw), boto3.client("s3", **kw)


def iceberg_event():
    """rb.kinesis_event's records, with the pad made of random letters (a fixed seed), so
    Parquet cannot shrink it to nothing and the write costs what it would."""
    import random
    rng = random.Random(7)
    event = rb.kinesis_event()
    for r in event["Records"]:
        body = json.loads(base64.b64decode(r["kinesis"]["data"]))
        body["pad"] = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=len(body["pad"])))
        r["kinesis"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
    return event


def event_for(shard, event):
    text = json.dumps(event).replace("shardId-000000000000", shard)
    return text.encode()


def run_once(binary, event_bytes, env):
    """One cold batch-to-iceberg process against the local stack, and its summary line."""
    overrides = dict(env, AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
                     AWS_LAMBDA_LOG_LEVEL="INFO", AWS_MAX_ATTEMPTS=None)
    r = rb.run_process(binary, event_bytes, overrides, memory_mb=512, capture_stdout=True)
    summary = None
    for line in r["stdout"].splitlines():
        if "batch-to-iceberg summary" in line:
            summary = json.loads(line)
            summary = summary.get("fields", summary)
    if summary is None:
        raise SystemExit(f"no summary line in the output:\n{r['stdout'][-2000:]}")
    if summary.get("retry_from"):
        raise SystemExit(f"the batch was not committed: {summary}")
    return dict(r, summary=summary)


def python_handler(catalog_props, database, table, event):
    """The peer: a Python Lambda handler with pyiceberg, timed in this process."""
    import pyarrow.json as pj
    from pyiceberg.catalog import load_catalog
    t0, c0 = time.perf_counter(), time.process_time()
    catalog = load_catalog("bench", **catalog_props)
    tbl = catalog.load_table(f"{database}.{table}")
    raw = b"\n".join(base64.b64decode(r["kinesis"]["data"]) for r in event["Records"])
    arrow = pj.read_json(io.BytesIO(raw)).cast(tbl.schema().as_arrow())
    last = event["Records"][-1]["kinesis"]["sequenceNumber"]
    tbl.append(arrow, snapshot_properties={"trickle.bench.py": last})
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    args = ap.parse_args()
    binary = os.path.join(args.target_dir, "release", "batch-to-iceberg")
    if not os.path.exists(binary):
        sys.exit(f"{binary} is missing: cargo build --release --bin batch-to-iceberg")
    glue, s3 = glue_and_s3()
    bucket = f"iceberg-bench-{uuid.uuid4().hex[:10]}"
    database = f"bench_{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": database})
    env = {"ICEBERG_DATABASE": database, "ICEBERG_TABLE": "events",
           "ICEBERG_WAREHOUSE": f"s3://{bucket}/warehouse", "ERROR_BUCKET": bucket, "SCHEMA": SCHEMA}
    routed_env = {k: v for k, v in env.items() if k != "ICEBERG_TABLE"}
    routed_env.update(ICEBERG_ROUTE_POINTER="/event",
                      ICEBERG_ROUTES="click: clicks; view: views; buy: buys")
    event = iceberg_event()
    results, routed = [], []
    for i in range(args.runs + 1):
        # One shard per run: each run commits, on a table that grows by a snapshot a run;
        # then the same event routed to three tables.
        results.append(run_once(binary, event_for(f"shardId-{i:012d}", event), env))
        routed.append(run_once(binary, event_for(f"shardId-{i:012d}", event), routed_env))
    first, rest = results[0], results[1:]
    records = len(event["Records"])
    size = len(json.dumps(event))

    def med(key, rows=rest):
        return statistics.median(r[key] for r in rows)

    def med_s(key):
        return statistics.median(float(r["summary"][key]) for r in rest)

    def med_ms(key):
        return med_s(key) / 1000

    print(f"batch-to-iceberg, release, one {size:,}-byte event of {records:,} records per run, "
          f"against moto's Glue and S3 ({args.runs} runs after the one that creates the table):")
    print("| figure | median |")
    print("|---|---|")
    print(f"| cold start (spawn -> first /next) | {med('cold_ms'):.1f} ms |")
    print(f"| encode (JSON -> Arrow) | {med_ms('encode_us'):.1f} ms |")
    print(f"| write (Parquet -> S3 PUTs) | {med_ms('upload_us'):.1f} ms |")
    print(f"| commit (GetTable, manifest list GET, 3 PUTs, UpdateTable) | {med_ms('commit_us'):.1f} ms |")
    print(f"| whole invocation, wall | {med('handle_ms'):.0f} ms |")
    print(f"| process CPU (init + invocation) | {med('cpu_ms'):.0f} ms |")
    print(f"| peak RSS | {max(r['rss_mb'] for r in results):.1f} MB |")
    print(f"| binary size | {os.path.getsize(binary) / 1e6:.1f} MB |")
    print(f"| Parquet written | {int(med_s('bytes_written')):,} bytes in {int(med_s('data_files'))} file(s) |")
    print(f"first run (creates the table): {first['handle_ms']:.0f} ms")

    r_rest = routed[1:]
    r_tables = int(statistics.median(int(r["summary"]["tables_committed"]) for r in r_rest))
    print()
    print(f"Routing: the same event to one table, and routed by /event to {r_tables} tables "
          "(click, view, buy), run after run:")
    print("| median per batch | one table | routed to 3 tables | routed / one |")
    print("|---|---|---|---|")

    def row(label, one, three, unit="ms"):
        print(f"| {label} | {one:.1f} {unit} | {three:.1f} {unit} | {three / one:.2f}x |")

    def rmed_ms(key):
        return statistics.median(float(r["summary"][key]) for r in r_rest) / 1000

    row("encode (route, JSON -> Arrow)", med_ms("encode_us"), rmed_ms("encode_us"))
    row("write (Parquet -> S3 PUTs)", med_ms("upload_us"), rmed_ms("upload_us"))
    row("commit", med_ms("commit_us"), rmed_ms("commit_us"))
    print(f"| commit per table | {med_ms('commit_us'):.1f} ms | {rmed_ms('commit_us') / r_tables:.1f} ms | "
          f"{rmed_ms('commit_us') / r_tables / med_ms('commit_us'):.2f}x |")
    row("whole invocation, wall", med("handle_ms"), statistics.median(r["handle_ms"] for r in r_rest))
    row("process CPU", med("cpu_ms"), statistics.median(r["cpu_ms"] for r in r_rest))

    props = {"type": "glue", "glue.endpoint": os.environ["AWS_ENDPOINT_URL"], "glue.region": "us-east-1",
             "s3.endpoint": os.environ["AWS_ENDPOINT_URL"], "s3.path-style-access": "true",
             "s3.region": "us-east-1", "s3.access-key-id": "test", "s3.secret-access-key": "test",
             "glue.access-key-id": "test", "glue.secret-access-key": "test"}
    py = [python_handler(props, database, "events", event) for _ in range(args.runs)]
    py_wall = statistics.median(p[0] for p in py)
    py_cpu = statistics.median(p[1] for p in py)
    rust_wall, rust_cpu = med("handle_ms"), med("cpu_ms")
    print()
    print("Side by side, same event, same table, same moto, this run:")
    print("| handler | wall ms | CPU ms |")
    print("|---|---|---|")
    print(f"| batch-to-iceberg (Rust, whole process incl. init) | {rust_wall:.0f} | {rust_cpu:.0f} |")
    print(f"| Python + pyiceberg 0.11 (load_table + read_json + append) | {py_wall:.0f} | {py_cpu:.0f} |")
    print(f"| ratio Python / Rust | {py_wall / rust_wall:.1f}x | {py_cpu / rust_cpu:.1f}x |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Peak RSS of the release binaries on the worst events we can construct (hostile input):
what one record may expand to is bounded (docs/design/performance.md, hostile input).

Usage: python3 bench/memory_bench.py [--target-dir target]
Builds nothing: run `cargo build --release --bin batch-to-s3 --bin firehose-transform` first.
Each case is one cold process serving one event through the Runtime API stand-in of
runtime_bench.py (loopback only; it also answers as S3); peak RSS is VmHWM after the event.
"""

import argparse
import base64
import gzip
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_bench  # noqa: E402

KPL_MAGIC = bytes([0xF3, 0x89, 0x9A, 0xC2])


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def aggregate(records, partition_key=b"k", empty_messages=False):
    """A KPL aggregate; with `empty_messages` every user record is an empty Record message
    (2 bytes: partition key index 0 and no data, which the KPL's decoders accept)."""
    body = field(1, partition_key)
    for data in records:
        record = b"" if empty_messages else b"\x08\x00" + field(3, data)
        body += field(3, record)
    return KPL_MAGIC + body + hashlib.md5(body).digest()


def kinesis_event(datas, partition_key="k"):
    records = []
    for i, data in enumerate(datas):
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": partition_key,
                        "sequenceNumber": str(49590000000000000000000000000000000000000000000000000000 + i),
                        "data": base64.b64encode(data).decode(),
                        "approximateArrivalTimestamp": 1700000000.123},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{i}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench"})
    return {"Records": records}


def cloudwatch_logs_record(decoded):
    events, i, size = [], 0, 200
    while size < decoded:
        e = {"id": f"{i:056d}", "timestamp": 1733300000000, "message": f"m{i}"}
        events.append(e)
        size += len(json.dumps(e)) + 1
        i += 1
    doc = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/x",
           "logStream": "s", "subscriptionFilters": ["f"], "logEvents": events}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return raw, gzip.compress(raw, 1)


def firehose_event(data):
    return {"invocationId": "bench", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
            "region": "us-east-1",
            "records": [{"recordId": "0" * 56, "approximateArrivalTimestamp": 1700000000123,
                         "data": base64.b64encode(data).decode()}]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(runtime_bench.ROOT, "target")))
    args = ap.parse_args()
    mib = 1 << 20
    hostile = aggregate([b""] * 524_256, empty_messages=True)
    long_key = b"p" * 256
    dense = [aggregate([b"not json, twenty-six bytes"] * (mib // 32 - 16), partition_key=long_key) for _ in range(4)]
    partitioned = {"BUCKET_NAME": "bench", "OBJECT_PARTITION_POINTER": "/customer"}
    parquet = dict(partitioned, FORMAT="parquet", SCHEMA="id string, n bigint")
    cwl8, cwl8_gz = cloudwatch_logs_record(8 * mib - 4096)
    cwl24, cwl24_gz = cloudwatch_logs_record(24 * mib - 4096)
    cases = [
        ("batch-to-s3", "1 MiB aggregate of 524,256 empty records, partitioned NDJSON", kinesis_event([hostile]), partitioned),
        ("batch-to-s3", "same, Parquet", kinesis_event([hostile]), parquet),
        ("batch-to-s3", "4 densest allowed 1 MiB aggregates of non-JSON, 256-byte key, partitioned", kinesis_event(dense, "p" * 256), partitioned),
        ("batch-to-s3", "same, Parquet", kinesis_event(dense, "p" * 256), parquet),
        ("firehose-transform", f"CloudWatch Logs record decoding to {len(cwl8):,} B (default bound)", firehose_event(cwl8_gz), {}),
        ("firehose-transform", f"CloudWatch Logs record decoding to {len(cwl24):,} B (the ceiling)", firehose_event(cwl24_gz), {"MAX_DECOMPRESSED_BYTES": str(24 * mib)}),
    ]
    print("| function | event | event bytes | handle ms | peak RSS MB | answer |")
    print("|---|---|---:|---:|---:|---|")
    for name, label, event, env in cases:
        binary = os.path.join(args.target_dir, "release", name)
        if not os.path.exists(binary):
            sys.exit(f"{binary} is missing: cargo build --release --bin {name}")
        r = runtime_bench.run_process(binary, json.dumps(event).encode(), env, memory_mb=256)
        answer = r["response"][:60].decode(errors="replace").replace("|", "/")
        print(f"| {name} | {label} | {r['event_bytes']:,} | {r['handle_ms']:.0f} | {r['rss_mb']:.1f} | `{answer}` |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""De-aggregates Kinesis records with the official `aws-kinesis-agg` package.

Reads a JSON list of Lambda-style Kinesis records on stdin
(`[{"kinesis": {"data": <base64>, "partitionKey": ..., "sequenceNumber": ...}}, ...]`) and
prints the user records it finds, in order, as a JSON list of
`{"partitionKey", "explicitHashKey", "data"}` (data base64). Used by
tests/tests/kpl_interop.rs to check that what `ingest` aggregates is what the reference
de-aggregator (the one Firehose-style consumers and the KCL's Python port use) reads back.
"""

import json
import sys

from aws_kinesis_agg.deaggregator import deaggregate_records

records = json.load(sys.stdin)
# The package reads the whole Lambda event record shape (and on a missing field prints an
# error and returns nothing), so fill in what a Kinesis event carries besides the data.
for i, r in enumerate(records):
    k = r["kinesis"]
    k.setdefault("kinesisSchemaVersion", "1.0")
    k.setdefault("approximateArrivalTimestamp", 1700000000.0)
    r.setdefault("eventSource", "aws:kinesis")
    r.setdefault("eventVersion", "1.0")
    r.setdefault("eventID", "shardId-000000000000:%s" % k.get("sequenceNumber", i))
    r.setdefault("eventName", "aws:kinesis:record")
    r.setdefault("invokeIdentityArn", "arn:aws:iam::123456789012:role/trickle-test")
    r.setdefault("awsRegion", "us-east-1")
    r.setdefault("eventSourceARN", "arn:aws:kinesis:us-east-1:123456789012:stream/trickle")
out = []
for r in deaggregate_records(records):
    k = r["kinesis"]
    out.append({
        "partitionKey": k.get("partitionKey"),
        "explicitHashKey": k.get("explicitHashKey"),
        # base64 text; the package hands de-aggregated records' data back as bytes
        "data": k["data"].decode("ascii") if isinstance(k["data"], bytes) else k["data"],
    })
json.dump(out, sys.stdout)

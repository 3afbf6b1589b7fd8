#!/usr/bin/env python3
"""KPL aggregation test vectors made with the official `aws-kinesis-agg` package.

The Rust tests in functions/batch-to-s3 (src/decode.rs) check that our de-aggregation
(`trickle_shared::kpl::deaggregate`) recovers exactly the user records the official
aggregator put in, so our reading of the format is the reference one, not our own.

Regenerate (the output is committed; only rerun when changing the cases):

    python3 -m venv /tmp/kplvenv && /tmp/kplvenv/bin/pip install aws-kinesis-agg==1.2.3 six
    /tmp/kplvenv/bin/python events/kpl/generate.py

Writes events/kpl/vectors.json and events/kinesis-kpl-aggregated.json (a Lambda Kinesis
event whose records are the first two vectors, for handler tests and `cargo lambda invoke`).
"""

import base64
import json
import os

import aws_kinesis_agg
from aws_kinesis_agg.aggregator import RecordAggregator

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.dirname(HERE)

CASES = [
    (
        "three-json-records-two-keys",
        [
            ("customer-1", None, b'{"customer":"acme","n":1}'),
            ("customer-2", None, b'{"customer":"globex","n":2}'),
            ("customer-1", None, b'{"customer":"acme","n":3}\n'),
        ],
    ),
    (
        "explicit-hash-keys",
        [
            ("pk", "170141183460469231731687303715884105728", b'{"customer":"initech","n":4}'),
            ("pk", "0", b'{"customer":"initech","n":5}'),
            ("other", "170141183460469231731687303715884105728", b'{"n":6}'),
        ],
    ),
    ("one-record", [("only", None, b'{"single":true}')]),
    ("binary-and-empty-data", [("b", None, bytes(range(256))), ("b", None, b"")]),
    (
        "many-records",
        [("k%d" % (i % 7), None, json.dumps({"i": i, "pad": "x" * (i % 50)}).encode()) for i in range(200)],
    ),
]


def aggregate(records):
    agg = RecordAggregator()
    for pk, ehk, data in records:
        if agg.add_user_record(pk, data, ehk) is not None:
            raise SystemExit("case does not fit one aggregated record")
    rec = agg.clear_and_get()
    pk, ehk, data = rec.get_contents()
    return pk, data


def b64(b):
    return base64.b64encode(b).decode()


def main():
    vectors = []
    for name, records in CASES:
        pk, data = aggregate(records)
        assert data[:4] == aws_kinesis_agg.MAGIC
        vectors.append(
            {
                "name": name,
                "partitionKey": pk,
                "aggregated": b64(data),
                "userRecords": [
                    {"partitionKey": p, "explicitHashKey": e, "data": b64(d)} for p, e, d in records
                ],
            }
        )
    meta = {
        "generator": "events/kpl/generate.py",
        "package": "aws-kinesis-agg " + getattr(aws_kinesis_agg, "__version__", "1.2.3"),
        "vectors": vectors,
    }
    with open(os.path.join(HERE, "vectors.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")

    # A Lambda Kinesis event: one plain record, then two aggregates (sequence numbers are
    # real-looking 56-digit numbers, beyond u128).
    base = 49590338271490256608559692538361571095921575989136588800
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/trickle"
    shard = "shardId-000000000002"
    datas = [(b'{"customer":"plain","n":0}', "plain")] + [
        (base64.b64decode(v["aggregated"]), v["partitionKey"]) for v in vectors[:2]
    ]
    records = []
    for i, (data, pk) in enumerate(datas):
        seq = str(base + i * 1000)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": pk,
                    "sequenceNumber": seq,
                    "data": b64(data),
                    "approximateArrivalTimestamp": 1718000000.25 + i,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": shard + ":" + seq,
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/batch-to-s3",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
            }
        )
    with open(os.path.join(EVENTS, "kinesis-kpl-aggregated.json"), "w") as f:
        json.dump({"Records": records}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()

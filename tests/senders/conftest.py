"""What every sender test needs: the local function-URL front (tools/function-url/front.py)
in front of ingest under `cargo lambda watch`, and the stream ingest writes to, read back.

Needs, from `make senders` or `make test` (scripts/senders.sh sets them): moto
(`AWS_ENDPOINT_URL`), `cargo lambda watch` on `LAMBDA_PORT` with ingest's environment, and
`TRICKLE_SENDERS_STREAM`, the stream that ingest writes to. Without them every test fails,
naming what to start: none is skipped.
"""

import importlib.util
import os
import pathlib
import socket
import threading
import time

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NEEDED = ("AWS_ENDPOINT_URL", "LAMBDA_PORT", "TRICKLE_SENDERS_STREAM")


def _front_module():
    spec = importlib.util.spec_from_file_location("front", ROOT / "tools" / "function-url" / "front.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def env():
    missing = [n for n in NEEDED if not os.environ.get(n)]
    assert not missing, (f"{missing} not set: run these tests with `make senders` (or `make test`), "
                         "which start moto, cargo lambda watch and the stream")
    return os.environ


@pytest.fixture(scope="session")
def page_port():
    """The port test_browser.py serves its page on: the one origin the front's CORS allows."""
    return _free_port()


@pytest.fixture(scope="session")
def front(env, page_port):
    """The front's base URL, CORS open to the test page's origin only."""
    port = _free_port()
    module = _front_module()
    invoke = f"http://127.0.0.1:{env['LAMBDA_PORT']}"
    thread = threading.Thread(target=module.serve,
                              args=(port, invoke, "ingest", [f"http://127.0.0.1:{page_port}"]),
                              daemon=True)
    thread.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def kinesis(env):
    return boto3.client("kinesis", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")


class Stream:
    """The records put into the stream since `mark()`."""

    def __init__(self, kinesis, name):
        self.kinesis, self.name = kinesis, name
        self.iterators = {}

    def mark(self):
        shards = self.kinesis.list_shards(StreamName=self.name)["Shards"]
        self.iterators = {
            s["ShardId"]: self.kinesis.get_shard_iterator(
                StreamName=self.name, ShardId=s["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
            for s in shards
        }

    def records(self, with_shard=False):
        out = []
        for shard, it in self.iterators.items():
            while it:
                r = self.kinesis.get_records(ShardIterator=it, Limit=10000)
                out.extend((shard, rec) for rec in r["Records"])
                if not r["Records"]:
                    break
                it = r.get("NextShardIterator")
        out.sort(key=lambda sr: int(sr[1]["SequenceNumber"]))
        return out if with_shard else [rec for _, rec in out]


@pytest.fixture
def stream(env, kinesis):
    s = Stream(kinesis, env["TRICKLE_SENDERS_STREAM"])
    s.mark()
    return s


@pytest.fixture(scope="session")
def s3(env):
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")


def kinesis_event(stream_name, shard, records):
    """The event Lambda's event source mapping hands batch-to-s3 for one shard's records."""
    import base64

    return {"Records": [{
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r["PartitionKey"],
            "sequenceNumber": r["SequenceNumber"],
            "data": base64.b64encode(r["Data"]).decode(),
            "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{r['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/batch-to-s3",
        "awsRegion": "us-east-1",
        "eventSourceARN": f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream_name}",
    } for r in records]}


def invoke(env, function, event):
    """Invokes a function under cargo lambda watch (the Lambda Invoke API) and returns its answer."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{env['LAMBDA_PORT']}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(), method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as r:
        return json.loads(r.read())

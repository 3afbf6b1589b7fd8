"""Each common sender's payload, through real HTTP to ingest, lands one record per event.

Produced by the real client where one installs here (curl, Python `requests` and `httpx`);
built from the sender's documentation and source where it does not (Fluent Bit, Vector,
Logstash, whose settings docs/guides/senders.md cites). Every test reads the records back
from the stream ingest wrote to. What each sender sends:

- Fluent Bit `out_http` (plugins/out_http/http.c): `format msgpack` (its default) as
  `application/msgpack`; `json`, `json_stream`, `json_lines` and `gelf` all as
  `application/json`; `compress gzip` as `Content-Encoding: gzip`.
- Vector `http` sink: `encoding.codec = "json"` sends a JSON array (`application/json`),
  `framing.method = "newline_delimited"` NDJSON (`application/x-ndjson`); `compression`
  gzip, zlib (`Content-Encoding: deflate`), zstd, snappy.
- Logstash `http` output: `format => "json_batch"` a JSON array, `http_compression => true`
  gzip.
"""

import gzip
import json
import subprocess
import zlib

import brotli
import cramjam
import httpx
import msgpack
import pytest
import requests
import zstandard

EVENTS = [{"level": "info", "msg": f"event {i}", "n": i} for i in range(25)]
NDJSON = "".join(json.dumps(e) + "\n" for e in EVENTS).encode()


def stored(stream):
    """The data of each record put since the mark, parsed as JSON, in a stable order."""
    return sorted((json.loads(r["Data"]) for r in stream.records()), key=json.dumps)


def same(events):
    return sorted(events, key=json.dumps)


def test_curl_ndjson_gzip(front, stream):
    # The recipe: gzip -c events.ndjson | curl --data-binary @- -H ... URL
    p = subprocess.run(
        ["curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "--data-binary", "@-",
         "-H", "Content-Type: application/x-ndjson", "-H", "Content-Encoding: gzip", front],
        input=gzip.compress(NDJSON), capture_output=True, check=True)
    assert p.stdout == b"200", p.stderr
    assert stored(stream) == same(EVENTS)


def test_python_requests_json_array(front, stream):
    r = requests.post(front, json=EVENTS, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["FailedRecordCount"] == 0
    assert stored(stream) == same(EVENTS)


def test_httpx_zstd_ndjson(front, stream):
    body = zstandard.ZstdCompressor().compress(NDJSON)
    r = httpx.post(front, content=body, timeout=30,
                   headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "zstd"})
    assert r.status_code == 200, r.text
    assert stored(stream) == same(EVENTS)


def fluent_bit_msgpack(events, v2=True):
    """Fluent Bit's chunk: [[EventTime, metadata], record] per event (2.1+), or the older
    [EventTime, record]."""
    out = b""
    for i, e in enumerate(events):
        ts = msgpack.ExtType(0, (1_700_000_000 + i).to_bytes(4, "big") + (500_000_000).to_bytes(4, "big"))
        head = [ts, {}] if v2 else ts
        out += msgpack.packb([head, e])
    return out


@pytest.mark.parametrize("v2", [True, False], ids=["fluent-bit-2.1+", "fluent-bit-older"])
def test_fluent_bit_msgpack_default_format(front, stream, v2):
    r = requests.post(front, data=gzip.compress(fluent_bit_msgpack(EVENTS, v2)), timeout=30,
                      headers={"Content-Type": "application/msgpack", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    want = [dict(e, date=1_700_000_000 + i + 0.5) for i, e in enumerate(EVENTS)]
    assert stored(stream) == same(want)


@pytest.mark.parametrize("fmt", ["json_stream", "json_lines", "gelf"])
def test_fluent_bit_json_formats_sent_as_application_json(front, stream, fmt):
    if fmt == "gelf":
        events = [{"version": "1.1", "host": "h", "short_message": e["msg"], "timestamp": 1.5,
                   "_n": e["n"]} for e in EVENTS]
    else:
        events = [dict(e, date=1700000000.25) for e in EVENTS]
    sep = "" if fmt == "json_stream" else "\n"
    body = sep.join(json.dumps(e) for e in events) + sep
    r = requests.post(front, data=body.encode(), timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert stored(stream) == same(events)


@pytest.mark.parametrize("compression,encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),  # Vector's zlib
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ("snappy", lambda b: bytes(cramjam.snappy.compress_raw(b))),
])
@pytest.mark.parametrize("framing", ["array", "newline_delimited"])
def test_vector_http_sink(front, stream, compression, encode, framing):
    if framing == "array":
        body, content_type = json.dumps(EVENTS).encode(), "application/json"
    else:
        body, content_type = NDJSON, "application/x-ndjson"
    r = requests.post(front, data=encode(body), timeout=30,
                      headers={"Content-Type": content_type, "Content-Encoding": compression})
    assert r.status_code == 200, r.text
    assert stored(stream) == same(EVENTS)


def test_logstash_json_batch_gzip(front, stream):
    r = requests.post(front, data=gzip.compress(json.dumps(EVENTS).encode()), timeout=30,
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert stored(stream) == same(EVENTS)


@pytest.mark.parametrize("encoding,encode", [
    ("br", brotli.compress),
    ("x-snappy-framed", lambda b: bytes(cramjam.snappy.compress(b))),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some clients send it
])
def test_other_encodings_through_real_http(front, stream, encoding, encode):
    r = requests.post(front, data=encode(NDJSON), timeout=30,
                      headers={"Content-Type": "application/x-ndjson", "Content-Encoding": encoding})
    assert r.status_code == 200, r.text
    assert stored(stream) == same(EVENTS)


def test_refusals_name_what_to_change(front, stream):
    r = requests.post(front, data=b"x", timeout=30,
                      headers={"Content-Type": "text/plain", "Content-Encoding": "gzip, br"})
    assert r.status_code == 415 and "zstd" in r.json()["error"]
    bomb = gzip.compress(b"\n" * (7 * 1024 * 1024))
    r = requests.post(front, data=bomb, timeout=30,
                      headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "batch.max_bytes" in r.json()["error"], r.text
    r = requests.post(front, data=msgpack.packb([msgpack.ExtType(9, b"x"), {"a": 1}]), timeout=30,
                      headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 400 and "event 0" in r.json()["error"], r.text
    assert stream.records() == []


def test_a_request_over_six_mb_is_refused_before_ingest(front, stream):
    r = requests.post(front, data=b"a" * (6 * 1024 * 1024 + 1), timeout=30,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
    assert stream.records() == []


def test_what_senders_send_lands_in_batch_to_s3_objects_one_json_line_per_event(
        env, front, stream, s3):
    """The stream's records through batch-to-s3 (invoked as the event source mapping would,
    per shard): every object line is one JSON object, one per event: Fluent Bit's msgpack, the
    tutorial's text, a JSON scalar and bytes that are not UTF-8."""
    from conftest import invoke, kinesis_event

    r = requests.post(front, data=fluent_bit_msgpack(EVENTS[:3]), timeout=30,
                      headers={"Content-Type": "application/msgpack"})
    assert r.status_code == 200, r.text
    for body, content_type in [(b"HelloWorld", "text/plain"), (b"42", "application/json"),
                               (b"\xff\xfe\x00", "application/octet-stream")]:
        r = requests.post(front, data=body, headers={"Content-Type": content_type}, timeout=30)
        assert r.status_code == 200, r.text
    by_shard = {}
    for shard, rec in stream.records(with_shard=True):
        by_shard.setdefault(shard, []).append(rec)
    assert sum(map(len, by_shard.values())) == 6
    bucket = env["TRICKLE_SENDERS_STREAM"]  # make_env_file: the bucket has the stream's name
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="data/").get("Contents", [])}
    for shard, records in by_shard.items():
        answer = invoke(env, "batch-to-s3", kinesis_event(env["TRICKLE_SENDERS_STREAM"], shard, records))
        assert answer == {"batchItemFailures": []}, answer
    keys = sorted({o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="data/")["Contents"]} - before)
    lines = []
    for key in keys:
        lines += gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(row, dict) for row in rows), lines
    want = [dict(e, date=1_700_000_000 + i + 0.5) for i, e in enumerate(EVENTS[:3])]
    want += [{"message": "HelloWorld"}, {"value": 42}, {"data_base64": "//4A"}]
    assert sorted(rows, key=json.dumps) == same(want)


def test_a_request_retried_with_its_idempotency_key_is_stored_once(front, stream):
    """requests with `Idempotency-Key`, through the front and cargo lambda watch into ingest
    and its request memory (moto's DynamoDB): the sender retries as if the first answer were
    lost, then reuses the key with another body."""
    import uuid

    key = f"order-batch-{uuid.uuid4()}"
    events = [{"order": i, "total": i * 10} for i in range(50)]
    body = "\n".join(json.dumps(e) for e in events).encode()
    headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": key}
    first = requests.post(front, data=body, headers=headers, timeout=60)
    assert first.status_code == 200, first.text
    for _ in range(2):
        again = requests.post(front, data=body, headers=headers, timeout=60)
        assert (again.status_code, again.json()) == (200, first.json())
    reused = requests.post(front, data=b'{"order": 999}', headers=headers, timeout=60)
    assert reused.status_code == 422, reused.text
    assert stored(stream) == same(events)

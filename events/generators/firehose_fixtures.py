# Generates trickle's own Firehose fixtures in events/ (the *-sam.json ones come from
# `sam local generate-event kinesis kinesis-firehose` and `... cloudwatch-logs-processor`).
# Run: python3 events/generators/firehose_fixtures.py  (deterministic: gzip mtime is 0)
import base64, gzip, json, os
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ARR = 1700000000123
SRC = "arn:aws:kinesis:us-east-1:123456789012:stream/trickle-records"
DS = "arn:aws:firehose:us-east-1:123456789012:deliverystream/trickle-delivery"
def b64(b): return base64.b64encode(b).decode()
def gz(b): return gzip.compress(b, 9, mtime=0)
seq = [49590000000000000000000000000000000000000000000000000000]
def rec(i, data, pk=None, kinesis=True):
    r = {"recordId": f"4959{i:052d}0000", "approximateArrivalTimestamp": ARR + i, "data": b64(data)}
    if kinesis:
        r["kinesisRecordMetadata"] = {"shardId": "shardId-000000000000", "partitionKey": pk or f"pk-{i}",
            "approximateArrivalTimestamp": ARR + i, "sequenceNumber": str(seq[0] + i), "subsequenceNumber": 0}
    return r
def event(records, kinesis=True, inv="fixture"):
    e = {"invocationId": inv, "deliveryStreamArn": DS, "region": "us-east-1", "records": records}
    if kinesis: e["sourceKinesisStreamArn"] = SRC
    return e
def write(name, e):
    with open(os.path.join(OUT, name), "w") as f: json.dump(e, f, indent=2); f.write("\n")

write("firehose-kinesis-json.json", event([
    rec(1, b'{"customer": {"id": "c-1"}, "level": "info", "amount": 12.50, "big": 123456789012345678901234567890}\n', "c-1"),
    rec(2, b'{\n  "customer": {"id": "c-2"},\n  "level": "debug",\n  "note": "tab\\there"\n}', "c-2"),
    rec(3, b'[1, 2, 3]', "c-3"),
    rec(4, b'"just a string"', "c-4"),
]))
write("firehose-direct-put-text.json", event([
    rec(1, b"hello world\n", kinesis=False),
    rec(2, b"line one\nline two\n", kinesis=False),
    rec(3, b"quotes \"and\" backslash \\ and unicode \xc3\xa9\r\n", kinesis=False),
    rec(4, b"{not json", kinesis=False),
], kinesis=False))
write("firehose-binary.json", event([
    rec(1, bytes([0x00, 0xff, 0xfe, 0x80, 0x01, 0x02]), "b-1"),
    rec(2, b'{"ok": true}', "b-2"),
]))
write("firehose-gzip.json", event([
    rec(1, gz(b'{"customer": {"id": "c-9"}, "gz": true}'), "c-9"),
    rec(2, gz(b"gzipped text line\n"), "c-9"),
    rec(3, gz(b'{"customer": {"id": "c-9"}, "this gzip": "is cut short"}')[:-10], "c-9"),
]))
ctl = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
       "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1700000000000,
       "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}
data = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/trickle-ingest",
        "logStream": "2024/01/01/[$LATEST]abc", "subscriptionFilters": ["to-firehose"],
        "logEvents": [{"id": "3000000000000000000000000000000000000000000000000000000%d" % i, "timestamp": 1700000000000 + i,
                       "message": m} for i, m in enumerate([
                           '{"level":"INFO","msg":"started"}', "plain text event\n", '{"level":"DEBUG","msg":"noise"}'])]}
write("cloudwatch-logs-control-and-data.json", event([
    rec(1, gz(json.dumps(ctl).encode()), kinesis=False),
    rec(2, gz(json.dumps(data).encode()), kinesis=False),
], kinesis=False))
write("firehose-empty-record.json", event([
    rec(1, b"", "e-1"),
    rec(2, b"{}", "e-2"),
    rec(3, gz(b""), "e-3"),
]))
# Two records that each decode to ~3.4 MB of JSON (~4.5 MB of base64 out): only one fits the
# 6,000,000-byte response; the small record after them still fits (first fit).
def big(tag):
    items = [{"n": n, "tag": tag, "pad": "x" * 1000} for n in range(3300)]
    return json.dumps({"customer": {"id": tag}, "items": items}).encode()
write("firehose-overflow.json", event([
    rec(1, gz(big("big-1")), "big-1"),
    rec(2, gz(big("big-2")), "big-2"),
    rec(3, b'{"customer": {"id": "small"}}', "small"),
]))

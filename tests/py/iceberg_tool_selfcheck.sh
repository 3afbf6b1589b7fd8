#!/usr/bin/env bash
# Checks every iceberg_tool.py command against a running moto (scripts/stack.sh start), e.g.
#   MOTO_PORT=4620 bash scripts/stack.sh start && MOTO_PORT=4620 bash tests/py/iceberg_tool_selfcheck.sh
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$TRICKLE_ROOT"
bucket="selfcheck-$$-$RANDOM"
db="selfcheck_$$"
tool() { "$VENV/bin/python" tests/py/iceberg_tool.py "$@"; }
check() { "$VENV/bin/python" -c "import json,sys; d=json.load(sys.stdin); assert ($1), d" || { echo "FAILED: $1" >&2; exit 1; }; }

"$VENV/bin/python" -c "import boto3; boto3.client('s3').create_bucket(Bucket='$bucket')"
tool create --database "$db" --table ev --location "s3://$bucket/ev" \
  --schema '[{"name":"stream","type":"string","required":true},{"name":"ts","type":"timestamptz"},{"name":"n","type":"long"},{"name":"amt","type":"decimal(10,2)"},{"name":"s","type":{"type":"struct","fields":[{"name":"a","type":"int"}]}}]' \
  --partition '[{"source":"ts","transform":"hour"},{"source":"n","transform":"bucket[16]"}]' \
  | check 'd["metadata_location"].endswith(".metadata.json") and [p["name"] for p in d["partition_spec"]] == ["ts_hour", "n_bucket_16"]'
tool append --database "$db" --table ev --property trickle.s.shardId-0=7 \
  --rows '[{"stream":"s","ts":"2026-12-01T10:15:00Z","n":1,"amt":"1.50","s":{"a":3}},{"stream":"t","ts":"2026-12-01T11:00:00+01:00","n":2}]' \
  | check 'd["snapshot_id"] > 0'
tool add-column --database "$db" --table ev --name extra --type string | check 'd["schema"][-1]["name"] == "extra"'
tool append --database "$db" --table ev --rows '[{"stream":"s","n":3,"extra":"x"}]' --property trickle.s.shardId-0=9 >/dev/null
tool dump --database "$db" --table ev | check '
  d["row_count"] == 3 and len(d["snapshots"]) == 2 and len(d["data_files"]) == 2
  and d["snapshots"][1]["parent_id"] == d["snapshots"][0]["snapshot_id"]
  and d["current_snapshot_id"] == d["snapshots"][1]["snapshot_id"]
  and sorted(f["snapshot_id"] for f in d["data_files"]) == sorted([d["snapshots"][0]["snapshot_id"], d["current_snapshot_id"]])
  and d["snapshots"][1]["summary"]["trickle.s.shardId-0"] == "9"
  and {"stream": "s", "ts": "2026-12-01T10:15:00+00:00", "n": 1, "amt": "1.50", "s": {"a": 3}, "extra": None} in d["rows"]
  and {"ts": "2026-12-01T10:00:00+00:00"} == {"ts": [r for r in d["rows"] if r["stream"] == "t"][0]["ts"]}'
tool dump --database "$db" --table ev --columns stream,extra | check 'sorted(d["rows"][0]) == ["extra", "stream"]'
tool orphans --database "$db" --table ev --bucket "$bucket" | check 'd["orphans"] == [] and d["missing"] == [] and d["referenced"] == 10'
"$VENV/bin/python" -c "import boto3; boto3.client('s3').put_object(Bucket='$bucket', Key='ev/data/stray.parquet', Body=b'x')"
tool orphans --database "$db" --table ev --bucket "$bucket" | check 'd["orphans"] == ["ev/data/stray.parquet"]'
if tool dump --database "$db" --table nope 2>/dev/null; then echo "FAILED: dump of a missing table succeeded" >&2; exit 1; fi
echo "iceberg_tool self-check passed (database $db, bucket $bucket)"

#!/usr/bin/env bash
# The main job, locally: starts moto and `cargo lambda watch` on 127.0.0.1, creates a stream
# and a bucket, POSTs the original tutorial's records and a burst of JSON events to the ingest
# function URL, reads the stream back with `aws kinesis get-records`, runs both paths to S3
# (batch-to-s3, and Firehose with firehose-transform, driven by tools/local-pipeline) until the
# stream is drained, prints what landed in S3; then the same stream through batch-to-s3 with
# FORMAT=parquet, queried with DuckDB; then the same stream through batch-to-iceberg into an
# Iceberg table in (moto's) Glue, queried with pyiceberg and DuckDB; then OpenTelemetry logs,
# spans and metrics from the real OTel SDK through ingest into three routed Iceberg tables,
# queried the same way; and stops everything it started.
# Ports: MOTO_PORT (default 4566), LAMBDA_PORT (default 9000), FRONT_PORT (default
# LAMBDA_PORT + 80: the local function URL the OTel SDK posts to).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$TRICKLE_ROOT/scripts/lib.sh"
cd "$TRICKLE_ROOT"

with_local_stack
FRONT_PORT="${FRONT_PORT:-$((LAMBDA_PORT + 80))}"

stream="trickle-demo-$(date +%s)"
bucket="$stream"
say "Creating Kinesis stream $stream (1 shard, as in the tutorial) and S3 bucket $bucket"
create_stream_and_bucket "$stream"

say "Building the functions and the local pipeline (debug; the first build compiles the AWS SDK: several minutes)"
cargo build --quiet --bin ingest --bin batch-to-s3 --bin firehose-transform --bin batch-to-iceberg --bin local-pipeline
pipeline="${CARGO_TARGET_DIR:-$TRICKLE_ROOT/target}/debug/local-pipeline"

# The functions get exactly the environment template.yaml gives them, resolved locally.
make_env_file "$stream" "$bucket" "$LOCAL_DIR/lambda-$LAMBDA_PORT.env"
start_watch "$LOCAL_DIR/lambda-$LAMBDA_PORT.env"

url="http://127.0.0.1:$LAMBDA_PORT/lambda-url/ingest/"
for word in HelloWorld ByeWorld; do
  say "POST $word with partition key hoge-key (like: aws kinesis put-record --partition-key hoge-key --data $word)"
  curl -sS --max-time 300 -X POST "$url" -H 'Content-Type: text/plain' -H 'X-Partition-Key: hoge-key' \
    --data-binary "$word" -w '  (HTTP %{http_code})\n'
done

say "POST a burst of 200 JSON events as gzip-compressed NDJSON"
python3 -c 'import json; print("\n".join(json.dumps({"event": ["click","view","buy"][i % 3], "user": f"u-{i % 7}", "n": i}) for i in range(200)))' \
  | gzip -c | curl -sS --max-time 300 -X POST "$url" -H 'Content-Type: application/x-ndjson' -H 'Content-Encoding: gzip' \
    --data-binary @- -o "$LOCAL_DIR/burst.json" -w '  (HTTP %{http_code}) '
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r["Records"]), "records, FailedRecordCount", r["FailedRecordCount"])' "$LOCAL_DIR/burst.json"
say "POST one binary (non-UTF-8) record, to show where data the transform cannot read goes"
printf '\xff\xfe\x00binary' | curl -sS --max-time 60 -X POST "$url" -H 'Content-Type: application/octet-stream' --data-binary @- -w '  (HTTP %{http_code})\n'

say "Reading the stream back: get-shard-iterator (TRIM_HORIZON) and get-records"
shard=$(aws kinesis list-shards --stream-name "$stream" --query 'Shards[0].ShardId' --output text)
iterator=$(aws kinesis get-shard-iterator --stream-name "$stream" --shard-id "$shard" \
  --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)
aws kinesis get-records --shard-iterator "$iterator" --limit 2 --output json > "$LOCAL_DIR/get-records.json"
python3 - "$LOCAL_DIR/get-records.json" <<'PY'
import base64, json, sys
records = json.load(open(sys.argv[1]))["Records"]
print(f"the first {len(records)} records (data comes back base64; decoded here):")
for r in records:
    print(f"  {r['SequenceNumber']:>4}  key={r['PartitionKey']}  data={r['Data']!r:>18} -> {base64.b64decode(r['Data']).decode()}")
PY

say "Running both paths until the stream is drained: the event source mapping -> batch-to-s3, and Firehose -> firehose-transform -> S3"
"$pipeline" --stream "$stream" --bucket "$bucket" --paths batch,firehose --on-failure-file "$LOCAL_DIR/on-failure.jsonl"

say "What landed in s3://$bucket"
"$pipeline" show --bucket "$bucket"

# The Parquet path: batch-to-s3 once more, as another reader of the same stream, with
# FORMAT=parquet and a SCHEMA, into parquet/ (its own mark under state-parquet/).
say "The Parquet path: the same stream through batch-to-s3 with FORMAT=parquet"
stop_watch
parquet_env="$LOCAL_DIR/lambda-$LAMBDA_PORT-parquet.env"
grep -vE '^(FORMAT|SCHEMA|PREFIX|ERROR_PREFIX|STATE_PREFIX)=' "$LOCAL_DIR/lambda-$LAMBDA_PORT.env" > "$parquet_env"
cat >> "$parquet_env" <<ENV
FORMAT=parquet
SCHEMA="event string, user string, n bigint"
PREFIX=parquet/
ERROR_PREFIX=parquet-errors/
STATE_PREFIX=state-parquet/
ENV
start_watch "$parquet_env"
"$pipeline" --stream "$stream" --bucket "$bucket" --paths batch --on-failure-file "$LOCAL_DIR/on-failure-parquet.jsonl"

say "A query of what landed, by DuckDB over the objects fetched from the local S3"
"$VENV/bin/python" "$TRICKLE_ROOT/scripts/demo_query.py" "$bucket" "$LOCAL_DIR/demo-objects"
# The Iceberg path: batch-to-iceberg as a third reader of the stream, appending to an Iceberg
# table it creates from SCHEMA in the Glue database (moto's Glue is the catalog, moto's S3 the
# warehouse), one snapshot per batch with the shard's checkpoint in its summary.
say "The Iceberg path: the same stream through batch-to-iceberg into an Iceberg table in the Glue catalog"
stop_watch
database="trickle_demo_$(date +%s)"
aws glue create-database --database-input "Name=$database" >/dev/null
iceberg_env="$LOCAL_DIR/lambda-$LAMBDA_PORT-iceberg.env"
make_env_file "$stream" "$bucket" "$iceberg_env.template" batch-to-iceberg
grep -vE '^(ICEBERG_DATABASE|ICEBERG_TABLE|ICEBERG_PARTITION_SPEC|SCHEMA)=' "$iceberg_env.template" > "$iceberg_env"
cat >> "$iceberg_env" <<ENV
ICEBERG_DATABASE=$database
ICEBERG_TABLE=events
ICEBERG_PARTITION_SPEC="identity(event)"
SCHEMA="event string, user string, n bigint"
ENV
start_watch "$iceberg_env"
"$pipeline" --stream "$stream" --bucket "$bucket" --paths batch --batch-function batch-to-iceberg \
  --on-failure-file "$LOCAL_DIR/on-failure-iceberg.jsonl"
say "A query of the Iceberg table, by pyiceberg (the Glue catalog on moto) and DuckDB"
"$VENV/bin/python" "$TRICKLE_ROOT/scripts/demo_iceberg_query.py" --database "$database" --table events --group-by event
# The OpenTelemetry path: the real OpenTelemetry Python SDK exports logs, spans and metric
# points through the local function URL (tools/function-url/front.py, which passes protobuf
# as the real URL does) into ingest, which makes one row of each; batch-to-iceberg routes the
# rows by their signal to a table each (ICEBERG_ROUTES), exactly once per table.
say "The OpenTelemetry path: the real OTel SDK -> ingest's /v1/logs, /v1/traces, /v1/metrics -> a stream -> batch-to-iceberg routing by /signal to otel_logs, otel_traces, otel_metrics"
stop_watch
otel_stream="$stream-otel"
create_stream_and_bucket "$otel_stream"
otel_env="$LOCAL_DIR/lambda-$LAMBDA_PORT-otel.env"
make_env_file "$otel_stream" "$bucket" "$otel_env.template" ingest,batch-to-iceberg
grep -vE '^(ICEBERG_DATABASE|ICEBERG_TABLE|ICEBERG_PARTITION_SPEC|SCHEMA)=' "$otel_env.template" > "$otel_env"
cat >> "$otel_env" <<ENV
ICEBERG_DATABASE=$database
ICEBERG_ROUTE_POINTER=/signal
ICEBERG_ROUTES="logs: otel_logs schema otel_logs partition day(timestamp); traces: otel_traces schema otel_traces partition day(timestamp); metrics: otel_metrics schema otel_metrics partition day(timestamp)"
ENV
start_watch "$otel_env"
start_front "$FRONT_PORT"
say "Exporting with the OpenTelemetry SDK to http://127.0.0.1:$FRONT_PORT/v1/{logs,traces,metrics}"
"$VENV/bin/python" "$TRICKLE_ROOT/scripts/otel_send.py" "http://127.0.0.1:$FRONT_PORT" > "$LOCAL_DIR/otel-sent.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sent"]; print("  sent", ", ".join(f"{len(v)} {k}" for k, v in s.items()))' "$LOCAL_DIR/otel-sent.json"
"$pipeline" --stream "$otel_stream" --bucket "$bucket" --paths batch --batch-function batch-to-iceberg \
  --on-failure-file "$LOCAL_DIR/on-failure-otel.jsonl"
say "A query of the routed tables, by pyiceberg and DuckDB"
"$VENV/bin/python" "$TRICKLE_ROOT/scripts/demo_otel_query.py" --database "$database"
say "Done. Everything started by the demo is being stopped."

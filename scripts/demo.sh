#!/usr/bin/env bash
# The main job, locally: starts moto and `cargo lambda watch` on 127.0.0.1, creates a stream,
# POSTs the original tutorial's records to the ingest function URL, reads them back with
# `aws kinesis get-shard-iterator` / `get-records`, prints them decoded, and stops everything
# it started. Ports: MOTO_PORT (default 4566), LAMBDA_PORT (default 9000).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TRICKLE_ROOT"

bash scripts/setup.sh

started_stack=0
watch_pid=""
cleanup() {
  if [ -n "$watch_pid" ] && kill -0 "$watch_pid" 2>/dev/null; then
    say "Stopping cargo lambda watch (pid $watch_pid)"
    kill -- "-$watch_pid" 2>/dev/null || kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
  fi
  rm -f "$LOCAL_DIR/watch.pid"
  if [ "$started_stack" = 1 ]; then bash scripts/stack.sh stop; fi
}
trap cleanup EXIT INT TERM

if ! [ -f "$LOCAL_DIR/moto.pid" ] || ! kill -0 "$(cat "$LOCAL_DIR/moto.pid")" 2>/dev/null; then
  bash scripts/stack.sh start
  started_stack=1
fi

stream="trickle-demo-$(date +%s)"
say "Creating Kinesis stream $stream (1 shard, as in the tutorial)"
aws kinesis create-stream --stream-name "$stream" --shard-count 1
aws kinesis wait stream-exists --stream-name "$stream"

cat > "$LOCAL_DIR/lambda.env" <<ENV
STREAM_NAME=$stream
AWS_REGION=$AWS_REGION
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_EC2_METADATA_DISABLED=true
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
RUST_LOG=info
ENV

say "Building the functions (debug; the first build compiles the AWS SDK and takes a few minutes)"
cargo build --quiet --bin ingest

say "Starting cargo lambda watch on 127.0.0.1:$LAMBDA_PORT (log: .local/watch.log)"
setsid cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --env-file "$LOCAL_DIR/lambda.env" \
  > "$LOCAL_DIR/watch.log" 2>&1 &
watch_pid=$!
echo "$watch_pid" > "$LOCAL_DIR/watch.pid"
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$LAMBDA_PORT") 2>/dev/null; then break; fi
  kill -0 "$watch_pid" 2>/dev/null || { cat "$LOCAL_DIR/watch.log" >&2; exit 1; }
  sleep 0.2
done

url="http://127.0.0.1:$LAMBDA_PORT/lambda-url/ingest/"
for word in HelloWorld ByeWorld; do
  say "POST $word with partition key hoge-key (like: aws kinesis put-record --partition-key hoge-key --data $word)"
  curl -sS --max-time 300 -X POST "$url" -H 'Content-Type: text/plain' -H 'X-Partition-Key: hoge-key' \
    --data-binary "$word" -w '  (HTTP %{http_code})\n'
done

say "Reading the stream back: get-shard-iterator (TRIM_HORIZON) and get-records"
shard=$(aws kinesis list-shards --stream-name "$stream" --query 'Shards[0].ShardId' --output text)
iterator=$(aws kinesis get-shard-iterator --stream-name "$stream" --shard-id "$shard" \
  --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)
aws kinesis get-records --shard-iterator "$iterator" --output json > "$LOCAL_DIR/get-records.json"
python3 - "$LOCAL_DIR/get-records.json" <<'PY'
import base64, json, sys
records = json.load(open(sys.argv[1]))["Records"]
print(f"{len(records)} records in the stream (data comes back base64; decoded here):")
for r in records:
    print(f"  {r['SequenceNumber']:>4}  key={r['PartitionKey']}  data={r['Data']!r:>18} -> {base64.b64decode(r['Data']).decode()}")
PY
say "Done. Everything started by the demo is being stopped."

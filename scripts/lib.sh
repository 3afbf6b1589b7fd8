# Sourced by demo.sh and test.sh: the steps both take. Expects env.sh to be sourced.

# set_env_var FILE NAME VALUE: NAME=VALUE in an env file, in place of any NAME= line.
set_env_var() {
  local file="$1" name="$2" value="$3"
  grep -v "^$name=" "$file" > "$file.tmp" || true
  echo "$name=$value" >> "$file.tmp"
  mv "$file.tmp" "$file"
}

# The browser key the sender tests' page uses (tests/senders/test_browser.py).
TEST_BROWSER_KEY="trickle-test-page-key"

# make_env_file STREAM BUCKET FILE [FUNCTIONS]: the functions' environment from template.yaml,
# resolved for the local stack, plus the local AWS settings. FUNCTIONS (comma-separated
# binaries) defaults to the three that share one `cargo lambda watch`; batch-to-iceberg's
# ERROR_PREFIX differs from batch-to-s3's, so it gets a file of its own.
make_env_file() {
  local stream="$1" bucket="$2" file="$3" functions="${4:-ingest,batch-to-s3,firehose-transform}"
  {
    "${CARGO_TARGET_DIR:-$TRICKLE_ROOT/target}/debug/local-pipeline" env --stream "$stream" --bucket "$bucket" --functions "$functions"
    echo "AWS_REGION=$AWS_REGION"
    echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
    echo "AWS_EC2_METADATA_DISABLED=true"
    echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
    echo "RUST_LOG=warn"
  } > "$file"
}

# start_watch ENV_FILE: cargo lambda watch on 127.0.0.1:$LAMBDA_PORT in its own process
# group; sets watch_pid. The caller's trap calls stop_watch.
start_watch() {
  local env_file="$1" log="$LOCAL_DIR/watch-$LAMBDA_PORT.log"
  if (exec 3<>"/dev/tcp/127.0.0.1/$LAMBDA_PORT") 2>/dev/null; then
    echo "port $LAMBDA_PORT is taken; set LAMBDA_PORT to a free port (or run make down)" >&2
    return 1
  fi
  say "Starting cargo lambda watch on 127.0.0.1:$LAMBDA_PORT (log: ${log#$TRICKLE_ROOT/})"
  setsid cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --env-file "$env_file" > "$log" 2>&1 &
  watch_pid=$!
  echo "$watch_pid" > "$LOCAL_DIR/watch-$LAMBDA_PORT.pid"
  wait_for_port "$LAMBDA_PORT" "$watch_pid" "$log" 300 "cargo lambda watch"
}

# wait_for_port PORT PID LOG TRIES WHAT: until PORT answers on 127.0.0.1 (0.2 s a try), or
# PID (which should open it) ends, its LOG shown.
wait_for_port() {
  local port="$1" pid="$2" log="$3" tries="$4" what="$5"
  for _ in $(seq 1 "$tries"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  echo "$what did not start; see $log" >&2
  return 1
}

stop_watch() {
  if [ -n "${watch_pid:-}" ] && kill -0 "$watch_pid" 2>/dev/null; then
    say "Stopping cargo lambda watch (pid $watch_pid)"
    kill -- "-$watch_pid" 2>/dev/null || kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
  fi
  rm -f "$LOCAL_DIR/watch-$LAMBDA_PORT.pid"
}

# start_front PORT: the local function URL (tools/function-url/front.py) on 127.0.0.1:PORT in
# front of ingest under cargo lambda watch; sets front_pid. cleanup_local stops it.
start_front() {
  local port="$1" log="$LOCAL_DIR/front-$1.log"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken; set FRONT_PORT to a free port" >&2
    return 1
  fi
  "$VENV/bin/python" "$TRICKLE_ROOT/tools/function-url/front.py" --port "$port" \
    --invoke "http://127.0.0.1:$LAMBDA_PORT" --function ingest > "$log" 2>&1 &
  front_pid=$!
  wait_for_port "$port" "$front_pid" "$log" 50 "the function-URL front"
}

stop_front() {
  if [ -n "${front_pid:-}" ] && kill -0 "$front_pid" 2>/dev/null; then
    kill "$front_pid" 2>/dev/null || true
    wait "$front_pid" 2>/dev/null || true
  fi
}

# ensure_stack: starts moto unless it already runs on $MOTO_PORT; sets started_stack.
ensure_stack() {
  started_stack=0
  if ! [ -f "$LOCAL_DIR/moto-$MOTO_PORT.pid" ] || ! kill -0 "$(cat "$LOCAL_DIR/moto-$MOTO_PORT.pid")" 2>/dev/null; then
    bash "$TRICKLE_ROOT/scripts/stack.sh" start
    started_stack=1
  fi
}

# create_stream_and_bucket NAME [SHARDS]: one shard by default, as in the tutorial; and
# ingest's request memory, NAME-requests (as tools/local-pipeline names it).
create_stream_and_bucket() {
  aws kinesis create-stream --stream-name "$1" --shard-count "${2:-1}"
  aws kinesis wait stream-exists --stream-name "$1"
  aws s3api create-bucket --bucket "$1" > /dev/null
  create_request_memory "$1-requests"
}

# create_request_memory NAME: a DynamoDB table as template.yaml's IngestRequestMemory.
create_request_memory() {
  aws dynamodb create-table --table-name "$1" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=id,AttributeType=S \
    --key-schema AttributeName=id,KeyType=HASH > /dev/null
}

# with_local_stack: the local tools installed, moto running (started here unless it runs on
# $MOTO_PORT), and whatever was started here stopped on exit.
with_local_stack() {
  bash "$TRICKLE_ROOT/scripts/setup.sh"
  watch_pid=""
  front_pid=""
  started_stack=0
  trap cleanup_local EXIT INT TERM
  ensure_stack
}

# cleanup_local: what demo.sh and test.sh stop on exit (only what they started).
cleanup_local() {
  stop_front
  stop_watch
  if [ "${started_stack:-0}" = 1 ]; then bash "$TRICKLE_ROOT/scripts/stack.sh" stop; fi
}

#!/usr/bin/env bash
# `make senders [K=<expr>]`: the sender tests (tests/senders): each common sender's payload
# through the local function-URL front (tools/function-url/front.py) into ingest under
# `cargo lambda watch`, read back from a stream of their own. Starts moto unless it runs on
# $MOTO_PORT, and cargo lambda watch on $LAMBDA_PORT; stops what it started.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$TRICKLE_ROOT/scripts/lib.sh"
cd "$TRICKLE_ROOT"
WITH_BROWSER=1 with_local_stack
cargo build --quiet -p local-pipeline
name="trickle-senders-$(date +%s)"
create_stream_and_bucket "$name" 2
make_env_file "$name" "$name" "$LOCAL_DIR/senders-$LAMBDA_PORT.env"
set_env_var "$LOCAL_DIR/senders-$LAMBDA_PORT.env" BROWSER_KEY "$TEST_BROWSER_KEY"
start_watch "$LOCAL_DIR/senders-$LAMBDA_PORT.env"
export TRICKLE_SENDERS_STREAM="$name" LAMBDA_PORT
"$VENV/bin/python" -m pytest tests/senders -q -p no:cacheprovider ${1:+-k "$1"}

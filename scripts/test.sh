#!/usr/bin/env bash
# Every test: unit, property and handler tests, integration tests against the local stack
# (moto on 127.0.0.1, started here when it is not running), and the template checks.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TRICKLE_ROOT"

WITH_CHECKOV=1 bash scripts/setup.sh

started_stack=0
cleanup() { if [ "$started_stack" = 1 ]; then bash scripts/stack.sh stop; fi; }
trap cleanup EXIT INT TERM
if ! [ -f "$LOCAL_DIR/moto-$MOTO_PORT.pid" ] || ! kill -0 "$(cat "$LOCAL_DIR/moto-$MOTO_PORT.pid")" 2>/dev/null; then
  bash scripts/stack.sh start
  started_stack=1
fi

bash scripts/check-template.sh

say "cargo test --workspace (debug; the first build compiles the AWS SDK and takes a few minutes)"
cargo test --workspace --no-fail-fast

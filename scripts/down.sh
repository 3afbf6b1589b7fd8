#!/usr/bin/env bash
# Stops what the demo, the tests or `make stack` started and left running, by the PIDs they
# recorded in .local/ (every port's).
set -euo pipefail
source "$(dirname "$0")/env.sh"
shopt -s nullglob
for f in "$LOCAL_DIR"/watch-*.pid; do
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then say "Stopping cargo lambda watch (pid $pid)"; kill -- "-$pid" 2>/dev/null || kill "$pid" || true; fi
  rm -f "$f"
done
for f in "$LOCAL_DIR"/moto-*.pid; do
  port="${f##*/moto-}"; port="${port%.pid}"
  MOTO_PORT="$port" bash "$TRICKLE_ROOT/scripts/stack.sh" stop
done

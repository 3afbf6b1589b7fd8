#!/usr/bin/env bash
# Stops what the demo or `make stack` started and left running (by the PIDs they recorded).
set -euo pipefail
source "$(dirname "$0")/env.sh"
for name in watch; do
  f="$LOCAL_DIR/$name.pid"
  if [ -f "$f" ]; then
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then say "Stopping $name (pid $pid)"; kill -- "-$pid" 2>/dev/null || kill "$pid" || true; fi
    rm -f "$f"
  fi
done
bash "$TRICKLE_ROOT/scripts/stack.sh" stop

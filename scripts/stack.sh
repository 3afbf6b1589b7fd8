#!/usr/bin/env bash
# Starts or stops the local AWS stand-in (moto server) on 127.0.0.1:$MOTO_PORT.
# `start` also writes .local/stack.env, to `source` in a shell that runs tests by hand.
set -euo pipefail
source "$(dirname "$0")/env.sh"
pidfile="$LOCAL_DIR/moto-$MOTO_PORT.pid"
case "${1:-}" in
  start)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "moto already running (pid $(cat "$pidfile")) on 127.0.0.1:$MOTO_PORT"
    else
      if (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null; then
        echo "port $MOTO_PORT is taken by another process; set MOTO_PORT to a free port" >&2
        exit 1
      fi
      say "Starting moto on 127.0.0.1:$MOTO_PORT"
      nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" > "$LOCAL_DIR/moto-$MOTO_PORT.log" 2>&1 &
      echo $! > "$pidfile"
      for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then break; fi
        sleep 0.1
      done
      curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" || { echo "moto did not start; see $LOCAL_DIR/moto-$MOTO_PORT.log" >&2; exit 1; }
    fi
    env | grep -E '^(AWS_(REGION|DEFAULT_REGION|ACCESS_KEY_ID|SECRET_ACCESS_KEY|EC2_METADATA_DISABLED|ENDPOINT_URL|PAGER)|MOTO_PORT|LAMBDA_PORT)=' | sed 's/^/export /' > "$LOCAL_DIR/stack.env"
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      if kill -0 "$pid" 2>/dev/null; then say "Stopping moto (pid $pid)"; kill "$pid"; fi
      rm -f "$pidfile"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# `make itest T=<file> [F=<filter>]`: one integration test file of tests/tests/ (its name
# without .rs), optionally only the tests whose name contains F, against moto on 127.0.0.1
# (started here unless it runs on $MOTO_PORT, stopped again if started here).
# pipeline_e2e needs `cargo lambda watch` and its stream as `make test` sets them up: run it
# through `make test`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$TRICKLE_ROOT/scripts/lib.sh"
cd "$TRICKLE_ROOT"
test_file="${1:-}"
filter="${2:-}"
if [ -z "$test_file" ] || [ ! -f "tests/tests/$test_file.rs" ]; then
  echo "usage: make itest T=<file> [F=<filter>]; T is one of:" >&2
  (cd tests/tests && ls -- *.rs | sed 's/\.rs$//' | sed 's/^/  /') >&2
  exit 2
fi
if [ "$test_file" = pipeline_e2e ]; then
  echo "pipeline_e2e needs cargo lambda watch and its stream: run it with make test" >&2
  exit 2
fi
with_local_stack
cargo test -p trickle-tests --test "$test_file" -- ${filter:+"$filter"}

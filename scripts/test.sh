#!/usr/bin/env bash
# Every test: the template checks; unit, property and handler tests; integration tests against
# the local stack (moto on 127.0.0.1, started here unless it runs); the end-to-end test
# through `cargo lambda watch` and the local pipeline; the sender tests (tests/senders); and
# the deploy proofs (tests/deploy).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$TRICKLE_ROOT/scripts/lib.sh"
cd "$TRICKLE_ROOT"

WITH_CHECKOV=1 WITH_BROWSER=1 bash scripts/setup.sh

watch_pid=""
started_stack=0
trap cleanup_local EXIT INT TERM
ensure_stack

bash scripts/check-template.sh

say "Building (debug; the first build compiles the AWS SDK and takes several minutes)"
cargo build --quiet --workspace --bins --tests

# The end-to-end test's own stream (4 shards, read in parallel by the local pipeline) and
# bucket, and the functions under cargo lambda watch.
e2e="trickle-e2e-$(date +%s)"
create_stream_and_bucket "$e2e" 4
make_env_file "$e2e" "$e2e" "$LOCAL_DIR/lambda-$LAMBDA_PORT.env"
set_env_var "$LOCAL_DIR/lambda-$LAMBDA_PORT.env" BROWSER_KEY "$TEST_BROWSER_KEY"
start_watch "$LOCAL_DIR/lambda-$LAMBDA_PORT.env"
export TRICKLE_E2E_STREAM="$e2e" TRICKLE_E2E_BUCKET="$e2e" LAMBDA_PORT

say "cargo test --workspace"
rc=0
cargo test --workspace --no-fail-fast || rc=$?

# Each common sender's payload through the local function-URL front into ingest (under the
# same cargo lambda watch), read back from the end-to-end test's stream, which is idle now.
say "pytest tests/senders"
TRICKLE_SENDERS_STREAM="$e2e" "$VENV/bin/python" -m pytest tests/senders -q -p no:cacheprovider || rc=$?

# The deploy proofs: template.yaml translated as CloudFormation would and created in moto's
# CloudFormation; the Terraform module applied to moto and destroyed; SAM and Terraform agree.
say "pytest tests/deploy"
"$VENV/bin/python" -m pytest tests/deploy -q -p no:cacheprovider || rc=$?
exit $rc

# Sourced by every script: the environment every local process must have (../shared/LOCAL-AWS.md).
# Traffic goes only to loopback; the SDK never looks for instance metadata.
TRICKLE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TRICKLE_ROOT
export MOTO_PORT="${MOTO_PORT:-4566}"
export LAMBDA_PORT="${LAMBDA_PORT:-9000}"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}"
export AWS_PAGER=""
export VENV="$TRICKLE_ROOT/.venv"
export LOCAL_DIR="$TRICKLE_ROOT/.local"
export PATH="$VENV/bin:$PATH"
mkdir -p "$LOCAL_DIR"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
export SAM_CLI_TELEMETRY=0

#!/usr/bin/env bash
# `make deploy-proof [K=<expr>]`: the offline deploy proofs in tests/deploy (template.yaml
# translated and created in moto's CloudFormation, the Terraform module applied to moto), or
# only those pytest's `-k K` selects. moto is started here unless it runs on $MOTO_PORT.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$TRICKLE_ROOT/scripts/lib.sh"
cd "$TRICKLE_ROOT"
with_local_stack
"$VENV/bin/python" -m pytest tests/deploy -q -p no:cacheprovider ${1:+-k "$1"}

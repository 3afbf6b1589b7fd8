#!/usr/bin/env bash
# Offline checks of template.yaml and deploy/terraform: SAM's own validation, cfn-lint, and checkov (no failed
# check; every skip in the template carries its reason).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TRICKLE_ROOT"
say "sam validate --region us-east-1"
sam validate --region us-east-1
say "cfn-lint template.yaml"
cfn-lint template.yaml
say "checkov (cloudformation)"
"$TRICKLE_ROOT/.venv-checkov/bin/checkov" -f template.yaml --framework cloudformation \
  --compact --quiet --skip-download
say "checkov (terraform, deploy/terraform)"
"$TRICKLE_ROOT/.venv-checkov/bin/checkov" -d deploy/terraform --framework terraform \
  --compact --quiet --skip-download

#!/usr/bin/env bash
# Offline checks of template.yaml and deploy/terraform: SAM's own validation, cfn-lint, and checkov (no failed
# check; every skip in the template carries its reason), on the defaults and with the Iceberg path on.
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
# checkov evaluates Conditions with the parameters' defaults, so it never sees what is off by
# default: check the Iceberg path (EnableIceberg, IcebergEnhancedFanOut, IcebergOptimizers)
# in a copy with those three defaults turned on (otherwise the same file).
say "checkov (cloudformation, the Iceberg path on)"
variant="$(mktemp -d)/template-iceberg.yaml"
"$VENV/bin/python" - template.yaml "$variant" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for name in ("EnableIceberg", "IcebergEnhancedFanOut", "IcebergOptimizers"):
    text, n = re.subn(r'(\n  %s:\n(?:    .*\n)*?    Default: )"false"' % name, r'\1"true"', text)
    assert n == 1, f"no Default: \"false\" found for {name}"
open(sys.argv[2], "w").write(text)
PY
"$TRICKLE_ROOT/.venv-checkov/bin/checkov" -f "$variant" --framework cloudformation \
  --compact --quiet --skip-download
rm -rf "$(dirname "$variant")"
say "checkov (terraform, deploy/terraform)"
"$TRICKLE_ROOT/.venv-checkov/bin/checkov" -d deploy/terraform --framework terraform \
  --compact --quiet --skip-download

#!/usr/bin/env bash
# Offline checks of template.yaml and deploy/terraform: SAM's own validation, cfn-lint, and checkov (no failed
# check; every skip in the template carries its reason), on the defaults and with the Iceberg path on (Glue, S3 Tables;
# the module: Glue).
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
# default: check the Iceberg path in copies of the template with other defaults (otherwise
# the same file) - on Glue with enhanced fan-out and the optimizers, and on S3 Tables (the
# table bucket, namespace and table; the role's S3 Tables statements).
variants="$(mktemp -d)"
check_variant() {  # NAME PARAMETER=DEFAULT...
  local name="$1"; shift
  say "checkov (cloudformation, $name)"
  "$VENV/bin/python" - template.yaml "$variants/template-$name.yaml" "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for pair in sys.argv[3:]:
    name, value = pair.split("=", 1)
    text, n = re.subn(r'(\n  %s:\n(?:    .*\n)*?    Default: )\S.*' % name, r'\g<1>%s' % value, text)
    assert n == 1, f"no Default found for {name}"
open(sys.argv[2], "w").write(text)
PY
  "$TRICKLE_ROOT/.venv-checkov/bin/checkov" -f "$variants/template-$name.yaml" \
    --framework cloudformation --compact --quiet --skip-download
}
check_variant iceberg-glue 'EnableIceberg="true"' 'IcebergEnhancedFanOut="true"' 'IcebergOptimizers="true"'
check_variant iceberg-s3tables 'EnableIceberg="true"' 'IcebergCatalog=s3tables' 'IcebergEnhancedFanOut="true"'
say "checkov (terraform, deploy/terraform)"
"$TRICKLE_ROOT/.venv-checkov/bin/checkov" -d deploy/terraform --framework terraform \
  --compact --quiet --skip-download
# The same for the module: checkov renders count from the variables' defaults, so the Iceberg
# path (enable_iceberg false by default) is checked again with it on, fan-out and optimizers too.
say "checkov (terraform, deploy/terraform, iceberg)"
printf 'enable_iceberg = true\niceberg_enhanced_fan_out = true\niceberg_optimizers = true\n' \
  > "$variants/iceberg.tfvars"
"$TRICKLE_ROOT/.venv-checkov/bin/checkov" -d deploy/terraform --framework terraform \
  --var-file "$variants/iceberg.tfvars" --compact --quiet --skip-download
rm -rf "$variants"

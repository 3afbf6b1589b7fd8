#!/usr/bin/env bash
# Installs everything the demo and the tests need into git-ignored folders of this checkout:
# .venv (moto, awscli, cargo-lambda, zig, SAM CLI, cfn-lint) and .venv-checkov (checkov has
# dependency pins that break SAM CLI, so it lives apart). Idempotent: a stamp file records
# what was installed, and a second run takes a second.
set -euo pipefail
source "$(dirname "$0")/env.sh"
req="$TRICKLE_ROOT/scripts/requirements.txt"
req_checkov="$TRICKLE_ROOT/scripts/requirements-checkov.txt"
stamp="$VENV/.trickle-stamp"
want="$(cat "$req" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  :
else
  say "Installing the local tools into .venv (first run only, ~1-2 min): $(grep -v '^#' "$req" | cut -d'=' -f1 | tr '\n' ' ')"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
if [ "${WITH_CHECKOV:-0}" = 1 ]; then
  cv="$TRICKLE_ROOT/.venv-checkov"
  want_c="$(cat "$req_checkov" | sha256sum | cut -c1-16)"
  if [ ! -f "$cv/.trickle-stamp" ] || [ "$(cat "$cv/.trickle-stamp")" != "$want_c" ]; then
    say "Installing checkov into .venv-checkov (first run only, ~1 min)"
    [ -x "$cv/bin/python" ] || python3 -m venv "$cv"
    "$cv/bin/pip" install --quiet --disable-pip-version-check -r "$req_checkov"
    echo "$want_c" > "$cv/.trickle-stamp"
  fi
fi
# The browser test (tests/senders/test_browser.py) drives Debian's Chromium, headless. It is a
# system package: installed with apt when missing and this runs as root, else the test says
# how to get it.
if [ "${WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "Installing Chromium from Debian's packages (first run only, ~1-2 min)"
  if ! apt-get install -y -qq --no-install-recommends chromium > "$LOCAL_DIR/apt-chromium.log" 2>&1; then
    apt-get update -qq > /dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends chromium > "$LOCAL_DIR/apt-chromium.log" 2>&1 ||
      echo "apt-get install chromium failed: see $LOCAL_DIR/apt-chromium.log" >&2
  fi
fi

#!/usr/bin/env bash
# `make check`: the fast loop. Formatting, no import circle between a crate's modules,
# clippy on every crate and target, and every test that needs no server (every crate but
# the integration tests' `trickle-tests`: unit, property, handler and memory-bound tests).
# The integration tests and deploy proofs are `make test`'s.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TRICKLE_ROOT"
say "cargo fmt --check"
cargo fmt --all -- --check
say "no import circle between a crate's modules (scripts/module_cycles.py)"
python3 scripts/module_cycles.py
say "cargo clippy (every crate and target, warnings are errors)"
cargo clippy --quiet --workspace --all-targets -- -D warnings
say "cargo test (everything that needs no server)"
cargo test --quiet --workspace --exclude trickle-tests

#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (default 60),
# prints for each one the executions and whether it crashed, and exits non-zero on a crash.
#
#   FUZZ_SECONDS=300 make fuzz                     # longer
#   FUZZ_TARGETS="kpl_deaggregate" make fuzz       # some targets only
#   FUZZ_RSS_MB=256 FUZZ_TIMEOUT=10 make fuzz      # memory (MB) and per-input time (s) limits
#
# A memory blow-up past FUZZ_RSS_MB, or one input running past FUZZ_TIMEOUT, counts as a crash:
# bounded memory and time are part of every parser's contract. Inputs that crashed before are
# kept in fuzz/regressions/<target>/ and replayed first (FUZZ_SKIP_REGRESSIONS=1 to skip them).
#
# Toolchain: cargo-fuzz needs nightly flags. The nightly toolchain is used when rustup has
# one; otherwise the stable toolchain with RUSTC_BOOTSTRAP=1 (nothing is downloaded but
# cargo-fuzz itself, from crates.io, into .local/cargo).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_RSS_MB="${FUZZ_RSS_MB:-256}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
FUZZ_DIR="$TRICKLE_ROOT/fuzz"
LOG_DIR="$LOCAL_DIR/fuzz"
mkdir -p "$LOG_DIR"
# ASan keeps freed memory in a 256 MB quarantine by default, which libFuzzer's RSS limit
# would count as a leak-free target's own memory: keep it small so the limit measures the
# code under test (use-after-free cannot happen in these safe-Rust parsers anyway).
export ASAN_OPTIONS="quarantine_size_mb=8${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

if rustup run nightly rustc --version >/dev/null 2>&1; then
    export RUSTUP_TOOLCHAIN=nightly
    say "toolchain: $(rustc --version)"
else
    export RUSTC_BOOTSTRAP=1
    say "toolchain: $(rustc --version) with RUSTC_BOOTSTRAP=1 (no nightly installed)"
fi

export PATH="$LOCAL_DIR/cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz into .local/cargo"
    cargo install cargo-fuzz --locked --root "$LOCAL_DIR/cargo"
fi

cd "$FUZZ_DIR"
read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"
say "building ${#targets[@]} fuzz targets (fuzz/target)"
# The same flags for build and run, so `run` does not rebuild.
flags=(--sanitizer address)
cargo fuzz build "${flags[@]}"

failed=()
results=()
for t in "${targets[@]}"; do
    corpus="$FUZZ_DIR/corpus/$t"
    mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$t"
    dirs=("$corpus")
    [[ -d "$FUZZ_DIR/seeds/$t" ]] && dirs+=("$FUZZ_DIR/seeds/$t")
    if [[ "${FUZZ_SKIP_REGRESSIONS:-0}" != 1 && -d "$FUZZ_DIR/regressions/$t" ]]; then
        dirs+=("$FUZZ_DIR/regressions/$t")
    fi
    log="$LOG_DIR/$t.log"
    say "fuzzing $t for ${FUZZ_SECONDS}s (log: ${log#"$TRICKLE_ROOT"/})"
    set +e
    cargo fuzz run "${flags[@]}" "$t" "${dirs[@]}" -- \
        -max_total_time="$FUZZ_SECONDS" \
        -rss_limit_mb="$FUZZ_RSS_MB" -malloc_limit_mb="$FUZZ_RSS_MB" \
        -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    # libFuzzer ends a clean run with `Done N runs in S second(s)`; the final stats give the
    # count after a crash too.
    runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
    [[ -z "$runs" ]] && runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
    runs="${runs:-?}"
    if [[ $rc -eq 0 ]] && grep -q '^Done [0-9]* runs' "$log"; then
        results+=("$(printf '%-20s %12s runs   no crash' "$t" "$runs")")
    else
        kind="$(grep -o -m1 -E 'ERROR: libFuzzer: [a-z -]+|panicked at [^ ]+' "$log" || true)"
        artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
        results+=("$(printf '%-20s %12s runs   CRASH (%s) %s' "$t" "$runs" "${kind:-exit $rc}" "${artifact#"$FUZZ_DIR"/}")")
        failed+=("$t")
    fi
done

printf '\n%-20s %17s   %s\n' target executions result
printf '%s\n' "${results[@]}"
if ((${#failed[@]})); then
    say "crashes in: ${failed[*]}; reproduce with: cd fuzz && cargo fuzz run <target> <artifact>," \
        "minimize with cargo fuzz tmin <target> <artifact>"
    exit 1
fi
say "no crash in ${#targets[@]} targets, ${FUZZ_SECONDS}s each"

#!/usr/bin/env bash
# Benchmarks (not tests), release builds: in-process throughput with their floors, peak
# memory of one event, and whole-process cold start and peak RSS under a Runtime API
# stand-in on 127.0.0.1. Takes a while: the first release build compiles the AWS SDK.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$TRICKLE_ROOT"
say "Release build of the functions and the benchmark programs (first time: 10+ minutes)"
cargo build --quiet --release --bin ingest --bin batch-to-s3 --bin firehose-transform --bin batch-to-iceberg
say "ingest in process: function URL event -> PutRecords entries, next to the deserialize floor"
cargo run --quiet --release -p ingest --example bench
say "batch-to-s3 in process: the whole path per codec, next to the deserialize and compress floors"
cargo run --quiet --release -p batch-to-s3 --example bench | grep -v '"_aws"'
say "batch-to-s3 peak RSS, one process, one 6 MiB event"
for mode in generate deserialize gzip zstd none; do
  rss=$( { /usr/bin/time -f '%M' "${CARGO_TARGET_DIR:-target}/release/examples/bench" --once "$mode" --size max > /dev/null; } 2>&1 | tail -1)
  echo "  --once $mode: $((rss / 1024)) MiB"
done
say "firehose-transform in process"
cargo run --quiet --release -p firehose-transform --example bench | grep -v '"_aws"'
say "Whole processes: cold start and peak RSS under a Runtime API stand-in"
python3 bench/runtime_bench.py --runs 5
say "batch-to-s3 FORMAT=parquet against a pyarrow handler, side by side (CPU, RSS, size, cold start)"
"$VENV/bin/python" bench/parquet_bench.py --rounds 9
say "Hostile input: peak RSS of the worst events we can construct (dense aggregates, large CloudWatch Logs records)"
python3 bench/memory_bench.py
say "gzip: zlib level 6 against libdeflate (COMPRESSION=gzip) at each level, on the bench's records and the gzip corpus"
cargo run --quiet --release -p batch-to-s3 --example bench -- --deflate
say "batch-to-iceberg in process: encode / write / commit per 6 MiB event, on a growing table; one table and routed to three, side by side"
cargo run --quiet --release -p batch-to-iceberg --example bench -- --rounds 20 | grep -v '"_aws"'
say "batch-to-iceberg whole process against the local stack, and a pyiceberg handler side by side"
source "$TRICKLE_ROOT/scripts/lib.sh"
started_stack=0
trap cleanup_local EXIT INT TERM
ensure_stack
"$VENV/bin/python" bench/iceberg_bench.py --runs 5

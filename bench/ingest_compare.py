#!/usr/bin/env python3
"""ingest before and after a change, side by side in one run: cold start, handling time and
CPU of whole release processes under the Runtime API stand-in of runtime_bench.py, runs
interleaved (before, after, before, ...) so that the machine's load falls on both alike;
and the binaries' sizes.

Usage: python3 bench/ingest_compare.py BEFORE_BINARY AFTER_BINARY [--runs N]
       [--examples BEFORE_BENCH AFTER_BENCH]
(e.g. a release build of an earlier commit in a worktree, and target/release/ingest). With
--examples, also the in-process per-request time of `cargo run --release -p ingest --example
bench` ("whole: -> entries"), both builds run alternately 7 times, medians compared.
"""

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_bench as rb  # noqa: E402


def events():
    ndjson = rb.url_event(500)
    array = dict(ndjson, headers={"content-type": "application/json"},
                 body=json.dumps([{"id": i, "user": f"user-{i % 97}", "pad": "x" * 100} for i in range(500)]))
    text = dict(ndjson, headers={"content-type": "text/plain"}, body="HelloWorld")
    return [("500 NDJSON records", ndjson), ("a JSON array of 500", array), ("one text record", text)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--examples", nargs=2, metavar=("BEFORE_BENCH", "AFTER_BENCH"))
    a = ap.parse_args()
    env = {"STREAM_NAME": "bench"}
    print("| event | cold start ms before | after | ratio | handle ms before | after | ratio | CPU ms before | after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, event in events():
        data = json.dumps(event).encode()
        runs = {"before": [], "after": []}
        for _ in range(a.runs):
            for which in ("before", "after"):
                runs[which].append(rb.run_process(getattr(a, which), data, env))
        med = {w: {k: statistics.median(r[k] for r in runs[w]) for k in ("cold_ms", "handle_ms", "cpu_ms")}
               for w in runs}
        for w in runs:
            resp = runs[w][0]["response"][:120].decode(errors="replace")
            print(f"<!-- {w} answered {label}: {resp} -->", file=sys.stderr)
        b, f = med["before"], med["after"]
        print(f"| {label} | {b['cold_ms']:.2f} | {f['cold_ms']:.2f} | {f['cold_ms'] / b['cold_ms']:.3f} "
              f"| {b['handle_ms']:.2f} | {f['handle_ms']:.2f} | {f['handle_ms'] / b['handle_ms']:.3f} "
              f"| {b['cpu_ms']:.0f} | {f['cpu_ms']:.0f} |")
    if a.examples:
        import subprocess
        times = {"before": {}, "after": {}}
        for _ in range(7):
            for which, binary in zip(("before", "after"), a.examples):
                out = subprocess.run([binary], capture_output=True, text=True, check=True).stdout
                for line in out.splitlines()[2:5]:
                    cells = [c.strip() for c in line.strip("|").split("|")]
                    times[which].setdefault(cells[0], []).append(float(cells[5].split()[0]))
        print("\n| records per request | in process, before µs (median of 7) | after µs | ratio |")
        print("|---:|---:|---:|---:|")
        for n in times["before"]:
            b, f = statistics.median(times["before"][n]), statistics.median(times["after"][n])
            print(f"| {n} | {b:.1f} | {f:.1f} | {f / b:.3f} |")
    sb, sa = os.path.getsize(a.before), os.path.getsize(a.after)
    print(f"\nbinary: before {sb / 1e6:.2f} MB, after {sa / 1e6:.2f} MB, growth {(sa - sb) / 1e6:+.2f} MB")


if __name__ == "__main__":
    main()

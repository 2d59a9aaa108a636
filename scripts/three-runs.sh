#!/usr/bin/env bash
# Runs the whole test suite three times in a row on a deliberately busy machine: beside it, a
# release build of the project compiles in another target directory (rebuilt from scratch each
# time it finishes), so every test meets the load CI and a laptop give it. Prints each run's
# duration and result; exits 1 if any run failed. Flakes show up here, not in CI.
#
#   bash scripts/three-runs.sh            # from the repository root
set -u
cd "$(dirname "$0")/.."

busy_dir="target/three-runs-busy"
mkdir -p target # a fresh clone has none yet; the logs go there
(
    while true; do
        rm -rf "$busy_dir"
        CARGO_TARGET_DIR="$busy_dir" cargo build --release --quiet >/dev/null 2>&1 || true
    done
) &
busy=$!
trap 'kill "$busy" 2>/dev/null; pkill -P "$busy" 2>/dev/null' EXIT

failed=0
for run in 1 2 3; do
    started=$(date +%s)
    if cargo test --quiet >"target/three-runs-$run.log" 2>&1; then
        result="passed"
    else
        result="FAILED (see target/three-runs-$run.log)"
        failed=1
    fi
    elapsed=$(($(date +%s) - started))
    printf 'run %d: %s in %dm%02ds\n' "$run" "$result" $((elapsed / 60)) $((elapsed % 60))
done
exit "$failed"

#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ for a given time each and reports what
# they reached.
#
#   scripts/fuzz.sh [TARGET|all] SECONDS
#
# TARGET is one of the binaries of fuzz/Cargo.toml (parse_chunk, parse_uri, parse_sdp,
# content_cpim, content_imdn,
# parse_digest, session); "all" (the default) runs every one. FUZZ_JOBS=N runs
# N targets at the same time (default 1; one core each). Run it under
# `nice -n 19` on a shared machine.
#
# Each target's working corpus is fuzz/corpus/<target> (kept between runs,
# not committed), seeded from fuzz/corpus_seed/<target>. Any input that made a
# target crash, hang (over FUZZ_TIMEOUT seconds, default 10) or run out of
# memory is copied into tests/fuzz_regressions/<target>/, which
# `cargo test --test fuzz_regressions` replays; the target stops at its first
# crash. For each target the script prints the executions, executions per
# second and the coverage libFuzzer reached (cov: edges and ft: features, from
# its final status line), and exits non-zero if any target crashed.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and, on a stable toolchain,
# RUSTC_BOOTSTRAP=1 (set here) for the sanitizer flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export RUSTC_BOOTSTRAP=1

usage() {
    echo "usage: $0 [TARGET|all] SECONDS" >&2
    exit 2
}

if [ $# -eq 1 ]; then
    which=all
    seconds=$1
elif [ $# -eq 2 ]; then
    which=$1
    seconds=$2
else
    usage
fi
case "$seconds" in '' | *[!0-9]*) usage ;; esac

mapfile -t all_targets < <(cargo fuzz list)
if [ "$which" = all ]; then
    targets=("${all_targets[@]}")
else
    found=0
    for t in "${all_targets[@]}"; do [ "$t" = "$which" ] && found=1; done
    if [ "$found" -eq 0 ]; then
        echo "unknown target '$which'; targets: ${all_targets[*]}" >&2
        exit 2
    fi
    targets=("$which")
fi

jobs=${FUZZ_JOBS:-1}
timeout=${FUZZ_TIMEOUT:-10}
logdir=fuzz/logs
mkdir -p "$logdir"

# One optimized build of every target with the sanitizer and coverage flags.
cargo fuzz build -O
bindir=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release

# run_target NAME: fuzz NAME for $seconds, then copy its crash inputs into the
# regression corpus and write its summary line to $logdir/NAME.summary.
run_target() {
    local target=$1
    local corpus=fuzz/corpus/$target artifacts=fuzz/artifacts/$target/
    local log=$logdir/$target.log
    mkdir -p "$corpus" "$artifacts"
    local seeds=()
    [ -d "fuzz/corpus_seed/$target" ] && seeds=("fuzz/corpus_seed/$target")
    local rc=0
    "$bindir/$target" "$corpus" "${seeds[@]}" \
        -max_total_time="$seconds" -timeout="$timeout" \
        -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1 || rc=$?

    # Crashes, hangs and out-of-memory inputs become regression inputs
    # (unless an input with the same content is there, renamed or not).
    local crashes=0 f g known
    mkdir -p "tests/fuzz_regressions/$target"
    for f in "$artifacts"crash-* "$artifacts"timeout-* "$artifacts"oom-* "$artifacts"leak-*; do
        [ -f "$f" ] || continue
        known=0
        for g in "tests/fuzz_regressions/$target"/*; do
            if [ -f "$g" ] && cmp -s "$f" "$g"; then known=1; fi
        done
        if [ "$known" -eq 0 ]; then
            cp "$f" "tests/fuzz_regressions/$target/"
            crashes=$((crashes + 1))
        fi
    done
    rmdir "tests/fuzz_regressions/$target" 2>/dev/null || true

    local execs rate status cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
    local outcome=ok
    if [ "$rc" -ne 0 ]; then
        outcome="CRASH (exit $rc; $crashes new input(s) in tests/fuzz_regressions/$target; log $log)"
    fi
    printf '%-14s %6ss  execs %12s  exec/s %8s  cov %6s  ft %7s  corpus %6s  %s\n' \
        "$target" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "$(find "$corpus" -type f | wc -l)" "$outcome" >"$logdir/$target.summary"
    [ "$rc" -eq 0 ]
}

for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    rm -f "$logdir/$target.summary"
    echo "fuzzing $target for ${seconds}s (log $logdir/$target.log)"
    run_target "$target" &
done
wait || true

echo
failed=0
for target in "${targets[@]}"; do
    cat "$logdir/$target.summary" 2>/dev/null || echo "$target: no summary (see $logdir/$target.log)"
    if grep -q CRASH "$logdir/$target.summary"; then failed=1; fi
done
exit "$failed"

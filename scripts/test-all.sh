#!/usr/bin/env bash
# The test command of libmsrp: everything CI checks, in order, stopping at the
# first failure. Works on a fresh Debian bookworm machine with Rust (rustup),
# gcc and python3, as root: scripts/install-tools.sh installs the rest.
#
#   scripts/test-all.sh
#
# Sections:
#   tools        scripts/install-tools.sh (apt packages, pinned cbindgen)
#   fmt          cargo fmt --check
#   clippy       cargo clippy --all-targets -- -D warnings
#   test         cargo test
#   header       scripts/check-header.sh (include/msrp.h is not stale)
#   c            CMake build in build/, ctest
#   c-asan       CMake build in build-asan/ with MSRP_SANITIZE=ON, ctest
#   fuzz         cargo check of fuzz/ (only if it exists)
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
JOBS=$(nproc 2>/dev/null || echo 2)

total_start=$SECONDS
timings=()
current=""
# Test counts collected from the runners' own summaries (cargo test, ctest).
tests_passed=0
tests_failed=0
tests_skipped=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/msrp-test-all.XXXXXX")

on_exit() {
    local rc=$?
    rm -rf "$logdir"
    if [ "$rc" -ne 0 ] && [ -n "$current" ]; then
        echo
        echo "### FAILED: section '$current' (exit $rc) after $((SECONDS - total_start))s"
    fi
}
trap on_exit EXIT

# section NAME DESCRIPTION COMMAND...: run COMMAND under a header; the first
# failure ends the run.
section() {
    local name=$1 description=$2
    shift 2
    current=$name
    echo
    echo "################################################################"
    echo "### $name: $description"
    echo "################################################################"
    local start=$SECONDS
    "$@"
    local took=$((SECONDS - start))
    timings+=("$(printf '%-8s %5ss' "$name" "$took")")
    echo "### $name: OK (${took}s)"
    current=""
}

# Add up "test result: ok. N passed; N failed; N ignored; ..." lines.
count_cargo_tests() {
    local p f i
    read -r p f i < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored;.*/\1 \2 \3/p' "$1" |
        awk '{p += $1; f += $2; i += $3} END {print p + 0, f + 0, i + 0}')
    tests_passed=$((tests_passed + p))
    tests_failed=$((tests_failed + f))
    tests_skipped=$((tests_skipped + i))
}

# Add up ctest's "NN% tests passed, F tests failed out of T" line.
count_ctest_tests() {
    local f t
    read -r f t < <(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1 \2/p' "$1" |
        awk '{f += $1; t += $2} END {print f + 0, t + 0}')
    tests_passed=$((tests_passed + t - f))
    tests_failed=$((tests_failed + f))
}

cargo_test() {
    cargo test 2>&1 | tee "$logdir/cargo-test.log"
    count_cargo_tests "$logdir/cargo-test.log"
}

cmake_build_and_test() {
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@"
    cmake --build "$dir" --parallel "$JOBS"
    (cd "$dir" && ctest --output-on-failure) 2>&1 | tee "$logdir/ctest.log"
    count_ctest_tests "$logdir/ctest.log"
}

fuzz_check() {
    if [ -d fuzz ]; then
        RUSTC_BOOTSTRAP=1 cargo check --manifest-path fuzz/Cargo.toml
    else
        echo "no fuzz/ directory: skipped"
    fi
}

section tools "scripts/install-tools.sh" scripts/install-tools.sh
section fmt "cargo fmt --check" cargo fmt --check
section clippy "cargo clippy --all-targets -- -D warnings" cargo clippy --all-targets -- -D warnings
section test "cargo test" cargo_test
section header "scripts/check-header.sh" scripts/check-header.sh
section c "cmake build in build/, ctest" cmake_build_and_test build -DMSRP_SANITIZE=OFF
section c-asan "cmake build in build-asan/ with MSRP_SANITIZE=ON, ctest" \
    cmake_build_and_test build-asan -DMSRP_SANITIZE=ON
section fuzz "cargo check of fuzz/ (RUSTC_BOOTSTRAP=1)" fuzz_check

echo
echo "### time per section"
printf '###   %s\n' "${timings[@]}"
echo "### all passed in $((SECONDS - total_start))s"
echo "tests: $tests_passed passed, $tests_failed failed, $tests_skipped skipped"

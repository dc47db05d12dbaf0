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

on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "$current" ]; then
        echo
        echo "### FAILED: section '$current' (exit $rc) after $((SECONDS - total_start))s"
    fi
}
trap on_exit EXIT

# section NAME COMMAND...: run COMMAND under a header; the first failure ends the run.
section() {
    local name=$1
    shift
    current=$name
    echo
    echo "################################################################"
    echo "### $name: $*"
    echo "################################################################"
    local start=$SECONDS
    "$@"
    local took=$((SECONDS - start))
    timings+=("$(printf '%-8s %5ss' "$name" "$took")")
    echo "### $name: OK (${took}s)"
    current=""
}

cmake_build_and_test() {
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@"
    cmake --build "$dir" --parallel "$JOBS"
    (cd "$dir" && ctest --output-on-failure)
}

fuzz_check() {
    if [ -d fuzz ]; then
        RUSTC_BOOTSTRAP=1 cargo check --manifest-path fuzz/Cargo.toml
    else
        echo "no fuzz/ directory: skipped"
    fi
}

section tools scripts/install-tools.sh
section fmt cargo fmt --check
section clippy cargo clippy --all-targets -- -D warnings
section test cargo test
section header scripts/check-header.sh
section c cmake_build_and_test build -DMSRP_SANITIZE=OFF
section c-asan cmake_build_and_test build-asan -DMSRP_SANITIZE=ON
section fuzz fuzz_check

echo
echo "### time per section"
printf '###   %s\n' "${timings[@]}"
echo "### all passed in $((SECONDS - total_start))s"

#!/usr/bin/env bash
# The demo: builds everything in release, then runs the loopback demo (two
# MSRP endpoints talking over 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [ ! -f examples/loopback_demo.rs ]; then
    echo "demo: examples/loopback_demo.rs does not exist yet, so there is no demo to run."
    echo "demo: nothing was built; scripts/test-all.sh builds and tests what exists."
    exit 0
fi

echo "=== building (release): Rust library and examples"
cargo build --release --lib --examples
if command -v cmake >/dev/null 2>&1; then
    echo "=== building (release): C examples (build/)"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build --parallel "$(nproc 2>/dev/null || echo 2)"
fi

echo "=== cargo run --release --example loopback_demo"
exec cargo run --release --example loopback_demo -- "$@"

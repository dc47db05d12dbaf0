#!/usr/bin/env bash
# The demo: builds everything in release, then runs two msrp-peer processes
# that exchange chat and a file over 127.0.0.1 (scripts/peer_demo.py wires
# each one's PATH line to the other, as SDP would). The Rust-only version:
# cargo run --release --example loopback_demo
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

echo "=== building (release): Rust library, C library, msrp-peer and examples (build/)"
bash scripts/install-tools.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --parallel "$(nproc 2>/dev/null || echo 2)"

echo "=== two msrp-peer processes: chat and a file over loopback"
python3 scripts/peer_demo.py build/examples-c/msrp-peer "$@"

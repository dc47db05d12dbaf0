#!/usr/bin/env bash
# Regenerate include/msrp.h from the Rust sources with the pinned cbindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cbindgen-env.sh

generate_header include/msrp.h
echo "wrote include/msrp.h (cbindgen $CBINDGEN_VERSION)"

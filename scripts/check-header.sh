#!/usr/bin/env bash
# Fail, showing a diff, if include/msrp.h is not what the pinned cbindgen
# generates from the current sources. Fix with scripts/gen-header.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cbindgen-env.sh

tmp=$(mktemp --suffix=.h)
trap 'rm -f "$tmp"' EXIT

generate_header "$tmp"
if ! diff -u --label include/msrp.h --label "generated (cbindgen $CBINDGEN_VERSION)" \
        include/msrp.h "$tmp"; then
    echo >&2
    echo "error: include/msrp.h is stale; run scripts/gen-header.sh and commit it." >&2
    exit 1
fi
echo "include/msrp.h is up to date (cbindgen $CBINDGEN_VERSION)"

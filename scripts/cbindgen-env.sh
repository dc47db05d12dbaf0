# shellcheck shell=bash
# Sourced by gen-header.sh and check-header.sh: finds the pinned cbindgen.
# The pinned version lives in one place, scripts/install-tools.sh.

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

CBINDGEN_VERSION=$(sed -n 's/^CBINDGEN_VERSION=//p' scripts/install-tools.sh)
if [ "$(cbindgen --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]; then
    echo "error: cbindgen $CBINDGEN_VERSION is required (found: $(cbindgen --version 2>/dev/null || echo none))." >&2
    echo "       Run scripts/install-tools.sh." >&2
    exit 1
fi

# generate_header OUTPUT: write the header for the current sources to OUTPUT.
generate_header() {
    cbindgen --quiet --config cbindgen.toml --crate msrp --output "$1" .
}

#!/usr/bin/env bash
# Install the tools that scripts/test-all.sh and the C tests need.
#
# Idempotent and fast when everything is already there: apt is only touched
# when a Debian package is missing, and cbindgen is only built when
# `cbindgen --version` does not print the pinned version.
#
# Debian packages (bookworm):
#   cmake pkg-config        C build of the library's tests and examples
#   valgrind                leak_ tests of the C API
#   golang-go               Go FFI smoke tests
#   kamailio kamailio-tls-modules kamailio-websocket-modules
#                           MSRP relay (msrp module) for relay tests, over TCP,
#                           TLS and WebSocket
#   openssl                 test certificates and fingerprints
#   chromium                the browser test of MSRP over WebSocket
#                           (tests-c/browser_ws.py, headless)
#
# Rust tools:
#   cbindgen (pinned)       generates include/msrp.h; the version is pinned so
#                           the committed header is reproducible.
set -euo pipefail

CBINDGEN_VERSION=0.29.4
APT_PACKAGES=(cmake pkg-config valgrind golang-go kamailio kamailio-tls-modules kamailio-websocket-modules openssl chromium)

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    fi
fi

# --- Debian packages --------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-tools: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt/dpkg run instead of failing on its lock.
    lock=(-o DPkg::Lock::Timeout=600)
    "${SUDO[@]}" apt-get "${lock[@]}" update -q
    "${SUDO[@]}" apt-get "${lock[@]}" install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-tools: Debian packages present: ${APT_PACKAGES[*]}"
fi

# --- cbindgen (pinned) ------------------------------------------------------
have=$(cbindgen --version 2>/dev/null || true)
if [ "$have" = "cbindgen $CBINDGEN_VERSION" ]; then
    echo "install-tools: $have present"
else
    echo "install-tools: installing cbindgen $CBINDGEN_VERSION (found: ${have:-none})"
    nice cargo install cbindgen --version "=$CBINDGEN_VERSION" --locked --force
    cbindgen --version
fi

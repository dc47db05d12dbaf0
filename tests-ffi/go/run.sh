#!/bin/sh
# int_ffi_go: builds tests-ffi/go with the local Go toolchain (standard
# library only, no network) and runs it against msrp-peer.
#
# usage: run.sh INCLUDE_DIR LIB_DIR MSRP_PEER PYTHON PEER_PAIR_PY
# Exits 77 (ctest: skipped) when `go` is not installed.
set -eu
include=$1 libdir=$2 peer=$3 python=$4
if ! command -v go >/dev/null 2>&1; then
    echo "SKIP: go is not installed (Debian: apt-get install golang-go)"
    exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/msrp-go.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$tmp/cache" GOPATH="$tmp/gopath"
export CGO_ENABLED=1 CGO_CFLAGS="-I$include" CGO_LDFLAGS="-L$libdir -Wl,-rpath,$libdir"
(cd "$here" && go build -o "$tmp/ffi-go" .)

# The peer accepts; the Go program connects. PATH lines cross over.
mkfifo "$tmp/to_peer"
"$peer" accept --count 1 --timeout 60 <"$tmp/to_peer" >"$tmp/peer.out" &
peer_pid=$!
exec 3>"$tmp/to_peer"
i=0
until grep -q '^PATH ' "$tmp/peer.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "FAIL: msrp-peer printed no PATH"; exit 1; }
    sleep 0.05
done
peer_path=$(grep '^PATH ' "$tmp/peer.out")
"$tmp/ffi-go" "$peer_path" >"$tmp/go.out" &
go_pid=$!
i=0
until grep -q '^PATH ' "$tmp/go.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "FAIL: ffi-go printed no PATH"; exit 1; }
    sleep 0.05
done
grep '^PATH ' "$tmp/go.out" >&3
wait $go_pid || { echo "FAIL: ffi-go failed"; cat "$tmp/go.out"; exit 1; }
exec 3>&-
wait $peer_pid || { echo "FAIL: msrp-peer failed"; cat "$tmp/peer.out"; exit 1; }
id=$(sed -n 's/^SENT \([^ ]*\) 200$/\1/p' "$tmp/go.out")
want=$(printf 'hello from Go' | sha256sum | cut -d' ' -f1)
grep -qx "RECEIVED $id text/plain 13 $want" "$tmp/peer.out" || { echo "FAIL: no RECEIVED line"; cat "$tmp/peer.out"; exit 1; }
echo "PASS go cgo: RECEIVED $id"

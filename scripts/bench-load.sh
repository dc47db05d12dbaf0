#!/bin/sh
# Load benchmark (not CI: it needs a raised RLIMIT_NOFILE and minutes).
#
#   scripts/bench-load.sh [SESSIONS] [SECONDS]     default 10000 60
#
# One server process holds SESSIONS bound MSRP sessions through one Server
# port, the client side in a separate process; each session sends a message
# a second for SECONDS seconds. Every message must be received and answered
# 200. Prints the server's resident memory per idle session and CPU time per
# message, and the same for plain TCP connections doing the same (the
# baseline, in the same run). examples/load.rs says how it measures.
set -eu
cd "$(dirname "$0")/.."
sessions=${1:-10000}
seconds=${2:-60}
# Each process holds one socket per session plus a few.
need=$((sessions + 200))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "bench-load: RLIMIT_NOFILE hard limit $hard < $need; raise it (e.g. in /etc/security/limits.conf, or run as root with ulimit -Hn $need)" >&2
    exit 1
fi
ulimit -n "$need" 2>/dev/null || ulimit -n "$hard"
nice cargo build --release --example load
exec target/release/examples/load run --sessions "$sessions" --seconds "$seconds"

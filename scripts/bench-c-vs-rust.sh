#!/usr/bin/env bash
# The same loopback file transfer through the C API and through the Rust API,
# in one run: bench-c/c_file_transfer.c against examples/file_transfer_bench.rs
# (ConnectorDirect -> AcceptorDirect over loopback TCP, send_file with the
# default chunk size, the receiver counting and discarding, timed from binding
# to the last octet received).
#
#   scripts/bench-c-vs-rust.sh [RUNS]
#
# Builds both in release (the C program through CMake in build-bench/, the
# Rust one with cargo), makes the file once (a sparse file of
# MSRP_BENCH_FILE_BYTES octets, default 1 GiB, at MSRP_BENCH_FILE, default
# /tmp/msrp-bench-1GiB.bin: it reads as zeros from the page cache, so the disk
# is not measured), then runs the two RUNS times each (default 3), alternately,
# and prints each throughput and CPU time (the process's, all threads), their
# medians and the ratios C/Rust. Run it under `nice` on a shared machine;
# compare ratios, not absolute figures (on a busy machine the CPU time ratio
# is the steadier of the two).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
runs=${1:-3}
bytes=${MSRP_BENCH_FILE_BYTES:-$((1 << 30))}
file=${MSRP_BENCH_FILE:-/tmp/msrp-bench-1GiB.bin}

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMSRP_SANITIZE=OFF \
    -DMSRP_BUILD_TESTS=OFF -DMSRP_BUILD_EXAMPLES=OFF -DMSRP_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build-bench --target c_file_transfer
cargo build --release --example file_transfer_bench
c_bin=build-bench/bench-c/c_file_transfer
rust_bin=target/release/examples/file_transfer_bench

if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne "$bytes" ]; then
    rm -f "$file"
    truncate -s "$bytes" "$file"
fi

# run NAME BINARY: one transfer; appends its MB/s and CPU seconds to NAME's lists.
c_rates=()
rust_rates=()
c_cpu=()
rust_cpu=()
run() {
    local name=$1 bin=$2 line rate cpu
    line=$("$bin" "$file")
    echo "  $line"
    rate=$(sed -n 's/.* MBps=\([0-9.]*\).*/\1/p' <<<"$line")
    cpu=$(sed -n 's/.* cpu=\([0-9.]*\).*/\1/p' <<<"$line")
    if [ "$name" = c ]; then
        c_rates+=("$rate")
        c_cpu+=("$cpu")
    else
        rust_rates+=("$rate")
        rust_cpu+=("$cpu")
    fi
}

echo "$runs transfers each of $bytes octets ($file), alternating:"
for i in $(seq 1 "$runs"); do
    if [ $((i % 2)) -eq 1 ]; then
        run rust "$rust_bin"
        run c "$c_bin"
    else
        run c "$c_bin"
        run rust "$rust_bin"
    fi
done

median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
c_median=$(median "${c_rates[@]}")
rust_median=$(median "${rust_rates[@]}")
echo
c_cpu_median=$(median "${c_cpu[@]}")
rust_cpu_median=$(median "${rust_cpu[@]}")
echo "C API    median $c_median MB/s (runs: ${c_rates[*]}), CPU ${c_cpu_median}s (runs: ${c_cpu[*]})"
echo "Rust API median $rust_median MB/s (runs: ${rust_rates[*]}), CPU ${rust_cpu_median}s (runs: ${rust_cpu[*]})"
awk -v c="$c_median" -v r="$rust_median" -v cc="$c_cpu_median" -v rc="$rust_cpu_median" \
    'BEGIN { printf "throughput ratio C/Rust = %.3f; CPU time ratio C/Rust = %.3f\n", c / r, cc / rc }'

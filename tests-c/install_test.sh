#!/usr/bin/env bash
# build_install_find_package: install libmsrp into a temporary prefix, check
# the installed files, then build and run tests-c/consumer against it with
# find_package(msrp CONFIG) (shared and static) and with pkg-config.
#
# usage: install_test.sh BUILD_DIR CONSUMER_SRC_DIR EXPECTED_VERSION [CC [CMAKE]]
set -euo pipefail

build_dir=$1
consumer_src=$2
version=$3
cc=${4:-cc}
cmake=${5:-cmake}
soversion=${version%%.*}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/msrp-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "cmake --install into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix"

step "installed files"
lib=$prefix/lib
for f in "lib/libmsrp.so.$version" "lib/libmsrp.a" "include/msrp.h" \
         "lib/pkgconfig/msrp.pc" "lib/cmake/msrp/msrpConfig.cmake" \
         "lib/cmake/msrp/msrpConfigVersion.cmake"; do
    if [ ! -f "$prefix/$f" ] || [ -L "$prefix/$f" ]; then fail "missing regular file $f"; fi
done
[ "$(readlink "$lib/libmsrp.so.$soversion")" = "libmsrp.so.$version" ] \
    || fail "lib/libmsrp.so.$soversion is not a symlink to libmsrp.so.$version"
[ "$(readlink "$lib/libmsrp.so")" = "libmsrp.so.$soversion" ] \
    || fail "lib/libmsrp.so is not a symlink to libmsrp.so.$soversion"
soname=$(LC_ALL=C readelf -d "$lib/libmsrp.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libmsrp.so.$soversion" ] || fail "SONAME is '$soname', expected libmsrp.so.$soversion"
ls -l "$lib"

step "find_package(msrp CONFIG REQUIRED) consumer"
"$cmake" -S "$consumer_src" -B "$tmp/consumer-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >"$tmp/configure.log" 2>&1 \
    || { cat "$tmp/configure.log"; fail "consumer configure"; }
"$cmake" --build "$tmp/consumer-build" \
    || fail "consumer build"
# The shared consumer finds libmsrp.so.0 through the build RPATH CMake gives it.
"$tmp/consumer-build/consumer_shared" "$version" || fail "consumer_shared"
"$tmp/consumer-build/consumer_static" "$version" || fail "consumer_static"
if LC_ALL=C readelf -d "$tmp/consumer-build/consumer_static" | grep -q 'NEEDED.*libmsrp'; then
    fail "consumer_static depends on the shared libmsrp"
fi

step "pkg-config consumer"
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion msrp)" = "$version" ] || fail "pkg-config --modversion msrp"
# shellcheck disable=SC2046 # word splitting of the flags is intended
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$tmp/consumer_pc" \
    "$consumer_src/main.c" $(pkg-config --cflags --libs msrp) \
    || fail "build with pkg-config --cflags --libs msrp"
LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$tmp/consumer_pc" "$version" \
    || fail "consumer_pc"

echo "install, find_package and pkg-config: OK"

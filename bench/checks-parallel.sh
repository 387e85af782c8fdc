#!/bin/sh
# Bench (not a test): N kafka checks behind RTT_MS of broker latency run in
# one preflight vs one after the other, and a check against a dead endpoint
# vs its deadline.  See bench/README.md.
#   bench/checks-parallel.sh [BUILDDIR] [N] [RTT_MS] [TIMEOUT_MS] [ROUNDS]
set -eu
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$srcdir}" && pwd)
n=${2:-4} rtt=${3:-200} timeout=${4:-5000} rounds=${5:-3}

for f in libphdeploy/.libs/libphdeploy.so plugins/kafka/.libs/kafka.so tests/bin/mock-kafka; do
	[ -e "$builddir/$f" ] || { echo "missing $builddir/$f: run make && make tests/bin/mock-kafka" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phd-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$srcdir/libphdeploy/include" \
	-o "$tmp/checks-parallel" "$srcdir/bench/checks-parallel.c" \
	-L"$builddir/libphdeploy/.libs" -Wl,-rpath,"$builddir/libphdeploy/.libs" -lphdeploy -ldl
"$tmp/checks-parallel" "$builddir" "$n" "$rtt" "$timeout" "$rounds"

#!/bin/sh
# The Python binding's pytest suite as one TAP test of `make check`
# (bindings/python/pytest.sh is made from pytest.sh.in).  It builds the cffi
# extension against this build tree's header and library into
# $top_builddir/bindings/python/build (nothing is written under the source
# tree), then runs pytest with a TAP line per test on stdout.
. "$top_srcdir/tests/tap/tap.sh"

src=$top_srcdir/bindings/python
out=$top_builddir/bindings/python/build
cc='gcc'
san_cflags=''

# configure's python3 may be one without cffi (pyenv): take the first with both
py=
for cand in '/root/.pyenv/shims/python3' /usr/bin/python3 python3; do
	[ -n "$cand" ] || continue
	if "$cand" -c 'import cffi, pytest' >/dev/null 2>&1; then py=$cand; break; fi
done
[ -n "$py" ] || skip_all "no python3 with cffi and pytest (Debian: python3-cffi python3-pytest)"

rm -rf "$out"
mkdir -p "$out/phdeploy" || exit 1
cp "$src"/phdeploy/*.py "$out/phdeploy/" || exit 1
if ! PHDEPLOY_CFLAGS="-I$top_srcdir/libphdeploy/include" \
     PHDEPLOY_LIBS="-L$top_builddir/libphdeploy/.libs -lphdeploy" \
     "$py" "$src/build_capi.py" "$out" > "$out/build.log" 2>&1; then
	echo "Bail out! building the cffi extension failed"
	sed 's/^/# /' "$out/build.log"
	exit 1
fi

LD_LIBRARY_PATH=$top_builddir/libphdeploy/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PYTHONPATH=$out
PYTHONDONTWRITEBYTECODE=1
export LD_LIBRARY_PATH PYTHONPATH PYTHONDONTWRITEBYTECODE

# A sanitizer build: the library expects the ASan runtime that python3 does
# not carry; preload it.  Python's own allocations at exit are not ours.
if [ -n "$san_cflags" ]; then
	rt=
	for lib in libclang_rt.asan-x86_64.so libasan.so; do
		f=$($cc -print-file-name=$lib 2>/dev/null)
		case $f in /*) [ -e "$f" ] && { rt=$f; break; } ;; esac
	done
	[ -n "$rt" ] || skip_all "sanitizer build: no ASan runtime found to preload into python3"
	LD_PRELOAD=$rt
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	# conftest.py drops it once python runs: the library's children (the
	# post-renderer, built with its own ASan runtime) must not inherit it
	PHD_TEST_DROP_PRELOAD=1
	export LD_PRELOAD ASAN_OPTIONS PHD_TEST_DROP_PRELOAD
fi

# TAP on fd 3 (the test's stdout); pytest's own report goes to the log
PHD_TAP_FD=3 "$py" -m pytest -p no:cacheprovider --rootdir "$out" -q -rs "$src/tests" 3>&1 1>&2

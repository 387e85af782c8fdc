#!/bin/sh
# The Python binding against a libphdeploy in a prefix of its own: a
# separate build of this source tree configured with --prefix=$TAPTMP/opt/phd
# installs the library, its headers and libphdeploy.pc there; then, for each
# CPython >= 3.9 found, `pip install --target DIR bindings/python` finds the
# library through PKG_CONFIG_PATH alone, and `import phdeploy` works with no
# LD_LIBRARY_PATH, loading that prefix's library (the RUNPATH recorded from
# pkg-config's libdir).  Without that RUNPATH (PHDEPLOY_RPATH=) the import
# fails: it is what makes it work.
# pip's isolated build needs setuptools, wheel and cffi from PyPI; where PyPI
# cannot be reached the build falls back to --no-build-isolation with the
# interpreter's own ones, and says so.
. "$top_srcdir/tests/tap/tap.sh"

command -v pkg-config > /dev/null 2>&1 || skip_all "pkg-config is needed"
[ -x "$top_srcdir/configure" ] || skip_all "no configure script in $top_srcdir (run ./bootstrap)"
tap_mktemp
cd "$TAPTMP" || exit 1
prefix=$TAPTMP/opt/phd
# a make inside make check must not talk to the outer make's jobserver
unset MAKEFLAGS MFLAGS MAKELEVEL LD_LIBRARY_PATH PKG_CONFIG_SYSROOT_DIR PYTHONPATH
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_CONFIG_FILE=/dev/null
export PIP_DISABLE_PIP_VERSION_CHECK PIP_NO_INPUT PIP_CONFIG_FILE

# ---- the library alone, built and installed under a prefix of its own ----
mkdir build
(cd build && "$top_srcdir/configure" -q --prefix="$prefix" &&
	make libphdeploy/libphdeploy.la &&
	make install-libLTLIBRARIES install-pkgconfigDATA install-phdeployincludeHEADERS) \
	> build.log 2>&1
ok $? "configure --prefix=\$TAPTMP/opt/phd; the library installs there"
[ -f "$prefix/lib/pkgconfig/libphdeploy.pc" ] || { tail -20 build.log | sed 's/^/# /'; done_testing; exit 1; }
PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH
is "$(pkg-config --cflags --libs libphdeploy | sed 's/ *$//')" "-I$prefix/include -L$prefix/lib -lphdeploy" \
	"pkg-config finds it through PKG_CONFIG_PATH"

# pip_install PY DIR [ENV...]: sets mode (isolated / no-isolation) or returns 1
pip_install() {
	py=$1 dir=$2
	shift 2
	mode=isolated
	# a fresh copy each time: pip builds in the tree, and setuptools would
	# reuse an extension linked with other flags
	rm -rf pysrc && cp -R "$top_srcdir/bindings/python" pysrc && chmod -R u+w pysrc &&
		rm -rf pysrc/build pysrc/*.egg-info || return 1
	env "$@" "$py" -m pip install -q --no-deps --retries 0 --timeout 5 --target "$dir" \
		./pysrc > pip.log 2>&1 && return 0
	# no PyPI: the isolated environment cannot get its build requirements
	grep -qiE 'no matching distribution|could not find a version|connection|resolve' pip.log ||
		return 1
	missing=$("$py" -c 'import importlib.util as u
print(" ".join(m for m in ("cffi", "setuptools", "wheel") if not u.find_spec(m)))')
	[ -z "$missing" ] || { mode=none; return 1; }
	mode=no-isolation
	env "$@" "$py" -m pip install -q --no-deps --no-build-isolation --no-index \
		--target "$dir" ./pysrc > pip.log 2>&1
}

# CPython >= 3.9 interpreters here, each once
seen=
n=0
for cand in /usr/bin/python3 python3 python3.9 python3.10 python3.11 python3.12 python3.13 \
	python3.14; do
	exe=$("$cand" -c 'import sys, os
if sys.implementation.name == "cpython" and sys.version_info >= (3, 9):
    print(os.path.realpath(sys.executable))' 2> /dev/null) || continue
	[ -n "$exe" ] || continue
	case " $seen " in *" $exe "*) continue ;; esac
	seen="$seen $exe"
	"$exe" -m pip --version > /dev/null 2>&1 || continue
	n=$((n + 1))
	ver=$("$exe" -c 'import platform; print(platform.python_version())')
	if ! pip_install "$exe" "$TAPTMP/py$n"; then
		if [ "$mode" = none ]; then
			skip 3 "python $ver ($exe): no PyPI for an isolated build, and it lacks $missing for --no-build-isolation"
			continue
		fi
		ok 1 "python $ver: pip install bindings/python ($mode build)"
		sed 's/^/# /' pip.log | tail -20
		skip 2 "it did not build"
		continue
	fi
	[ "$mode" = isolated ] ||
		diag "python $ver: pip could not reach PyPI for an isolated build (setuptools, wheel, cffi): built with --no-build-isolation"
	ok 0 "python $ver: pip install bindings/python builds against the prefix ($mode build)"
	got=$(cd / && PYTHONPATH=$TAPTMP/py$n "$exe" -c '
import phdeploy, phdeploy._capi as c
maps = open("/proc/self/maps").read().split()
print(phdeploy.library_version(), sorted({m for m in maps if "libphdeploy.so" in m}))' 2>&1)
	is "$got" "0.3.0 ['$prefix/lib/libphdeploy.so.1.1.0']" \
		"python $ver: import phdeploy without LD_LIBRARY_PATH loads the prefix's library"
	# the same build without the RUNPATH cannot find the library
	if pip_install "$exe" "$TAPTMP/norpath$n" PHDEPLOY_RPATH=; then
		got=$(cd / && PYTHONPATH=$TAPTMP/norpath$n "$exe" -c 'import phdeploy' 2>&1)
		like "$got" "libphdeploy.so.1: cannot open shared object file" \
			"python $ver: without the RUNPATH (PHDEPLOY_RPATH=) the import fails"
	else
		ok 1 "python $ver: the build with PHDEPLOY_RPATH= failed"
		sed 's/^/# /' pip.log | tail -20
	fi
done
[ "$n" -gt 0 ] || skip 1 "no CPython >= 3.9 with pip here"

done_testing

# Shared by the helm benches (sourced, not run): paths, a private temp dir,
# and measure, the interleaved timing loop (bench/measure.py).
# Env: BUILDDIR (the build tree, default the source tree), N (rounds,
# default 11), HELM, PHD_FIXTURES, PHD_TOOLS, PHDEPLOY_PLUGIN_PATH.
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${BUILDDIR:-$top}" && pwd)
# the real binary, as installed: libtool's wrapper script is not the product
PHDEPLOY=${PHDEPLOY:-$build/src/.libs/phdeploy}
[ -x "$PHDEPLOY" ] || PHDEPLOY=$build/src/phdeploy
export LD_LIBRARY_PATH="$build/libphdeploy/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PHDEPLOY_POSTRENDER="${PHDEPLOY_POSTRENDER:-$build/plugins/helm/phdeploy-postrender}"
fx=${PHD_FIXTURES:-$(cd "$top/.." && pwd)/shared/fixtures}
tools=${PHD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/phdeploy/tools}
helm=${HELM:-$tools/helm4}
n=${N:-11}
# the helm plugin alone by default: the wrapper, not the HA rules (set
# PHDEPLOY_PLUGIN_PATH to every plugin's .libs to include the validators)
: "${PHDEPLOY_PLUGIN_PATH:=$build/plugins/helm/.libs}"
export PHDEPLOY_PLUGIN_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phd-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export PHDEPLOY_STATE_DIR="$tmp/state"

need() { # files...
	for f in "$@"; do
		[ -e "$f" ] || { echo "$(basename "$0"): missing $f" >&2; exit 1; }
	done
}
# measure 'label=cmd...' ...: median wall ms of N interleaved rounds (A B A B
# ...) after a warm-up, peak RSS, ratios to the first row
measure() {
	echo "$(basename "$0"): $("$helm" version --short), $n rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
	python3 "$top/bench/measure.py" "$n" "$@"
}

# Shared by helm-render.sh and helm-index.sh (sourced, not run): paths,
# a private temp dir, and run_n, the timing loop.
top=$(cd "$(dirname "$0")/.." && pwd)
PHDEPLOY=${PHDEPLOY:-$top/src/phdeploy}
fx=${PHD_FIXTURES:-$(cd "$top/.." && pwd)/shared/fixtures}
tools=${PHD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/phdeploy/tools}
helm=${HELM:-$tools/helm4}
n=${N:-10}
# the helm plugin alone by default: the wrapper, not the HA rules (set
# PHDEPLOY_PLUGIN_PATH to every plugin's .libs to include the validators)
: "${PHDEPLOY_PLUGIN_PATH:=$top/plugins/helm/.libs}"
export PHDEPLOY_PLUGIN_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phd-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export PHDEPLOY_STATE_DIR="$tmp/state"

need() { # files...
	for f in "$@"; do
		[ -e "$f" ] || { echo "$(basename "$0"): missing $f" >&2; exit 1; }
	done
}
now() { date +%s%N; }
# run_n LABEL CMD...: one untimed warm-up run, then the mean of N runs in
# microseconds
run_n() {
	label=$1
	shift
	"$@" > /dev/null 2>&1 || {
		echo "$(basename "$0"): $label failed: $*" >&2
		"$@" > /dev/null
		exit 1
	}
	t0=$(now)
	i=0
	while [ $i -lt "$n" ]; do
		"$@" > /dev/null 2>&1
		i=$((i + 1))
	done
	echo $((($(now) - t0) / n / 1000))
}
# report LABEL-HELM LABEL-PHDEPLOY HELM-US PHDEPLOY-US
report() {
	printf '%-40s %8.1f ms/run\n' "$1 ($("$helm" version --short))" "$(awk "BEGIN{print $3/1000}")"
	printf '%-40s %8.1f ms/run\n' "$2" "$(awk "BEGIN{print $4/1000}")"
	printf '%-40s %8.2f  (%d runs each)\n' "ratio phdeploy/helm" "$(awk "BEGIN{print $4/$3}")" "$n"
}

#!/bin/sh
# Bench: `phdeploy render` on the real PostHog chart against `helm template`
# alone with the same arguments; prints both and the wrapper's overhead as a
# ratio.  Not a test.  Env: N (runs, default 10), HELM (default helm4 from
# $PHD_TOOLS), PHDEPLOY, PHD_FIXTURES, PHDEPLOY_PLUGIN_PATH.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PHDEPLOY=${PHDEPLOY:-$top/src/phdeploy}
fx=${PHD_FIXTURES:-$(cd "$top/.." && pwd)/shared/fixtures}
tools=${PHD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/phdeploy/tools}
helm=${HELM:-$tools/helm4}
n=${N:-10}
chart=$fx/posthog-30.46.0.tgz
values=$top/examples/values.yaml
[ -f "$values" ] || values=$top/tests/data/helm/values.yaml
for f in "$PHDEPLOY" "$helm" "$chart"; do
	[ -e "$f" ] || { echo "helm-render: missing $f" >&2; exit 1; }
done
# the helm plugin alone by default: the wrapper, not the HA rules (set
# PHDEPLOY_PLUGIN_PATH to every plugin's .libs to include the validators)
: "${PHDEPLOY_PLUGIN_PATH:=$top/plugins/helm/.libs}"
export PHDEPLOY_PLUGIN_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phd-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# post-render off on both sides: the same helm work, the difference is the wrapper
cat > "$tmp/phdeploy.yaml" <<CFG
release: posthog
namespace: posthog
chart: { name: "$chart" }
values: ["$values"]
kube: { version: "1.29" }
helm: { post_render: false }
CFG
export PHDEPLOY_STATE_DIR="$tmp/state"

now() { date +%s%N; }
run_n() { # label cmd...
	label=$1; shift
	"$@" > /dev/null 2>&1 || { echo "helm-render: $label failed: $*" >&2; "$@" >/dev/null; exit 1; }
	t0=$(now); i=0
	while [ $i -lt "$n" ]; do "$@" > /dev/null 2>&1; i=$((i + 1)); done
	echo $(( ($(now) - t0) / n / 1000 ))   # microseconds per run
}
h=$(run_n "helm template" "$helm" template posthog "$chart" --namespace posthog -f "$values" --kube-version 1.29)
p=$(run_n "phdeploy render" "$PHDEPLOY" --helm "$helm" -c "$tmp/phdeploy.yaml" render)
printf 'helm template (%s)     %8.1f ms/run\n' "$("$helm" version --short)" "$(awk "BEGIN{print $h/1000}")"
printf 'phdeploy render           %8.1f ms/run\n' "$(awk "BEGIN{print $p/1000}")"
printf 'ratio phdeploy/helm       %8.2f  (%d runs each)\n' "$(awk "BEGIN{print $p/$h}")" "$n"

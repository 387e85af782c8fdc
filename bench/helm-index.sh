#!/bin/sh
# Bench: resolving a chart version from the real 2.5 MB index.yaml (737
# entries) - phdeploy's repo phase (libcurl file:// + libyaml events, as a
# plan: nothing runs) against `helm search repo` on the same index placed in
# a private HELM_REPOSITORY_CACHE.  Not a test.  Env: N, HELM, PHDEPLOY,
# PHD_FIXTURES.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PHDEPLOY=${PHDEPLOY:-$top/src/phdeploy}
fx=${PHD_FIXTURES:-$(cd "$top/.." && pwd)/shared/fixtures}
tools=${PHD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/phdeploy/tools}
helm=${HELM:-$tools/helm4}
n=${N:-10}
index=$fx/charts-clickhouse-index.yaml
for f in "$PHDEPLOY" "$helm" "$index"; do
	[ -e "$f" ] || { echo "helm-index: missing $f" >&2; exit 1; }
done
: "${PHDEPLOY_PLUGIN_PATH:=$top/plugins/helm/.libs}"
export PHDEPLOY_PLUGIN_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phd-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/cache"
cp "$index" "$tmp/cache/posthog-index.yaml"
cat > "$tmp/repositories.yaml" <<CFG
apiVersion: ""
generated: "0001-01-01T00:00:00Z"
repositories:
- name: posthog
  url: https://posthog.github.io/charts-clickhouse/
CFG
cat > "$tmp/phdeploy.yaml" <<CFG
release: posthog
namespace: posthog
chart:
  name: posthog/posthog
  repo: { name: posthog, url: "file://$index" }
  version: 30.46.0
CFG
export HELM_REPOSITORY_CACHE="$tmp/cache" HELM_REPOSITORY_CONFIG="$tmp/repositories.yaml"
export PHDEPLOY_STATE_DIR="$tmp/state"

now() { date +%s%N; }
run_n() { # label cmd...
	label=$1; shift
	"$@" > /dev/null 2>&1 || { echo "helm-index: $label failed: $*" >&2; "$@" >/dev/null; exit 1; }
	t0=$(now); i=0
	while [ $i -lt "$n" ]; do "$@" > /dev/null 2>&1; i=$((i + 1)); done
	echo $(( ($(now) - t0) / n / 1000 ))
}
h=$(run_n "helm search repo" "$helm" search repo posthog/posthog --version 30.46.0)
p=$(run_n "phdeploy repo" "$PHDEPLOY" --helm "$helm" -c "$tmp/phdeploy.yaml" --dry-run --only repo repo)
printf 'helm search repo (%s)  %8.1f ms/run\n' "$("$helm" version --short)" "$(awk "BEGIN{print $h/1000}")"
printf 'phdeploy repo (dry run)     %8.1f ms/run\n' "$(awk "BEGIN{print $p/1000}")"
printf 'ratio phdeploy/helm         %8.2f  (%d runs each)\n' "$(awk "BEGIN{print $p/$h}")" "$n"

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
# postrender_plugin DIR: the post-renderer phdeploy uses, as the Helm 4
# plugin pdb-v1 in DIR (HELM_PLUGINS=DIR): Helm 4 takes a post-renderer
# only as a plugin
postrender_plugin() {
	mkdir -p "$1/pdb-v1"
	printf 'apiVersion: v1\ntype: postrenderer/v1\nname: pdb-v1\nversion: 1.0.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: %s\n' \
		"$build/plugins/helm/phdeploy-postrender" > "$1/pdb-v1/plugin.yaml"
}
# release_bench_setup: for the benches of a release on tests/bin/kube-api
# (deploy.sh, diff.sh): kubectl, ka, chart; the plugins a deploy of the
# example loads (helm, kube, secret-file, ha); private helm/kubectl caches;
# the example (values, Secrets, phdeploy.yaml without its dependency
# checks: they need RDS, MSK and ElastiCache endpoints, and helm alone has
# nothing to compare them with) and the post-renderer plugin in $tmp; a
# kube-api in $tmp/k stopped on exit
release_bench_setup() {
	kubectl=${KUBECTL:-$tools/kubectl}
	ka=$top/tests/bin/kube-api
	chart=$fx/posthog-30.46.0.tgz
	need "$PHDEPLOY" "$helm" "$kubectl" "$chart" "$build/plugins/helm/phdeploy-postrender" "$ka"
	b=$build/plugins
	PHDEPLOY_PLUGIN_PATH=$b/helm/.libs:$b/kube/.libs:$b/secret-file/.libs:$b/ha/.libs
	export PHDEPLOY_PLUGIN_PATH
	export HELM_CACHE_HOME=$tmp/helm/cache HELM_CONFIG_HOME=$tmp/helm/config
	export HELM_DATA_HOME=$tmp/helm/data KUBECACHEDIR=$tmp/kubecache
	trap '[ ! -f "$tmp/k/pid" ] || "$ka" stop "$tmp/k" > /dev/null 2>&1; rm -rf "$tmp"' EXIT INT TERM
	cp "$top"/examples/*.secret.yaml "$top/examples/values.yaml" "$tmp/"
	chmod 600 "$tmp"/*.secret.yaml
	sed '/^checks:/,/^$/d' "$top/examples/phdeploy.yaml" > "$tmp/phdeploy.yaml"
	postrender_plugin "$tmp/plugins"
}

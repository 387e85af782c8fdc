# Shell helpers for tests on tests/bin/kube-api, the Kubernetes API
# stand-in, with the real kubectl and helm.  Source it after tap.sh, with
# $W (the test's work dir), $T ($PHD_TOOLS) and $KA (tests/bin/kube-api) set.
# A server is named by a letter or word: its dir is $W/NAME, its scenario
# $W/NAME.json.
#
# Functions: ka_start NAME SCENARIO-JSON..., ka_stop_all, scenario NAME JSON,
# k NAME kubectl-args..., secrets NAME NAMESPACE, wait_until SECONDS CMD...,
# chart_config FILE [RULES]

# ka_start NAME JSON [NAME JSON...]: start each server on its scenario, or
# bail out with what it printed
ka_start() {
	while [ $# -ge 2 ]; do
		echo "$2" > "$W/$1.json"
		"$KA" start "$W/$1" --scenario "$W/$1.json" > "$W/start-$1" 2>&1 || {
			diag "$(cat "$W/start-$1" "$W/$1/kube-api.log" 2>/dev/null)"
			echo "Bail out! kube-api $1 did not start"
			exit 1
		}
		shift 2
	done
}
# ka_stop_all: stop every server started under $W (for the EXIT trap)
ka_stop_all() {
	for _d in "$W"/*/pid; do
		[ -f "$_d" ] && "$KA" stop "${_d%/pid}" > /dev/null 2>&1
	done
}
k() { _s=$1; shift; "$T/kubectl" --kubeconfig "$W/$_s/kubeconfig" "$@"; }
# scenario NAME JSON: the server re-reads its scenario when the file's mtime
# changes, on its next request: one request makes that happen now (the
# controllers follow on their next 50 ms pass)
scenario() {
	_n=$(($(cat "$W/$1.gen" 2>/dev/null || echo 0) + 1))
	echo "$_n" > "$W/$1.gen"
	echo "$2" > "$W/$1.json.new"
	touch -d "@$(($(date +%s) + _n))" "$W/$1.json.new"
	mv "$W/$1.json.new" "$W/$1.json"
	k "$1" get --raw /version > /dev/null 2>&1
}
# secrets NAME NAMESPACE: the namespace and the Secrets examples/values.yaml
# names as existingSecret
secrets() {
	k "$1" create namespace "$2" > /dev/null 2>&1
	for _p in posthog-secret:posthog-secret posthog-postgres:postgresql-password \
		posthog-redis:redis-password posthog-clickhouse:admin-password; do
		k "$1" -n "$2" create secret generic "${_p%%:*}" --from-literal="${_p##*:}=not-a-secret" \
			> /dev/null || return 1
	done
}
# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds (0) or
# the deadline passes (1)
wait_until() {
	_dl=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_dl" ] || return 1
		sleep 0.1
	done
}
# chart_config FILE [RULES]: a phdeploy.yaml deploying the real chart
# ($CHART) as release posthog with examples/values.yaml and its Secrets,
# helm not waiting; RULES (", rule: sev, ...") are added to the rules
chart_config() {
	cat > "$1" <<Y
release: posthog
namespace: posthog
chart: { name: $CHART, version: 30.46.0 }
values: [values.yaml]
kube: { context: stand-in, version: "1.31" }
helm: { timeout: 2m, wait: false, wait_for_jobs: false }
secrets:
  - { provider: file, path: postgres.secret.yaml }
  - { provider: file, path: redis.secret.yaml }
  - { provider: file, path: posthog.secret.yaml }
rules: { probes: warn, replicas: warn $2 }
Y
}

# release_setup: for a test of one release of the real chart on one
# kube-api with the real helm 4 and kubectl (diff.sh, drift.sh): skips
# without them, makes and enters $TAPTMP with private helm/kubectl caches,
# copies examples/values.yaml and the *.secret.yaml files, starts kube-api
# in $TAPTMP/k (stopped on exit) and sets KA, H, KC, CHART, P and
# K ("kubectl --context stand-in -n posthog").  SCENARIO, when given, is
# the JSON kube-api starts with (written to $TAPTMP/scen.json).
release_setup() {
	_scen=${1:-}
	KA=$top_srcdir/tests/bin/kube-api
	H=$PHD_TOOLS/helm4
	KC=$PHD_TOOLS/kubectl
	CHART=$PHD_FIXTURES/posthog-30.46.0.tgz
	command -v python3 > /dev/null 2>&1 || skip_all "no python3"
	[ -x "$H" ] && [ -x "$KC" ] || skip_all "no helm4/kubectl in $PHD_TOOLS (run scripts/fetch-tools)"
	[ -f "$CHART" ] || skip_all "no chart fixture at $CHART"
	tap_mktemp
	cd "$TAPTMP" || exit 1
	trap '[ -f "$TAPTMP/k/pid" ] && "$KA" stop "$TAPTMP/k"' EXIT
	HELM_CACHE_HOME=$TAPTMP/helm/cache HELM_CONFIG_HOME=$TAPTMP/helm/config
	HELM_DATA_HOME=$TAPTMP/helm/data KUBECACHEDIR=$TAPTMP/kubecache
	export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR
	export PHDEPLOY_STATE_DIR="$TAPTMP/state" PHDEPLOY_HELM="$H" PHDEPLOY_KUBECTL="$KC"
	P=$PHDEPLOY
	K="$KC --context stand-in -n posthog"
	cp "$top_srcdir"/examples/values.yaml "$top_srcdir"/examples/*.secret.yaml .
	set --
	if [ -n "$_scen" ]; then
		printf '%s\n' "$_scen" > scen.json
		set -- --scenario scen.json
	fi
	"$KA" start "$TAPTMP/k" "$@" > start.log 2>&1 || { cat start.log >&2; skip_all "kube-api did not start"; }
	export KUBECONFIG=$TAPTMP/k/kubeconfig
}

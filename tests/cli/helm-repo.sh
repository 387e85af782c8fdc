#!/bin/sh
# The repo phase: versions resolved from the chart repository's real
# index.yaml, the plan's command lines in order, and real helm 4 and helm 3
# adding a repository served on 127.0.0.1 (the real index, the fixture chart)
# whose digest is checked.
. "$top_srcdir/tests/tap/tap.sh"
# Under ASan, clang 14's LeakSanitizer can crash at exit reading the dynamic
# TLS of libraries dlopen'd with the plugin (libcurl's gnutls, p11-kit,
# com_err).  Not scanning TLS can only report more leaks, never fewer.
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS

index=$PHD_FIXTURES/charts-clickhouse-index.yaml
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
[ -f "$index" ] && [ -f "$chart" ] || skip_all "no fixtures at $PHD_FIXTURES"
tap_mktemp
standin=$top_srcdir/tests/bin/stand-in-helm
values=$top_srcdir/tests/data/helm/values.yaml
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
export PHDEPLOY_PLUGIN_PATH
unset PHDEPLOY_HELM STANDIN_VERSION
# helm's own files stay in the test's directory
HELM_CONFIG_HOME=$TAPTMP/helm/config HELM_CACHE_HOME=$TAPTMP/helm/cache
HELM_DATA_HOME=$TAPTMP/helm/data
export HELM_CONFIG_HOME HELM_CACHE_HOME HELM_DATA_HOME

config() { # name url version-line [extra]
	{
		echo "release: posthog"
		echo "namespace: posthog"
		echo "chart:"
		echo "  name: posthog/posthog"
		echo "  repo: { name: posthog, url: \"$2\" }"
		[ -n "$3" ] && echo "  $3"
		[ -n "${4:-}" ] && echo "  $4"
		echo "values: [\"$values\"]"
		echo "kube: { version: \"1.29\" }"
	} > "$TAPTMP/$1.yaml"
}
run() { # helm config verb...
	h=$1 c=$2; shift 2
	: > "$TAPTMP/log"
	STANDIN_DIR=$top_srcdir/tests/data/helm/standin/fresh STANDIN_LOG=$TAPTMP/log \
		"$PHDEPLOY" --helm "$h" -c "$TAPTMP/$c.yaml" "$@" > "$TAPTMP/out" 2> "$TAPTMP/err"
	rc=$?
	out=$(cat "$TAPTMP/out")
	err=$(cat "$TAPTMP/err")
	log=$(cat "$TAPTMP/log")
}

furl=file://$index
config pinned "$furl" "version: 30.46.0"
config unknown "$furl" "version: 30.46.1"
config pre "$furl" "version: 30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54"
config preok "$furl" "version: 30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54" "allow_prerelease: true"
config unpinned "$furl" ""

# ---- plan: every command, in order, nothing run ----------------------------
run "$standin" pinned plan --skip preflight
is "$rc" 0 "plan with the chart pinned in the real index succeeds"
all="$out
$err"
like "$all" "helm repo add posthog $furl" "plan shows helm repo add NAME URL"
like "$all" "helm repo update posthog" "plan shows helm repo update NAME"
like "$all" "upgrade --install -f $values --timeout 30m --create-namespace --namespace posthog posthog posthog/posthog --wait=watcher --wait-for-jobs --debug --version 30.46.0" \
	"plan shows the upgrade with the manual procedure's flags and --version"
a=$(printf '%s\n' "$all" | grep -n 'repo add posthog' | head -1 | cut -d: -f1)
u=$(printf '%s\n' "$all" | grep -n 'repo update posthog' | head -1 | cut -d: -f1)
g=$(printf '%s\n' "$all" | grep -n 'upgrade --install' | head -1 | cut -d: -f1)
ok "$([ -n "$a" ] && [ -n "$u" ] && [ -n "$g" ] && [ "$a" -lt "$u" ] && [ "$u" -lt "$g" ]; echo $?)" \
	"plan lists repo add, repo update, upgrade in that order"
unlike "$log" "repo add" "plan runs no helm repo add"
unlike "$log" "upgrade" "plan runs no helm upgrade"

# ---- versions from the real index ------------------------------------------------
run "$standin" unknown repo
is "$rc" 6 "an unknown version fails the repo phase (exit 6)"
like "$err" "30.46.1 not found; nearest: 30.46.0, 30.45.0" "... naming the nearest versions"
run "$standin" pre repo
is "$rc" 6 "a pre-release pin is refused (exit 6)"
like "$err" "allow_prerelease" "... telling how to allow it"
run "$standin" preok plan --skip preflight
is "$rc" 0 "a pre-release is accepted with chart.allow_prerelease"
like "$out$err" "--version 30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54" "... and deployed as pinned"
run "$standin" unpinned plan --skip preflight
is "$rc" 0 "an unpinned chart resolves"
like "$err" "not pinned" "... with a warning"
like "$out$err" "--version 30.46.0 " "... to the newest stable version"

printf 'apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n    urls: [a\n' > "$TAPTMP/broken.yaml"
{
	echo "release: posthog"
	echo "namespace: posthog"
	echo "chart:"
	echo "  name: posthog/posthog"
	echo "  repo: { name: posthog, url: \"https://charts.invalid/\", index: \"$TAPTMP/broken.yaml\" }"
	echo "  version: 1.0.0"
} > "$TAPTMP/broken.yaml.cfg"
: > "$TAPTMP/log"
STANDIN_DIR=$top_srcdir/tests/data/helm/standin/fresh STANDIN_LOG=$TAPTMP/log \
	"$PHDEPLOY" --helm "$standin" -c "$TAPTMP/broken.yaml.cfg" repo > /dev/null 2> "$TAPTMP/err"
is "$?" 6 "a malformed index fails the repo phase"
like "$(cat "$TAPTMP/err")" "broken.yaml:6:1: malformed index YAML" "... with its line and column"

# ---- real helm against a repository on 127.0.0.1 ---------------------------------
if [ ! -x "$PHD_TOOLS/helm4" ] || [ ! -x "$PHD_TOOLS/helm3" ] || ! command -v python3 > /dev/null; then
	skip 10 "needs helm4/helm3 in $PHD_TOOLS and python3"
	done_testing
	exit
fi
mkdir -p "$TAPTMP/repo"
cp "$chart" "$TAPTMP/repo/"
# the real index, with 30.46.0's archive served from here
sed 's#- https://github.com/PostHog/charts-clickhouse/releases/download/posthog-30.46.0/posthog-30.46.0.tgz#- posthog-30.46.0.tgz#' \
	"$index" > "$TAPTMP/repo/index.yaml"
"$top_srcdir/tests/bin/serve-dir" "$TAPTMP/repo" "$TAPTMP/port" &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$TAPTMP"' EXIT
i=0
while [ ! -s "$TAPTMP/port" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
url=http://127.0.0.1:$(cat "$TAPTMP/port")/
config local "$url" "version: 30.46.0"
sum=$(sha256sum "$chart" | cut -d' ' -f1)

for v in 4 3; do
	rm -rf "$TAPTMP/helm"
	run "$PHD_TOOLS/helm$v" local repo
	is "$rc" 6 "helm $v: the repackaged fixture does not match the index digest (exit 6)"
	like "$err" "digest mismatch for posthog-30.46.0.tgz" "helm $v: ... and the message says so"
done
# now the index lists the fixture's own digest
sed -i "s/799704229a4e1cae3a24c2d601f0ab48fe1455608546a8242b63c327d187ff97/$sum/" "$TAPTMP/repo/index.yaml"
for v in 4 3; do
	rm -rf "$TAPTMP/helm"
	run "$PHD_TOOLS/helm$v" local -v repo
	is "$rc" 0 "helm $v: repo add, update and pull from the repository succeed"
	like "$err" "matches the index digest" "helm $v: the pulled chart matches the index digest"
done
run "$PHD_TOOLS/helm4" local render
is "$rc" 0 "helm 4: render posthog/posthog from the added repository"
like "$out" "kind: PodDisruptionBudget" "... prints the chart's manifests"
kill $srv 2>/dev/null
done_testing

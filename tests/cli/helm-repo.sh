#!/bin/sh
# The repo phase: versions resolved from the chart repository's real
# index.yaml; the archive downloaded by phdeploy itself (file:// and a
# repository served on 127.0.0.1), checked against the index digest and
# handed to helm as a local file; real helm 4 and helm 3 rendering it with
# no repository configured, and their configuration left untouched.
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
[ -x "$PHD_TOOLS/helm4" ] && [ -x "$PHD_TOOLS/helm3" ] && command -v python3 > /dev/null ||
	skip_all "needs helm4/helm3 in $PHD_TOOLS and python3"
tap_mktemp
# the real helm 4, its argv recorded in $TAPTMP/log
helm4=$TAPTMP/helm4
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >> "%s/log"\nexec "%s/helm4" "$@"\n' "$TAPTMP" "$PHD_TOOLS" \
	> "$helm4"
chmod +x "$helm4"
values=$top_srcdir/tests/data/helm/values.yaml
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
export PHDEPLOY_PLUGIN_PATH
unset PHDEPLOY_HELM STANDIN_VERSION
# the run's private directory, where the archive lands, is under the test's
mkdir -p "$TAPTMP/run"
TMPDIR=$TAPTMP/run
# helm's own files: fresh, empty directories in the test's directory
HELM_CONFIG_HOME=$TAPTMP/helm/config HELM_CACHE_HOME=$TAPTMP/helm/cache
HELM_DATA_HOME=$TAPTMP/helm/data
HELM_REPOSITORY_CONFIG=$TAPTMP/helm/config/repositories.yaml
HELM_REPOSITORY_CACHE=$TAPTMP/helm/cache/repository
export TMPDIR HELM_CONFIG_HOME HELM_CACHE_HOME HELM_DATA_HOME HELM_REPOSITORY_CONFIG \
	HELM_REPOSITORY_CACHE
PHDEPLOY_STATE_DIR=$TAPTMP/state
export PHDEPLOY_STATE_DIR

sum=$(sha256sum "$chart" | cut -d' ' -f1)
real_sum=799704229a4e1cae3a24c2d601f0ab48fe1455608546a8242b63c327d187ff97
pre=30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54

# point INDEX VERSION DIGEST URL: the real index with one entry's digest
# and first URL replaced (the fixture was repackaged: its sha256 is not the
# published one)
point() {
	awk -v v="$2" -v d="$3" -v u="$4" '
	function flush(  i, hit, l) {
		for (i = 1; i <= n; i++) if (buf[i] == "    version: " v) hit = 1
		for (i = 1; i <= n; i++) {
			l = buf[i]
			if (hit && l ~ /^    digest: /) l = "    digest: " d
			if (hit && i > 1 && buf[i - 1] == "    urls:") l = "    - " u
			print l
		}
		n = 0
	}
	/^  - / || /^  [^ -]/ || /^[^ ]/ { flush() }
	{ buf[++n] = $0 }
	END { flush() }' "$1"
}

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
	"$PHDEPLOY" --helm "$h" -c "$TAPTMP/$c.yaml" "$@" > "$TAPTMP/out" 2> "$TAPTMP/err"
	rc=$?
	out=$(cat "$TAPTMP/out")
	err=$(cat "$TAPTMP/err")
	log=$(cat "$TAPTMP/log")
}
# helm left no trace of a repository: no repositories.yaml, no index cache
helm_untouched() {
	[ -z "$(find "$TAPTMP/helm" -name 'repositories.yaml' -o -name '*-index.yaml' \
		-o -name '*.tgz' 2>/dev/null)" ]
}

# ---- a file:// repository: 30.46.0 by a relative URL, the pre-release by an
# absolute one, both the fixture's own digest -------------------------------------
mkdir -p "$TAPTMP/frepo"
cp "$chart" "$TAPTMP/frepo/"
point "$index" 30.46.0 "$sum" posthog-30.46.0.tgz > "$TAPTMP/i1"
point "$TAPTMP/i1" "$pre" "$sum" "file://$TAPTMP/frepo/posthog-30.46.0.tgz" \
	> "$TAPTMP/frepo/index.yaml"
furl=file://$TAPTMP/frepo/
config pinned "$furl" "version: 30.46.0"
config unknown "$furl" "version: 30.46.1"
config pre "$furl" "version: $pre"
config preok "$furl" "version: $pre" "allow_prerelease: true"
config unpinned "$furl" ""

# ---- plan: the archive is fetched and verified, helm gets it -----------------------
run "$helm4" pinned plan --skip preflight
is "$rc" 0 "plan with the chart pinned in the real index succeeds"
all="$out
$err"
upgrade=$(printf '%s\n' "$all" | grep 'would run: .*upgrade --install')
like "$upgrade" "upgrade --install -f $values --timeout 30m --create-namespace --namespace posthog posthog $TAPTMP/state/plan/posthog.posthog/" \
	"plan shows the upgrade with the manual procedure's flags, naming the archive it keeps"
like "$upgrade" "/posthog-30.46.0.tgz --wait=watcher --wait-for-jobs --debug" \
	"... the verified posthog-30.46.0.tgz (relative URL resolved against the repository)"
unlike "$upgrade" " posthog/posthog " "... not the repository reference helm would fetch again"
unlike "$upgrade" "--version" "... and no --version (the archive is the version)"
unlike "$all" "repo add" "plan neither shows nor runs helm repo add"
unlike "$all$log" "repo update" "... nor helm repo update"
like "$log" "template posthog $TAPTMP/state/plan/posthog.posthog/" "render ran helm template on the archive"
unlike "$log" "upgrade" "plan runs no helm upgrade"
like "$err" "chart posthog 30.46.0 sha256:$sum (repo: $TAPTMP/state/plan/posthog.posthog/" \
	"text: one line names the chart version and digest used"

# ---- versions from the real index ------------------------------------------------
run "$helm4" unknown repo
is "$rc" 6 "an unknown version fails the repo phase (exit 6)"
like "$err" "30.46.1 not found; nearest: 30.46.0, 30.45.0" "... naming the nearest versions"
run "$helm4" pre repo
is "$rc" 6 "a pre-release pin is refused (exit 6)"
like "$err" "allow_prerelease" "... telling how to allow it"
run "$helm4" preok plan --skip preflight
is "$rc" 0 "a pre-release is accepted with chart.allow_prerelease (absolute file:// URL)"
like "$out$err" "/posthog-$pre.tgz --wait=watcher" "... and deployed as pinned"
run "$helm4" unpinned plan --skip preflight
is "$rc" 0 "an unpinned chart resolves"
like "$err" "not pinned" "... with a warning"
like "$out$err" "/posthog-30.46.0.tgz --wait=watcher" "... to the newest stable version"

# ---- what was resolved is published: JSON event, journal -------------------------
run "$helm4" pinned --output json render
is "$rc" 0 "render --output json succeeds"
ev=$(printf '%s\n' "$out" | grep '"event":"chart"')
like "$ev" '"event":"chart","phase":"repo","name":"posthog","version":"30.46.0","digest":"sha256:'"$sum"'"' \
	"json: a chart event in the repo phase with name, version and digest"
like "$ev" '"archive":"'"$TAPTMP/run/phdeploy-" "json: ... the archive helm was given"
like "$ev" '/posthog-30.46.0.tgz","source":"repo"}' "json: ... from a repository"
like "$(tail -n 1 "$PHDEPLOY_STATE_DIR/journal.jsonl")" \
	'"version":"30.46.0","chart_resolved":{"name":"posthog","version":"30.46.0","digest":"sha256:'"$sum"'"}' \
	"the journal records the pin and the resolved version and digest"
run "$helm4" pinned validate
like "$(tail -n 1 "$PHDEPLOY_STATE_DIR/journal.jsonl")" '"chart_resolved":null' \
	"a run without the repo phase records no resolved chart"

# ---- deploy, against tests/bin/kube-api -----------------------------------------
echo '{"ready_after": "200ms"}' > "$TAPTMP/api.json"
"$top_srcdir/tests/bin/kube-api" start "$TAPTMP/api" --scenario "$TAPTMP/api.json" > /dev/null 2>&1
KUBECONFIG=$TAPTMP/api/kubeconfig
export KUBECONFIG
run "$helm4" pinned deploy --skip preflight,verify
[ "$rc" = 0 ] || diag "$(tail -n 20 "$TAPTMP/err")"
unset KUBECONFIG
"$top_srcdir/tests/bin/kube-api" stop "$TAPTMP/api" > /dev/null 2>&1
is "$rc" 0 "deploy of a repository chart succeeds"
like "$log" "upgrade --install -f $values --timeout 30m --create-namespace --namespace posthog posthog $TAPTMP/run/phdeploy-" \
	"deploy: helm upgrade gets the run's archive"
like "$log" "/posthog-30.46.0.tgz --wait=watcher" "deploy: ... the verified one"
unlike "$log" "posthog/posthog" "deploy: helm is never handed the repository reference"
unlike "$log" "repo " "deploy: no helm repo command runs"
ok "$(helm_untouched; echo $?)" "helm's configuration and cache hold no repository"

# ---- a digest mismatch stops the run before anything renders ---------------------
mkdir -p "$TAPTMP/badrepo"
cp "$chart" "$TAPTMP/badrepo/"
point "$index" 30.46.0 "$real_sum" posthog-30.46.0.tgz > "$TAPTMP/badrepo/index.yaml"
config bad "file://$TAPTMP/badrepo/" "version: 30.46.0"
run "$helm4" bad render
is "$rc" 6 "the repackaged fixture does not match the published digest (exit 6)"
like "$err" "digest mismatch for posthog-30.46.0.tgz" "... and the message says so"
like "$err" "sha256 $real_sum" "... quoting the index's digest"
is "$out" "" "... nothing is rendered"
unlike "$log" "template" "... helm template never ran"

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
"$PHDEPLOY" --helm "$helm4" -c "$TAPTMP/broken.yaml.cfg" repo > /dev/null 2> "$TAPTMP/err"
is "$?" 6 "a malformed index fails the repo phase"
like "$(cat "$TAPTMP/err")" "broken.yaml:6:1: malformed index YAML" "... with its line and column"

# an index on the network may not point at local files
mkdir -p "$TAPTMP/srv/charts" "$TAPTMP/srv/stall"
repo=$TAPTMP/srv/charts
point "$index" 30.46.0 "$sum" "file://$TAPTMP/frepo/posthog-30.46.0.tgz" > "$repo/index.yaml"
# an archive the server starts and never finishes
point "$index" 30.46.0 "$sum" stalled.tgz > "$TAPTMP/srv/stall/index.yaml"

# ---- real helm against a repository on 127.0.0.1 ---------------------------------
SERVE_DIR_STALL=/stalled.tgz \
	"$top_srcdir/tests/bin/serve-dir" "$TAPTMP/srv" "$TAPTMP/port" "$TAPTMP/requests" &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$TAPTMP"' EXIT
i=0
while [ ! -s "$TAPTMP/port" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
# no trailing slash: helm takes the repository URL as a directory all the same
url=http://127.0.0.1:$(cat "$TAPTMP/port")/charts
config local "$url" "version: 30.46.0"

# ctrl-c while the archive downloads
config stall "http://127.0.0.1:$(cat "$TAPTMP/port")/stall/" "version: 30.46.0"
"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/stall.yaml" render > "$TAPTMP/out" 2> "$TAPTMP/err" &
pid=$!
i=0
while ! grep -q 'GET /stall/stalled.tgz' "$TAPTMP/requests" 2>/dev/null && [ $i -lt 200 ]; do
	i=$((i + 1)); sleep 0.05
done
kill -INT $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
ok "$(! kill -0 $pid 2>/dev/null; echo $?)" "ctrl-c stops a stalled archive download within 5 s"
kill -KILL $pid 2>/dev/null
wait $pid
is "$?" 6 "... failing the repo phase (exit 6)"
like "$(cat "$TAPTMP/err")" "fetching chart archive http://127.0.0.1:" "... saying which download"
like "$(cat "$TAPTMP/err")" "/stall/stalled.tgz interrupted" "... was interrupted"

run "$PHD_TOOLS/helm4" local repo
is "$rc" 6 "an index served over HTTP cannot send the download to a file:// URL"
like "$err" "is a local file but the index came from the network" "... and says why"

cp "$chart" "$repo/"
# the real digest first: a mismatch
point "$index" 30.46.0 "$real_sum" posthog-30.46.0.tgz > "$repo/index.yaml"
for v in 4 3; do
	rm -rf "$TAPTMP/helm"
	run "$PHD_TOOLS/helm$v" local render
	is "$rc" 6 "helm $v: a digest mismatch over HTTP fails before render (exit 6)"
	is "$out" "" "helm $v: ... nothing is rendered"
done
# now the index lists the fixture's own digest
point "$index" 30.46.0 "$sum" posthog-30.46.0.tgz > "$repo/index.yaml"
for v in 4 3; do
	for verb in render plan; do
		rm -rf "$TAPTMP/helm"
		mkdir -p "$HELM_CONFIG_HOME" "$HELM_CACHE_HOME" "$HELM_DATA_HOME"
		: > "$TAPTMP/requests"
		run "$PHD_TOOLS/helm$v" local "$verb" --skip preflight
		is "$rc" 0 "helm $v: $verb of posthog/posthog with no helm repository configured"
		if [ "$verb" = render ]; then
			like "$out" "kind: PodDisruptionBudget" "helm $v: render: ... prints the chart's manifests"
		else
			like "$err" "/posthog-30.46.0.tgz --wait" "helm $v: plan: ... shows the upgrade of the archive"
		fi
		is "$(grep -c 'GET /charts/posthog-30.46.0.tgz ' "$TAPTMP/requests")" 1 \
			"helm $v: $verb: the archive is downloaded exactly once"
		ok "$(helm_untouched; echo $?)" "helm $v: $verb: no repositories.yaml, no repository cache"
	done
done
kill $srv 2>/dev/null
done_testing

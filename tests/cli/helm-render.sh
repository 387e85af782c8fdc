#!/bin/sh
# phdeploy render with the real Helm 4 and Helm 3 on the real PostHog chart:
# the manifests helm template prints, the ZooKeeper PDB moved to policy/v1 by
# the post-render step (a Helm 4 plugin, a Helm 3 executable), render errors.
. "$top_srcdir/tests/tap/tap.sh"
# Under ASan, clang 14's LeakSanitizer can crash at exit reading the dynamic
# TLS of libraries dlopen'd with the plugin (libcurl's gnutls, p11-kit,
# com_err).  Not scanning TLS can only report more leaks, never fewer.
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS

chart=$PHD_FIXTURES/posthog-30.46.0.tgz
[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
[ -f "$chart" ] || skip_all "no chart fixture at $PHD_FIXTURES"
[ -x "$PHD_TOOLS/helm4" ] && [ -x "$PHD_TOOLS/helm3" ] ||
	skip_all "no helm4/helm3 in $PHD_TOOLS (run scripts/fetch-tools)"
tap_mktemp
values=$top_srcdir/examples/values.yaml
[ -f "$values" ] || values=$top_srcdir/tests/data/helm/values.yaml
# the helm plugin alone: the HA validators have their own tests on this chart
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
export PHDEPLOY_PLUGIN_PATH
unset PHDEPLOY_HELM

config() { # name kube-version [extra values file]
	{
		echo "release: posthog"
		echo "namespace: posthog"
		echo "chart: { name: \"$chart\" }"
		if [ -n "${3:-}" ]; then echo "values: [\"$values\", \"$3\"]"
		else echo "values: [\"$values\"]"; fi
		echo "kube: { version: \"$2\" }"
	} > "$TAPTMP/$1.yaml"
}
config k129 1.29
config k124 1.24
printf 'postgresql:\n  enabled: true\n' > "$TAPTMP/invalid.yaml"
config bad 1.29 "$TAPTMP/invalid.yaml"

docs() { grep -c '^kind: ' "$1"; }

for v in 4 3; do
	helm=$PHD_TOOLS/helm$v
	"$PHDEPLOY" --helm "$helm" -c "$TAPTMP/k129.yaml" render > "$TAPTMP/out$v" 2> "$TAPTMP/err$v"
	is "$?" 0 "helm $v: phdeploy render of the real chart exits 0"
	"$helm" template posthog "$chart" --namespace posthog -f "$values" --kube-version 1.29 \
		> "$TAPTMP/plain$v" 2>/dev/null
	is "$(docs "$TAPTMP/out$v")" "$(docs "$TAPTMP/plain$v")" \
		"helm $v: every manifest helm template renders is printed"
	out=$(cat "$TAPTMP/out$v")
	like "$out" "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: posthog-posthog-zookeeper" "helm $v: the ZooKeeper PDB is post-rendered to policy/v1"
	unlike "$out" "policy/v1beta1" "helm $v: no removed policy/v1beta1 API is left"
	# Helm 4 re-serializes the manifests after a post-renderer, so compare
	# what they are: kinds, API versions and names (the chart names its
	# Jobs after the time of rendering)
	for f in plain out; do
		grep -E '^(apiVersion|kind):' "$TAPTMP/$f$v" > "$TAPTMP/$f$v.k"
		grep -E '^  name:' "$TAPTMP/$f$v" | sed -E 's/-[0-9]{4}(-[0-9]{2}){5}/-TIME/' \
			> "$TAPTMP/$f$v.n"
	done
	diff "$TAPTMP/plain$v.k" "$TAPTMP/out$v.k" > "$TAPTMP/diff$v"
	is "$(grep -c '^[<>]' "$TAPTMP/diff$v")" 2 \
		"helm $v: the post-render step changes that one apiVersion only"
	cmp -s "$TAPTMP/plain$v.n" "$TAPTMP/out$v.n"
	ok $? "helm $v: the same objects, in the same order"
done

"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/k129.yaml" --output json render > "$TAPTMP/json" 2>&1
unlike "$(cat "$TAPTMP/json")" '"event":"progress"' \
	"the chart's own \"waiting for\" scripts are not taken for helm's progress"
# a local .tgz is reported as it is: Chart.yaml's name and version, its sha256
sum=$(sha256sum "$chart" | cut -d' ' -f1)
like "$(grep '"event":"chart"' "$TAPTMP/json")" \
	'"name":"posthog","version":"30.46.0","digest":"sha256:'"$sum"'","archive":"'"$chart"'","source":"file"}' \
	"a local .tgz: the chart event carries its name, version, sha256 and path"
mkdir -p "$TAPTMP/dir"
tar -xzf "$chart" -C "$TAPTMP/dir"
sed 's#^chart: .*#chart: { name: "'"$TAPTMP/dir/posthog"'" }#' "$TAPTMP/k129.yaml" > "$TAPTMP/dir.yaml"
"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/dir.yaml" --output json render > "$TAPTMP/jdir" 2>&1
like "$(grep '"event":"chart"' "$TAPTMP/jdir")" \
	'"name":"posthog","version":"30.46.0","digest":null,"archive":"'"$TAPTMP/dir/posthog"'","source":"dir"}' \
	"a chart directory renders and is reported without a digest"

"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/k124.yaml" render > "$TAPTMP/out124" 2>/dev/null
is "$?" 0 "kube.version 1.24 renders"
like "$(cat "$TAPTMP/out124")" "apiVersion: policy/v1beta1
kind: PodDisruptionBudget" "kube.version 1.24 still serves policy/v1beta1: no post-render"

"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/bad.yaml" render > "$TAPTMP/outbad" 2> "$TAPTMP/errbad"
is "$?" 7 "values the chart rejects fail render (exit 7)"
err=$(cat "$TAPTMP/errbad")
like "$err" "INVALID VALUES" "... quoting helm's INVALID VALUES"
like "$err" "externalPostgresql.postgresqlHost cannot be set if postgresql.enabled is true" \
	"... and the chart's reason"

# a local chart needs no network; a pin is checked against its Chart.yaml
sed 's/^chart: .*/chart: { name: "'"$(printf '%s' "$chart" | sed 's/[\/&]/\\&/g')"'", version: 30.45.0 }/' \
	"$TAPTMP/k129.yaml" > "$TAPTMP/pin.yaml"
"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/pin.yaml" render > /dev/null 2> "$TAPTMP/errpin"
is "$?" 6 "a local chart whose version is not the pin fails the repo phase (exit 6)"
like "$(cat "$TAPTMP/errpin")" "is version 30.46.0 but chart.version pins 30.45.0" "... saying both versions"

# the major follows the binary, with nothing cached: helm 4, then helm 3
# copied over it at the same path (same inode), then helm 4 again
mkdir -p "$TAPTMP/bin"
for v in 4 3 4; do
	cp "$PHD_TOOLS/helm$v" "$TAPTMP/bin/helm"
	"$PHDEPLOY" --helm "$TAPTMP/bin/helm" -c "$TAPTMP/k129.yaml" -v render \
		> "$TAPTMP/sw$v" 2> "$TAPTMP/swerr$v"
	like "$(cat "$TAPTMP/swerr$v")" "with Helm $v in" \
		"helm $v copied over the same path: render runs it as Helm $v"
	like "$(cat "$TAPTMP/sw$v")" "apiVersion: policy/v1
kind: PodDisruptionBudget" "... through that major's post-renderer"
done

# render prints the bytes deploy sends: the command plan prints for deploy,
# run with helm 4's --dry-run=client against kube-api, holds the same
# documents byte for byte (helm 4 re-serializes post-rendered manifests, so
# this is what render must match); only the chart's Job names, stamped with
# the time of rendering, are masked; kube.version is the stand-in's (the
# chart prints the version it renders for).  Helm 3 builds the objects against the
# API even in a client dry run and the stand-in has no ClickHouse CRD.
docs_sorted() { # FILE: one line per document, sorted
	# blank lines closing a section are helm's framing (template trims the
	# stream, a dry run prints each section with a newline after it)
	awk 'function out() { sub(/(\\n)+$/, "", d); if (d != "") print d; d = "" }
	/^---$/ { out(); next }
	{ gsub(/-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]-[0-9][0-9]-[0-9][0-9]-[0-9][0-9]/, "-TIME"); d = d $0 "\\n" }
	END { out() }' "$1" | LC_ALL=C sort
}
if "$top_srcdir/tests/bin/kube-api" start "$TAPTMP/ka" > /dev/null 2>&1; then
	sed 's/^kube: .*/kube: { context: stand-in, version: "1.35.0" }/' "$TAPTMP/k129.yaml" \
		> "$TAPTMP/ka.yaml"
	KUBECONFIG=$TAPTMP/ka/kubeconfig
	export KUBECONFIG
	"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/ka.yaml" render > "$TAPTMP/r4" 2>/dev/null
	"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$TAPTMP/ka.yaml" --skip preflight plan \
		> /dev/null 2> "$TAPTMP/plan4"
	cmd=$(sed -n 's/^  would run: \(.*upgrade --install .*\)$/\1/p' "$TAPTMP/plan4")
	like "$cmd" "--post-renderer phdeploy-postrender" "plan's deploy command post-renders"
	eval "$cmd --dry-run=client" > "$TAPTMP/dry4" 2> /dev/null
	is "$?" 0 "... and runs with helm 4 --dry-run=client"
	# its HOOKS: and MANIFEST: sections, up to NOTES:
	sed -n '/^HOOKS:$/,/^NOTES:$/p' "$TAPTMP/dry4" | grep -v -e '^HOOKS:$' -e '^MANIFEST:$' \
		-e '^NOTES:$' > "$TAPTMP/sent4"
	docs_sorted "$TAPTMP/r4" > "$TAPTMP/r4.d"
	docs_sorted "$TAPTMP/sent4" > "$TAPTMP/sent4.d"
	is "$(wc -l < "$TAPTMP/r4.d")" "$(wc -l < "$TAPTMP/sent4.d")" \
		"render prints as many documents as deploy sends"
	cmp -s "$TAPTMP/r4.d" "$TAPTMP/sent4.d"
	ok $? "... and each is byte-identical to the one deploy sends after post-rendering"
	"$top_srcdir/tests/bin/kube-api" stop "$TAPTMP/ka" > /dev/null 2>&1
	unset KUBECONFIG
else
	skip 4 "kube-api stand-in did not start"
fi

done_testing

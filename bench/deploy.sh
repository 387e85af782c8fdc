#!/bin/sh
# Bench: `phdeploy deploy` against `helm upgrade --install --wait
# --wait-for-jobs` alone: the same chart, values, post-renderer and helm 4,
# each run a fresh install into a fresh tests/bin/kube-api, the whole
# process timed.  Prints the median of N runs of each side and the ratio.
# Not a test.  Env: N (runs, default 5), HELM (default helm4 from
# $PHD_TOOLS), KUBECTL, PHDEPLOY, PHD_FIXTURES, BUILDDIR.
set -eu
PHDEPLOY=${PHDEPLOY:-${BUILDDIR:+$BUILDDIR/src/phdeploy}}
. "$(dirname "$0")/helm-lib.sh"
# wall clock in nanoseconds (GNU date); fresh_ms divides
now() { date +%s%N; }
n=${N:-5}
build=${BUILDDIR:-$top}
release_bench_setup

# one timed run (ms) of "$@" against a fresh API server; the server's
# start and stop are not timed
fresh_ms() {
	"$ka" start "$tmp/k" > /dev/null
	export KUBECONFIG=$tmp/k/kubeconfig
	rm -rf "$PHDEPLOY_STATE_DIR"
	t0=$(now)
	if ! "$@" > "$tmp/run.out" 2>&1; then
		echo "$(basename "$0"): failed: $*" >&2
		tail -n 20 "$tmp/run.out" >&2
		exit 1
	fi
	t1=$(now)
	"$ka" stop "$tmp/k" > /dev/null
	echo $(((t1 - t0) / 1000000))
}
helm_side() {
	HELM_PLUGINS=$tmp/plugins "$helm" upgrade --install -f "$tmp/values.yaml" --timeout 30m \
		--create-namespace --namespace posthog posthog "$chart" --wait=watcher --wait-for-jobs \
		--kube-context stand-in --post-renderer pdb-v1
}
phdeploy_side() {
	"$PHDEPLOY" -c "$tmp/phdeploy.yaml" --chart "$chart" --helm "$helm" --kubectl "$kubectl" \
		--kube-context stand-in --skip preflight deploy
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$tmp/helm.ms"
: > "$tmp/phdeploy.ms"
i=0
while [ $i -lt "$n" ]; do
	# alternate who goes first, so drift in the machine's load hits both
	if [ $((i % 2)) -eq 0 ]; then
		fresh_ms helm_side >> "$tmp/helm.ms"
		fresh_ms phdeploy_side >> "$tmp/phdeploy.ms"
	else
		fresh_ms phdeploy_side >> "$tmp/phdeploy.ms"
		fresh_ms helm_side >> "$tmp/helm.ms"
	fi
	i=$((i + 1))
done
h=$(median < "$tmp/helm.ms")
p=$(median < "$tmp/phdeploy.ms")
printf '%-58s %8s ms  (runs: %s)\n' "helm upgrade --install --wait --wait-for-jobs ($("$helm" version --short))" \
	"$h" "$(tr '\n' ' ' < "$tmp/helm.ms")"
printf '%-58s %8s ms  (runs: %s)\n' "phdeploy deploy (Secrets, repo, render, deploy, verify)" \
	"$p" "$(tr '\n' ' ' < "$tmp/phdeploy.ms")"
printf '%-58s %8.2f  (median of %d runs each; goal <= 1.10)\n' "ratio phdeploy/helm" \
	"$(awk "BEGIN{print $p/$h}")" "$n"

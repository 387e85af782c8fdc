#!/bin/sh
# Bench: `phdeploy diff` of the real chart against a deployed release of it
# (tests/bin/kube-api, helm 4) against the same comparison by hand: `helm
# get manifest` + `helm template` (the same chart, values, kube version and
# post-renderer) + `diff -u`.  Median of N rounds, the order turned each
# round, and the ratio.  Not a test.  Env: N (rounds, default 11), HELM
# (default helm4 from $PHD_TOOLS), KUBECTL, PHD_FIXTURES, BUILDDIR.
set -eu
. "$(dirname "$0")/helm-lib.sh"
# helm, kube (the comparison), secret-file (the Secrets it compares) and ha
# (the example's rules run on the render, as in every plan and diff)
release_bench_setup
kver=$(sed -n 's/^  version: "\(.*\)"/\1/p' "$tmp/phdeploy.yaml" | head -n 1)

"$ka" start "$tmp/k" > /dev/null
export KUBECONFIG=$tmp/k/kubeconfig
set -- -c "$tmp/phdeploy.yaml" --chart "$chart" --helm "$helm" --kubectl "$kubectl" \
	--kube-context stand-in
# revision 1, not timed: what both sides compare against
"$PHDEPLOY" "$@" --skip preflight,verify --yes deploy > "$tmp/deploy.out" 2>&1 ||
	{ tail -n 20 "$tmp/deploy.out" >&2; exit 1; }

# by hand: the stored manifest, the new render, their diff (exit 1: they
# differ, as they do by the migrate Job's name)
cat > "$tmp/by-hand.sh" <<SH
"$helm" get manifest posthog -n posthog --kube-context stand-in > "$tmp/stored.yaml"
HELM_PLUGINS="$tmp/plugins" "$helm" template posthog "$chart" --namespace posthog \
	-f "$tmp/values.yaml" --kube-version "$kver" --post-renderer pdb-v1 > "$tmp/new.yaml"
diff -u "$tmp/stored.yaml" "$tmp/new.yaml" > "$tmp/diff.out" || [ \$? -eq 1 ]
SH
MEASURE_TURN=1 measure "by hand (get+template+diff -u)=sh $tmp/by-hand.sh" \
	"phdeploy diff=$PHDEPLOY $* diff"
echo "by hand: $(grep -c '^[-+][^-+]' "$tmp/diff.out") changed lines;" \
	"phdeploy diff: $("$PHDEPLOY" "$@" diff 2>&1 | grep 'release/posthog' | sed 's/.*\[diff\] //')"

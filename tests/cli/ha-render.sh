#!/bin/sh
# Findings name the key to change, on the real chart with the real Helm 4
# and Helm 3: a render failure keeps helm's whole reason (Helm 4 spreads it
# over several lines), positioned in the template and mapped to the values
# key and where it was set; a PodDisruptionBudget left at policy/v1beta1
# because the config turned the post-render step off names helm.post_render.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS

chart=$PHD_FIXTURES/posthog-30.46.0.tgz
[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
[ -f "$chart" ] || skip_all "no chart fixture at $PHD_FIXTURES"
[ -x "$PHD_TOOLS/helm4" ] && [ -x "$PHD_TOOLS/helm3" ] ||
	skip_all "no helm4/helm3 in $PHD_TOOLS (run scripts/fetch-tools)"
plan 15
tap_mktemp
# the example's configuration (its exemptions of what the chart hard-codes),
# so the plugins it names
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs:$top_builddir/plugins/ha/.libs
for p in postgres kafka redis secret-file; do
	PHDEPLOY_PLUGIN_PATH=$PHDEPLOY_PLUGIN_PATH:$top_builddir/plugins/$p/.libs
done
export PHDEPLOY_PLUGIN_PATH
unset PHDEPLOY_HELM
cp "$top_srcdir/examples/values.yaml" "$TAPTMP/values.yaml"

config() { # name extra-values-file extra-line-under-helm: extra-top-level-line
	sed -e "s|^  name: posthog/posthog|  name: \"$chart\"|" \
	    -e "s|^values: \[values.yaml\]|values: [values.yaml${2:+, $2}]|" \
	    -e "s|^helm:\$|helm:${3:+\\n  $3}|" \
	    "$top_srcdir/examples/phdeploy.yaml" > "$TAPTMP/$1.yaml"
	[ -z "${4:-}" ] || echo "$4" >> "$TAPTMP/$1.yaml"
}
# the values rules would stop this before helm: turn them off to see helm's
printf 'clickhouse:\n  allowedNetworkIps: 10.0.0.0/8\n' > "$TAPTMP/shape.yaml"
config bad shape.yaml "" "ha: { posthog: false }"
config good "" "" "ha: { posthog: false }"

for v in 4 3; do
	(cd "$TAPTMP" && "$PHDEPLOY" --helm "$PHD_TOOLS/helm$v" -c bad.yaml --only render render) \
		>/dev/null 2>"$TAPTMP/err$v"
	is "$?" 7 "helm $v: a value of the wrong shape fails the render (exit 7)"
	err=$(cat "$TAPTMP/err$v")
	like "$err" "clickhouse_instance.yaml:11:19" "helm $v: positioned in the template"
	like "$err" "range can't iterate over 10.0.0.0/8" "helm $v: helm's whole reason is kept"
	like "$err" "the key to change: clickhouse.allowedNetworkIps, set at ./shape.yaml:2:22" \
		"helm $v: mapped back to the values key and where it was set"
done
(cd "$TAPTMP" && "$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c good.yaml --only render render) \
	>/dev/null 2>"$TAPTMP/errgood"
is "$?" 0 "the same chart and values without the wrong shape render"

config nopr "" "post_render: false"
(cd "$TAPTMP" && "$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c nopr.yaml --only render render) \
	>/dev/null 2>"$TAPTMP/errpr"
prline=$(grep -n 'post_render: false' "$TAPTMP/nopr.yaml" | cut -d: -f1)
like "$(cat "$TAPTMP/errpr")" "removed-api] PodDisruptionBudget/posthog-posthog-zookeeper: policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25 and helm.post_render is false: the post-render step that rewrites it to policy/v1 is off, so the API server rejects it; remove helm.post_render or set it to auto (nopr.yaml:$prline:16)" \
	"a post-render step turned off in the config: the finding names helm.post_render"

# The manifest rules on the real chart's rendered objects.
grep -E "warn|error" "$TAPTMP/errgood" > "$TAPTMP/good-findings"
unlike "$(cat "$TAPTMP/good-findings")" "[spread]" \
	"the chart's own spread constraints select its pods: no spread finding"
unlike "$(cat "$TAPTMP/good-findings")" "[pdb-policy]" "and its budgets protect something"

printf 'web:\n  pdb:\n    enabled: true\n    maxUnavailable: 0\n' > "$TAPTMP/pdb0.yaml"
config cpdb0 pdb0.yaml "" "ha: { posthog: false }"
(cd "$TAPTMP" && "$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c cpdb0.yaml --only render render) \
	>/dev/null 2>"$TAPTMP/errpdb0"
is "$?" 7 "a rendered budget that allows no eviction fails the render"
like "$(cat "$TAPTMP/errpdb0")" "error [pdb-policy] PodDisruptionBudget/posthog-web: PodDisruptionBudget/posthog-web (for Deployment/posthog-web) has maxUnavailable 0: no pod can ever be evicted" \
	"found as the drain-blocker it is"

cat > "$TAPTMP/aa.yaml" <<'EOV'
includeDefaultTopologySpreadConstraints: false
web:
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector: { matchLabels: { role: worker } }
EOV
config caa aa.yaml "" "ha: { posthog: false }"
(cd "$TAPTMP" && "$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c caa.yaml --only render render) \
	>/dev/null 2>"$TAPTMP/erraa"
like "$(cat "$TAPTMP/erraa")" "warn [spread] Deployment/posthog-web: its podAntiAffinity and topologySpreadConstraints select none of its own pods" \
	"anti-affinity against another component's pods does not count as spreading web"

#!/bin/sh
# Bench: `phdeploy render` on the real PostHog chart against `helm template`
# alone with the same arguments; prints both and the wrapper's overhead as a
# ratio.  Not a test.  Env: N (runs, default 10), HELM (default helm4 from
# $PHD_TOOLS), PHDEPLOY, PHD_FIXTURES, PHDEPLOY_PLUGIN_PATH.
set -eu
. "$(dirname "$0")/helm-lib.sh"
chart=$fx/posthog-30.46.0.tgz
values=$top/examples/values.yaml
[ -f "$values" ] || values=$top/tests/data/helm/values.yaml
need "$PHDEPLOY" "$helm" "$chart"
# post-render off on both sides: the same helm work, the difference is the wrapper
cat > "$tmp/phdeploy.yaml" <<CFG
release: posthog
namespace: posthog
chart: { name: "$chart" }
values: ["$values"]
kube: { version: "1.29" }
helm: { post_render: false }
CFG
measure "helm template=$helm template posthog $chart --namespace posthog -f $values --kube-version 1.29" \
	"phdeploy render=$PHDEPLOY --helm $helm -c $tmp/phdeploy.yaml render"

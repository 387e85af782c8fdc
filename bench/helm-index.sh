#!/bin/sh
# Bench: resolving a chart version from the real 2.5 MB index.yaml (737
# entries) - phdeploy's repo phase (libcurl file:// + libyaml events, as a
# dry run: nothing runs) against `helm search repo` on the same index placed
# in a private HELM_REPOSITORY_CACHE.  Not a test.  Env: N, HELM, PHDEPLOY,
# PHD_FIXTURES.
set -eu
. "$(dirname "$0")/helm-lib.sh"
index=$fx/charts-clickhouse-index.yaml
need "$PHDEPLOY" "$helm" "$index"
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
h=$(run_n "helm search repo" "$helm" search repo posthog/posthog --version 30.46.0)
p=$(run_n "phdeploy repo" "$PHDEPLOY" --helm "$helm" -c "$tmp/phdeploy.yaml" --dry-run \
	--only repo repo)
report "helm search repo" "phdeploy repo (dry run)" "$h" "$p"

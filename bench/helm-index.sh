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
# phdeploy downloads and verifies the archive too: a local repository, the
# real index with 30.46.0's URL and digest pointing at the fixture archive
# (the fixture is repackaged: its sha256 is not the published one)
chart=$fx/posthog-30.46.0.tgz
need "$chart"
mkdir -p "$tmp/repo"
cp "$chart" "$tmp/repo/"
sum=$(sha256sum "$chart" | cut -d' ' -f1)
awk -v d="$sum" '
function flush(  i, hit, l) {
	for (i = 1; i <= n; i++) if (buf[i] == "    version: 30.46.0") hit = 1
	for (i = 1; i <= n; i++) {
		l = buf[i]
		if (hit && l ~ /^    digest: /) l = "    digest: " d
		if (hit && i > 1 && buf[i - 1] == "    urls:") l = "    - posthog-30.46.0.tgz"
		print l
	}
	n = 0
}
/^  - / || /^  [^ -]/ || /^[^ ]/ { flush() }
{ buf[++n] = $0 }
END { flush() }' "$index" > "$tmp/repo/index.yaml"
cat > "$tmp/phdeploy.yaml" <<CFG
release: posthog
namespace: posthog
chart:
  name: posthog/posthog
  repo: { name: posthog, url: "file://$tmp/repo/" }
  version: 30.46.0
CFG
export HELM_REPOSITORY_CACHE="$tmp/cache" HELM_REPOSITORY_CONFIG="$tmp/repositories.yaml"
measure "helm search repo=$helm search repo posthog/posthog --version 30.46.0" \
	"phdeploy repo (dry run)=$PHDEPLOY --helm $helm -c $tmp/phdeploy.yaml --dry-run --only repo repo"

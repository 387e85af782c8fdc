#!/bin/sh
# phdeploy with the kube plugin and the stand-in kubectl: a Secret the values
# want but nobody provides stops the run with exit 4 and a positioned
# message; a dry run shows kubectl commands without running any; verify
# reads the live objects and fails (exit 10) on a half-rolled-out release.
. "$top_srcdir/tests/tap/tap.sh"
[ -x "$PHDEPLOY" ] || skip_all "phdeploy not built"
command -v python3 >/dev/null || skip_all "python3 needed by the stand-in kubectl"
tap_mktemp
plan 9
# only the plugin under test: the ha rules would judge these values too
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/kube/.libs; export PHDEPLOY_PLUGIN_PATH

KUBE_STANDIN_DIR=$TAPTMP/standin; export KUBE_STANDIN_DIR
mkdir -p "$KUBE_STANDIN_DIR"
STANDIN=$top_srcdir/tests/bin/stand-in-kubectl
D=$top_srcdir/tests/data/kube
cat >"$TAPTMP/phdeploy.yaml" <<EOT
release: posthog
namespace: posthog
values: [$D/values-ha.yaml]
EOT

out=$("$PHDEPLOY" -c "$TAPTMP/phdeploy.yaml" --kubectl "$STANDIN" secrets 2>&1); rc=$?
is "$rc" 4 "secrets: unprovided references exit 4"
like "$out" "values-ha.yaml:9:" "the message names the values file and line"
like "$out" "externalPostgresql.existingSecret wants Secret posthog/posthog-postgres key postgresql-password" \
	"and the values key, Secret and key"

rm -rf "$KUBE_STANDIN_DIR"; mkdir -p "$KUBE_STANDIN_DIR"
out=$("$PHDEPLOY" -c "$TAPTMP/phdeploy.yaml" --kubectl "$STANDIN" --dry-run secrets 2>&1); rc=$?
is "$rc" 0 "secrets --dry-run passes without a cluster"
like "$out" "not verified in cluster" "saying what it could not verify"
ok "$([ ! -d "$KUBE_STANDIN_DIR/calls" ] && echo 0 || echo 1)" "and running no kubectl"

rm -rf "$KUBE_STANDIN_DIR"; mkdir -p "$KUBE_STANDIN_DIR/live"
cp "$D/live-posthog.json" "$KUBE_STANDIN_DIR/live/posthog.json"
cp "$D/nodes.json" "$KUBE_STANDIN_DIR/live/nodes.json"
out=$("$PHDEPLOY" -c "$TAPTMP/phdeploy.yaml" --kubectl "$STANDIN" --output json verify 2>"$TAPTMP/err"); rc=$?
is "$rc" 10 "verify on a half-rolled-out release exits 10"
like "$out" '"rule":"rollout"' "with rollout findings as JSON events"
like "$out" 'Deployment/posthog-worker-default' "naming the Deployment"
done_testing

#!/bin/sh
# phdeploy history and rollback --to-revision with the REAL helm 4 against
# tests/bin/kube-api: two installs make two revisions, history lists them
# (a table, and one JSON event), rollback --to-revision 1 makes helm record
# "Rollback to 1"; a revision helm does not know is refused, nothing run.
. "$top_srcdir/tests/tap/tap.sh"
KA=$top_srcdir/tests/bin/kube-api
H=$PHD_TOOLS/helm4
command -v python3 > /dev/null 2>&1 || skip_all "no python3"
[ -x "$H" ] || skip_all "no helm4 in $PHD_TOOLS (run scripts/fetch-tools)"
tap_mktemp
cd "$TAPTMP" || exit 1
trap '[ -f "$TAPTMP/k/pid" ] && "$KA" stop "$TAPTMP/k"' EXIT
HELM_CACHE_HOME=$TAPTMP/helm/cache HELM_CONFIG_HOME=$TAPTMP/helm/config
HELM_DATA_HOME=$TAPTMP/helm/data KUBECACHEDIR=$TAPTMP/kubecache
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR PHDEPLOY_PLUGIN_PATH
export PHDEPLOY_STATE_DIR="$TAPTMP/state" PHDEPLOY_HELM="$H"
P=$PHDEPLOY

# a chart of one ConfigMap: what is tested is helm's record of revisions
mkdir -p chart/templates
printf 'apiVersion: v2\nname: tiny\nversion: 1.0.0\nappVersion: "1"\n' > chart/Chart.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  n: "{{ .Values.n }}"\n' \
	> chart/templates/cm.yaml
printf 'n: 1\n' > chart/values.yaml
"$KA" start "$TAPTMP/k" > start.log 2>&1 || { cat start.log >&2; skip_all "kube-api did not start"; }
export KUBECONFIG=$TAPTMP/k/kubeconfig
cat > phdeploy.yaml <<Y
release: tiny
namespace: hist
chart: { name: $TAPTMP/chart }
kube: { context: stand-in }
helm: { timeout: 1m }
Y

$P history > out 2> err; is $? 0 "history of a release not installed exits 0"
like "$(cat out)" "release tiny in namespace hist: no revisions" "and says there is none"
for n in 1 2; do
	"$H" upgrade --install tiny chart --namespace hist --create-namespace --set n=$n \
		--kube-context stand-in > /dev/null 2>> helm.err
done
"$H" history tiny -n hist --kube-context stand-in -o json > helm.json 2>> helm.err
like "$(cat helm.json)" '"revision":2' "helm 4 made two revisions"

$P history > out 2> err; is $? 0 "history exits 0"
is "$(head -1 out | tr -s ' ')" "REVISION UPDATED STATUS CHART APP VERSION DESCRIPTION" \
	"a table with a header"
is "$(awk 'NR > 1 { print $1 }' out | tr '\n' ' ')" "1 2 " "listing revisions 1 and 2, oldest first"
like "$(sed -n 3p out | tr -s ' ')" "deployed tiny-1.0.0 1 Upgrade complete" "the newest deployed"
like "$(sed -n 2p out)" "superseded" "the first superseded"
$P -o json history > json 2> err; is $? 0 "history -o json exits 0"
is "$(wc -l < json | tr -d ' ')" 1 "one JSON event"
like "$(cat json)" '{"event":"history","release":"tiny","namespace":"hist","revisions":[{"revision":1,' \
	"with the revisions array"

$P rollback --to-revision 7 > out 2> err; is $? 8 "a revision helm does not know fails (exit 8)"
like "$(cat err)" "release tiny has no revision 7" "and says so"
$P rollback --to-revision 1 --yes > out 2> err; is $? 0 "rollback --to-revision 1 exits 0"
like "$(cat err)" "to revision    1" "the target names the revision"
"$H" history tiny -n hist --kube-context stand-in -o json > helm.json 2>> helm.err
like "$(cat helm.json)" '"revision":3,' "helm has a revision 3"
like "$(cat helm.json)" '"status":"deployed","chart":"tiny-1.0.0","app_version":"1","description":"Rollback to 1"}]' \
	"and it is the deployed one: Rollback to 1"
is "$("$H" get values tiny -n hist --kube-context stand-in -o json 2>/dev/null)" '{"n":1}' \
	"with revision 1's values"
$P --to-revision 1 deploy 2> err; is $? 2 "--to-revision with another verb is a usage error"
$P rollback --to-revision x 2> err; is $? 2 "a --to-revision that is no number is a usage error"
$P --dry-run rollback --to-revision 2 2> err; is $? 0 "a dry-run rollback exits 0"
like "$(cat err)" "would run: $H rollback tiny 2 --namespace hist" "showing the revision"

# plan's deploy command runs as printed, after the plan has exited: the
# files it names (values read from stdin, helm 4's post-renderer plugin)
# are kept under the state directory's plan/
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
if [ -f "$chart" ]; then
	printf 'release: posthog\nnamespace: plan\nchart: { name: %s }\nkube: { context: stand-in, version: "1.29" }\n' \
		"$chart" > plan.yaml
	$P -c plan.yaml --skip preflight plan -f - < "$top_srcdir/examples/values.yaml" > out 2> err
	is $? 0 "plan with values on stdin exits 0"
	cmd=$(sed -n 's/^  would run: \(.*upgrade --install .*\)$/\1/p' err)
	like "$cmd" "-f $PHDEPLOY_STATE_DIR/plan/plan.posthog/stdin-values.yaml" \
		"the printed command names the stdin values kept under the state directory"
	like "$cmd" "HELM_PLUGINS=$PHDEPLOY_STATE_DIR/plan/plan.posthog/helm-plugins " \
		"and the post-renderer plugin there"
	eval "$cmd --dry-run=client" > dry.out 2> dry.err
	is $? 0 "the printed command runs with helm 4 against kube-api (--dry-run=client)"
	is "$(grep -c 'policy/v1beta1' dry.out)" 0 "with the post-render step: no policy/v1beta1 left"
	like "$(cat dry.out)" "kind: PodDisruptionBudget" "and the PDBs rendered"
else
	skip 6 "no chart fixture at $chart"
fi
done_testing

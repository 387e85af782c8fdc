#!/bin/sh
# A release installed by the REAL helm 4 (no post-renderer) while the
# cluster served policy/v1beta1 stores the ZooKeeper PDB as policy/v1beta1;
# once the cluster stops serving it (kube-api's served_removed_apis goes):
# preflight's stored-release check exits 5 naming the object and the remedy,
# and the real helm upgrade fails as it does on EKS 1.25+.
. "$top_srcdir/tests/tap/tap.sh"
KA=$top_srcdir/tests/bin/kube-api
T=$PHD_TOOLS
H=$T/helm4
KC=$T/kubectl
CHART=$PHD_FIXTURES/posthog-30.46.0.tgz
command -v python3 > /dev/null 2>&1 || skip_all "no python3"
[ -x "$H" ] && [ -x "$KC" ] || skip_all "no helm4/kubectl in $PHD_TOOLS (run scripts/fetch-tools)"
[ -f "$CHART" ] || skip_all "no chart fixture at $CHART"
tap_mktemp
W=$TAPTMP
. "$top_srcdir/tests/tap/kube.sh"
cd "$W" || exit 1
trap ka_stop_all EXIT
HELM_CACHE_HOME=$TAPTMP/helm/cache HELM_CONFIG_HOME=$TAPTMP/helm/config
HELM_DATA_HOME=$TAPTMP/helm/data KUBECACHEDIR=$TAPTMP/kubecache
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR
export PHDEPLOY_STATE_DIR="$TAPTMP/state" PHDEPLOY_HELM="$H" PHDEPLOY_KUBECTL="$KC"
P=$PHDEPLOY
K="$KC --context stand-in -n posthog"
B=$top_builddir/plugins
# preflight with the helm plugin's check alone (no database to reach here)
PF="env PHDEPLOY_PLUGIN_PATH=$B/helm/.libs:$B/secret-file/.libs $P"
cp "$top_srcdir"/examples/values.yaml "$top_srcdir"/examples/*.secret.yaml .
chmod 600 ./*.secret.yaml
ka_start k '{"served_removed_apis": ["policy/v1beta1"]}'
export KUBECONFIG=$TAPTMP/k/kubeconfig
chart_config phdeploy.yaml

$PF preflight -r fresh > out 2> err; is $? 0 "no release yet: preflight passes"
like "$(cat err)" "release fresh: not installed yet" "the check says there is nothing stored"

# a release made before 1.25: the chart as helm renders it, no post-renderer
$KC create namespace posthog > /dev/null
# a value that stands for a password in the release's values: never shown
SECRET=Zq9-stored-value-7Hk
$H upgrade --install posthog "$CHART" -n posthog -f values.yaml \
	--set-string "phdeployTest.password=$SECRET" > helm.out 2>&1
is $? 0 "the real helm 4 installs the chart while policy/v1beta1 is served"
$H get manifest posthog -n posthog > stored.yaml
like "$($H get values posthog -n posthog)" "$SECRET" "the release record holds the stand-in password"
like "$(grep -A1 '^apiVersion: policy/v1beta1' stored.yaml)" "kind: PodDisruptionBudget" \
	"its stored manifest holds the ZooKeeper PDB as policy/v1beta1"
$PF preflight > out 2> err; is $? 0 "while the cluster serves it, preflight passes"
like "$(cat err)" "use served APIs" "and the check says why"

scenario k '{}'
like "$($KC api-versions)" "policy/v1" "the upgraded cluster serves policy/v1"
unlike "$($KC api-versions)" "policy/v1beta1" "and no longer policy/v1beta1"

$PF -o json preflight > out 2> err; is $? 5 "preflight fails (exit 5) on the stored removed API"
like "$(cat out)" '"rule":"stored-release"' "a JSON finding with the check's rule"
like "$(cat out)" "PodDisruptionBudget/posthog-posthog-zookeeper is policy/v1beta1, removed in Kubernetes 1.25" \
	"the object and its API are named"
like "$(cat out)" "rewrites it to policy/v1" "with the replacement"
like "$(cat out)" "run \`phdeploy migrate-release\`" "and the remedy"
if [ -x "$T/helm3" ]; then
	$PF --helm "$T/helm3" preflight > out 2> err; is $? 5 "the check reads the record with helm 3 too"
else
	skip 1 "no helm3"
fi

# the premise: helm itself cannot upgrade, whatever the new render holds
$H upgrade posthog "$CHART" -n posthog -f values.yaml --set zookeeper.replicaCount=1 > up.out 2>&1
ok "$(($? != 0 ? 0 : 1))" "the real helm 4 upgrade fails"
like "$(cat up.out)" "unable to build kubernetes objects from current release manifest" \
	"with helm's own message"

# ---- migrate-release: dry run, backup, rewrite, helm reads it back
REC=sh.helm.release.v1.posthog.v1
BAK=phdeploy-backup.$REC
writes() { awk '$1 != "GET" {print $1, $2, $NF}' k/requests.log; }
$K get secret $REC -o jsonpath='{.data.release}' > orig.release
: > k/requests.log
$P migrate-release --dry-run > out 2> err; is $? 0 "migrate-release --dry-run exits 0"
like "$(cat err)" "1 object(s) of $REC (revision 1) would be rewritten; nothing was changed" \
	"it says what it would rewrite"
is "$(writes)" "" "and writes nothing"
if command -v script > /dev/null 2>&1; then
	printf 'n\n' | script -qec "$P migrate-release" /dev/null > pty.out 2>&1
	is $? 13 "not confirmed at the terminal's prompt: exit 13"
	is "$(writes)" "" "and nothing written"
else
	skip 2 "no script(1) for a terminal"
fi
$P migrate-release > out 2> err; is $? 0 "migrate-release rewrites the stored release"
like "$(cat err)" "rewrote 1 object(s) of $REC (revision 1)" "it says what it rewrote"
like "$(cat err)" "kept in the Secret $BAK" "and where the original is kept"
is "$(writes)" "POST /api/v1/namespaces/posthog/secrets 201
PUT /api/v1/namespaces/posthog/secrets/$REC 200" \
	"its only writes: the backup's creation, then the release record"
is "$($K get secret $BAK -o jsonpath='{.data.release}')" "$(cat orig.release)" \
	"the backup holds the original record byte for byte"
$H get manifest posthog -n posthog > migrated.yaml; is $? 0 "the real helm 4 reads the rewritten record"
like "$(grep -A1 '^# Source: posthog/charts/zookeeper/templates/poddisruptionbudget.yaml' migrated.yaml)" \
	"apiVersion: policy/v1" "helm get manifest shows the PDB as policy/v1"
unlike "$(cat migrated.yaml)" "policy/v1beta1" "and no policy/v1beta1 left"
is "$(diff stored.yaml migrated.yaml | grep -c '^[<>]')" 2 "only that one line of the manifest changed"
like "$($H history posthog -n posthog)" "deployed" "helm history is intact"
if [ -x "$T/helm3" ]; then
	like "$($T/helm3 get manifest posthog -n posthog | grep -A1 zookeeper/templates/poddisruptionbudget)" \
		"apiVersion: policy/v1" "the real helm 3 reads it too"
else
	skip 1 "no helm3"
fi
$PF preflight > out 2> err; is $? 0 "preflight passes after the migration"
grep '"action":"migrate-release"' state/journal.jsonl > journal
is "$(wc -l < journal | tr -d ' ')" 2 "the journal has a line for the dry run and the migration"
like "$(cat state/helm/migrations.jsonl)" '"from":"policy/v1beta1","to":"policy/v1"' \
	"the migration is noted with what it rewrote"
unlike "$(cat out err journal state/helm/migrations.jsonl)" "$SECRET" "no stored value is shown or kept"
unlike "$(ls -R state)" "$REC" "no copy of the record in the state directory"

# ---- --undo: the original back, byte for byte
: > k/requests.log
$P migrate-release --undo > out 2> err; is $? 0 "migrate-release --undo exits 0"
is "$($K get secret $REC -o jsonpath='{.data.release}')" "$(cat orig.release)" \
	"the release record is the original again, byte for byte"
$K get secret $BAK > /dev/null 2>&1; is $? 1 "the used backup is gone"
is "$(writes)" "PUT /api/v1/namespaces/posthog/secrets/$REC 200
DELETE /api/v1/namespaces/posthog/secrets/$BAK 200" "undo writes the record and deletes the backup only"
$P migrate-release --undo > out 2> err; is $? 8 "a second --undo finds no backup (exit 8)"
like "$(cat err)" "no backup of release posthog" "and says so"
$PF preflight > out 2> err; is $? 5 "undone: preflight fails again"

# ---- the record's write refused after the backup: nothing lost, the retry
# uses the backup it left
scenario k "{\"fail_500\": [\"PUT /api/v1/namespaces/posthog/secrets/$REC\"]}"
$P migrate-release --yes > out 2> err; is $? 8 "the API server refuses the record's write: exit 8"
like "$(cat err)" "the record is unchanged; its backup $BAK stays" "it says the record is unchanged"
is "$($K get secret $REC -o jsonpath='{.data.release}')" "$(cat orig.release)" "and it is"
is "$($K get secret $BAK -o jsonpath='{.data.release}')" "$(cat orig.release)" \
	"the backup was made before the write"
scenario k '{}'
: > k/requests.log
$P migrate-release --yes > out 2> err; is $? 0 "the retry migrates"
is "$(writes)" "PUT /api/v1/namespaces/posthog/secrets/$REC 200" "reusing the backup it finds"

# ---- then the real upgrade through phdeploy succeeds
$P -q deploy --yes --skip preflight,verify > out 2> err; is $? 0 "phdeploy deploy upgrades the migrated release"
like "$($H history posthog -n posthog | tail -n 1)" "deployed" "revision 2 is deployed"
$P migrate-release --undo --kube-context nosuch > out 2> err; ok "$(($? != 0 ? 0 : 1))" \
	"a cluster that cannot be read fails the verb"
$P preflight --undo > out 2> err; is $? 2 "--undo is for migrate-release only (usage)"
$P -r fresh migrate-release --yes > out 2> err; is $? 0 "a release never installed: exit 0"
like "$(cat err)" "release fresh has no deployed revision in namespace posthog: nothing to migrate" \
	"nothing to migrate"
# a record helm did not write: refused, not half-read
$K create secret generic sh.helm.release.v1.bogus.v1 --from-literal=release=not-a-record > /dev/null
$K label secret sh.helm.release.v1.bogus.v1 owner=helm name=bogus status=deployed version=1 > /dev/null
: > k/requests.log
$P -r bogus migrate-release --yes > out 2> err; is $? 8 "a record that is no helm release: exit 8"
like "$(cat err)" "sh.helm.release.v1.bogus.v1 is not a release record helm wrote" "named as such"
is "$(writes)" "" "and nothing is written"

done_testing

#!/bin/sh
# The `drift` rule of verify with the REAL helm 4 and kubectl against
# tests/bin/kube-api and the real chart: right after a deploy nothing has
# drifted; a Deployment scaled by hand, an edited ConfigMap (a value changed,
# a key added), a deleted PDB, a changed Service port and a changed Secret
# key are each reported with the field, live and deployed values (a
# Secret's key names only) and a restore command, which run as printed
# make verify quiet again; the replicas an HPA scales are not drift; verify
# only reads (requests.log); drift never rolls a deploy back.
. "$top_srcdir/tests/tap/tap.sh"
. "$top_srcdir/tests/tap/kube.sh"
release_setup
chmod 600 ./*.secret.yaml
conf() {
	cat <<Y
release: posthog
namespace: posthog
chart: { name: $CHART, version: 30.46.0 }
values: [values.yaml]
kube: { context: stand-in, version: "1.31" }
helm: { timeout: 2m, wait: false, wait_for_jobs: false }
secrets:
  - { provider: file, path: postgres.secret.yaml }
  - { provider: file, path: redis.secret.yaml }
  - { provider: file, path: posthog.secret.yaml }
rollback: { on_failure: true }
# rollout at warn: a deploy here may fail (and roll back) only for drift
rules: { probes: warn, replicas: warn, rollout: warn$1 }
Y
}
conf > phdeploy.yaml
conf ", drift: error" > strict.yaml
writes() { awk '$1 != "GET"' k/requests.log | wc -l | tr -d ' '; }
# the drift findings of a JSON event stream: "OBJECT<TAB>MESSAGE" lines
drifts() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("rule") == "drift":
        print(e["object"] + "\t" + e["message"].replace("\n", " | "))' "$1"
}
# the restore commands of the drift findings, one a line
restores() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("rule") == "drift":
        print(e["message"].split("restore: ", 1)[1])' "$1"
}

$P -q deploy --yes --skip preflight,verify > out 2> err; is $? 0 "the real chart deploys to kube-api"
# the chart's HPAs scale web, events, plugins and worker: they have no replicas
like "$($K get hpa -o jsonpath='{range .items[*]}{.spec.scaleTargetRef.name} {end}')" \
	"posthog-web" "an HPA of the release scales posthog-web"

: > k/requests.log
$P -o json verify > out 2> err; is $? 0 "verify right after the deploy passes"
is "$(drifts out)" "" "and finds no drift (the migrate Job, hooks, server defaults are not drift)"
is "$(writes)" 0 "verify only read (requests.log: GET only)"

# drift by hand
$K scale deployment posthog-pgbouncer --replicas=5 > /dev/null
$K scale deployment posthog-web --replicas=4 > /dev/null   # as its HPA would
$K delete pdb posthog-web > /dev/null
$K patch configmap etc-clickhouse-operator-usersd-files --type merge \
	-p '{"data":{"03-database-ordinary.xml":"<yandex/>","99-by-hand.xml":"<x/>"}}' > /dev/null
$K patch service posthog-web --type merge \
	-p '{"spec":{"ports":[{"name":"posthog","port":8080,"protocol":"TCP","targetPort":8000}]}}' > /dev/null
$K patch secret posthog --type merge \
	-p "{\"data\":{\"smtp-password\":\"$(printf Dr1ft-Secr3t-9q | base64)\"}}" > /dev/null
res() { $K patch deployment "$1" -p "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"$2\",\"resources\":{\"requests\":$3}}]}}}}" > /dev/null; }
res posthog-plugins posthog-plugins '{"cpu":"0.6"}'
ready() {
	[ "$($K get deployment posthog-pgbouncer -o jsonpath='{.status.readyReplicas}')" = 5 ] &&
	[ "$($K get deployment posthog-web -o jsonpath='{.status.readyReplicas}')" = 4 ]
}
# polled with a deadline: the stand-in reports new pods ready within seconds
n=0; until ready || [ $n -ge 600 ]; do sleep 0.1; n=$((n + 1)); done
ready || diag "the scaled Deployments are not ready yet"

: > k/requests.log
$P -o json verify > out 2> err; is $? 0 "drift is a warning: verify still passes"
drifts out > found
is "$(wc -l < found | tr -d ' ')" 6 "six objects drifted"
like "$(grep '^Deployment/posthog-pgbouncer' found)" "spec.replicas: live 5, deployed 2 | restore: " \
	"a hand-scaled Deployment: the field, both values"
# helm 4 applied the release server-side: the stored object goes back the
# same way, as helm, so that no field stays kubectl's
like "$(grep '^Deployment/posthog-pgbouncer' found)" \
	"restore: $H get manifest posthog -n posthog --kube-context=stand-in | awk -v k=Deployment -v n=posthog-pgbouncer '" \
	"restored from the stored manifest"
like "$(grep '^Deployment/posthog-pgbouncer' found)" \
	"| $KC --context=stand-in apply --server-side --field-manager=helm --force-conflicts -n posthog -f -" \
	"applied server-side as helm, taking the field back"
unlike "$(cat found)" "Deployment/posthog-web" "the replicas of a Deployment an HPA scales are not drift"
like "$(grep '^PodDisruptionBudget/posthog-web' found)" \
	"deleted: in the release, not in the cluster; restore: $H get manifest posthog -n posthog --kube-context=stand-in | awk " \
	"a deleted PDB, re-created from the stored manifest"
like "$(grep '^ConfigMap/etc-clickhouse-operator-usersd-files' found)" \
	'data.03-database-ordinary.xml: live "<yandex/>", deployed "<!--' "an edited ConfigMap value"
like "$(grep '^ConfigMap/etc-clickhouse-operator-usersd-files' found)" \
	'data.99-by-hand.xml: live "<x/>", deployed (unset)' "a key added to a ConfigMap by hand"
like "$(grep '^ConfigMap/etc' found)" '"99-by-hand.xml":null' "whose merge patch removes it"
like "$(grep '^Service/posthog-web' found)" \
	'spec.ports[0].port: live 8080, deployed 8000' "a changed Service port"
like "$(grep '^Deployment/posthog-plugins' found)" \
	'spec.template.spec.containers[0].resources.requests.cpu: live "0.6", deployed "500m"' \
	"a changed cpu request, by the container's field"
like "$(grep '^Secret/posthog' found)" "key smtp-password changed (values not shown); restore: " \
	"a changed Secret key, by name"
unlike "$(cat out err)" "Dr1ft-Secr3t" "the live Secret value is never shown"
unlike "$(cat out err)" "$(printf Dr1ft-Secr3t-9q | base64)" "nor its base64"
unlike "$(cat found)" "Job/" "the migrate Job is not drift"
is "$(writes)" 0 "verify with drift still only read"

$P -c strict.yaml verify > out 2> err; is $? 10 "rules: { drift: error }: verify alone exits 10"

# the restore commands, as printed
$P -o json verify > out 2> err
restores out > restore.sh
is "$(wc -l < restore.sh | tr -d ' ')" 6 "one restore command per drifted object"
sh -e restore.sh > restore.log 2>&1; rc=$?
is $rc 0 "the restore commands run"
[ $rc -eq 0 ] || diag "$(cat restore.log)"
$P -o json verify > out 2> err; is $? 0 "verify after the restore passes"
is "$(drifts out)" "" "and finds no drift: every object is back as deployed"
$K get secret posthog -o jsonpath='{.data.smtp-password}' > sp
unlike "$(cat sp)" "$(printf Dr1ft-Secr3t-9q | base64)" "the Secret's deployed value is back"

# a deploy with nothing changed: its verify finds no drift
$P -o json deploy --yes --skip preflight > out 2> err; is $? 0 "a fresh deploy with no change"
is "$(drifts out)" "" "finds no drift in its verify"

# drift that outlives a deploy (a key helm's server-side apply does not
# own), with the rule at error: a warning, not a rollback of that deploy
$K patch configmap etc-clickhouse-operator-files --type merge \
	-p '{"data":{"99-by-hand.xml":"<x/>"}}' > /dev/null
$P -c strict.yaml -o json deploy --yes --skip preflight > out 2> err
is $? 0 "drift at error after a deploy does not fail it (no rollback)"
unlike "$(cat out)" '"phase":"rollback"' "nothing was rolled back"
like "$(cat err)" "kube: drift: ConfigMap/etc-clickhouse-operator-files: differs" \
	"the drift is a warning in the log"
is "$(drifts out)" "" "not a finding at error"
$P -c strict.yaml verify > out 2> err; is $? 10 "verify alone still fails on it"
$P -c strict.yaml -o json verify > out 2> err
is "$(grep -c '"rule":"drift","severity":"error"' out)" 1 "one drift finding at error"
# a request in another spelling is the same quantity (a real API server
# answers in the canonical one).  Last: kube-api's lists are atomic in
# server-side apply, so kubectl now owns this container list whole and the
# next upgrade would conflict on it, where a real server tracks each field
res posthog-events posthog-events '{"cpu":"0.5","memory":"1024Mi"}'
$P -o json verify > out 2> err
unlike "$(drifts out)" "Deployment/posthog-events" "0.5 cpu and 1024Mi are 500m and 1Gi: not drift"
# Helm 3 applies client-side: there the restore commands are kubectl scale
# and a merge patch, and they too make verify quiet (a second kube-api)
if [ -x "$PHD_TOOLS/helm3" ]; then
	trap '[ -f "$TAPTMP/k/pid" ] && "$KA" stop "$TAPTMP/k"; [ -f "$TAPTMP/k3/pid" ] && "$KA" stop "$TAPTMP/k3"' EXIT
	"$KA" stop "$TAPTMP/k" > /dev/null 2>&1
	"$KA" start "$TAPTMP/k3" > start3.log 2>&1 || diag "$(cat start3.log)"
	export KUBECONFIG=$TAPTMP/k3/kubeconfig
	PHDEPLOY_HELM=$PHD_TOOLS/helm3 $P -q deploy --yes --skip preflight,verify > out 2> err
	is $? 0 "the chart deploys with helm 3"
	$K scale deployment posthog-pgbouncer --replicas=4 > /dev/null
	$K patch configmap etc-clickhouse-operator-files --type merge \
		-p '{"data":{"99-by-hand.xml":"<x/>"}}' > /dev/null
	PHDEPLOY_HELM=$PHD_TOOLS/helm3 $P -o json verify > out 2> err
	drifts out > found
	like "$(grep '^Deployment/posthog-pgbouncer' found)" \
		"restore: $KC --context=stand-in scale deployment.apps/posthog-pgbouncer -n posthog --replicas=2" \
		"client-side: kubectl scale back"
	like "$(grep '^ConfigMap/etc-clickhouse-operator-files' found)" \
		"restore: $KC --context=stand-in patch configmap/etc-clickhouse-operator-files -n posthog --type merge -p '{\"data\":{\"99-by-hand.xml\":null}}'" \
		"client-side: a merge patch removes the added key"
	restores out > restore.sh
	sh -e restore.sh > restore.log 2>&1; is $? 0 "the client-side restore commands run"
	PHDEPLOY_HELM=$PHD_TOOLS/helm3 $P -o json verify > out 2> err
	is "$(drifts out)" "" "and verify is quiet again"
	# a type the server no longer serves (its CRD deleted, and with it the
	# object): the other types are still read, one kubectl each
	$KC --context stand-in delete crd clickhouseinstallations.clickhouse.altinity.com > /dev/null
	PHDEPLOY_HELM=$PHD_TOOLS/helm3 $P -o json verify > out 2> err
	drifts out > found
	like "$(cat found)" "ClickHouseInstallation/posthog	deleted: in the release, not in the cluster" \
		"an object whose type is no longer served is missing"
	is "$(wc -l < found | tr -d ' ')" 1 "and the only drift: every other type was read"
else
	skip 7 "no helm3 in $PHD_TOOLS"
fi
like "$($P explain drift)" "the command that restores it" "phdeploy explain drift reads the man page's entry"
done_testing

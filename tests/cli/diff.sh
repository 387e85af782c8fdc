#!/bin/sh
# phdeploy diff (and plan) with the REAL helm 4 and kubectl against
# tests/bin/kube-api and the real chart: before the install everything is
# added; right after it nothing differs (the migrate Job's timestamped name
# and the chart's HELM_INSTALL_INFO are understood); a hand-scaled
# Deployment, a deleted PDB, a new values key and a changed Secret are each
# reported, Secret values never; the diff only ever GETs (requests.log).
. "$top_srcdir/tests/tap/tap.sh"
. "$top_srcdir/tests/tap/kube.sh"
release_setup
chart_config phdeploy.yaml
writes() { awk '$1 != "GET"' k/requests.log | wc -l | tr -d ' '; }

: > k/requests.log
$P diff > out 2> err; is $? 0 "diff before the install exits 0"
like "$(cat err)" "[diff] release/posthog: not installed yet: 3" "every object is added"
like "$(cat err)" "[diff] Secret/posthog-postgres: added; not in the cluster (postgres.secret.yaml" \
	"a provider's Secret is compared too"
is "$(writes)" 0 "the diff wrote nothing to the cluster"
$P diff --exit-code > out 2> err; is $? 14 "--exit-code: 14 when the deploy would change something"

$P -q deploy --yes --skip preflight,verify > out 2> err; is $? 0 "the real chart deploys to kube-api"

: > k/requests.log
$P diff --exit-code > out 2> err; is $? 0 "right after the deploy: no changes (exit 0)"
like "$(cat err)" "against the stored release: 0 added, 0 changed, 0 removed, " "nothing added, changed or removed"
like "$(cat err)" " 0 live object(s) differ" "and nothing live differs"
unlike "$(cat err)" "Job/posthog-migrate" "the migrate Job's new timestamped name is the same object"
is "$(writes)" 0 "the diff only read (requests.log has no write)"

# drift by hand, a new value, a new password
$K scale deployment posthog-pgbouncer --replicas=5 > /dev/null
$K delete pdb posthog-web > /dev/null
sed -i 's/CHANGE-ME-example-postgres-password/n3w-Pg-Passw0rd-7f1/' postgres.secret.yaml
: > k/requests.log
$P -o json diff --exit-code -f values.yaml --set pgbouncer.replicacount=3 > out 2> err
is $? 14 "changes found: exit 14"
grep '"object":"Deployment/posthog-pgbouncer"' out > pgb
like "$(cat pgb)" '"rule":"diff"' "one JSON finding per object"
like "$(cat pgb)" 'live object differs (spec.replicas)' "the field is named"
like "$(cat pgb)" '-    \"replicas\": 5,\n+    \"replicas\": 3,' "a unified diff from live to new"
unlike "$(cat pgb)" 'managedFields' "server-owned fields are not ours"
like "$(grep PodDisruptionBudget/posthog-web out)" "missing in the cluster" "the deleted PDB is found"
like "$(grep '"object":"values"' out)" "pgbouncer.replicacount: 2 -> 3" "the values against the deployed revision's"
like "$(grep Secret/posthog-postgres out)" "key postgresql-password changed" "a changed Secret key, by name"
unlike "$(cat out err)" "n3w-Pg-Passw0rd" "the new password is never shown"
unlike "$(cat out err)" "CHANGE-ME-example" "nor the old one"
unlike "$(cat out err)" "$(printf n3w-Pg-Passw0rd-7f1 | base64)" "nor its base64"
unlike "$(cat out)" '"command"' "a diff shows no commands to run"
is "$(writes)" 0 "still no write to the cluster"

$P plan --skip preflight -f values.yaml --set pgbouncer.replicacount=3 > out 2> err
like "$(cat err)" "[diff] release/posthog: against the stored release: 0 added, 1 changed" \
	"plan shows the same summary"

$P diff --kube-context nosuch > out 2> err; is $? 15 "a cluster that cannot be read: exit 15"
like "$(cat err)" "could not be read" "and says so"
$P render --exit-code > out 2> err; is $? 2 "--exit-code is for diff only (usage, 2)"
done_testing

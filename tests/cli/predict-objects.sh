#!/bin/sh
# The --wait predictions read from the live namespace (plugins/kube/
# predict-objects.c), with the REAL helm 4 and kubectl against
# tests/bin/kube-api and the real chart: each fires on the state that makes
# the upgrade or --wait fail and stays quiet otherwise; a first install is
# quiet; a bare render reads nothing; a refused deploy writes nothing
# (requests.log); a rule switched off is not predicted.
. "$top_srcdir/tests/tap/tap.sh"
. "$top_srcdir/tests/tap/kube.sh"
# the migrate Job of the first deploy fails, as a broken migration does
release_setup '{"job_fails": ["posthog-migrate-*"], "ready_after": "200ms"}'
# the cluster's predictions (zones, capacity, storage) have their own
# test, predict-cluster.sh: here they would fire on zookeeper.replicaCount=5
conf() {
	chart_config /dev/stdout ", wait-zones: off, wait-capacity: off, wait-storage-class: off,
         wait-volume-binding: off, wait-volume-zone: off$1"
}
conf > phdeploy.yaml
conf ", wait-failed-job: off, wait-immutable: off, wait-quota: off, wait-limit-range: off" > off.yaml
writes() { awk '$1 != "GET"' k/requests.log | wc -l | tr -d ' '; }
gets() { awk '$1 == "GET"' k/requests.log | wc -l | tr -d ' '; }

# ---- first install: nothing live, nothing predicted
: > k/requests.log
$P diff > out 2> err; is $? 0 "before the install (no namespace yet): the diff passes"
unlike "$(cat err)" "[wait-" "a first install predicts nothing"
: > k/requests.log
$P render > out 2> err; is $? 0 "a bare render passes"
is "$(gets)" 0 "a bare render reads nothing from the cluster"

$P -q deploy --yes --skip preflight,verify > out 2> err; is $? 0 "revision 1 deploys"
failed() { $K get jobs -o json | grep -q BackoffLimitExceeded; }
wait_until 30 failed; is $? 0 "its migrate Job failed (job_fails)"
JOB=$($K get jobs -o name | grep posthog-migrate | head -1); JOB=${JOB#*/}

# ---- wait-failed-job
: > k/requests.log
$P diff > out 2> err; is $? 7 "a failed migrate Job left behind fails the render phase (exit 7)"
like "$(cat err)" "[wait-failed-job] Job/$JOB: failed (BackoffLimitExceeded" "the Job is named, with why it failed"
like "$(cat err)" "kubectl logs job/$JOB -n posthog" "the finding says to read its logs"
like "$(cat err)" "kubectl delete job $JOB -n posthog" "and how to clear it"
is "$(writes)" 0 "the prediction only read (requests.log has no write)"
: > k/requests.log
$P -q deploy --yes --skip preflight,verify > out 2> err; is $? 7 "a deploy stops at render (exit 7)"
is "$(writes)" 0 "before anything was applied"
$P -c off.yaml diff > out 2> err; is $? 0 "rules: {wait-failed-job: off} switches it off"
unlike "$(cat err)" "[wait-failed-job]" "and nothing is reported"
$K delete job "$JOB" > /dev/null
$P diff > out 2> err; is $? 0 "the Job deleted: the diff passes"
unlike "$(cat err)" "[wait-" "nothing predicted"

# ---- wait-immutable
$P diff -f values.yaml --set zookeeper.persistence.size=20Gi > out 2> err
is $? 7 "a StatefulSet's volumeClaimTemplates changed: exit 7"
like "$(cat err)" "[wait-immutable] StatefulSet/posthog-posthog-zookeeper" "the StatefulSet is named"
like "$(cat err)" 'spec.volumeClaimTemplates[data].spec.resources.requests.storage: live "8Gi", new "20Gi"' \
	"the field, live and new"
like "$(cat err)" "kubectl delete statefulset posthog-posthog-zookeeper -n posthog --cascade=orphan" "the fix"
$P diff -f values.yaml --set zookeeper.replicaCount=5 > out 2> err; is $? 0 "replicas may change: quiet"
unlike "$(cat err)" "[wait-immutable]" "nothing reported for a mutable field"
$P -c off.yaml diff -f values.yaml --set zookeeper.persistence.size=20Gi > out 2> err; is $? 0 "wait-immutable: off"
# a Deployment whose live selector is not the render's (as after a chart
# that changed its labels): the API server refuses the new one
$K patch deployment posthog-pgbouncer --type=merge \
	-p '{"spec":{"selector":{"matchLabels":{"tier":"old"}}}}' > /dev/null
$P diff > out 2> err; is $? 7 "a Deployment's selector changed: exit 7"
like "$(cat err)" '[wait-immutable] Deployment/posthog-pgbouncer: ' "the Deployment is named"
like "$(cat err)" '"tier":"old"' "with the live selector"
like "$(cat err)" "kubectl delete deployment posthog-pgbouncer -n posthog" "and the fix"
$K patch deployment posthog-pgbouncer --type=merge \
	-p '{"spec":{"selector":{"matchLabels":{"tier":null}}}}' > /dev/null
$P diff > out 2> err; is $? 0 "the same selector: quiet"

# ---- wait-quota
quota() {  # NAME HARD-JSON
	printf '{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"%s"},"spec":{"hard":%s}}\n' \
		"$1" "$2" | $K apply -f - > /dev/null
}
limits() {  # NAME LIMITS-JSON
	printf '{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"%s"},"spec":{"limits":%s}}\n' \
		"$1" "$2" | $K apply -f - > /dev/null
}
quota tight '{"pods":"5"}'
: > k/requests.log
$P diff > out 2> err; is $? 7 "more pods than a ResourceQuota allows: exit 7"
like "$(cat err)" "[wait-quota] ResourceQuota/tight: pods: the release needs 21 at the rollout's peak" \
	"the quota, the resource and the pods at the peak (replicas plus surge)"
like "$(cat err)" "Deployment/posthog-web 3 x 1" "each workload's share is named"
like "$(cat err)" "16 over" "and by how much"
is "$(writes)" 0 "only read"
$P -c off.yaml diff > out 2> err; is $? 0 "wait-quota: off"
quota tight '{"pods":"21"}'
$P diff > out 2> err; is $? 0 "a quota that fits exactly: quiet"
unlike "$(cat err)" "[wait-" "nothing predicted"
$K delete resourcequota tight > /dev/null

# a quota on requests demands them of every container; a LimitRange default supplies them
quota cpu '{"requests.cpu":"50","requests.memory":"200Gi"}'
$P diff > out 2> err; is $? 7 "a container without requests under a requests quota: exit 7"
like "$(cat err)" "[wait-quota] Deployment/clickhouse-operator: container clickhouse-operator sets no requests.cpu" \
	"the container without a request is named"
like "$(cat err)" 'must specify requests.cpu' "with what the API server answers"
limits defaults '[{"type":"Container","defaultRequest":{"cpu":"100m","memory":"128Mi"}}]'
$P diff > out 2> err; is $? 0 "with a LimitRange default request: quiet"
unlike "$(cat err)" "[wait-" "nothing predicted"
# another workload's pods use most of the quota (kube-api leaves status.used
# empty: used is summed from the pods, the release's own left out)
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hog"},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"45","memory":"1Gi"}}}]}}\n' \
	| $K apply -f - > /dev/null
$P diff > out 2> err; is $? 7 "other pods leave too little of requests.cpu: exit 7"
like "$(cat err)" "[wait-quota] ResourceQuota/cpu: requests.cpu: the release needs 7550m" "the release's cpu at the peak"
like "$(cat err)" "5 is left (hard 50, 45 used outside the release): 2550m over" "what is left and the shortfall"
$K delete pod hog > /dev/null
$P diff > out 2> err; is $? 0 "the other pod gone: quiet"

# ---- wait-limit-range
limits floor '[{"type":"Container","min":{"cpu":"200m"}}]'
$P diff > out 2> err; is $? 7 "a container below a LimitRange minimum: exit 7"
like "$(cat err)" "[wait-limit-range] Deployment/posthog-pgbouncer: container posthog-pgbouncer: cpu request 100m is below the minimum 200m per Container (LimitRange/floor)" \
	"the workload, container, request and minimum"
like "$(cat err)" 'minimum cpu usage per Container is 200m, but request is 100m' "what the API server answers"
$P -c off.yaml diff > out 2> err; is $? 0 "wait-limit-range: off"
limits floor '[{"type":"Container","min":{"cpu":"50m"},"max":{"cpu":"8","memory":"16Gi"},"maxLimitRequestRatio":{"cpu":"100"}}]'
$P diff > out 2> err; is $? 0 "a LimitRange the containers fit: quiet"
unlike "$(cat err)" "[wait-" "nothing predicted"
limits floor '[{"type":"Container","maxLimitRequestRatio":{"cpu":"2"}}]'
$P diff > out 2> err; is $? 7 "a ratio without limits to compare: exit 7"
like "$(cat err)" "container posthog-web: cpu has no limit while the maximum limit to request ratio per Container is 2" \
	"a ratio needs a limit"
like "$(cat err)" "cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0" \
	"as the API server says"
limits floor '[{"type":"Container","max":{"memory":"512Mi"}}]'
$P diff > out 2> err; is $? 7 "a limit above a LimitRange maximum: exit 7"
like "$(cat err)" "container posthog-web: memory request 1Gi is above the maximum 512Mi per Container" \
	"a request above the maximum (the limit defaults to the maximum, below it)"
$K delete limitrange floor defaults > /dev/null
$K delete resourcequota cpu > /dev/null

# claims: the StatefulSet's existing claims stay, new ones come on top
quota claims '{"persistentvolumeclaims":"4"}'
$P diff -f values.yaml --set zookeeper.replicaCount=5 > out 2> err
is $? 7 "two more ZooKeeper claims than the claims quota leaves: exit 7"
like "$(cat err)" "[wait-quota] ResourceQuota/claims: persistentvolumeclaims: the release needs 2 at the rollout's peak, 1 is left (hard 4, 3 used by the claims that exist): 1 over" \
	"the new claims against what the existing ones leave"
$P diff > out 2> err; is $? 0 "no new claim: quiet"
$K delete resourcequota claims > /dev/null

# a cluster that answers the discovery but not the Jobs list: the
# prediction is not made, a warning says so, the run goes on (a plan: the
# diff itself would exit 15 for what it could not compare)
printf '{"fail_500": ["GET /apis/batch/v1/namespaces/posthog/jobs"]}\n' > scen.json.new
touch -d "@$(($(date +%s) + 5))" scen.json.new && mv scen.json.new scen.json
$K get --raw /version > /dev/null 2>&1
$P plan --skip preflight > out 2> err; is $? 0 "the Jobs cannot be listed: no crash, the plan goes on"
like "$(cat err)" "warn [wait-failed-job] cluster: could not predict what --wait will fail on: kube: cannot read the jobs" \
	"a warning names the prediction not made and the list it could not read"
printf '{}\n' > scen.json.new
touch -d "@$(($(date +%s) + 10))" scen.json.new && mv scen.json.new scen.json
$K get --raw /version > /dev/null 2>&1

# ---- a cluster that cannot be read
$P diff --kube-context nosuch > out 2> err; is $? 15 "a cluster that cannot be read: the diff's exit 15"
unlike "$(cat err)" "error [wait-" "no prediction is made up"
# one reading of the cluster for every prediction: out of reach, it is
# tried once and said once, not once per rule
is "$(grep -c 'could not predict' err)" 1 "one warning that the predictions could not be made"
like "$(cat err)" "error: context \"nosuch\" does not exist" "with why"

# ---- docs
like "$($P explain wait-failed-job)" "kubectl delete job NAME -n NAMESPACE" "explain wait-failed-job gives the fix"
like "$($P explain wait-immutable)" "--cascade=orphan" "explain wait-immutable gives the fix"
like "$($P explain wait-quota)" "kubectl edit resourcequota" "explain wait-quota gives the fix"
like "$($P explain wait-limit-range)" "maxLimitRequestRatio" "explain wait-limit-range"
done_testing

#!/bin/sh
# tests/bin/kube-api, the Kubernetes API server stand-in, proved with the
# REAL kubectl 1.33, helm 4.1 and helm 3.17 on the real PostHog chart:
# kubectl reads, server-side apply and its conflicts, scale, delete; helm 4
# install/status/history/upgrade/rollback/uninstall with --wait (kstatus
# watcher), helm 4 --wait=legacy and helm 3 --wait; the failures helm
# prints for a Deployment that never becomes ready, a failed Job, a release
# left pending by a SIGKILLed upgrade, and API faults (403, 401, 500).
# The helm texts are printed with diag so they can be read in the log.
#
# Four stand-ins run at once, each with its own scenario, so the slow
# failure cases (helm's timeouts) overlap with the rest: A (everything
# ready), B (never_ready posthog-web: timeouts, then the SIGKILL case),
# C (job_fails posthog-migrate-*), F (faults switched on between commands).
. "$top_srcdir/tests/tap/tap.sh"

KA=$top_srcdir/tests/bin/kube-api
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
values=$top_srcdir/examples/values.yaml
T=$PHD_TOOLS
command -v python3 > /dev/null 2>&1 || skip_all "no python3"
[ -x "$T/kubectl" ] && [ -x "$T/helm4" ] && [ -x "$T/helm3" ] ||
	skip_all "no kubectl/helm4/helm3 in $T (run scripts/fetch-tools)"
[ -f "$chart" ] || skip_all "no chart fixture at $chart"
[ -f "$values" ] || skip_all "no $values"

tap_mktemp
W=$TAPTMP
# k SERVER kubectl-args, secrets SERVER NAMESPACE
. "$top_srcdir/tests/tap/kube.sh"
stop_all() {
	for d in A B C F; do
		[ -f "$W/$d/pid" ] && "$KA" stop "$W/$d"
	done
	rm -rf "$W"
}
trap stop_all EXIT

# helm and kubectl keep nothing outside the temp dir
HELM_CACHE_HOME=$W/helm/cache HELM_CONFIG_HOME=$W/helm/config HELM_DATA_HOME=$W/helm/data
KUBECACHEDIR=$W/kubecache
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR

# post-renderers moving the ZooKeeper PDB to policy/v1: an executable for
# helm 3, a postrenderer/v1 plugin for helm 4 (HELM_PLUGINS only for helm 4:
# helm 3 cannot read that plugin.yaml)
mkdir -p "$W/plugins/pdb-v1"
printf '#!/bin/sh\nexec sed "s#^apiVersion: policy/v1beta1\\$#apiVersion: policy/v1#"\n' > "$W/pdb-v1"
chmod +x "$W/pdb-v1"
cat > "$W/plugins/pdb-v1/plugin.yaml" <<EOF
apiVersion: v1
type: postrenderer/v1
name: pdb-v1
version: 1.0.0
runtime: subprocess
runtimeConfig:
  platformCommand:
    - command: $W/pdb-v1
EOF

h4() { _s=$1; shift; HELM_PLUGINS=$W/plugins KUBECONFIG=$W/$_s/kubeconfig "$T/helm4" "$@"; }
h3() { _s=$1; shift; KUBECONFIG=$W/$_s/kubeconfig "$T/helm3" "$@"; }
install4() { # server namespace timeout [helm args]
	_s=$1 _n=$2 _t=$3; shift 3
	h4 "$_s" upgrade --install posthog "$chart" -f "$values" --namespace "$_n" \
		--create-namespace --wait-for-jobs --timeout "$_t" --post-renderer pdb-v1 "$@"
}
install3() {
	_s=$1 _n=$2 _t=$3; shift 3
	h3 "$_s" upgrade --install posthog "$chart" -f "$values" --namespace "$_n" \
		--create-namespace --wait --wait-for-jobs --timeout "$_t" --post-renderer "$W/pdb-v1" "$@"
}

echo '{"ready_after": "200ms"}' > "$W/A.json"
echo '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}' > "$W/B.json"
echo '{"ready_after": "200ms", "job_fails": ["posthog-migrate-*"]}' > "$W/C.json"
echo '{}' > "$W/F.json"
for d in A B C F; do
	"$KA" start "$W/$d" --scenario "$W/$d.json" > "$W/start-$d" 2>&1
	ok $? "kube-api start $d answers /version and writes a kubeconfig"
done
[ -f "$W/A/kubeconfig" ] && [ -f "$W/B/kubeconfig" ] && [ -f "$W/C/kubeconfig" ] || {
	diag "$(cat "$W"/start-* "$W"/*/kube-api.log 2>/dev/null)"
	done_testing
	exit 1
}

# ---- B in the background: helm 4 and helm 3 time out on a Deployment that
# never becomes ready; then an upgrade killed mid-wait
(
	secrets B nr4 && secrets B nr3 && secrets B kill
	install4 B nr4 20s --wait > /dev/null 2> "$W/nr4.err" &
	install3 B nr3 20s > /dev/null 2> "$W/nr3.err" &
	h4 B install posthog "$chart" -f "$values" --namespace kill --post-renderer pdb-v1 \
		> /dev/null 2> "$W/kill-install.err"
	echo $? > "$W/kill-install.rc"
	install4 B kill 2m --wait > /dev/null 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 300 ]; do
		h4 B history posthog -n kill 2> /dev/null | grep -q pending-upgrade && break
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1 # it is waiting now
	kill -KILL $pid
	wait $pid 2> /dev/null
	h4 B history posthog -n kill > "$W/kill-history" 2>&1
	install4 B kill 2m --wait > /dev/null 2> "$W/kill-next4.err"
	echo $? > "$W/kill-next4.rc"
	install3 B kill 2m > /dev/null 2> "$W/kill-next3.err"
	echo $? > "$W/kill-next3.rc"
	wait
) &
bg_b=$!

# ---- C in the background: the migrate Job fails.  Helm 3.17 retries a
# Job's "job is failed" error 30 times, 2 s apart, before it gives up, so
# it needs more than a minute to name the Job.
(
	secrets C jf4 && secrets C jf3
	install4 C jf4 60s --wait > /dev/null 2> "$W/jf4.err" &
	install3 C jf3 100s > /dev/null 2> "$W/jf3.err" &
	wait
) &
bg_c=$!

# ---- 1. kubectl against A
out=$(k A version 2>&1)
like "$out" "Server Version: v1.31.0" "kubectl version reports the stand-in's server version"
out=$(k A get nodes -L topology.kubernetes.io/zone --no-headers 2>&1)
is "$(printf '%s\n' "$out" | awk '{print $NF}' | sort -u | wc -l | tr -d ' ')" 3 \
	"kubectl get nodes -L topology.kubernetes.io/zone shows 3 zones"
like "$out" "node-a   Ready" "nodes are Ready"
out=$(k A create namespace t1 2>&1)
is "$out" "namespace/t1 created" "kubectl create namespace"
printf '\000\001\377caf\303\251\n' > "$W/bytes"
b64=$(base64 < "$W/bytes" | tr -d '\n')
secret() { # manager value
	printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1","namespace":"t1"},"data":{"k":"%s"}}\n' "$1"
}
out=$(secret "$b64" | k A apply --server-side -f - 2>&1)
is "$out" "secret/s1 serverside-applied" "kubectl apply --server-side of a Secret from stdin"
k A -n t1 get secret s1 -o json > "$W/s1.json" 2>&1
python3 -c 'import json,sys,base64; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["data"]["k"]))' \
	"$W/s1.json" > "$W/bytes.back"
cmp -s "$W/bytes" "$W/bytes.back"
ok $? "get secret -o json reads back the exact data bytes"
other=$(printf 'other' | base64)
out=$(secret "$other" | k A apply --server-side --field-manager=other -f - 2>&1)
st=$?
ok $((st == 0)) "another field manager's apply of an owned field fails"
like "$out" 'Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.k' \
	"kubectl prints the apply conflict"
out=$(secret "$other" | k A apply --server-side --field-manager=other --force-conflicts -f - 2>&1)
ok $? "--force-conflicts takes the field over"
is "$(k A -n t1 get secret s1 -o jsonpath='{.data.k}')" "$other" "the forced value is stored"
: > "$W/A/requests.log"
secret "$b64" | k A apply --server-side --force-conflicts --dry-run=server -f - > /dev/null 2>&1
is "$(k A -n t1 get secret s1 -o jsonpath='{.data.k}')" "$other" "a server dry run changes nothing"
like "$(cat "$W/A/requests.log")" "dryRun=All" "the request log shows the dry run was sent as dryRun=All"
cat > "$W/deploy.json" <<'EOF'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x","namespace":"t1"},
 "spec":{"selector":{"matchLabels":{"app":"x"}},
  "template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"x","image":"nginx:1.27"}]}}}}
EOF
k A apply --server-side -f "$W/deploy.json" > /dev/null 2>&1
ok $? "apply a Deployment"
out=$(k A -n t1 scale deployment/x --replicas=3 2>&1)
is "$out" "deployment.apps/x scaled" "kubectl scale deployment/x --replicas=3"
# 90 s: pods are ready a second after they start, but a loaded machine (two
# suites at once) has let a 20 s wait expire
out=$(k A -n t1 rollout status deployment/x --timeout=90s 2>&1)
like "$out" 'deployment "x" successfully rolled out' "kubectl rollout status sees the 3 replicas roll out"
is "$(k A -n t1 get pods -l app=x --no-headers 2>/dev/null | grep -c Running)" 3 "3 Running pods"
out=$(k A -n t1 delete deployment x 2>&1)
is "$out" 'deployment.apps "x" deleted' "kubectl delete"
out=$(k A -n t1 get deployment x 2>&1)
like "$out" 'Error from server (NotFound): deployments.apps "x" not found' "deleted: NotFound"
is "$(k A -n t1 get pods -l app=x --no-headers 2>/dev/null | wc -l | tr -d ' ')" 0 \
	"its ReplicaSet's pods are gone with it"

# ---- 2. helm 4 on A: the whole release life cycle
secrets A posthog
: > "$W/A/requests.log"
t0=$(date +%s)
install4 A posthog 2m --wait > "$W/i4.out" 2> "$W/i4.err"
ok $? "helm4 upgrade --install --wait --wait-for-jobs of the real chart"
diag "helm4 install --wait took $(($(date +%s) - t0)) s"
[ -s "$W/i4.err" ] && diag "$(cat "$W/i4.err")"
like "$(cat "$W/A/requests.log")" "application/apply-patch+yaml 201" \
	"helm 4 created the objects with server-side apply"
like "$(grep 'watch=true' "$W/A/requests.log")" "deployments" "helm 4's watcher watched Deployments"
out=$(h4 A status posthog -n posthog 2>&1)
like "$out" "STATUS: deployed" "helm4 status: deployed"
out=$(h4 A history posthog -n posthog 2>&1)
like "$(printf '%s\n' "$out" | grep '^1 ')" "deployed" "helm4 history: revision 1 deployed"
install4 A posthog 2m --wait --set web.resources.requests.cpu=400m > /dev/null 2> "$W/u4.err"
ok $? "helm4 upgrade: revision 2"
is "$(k A -n posthog get deploy posthog-web -o jsonpath='{.spec.template.spec.containers[0].resources.requests.cpu}')" \
	400m "the upgrade changed the Deployment"
out=$(h4 A rollback posthog 1 -n posthog --wait 2>&1)
like "$out" "Rollback was a success" "helm4 rollback posthog 1 --wait"
out=$(h4 A history posthog -n posthog 2>&1)
like "$out" "Rollback to 1" "revision 3 is the rollback to 1"
like "$(printf '%s\n' "$out" | grep '^3 ')" "deployed" "revision 3 deployed"
is "$(k A -n posthog get deploy posthog-web -o jsonpath='{.spec.template.spec.containers[0].resources.requests.cpu}')" \
	500m "the rollback restored the Deployment"
out=$(h4 A uninstall posthog -n posthog --wait 2>&1)
like "$out" 'release "posthog" uninstalled' "helm4 uninstall"
is "$(k A -n posthog get secrets -l owner=helm --no-headers 2>/dev/null | wc -l | tr -d ' ')" 0 \
	"no release Secret is left"
is "$(k A -n posthog get deploy,sts,job,svc --no-headers 2>/dev/null | wc -l | tr -d ' ')" 0 \
	"no chart object is left"

# ---- 3. helm 3 --wait and helm 4 --wait=legacy on A
: > "$W/A/requests.log"
install3 A posthog 2m > /dev/null 2> "$W/i3.err"
ok $? "helm3 upgrade --install --wait --wait-for-jobs"
[ -s "$W/i3.err" ] && diag "$(cat "$W/i3.err")"
like "$(cat "$W/A/requests.log")" "POST /apis/apps/v1/namespaces/posthog/deployments" \
	"helm 3 created the objects with POST"
like "$(h3 A status posthog -n posthog 2>&1)" "STATUS: deployed" "helm3 status: deployed"
h3 A uninstall posthog -n posthog --wait > /dev/null 2>&1
ok $? "helm3 uninstall"
: > "$W/A/requests.log"
install4 A posthog 2m --wait=legacy > /dev/null 2> "$W/l4.err"
ok $? "helm4 upgrade --install --wait=legacy --wait-for-jobs"
unlike "$(grep 'watch=true' "$W/A/requests.log")" "deployments" \
	"helm 4's legacy wait polls Deployments (no watch)"
[ -s "$W/l4.err" ] && diag "$(cat "$W/l4.err")"
like "$(h4 A status posthog -n posthog 2>&1)" "STATUS: deployed" "helm4 (legacy wait) status: deployed"

# ---- 7. faults on F, switched on between commands
set_f() { # the mtime must change: sleep past a coarse-grained clock
	echo "$1" > "$W/F.json.new"
	touch -d "@$(($(date +%s) + ${2:-0}))" "$W/F.json.new" 2> /dev/null
	mv "$W/F.json.new" "$W/F.json"
}
k F get pods > /dev/null 2>&1
ok $? "kubectl get pods works before the fault"
set_f '{"auth": "403"}' 1
out=$(k F get pods 2>&1)
ok $((! $?)) "auth 403: kubectl get fails"
is "$out" 'Error from server (Forbidden): pods is forbidden: User "stand-in" cannot list resource "pods" in API group "" in the namespace "default"' \
	"kubectl prints Forbidden"
out=$(h4 F upgrade --install posthog "$chart" -f "$values" -n default 2>&1)
ok $((! $?)) "auth 403: helm4 upgrade fails"
diag "helm4 on 403: $out"
like "$out" "is forbidden" "helm 4 names the refusal"
f403_4=$out
out=$(h3 F upgrade --install posthog "$chart" -f "$values" -n default 2>&1)
ok $((! $?)) "auth 403: helm3 upgrade fails"
diag "helm3 on 403: $out"
like "$out" "is forbidden" "helm 3 names the refusal"
set_f '{"auth": "401"}' 2
out=$(k F get pods 2>&1)
is "$out" "error: You must be logged in to the server (Unauthorized)" "auth 401: kubectl's Unauthorized"
set_f '{"fail_500": ["GET /api/v1/namespaces/*/configmaps"]}' 3
out=$(k F get configmaps 2>&1)
ok $((! $?)) "fail_500 on a path: kubectl get fails"
like "$out" "Error from server (InternalError): Internal error occurred" "kubectl prints the 500"
k F get secrets > /dev/null 2>&1
ok $? "other paths still answer"
out=$(k F --context missing get pods 2>&1)
ok $((! $?)) "a context missing from the kubeconfig fails"
is "$out" "Error in configuration: context was not found for specified context: missing" \
	"kubectl's missing-context error"
like "$(cat "$W/F/requests.log")" "GET /api/v1/namespaces/default/configmaps limit=500 - 500" \
	"the request log records the injected 500"
unlike "$(grep -v '^GET' "$W/F/requests.log")" " 20" "nothing was written while the faults were on"

# ---- 4 and 6: B's results
wait $bg_b
out=$(cat "$W/nr4.err")
diag "helm4 wait timeout: $out"
like "$out" "resource Deployment/nr4/posthog-web not ready. status: InProgress" \
	"never_ready: helm4 names the Deployment that is not ready"
like "$out" "context deadline exceeded" "never_ready: helm4 timed out"
out=$(cat "$W/nr3.err")
diag "helm3 wait timeout: $out"
like "$out" "context deadline exceeded" "never_ready: helm3 timed out"
is "$(cat "$W/kill-install.rc")" 0 "B: a release installed without --wait"
out=$(cat "$W/kill-history")
diag "helm4 history after SIGKILL:" "$out"
like "$(printf '%s\n' "$out" | grep '^2 ')" "pending-upgrade" \
	"an upgrade SIGKILLed mid-wait leaves revision 2 pending-upgrade"
is "$(cat "$W/kill-next4.rc")" 1 "the next helm4 upgrade fails"
out=$(cat "$W/kill-next4.err")
diag "helm4 pending: $out"
like "$out" "another operation (install/upgrade/rollback) is in progress" "helm4 says another operation is in progress"
is "$(cat "$W/kill-next3.rc")" 1 "the next helm3 upgrade fails"
out=$(cat "$W/kill-next3.err")
diag "helm3 pending: $out"
like "$out" "another operation (install/upgrade/rollback) is in progress" "helm3 says another operation is in progress"

# ---- 5: C's results
wait $bg_c
out=$(cat "$W/jf4.err")
diag "helm4 job failed: $out"
like "$out" "resource Job/jf4/posthog-migrate-" "job_fails: helm4 names the Job"
like "$out" "status: Failed, message: Job Failed. failed: 7/1" "job_fails: helm4 reports it Failed"
out=$(cat "$W/jf3.err")
diag "helm3 job failed: $out"
like "$out" "job is failed: jf3/posthog-migrate-" "job_fails: helm3 names the Job"
is "$(k C -n jf3 get jobs -o jsonpath='{.items[0].status.conditions[?(@.type=="Failed")].reason}')" \
	BackoffLimitExceeded "the Job's Failed condition says BackoffLimitExceeded"

# ---- 6: a status update is a new resourceVersion, as in the API server:
# a Deployment watched from an earlier resourceVersion (as `kubectl rollout
# status` and every informer watch from their list's) must see its status
# updates; they were kept at the old version, so a watch begun after the
# list missed them and waited forever
k A create namespace rvtest > /dev/null
echo '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rv"}, "spec": {"selector": {"matchLabels": {"app": "rv"}}, "template": {"metadata": {"labels": {"app": "rv"}}, "spec": {"containers": [{"name": "rv", "image": "nginx:1.27"}]}}}}' |
	k A -n rvtest apply --server-side -f - > /dev/null
rv_available() { [ "$(k A -n rvtest get deployment rv -o jsonpath='{.status.availableReplicas}')" = 1 ]; }
wait_until 20 rv_available
ok $? "the Deployment becomes available"
rv1=$(k A -n rvtest get deployment rv -o jsonpath='{.metadata.resourceVersion}')
# its pod replaced: the Deployment's status alone changes (unavailable,
# then available again)
pod=$(k A -n rvtest get pods -l app=rv -o jsonpath='{.items[0].metadata.name}')
k A -n rvtest delete pod "$pod" --wait=false > /dev/null
rv_replaced() { [ "$(k A -n rvtest get pods -l app=rv -o jsonpath='{.items[0].metadata.name}')" != "$pod" ] && rv_available; }
wait_until 20 rv_replaced
ok $? "its pod is replaced and it is available again"
rv2=$(k A -n rvtest get deployment rv -o jsonpath='{.metadata.resourceVersion}')
ok "$([ -n "$rv1" ] && [ "$rv2" -gt "$rv1" ]; echo $?)" \
	"a status update moves its resourceVersion ($rv1 before, $rv2 after)"
out=$(k A get --raw "/apis/apps/v1/namespaces/rvtest/deployments?watch=true&resourceVersion=$rv1&timeoutSeconds=1" 2>&1)
like "$out" '"unavailableReplicas": 1' "a watch from the earlier resourceVersion delivers the update"

"$KA" stop "$W/A"
ok $? "kube-api stop"
[ ! -f "$W/A/pid" ]
ok $? "stop removes the pid file"
done_testing

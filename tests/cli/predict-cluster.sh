#!/bin/sh
# What helm's --wait will fail on, predicted at render (phdeploy-kube(7):
# wait-zones, wait-capacity, wait-storage-class, wait-volume-binding,
# wait-volume-zone) with the REAL helm 4 and kubectl against
# tests/bin/kube-api and the real chart.  Each fires on a cluster made to
# fail it (nodes in one zone, cordoned or tainted nodes, too little cpu,
# other namespaces' pods, no StorageClass, an Immediate one, a volume in a
# zone without a schedulable node) and stays quiet on one that fits, the
# release's own running pods not counted twice.  They only read
# (requests.log), a plain render stays offline, a deploy stops at render
# (exit 7) before anything is applied, a rule can be switched off, and a
# cluster that cannot be read is a warning.
. "$top_srcdir/tests/tap/tap.sh"
KA=$top_srcdir/tests/bin/kube-api
T=$PHD_TOOLS
CHART=$PHD_FIXTURES/posthog-30.46.0.tgz
command -v python3 > /dev/null 2>&1 || skip_all "no python3"
[ -x "$T/helm4" ] && [ -x "$T/kubectl" ] || skip_all "no helm4/kubectl in $T (run scripts/fetch-tools)"
[ -f "$CHART" ] || skip_all "no chart fixture at $CHART"
tap_mktemp
W=$TAPTMP
cd "$W" || exit 1
. "$top_srcdir/tests/tap/kube.sh"
trap ka_stop_all EXIT
HELM_CACHE_HOME=$W/helm/cache HELM_CONFIG_HOME=$W/helm/config
HELM_DATA_HOME=$W/helm/data KUBECACHEDIR=$W/kubecache
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR
export PHDEPLOY_STATE_DIR="$W/state" PHDEPLOY_HELM="$T/helm4" PHDEPLOY_KUBECTL="$T/kubectl"
P=$PHDEPLOY
cp "$top_srcdir"/examples/values.yaml "$top_srcdir"/examples/*.secret.yaml .
chmod 600 ./*.secret.yaml
chart_config phdeploy.yaml
chart_config off.yaml ", wait-zones: off, wait-capacity: off"
# predict SERVER [ARGS]: plan against SERVER; findings in $W/err, exit in $rc
predict() {
	_s=$1
	shift
	KUBECONFIG=$W/$_s/kubeconfig $P plan --skip preflight "$@" > out 2> err
	rc=$?
}
writes() { awk '$1 != "GET"' "$W/$1/requests.log" | wc -l | tr -d ' '; }
node() { printf '{"name":"%s","zone":"%s","cpu":"%s","memory":"%s"}' "$@"; }

ka_start fit '{}' \
	one "{\"nodes\":[$(node a us-east-1a 8 32Gi),$(node b us-east-1a 8 32Gi),$(node c us-east-1a 8 32Gi)]}" \
	two "{\"nodes\":[$(node a us-east-1a 8 32Gi),$(node b us-east-1b 8 32Gi),$(node c us-east-1b 8 32Gi)]}" \
	small "{\"nodes\":[$(node a us-east-1a 1 4Gi),$(node b us-east-1b 1 4Gi),$(node c us-east-1c 1 4Gi)]}" \
	nosc '{"storage_classes":[]}' \
	imm '{"storage_classes":[{"name":"gp2","provisioner":"ebs.csi.aws.com","volumeBindingMode":"Immediate","default":true}]}' \
	zc "{\"nodes\":[$(node a us-east-1a 8 32Gi),$(node b us-east-1b 8 32Gi),$(node c us-east-1c 400m 32Gi)]}" \
	vz "{\"nodes\":[$(node node-a us-east-1a 4 16Gi),$(node node-b us-east-1b 4 16Gi),$(node node-c us-east-1c 4 16Gi),$(node node-d us-east-1a 4 16Gi)]}"

# ---- a cluster that fits: quiet, read-only; render offline ---------------
: > fit/requests.log
KUBECONFIG=$W/fit/kubeconfig $P render > out 2> err
is "$?" 0 "a plain render succeeds"
is "$(wc -l < fit/requests.log | tr -d ' ')" 0 "a plain render does not touch the cluster"
predict fit
is "$rc" 0 "plan on a cluster that fits exits 0"
unlike "$(cat err)" "[wait-" "no prediction fires on a cluster that fits"
like "$(cat fit/requests.log)" "GET /api/v1/nodes" "the nodes were read"
like "$(cat fit/requests.log)" "GET /api/v1/pods" "the pods of every namespace were read"
is "$(writes fit)" 0 "the predictions only read (requests.log: GETs)"

# ---- zones -------------------------------------------------------------
predict one
is "$rc" 7 "nodes in one zone: plan fails at render (exit 7)"
like "$(cat err)" "error [wait-zones] cluster: the release's pods can be scheduled in 1 zone(s) (us-east-1a), the HA layout needs 3" \
	"wait-zones: one zone, and how many the layout needs"
like "$(cat err)" "fix: add schedulable nodes in 2 more zone(s)" "wait-zones says the fix"
: > one/requests.log
KUBECONFIG=$W/one/kubeconfig $P -q deploy --yes --skip preflight,verify > out 2> err
is "$?" 7 "a deploy stops at render on the prediction (exit 7)"
is "$(writes one)" 0 "and applied nothing: no namespace, no Secret, no helm upgrade"
KUBECONFIG=$W/one/kubeconfig $P diff > out 2> err
is "$?" 7 "diff predicts too, and fails at render on an error"
like "$(cat err)" "error [wait-zones] cluster:" "diff shows the prediction"
# kube.nodes: false (verify and the predictions read no nodes): the
# predictions that need them are left out, with a warning that says why
sed 's/version: "1.31" }/version: "1.31", nodes: false }/' phdeploy.yaml > nonodes.yaml
: > one/requests.log
KUBECONFIG=$W/one/kubeconfig $P -c nonodes.yaml plan --skip preflight > out 2> err
is "$?" 0 "kube.nodes: false: the nodes' predictions are left out"
unlike "$(cat err)" "[wait-zones]" "no wait-zones finding"
like "$(cat err)" "kube: wait-zones, wait-capacity, wait-volume-binding, wait-volume-zone: not predicted: kube.nodes is false" \
	"a warning names them and says why"
unlike "$(cat one/requests.log)" "GET /api/v1/nodes" "and the nodes are not read"
KUBECONFIG=$W/one/kubeconfig $P -c off.yaml plan --skip preflight > out 2> err
is "$?" 0 "rules: {wait-zones: off} switches the prediction off"
unlike "$(cat err)" "[wait-zones]" "no wait-zones finding then"
predict two
is "$rc" 0 "two zones: a warning, not a failure"
like "$(cat err)" "warn [wait-zones] cluster: the release's pods can be scheduled in 2 zone(s) (us-east-1a, us-east-1b), the HA layout needs 3 (StatefulSet/posthog-posthog-zookeeper runs a quorum" \
	"a ZooKeeper quorum in two zones: losing one loses its majority"

# three web pods, one per zone (required zone anti-affinity)
cat > web-zone.yaml <<'Y'
web:
  hpa: { minpods: 3 }
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector: { matchLabels: { role: web } }
          topologyKey: topology.kubernetes.io/zone
Y
predict two -f values.yaml -f web-zone.yaml
is "$rc" 7 "one pod per zone, three pods, two zones: plan fails"
like "$(cat err)" "error [wait-zones] Deployment/posthog-web: helm --wait will time out on Deployment/posthog-web: 1 of its 3 pod(s) cannot be scheduled (3 replicas, each requesting cpu 500m, memory 1Gi); its required zone anti-affinity puts one pod in each zone and 2 zone(s) can take its pods" \
	"a required zone anti-affinity wider than the zones is a wait-zones finding"

k vz cordon node-b > /dev/null
k vz taint nodes node-c dedicated=infra:NoSchedule > /dev/null
predict vz
like "$(cat err)" "error [wait-zones] cluster: the release's pods can be scheduled in 1 zone(s) (us-east-1a)" \
	"cordoned and tainted nodes do not count"
like "$(cat err)" "node node-b (zone us-east-1b) is cordoned (kubectl uncordon node-b)" "the cordon is named with its fix"
like "$(cat err)" "node node-c (zone us-east-1c) is tainted dedicated=infra:NoSchedule, not tolerated" \
	"the taint is named"
k vz uncordon node-b > /dev/null
k vz taint nodes node-c dedicated- > /dev/null
predict vz
unlike "$(cat err)" "[wait-zones]" "uncordoned and untainted: quiet again"

# ---- capacity --------------------------------------------------------------
predict small
is "$rc" 7 "too little cpu: plan fails at render"
like "$(cat err)" "error [wait-capacity] Deployment/posthog-web: helm --wait will time out on Deployment/posthog-web: 2 of its 2 pod(s) cannot be scheduled (2 replicas, each requesting cpu 500m, memory 1Gi); missing in the cluster for 2 pod(s): cpu 1 (the most a node there has left: " \
	"wait-capacity names the workload, its pods and the cpu missing"
like "$(cat err)" "fix: add nodes or lower the requests" "and the fix"
unlike "$(cat err)" "[wait-zones]" "three zones with room for nothing is not a zone finding"

predict zc -f values.yaml -f web-zone.yaml
is "$rc" 7 "the zone a pod must go to lacks room: plan fails"
like "$(cat err)" "error [wait-capacity] Deployment/posthog-web: helm --wait will time out on Deployment/posthog-web: 1 of its 3 pod(s) cannot be scheduled (3 replicas, each requesting cpu 500m, memory 1Gi); missing in zone us-east-1c for 1 pod(s): cpu 500m (the most a node there has left: 400m); fix: add nodes in those zones" \
	"the zone that lacks room is named, with what is missing there"
predict zc
unlike "$(cat err)" "[wait-capacity]" "without the zone anti-affinity the same pods fit elsewhere"

# the release deployed: its own running pods are replaced, not added to
KUBECONFIG=$W/fit/kubeconfig $P -q deploy --yes --skip preflight,verify > out 2> err
is "$?" 0 "the real chart deploys to the cluster that fits"
k fit create namespace other > /dev/null
hog() { # NODE CPU
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hog-%s","namespace":"other"},"spec":{"nodeName":"%s","containers":[{"name":"hog","image":"busybox:1.36","resources":{"requests":{"cpu":"%s","memory":"1Gi"}}}]}}' \
		"$1" "$1" "$2" > "hog-$1.json"
	k fit delete pod -n other "hog-$1" --ignore-not-found > /dev/null
	k fit create -f "hog-$1.json" > /dev/null
}
# 3 cpu left per node: the upgrade's 12 cpu-heavy pods (replicas + surge)
# fit only if the 2.95 cpu the release's running pods hold are not counted
for n in node-a node-b node-c; do hog $n 1; done
predict fit
is "$rc" 0 "an upgrade that fits once the release's own pods are replaced"
unlike "$(cat err)" "[wait-capacity]" "the release's running pods are not counted twice"
for n in node-a node-b node-c; do hog $n 2500m; done
: > fit/requests.log
predict fit
is "$rc" 7 "other namespaces' pods leave too little: plan fails"
like "$(cat err)" "(2 replicas + 1 rollout surge, each requesting cpu 500m, memory 1Gi)" \
	"the rolling-update surge of a running Deployment is counted"
like "$(cat err)" "error [wait-capacity] Deployment/posthog-" "wait-capacity fires"
is "$(writes fit)" 0 "an upgrade's predictions only read too"

# ---- storage ---------------------------------------------------------------
predict nosc
is "$rc" 7 "no StorageClass at all: plan fails"
like "$(cat err)" "error [wait-storage-class] StatefulSet/posthog-posthog-zookeeper: helm --wait will time out: claim data-posthog-posthog-zookeeper-0 names no StorageClass and the cluster has no default one" \
	"wait-storage-class: no default class"
predict imm -f values.yaml --set zookeeper.persistence.storageClass=fast
like "$(cat err)" "claim data-posthog-posthog-zookeeper-0 names StorageClass fast, which the cluster does not have" \
	"a class the values name that the cluster lacks"
predict imm
is "$rc" 0 "an Immediate class is a warning"
like "$(cat err)" "warn [wait-volume-binding] StatefulSet/posthog-posthog-zookeeper: StorageClass gp2 binds volumes at once (volumeBindingMode Immediate) on a cluster of 3 zones" \
	"wait-volume-binding: Immediate on three zones"
like "$(cat err)" "fix: a class with volumeBindingMode: WaitForFirstConsumer" "its fix"
unlike "$(cat err)" "[wait-storage-class]" "the default class exists: no wait-storage-class"
predict fit
unlike "$(cat err)" "[wait-storage-class]" "a default WaitForFirstConsumer class: quiet"
unlike "$(cat err)" "[wait-volume-binding]" "and no binding warning"

# ---- a StatefulSet volume in a zone without a schedulable node ---------------
k vz create namespace posthog > /dev/null
cat > pv.json <<'J'
{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv-zk-2"},"spec":{"capacity":{"storage":"8Gi"},"accessModes":["ReadWriteOnce"],"storageClassName":"gp3","csi":{"driver":"ebs.csi.aws.com","volumeHandle":"vol-0abc"},"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"topology.ebs.csi.aws.com/zone","operator":"In","values":["us-east-1c"]}]}]}}}}
J
cat > pvc.json <<'J'
{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-posthog-posthog-zookeeper-2","namespace":"posthog"},"spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"gp3","volumeName":"pv-zk-2","resources":{"requests":{"storage":"8Gi"}}}}
J
k vz apply -f pv.json > /dev/null && k vz apply -f pvc.json > /dev/null
predict vz
unlike "$(cat err)" "[wait-volume-zone]" "the volume's zone has a schedulable node: quiet"
k vz cordon node-c > /dev/null
predict vz
is "$rc" 7 "the only node of the volume's zone cordoned: plan fails"
like "$(cat err)" "error [wait-volume-zone] PersistentVolumeClaim/data-posthog-posthog-zookeeper-2: helm --wait will time out: posthog-posthog-zookeeper-2 stays Pending: its volume pv-zk-2 is in zone us-east-1c, where no node can take the pod; node node-c is cordoned (kubectl uncordon node-c)" \
	"wait-volume-zone names the pod, the volume, the zone and the node"
unlike "$(cat err)" "[wait-capacity]" "three nodes left for three ZooKeeper servers: no capacity finding"

# ---- a cluster that cannot be read ------------------------------------------
predict fit --kube-context nosuch
is "$rc" 0 "an unreadable cluster does not fail the plan"
like "$(cat err)" "warn [wait-zones] cluster: could not predict" "it says it could not predict"
like "$(cat err)" "context was not found for specified context: nosuch" "and why"
done_testing

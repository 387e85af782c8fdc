#!/bin/sh
# phdeploy against tests/bin/kube-api with the REAL kubectl and helm 4 on the
# real chart: a refusal in any phase (validate, secrets, preflight, repo,
# render, a release left pending) writes nothing to the cluster; a deploy
# applies every Secret (read back through kubectl byte for byte) before
# helm writes anything; verify reads the live objects: ready replicas,
# zone spread from the node labels, and an API server that went away
# (exit 10, state unknown, no rollback).
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS
KA=$top_srcdir/tests/bin/kube-api
T=$PHD_TOOLS
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
[ -x "$PHDEPLOY" ] || skip_all "phdeploy not built"
command -v python3 > /dev/null 2>&1 || skip_all "no python3 for tests/bin/kube-api"
[ -x "$T/kubectl" ] && [ -x "$T/helm4" ] || skip_all "no kubectl/helm4 in $T (run scripts/fetch-tools)"
[ -f "$chart" ] || skip_all "no chart fixture at $chart"
tap_mktemp
W=$TAPTMP
stop_all() {
	for d in A S N; do [ -f "$W/$d/pid" ] && "$KA" stop "$W/$d" > /dev/null 2>&1; done
	rm -rf "$W"
}
trap stop_all EXIT
HELM_CACHE_HOME=$W/helm/cache HELM_CONFIG_HOME=$W/helm/config HELM_DATA_HOME=$W/helm/data
KUBECACHEDIR=$W/kubecache
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR
B=$top_builddir/plugins
# no dependency check plugins: preflight has its own case below
PLUGINS=$B/helm/.libs:$B/kube/.libs:$B/secret-file/.libs:$B/ha/.libs
PHDEPLOY_PLUGIN_PATH=$PLUGINS
export PHDEPLOY_PLUGIN_PATH

# A: 3 nodes in 3 zones; S: one node; N: posthog-web never becomes ready
echo '{"ready_after": "200ms"}' > "$W/A.json"
echo '{"ready_after": "200ms", "nodes": [{"name": "solo", "zone": "us-east-1a", "cpu": "64", "memory": "256Gi"}]}' > "$W/S.json"
echo '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}' > "$W/N.json"
for d in A S N; do
	"$KA" start "$W/$d" --scenario "$W/$d.json" > "$W/start-$d" 2>&1 ||
		{ diag "$(cat "$W/start-$d" "$W/$d/kube-api.log")"; echo "Bail out! kube-api $d"; exit 1; }
done

cp "$top_srcdir"/examples/*.secret.yaml "$top_srcdir/examples/values.yaml" "$W/"
# the example without its dependency checks
sed '/^checks:/,/^$/d' "$top_srcdir/examples/phdeploy.yaml" > "$W/phdeploy.yaml"
# helm.wait off: a release that never becomes ready is installed at once
sed -e 's/^  wait: true/  wait: false/' -e 's/^  wait_for_jobs: true/  wait_for_jobs: false/' \
	"$W/phdeploy.yaml" > "$W/nowait.yaml"
# S's one node on purpose: the --wait predictions (wait-zones: one zone;
# wait-capacity: ZooKeeper's one server per node) would stop the install
sed 's/^rules:$/rules:\n  wait-zones: off\n  wait-capacity: off/' "$W/nowait.yaml" > "$W/onenode.yaml"
# N's posthog-web is never ready: a deploy that got as far as waiting ends soon
sed 's/^  timeout: 30m/  timeout: 20s/' "$W/phdeploy.yaml" > "$W/short.yaml"
k() { _s=$1; shift; "$T/kubectl" --kubeconfig "$W/$_s/kubeconfig" "$@"; }
# run SERVER CONFIG [phdeploy args...]: sets rc, err; stdout in $W/out
run() {
	_s=$1 _c=$2; shift 2
	: > "$W/$_s/requests.log"
	# one state dir (lock, journal) per cluster: runs on different servers overlap
	PHDEPLOY_STATE_DIR=$W/state-$_s KUBECONFIG=$W/$_s/kubeconfig "$PHDEPLOY" -c "$W/$_c" --chart "$chart" --helm "$T/helm4" \
		--kubectl "$T/kubectl" --kube-context stand-in "$@" > "$W/out" 2> "$W/err"
	rc=$?
	err=$(cat "$W/err")
}
writes() { grep -E '^(POST|PUT|PATCH|DELETE) ' "$W/$1/requests.log"; }
# what exists: namespaces and Secrets (read after the run's log is checked)
snap() { k "$1" get namespaces,secrets -A --no-headers -o custom-columns=K:.kind,NS:.metadata.namespace,N:.metadata.name | sort; }
# refused SERVER WHAT WANT-RC CONFIG [args]: the run exits WANT-RC and writes nothing
refused() {
	_s=$1 _what=$2 _want=$3; shift 3
	before=$(snap "$_s")
	run "$_s" "$@" --skip preflight deploy
	is "$rc" "$_want" "refused in $_what: exit $_want" || diag "$err"
	is "$(writes "$_s")" "" "refused in $_what: no write request reached the API server"
	is "$(snap "$_s")" "$before" "refused in $_what: no namespace or Secret appeared"
}

# ---- refusals on a fresh cluster -----------------------------------------
sed 's/^release: posthog/relase: posthog/' "$W/phdeploy.yaml" > "$W/typo.yaml"
refused A validate 3 typo.yaml
grep -v 'redis.secret.yaml' "$W/phdeploy.yaml" > "$W/noredis.yaml"
refused A "secrets (a referenced Secret nobody provides)" 4 noredis.yaml
like "$err" "externalRedis.existingSecret wants Secret posthog/posthog-redis" "... the message names the reference"
like "$(cat "$W/A/requests.log")" "GET /api/v1/namespaces/posthog/secrets/posthog-redis" \
	"... after looking for it in the cluster (a read)"
before=$(snap A)
run A phdeploy.yaml --chart "$W/no-such-chart.tgz" --skip preflight deploy
is "$rc" 6 "refused in repo (the chart archive is missing): exit 6" || diag "$err"
is "$(writes A)" "" "refused in repo: no write request reached the API server"
is "$(snap A)" "$before" "refused in repo: no namespace or Secret appeared"
# with CONFIG EXTRA-VALUES-FILE: the example config with one more values file
with() { sed "s|^values: \[values.yaml\]|values: [values.yaml, $2]|" "$W/phdeploy.yaml" > "$W/$1"; }
# without the example's exemptions the rendered operator has no probes
sed '/^exemptions:/,/^$/d' "$W/phdeploy.yaml" > "$W/strict.yaml"
refused A "render (rendered Deployments without probes)" 7 strict.yaml
like "$err" "[probes] Deployment/clickhouse-operator" "... the finding names the rendered object"
# preflight: the postgres check against a loopback port nobody listens on
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'externalPostgresql: {postgresqlHost: 127.0.0.1, postgresqlPort: %s}\n' "$port" > "$W/closed-pg.yaml"
with pg0.yaml closed-pg.yaml
{ cat "$W/pg0.yaml"; echo "checks:"; echo "  postgres: { required: true, timeout: 2s }"; } > "$W/pg.yaml"
before=$(snap A)
PHDEPLOY_PLUGIN_PATH=$PLUGINS:$B/postgres/.libs run A pg.yaml deploy
is "$rc" 5 "refused in preflight (postgres on a closed port): exit 5" || diag "$err"
is "$(writes A)" "" "refused in preflight: no write request reached the API server"
is "$(snap A)" "$before" "refused in preflight: no namespace or Secret appeared"

# ---- N: install without waiting, then verify sees posthog-web not ready (in
# the background: the pending case below waits for it)
(
	run N nowait.yaml --skip preflight,verify deploy
	echo "$rc" > "$W/N-install.rc"
	run N phdeploy.yaml --output json verify
	echo "$rc" > "$W/N-verify.rc"
	cp "$W/out" "$W/N-verify.json"
) > /dev/null 2>&1 &
bg_n=$!
# ---- S: one node, no spread possible
(
	run S onenode.yaml --skip preflight,verify deploy
	echo "$rc" > "$W/S-install.rc"
	# every pod running first: spread counts running pods only
	k S -n posthog wait --for=condition=Available deployment --all --timeout=120s
	for sts in $(k S -n posthog get statefulsets -o name); do
		k S -n posthog rollout status "$sts" --timeout=120s
	done
	run S phdeploy.yaml --output json verify
	echo "$rc" > "$W/S-verify.rc"
	cp "$W/out" "$W/S-verify.json"
) > /dev/null 2>&1 &
bg_s=$!

# ---- A: the deploy --------------------------------------------------------
run A phdeploy.yaml --skip preflight --output json deploy
is "$rc" 0 "deploy: Secrets, helm 4 upgrade --install --wait, verify" || diag "$err"
like "$(cat "$W/out")" '"phase":"verify","status":"ok"' "verify passed in the same run (3 zones)"
log=$W/A/requests.log
# the Secrets the provider files declare, as namespace/name key value
python3 - "$W"/*.secret.yaml > "$W/want" <<'PY'
import base64, sys, yaml
for path in sys.argv[1:]:
    for d in yaml.safe_load_all(open(path)):
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        for k, v in (d.get("stringData") or {}).items():
            print(ns, name, k, base64.b64encode(str(v).encode()).decode())
        for k, v in (d.get("data") or {}).items():
            print(ns, name, k, v)
PY
nwant=$(cut -d' ' -f2 "$W/want" | sort -u | wc -l)
same=0
while read -r ns name key b64; do
	k A -n "$ns" get secret "$name" -o json > "$W/got.json" 2> /dev/null
	python3 -c 'import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["data"][sys.argv[2]]))' \
		"$W/got.json" "$key" > "$W/got.bytes" 2> /dev/null
	printf '%s' "$b64" | base64 -d > "$W/want.bytes"
	cmp -s "$W/got.bytes" "$W/want.bytes" && same=$((same + 1))
done < "$W/want"
is "$same" "$(wc -l < "$W/want" | tr -d ' ')" "every Secret key read back with kubectl is byte for byte the provider's value"
names=$(cut -d' ' -f2 "$W/want" | sort -u | tr '\n' '|' | sed 's/|$//')
last_secret=$(grep -nE "^(PATCH|PUT|POST) /api/v1/namespaces/posthog/secrets/($names) " "$log" | tail -n 1 | cut -d: -f1)
nsecret=$(grep -cE "^PATCH /api/v1/namespaces/posthog/secrets/($names) .*fieldManager=phdeploy" "$log")
is "$nsecret" "$nwant" "each of the $nwant Secrets is written once, by server-side apply as phdeploy"
# helm's first write: its release record (a Secret owner=helm) or a chart object
first_helm=$(grep -nE '^(POST|PUT|PATCH|DELETE) ' "$log" | grep -vE "/secrets/($names) |^[0-9]+:POST /api/v1/namespaces " |
	head -n 1 | cut -d: -f1)
ok "$([ -n "$last_secret" ] && [ -n "$first_helm" ] && [ "$last_secret" -lt "$first_helm" ]; echo $?)" \
	"every Secret write precedes helm's first write (lines $last_secret < $first_helm)"
like "$(sed -n "${first_helm}p" "$log")" "fieldManager=helm" "... and that first write is helm's"
like "$(KUBECONFIG=$W/A/kubeconfig "$T/helm4" history posthog -n posthog 2>&1 | grep '^1 ')" deployed \
	"helm history: revision 1 deployed"
run A phdeploy.yaml verify
is "$rc" 0 "verify alone reads the live release: ready, spread over 3 zones" || diag "$err"

# ---- the API server goes away before verify: state unknown, no rollback
{ cat "$W/phdeploy.yaml"; echo "hooks: { verify: { pre: [ { run: [$KA, stop, $W/A] } ] } }"; } > "$W/gone.yaml"
run A gone.yaml --skip preflight --output json deploy
is "$rc" 10 "an API server gone before verify: exit 10"
like "$err" "state is unknown" "the message says the live state is unknown"
like "$err" "cannot read live objects" "... because the live objects cannot be read"
unlike "$(grep '"phase":"rollback"' "$W/out")" '"status":"ok"' "no rollback ran (rollback.on_failure is true)"
unlike "$(grep '"phase":"rollback"' "$W/out")" '"status":"failed"' "... nor was one attempted"

# ---- N's and S's results
wait $bg_n
is "$(cat "$W/N-install.rc")" 0 "N: installed without waiting"
is "$(cat "$W/N-verify.rc")" 10 "never_ready: verify exits 10"
like "$(cat "$W/N-verify.json")" '"phase":"verify","rule":"rollout"' "... with a rollout finding"
like "$(grep '"phase":"verify","rule":"rollout"' "$W/N-verify.json")" "Deployment/posthog-web" "... naming posthog-web"
wait $bg_s
is "$(cat "$W/S-install.rc")" 0 "S: installed on one node"
like "$(cat "$W/S-verify.json")" '"phase":"verify","rule":"spread"' "one node in one zone: verify reports the spread finding"
like "$(grep '"phase":"verify","rule":"spread"' "$W/S-verify.json")" "running pods are on node solo" "... naming the node"
is "$(cat "$W/S-verify.rc")" 10 "... an error: exit 10"

# ---- N: a release left pending by a helm upgrade SIGKILLed mid-wait (helm 4
# takes a post-renderer as a plugin: the ZooKeeper PDB to policy/v1)
mkdir -p "$W/plugins/pdb-v1"
printf '#!/bin/sh\nexec sed "s#^apiVersion: policy/v1beta1\\$#apiVersion: policy/v1#"\n' > "$W/pdb-v1"
chmod +x "$W/pdb-v1"
printf 'apiVersion: v1\ntype: postrenderer/v1\nname: pdb-v1\nversion: 1.0.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: %s\n' \
	"$W/pdb-v1" > "$W/plugins/pdb-v1/plugin.yaml"
KUBECONFIG=$W/N/kubeconfig HELM_PLUGINS=$W/plugins "$T/helm4" upgrade --install posthog "$chart" \
	-f "$W/values.yaml" -n posthog --wait --timeout 2m --set web.replicacount=3 \
	--post-renderer pdb-v1 > /dev/null 2> "$W/kill.err" &
hpid=$!
i=0
while [ $i -lt 300 ]; do
	k N -n posthog get secrets -l owner=helm,status=pending-upgrade --no-headers 2> /dev/null | grep -q . && break
	sleep 0.1
	i=$((i + 1))
done
kill -KILL $hpid
wait $hpid 2> /dev/null
like "$(KUBECONFIG=$W/N/kubeconfig "$T/helm4" history posthog -n posthog 2>&1 | grep '^2 ')" pending-upgrade \
	"helm 4 SIGKILLed mid-wait leaves revision 2 pending-upgrade"
refused N "deploy (the release is pending-upgrade)" 8 short.yaml
like "$err" "pending" "... saying the release is pending"
done_testing

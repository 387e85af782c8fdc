#!/bin/sh
# A whole `phdeploy deploy` with the real helm, kube and secret-file plugins,
# the REAL helm 4 and kubectl against tests/bin/kube-api and the real
# chart: the namespace, then every Secret, are written before helm writes
# anything (its release record or a chart object), and no secret value
# reaches any child's argv or environment, the output, the journal, a file
# left in the temp directory or a URL the API server saw.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS
KA=$top_srcdir/tests/bin/kube-api
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
command -v python3 > /dev/null 2>&1 || skip_all "no python3 for tests/bin/kube-api"
[ -x "$PHD_TOOLS/kubectl" ] && [ -x "$PHD_TOOLS/helm4" ] || skip_all "no kubectl/helm4 in $PHD_TOOLS"
[ -f "$chart" ] || skip_all "no chart fixture at $chart"
tap_mktemp
T=$TAPTMP
trap '[ -f "$T/k/pid" ] && "$KA" stop "$T/k" > /dev/null 2>&1; rm -rf "$T"' EXIT
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs:$top_builddir/plugins/kube/.libs:$top_builddir/plugins/secret-file/.libs:$top_builddir/plugins/ha/.libs
export PHDEPLOY_PLUGIN_PATH
export PHDEPLOY_STATE_DIR=$T/state TMPDIR=$T/tmp
export HELM_CACHE_HOME=$T/helm/cache HELM_CONFIG_HOME=$T/helm/config HELM_DATA_HOME=$T/helm/data
export KUBECACHEDIR=$T/kubecache
mkdir -p "$TMPDIR"

echo '{"ready_after": "200ms"}' > "$T/scenario.json"
"$KA" start "$T/k" --scenario "$T/scenario.json" > "$T/start" 2>&1 ||
	{ diag "$(cat "$T/start")"; echo "Bail out! kube-api did not start"; exit 1; }
export KUBECONFIG=$T/k/kubeconfig

# the real binaries behind wrappers that record each argv and environment
record_calls "$T/rec" helm4 kubectl

cp "$top_srcdir"/examples/*.secret.yaml "$top_srcdir/examples/values.yaml" "$T/"
sed '/^checks:/,/^$/d' "$top_srcdir/examples/phdeploy.yaml" > "$T/phdeploy.yaml"
secrets=$(sed -n 's/^  [a-z-]*-password: \(.*\)$/\1/p; s/^  posthog-secret: \(.*\)$/\1/p' "$T"/*.secret.yaml)
# redis.secret.yaml carries its value under data: the decoded bytes too
secrets="$secrets $(sed -n 's/^  redis-password: //p' "$T/redis.secret.yaml" | base64 -d)"
[ -n "$secrets" ] || { echo "Bail out! no secret values found in the examples"; exit 1; }

"$PHDEPLOY" -v --helm "$T/rec/helm4" --kubectl "$T/rec/kubectl" --kube-context stand-in \
	-c "$T/phdeploy.yaml" --chart "$chart" --output json --skip preflight deploy > "$T/out" 2> "$T/err"
rc=$?
is "$rc" 0 "deploy succeeds: real kubectl, real helm 4, the API server stand-in" || sed 's/^/# /' "$T/err"

log=$T/k/requests.log
nsecret=$(cat "$T"/*.secret.yaml | grep -c '^kind: Secret')
names=$(sed -n 's/^  name: //p' "$T"/*.secret.yaml | tr '\n' '|' | sed 's/|$//')
napply=$(grep -cE "^PATCH /api/v1/namespaces/posthog/secrets/($names) .*apply-patch" "$log")
is "$napply" "$nsecret" "every Secret of the three files is applied ($nsecret), server-side"
ns_line=$(grep -n '^POST /api/v1/namespaces ' "$log" | head -n 1 | cut -d: -f1)
first_secret=$(grep -nE "/secrets/($names) " "$log" | grep -v ':GET ' | head -n 1 | cut -d: -f1)
last_secret=$(grep -nE "/secrets/($names) " "$log" | grep -v ':GET ' | tail -n 1 | cut -d: -f1)
first_helm=$(grep -n 'fieldManager=helm\|^POST /api/v1/namespaces/posthog/secrets ' "$log" | head -n 1 | cut -d: -f1)
ok "$([ -n "$ns_line" ] && [ -n "$first_secret" ] && [ "$ns_line" -lt "$first_secret" ]; echo $?)" \
	"the namespace is created before the Secrets"
ok "$([ -n "$last_secret" ] && [ -n "$first_helm" ] && [ "$last_secret" -lt "$first_helm" ]; echo $?)" \
	"every Secret is written before helm's first write (request log lines $last_secret < $first_helm)"
first_upgrade=$(grep -n '^helm4 upgrade' "$T/rec/argv" | head -n 1 | cut -d: -f1)
last_apply=$(grep -n '^kubectl.* apply ' "$T/rec/argv" | tail -n 1 | cut -d: -f1)
ok "$([ -n "$first_upgrade" ] && [ -n "$last_apply" ] && [ "$last_apply" -lt "$first_upgrade" ]; echo $?)" \
	"kubectl apply ran before helm upgrade started"

# the leak search: every value, plain and base64
hits=0
for s in $secrets; do
	b=$(printf '%s' "$s" | base64 -w0)
	for pat in "$s" "$b"; do
		n=$(cat "$T/rec/argv" "$T"/rec/env/* "$T/out" "$T/err" "$T"/state/journal.jsonl 2>/dev/null | grep -cF -- "$pat")
		hits=$((hits + n))
		n=$(cut -d' ' -f1-3 "$log" | grep -cF -- "$pat")
		hits=$((hits + n))
		n=$(grep -rlF -- "$pat" "$TMPDIR" 2>/dev/null | wc -l)
		hits=$((hits + n))
	done
done
is "$hits" 0 "no secret value in any argv, child environment, output, JSON event, journal, temp file or request URL"
# control: the values did travel, in the Secrets the API server stores
s1=$(echo "$secrets" | head -n 1)
n=$("$PHD_TOOLS/kubectl" get secrets -n posthog -o json | grep -cF -- "$(printf '%s' "$s1" | base64 -w0)")
ok "$([ "$n" -ge 1 ]; echo $?)" "the search finds the value where it belongs: the Secret in the cluster"
left=$(ls -A "$TMPDIR" | wc -l)
is "$left" 0 "the run leaves nothing in the temp directory"
done_testing

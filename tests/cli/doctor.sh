#!/bin/sh
# phdeploy doctor with the REAL helm 4 and kubectl against tests/bin/kube-api
# and a chart repository served on 127.0.0.1 (tests/bin/serve-dir, the real
# PostHog index): everything ok (exit 0), nothing written to the cluster, no
# archive downloaded; then one thing wrong at a time, each a "fail" line with
# its fix and exit 16: a context the kubeconfig does not have, a pinned chart
# version the repository does not list, a helm that does not exist, an API
# server that accepts and never answers (the 5 s request timeout), a
# repository that stalls (the 15 s deadline), the repository gone, kube-api
# stopped; an unpinned chart is a warning (exit 16 too).
. "$top_srcdir/tests/tap/tap.sh"
KA=$top_srcdir/tests/bin/kube-api
H=$PHD_TOOLS/helm4
K=$PHD_TOOLS/kubectl
index=$PHD_FIXTURES/charts-clickhouse-index.yaml
command -v python3 > /dev/null 2>&1 || skip_all "no python3"
[ -x "$H" ] && [ -x "$K" ] || skip_all "no helm4 and kubectl in $PHD_TOOLS (run scripts/fetch-tools)"
[ -f "$index" ] || skip_all "no chart index at $PHD_FIXTURES"
tap_mktemp
cd "$TAPTMP" || exit 1
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; [ -f "$TAPTMP/k/pid" ] && "$KA" stop "$TAPTMP/k"' EXIT
HELM_CACHE_HOME=$TAPTMP/helm/cache HELM_CONFIG_HOME=$TAPTMP/helm/config
HELM_DATA_HOME=$TAPTMP/helm/data KUBECACHEDIR=$TAPTMP/kubecache
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR
export PHDEPLOY_HELM="$H" PHDEPLOY_KUBECTL="$K"

"$KA" start "$TAPTMP/k" > start.log 2>&1 || { cat start.log >&2; skip_all "kube-api did not start"; }
export KUBECONFIG=$TAPTMP/k/kubeconfig

mkdir -p srv/charts && cp "$index" srv/charts/index.yaml
"$top_srcdir/tests/bin/serve-dir" "$TAPTMP/srv" "$TAPTMP/port" "$TAPTMP/requests" &
srv=$!
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
url=http://127.0.0.1:$(cat port)/charts

# the starting files init writes, pointed at the loopback repository
"$PHDEPLOY" init site > init.log 2>&1 || { cat init.log >&2; exit 1; }
sed -i "s|url: https://posthog.github.io/charts-clickhouse/|url: $url|" site/phdeploy.yaml
printf 'kube: { context: stand-in, version: "1.29" }\n' >> site/phdeploy.yaml
sed -i '/^kube:$/,/^  version:/d' site/phdeploy.yaml

doctor() { # ARGS...: sets rc, out
	"$PHDEPLOY" -c site/phdeploy.yaml "$@" doctor > out 2> err
	rc=$?
	out=$(cat out)
}

doctor
is "$rc" 0 "everything in order: exit 0"
[ "$rc" -eq 0 ] || diag "$out" "$(cat err)"
like "$out" "ok    config    loads and validates (release posthog, namespace posthog)" "config ok"
like "$out" "ok    helm      $H: helm 4." "helm ok, its version and major"
like "$out" "ok    kubectl   $K: kubectl v1." "kubectl ok, its version"
like "$out" 'ok    context   context "stand-in" is in the kubeconfig' "context ok"
like "$out" 'ok    cluster   context "stand-in": Kubernetes v' "the cluster answers"
like "$out" "ok    chart     posthog/posthog 30.46.0 is in the repository ($url/index.yaml)" \
	"the pinned chart version is in the repository"
is "$(grep -c . out)" 6 "one line per item"
grep -q 'GET /charts/index.yaml' requests
ok $? "the index was fetched from the loopback repository"
unlike "$(cat requests)" ".tgz" "... and no archive downloaded"
unlike "$(cut -d' ' -f1 k/requests.log | sort -u | tr '\n' ' ')" "POST|PUT|PATCH|DELETE" \
	"nothing written to the cluster"

"$PHDEPLOY" -c site/phdeploy.yaml -o json doctor > json 2> err
is $? 0 "-o json: exit 0"
is "$(grep -c '"event":"doctor"' json)" 6 "one doctor event per item"
like "$(cat json)" '{"event":"doctor","item":"cluster","status":"ok","message":"context' \
	"with item, status and message"

doctor --kube-context nowhere
is "$rc" 16 "a context the kubeconfig lacks: exit 16"
like "$out" 'fail  context   context "nowhere" is not in the kubeconfig; fix: kubectl config get-contexts' \
	"the context fails, with the fix"
like "$out" "fail  cluster   not checked: no usable kube context" "the cluster is not tried"
like "$out" "ok    helm" "the other items are still checked"

printf 'release: posthog\nnamespace: posthog\nchrat: {}\n' > site/typo.yaml
"$PHDEPLOY" -c site/typo.yaml doctor > out 2> err
rc=$? out=$(cat out)
is "$rc" 16 "a config that does not load: exit 16"
like "$out" "fail  config    site/typo.yaml:3:1: unknown key 'chrat' (did you mean 'chart'?); fix: " \
	"the config fails at its position"
like "$out" "fail  chart     not checked: the config does not load" "the chart is not guessed"
like "$out" 'ok    cluster' "the cluster is still checked"

printf 'postgresql:\n  enabled: true\n' > site/one.yaml
doctor -f site/values.yaml -f site/one.yaml
is "$rc" 16 "values that fail validate: exit 16"
like "$out" "fail  config    validate: 1 error: site/values.yaml:" \
	"the config fails with validate's error count and the error's position"
like "$out" "postgresql.enabled is true: the chart stops with INVALID VALUES; to use RDS set postgresql.enabled: false (posthog-external-mixed); fix: run phdeploy validate" \
	"... its message, rule and the fix"

doctor --chart-version 30.99.0
is "$rc" 16 "a pinned version the repository lacks: exit 16"
like "$out" "fail  chart     posthog/posthog: 30.99.0 not found; nearest:" \
	"the chart fails naming the nearest versions"
like "$out" "fix: pin a version the repository lists" "with the fix"

sed 's/^  version: 30.46.0$//' site/phdeploy.yaml > site/unpinned.yaml
"$PHDEPLOY" -c site/unpinned.yaml doctor > out 2> err
rc=$? out=$(cat out)
is "$rc" 16 "an unpinned chart: exit 16"
like "$out" "warn  chart     posthog/posthog: not pinned; the repository's newest is " \
	"a warning naming the newest version"

doctor --helm "$TAPTMP/no-such-helm"
is "$rc" 16 "a helm that does not exist: exit 16"
like "$out" "fail  helm      $TAPTMP/no-such-helm: not found; fix: install helm 3.7+ or 4" \
	"helm fails, with the fix"

# a repository that sends the index's first kilobyte and then nothing
sed "s|url: $url|url: http://127.0.0.1:\$(cat stall.port)/charts|" site/phdeploy.yaml \
	> site/stall.yaml
SERVE_DIR_STALL=/index.yaml "$top_srcdir/tests/bin/serve-dir" "$TAPTMP/srv" "$TAPTMP/stall.port" &
stall=$!
i=0
while [ ! -s stall.port ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
sed -i "s|\$(cat stall.port)|$(cat stall.port)|" site/stall.yaml
t0=$(date +%s)
"$PHDEPLOY" -c site/stall.yaml doctor > out 2> err
rc=$? out=$(cat out)
t1=$(date +%s)
kill $stall 2>/dev/null
is "$rc" 16 "a repository that stalls: exit 16"
like "$out" "fail  chart     http://127.0.0.1:$(cat stall.port)/charts/index.yaml: no complete answer within 15 s" \
	"the chart fails at the doctor's deadline"
ok "$([ $((t1 - t0)) -ge 14 ] && [ $((t1 - t0)) -le 25 ]; echo $?)" "after 15 s ($((t1 - t0)) s)"

kill $srv 2>/dev/null
wait $srv 2>/dev/null
srv=
doctor
is "$rc" 16 "the repository gone: exit 16"
like "$out" "fail  chart     helm: cannot fetch index $url/index.yaml" "the chart fails: no index"

# a server that accepts and never answers: the short timeout decides
cat > silent.py <<'PY'
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PY
python3 silent.py silent.port &
sil=$!
i=0
while [ ! -s silent.port ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
"$K" config set-cluster silent --server="http://127.0.0.1:$(cat silent.port)" > /dev/null
"$K" config set-context silent --cluster=silent \
	--user="$("$K" config view -o jsonpath='{.contexts[0].context.user}')" > /dev/null
t0=$(date +%s)
doctor --kube-context silent
t1=$(date +%s)
kill $sil 2>/dev/null
is "$rc" 16 "an API server that never answers: exit 16"
like "$out" 'fail  cluster   context "silent": ' "the cluster fails"
ok "$([ $((t1 - t0)) -ge 4 ] && [ $((t1 - t0)) -le 12 ]; echo $?)" \
	"after the 5 s request timeout, not longer ($((t1 - t0)) s)"
diag "$(grep cluster out)"

"$KA" stop "$TAPTMP/k" > /dev/null 2>&1
t0=$(date +%s)
doctor
t1=$(date +%s)
is "$rc" 16 "kube-api stopped: exit 16"
like "$out" 'fail  cluster   context "stand-in": the API server does not answer: ' \
	"the cluster fails"
like "$out" "fix: check the network path to the API server" "with the fix"
ok "$([ $((t1 - t0)) -le 15 ]; echo $?)" "within the short timeout ($((t1 - t0)) s)"

"$PHDEPLOY" explain 16 > out 2>&1
is $? 0 "explain 16 exits 0"
like "$(cat out)" "doctor" "and explains the doctor's status"

done_testing

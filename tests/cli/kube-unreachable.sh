#!/bin/sh
# A cluster no API server of which answers, with the REAL kubectl and helm 4
# against tests/bin/kube-api and the real chart: verify with no such kube
# context, and verify while the API server hangs past kube.timeout, end
# with exit 10 (state unknown), say the cluster is unreachable, try once
# and roll nothing back (rollback.on_failure is on); the --wait predictions
# meeting a hanging API server warn once, read nothing more and take one
# kube.timeout, not one per prediction.
. "$top_srcdir/tests/tap/tap.sh"
. "$top_srcdir/tests/tap/kube.sh"
release_setup '{"ready_after": "200ms"}'
chmod 600 ./*.secret.yaml
chart_config base.yaml
# kube.timeout 2s: a hanging API server costs 2 s a kubectl call
{ sed 's/^kube: { context: stand-in, version: "1.31" }$/kube: { context: stand-in, version: "1.31", timeout: 2s }/' base.yaml
  echo 'rollback: { on_failure: true }'; } > phdeploy.yaml
grep -q 'timeout: 2s' phdeploy.yaml || { echo "Bail out! chart_config changed: no kube line"; exit 1; }
# every kubectl call phdeploy makes, one line each in rec/argv
record_calls "$TAPTMP/rec" kubectl
R=$TAPTMP/rec/kubectl
calls() { grep -c "$1" rec/argv 2> /dev/null || true; }
# events of a JSON stream: the phases that started, a phase's ms
started() { grep -o '"event":"phase_start","phase":"[a-z]*"' "$1" | sed 's/.*"phase":"//; s/"$//' | tr '\n' ' '; }
ms() { grep "\"event\":\"phase_end\",\"phase\":\"$2\"" "$1" | sed 's/.*"ms":\([0-9]*\).*/\1/'; }
# hang SECONDS: from the next request on, the stand-in answers SECONDS late
# (its scenario is re-read when the file's mtime changes); hang 0: at once
cat > hang <<H
#!/bin/sh
n=\$((\$(cat $TAPTMP/gen 2> /dev/null || echo 0) + 1)); echo \$n > $TAPTMP/gen
printf '{"ready_after": "200ms", "slow": "%s"}\n' "\$1" > $TAPTMP/scen.json.new
touch -d "@\$((\$(date +%s) + 5 + n))" $TAPTMP/scen.json.new
mv $TAPTMP/scen.json.new $TAPTMP/scen.json
echo "--- hang \$1" >> $TAPTMP/rec/argv
H
chmod +x hang

$P -q deploy --yes --skip preflight,verify > out 2> err; is $? 0 "revision 1 deploys" || diag "$(tail -5 err)"

# ---- verify with a kube context that does not exist -------------------------
: > rec/argv
PHDEPLOY_KUBECTL=$R $P verify --kube-context nosuch > out 2> err; rc=$?
is "$rc" 10 "verify --kube-context nosuch: exit 10"
like "$(cat err)" "the cluster is unreachable (no API server answered, or it refused the credentials): cannot read live objects, the release's state is unknown (nothing is rolled back)" \
	"it says the cluster is unreachable and the state unknown"
like "$(cat err)" "exited 1: context \"nosuch\" does not exist" "... with kubectl's why"
is "$(calls 'get deployments,statefulsets')" 1 "... tried once: no second read without the nodes"

# a deploy whose verify finds the context gone: no rollback
cp k/kubeconfig kubeconfig.saved
{ cat phdeploy.yaml; echo "hooks: { verify: { pre: [ { run: [$KC, config, rename-context, stand-in, elsewhere] } ] } }"; } > gone.yaml
: > rec/argv
PHDEPLOY_KUBECTL=$R $P -c gone.yaml -o json deploy --yes --skip preflight > out 2> err; rc=$?
cp kubeconfig.saved k/kubeconfig
is "$rc" 10 "a deploy whose verify finds no such context: exit 10, not 11 (rolled back)"
like "$(cat err)" "the cluster is unreachable" "... it says the cluster is unreachable"
is "$(started out)" "validate secrets repo render deploy verify " "... no rollback phase started"
unlike "$(tail -n 1 state/journal.jsonl)" "rolled-back" "... the journal has no rollback"
is "$(calls 'get deployments,statefulsets')" 1 "... verify tried once"

# ---- verify while the API server hangs past kube.timeout ---------------------
{ cat phdeploy.yaml; echo "hooks: { verify: { pre: [ { run: [$TAPTMP/hang, 30s] } ] } }"; } > slow.yaml
: > rec/argv
PHDEPLOY_KUBECTL=$R $P -c slow.yaml -o json deploy --yes --skip preflight > out 2> err; rc=$?
./hang 0s; $K get --raw /version > /dev/null 2>&1
is "$rc" 10 "a deploy whose verify meets a hanging API server: exit 10, not a failed verify rolled back"
like "$(cat err)" "the cluster is unreachable (no API server answered, or it refused the credentials): cannot read live objects, the release's state is unknown (nothing is rolled back): \`$R --context=stand-in get deployments,statefulsets,horizontalpodautoscalers,poddisruptionbudgets,pods,nodes -n posthog -o json\` did not finish within 2000 ms" \
	"... it says unreachable, naming the command and the deadline"
is "$(started out)" "validate secrets repo render deploy verify " "... no rollback phase started"
unlike "$(tail -n 1 state/journal.jsonl)" "rolled-back" "... the journal has no rollback"
is "$(sed -n '/^--- hang 30s/,$p' rec/argv | grep -c '^kubectl')" 1 "... one kubectl call after the hang, not a second try"
v=$(ms out verify)
ok "$([ "${v:-99999}" -lt 6000 ]; echo $?)" "... verify took one deadline ($v ms < 2 s + 4 s)"

# ---- the --wait predictions meet a hanging API server -----------------------
# render's pre hook makes the stand-in hang, its post hook stops it (the
# deploy phase then fails at once: nothing else to wait out)
{ cat phdeploy.yaml; echo "hooks: { render: { pre: [ { run: [$TAPTMP/hang, 30s] } ], post: [ { run: [$KA, stop, $TAPTMP/k] } ] } }"; } > hang-render.yaml
: > rec/argv
PHDEPLOY_KUBECTL=$R $P -c hang-render.yaml -o json deploy --yes --skip preflight > out 2> err; rc=$?
ok "$([ "$rc" -ne 0 ]; echo $?)" "the deploy fails on the stopped API server (exit $rc)"
is "$(grep -c 'could not predict' out)" 1 "a hanging API server: one \"could not predict\" warning"
like "$(grep 'could not predict' out)" "did not finish within 2000 ms" "... naming the deadline"
is "$(sed -n '/^--- hang 30s/,$p' rec/argv | grep -c '^kubectl.* get ')" 1 \
	"... one list tried after the hang, nothing more read"
r=$(ms out render)
ok "$([ "${r:-99999}" -lt 6000 ]; echo $?)" "... render took one deadline ($r ms < 2 s + 4 s), not one per prediction"
done_testing

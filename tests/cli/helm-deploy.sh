#!/bin/sh
# phdeploy deploy/status/rollback through the helm plugin with the REAL helm 4
# and helm 3 against tests/bin/kube-api, the Kubernetes API stand-in, on the
# real chart and examples/values.yaml: flags, redaction of --debug, the
# failure classes from what real helm prints (wait timeout, failed migrate
# Job, pending release, another operation in progress, API faults), the
# pending-release check and its recovery, rollback on failure, Ctrl-C.
#
# Five stand-ins run at once so the slow cases (helm's timeouts) overlap:
# A (everything ready), B (posthog-web never ready: timeouts, Ctrl-C),
# C (the migrate Job fails), P (pending releases), F (faults and rollback).
. "$top_srcdir/tests/tap/tap.sh"
# Under ASan, clang 14's LeakSanitizer can crash at exit reading the dynamic
# TLS of libraries dlopen'd with the plugin (libcurl's gnutls, p11-kit,
# com_err).  Not scanning TLS can only report more leaks, never fewer.
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS

KA=$top_srcdir/tests/bin/kube-api
T=$PHD_TOOLS
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
values=$top_srcdir/examples/values.yaml
pwfile=$top_srcdir/tests/data/helm/values-inline-password.yaml
pw=Inl1ne-Pg-Pw-4e7b2c
pw64=$(printf '%s' "$pw" | base64)
[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
command -v python3 > /dev/null 2>&1 || skip_all "no python3 for tests/bin/kube-api"
[ -x "$T/kubectl" ] && [ -x "$T/helm4" ] && [ -x "$T/helm3" ] ||
	skip_all "no kubectl/helm4/helm3 in $T (run scripts/fetch-tools)"
[ -f "$chart" ] || skip_all "no chart fixture at $chart"
tap_mktemp
W=$TAPTMP
stop_all() {
	for d in A B C P F; do
		[ -f "$W/$d/pid" ] && "$KA" stop "$W/$d" > /dev/null 2>&1
	done
	rm -rf "$W"
}
trap stop_all EXIT
# the helm plugin alone: the kube plugin (Secrets) has its own tests, so the
# Secrets examples/values.yaml names are created here with the real kubectl
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
HELM_CACHE_HOME=$W/helm/cache HELM_CONFIG_HOME=$W/helm/config HELM_DATA_HOME=$W/helm/data
KUBECACHEDIR=$W/kubecache TMPDIR=$W/tmp
export PHDEPLOY_PLUGIN_PATH HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR TMPDIR
mkdir -p "$TMPDIR"
unset PHDEPLOY_HELM KUBECONFIG

# helm4/helm3 as phdeploy runs them: the real binary, its argv recorded in
# $HELM_ARGV; with $HELM_GATE set, an upgrade waits for that file to exist
# (so the test can start another helm operation between the check and it)
mkdir -p "$W/bin"
for v in 4 3; do
	cat > "$W/bin/helm$v" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >> "\${HELM_ARGV:-/dev/null}"
[ -n "\${HELM_PLUGINS:-}" ] && printf 'env HELM_PLUGINS=%s\n' "\$HELM_PLUGINS" >> "\${HELM_ARGV:-/dev/null}"
if [ "\$1" = upgrade ] && [ -n "\${HELM_GATE:-}" ]; then
	: > "\$HELM_GATE.at"
	while [ ! -f "\$HELM_GATE" ]; do sleep 0.1; done
fi
exec "$T/helm$v" "\$@"
EOF
	chmod +x "$W/bin/helm$v"
done

echo '{"ready_after": "200ms"}' > "$W/A.json"
echo '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}' > "$W/B.json"
echo '{"ready_after": "200ms", "job_fails": ["posthog-migrate-*"]}' > "$W/C.json"
echo '{"ready_after": "200ms"}' > "$W/P.json"
echo '{"ready_after": "200ms"}' > "$W/F.json"
for d in A B C P F; do
	"$KA" start "$W/$d" --scenario "$W/$d.json" > "$W/start-$d" 2>&1 || {
		diag "$(cat "$W/start-$d" "$W/$d/kube-api.log" 2>/dev/null)"
		echo "Bail out! kube-api $d did not start"
		exit 1
	}
done
# scenario SERVER JSON: the stand-in re-reads its scenario when the mtime changes
scenario() {
	_n=$(($(cat "$W/$1.gen" 2>/dev/null || echo 0) + 1))
	echo "$_n" > "$W/$1.gen"
	echo "$2" > "$W/$1.json.new"
	touch -d "@$(($(date +%s) + _n))" "$W/$1.json.new"
	mv "$W/$1.json.new" "$W/$1.json"
	sleep 0.3 # the controllers read it on their next pass
}
k() { _s=$1; shift; "$T/kubectl" --kubeconfig "$W/$_s/kubeconfig" "$@"; }
h() { _v=$1 _s=$2; shift 2; KUBECONFIG=$W/$_s/kubeconfig "$T/helm$_v" "$@"; }
# secrets SERVER NAMESPACE: the namespace and the Secrets examples/values.yaml names
secrets() {
	k "$1" create namespace "$2" > /dev/null 2>&1
	for s in posthog-secret:posthog-secret posthog-postgres:postgresql-password \
		posthog-redis:redis-password posthog-clickhouse:admin-password; do
		k "$1" -n "$2" create secret generic "${s%%:*}" --from-literal="${s##*:}=not-a-secret" \
			> /dev/null || return 1
	done
}
# config NAME NAMESPACE [yaml lines...]: $W/NAME.yaml, a local chart
config() {
	_c=$1 _ns=$2
	shift 2
	{
		echo "release: posthog"
		echo "namespace: $_ns"
		echo "chart: { name: \"$chart\", version: 30.46.0 }"
		echo "values: [\"$values\"]"
		echo "kube: { context: stand-in }"
		for l in "$@"; do echo "$l"; done
	} > "$W/$_c.yaml"
}
# phd NAME SERVER HELM CONFIG [phdeploy args...]: NAME.rc/.out/.err/.argv;
# a state dir per NAME, so concurrent runs take no common lock
phd() {
	_n=$1 _s=$2 _v=$3 _c=$4
	shift 4
	: > "$W/$_n.argv"
	HELM_ARGV=$W/$_n.argv KUBECONFIG=$W/$_s/kubeconfig PHDEPLOY_STATE_DIR=$W/state-$_n \
		"$PHDEPLOY" --helm "$W/bin/helm$_v" -c "$W/$_c.yaml" "$@" \
		> "$W/$_n.out" 2> "$W/$_n.err"
	echo $? > "$W/$_n.rc"
}
# get NAME: rc, out, err, argv from a finished phd
get() {
	rc=$(cat "$W/$1.rc") out=$(cat "$W/$1.out") err=$(cat "$W/$1.err") argv=$(cat "$W/$1.argv")
}
run() { phd "$@"; get "$1"; }
# writes SERVER: the requests since the log was emptied that changed something
writes() { grep -v '^GET ' "$W/$1/requests.log" | grep -v ' 40[0-9]$'; }
deploy='deploy --skip preflight,verify'
# matches TEXT ERE DESC
matches() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then _tap_result 0 "$3"
	else _tap_result 1 "$3"; diag "does not match '$2':" "$1"; fi
}

# ---- B in the background: a Deployment never ready; helm 4 and helm 3 time
# out (exit 9); Ctrl-C while each waits
(
	for n in nr4 nr3 int4 int3; do secrets B $n; done
	config nr4 nr4 "helm: { timeout: 20s }"
	config nr3 nr3 "helm: { timeout: 20s }"
	config int4 int4 "rollback: { on_failure: true }"
	config int3 int3 "rollback: { on_failure: true }"
	phd nr4 B 4 nr4 $deploy &
	phd nr3 B 3 nr3 $deploy &
	for v in 4 3; do
		(
			PHDEPLOY_STATE_DIR=$W/state-int$v HELM_ARGV=$W/int$v.argv \
				KUBECONFIG=$W/B/kubeconfig "$PHDEPLOY" --helm "$W/bin/helm$v" \
				-c "$W/int$v.yaml" $deploy > "$W/int$v.out" 2> "$W/int$v.err" &
			pid=$!
			i=0 # helm is waiting once it names what it waits for
			while ! grep -q 'posthog-web' "$W/int$v.err" && [ $i -lt 600 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			sleep 1
			kill -INT $pid
			wait $pid
			echo $? > "$W/int$v.rc"
			: > "$W/int$v.argv"
		) &
	done
	wait
) &
bg_b=$!

# ---- C in the background: the migrate Job fails.  Helm 3.17 retries a
# failed Job 30 times, 2 s apart, before it names it: its timeout is 70 s.
(
	secrets C jf4 && secrets C jf3
	config jf4 jf4 "helm: { timeout: 60s }"
	config jf3 jf3 "helm: { timeout: 70s }"
	phd jf4 C 4 jf4 $deploy &
	phd jf3 C 3 jf3 $deploy &
	wait
) &
bg_c=$!

# ---- config errors, positioned, before helm runs ---------------------------
config badt posthog "helm:" "  timeout: soon"
run badt A 4 badt $deploy
ok "$([ "$rc" -ne 0 ]; echo $?)" "a bad helm.timeout stops the run"
like "$err" "badt.yaml:7:12: helm.timeout: expected a duration" "... at its line and column"
config badk posthog "helm: { wiat: true }"
run badk A 4 badk $deploy
like "$err" "badk.yaml:6:9: unknown key in helm 'wiat' (did you mean 'wait'?)" \
	"an unknown helm key is named with its position and the nearest key"
config badw posthog "helm: { wait: false, wait_for_jobs: true }"
run badw A 4 badw $deploy
like "$err" "helm.wait_for_jobs: needs helm.wait: true" "wait_for_jobs without wait is refused"
unlike "$argv" "upgrade" "... before helm runs"

# ---- A: helm 4, a fresh install, status, an upgrade, rollback ---------------
secrets A posthog
config base posthog
: > "$W/A/requests.log"
run i4 A 4 base $deploy
is "$rc" 0 "helm 4: a fresh install of the real chart succeeds"
[ "$rc" = 0 ] || diag "$(tail -n 30 "$W/i4.err")"
like "$argv" "upgrade --install -f $values --timeout 30m --create-namespace --namespace posthog posthog $chart --wait=watcher --wait-for-jobs --debug" \
	"helm 4: the manual procedure's flags, --wait=watcher"
like "$argv" "--post-renderer phdeploy-postrender" "helm 4: the PDB post-renderer is named as a plugin"
like "$argv" "env HELM_PLUGINS=" "helm 4: ... found through a private HELM_PLUGINS"
like "$argv" "--kube-context stand-in" "helm 4: kube.context is passed on"
unlike "$argv" "--version" "a local chart gets no --version"
like "$(cat "$W/A/requests.log")" "PATCH /apis/policy/v1/namespaces/posthog/poddisruptionbudgets/" \
	"helm 4: the post-rendered policy/v1 PDB reached the API server"
like "$err" 'Release "posthog" does not exist. Installing it now.' "helm's output is streamed"
like "$(h 4 A status posthog -n posthog 2>&1)" "STATUS: deployed" "helm 4 status: the release is deployed"

run s4 A 4 base status
is "$rc" 0 "status of a real release succeeds"
like "$out" '"revision":1' "status: revision"
like "$out" '"state":"deployed"' "status: state"
like "$out" '"chart_version":"30.46.0"' "status: chart version"
like "$out" '"app_version":"1.43.0"' "status: app version"
last=$(h 4 A status posthog -n posthog -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["last_deployed"])')
like "$out" "\"last_deployed\":\"$last\"" "status: last deployed, as helm status reports it"
unlike "$out$err" "not-a-secret" "status: no Secret value is shown"

# ---- redaction of --debug (revisions 2 and 3) -------------------------------
config pw posthog "values: [\"$values\", \"$pwfile\"]"
sed -i "4d" "$W/pw.yaml" # the second values: line replaces the first
for mode in text json; do
	run pw-$mode A 4 pw --output "$mode" $deploy
	is "$rc" 0 "$mode: deploy with an inline password in a values file succeeds"
	like "$out$err" "USER-SUPPLIED VALUES:" "$mode: helm printed its --debug sections"
	unlike "$out$err" "$pw" "$mode: the password from the values file is never printed"
	unlike "$out$err" "$pw64" "$mode: ... nor its base64 from the Secret manifest"
done
like "$(cat "$W/pw-json.out")" '"progress"' "json: progress events while helm waits"
like "$(cat "$W/pw-json.out")" 'waiting for resource namespace=posthog name=posthog-web kind=Deployment' \
	"json: ... naming what helm waits for"
ok "$(grep -rqs -- "$pw" "$W"/state-* && echo 1 || echo 0)" \
	"the password is not in the state dir (journal)"

# ---- phdeploy rollback and history ------------------------------------------
run rb4 A 4 base rollback
is "$rc" 0 "phdeploy rollback of a real release succeeds"
like "$argv" "rollback posthog 2 --namespace posthog --wait=watcher --timeout 30m" \
	"... with helm rollback to the revision before the newest, waiting"
hist=$(h 4 A history posthog -n posthog 2>&1)
matches "$(printf '%s\n' "$hist" | grep '^4 ')" "deployed.*Rollback to 2" \
	"real helm history: revision 4 is the rollback to 2"
run s4b A 4 base status
like "$out" '"description":"Rollback to 2"' "status shows the rollback"
config other elsewhere
run none A 4 other status
like "$out" '"state":"not-installed"' "status: a missing release is not-installed"

# ---- A: helm 3 ---------------------------------------------------------------
secrets A p3
config p3 p3
run i3 A 3 p3 $deploy
is "$rc" 0 "helm 3: a fresh install of the real chart succeeds"
[ "$rc" = 0 ] || diag "$(tail -n 30 "$W/i3.err")"
like "$argv" "--wait --wait-for-jobs --debug" "helm 3: plain --wait with --wait-for-jobs"
like "$argv" "--post-renderer /" "helm 3: the post-renderer is an executable path"
unlike "$argv" "HELM_PLUGINS" "helm 3: no private plugin dir"
like "$(h 3 A status posthog -n p3 2>&1)" "STATUS: deployed" "helm 3 status: deployed"
run s3 A 3 p3 status
like "$out" '"state":"deployed"' "helm 3: phdeploy status reads it"

# ---- P: a release left pending-upgrade by a helm SIGKILLed mid-wait ----------
# kill_mid_wait HELM CONFIG NAMESPACE STATE: a deploy on P whose helm is
# SIGKILLed once the release shows STATE and helm waits
kill_mid_wait() {
	KUBECONFIG=$W/P/kubeconfig PHDEPLOY_STATE_DIR=$W/state-pk \
		"$PHDEPLOY" --helm "$T/helm$1" -c "$W/$2.yaml" $deploy > /dev/null 2>&1 &
	_pk=$!
	_i=0
	while [ $_i -lt 300 ]; do
		h "$1" P history posthog -n "$3" 2> /dev/null | grep -q "$4" && break
		sleep 0.1
		_i=$((_i + 1))
	done
	sleep 1 # it is waiting now
	kill -KILL $(pgrep -P $_pk) 2> /dev/null
	wait $_pk
}
secrets P posthog
config pw0 posthog "helm: { wait: false, wait_for_jobs: false }"
run p0 P 4 pw0 $deploy
is "$rc" 0 "P: revision 1 installed"
scenario P '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}'
kill_mid_wait 4 base posthog pending-upgrade
hist=$(h 4 P history posthog -n posthog 2>&1)
like "$(printf '%s\n' "$hist" | grep '^2 ')" "pending-upgrade" \
	"a helm upgrade SIGKILLed mid-wait left revision 2 pending-upgrade"
config stuck posthog "rollback: { on_failure: true }"
for v in 4 3; do
	: > "$W/P/requests.log"
	run stuck$v P $v stuck $deploy
	is "$rc" 8 "helm $v: the next deploy stops on the pending release (exit 8)"
	like "$err" "release posthog in namespace posthog is stuck in pending-upgrade" "helm $v: ... saying so"
	like "$err" "rollback posthog 1 --namespace posthog --wait" "helm $v: ... with the command that resolves it"
	like "$err" "--timeout 30m --debug --kube-context stand-in" "helm $v: ... in full"
	unlike "$argv" "upgrade --install" "helm $v: ... before any upgrade"
	unlike "$argv" "rollback posthog" "helm $v: rollback.on_failure does not touch it"
	is "$(writes P)" "" "helm $v: the run wrote nothing to the API server"
done

# helm.recover_pending: the stuck revision is rolled back for real, then upgraded
scenario P '{"ready_after": "200ms"}'
config recover posthog "helm: { recover_pending: true, timeout: 2m }"
run rec P 4 recover $deploy
is "$rc" 0 "recover_pending: the stuck release is rolled back, then upgraded"
[ "$rc" = 0 ] || diag "$(tail -n 20 "$W/rec.err")"
first=$(grep -n '^rollback posthog' "$W/rec.argv" | head -n 1 | cut -d: -f1)
second=$(grep -n '^upgrade --install' "$W/rec.argv" | cut -d: -f1)
ok "$([ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ]; echo $?)" \
	"recover_pending: rollback before upgrade"
hist=$(h 4 P history posthog -n posthog 2>&1)
like "$(printf '%s\n' "$hist" | tail -n 2 | head -n 1)" "Rollback to" "real helm history: the recovery's rollback"
matches "$(printf '%s\n' "$hist" | tail -n 1)" "deployed.*Upgrade complete" "... then the upgrade, deployed"

# another operation in progress: a real helm rollback holds the release
# between phdeploy's check and its upgrade
scenario P '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}'
rm -f "$W/gate" "$W/gate.at"
HELM_GATE=$W/gate phd busy P 4 stuck $deploy &
busy=$!
i=0
while [ ! -f "$W/gate.at" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
h 4 P rollback posthog 1 -n posthog --wait --timeout 60s > /dev/null 2>&1 &
hold=$!
i=0
while [ $i -lt 300 ]; do
	h 4 P history posthog -n posthog 2> /dev/null | grep -q pending-rollback && break
	sleep 0.1
	i=$((i + 1))
done
: > "$W/gate"
wait $busy
get busy
is "$rc" 8 "a helm operation started after the check fails the upgrade (exit 8)"
like "$err" "another helm operation is in progress" "... classified"
like "$err" "UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress" \
	"... quoting helm"
unlike "$argv" "rollback posthog" "... and not rolled back: the run changed nothing"
kill -KILL $hold 2> /dev/null
wait $hold 2> /dev/null

# a first install left pending-install: recovered with helm uninstall
secrets P pi
config pi posthog
sed -i 's/^namespace: posthog/namespace: pi/' "$W/pi.yaml"
scenario P '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}'
kill_mid_wait 3 pi pi pending-install
scenario P '{"ready_after": "200ms"}'
config pirec pi "helm: { recover_pending: true, timeout: 2m }"
run pirec P 3 pirec $deploy
is "$rc" 0 "helm 3, recover_pending: an install stuck in pending-install is uninstalled, then installed"
like "$argv" "uninstall posthog --namespace pi --wait" "... with helm uninstall"
matches "$(h 3 P history posthog -n pi 2>&1 | tail -n 1)" "1 .*deployed" "... and installed afresh"

# ---- F: a failed upgrade rolled back by real helm; API faults change nothing --
secrets F posthog
run f0 F 4 base $deploy
is "$rc" 0 "F: revision 1 installed"
# revision 2 adds a Deployment that never becomes ready; the rollback to 1
# removes it again, so real helm can roll back and wait successfully
scenario F '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-plugins-async"]}'
printf 'pluginsAsync:\n  enabled: true\n' > "$W/async.yaml"
config rb posthog "values: [\"$values\", \"$W/async.yaml\"]" "rollback: { on_failure: true }" \
	"helm: { timeout: 15s }"
sed -i "4d" "$W/rb.yaml"
run rb F 4 rb $deploy
is "$rc" 11 "rollback.on_failure: a failed upgrade is rolled back (exit 11)"
like "$err" "deploy failed and was rolled back" "... saying so"
like "$err" "Deployment/posthog/posthog-plugins-async not ready" "... quoting why the upgrade failed"
like "$argv" "rollback posthog 1 --namespace posthog --wait=watcher --timeout 15s" \
	"... rolled back to the last deployed revision, waiting"
like "$err" "does not undo database migrations" "the rollback caveat is logged"
hist=$(h 4 F history posthog -n posthog 2>&1)
like "$(printf '%s\n' "$hist" | grep '^2 ')" "failed" "real helm history: revision 2 failed"
matches "$(printf '%s\n' "$hist" | grep '^3 ')" "deployed.*Rollback to 1" "... revision 3 is the rollback to 1"
revs=$(printf '%s\n' "$hist" | grep -c '^[0-9]')

config fault posthog "rollback: { on_failure: true }"
config nocontext posthog "rollback: { on_failure: true }" "kube: { context: missing }"
sed -i '5d' "$W/nocontext.yaml" # the second kube: line replaces the first
fault() { # name helm scenario config
	scenario F "$3"
	: > "$W/F/requests.log"
	run "$1" F "$2" "$4" $deploy
}
for v in 4 3; do
	fault f403-$v $v '{"auth": "403"}' fault
	is "$rc" 8 "helm $v, 403: the deploy fails (exit 8)"
	like "$err" "deploy: reading the release's history before the upgrade (helm history posthog) failed (exit 1): the Kubernetes API could not be reached, refused access or failed" \
		"helm $v, 403: the message names the phase and what was being done"
	like "$err" 'secrets is forbidden: User "stand-in" cannot list resource "secrets"' "helm $v, 403: ... quoting helm"
	fault f401-$v $v '{"auth": "401"}' fault
	is "$rc" 8 "helm $v, 401: exit 8"
	like "$err" "luster unreachable: the server has asked for the client to provide credentials" \
		"helm $v, 401: helm's words"
	like "$err" "the Kubernetes API could not be reached, refused access or failed; check kube.context" \
		"helm $v, 401: classified, with what to check"
	fault f500-$v $v '{"fail_500": ["GET /api/v1/namespaces/*/secrets"]}' fault
	is "$rc" 8 "helm $v, 500 reading the release Secrets: exit 8"
	like "$err" "failed to query with labels: Internal error occurred" "helm $v, 500: helm's words"
	like "$err" "the Kubernetes API could not be reached, refused access or failed" "helm $v, 500: classified"
	fault w500-$v $v '{"fail_500": ["POST /api/v1/namespaces/*/secrets"]}' fault
	is "$rc" 8 "helm $v, 500 writing the release record: exit 8"
	like "$argv" "upgrade --install" "helm $v, 500: the upgrade ran"
	like "$err" "deploy: helm upgrade --install failed (exit 1): the Kubernetes API could not be reached" \
		"helm $v, 500: classified"
	unlike "$argv" "rollback posthog" "helm $v, 500: the release it could not change is not rolled back"
	fault ctx-$v $v '{"ready_after": "200ms"}' nocontext
	is "$rc" 8 "helm $v, a context missing from the kubeconfig: exit 8"
	like "$err" "luster unreachable: context \"missing\" does not exist" "helm $v, missing context: helm's words"
	for n in f403-$v f401-$v f500-$v ctx-$v; do
		case $(cat "$W/$n.argv") in *"rollback posthog"*|*"upgrade --install"*) r=1 ;; *) r=0 ;; esac
		ok $r "helm $v, $n: neither upgrade nor rollback ran"
	done
	is "$(writes F)" "" "helm $v: nothing was written while the faults were on"
done
scenario F '{"ready_after": "200ms"}'
is "$(h 4 F history posthog -n posthog 2>&1 | grep -c '^[0-9]')" "$revs" \
	"the faults left the release's history as it was"

# ---- B's results: timeouts and Ctrl-C ---------------------------------------
wait $bg_b
get nr4
is "$rc" 9 "helm 4: --wait timing out exits 9"
like "$err" "timed out; last waiting for: waiting for resource namespace=nr4 name=posthog-web kind=Deployment" \
	"helm 4: the message says what helm was waiting for"
like "$err" "Error: resource Deployment/nr4/posthog-web not ready. status: InProgress" "helm 4: helm's line is quoted"
get nr3
is "$rc" 9 "helm 3: --wait timing out exits 9"
like "$err" "Error: context deadline exceeded" "helm 3: helm's line is quoted"
like "$err" "last waiting for: Deployment is not ready: nr3/posthog-web" "helm 3: ... and what it waited for"
for v in 4 3; do
	get int$v
	is "$rc" 8 "helm $v, Ctrl-C while helm waits: the deploy fails (exit 8, not 9 or 11)"
	like "$err" "Release posthog has been cancelled." "helm $v, Ctrl-C: helm got the SIGINT"
	matches "$err" "deploy interrupted after [0-9]+ s: helm cancelled the upgrade while it waited for the resources and records the revision it started as failed; nothing was rolled back" \
		"helm $v, Ctrl-C: the message says what state the release is in"
	unlike "$err" "rolled back to" "helm $v, Ctrl-C: no rollback despite rollback.on_failure"
	like "$(tail -n 1 "$W/state-int$v/journal.jsonl" 2>/dev/null)" '"outcome":"interrupted"' \
		"helm $v, Ctrl-C: the journal records the run as interrupted"
	matches "$(h $v B history posthog -n int$v 2>&1 | grep '^1 ')" 'failed.*Release "posthog" failed: context canceled' \
		"helm $v, Ctrl-C: real helm history shows the revision failed"
done

# ---- C's results: the migrate Job fails --------------------------------------
wait $bg_c
get jf4
is "$rc" 8 "helm 4: a failed migrate Job exits 8"
like "$err" "a Job (the database migration) failed" "helm 4: classified as a Job failure"
matches "$err" "Error: resource Job/jf4/posthog-migrate-[0-9-]* not ready. status: Failed, message: Job Failed. failed: 7/1" \
	"helm 4: the Job is named"
get jf3
is "$rc" 8 "helm 3: a failed migrate Job exits 8"
like "$err" "a Job (the database migration) failed" "helm 3: classified as a Job failure"
like "$err" "Error: job is failed: jf3/posthog-migrate-" "helm 3: the Job is named"
done_testing

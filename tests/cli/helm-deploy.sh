#!/bin/sh
# phdeploy deploy/status/rollback through the helm plugin with the REAL helm 4
# and helm 3 against tests/bin/kube-api, the Kubernetes API stand-in, on the
# real chart and examples/values.yaml: flags, redaction of --debug, the
# failure classes from what real helm prints (wait timeout, failed migrate
# Job, pending release, another operation in progress, API faults), the
# pending-release check and its recovery, rollback on failure, Ctrl-C.
#
# Independent chains run at once, each on its own stand-in, so the slow
# cases (helm's timeouts) overlap: A (helm 4 install, status, redaction,
# rollback), A2 (--output json), A3 (helm 3 install), B (posthog-web never
# ready: timeouts), I (Ctrl-C), C (the migrate Job fails), P (a pending upgrade,
# helm 4 recovery, another operation in progress), R (helm 3 recovery), R2
# (the stuck record deleted), Q (a pending install), F (rollback on
# failure), F4 and F3 (API faults).  A chain's results are replayed in a
# fixed order once it ends.
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
. "$top_srcdir/tests/tap/kube.sh"
trap 'ka_stop_all; rm -rf "$W"' EXIT
# the helm plugin alone: the kube plugin (Secrets) has its own tests, so the
# Secrets examples/values.yaml names are created here with the real kubectl
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
HELM_CACHE_HOME=$W/helm/cache HELM_CONFIG_HOME=$W/helm/config HELM_DATA_HOME=$W/helm/data
KUBECACHEDIR=$W/kubecache TMPDIR=$W/tmp PHDEPLOY_KUBECTL=$T/kubectl
export PHDEPLOY_PLUGIN_PATH HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR TMPDIR
export PHDEPLOY_KUBECTL
mkdir -p "$TMPDIR"
unset PHDEPLOY_HELM KUBECONFIG HELM_DRIVER

# helm4/helm3 as phdeploy runs them: the real binary, its argv recorded in
# $HELM_ARGV; with $HELM_GATE set, an upgrade waits for that file to exist
# (so the test can start another helm operation between the check and it);
# with $HELM_NO_ROLLBACK set, a rollback fails before it touches anything,
# as a helm that cannot write its record would
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
if [ "\$1" = rollback ] && [ -n "\${HELM_NO_ROLLBACK:-}" ]; then
	echo "Error: rollback refused by the test's helm wrapper" >&2
	exit 1
fi
exec "$T/helm$v" "\$@"
EOF
	chmod +x "$W/bin/helm$v"
done

ready='{"ready_after": "200ms"}'
web_never='{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}'
ka_start A "$ready" A2 "$ready" A3 "$ready" B "$web_never" I "$web_never" \
	C '{"ready_after": "200ms", "job_fails": ["posthog-migrate-*"]}' \
	P "$ready" R "$ready" R2 "$ready" Q "$ready" F "$ready" F4 "$ready" F3 "$ready"

h() { _v=$1 _s=$2; shift 2; KUBECONFIG=$W/$_s/kubeconfig "$T/helm$_v" "$@"; }
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
# the cases that are not about the chart's rendering skip its second render
# (helm template; helm-render.sh covers it)
quick='deploy --skip preflight,verify,render'
# matches TEXT ERE DESC
matches() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then _tap_result 0 "$3"
	else _tap_result 1 "$3"; diag "does not match '$2':" "$1"; fi
}
# rev N HELM SERVER NAMESPACE: revision N's line of real helm history
rev() { h "$2" "$3" history posthog -n "$4" 2>&1 | grep "^$1 "; }
# waiting FILE: helm (--debug) names the resource it waits for
waiting() { grep -Eq 'waiting for resource .*posthog-web|is not ready: [a-z0-9]*/posthog-web' "$1"; }
# stick SERVER HELM CONFIG NAMESPACE: a deploy whose helm is SIGKILLed as soon
# as it has written its pending-* record, before it applied anything (every
# request is slowed meanwhile so the chart's ~90 objects take seconds)
stick() {
	scenario "$1" '{"ready_after": "200ms", "slow": "50ms"}'
	: > "$W/$1/requests.log"
	KUBECONFIG=$W/$1/kubeconfig PHDEPLOY_STATE_DIR=$W/state-stick-$1 \
		"$PHDEPLOY" --helm "$T/helm$2" -c "$W/$3.yaml" $quick > /dev/null 2>&1 &
	_pk=$!
	wait_until 300 grep -q "^POST /api/v1/namespaces/$4/secrets .* 201$" "$W/$1/requests.log" ||
		diag "stick $1: helm wrote no release record"
	kill -KILL $(pgrep -P $_pk) 2> /dev/null
	wait $_pk
	scenario "$1" "$ready"
}

# chain NAME: runs chain_NAME in the background; its results are written to
# $W/NAME.tap ("R" STATUS DESC, or a diag line) and replayed by collect.
# Its stand-in stops when it ends: an idle one still runs its controllers.
chain() {
	(
		_tap_result() { printf 'R\t%s\t%s\n' "$1" "$2"; }
		_t0=$(date +%s)
		"chain_$1"
		"$KA" stop "$W/$1" > /dev/null 2>&1
		echo "# chain $1 took $(($(date +%s) - _t0)) s"
		echo "END"
	) > "$W/$1.tap" 2> "$W/$1.stderr" &
	eval "pid_$1=\$!"
}
collect() {
	eval "wait \$pid_$1"
	while IFS= read -r _l; do
		case $_l in
		R"	"*) _l=${_l#R	}; _tap_result "${_l%%	*}" "${_l#*	}" ;;
		END) ;;
		*) printf '%s\n' "$_l" ;;
		esac
	done < "$W/$1.tap"
	ok "$(tail -n 1 "$W/$1.tap" | grep -qx END; echo $?)" "chain $1 ran to its end"
	[ -s "$W/$1.stderr" ] && diag "chain $1 stderr:" "$(tail -n 5 "$W/$1.stderr")"
}

# configs more than one chain reads, written before any starts
config base posthog
config pw0 posthog "helm: { wait: false, wait_for_jobs: false }"
config stuck posthog "rollback: { on_failure: true }"
config recover posthog "helm: { recover_pending: true, timeout: 2m }"
config fault posthog "rollback: { on_failure: true }"
config pw posthog "values: [\"$values\", \"$pwfile\"]"
sed -i "4d" "$W/pw.yaml" # the second values: line replaces the first
config nocontext posthog "rollback: { on_failure: true }" "kube: { context: missing }"
sed -i '5d' "$W/nocontext.yaml" # the second kube: line replaces the first

# ---- A: helm 4, a fresh install, status, upgrades, rollback -----------------
chain_A() {
	secrets A posthog
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

	run s4 A 4 base -o json status
	is "$rc" 0 "status of a real release succeeds"
	like "$out" '"revision":1' "status: revision"
	like "$out" '"state":"deployed"' "status: state"
	like "$out" '"chart_version":"30.46.0"' "status: chart version"
	like "$out" '"app_version":"1.43.0"' "status: app version"
	last=$(h 4 A status posthog -n posthog -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["last_deployed"])')
	like "$out" "\"last_deployed\":\"$last\"" "status: last deployed, as helm status reports it"
	unlike "$out$err" "not-a-secret" "status: no Secret value is shown"

	# redaction of --debug (revision 2; A2 has --output json)
	run pw-text A 4 pw $deploy
	redacted text

	run rb4 A 4 base rollback
	is "$rc" 0 "phdeploy rollback of a real release succeeds"
	like "$argv" "rollback posthog 1 --namespace posthog --wait=watcher --timeout 30m" \
		"... with helm rollback to the revision before the newest, waiting"
	matches "$(rev 3 4 A posthog)" "deployed.*Rollback to 1" \
		"real helm history: revision 3 is the rollback to 1"
	run s4b A 4 base -o json status
	like "$out" '"description":"Rollback to 1"' "status shows the rollback"
	config other elsewhere
	run none A 4 other -o json status
	like "$out" '"state":"not-installed"' "status: a missing release is not-installed"
}

# redacted MODE: a deploy with an inline password in a values file
redacted() {
	is "$rc" 0 "$1: deploy with an inline password in a values file succeeds"
	like "$out$err" "USER-SUPPLIED VALUES:" "$1: helm printed its --debug sections"
	unlike "$out$err" "$pw" "$1: the password from the values file is never printed"
	unlike "$out$err" "$pw64" "$1: ... nor its base64 from the Secret manifest"
}
chain_A2() {
	secrets A2 posthog
	run pw-json A2 4 pw --output json $deploy
	redacted json
	like "$out" '"progress"' "json: progress events while helm waits"
	matches "$out" '"progress".*"message":"waiting for resource namespace=posthog name=[a-z0-9-]+ kind=[A-Za-z]+' \
		"json: ... naming what helm waits for"
	ok "$(grep -rqs -- "$pw" "$W"/state-* && echo 1 || echo 0)" \
		"the password is not in the state dir (journal)"
}

# ---- A3: helm 3 ----------------------------------------------------------------
chain_A3() {
	secrets A3 p3
	config p3 p3
	run i3 A3 3 p3 $deploy
	is "$rc" 0 "helm 3: a fresh install of the real chart succeeds"
	[ "$rc" = 0 ] || diag "$(tail -n 30 "$W/i3.err")"
	like "$argv" "--wait --wait-for-jobs --debug" "helm 3: plain --wait with --wait-for-jobs"
	like "$argv" "--post-renderer /" "helm 3: the post-renderer is an executable path"
	unlike "$argv" "HELM_PLUGINS" "helm 3: no private plugin dir"
	like "$(h 3 A3 status posthog -n p3 2>&1)" "STATUS: deployed" "helm 3 status: deployed"
	run s3 A3 3 p3 -o json status
	like "$out" '"state":"deployed"' "helm 3: phdeploy status reads it"
}

# ---- P: a release left pending-upgrade by a helm SIGKILLed mid-upgrade -------
chain_P() {
	secrets P posthog
	run p0 P 4 pw0 $quick
	is "$rc" 0 "P: revision 1 installed"
	stick P 4 base posthog
	like "$(rev 2 4 P posthog)" "pending-upgrade" \
		"a helm upgrade SIGKILLed after it wrote its record left revision 2 pending-upgrade"
	for v in 4 3; do
		: > "$W/P/requests.log"
		run stuck$v P $v stuck $quick
		is "$rc" 8 "helm $v: the next deploy stops on the pending release (exit 8)"
		like "$err" "release posthog in namespace posthog is stuck in pending-upgrade" "helm $v: ... saying so"
		like "$err" "rollback posthog 1 --namespace posthog --wait" "helm $v: ... with the command that resolves it"
		like "$err" "--timeout 30m --debug --kube-context stand-in" "helm $v: ... in full"
		unlike "$argv" "upgrade --install" "helm $v: ... before any upgrade"
		unlike "$argv" "rollback posthog" "helm $v: rollback.on_failure does not touch it"
		is "$(writes P)" "" "helm $v: the run wrote nothing to the API server"
	done

	# helm.recover_pending: real helm 4 cannot roll revision 2 back (its
	# migrate Job never existed) but records that, so the upgrade proceeds
	run rec P 4 recover $quick
	is "$rc" 0 "recover_pending, helm 4: the stuck release is upgraded"
	[ "$rc" = 0 ] || diag "$(tail -n 20 "$W/rec.err")"
	first=$(grep -n '^rollback posthog 1 ' "$W/rec.argv" | head -n 1 | cut -d: -f1)
	second=$(grep -n '^upgrade --install' "$W/rec.argv" | cut -d: -f1)
	ok "$([ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ]; echo $?)" \
		"recover_pending: helm rollback to the last deployed revision first, then the upgrade"
	like "$err" "helm could not roll posthog back to revision 1, but recorded that (revision 3 is failed" \
		"recover_pending: the failed rollback is explained"
	matches "$(rev 3 4 P posthog)" 'failed.*Rollback "posthog" failed: original object Job with the name "posthog-migrate-' \
		"real helm history: helm's rollback failed on the migrate Job and said so"
	like "$(rev 2 4 P posthog)" "superseded" "... the stuck revision is superseded"
	matches "$(rev 4 4 P posthog)" "deployed.*Upgrade complete" "... and the upgrade is deployed"
	like "$(cat "$W/state-rec/helm/recovery.jsonl" 2>&1)" \
		'"action":"rollback-failed","stuck_revision":2,"stuck_status":"pending-upgrade","rollback_to":1,"recorded_revision":3' \
		"recover_pending: the step is recorded in STATE/helm/recovery.jsonl"

	# another operation in progress: a real helm rollback holds the release
	# between phdeploy's check and its upgrade
	scenario P "$web_never"
	rm -f "$W/gate" "$W/gate.at"
	HELM_GATE=$W/gate phd busy P 4 stuck $quick &
	busy=$!
	wait_until 300 test -f "$W/gate.at" || diag "busy: the upgrade never reached the gate"
	h 4 P rollback posthog 1 -n posthog --wait --timeout 60s > /dev/null 2>&1 &
	hold=$!
	wait_until 300 sh -c "KUBECONFIG=$W/P/kubeconfig '$T/helm4' history posthog -n posthog 2> /dev/null | grep -q pending-rollback" ||
		diag "busy: the rollback never showed pending-rollback"
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
}

# ---- R: helm 3's recovery; a rollback that records nothing ---------------------
chain_R() {
	secrets R posthog
	run r0 R 3 pw0 $quick
	is "$rc" 0 "R: revision 1 installed with helm 3"
	stick R 3 base posthog
	like "$(rev 2 3 R posthog)" "pending-upgrade" "helm 3 SIGKILLed: revision 2 pending-upgrade"
	run rec3 R 3 recover $quick
	is "$rc" 0 "recover_pending, helm 3: the stuck release is upgraded"
	[ "$rc" = 0 ] || diag "$(tail -n 20 "$W/rec3.err")"
	like "$argv" "rollback posthog 1 --namespace posthog --wait --timeout 2m" "helm 3: ... after helm rollback"
	matches "$(h 3 R history posthog -n posthog 2>&1 | tail -n 1)" "deployed.*Upgrade complete" \
		"helm 3: real helm history ends in the upgrade, deployed"
}
# a helm rollback that fails before it records anything: the stuck record
# is backed up, deleted, and the upgrade runs from revision 1
chain_R2() {
	secrets R2 posthog
	run r20 R2 3 pw0 $quick
	is "$rc" 0 "R2: revision 1 installed with helm 3"
	stick R2 3 base posthog
	like "$(rev 2 3 R2 posthog)" "pending-upgrade" "helm 3 SIGKILLed: revision 2 pending-upgrade"
	: > "$W/R2/requests.log"
	HELM_NO_ROLLBACK=1
	export HELM_NO_ROLLBACK
	run norb R2 3 recover $quick
	unset HELM_NO_ROLLBACK
	is "$rc" 0 "recover_pending, a rollback that records nothing: the release is upgraded"
	[ "$rc" = 0 ] || diag "$(tail -n 20 "$W/norb.err")"
	like "$err" "rollback refused by the test's helm wrapper" "... helm's error is quoted"
	like "$err" "recorded nothing, so phdeploy deleted the record of the stuck revision 2 (pending-upgrade), making revision 1 current again" \
		"... the deletion is explained"
	like "$(writes R2)" "DELETE /api/v1/namespaces/posthog/secrets/sh.helm.release.v1.posthog.v2 " \
		"... kubectl deleted the record"
	backup=$(ls "$W"/state-norb/helm/posthog.sh.helm.release.v1.posthog.v2.*.json 2>/dev/null)
	like "$err" "backed up in $backup (mode 0600" "... the backup is named"
	is "$(stat -c %a "$backup" 2>&1)" 600 "... it is mode 0600"
	is "$(stat -c %a "$W/state-norb/helm" 2>&1)" 700 "... in a 0700 directory"
	rel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["release"][:64])' "$backup" 2>&1)
	ok "$([ ${#rel} = 64 ]; echo $?)" "... it holds the release record"
	unlike "$out$err" "$rel" "... which is never printed"
	unlike "$(cat "$backup")" '"resourceVersion"' "... without the metadata the server sets"
	matches "$(h 3 R2 history posthog -n posthog 2>&1 | tail -n 1)" "^2 .*deployed.*Upgrade complete" \
		"real helm history: the upgrade took revision 2 again, deployed"
	journal=$(cat "$W/state-norb/helm/recovery.jsonl" 2>&1)
	like "$journal" '"action":"record-deleted","stuck_revision":2,"stuck_status":"pending-upgrade","current_revision":1' \
		"the deletion is recorded in STATE/helm/recovery.jsonl"
	# the restore command it recorded puts the record back once revision 2 is gone
	restore=$(printf '%s\n' "$journal" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["restore"])')
	like "$restore" "kubectl --context stand-in --namespace posthog create -f $backup" "... with the restore command"
	k R2 -n posthog delete secret sh.helm.release.v1.posthog.v2 > /dev/null 2>&1
	KUBECONFIG=$W/R2/kubeconfig $restore > /dev/null 2>&1 # as the operator would type it
	like "$(rev 2 3 R2 posthog)" "pending-upgrade" "... and it does: helm sees revision 2 pending-upgrade again"
}

# ---- Q: a first install left pending-install, recovered with helm uninstall -----
chain_Q() {
	secrets Q pi
	config pi pi
	stick Q 3 pi pi
	like "$(rev 1 3 Q pi)" "pending-install" "helm 3 SIGKILLed during a first install: pending-install"
	config pirec pi "helm: { recover_pending: true, timeout: 2m }"
	run pirec Q 3 pirec $quick
	is "$rc" 0 "helm 3, recover_pending: an install stuck in pending-install is uninstalled, then installed"
	like "$argv" "uninstall posthog --namespace pi --wait" "... with helm uninstall"
	matches "$(h 3 Q history posthog -n pi 2>&1 | tail -n 1)" "1 .*deployed" "... and installed afresh"
}

# ---- F, F3: a failed upgrade rolled back by real helm; API faults change nothing
# fault NAME SERVER HELM SCENARIO CONFIG
fault() {
	scenario "$2" "$4"
	: > "$W/$2/requests.log"
	run "$1" "$2" "$3" "$5" $quick
}
# faults SERVER HELM
faults() {
	_fs=$1 v=$2
	fault f403-$v $_fs $v '{"auth": "403"}' fault
	is "$rc" 8 "helm $v, 403: the deploy fails (exit 8)"
	like "$err" "deploy: reading the release's history before the upgrade (helm history posthog) failed (exit 1): the Kubernetes API could not be reached, refused access or failed" \
		"helm $v, 403: the message names the phase and what was being done"
	like "$err" 'secrets is forbidden: User "stand-in" cannot list resource "secrets"' "helm $v, 403: ... quoting helm"
	fault f401-$v $_fs $v '{"auth": "401"}' fault
	is "$rc" 8 "helm $v, 401: exit 8"
	like "$err" "luster unreachable: the server has asked for the client to provide credentials" \
		"helm $v, 401: helm's words"
	like "$err" "the Kubernetes API could not be reached, refused access or failed; check kube.context" \
		"helm $v, 401: classified, with what to check"
	fault f500-$v $_fs $v '{"fail_500": ["GET /api/v1/namespaces/*/secrets"]}' fault
	is "$rc" 8 "helm $v, 500 reading the release Secrets: exit 8"
	like "$err" "failed to query with labels: Internal error occurred" "helm $v, 500: helm's words"
	like "$err" "the Kubernetes API could not be reached, refused access or failed" "helm $v, 500: classified"
	fault w500-$v $_fs $v '{"fail_500": ["POST /api/v1/namespaces/*/secrets"]}' fault
	is "$rc" 8 "helm $v, 500 writing the release record: exit 8"
	like "$argv" "upgrade --install" "helm $v, 500: the upgrade ran"
	like "$err" "deploy: helm upgrade --install failed (exit 1): the Kubernetes API could not be reached" \
		"helm $v, 500: classified"
	unlike "$argv" "rollback posthog" "helm $v, 500: the release it could not change is not rolled back"
	fault ctx-$v $_fs $v "$ready" nocontext
	is "$rc" 8 "helm $v, a context missing from the kubeconfig: exit 8"
	like "$err" "luster unreachable: context \"missing\" does not exist" "helm $v, missing context: helm's words"
	for n in f403-$v f401-$v f500-$v ctx-$v; do
		case $(cat "$W/$n.argv") in *"rollback posthog"*|*"upgrade --install"*) r=1 ;; *) r=0 ;; esac
		ok $r "helm $v, $n: neither upgrade nor rollback ran"
	done
	is "$(writes $_fs)" "" "helm $v: nothing was written while the faults were on"
	scenario $_fs "$ready"
	is "$(h $v $_fs history posthog -n posthog 2>&1 | grep -c '^[0-9]')" "$revs" \
		"helm $v: the faults left the release's history as it was"
}
chain_F() {
	secrets F posthog
	run f0 F 4 base $quick
	is "$rc" 0 "F: revision 1 installed"
	# revision 2 adds a Deployment that never becomes ready; the rollback to 1
	# removes it again, so real helm can roll back and wait successfully
	scenario F '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-plugins-async"]}'
	printf 'pluginsAsync:\n  enabled: true\n' > "$W/async.yaml"
	config rb posthog "values: [\"$values\", \"$W/async.yaml\"]" "rollback: { on_failure: true }" \
		"helm: { timeout: 15s }"
	sed -i "4d" "$W/rb.yaml"
	run rb F 4 rb $quick
	is "$rc" 11 "rollback.on_failure: a failed upgrade is rolled back (exit 11)"
	like "$err" "deploy failed and was rolled back" "... saying so"
	like "$err" "Deployment/posthog/posthog-plugins-async not ready" "... quoting why the upgrade failed"
	like "$argv" "rollback posthog 1 --namespace posthog --wait=watcher --timeout 15s" \
		"... rolled back to the last deployed revision, waiting"
	like "$err" "does not undo database migrations" "the rollback caveat is logged"
	like "$(rev 2 4 F posthog)" "failed" "real helm history: revision 2 failed"
	matches "$(rev 3 4 F posthog)" "deployed.*Rollback to 1" "... revision 3 is the rollback to 1"
}
# fault_chain SERVER HELM: one revision, then the faults
fault_chain() {
	secrets "$1" posthog
	run f0-$2 "$1" "$2" pw0 $quick
	is "$rc" 0 "$1: revision 1 installed with helm $2"
	revs=1
	faults "$1" "$2"
}
chain_F4() { fault_chain F4 4; }
chain_F3() { fault_chain F3 3; }

# ---- B: posthog-web never ready; helm 4 and helm 3 time out (exit 9)
chain_B() {
	for n in nr4 nr3; do secrets B $n; done
	config nr4 nr4 "helm: { timeout: 20s }"
	config nr3 nr3 "helm: { timeout: 20s }"
	phd nr4 B 4 nr4 $quick &
	phd nr3 B 3 nr3 $quick &
	wait
	get nr4
	is "$rc" 9 "helm 4: --wait timing out exits 9"
	# the last resource helm named: posthog-web, or on a loaded machine
	# another it had not seen ready yet
	matches "$err" "timed out; last waiting for: (waiting for )?resource [^;]*nr4" \
		"helm 4: the message says what helm was waiting for"
	like "$err" "Error: resource Deployment/nr4/posthog-web not ready. status: InProgress" "helm 4: helm's line is quoted"
	get nr3
	is "$rc" 9 "helm 3: --wait timing out exits 9"
	like "$err" "Error: context deadline exceeded" "helm 3: helm's line is quoted"
	matches "$err" "last waiting for: [A-Za-z]+ is not ready: nr3/" "helm 3: ... and what it waited for"
}

# ---- I: Ctrl-C while helm waits for posthog-web, which never becomes ready
chain_I() {
	for n in int4 int3; do secrets I $n; done
	config int4 int4 "rollback: { on_failure: true }"
	config int3 int3 "rollback: { on_failure: true }"
	for v in 4 3; do
		(
			PHDEPLOY_STATE_DIR=$W/state-int$v HELM_ARGV=$W/int$v.argv \
				KUBECONFIG=$W/I/kubeconfig "$PHDEPLOY" --helm "$W/bin/helm$v" \
				-c "$W/int$v.yaml" $quick > "$W/int$v.out" 2> "$W/int$v.err" &
			pid=$!
			wait_until 300 waiting "$W/int$v.err"
			kill -INT $pid
			wait $pid
			echo $? > "$W/int$v.rc"
			: > "$W/int$v.argv"
		) &
	done
	wait
	for v in 4 3; do
		get int$v
		is "$rc" 8 "helm $v, Ctrl-C while helm waits: the deploy fails (exit 8, not 9 or 11)"
		like "$err" "Release posthog has been cancelled." "helm $v, Ctrl-C: helm got the SIGINT"
		matches "$err" "deploy interrupted after [0-9]+ s: helm cancelled the upgrade while it waited for the resources and records the revision it started as failed; nothing was rolled back" \
			"helm $v, Ctrl-C: the message says what state the release is in"
		unlike "$err" "rolled back to" "helm $v, Ctrl-C: no rollback despite rollback.on_failure"
		like "$(tail -n 1 "$W/state-int$v/journal.jsonl" 2>/dev/null)" '"outcome":"interrupted"' \
			"helm $v, Ctrl-C: the journal records the run as interrupted"
		matches "$(rev 1 $v I int$v)" 'failed.*Release "posthog" failed: context canceled' \
			"helm $v, Ctrl-C: real helm history shows the revision failed"
	done
}

# ---- C: the migrate Job fails.  Helm 3.17 retries a failed Job 30 times, 2 s
# apart, before it names it: its timeout is 70 s.
chain_C() {
	secrets C jf4 && secrets C jf3
	config jf4 jf4 "helm: { timeout: 60s }"
	config jf3 jf3 "helm: { timeout: 70s }"
	phd jf4 C 4 jf4 $quick &
	phd jf3 C 3 jf3 $quick &
	wait
	get jf4
	is "$rc" 8 "helm 4: a failed migrate Job exits 8"
	like "$err" "a Job (the database migration) failed" "helm 4: classified as a Job failure"
	matches "$err" "Error: resource Job/jf4/posthog-migrate-[0-9-]* not ready. status: Failed, message: Job Failed. failed: 7/1" \
		"helm 4: the Job is named"
	get jf3
	is "$rc" 8 "helm 3: a failed migrate Job exits 8"
	like "$err" "a Job (the database migration) failed" "helm 3: classified as a Job failure"
	like "$err" "Error: job is failed: jf3/posthog-migrate-" "helm 3: the Job is named"
}

# the longest first: C waits 70 s for helm 3
for c in C B I P R R2 A F F4 F3 Q A2 A3; do chain $c; done

# ---- config errors, positioned, before helm runs (meanwhile, in the foreground)
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

for c in A A2 A3 P R R2 Q F F4 F3 B I C; do collect $c; done
done_testing

#!/bin/sh
# phdeploy deploy/rollback/status through the helm plugin.  No Kubernetes API
# server can run here, so helm itself is replaced, and only helm, by
# tests/bin/stand-in-helm: it records its argv and replays replies in the
# shape real helm prints them (tests/data/helm/standin/<scenario>/).
. "$top_srcdir/tests/tap/tap.sh"
# Under ASan, clang 14's LeakSanitizer can crash at exit reading the dynamic
# TLS of libraries dlopen'd with the plugin (libcurl's gnutls, p11-kit,
# com_err).  Not scanning TLS can only report more leaks, never fewer.
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS

[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
tap_mktemp
standin=$top_srcdir/tests/bin/stand-in-helm
scen=$top_srcdir/tests/data/helm/standin
values=$top_srcdir/tests/data/helm/values.yaml
pwfile=$top_srcdir/tests/data/helm/values-inline-password.yaml
pw=Inl1ne-Pg-Pw-4e7b2c
pw64=$(printf '%s' "$pw" | base64)
# the helm plugin alone: the HA validators and the kube plugin have their own tests
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs
export PHDEPLOY_PLUGIN_PATH
unset PHDEPLOY_HELM STANDIN_VERSION

chart=$TAPTMP/posthog-30.46.0.tgz
: > "$chart"   # a local chart: the repo phase stays offline (helm show chart is replayed)

# config NAME VALUES-LIST [extra yaml...]: writes $TAPTMP/NAME.yaml
config() {
	name=$1 vals=$2
	shift 2
	{
		echo "release: posthog"
		echo "namespace: posthog"
		echo "chart: { name: \"$chart\", version: 30.46.0 }"
		echo "values: $vals"
		echo "kube: { version: \"1.29\" }"
		for l in "$@"; do echo "$l"; done
	} > "$TAPTMP/$name.yaml"
}
# run SCENARIO CONFIG VERB [opts...]: sets rc, out, err; argv log in $TAPTMP/log
run() {
	s=$1 c=$2; shift 2
	: > "$TAPTMP/log"
	STANDIN_DIR=$scen/$s STANDIN_LOG=$TAPTMP/log \
		"$PHDEPLOY" --helm "$standin" -c "$TAPTMP/$c.yaml" "$@" \
		> "$TAPTMP/out" 2> "$TAPTMP/err"
	rc=$?
	out=$(cat "$TAPTMP/out")
	err=$(cat "$TAPTMP/err")
	log=$(cat "$TAPTMP/log")
}

v1="[\"$values\"]"
config base "$v1"
config pw "[\"$values\", \"$pwfile\"]"
config recover "$v1" "helm: { recover_pending: true }"
config rb "$v1" "rollback: { on_failure: true }"

# ---- config errors, positioned --------------------------------------------
config badt "$v1" "helm:" "  timeout: soon"
run fresh badt deploy --skip preflight,verify
ok "$([ "$rc" -ne 0 ]; echo $?)" "a bad helm.timeout stops the run"
like "$err" "badt.yaml:7:12: helm.timeout: expected a duration" "... at its line and column"
config badk "$v1" "helm: { wiat: true }"
run fresh badk deploy --skip preflight,verify
like "$err" "badk.yaml:6:9: unknown key in helm 'wiat' (did you mean 'wait'?)" \
	"an unknown helm key is named with its position and the nearest key"
config badw "$v1" "helm: { wait: false, wait_for_jobs: true }"
run fresh badw deploy --skip preflight,verify
like "$err" "helm.wait_for_jobs: needs helm.wait: true" "wait_for_jobs without wait is refused"
unlike "$log" "upgrade" "... before helm runs"

# ---- success, Helm 4 ----------------------------------------------------
run fresh base deploy --skip preflight,verify
is "$rc" 0 "helm 4: a fresh install succeeds"
like "$log" "upgrade --install -f $values --timeout 30m --create-namespace --namespace posthog posthog $chart --wait=watcher --wait-for-jobs --debug" \
	"helm 4: the manual procedure's flags, --wait=watcher"
like "$log" "--post-renderer phdeploy-postrender" "helm 4: the PDB post-renderer is named as a plugin"
like "$log" "env HELM_PLUGINS=" "helm 4: ... found through a private HELM_PLUGINS"
unlike "$log" "--version" "a local chart gets no --version"
like "$err$out" "Happy Helming" "helm's output is streamed"

run fresh base --output json deploy --skip preflight,verify
like "$out" '"progress"' "json: progress events while helm waits"
like "$out" 'waiting for resource namespace=posthog name=posthog-web kind=Deployment' \
	"json: ... naming what helm waits for"

# ---- redaction of --debug ---------------------------------------------------
for mode in text json; do
	run fresh pw --output "$mode" deploy --skip preflight,verify
	is "$rc" 0 "$mode: deploy with an inline password in a values file succeeds"
	like "$out$err" "USER-SUPPLIED VALUES:" "$mode: helm printed its --debug sections"
	unlike "$out$err" "$pw" "$mode: the password from the values file is never printed"
	unlike "$out$err" "$pw64" "$mode: ... nor its base64 from the Secret manifest"
	unlike "$out$err" "emJabTFYQnZQ" "$mode: no Secret data of the manifest is printed"
done
ok "$(grep -rqs -- "$pw" "$PHDEPLOY_STATE_DIR" && echo 1 || echo 0)" \
	"the password is not in the state dir (journal)"

# ---- Helm 3 ------------------------------------------------------------------
STANDIN_VERSION=v3.17.2+gcc0bbbd
export STANDIN_VERSION
run ok3 base deploy --skip preflight,verify
is "$rc" 0 "helm 3: an upgrade succeeds"
like "$log" "--wait --wait-for-jobs --debug" "helm 3: plain --wait with --wait-for-jobs"
like "$log" "--post-renderer /" "helm 3: the post-renderer is an executable path"
unlike "$log" "HELM_PLUGINS" "helm 3: no private plugin dir"
run jobfail3 base deploy --skip preflight,verify
is "$rc" 8 "helm 3: a failed migrate Job fails the deploy (exit 8)"
like "$err" "a Job (the database migration) failed" "helm 3: classified as a Job failure"
like "$err" "job is failed: posthog/posthog-migrate-2024-02-13-10-02-18" "helm 3: helm's line is quoted"
run jobfail3 rb deploy --skip preflight,verify
is "$rc" 11 "rollback.on_failure: the failed deploy is rolled back (exit 11)"
like "$log" "rollback posthog 2 --namespace posthog --wait --timeout 30m" \
	"rollback goes to the last deployed revision, waiting"
like "$err" "does not undo database migrations" "the rollback caveat is logged"
unset STANDIN_VERSION

# ---- failure classes, Helm 4 ---------------------------------------------------
run timeout base deploy --skip preflight,verify
is "$rc" 9 "helm 4: a timeout exits 9"
like "$err" "context deadline exceeded" "timeout: helm's line is quoted"
like "$err" "last waiting for: waiting for resource namespace=posthog name=chi-posthog-posthog-0-0" \
	"timeout: the message says what helm was waiting for"
run jobfail4 base deploy --skip preflight,verify
is "$rc" 8 "helm 4: a failed Job exits 8"
like "$err" "Job Failed. failed: 1/1" "helm 4: the Job line is quoted"
like "$err" "a Job (the database migration) failed" "helm 4: classified as a Job failure"
run render base deploy --skip preflight,verify
is "$rc" 8 "a chart that does not render fails the deploy"
like "$err" "did not render or validate" "render errors are classified"
like "$err" "INVALID VALUES" "... with helm's words"
run cluster base deploy --skip preflight,verify
is "$rc" 8 "an unreachable cluster fails the deploy"
like "$err" "cluster could not be reached" "cluster errors are classified"
like "$err" "connect: connection refused" "... quoting helm"
unlike "$log" "upgrade" "nothing is upgraded when the cluster cannot be read"

# ---- stuck releases ----------------------------------------------------------------
run stuck base deploy --skip preflight,verify
is "$rc" 8 "a release stuck in pending-upgrade stops the deploy"
like "$err" "stuck in pending-upgrade" "... saying so"
like "$err" "helm rollback posthog 3 --namespace posthog" "... with the command that resolves it"
unlike "$log" "upgrade --install" "... before any upgrade"
config stuckrb "$v1" "rollback: { on_failure: true }"
run stuck stuckrb deploy --skip preflight,verify
is "$rc" 8 "rollback.on_failure does not touch a pending release"
unlike "$log" "rollback posthog" "... no helm rollback runs"
case $err in *"ok rollback"*|*"FAILED rollback"*) r=1 ;; *) r=0 ;; esac
ok $r "... and no rollback phase runs for a run refused before the upgrade"
run stuck recover deploy --skip preflight,verify
is "$rc" 0 "recover_pending: the stuck release is rolled back, then upgraded"
first=$(grep -n '^rollback posthog 3' "$TAPTMP/log" | cut -d: -f1)
second=$(grep -n '^upgrade --install' "$TAPTMP/log" | cut -d: -f1)
ok "$([ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ]; echo $?)" \
	"recover_pending: rollback before upgrade"
run stuck-install recover deploy --skip preflight,verify
is "$rc" 0 "recover_pending: an install stuck in pending-install is uninstalled first"
like "$log" "uninstall posthog --namespace posthog --wait" "... with helm uninstall"

# ---- Ctrl-C mid-deploy --------------------------------------------------------------
: > "$TAPTMP/log"
rm -f "$TAPTMP/log.started"
STANDIN_DIR=$scen/hang STANDIN_LOG=$TAPTMP/log \
	"$PHDEPLOY" --helm "$standin" -c "$TAPTMP/base.yaml" deploy --skip preflight,verify > "$TAPTMP/out" 2> "$TAPTMP/err" &
pid=$!
i=0
while [ ! -f "$TAPTMP/log.started" ] && [ $i -lt 300 ]; do
	i=$((i + 1))
	sleep 0.1
done
ok "$([ -f "$TAPTMP/log.started" ]; echo $?)" "ctrl-c: helm upgrade is running"
kill -INT "$pid"
wait "$pid"
rc=$?
err=$(cat "$TAPTMP/err")
ok "$([ "$rc" -ne 0 ]; echo $?)" "ctrl-c: the deploy fails (exit $rc)"
like "$err" "interrupted" "ctrl-c: recorded as interrupted"
like "$err" "pending" "ctrl-c: the message says the release may be left pending"
like "$(tail -1 "$PHDEPLOY_STATE_DIR/journal.jsonl" 2>/dev/null)" '"outcome":"interrupted"' \
	"ctrl-c: the journal records the run as interrupted"
hpid=$(cat "$TAPTMP/log.started" 2>/dev/null)
i=0
while [ -n "$hpid" ] && kill -0 "$hpid" 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
ok "$([ -n "$hpid" ] && ! kill -0 "$hpid" 2>/dev/null; echo $?)" "ctrl-c: helm was stopped"

# ---- status ---------------------------------------------------------------------------
run status base status
is "$rc" 0 "status succeeds"
like "$out" '"revision":2' "status: revision"
like "$out" '"state":"deployed"' "status: state"
like "$out" '"chart_version":"30.46.0"' "status: chart version"
like "$out" '"app_version":"1.43.0"' "status: app version"
like "$out" '"last_deployed":"2024-02-12T14:20:03.220871544Z"' "status: last deployed"
unlike "$out$err" "Status-Config-Pw-77" "status: the release's values are never shown"
run fresh base status
like "$out" '"state":"not-installed"' "status: a missing release is not-installed"

done_testing

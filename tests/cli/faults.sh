#!/bin/sh
# Faults: what a signal, a dead run or a hostile file does to phdeploy.
# Each case says what was interrupted and checks the exit status, the
# journal line, the lock (a second run is not refused), the processes left
# (pgrep for a marker unique to the case) and, where a cluster is involved,
# what reached it.  Boundaries are reached with hooks that leave a marker
# file and block; the test polls for the marker with a deadline.
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
cd "$TAPTMP" || exit 1
P=$PHDEPLOY
export PHDEPLOY_STATE_DIR="$TAPTMP/state"
# the core alone, unless a case loads a plugin
all_plugins=$PHDEPLOY_PLUGIN_PATH
PHDEPLOY_PLUGIN_PATH=
export PHDEPLOY_PLUGIN_PATH
# what a failing case leaves behind must not hold the TAP pipe open: each
# background run writes to files, and whatever matches this test's temp
# dir or markers at the end is ended by pid
cleanup() {
	for p in $(pgrep -f -- "$TAPTMP/hang.yaml|sleep 7[0-9]$$"); do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TAPTMP"
}
trap cleanup EXIT

# wait_for FILE [SECONDS]: poll for FILE; status 1 at the deadline
wait_for() {
	_n=0; _max=$(( ${2:-20} * 20 ))
	while [ ! -e "$1" ] && [ $_n -lt $_max ]; do _n=$((_n + 1)); sleep 0.05; done
	[ -e "$1" ]
}
# gone PATTERN [SECONDS]: poll until no process matches
gone() {
	_n=0; _max=$(( ${2:-10} * 20 ))
	while pgrep -f -- "$1" >/dev/null && [ $_n -lt $_max ]; do _n=$((_n + 1)); sleep 0.05; done
	! pgrep -f -- "$1" >/dev/null
}
last_journal() { tail -n 1 "$PHDEPLOY_STATE_DIR/journal.jsonl" 2>/dev/null; }
quick() { printf 'release: posthog\nnamespace: posthog\n' > quick.yaml; }
quick

# ---- secrets in children's environments --------------------------------
SECRET_VALUE='envLeak-Qz83+x/y=AB'
export PHD_FAULT_SECRET="$SECRET_VALUE"
cat > envleak.yaml <<Y
release: posthog
namespace: posthog
secrets:
  - {provider: env, name: posthog-redis, keys: {redis-password: PHD_FAULT_SECRET}}
hooks:
  validate:
    pre:
      - run: [sh, -c, 'env > $TAPTMP/hook.env; echo "pw=\$(cat $TAPTMP/pw)"']
Y
printf '%s' "$SECRET_VALUE" > pw
env_plugin=$(printf '%s\n' "$all_plugins" | tr : '\n' | grep '/secret-env/' | head -n 1)
PHDEPLOY_PLUGIN_PATH=$env_plugin $P -c envleak.yaml -v validate >out 2>err; r=$?
is "$r" 0 "validate with an env secret and a hook runs"
ok "$([ -s hook.env ]; echo $?)" "the hook saw an environment"
ok "$(! grep -qF -- "$SECRET_VALUE" hook.env; echo $?)" \
	"an env provider's value is not in a hook's environment before the secrets phase"
ok "$(! grep -q '^PHD_FAULT_SECRET=' hook.env; echo $?)" "... nor its variable"
ok "$(! grep -qF -- "$SECRET_VALUE" out err; echo $?)" "... and what the hook prints is masked"

# render: helm version/show/template (and what helm starts: the
# post-renderer) run before the secrets phase too
helm_plugin=$(printf '%s\n' "$all_plugins" | tr : '\n' | grep '/plugins/helm/' | head -n 1)
if [ -n "$helm_plugin" ] && [ -n "$env_plugin" ] && [ -x "${PHD_TOOLS:-}/helm4" ]; then
	# the real helm 4, its argv and environment recorded (record_calls)
	record_calls "$TAPTMP/rec" helm4
	mkdir -p tiny/templates
	printf 'apiVersion: v2\nname: tiny\nversion: 1.0.0\n' > tiny/Chart.yaml
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tiny}\ndata: {a: b}\n' \
		> tiny/templates/cm.yaml
	cat > render.yaml <<Y
release: posthog
namespace: posthog
chart: { name: "$TAPTMP/tiny" }
secrets:
  - {provider: env, name: posthog-redis, keys: {redis-password: PHD_FAULT_SECRET}}
Y
	HELM_CONFIG_HOME=$TAPTMP/hc HELM_CACHE_HOME=$TAPTMP/hc HELM_DATA_HOME=$TAPTMP/hc \
	PHDEPLOY_PLUGIN_PATH=$env_plugin:$helm_plugin $P --helm "$TAPTMP/rec/helm4" -c render.yaml \
		render >out 2>err
	cat rec/env/* > helm.env 2>/dev/null
	ok "$(grep -q template rec/argv 2>/dev/null; echo $?)" \
		"render ran the real helm template (with an env secret configured)"
	ok "$(! grep -qF -- "$SECRET_VALUE" helm.env; echo $?)" \
		"an env provider's value is not in helm's environment at render"
else
	skip 2 "the helm or secret-env plugin is not built, or no helm4 in PHD_TOOLS"
fi
unset PHD_FAULT_SECRET

# ---- a signal between hooks --------------------------------------------
{
	printf 'release: posthog\nnamespace: posthog\nhooks:\n  secrets:\n    post:\n'
	# the marker first: the run forwards the signal to this hook's group,
	# which may end sh before a command after the kill runs
	printf "      - run: [sh, -c, 'touch %s/stop-sent; kill -TERM \$PPID']\n" "$TAPTMP"
	i=0; while [ $i -lt 40 ]; do
		printf "      - run: [sh, -c, 'echo x >> %s/after']\n" "$TAPTMP"; i=$((i + 1))
	done
} > posthooks.yaml
$P -c posthooks.yaml secrets 2>err; r=$?
ok "$([ -e stop-sent ]; echo $?)" "SIGTERM sent from the first of 41 post hooks"
ok "$([ "$r" -ne 0 ]; echo $?)" "the run does not end ok (exit $r)"
ran=$(cat after 2>/dev/null | wc -l)
ok "$([ "$ran" -le 1 ]; echo $?)" "the post hooks after the signal are not run ($ran ran)"
like "$(last_journal)" '"outcome":"interrupted"' "the journal records the interruption"
like "$(cat err)" "interrupted" "the message says interrupted"
$P -c quick.yaml secrets 2>err; is $? 0 "the lock is free after the interrupted run"

# ---- hostile files as input and as the journal --------------------------
mkfifo values-fifo.yaml
printf 'release: posthog\nnamespace: posthog\nvalues: [values-fifo.yaml]\n' > fifo.yaml
start=$(date +%s)
timeout 10 $P -c fifo.yaml validate 2>err; r=$?
is "$r" 3 "a FIFO as the values file is refused at validate (exit 3), not waited on"
like "$(cat err)" "values-fifo.yaml is a FIFO, not a regular file" "the message says what it is"
timeout 10 $P -c /dev/null validate 2>err; r=$?
is "$r" 3 "a character device as the config is refused (exit 3)"
like "$(cat err)" "is a character device, not a regular file" "... and named"

mkdir -p jstate
mkfifo jstate/journal.jsonl
PHDEPLOY_STATE_DIR=$TAPTMP/jstate timeout 10 $P -c quick.yaml secrets 2>err; r=$?
ok "$([ "$r" -ne 0 ] && [ "$r" -ne 124 ]; echo $?)" \
	"a FIFO as the journal refuses the run before it starts (exit $r, not a hang)"
like "$(cat err)" "journal.jsonl is a FIFO, not a regular file" "the message names the journal"
rm -f jstate/journal.jsonl; mkdir jstate/journal.jsonl
PHDEPLOY_STATE_DIR=$TAPTMP/jstate $P -c quick.yaml secrets 2>err; r=$?
ok "$([ "$r" -ne 0 ]; echo $?)" "a directory as the journal refuses the run (exit $r)"
like "$(cat err)" "journal.jsonl is a directory" "... and says so"

TMPDIR=$TAPTMP/no-such-tmp $P -c quick.yaml validate 2>err; r=$?
ok "$([ "$r" -ne 0 ]; echo $?)" "a TMPDIR that does not exist stops the run at its start"
like "$(cat err)" "TMPDIR=$TAPTMP/no-such-tmp" "the message names TMPDIR"

# ---- the state dir's disk is full -----------------------------------------
# a 64 KiB tmpfs filled up where mount works (root), else a file size limit
# of 0 (ulimit -f): either way the lock holder and the journal cannot be
# written, and the run must say so and end cleanly, not die or hang
mkdir -p full
full_how=
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
	full_how=tmpfs
	trap 'umount "$TAPTMP/full" 2>/dev/null; cleanup' EXIT
	dd if=/dev/zero of=full/fill bs=4k 2>/dev/null
	PHDEPLOY_STATE_DIR=$TAPTMP/full $P -c quick.yaml secrets >out 2>err; r=$?
	nospace="No space left on device"
else
	full_how="ulimit -f 0"
	(ulimit -f 0; PHDEPLOY_STATE_DIR=$TAPTMP/full exec $P -c quick.yaml secrets) >out 2>err; r=$?
	nospace="File too large"
fi
diag "disk full by $full_how"
is "$r" 0 "disk full for the state dir ($full_how): the run itself ends ok"
like "$(cat err)" "journal: write failed: $nospace" "... and warns that it was not recorded"
like "$(cat err)" "cannot record the holder" "... and that the lock holder is not written"
ok "$(flock -n -E 99 full/locks/posthog.posthog.lock true 2>/dev/null; echo $?)" \
	"... the lock is released"
[ "$full_how" != tmpfs ] || umount full

# ---- children end with their run ----------------------------------------
cat > bg.yaml <<Y
release: posthog
namespace: posthog
hooks:
  secrets:
    pre:
      - run: [sh, -c, 'sleep 71$$ & echo started']
Y
$P -c bg.yaml secrets 2>err; r=$?
is "$r" 0 "a hook that leaves a background job ends"
ok "$(gone "sleep 71$$" 5; echo $?)" "its background job ends with it (process group)"

cat > slowhook.yaml <<Y
release: posthog
namespace: posthog
hooks:
  secrets:
    pre:
      - run: [sh, -c, 'sleep 72$$ & touch $TAPTMP/slow-started; exec sleep 73$$']
Y
$P -c slowhook.yaml secrets >out 2>err &
pid=$!
wait_for slow-started; ok $? "a run is inside its secrets.pre hook"
kill -KILL $pid; wait $pid 2>/dev/null
ok "$(pgrep -f "sleep 73$$" >/dev/null; echo $?)" "SIGKILL leaves the hook's group running"
$P -v -c quick.yaml secrets 2>err; r=$?
is "$r" 0 "a re-run takes the release over"
like "$(cat err)" "left \"sh\" running" "and reports the command the dead run left"
ok "$(gone "sleep 7[23]$$" 10; echo $?)" "and ends its whole process group"
ok "$([ ! -e "$PHDEPLOY_STATE_DIR/locks/posthog.posthog.child" ]; echo $?)" \
	"no child is recorded after the runs"

# ---- a forked check does not keep the lock ------------------------------
if [ -z "${PHD_TEST_PLUGINS:-}" ] || [ ! -f "$PHD_TEST_PLUGINS/good.so" ]; then
	skip 4 "tests/plugins/good.so not built"
else
	cat > hang.yaml <<Y
release: posthog
namespace: posthog
plugins:
  load: [$PHD_TEST_PLUGINS/good.so]
  config: {good: {check: hang}}
checks:
  good: {timeout: 120s}
hooks:
  preflight:
    pre:
      - run: [touch, $TAPTMP/preflight-started]
Y
	$P -c "$TAPTMP/hang.yaml" deploy >out 2>err &
	pid=$!
	wait_for preflight-started; ok $? "a deploy reaches preflight and its hanging check"
	kill -KILL $pid; wait $pid 2>/dev/null
	$P -c quick.yaml secrets 2>err; r=$?
	is "$r" 0 "after SIGKILL the release is not locked by the check (exit $r)"
	ok "$(gone "$TAPTMP/hang.yaml" 5; echo $?)" "and the check process ended with its run"
fi

# ---- a check that crashes, or is killed, while its command runs ----------
# good.so's check "exec" waits on a command in a group of its own (as a
# check running kubectl does); the check process itself then dies of a
# crash signal or of SIGKILL (the OOM killer), not the run: the run goes
# on, reports the check, and nothing the check started is left.
if [ -z "${PHD_TEST_PLUGINS:-}" ] || [ ! -f "$PHD_TEST_PLUGINS/good.so" ]; then
	skip 8 "tests/plugins/good.so not built"
else
	n=0
	for sig in SEGV:11 KILL:9; do
		num=${sig#*:}; sig=${sig%:*}
		n=$((n + 1)); mark="sleep 74$n$$"
		cat > crash$n.yaml <<Y
release: posthog
namespace: posthog
plugins:
  load: [$PHD_TEST_PLUGINS/good.so]
  config: {good: {check: exec, run: "exec $mark"}}
checks:
  good: {timeout: 120s}
Y
		$P -c "$TAPTMP/crash$n.yaml" preflight >out 2>err &
		pid=$!
		i=0
		while ! pgrep -f "$mark" >/dev/null && [ $i -lt 600 ]; do i=$((i + 1)); sleep 0.05; done
		cmd=$(pgrep -f "$mark" | head -n 1)
		check=$(ps -o ppid= -p "${cmd:-1}" | tr -d ' ')
		ok "$([ -n "$cmd" ] && [ -n "$check" ] && [ "$check" != "$pid" ]; echo $?)" \
			"SIG$sig to a check ($check) while its command ($cmd) runs"
		kill -"$sig" "$check"; wait $pid; r=$?
		is "$r" 5 "... the run goes on and fails preflight (exit 5)"
		like "$(cat err)" "the check crashed (signal $num:" \
			"... and names the crash"
		ok "$(gone "$mark" 5; echo $?)" "... and the check's command has ended with it"
	done
fi
done_testing

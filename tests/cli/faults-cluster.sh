#!/bin/sh
# Faults against a cluster: SIGINT, SIGTERM and SIGKILL at each phase
# boundary of a real deploy (the real helm 4 and kubectl, the helm, kube
# and secret-file plugins, the real chart, tests/bin/kube-api), and inside
# helm's --wait on a Deployment that never becomes ready, while
# preflight's forked checks run, and while verify reads the cluster.  Each case
# checks the exit status, the journal line, the lock, the processes left
# (pgrep for a marker unique to the case) and what reached the cluster:
# nothing before the deploy phase, no release left pending.
# A boundary is reached deterministically: a pre hook of the phase writes
# a marker and blocks; the test polls for the marker with a deadline.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS
KA=$top_srcdir/tests/bin/kube-api
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
T=$PHD_TOOLS
command -v python3 >/dev/null 2>&1 || skip_all "no python3"
command -v flock >/dev/null 2>&1 || skip_all "no flock(1) to look at the lock"
[ -x "$T/kubectl" ] && [ -x "$T/helm4" ] || skip_all "no kubectl/helm4 in $T (scripts/fetch-tools)"
[ -f "$chart" ] || skip_all "no chart fixture at $chart"

tap_mktemp
W=$TAPTMP
cleanup() {
	for p in $(pgrep -f -- "sleep 8[0-9]+$$|$W/"); do kill -KILL "$p" 2>/dev/null; done
	for d in A B C; do [ -f "$W/$d/pid" ] && "$KA" stop "$W/$d"; done
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W" || exit 1
HELM_CACHE_HOME=$W/h/cache HELM_CONFIG_HOME=$W/h/config HELM_DATA_HOME=$W/h/data
KUBECACHEDIR=$W/kubecache PHDEPLOY_STATE_DIR=$W/state
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs:$top_builddir/plugins/kube/.libs:$top_builddir/plugins/secret-file/.libs
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME KUBECACHEDIR PHDEPLOY_STATE_DIR \
	PHDEPLOY_PLUGIN_PATH
lock=$W/state/locks/posthog.posthog.lock

echo '{"ready_after": "200ms"}' > A.json
echo '{"ready_after": "200ms", "never_ready": ["Deployment/posthog-web"]}' > B.json
echo '{"ready_after": "200ms"}' > C.json
for d in A B C; do
	"$KA" start "$W/$d" --scenario "$W/$d.json" > "start-$d" 2>&1 ||
		{ echo "Bail out! kube-api start $d: $(cat "start-$d")"; exit 1; }
done
cp "$top_srcdir"/examples/*.secret.yaml "$top_srcdir/examples/values.yaml" .
chmod 600 ./*.secret.yaml

# config HOOKPHASE MARKER: a deploy config whose HOOKPHASE.pre hook marks and blocks
config() {
	cat > "$2.yaml" <<Y
release: posthog
namespace: posthog
chart: { name: "$chart", version: 30.46.0 }
values: [values.yaml]
secrets:
  - { provider: file, path: postgres.secret.yaml }
  - { provider: file, path: redis.secret.yaml }
  - { provider: file, path: posthog.secret.yaml }
Y
	[ -z "$1" ] || cat >> "$2.yaml" <<Y
hooks:
  $1:
    pre:
      - run: [sh, -c, 'touch $W/$2.marker; exec sleep 8$3$$']
        timeout: 600s
Y
}
deploy() { # SERVER CONFIG [args]: a deploy in the background, $! its pid
	_s=$1 _c=$2; shift 2
	KUBECONFIG=$W/$_s/kubeconfig "$PHDEPLOY" --helm "$T/helm4" --kubectl "$T/kubectl" \
		--kube-context stand-in -c "$W/$_c.yaml" --skip "${skip:-preflight,verify}" "$@" deploy \
		> "$W/$_c.out" 2> "$W/$_c.err" &
}
secrets() { # SERVER CONFIG: the secrets verb, in the foreground
	KUBECONFIG=$W/$1/kubeconfig "$PHDEPLOY" --kubectl "$T/kubectl" --kube-context stand-in \
		-c "$W/$2.yaml" secrets > "$W/$2.out" 2> "$W/$2.err"
}
wait_for() { # FILE [SECONDS]
	_n=0; _max=$(( ${2:-60} * 20 ))
	while [ ! -e "$1" ] && [ $_n -lt $_max ]; do _n=$((_n + 1)); sleep 0.05; done
	[ -e "$1" ]
}
gone() { # PATTERN [SECONDS]
	_n=0; _max=$(( ${2:-15} * 20 ))
	while pgrep -f -- "$1" >/dev/null && [ $_n -lt $_max ]; do _n=$((_n + 1)); sleep 0.05; done
	! pgrep -f -- "$1" >/dev/null
}
lock_free() { flock -n -E 99 "$lock" true 2>/dev/null; }
# alive PID: running (a zombie that init has not reaped yet is not)
alive() { case $(ps -o stat= -p "$1" 2>/dev/null) in ''|Z*) return 1 ;; esac; }
journal_lines() { cat "$W/state/journal.jsonl" 2>/dev/null | wc -l; }
changes() { # SERVER: requests that change something
	grep -cE '^(POST|PUT|PATCH|DELETE) ' "$W/$1/requests.log" 2>/dev/null
}
exit_for() { # SIGNAL PHASE: the exit status a signal at PHASE gives
	case $1 in KILL) echo 137 ;; *)
		case $2 in secrets) echo 4 ;; repo) echo 6 ;; render) echo 7 ;; deploy) echo 8 ;; esac ;;
	esac
}

# ---- a signal at each phase boundary: before anything reached the cluster
n=0
for phase in secrets repo render deploy; do
	for sig in INT TERM KILL; do
		n=$((n + 1)); name=b$n
		config "$phase" "$name" "$n"
		before=$(changes A); lines=$(journal_lines)
		deploy A "$name"; pid=$!
		if ! wait_for "$W/$name.marker"; then
			ok 1 "SIG$sig before $phase: the run reached $phase.pre"
			diag "$(tail -5 "$W/$name.err")"; kill -KILL $pid; wait $pid; continue
		fi
		kill -"$sig" $pid; wait $pid; r=$?
		after=$(changes A)
		is "$r" "$(exit_for $sig $phase)" "SIG$sig at the $phase boundary: exit $(exit_for $sig $phase)"
		if [ "$sig" = KILL ]; then
			is "$(journal_lines)" "$lines" "... no journal line from a killed run"
		else
			like "$(tail -n 1 "$W/state/journal.jsonl")" "\"outcome\":\"interrupted\",\"exit\":$r,\"failed_phase\":\"$phase\"" \
				"... the journal says interrupted in $phase"
		fi
		ok "$(lock_free; echo $?)" "... the lock is free"
		if [ "$sig" = KILL ]; then
			# nothing ends the children of a SIGKILLed run but the next run
			ok "$(pgrep -f "sleep 8$n$$" >/dev/null; echo $?)" "... its blocked hook is left"
			config "" quick
			secrets A quick
			ok "$(gone "sleep 8$n$$"; echo $?)" "... and the next run ends it"
		else
			ok "$(gone "sleep 8$n$$"; echo $?)" "... no process of the run is left"
		fi
		is "$after" "$before" "... nothing changed in the cluster"
	done
done

# ---- inside helm's --wait: a Deployment that never becomes ready ---------
# helm_pending: the release's newest revision state in the stand-in
release_state() { # SERVER
	KUBECONFIG=$W/$1/kubeconfig "$T/helm4" status posthog -n posthog --kube-context stand-in \
		-o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["status"])' 2>/dev/null
}
# this test's helm upgrade: its values file is in $W
helm_up="$T/helm4 upgrade .*$W/values.yaml"
for sig in INT TERM KILL; do
	name=w$sig
	config "" "$name"
	seen=$(cat "$W/B/requests.log" | wc -l)
	deploy B "$name"; pid=$!
	# helm is waiting once this run's helm reads the Deployment's status
	i=0
	while ! tail -n +"$((seen + 1))" "$W/B/requests.log" |
		grep -q '^GET /apis/apps/v1/namespaces/posthog/deployments' ||
	      ! pgrep -f "$helm_up" >/dev/null; do
		i=$((i + 1)); [ $i -lt 1200 ] || break; sleep 0.05
	done
	ok "$([ $i -lt 1200 ]; echo $?)" "SIG$sig inside helm --wait: helm is waiting"
	hpid=$(pgrep -f "$helm_up" | head -n 1)
	kill -"$sig" $pid; wait $pid; r=$?
	if [ "$sig" = KILL ]; then
		is "$r" 137 "... phdeploy killed"
		ok "$(kill -0 "$hpid" 2>/dev/null; echo $?)" "... its helm upgrade is left running"
		config "" "again$sig"
		secrets B "again$sig"
		like "$(cat "$W/again$sig.err")" "left \"helm" "... the next run reports the helm it left"
		ok "$(gone "$helm_up"; echo $?)" "... and ends it"
	else
		is "$r" 8 "... the deploy ends interrupted (exit 8)"
		like "$(tail -n 1 "$W/state/journal.jsonl")" '"outcome":"interrupted"' "... journal: interrupted"
		ok "$(gone "$helm_up"; echo $?)" "... helm has stopped"
		st=$(release_state B)
		unlike "$st" "pending" "... the release is not left pending ($st)"
	fi
	ok "$(lock_free; echo $?)" "... the lock is free"
done
# ---- a signal while preflight's forked checks run ---------------------------
# tests/plugins/good.so's check "exec" runs a command through phd_exec_run
# and waits for it, as a check running kubectl does; each case's command
# blocks (sleep 87N$$, N the case).  The signal comes once that command runs.
good=${PHD_TEST_PLUGINS:-}/good.so
if [ ! -f "$good" ]; then
	skip 24 "tests/plugins/good.so not built"
else
	n=0
	for sig in INT TERM KILL; do
		n=$((n + 1)); name=p$sig; mark="sleep 87$n$$"
		config "" "$name"
		cat >> "$name.yaml" <<Y
plugins:
  load: [$good]
  config: {good: {check: exec, run: "exec $mark"}}
checks:
  good: {timeout: 120s}
Y
		before=$(changes A); lines=$(journal_lines)
		skip=verify deploy A "$name"; pid=$!
		i=0
		while ! pgrep -f "$mark" >/dev/null && [ $i -lt 1200 ]; do i=$((i + 1)); sleep 0.05; done
		# the forked checks: children of the run with its argv
		checks=$(pgrep -P $pid -f "$W/$name.yaml" | tr '\n' ' ')
		ok "$([ $i -lt 1200 ] && [ -n "$checks" ]; echo $?)" \
			"SIG$sig while preflight's checks run: a check ($checks) waits on its command"
		kill -"$sig" $pid; wait $pid; r=$?
		if [ "$sig" = KILL ]; then
			is "$r" 137 "... phdeploy killed"
			is "$(journal_lines)" "$lines" "... no journal line from a killed run"
		else
			is "$r" 5 "... exit 5 (preflight interrupted)"
			like "$(tail -n 1 "$W/state/journal.jsonl")" \
				"\"outcome\":\"interrupted\",\"exit\":5,\"failed_phase\":\"preflight\"" \
				"... the journal says interrupted in preflight"
		fi
		ok "$(lock_free; echo $?)" "... the lock is free"
		gone "$W/$name.yaml" 5
		left=
		for c in $checks; do alive "$c" && left="$left $c"; done
		ok "$([ -z "$left" ]; echo $?)" "... every forked check has ended$left"
		ok "$(gone "$mark" 10; echo $?)" "... and so has the command a check waited on"
		is "$(changes A)" "$before" "... nothing changed in the cluster"
	done
fi

# ---- a signal while verify reads the cluster -------------------------------
# a deploy goes through to verify; verify's pre hook makes the stand-in
# answer every request 60 s late, so verify's kubectl is waiting when the
# signal comes.  The deploy itself went through: no rollback may start
# (exit 10: the state is unknown and nothing is rolled back).
for sig in INT TERM KILL; do
	name=v$sig
	config "" "$name"
	cat >> "$name.yaml" <<Y
hooks:
  verify:
    pre:
      - run: [sh, -c, 'echo "{\"ready_after\": \"200ms\", \"slow\": \"60s\"}" > $W/C.json.new && touch -d @\$((\$(date +%s) + 5)) $W/C.json.new && mv $W/C.json.new $W/C.json && touch $W/$name.marker']
Y
	lines=$(journal_lines)
	skip=preflight deploy C "$name"; pid=$!
	wait_for "$W/$name.marker" 300
	i=0
	while ! pgrep -P $pid -f "$T/kubectl" >/dev/null && [ $i -lt 600 ]; do
		i=$((i + 1)); sleep 0.05
	done
	ok "$([ $i -lt 600 ]; echo $?)" "SIG$sig while verify reads the cluster: its kubectl waits" ||
		diag "$(tail -5 "$W/$name.err")"
	kpids=$(pgrep -P $pid -f "$T/kubectl" | tr '\n' ' ')
	writes=$(changes C)
	kill -"$sig" $pid; wait $pid; r=$?
	after=$(changes C)
	if [ "$sig" = KILL ]; then
		is "$r" 137 "... phdeploy killed"
		is "$(journal_lines)" "$lines" "... no journal line from a killed run"
		ok "$(lock_free; echo $?)" "... the lock is free"
		# the next run ends what the killed run left (its kubectl)
		echo '{"ready_after": "200ms"}' > "$W/C.json.new"
		touch -d "@$(($(date +%s) + 7))" "$W/C.json.new"; mv "$W/C.json.new" "$W/C.json"
		config "" "again$name"
		secrets C "again$name"
	else
		is "$r" 10 "... exit 10 (verify interrupted: state unknown)"
		like "$(tail -n 1 "$W/state/journal.jsonl")" \
			"\"outcome\":\"interrupted\",\"exit\":10,\"failed_phase\":\"verify\"" \
			"... the journal says interrupted in verify"
		unlike "$(tail -n 1 "$W/state/journal.jsonl")" "rolled-back" "... and no rollback"
		ok "$(lock_free; echo $?)" "... the lock is free"
	fi
	gone "$W/$name.yaml" 10
	left=
	for k in $kpids; do alive "$k" && left="$left $k"; done
	ok "$([ -z "$left" ] && ! pgrep -f "$W/$name.yaml" >/dev/null; echo $?)" \
		"... no process of the run is left$left"
	is "$after" "$writes" "... nothing written to the cluster after the signal (no rollback)"
	# the stand-in answers in time again for the next case
	echo '{"ready_after": "200ms"}' > "$W/C.json.new"
	touch -d "@$(($(date +%s) + 9))" "$W/C.json.new"; mv "$W/C.json.new" "$W/C.json"
done
done_testing

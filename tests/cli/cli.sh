#!/bin/sh
# The phdeploy command: help and version, usage errors (exit 2), exit codes
# per failing phase, JSON events on stdout only, the lock (exit 12, stale
# lock taken over), the journal, a signal mid-run.
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
cd "$TAPTMP" || exit 1
# no plugin at all, not even an installed one: an empty path names no directory
PHDEPLOY_PLUGIN_PATH=
export PHDEPLOY_PLUGIN_PATH
P=$PHDEPLOY
export PHDEPLOY_STATE_DIR="$TAPTMP/state"

out=$($P --help); ok $? "--help exits 0"
like "$out" "Usage: phdeploy" "--help prints usage on stdout"
like "$out" "12 another run holds the lock" "--help lists the exit codes"
out=$($P --version); ok $? "--version exits 0"
like "$out" "phdeploy 0.3.0" "--version prints the version"
like "$out" "plugin ABI 2.1" "--version prints the plugin ABI"

$P 2>/dev/null; is $? 2 "no verb is a usage error (exit 2)"
$P frobnicate 2>err; is $? 2 "an unknown verb is a usage error"
like "$(cat err)" "unknown verb 'frobnicate'" "and says which"
like "$(cat err)" "unknown verb 'frobnicate'
Try" "with no suggestion when nothing is near"
$P plna 2>err; is $? 2 "a misspelt verb is a usage error"
like "$(cat err)" "did you mean 'plan'?" "and names the nearest verb (a swap is one edit)"
$P --kube-contxt=x plan 2>err; is $? 2 "a misspelt option is a usage error"
like "$(cat err)" "unknown option '--kube-contxt=x'; did you mean '--kube-context'?" \
	"and names the nearest option"
out=$($P help deploy); ok $? "help VERB exits 0"
like "$out" "Usage: phdeploy [OPTION]... deploy" "help VERB prints the verb's usage"
like "$out" "--yes" "with the verb's options"
like "$out" "Example:" "and an example"
is "$($P deploy --help)" "$out" "VERB --help prints the same"
$P help plna 2>err; is $? 2 "help of an unknown verb is a usage error"
like "$(cat err)" "did you mean 'plan'?" "with the suggestion"
out=$($P explain 12); ok $? "explain CODE exits 0"
like "$out" "exit status 12 (phdeploy.1):" "explain names the status and its page"
like "$out" "Another run holds the release lock. Fix: wait for it" "with the man page's meaning and fix"
out=$($P explain posthog-zookeeper); like "$out" "posthog-zookeeper (phdeploy-ha.7):" \
	"explain RULE prints the rule's entry of its plugin page"
$P explain replicsa 2>err; is $? 2 "explain of an unknown topic is a usage error"
like "$(cat err)" "did you mean 'replicas'?" "naming the nearest rule"
$P -o 2>err; is $? 2 "an option without its argument is a usage error"
like "$(cat err)" "option '-o' needs an argument" "and says so"
$P --output yaml validate 2>err; is $? 2 "a bad --output is a usage error"
$P --only nonsense validate 2>err; is $? 2 "an unknown phase in --only is a usage error"
$P --bogus validate 2>/dev/null; is $? 2 "an unknown option is a usage error"

cat > phdeploy.yaml <<'Y'
release: posthog
namespace: posthog
values: [values.yaml]
Y
printf 'cloud: aws\n' > values.yaml
$P validate 2>err; is $? 0 "validate with a good config exits 0"
$P -f missing.yaml validate 2>err; is $? 3 "a missing values file fails validate (exit 3)"
like "$(cat err)" "missing.yaml: values file not found" "and names it"
printf 'cloud: [aws\n' > broken.yaml
$P -f broken.yaml validate 2>err; is $? 3 "malformed values fail validate (exit 3)"
like "$(cat err)" "broken.yaml:2:1:" "with file:line:column"
$P -c nope.yaml validate 2>err; is $? 3 "a missing explicit config fails (exit 3)"
$P render 2>err; is $? 6 "render without the helm plugin fails in repo (exit 6)"
like "$(cat err)" "no loaded plugin handles this phase" "and says no plugin handles it"
$P preflight 2>err; is $? 5 "preflight without check plugins fails (exit 5)"
$P --only deploy deploy 2>err; is $? 6 "deploy without the helm plugin fails where the chart is resolved (exit 6)"
$P plugins >out 2>err; is $? 0 "plugins with none loaded exits 0"
like "$(cat err)" "warning: no plugins loaded" "and warns that none are loaded"
$P -o json plugins >out 2>/dev/null
like "$(cat out)" '{"event":"warning","message":"no plugins loaded' "in JSON too, as a warning event"
$P status 2>err; is $? 1 "status without the helm plugin is an internal error (exit 1)"

# JSON: stdout carries only JSON objects, one per line, each with "event"
$P --output json validate >json 2>err; is $? 0 "validate --output json exits 0"
bad=$(grep -cv '^{"event":' json); is "$bad" 0 "every stdout line is a JSON event"
like "$(cat json)" '{"event":"phase_end","phase":"validate","status":"ok","ms":' "phase ends carry phase, status, ms"
$P --output json render >json 2>err
like "$(cat json)" '"event":"phase_end","phase":"repo","status":"failed"' "a failed phase is an event"
like "$(cat json)" '"event":"run_end","phase":"repo","status":"failed"' "the run end is an event naming the failed phase"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' json; ok $? "every line parses as JSON"

# the error event carries the status the process really exits with
json_exit() { # file: the "exit" of its error event
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "error": print(e["exit"])' "$1"
}
for args in "-c nope.yaml plugins" "-c nope.yaml status" "status" "render" \
	    "-r Bad_Name validate" "-f missing.yaml validate"; do
	# shellcheck disable=SC2086
	$P -o json $args >json 2>/dev/null; r=$?
	is "$(json_exit json)" "$r" "'$args': the error event's exit is the exit status ($r)"
done

# names given as options are usage errors (exit 2), as phdeploy(1) says
$P -r 'Bad_Name' validate 2>err; is $? 2 "an invalid --release is a usage error (exit 2)"
like "$(cat err)" "release 'Bad_Name' is not a valid release name" "and says which"
$P -n 'x..y' validate 2>err; is $? 2 "an invalid --namespace is a usage error (exit 2)"
like "$(cat err)" "namespace 'x..y' is not a valid namespace" "and says which"
printf 'release: Bad_Name\n' > badname.yaml
$P -c badname.yaml validate 2>err; is $? 3 "the same name in the config fails validate (exit 3)"

# every warning of text mode is also a JSON event
cat > warned.yaml <<'Y'
release: posthog
namespace: posthog
hooks:
  validate:
    pre: [ { run: [sh, -c, 'exit 1'], on_failure: warn } ]
Y
$P -c warned.yaml validate 2>err; is $? 0 "a failing on_failure: warn hook does not stop the run"
like "$(cat err)" "phdeploy: warning: hook validate.pre" "text mode prints its warning"
$P -c warned.yaml -o json validate >json 2>/dev/null
like "$(cat json)" '{"event":"warning","message":"hook validate.pre' "JSON mode has it as a warning event"
$P -q -c warned.yaml -o json validate >json 2>/dev/null
unlike "$(cat json)" '"event":"warning"' "-q drops it in JSON as in text"
if [ -d "$top_builddir/plugins/secret-file/.libs" ]; then
	cat > short.secret.yaml <<'Y'
apiVersion: v1
kind: Secret
metadata: { name: tiny, namespace: posthog }
stringData: { password: Zq7 }
Y
	cat > short.yaml <<'Y'
release: posthog
namespace: posthog
secrets: [ { provider: file, path: short.secret.yaml } ]
Y
	PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/secret-file/.libs $P -c short.yaml -o json \
		preflight >json 2>err
	like "$(cat json)" '"event":"warning","message":"short.yaml:3:12: Secret' \
		"a secret value too short to mask is a warning event"
	like "$(cat json)" "Secret 'tiny' key 'password'" "naming the Secret and key"
	unlike "$(cat json; cat err)" "Zq7" "never the value"
else
	skip 3 "the secret-file plugin is not built"
fi

# a finding points at the value in effect: the later of two values files
if [ -d "$top_builddir/plugins/ha/.libs" ]; then
	printf 'cloud: aws\nweb:\n  replicacount: 1\n' > first.yaml
	printf '# the second file\n\nweb:\n    replicacount: 1\n' > second.yaml
	PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/ha/.libs $P -f first.yaml \
		-f second.yaml -o json validate >json 2>/dev/null
	where=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("rule") == "replicas" and e.get("values_key") == "web.replicacount":
        print("%s:%s:%s" % (e.get("file"), e.get("line"), e.get("column")))' json)
	is "$where" "second.yaml:4:19" "-o json: the replicas finding is at the second file's value"
	PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/ha/.libs $P -f second.yaml \
		-f first.yaml validate 2>err
	like "$(cat err)" "(first.yaml:3:17; set web.replicacount)" \
		"text, files swapped: the finding is at the first file's value"
else
	skip 2 "the ha plugin is not built"
fi

# --set, --set-string, --set-file and -f - are values like the files, in order
if [ -d "$top_builddir/plugins/ha/.libs" ]; then
	HA=$top_builddir/plugins/ha/.libs
	printf 'cloud: aws\nweb:\n  replicacount: 3\n' > three.yaml
	PHDEPLOY_PLUGIN_PATH=$HA $P -f three.yaml --set web.replicacount=1 validate 2>err
	is $? 3 "--set after a file overrides it (the replicas rule fails)"
	like "$(cat err)" "or more (--set web.replicacount=1; set web.replicacount)" \
		"the finding names the --set as its position"
	PHDEPLOY_PLUGIN_PATH=$HA $P --set web.replicacount=1 -f three.yaml validate 2>err
	unlike "$(cat err)" "web.replicacount is 1" "a file after the --set overrides it: order kept"
	PHDEPLOY_PLUGIN_PATH=$HA $P -f three.yaml --set-string web.replicacount=1 validate 2>err
	like "$(cat err)" "(--set-string web.replicacount=1; set web.replicacount)" \
		"--set-string is validated the same way"
	printf '1' > one.txt
	PHDEPLOY_PLUGIN_PATH=$HA $P -f three.yaml --set-file web.replicacount=one.txt -o json \
		validate >json 2>/dev/null
	like "$(cat json)" '"values_key":"web.replicacount","file":"--set-file web.replicacount=one.txt","line":0' \
		"--set-file is positioned at its option in JSON, line 0"
	printf 'cloud: aws\nweb:\n  replicacount: 1\n' | PHDEPLOY_PLUGIN_PATH=$HA $P -f - validate 2>err
	is $? 3 "-f - reads the values from standard input"
	like "$(cat err)" "(<stdin>:3:17; set web.replicacount)" "positioned as <stdin>"
else
	skip 7 "the ha plugin is not built"
fi
printf 'cloud: [aws\n' | $P -f - validate 2>err; is $? 3 "malformed values on stdin fail validate"
like "$(cat err)" "<stdin>:2:1:" "at <stdin>:line:column"
$P -f - -f - validate </dev/null 2>err; is $? 3 "stdin named twice is refused"
like "$(cat err)" "standard input can be read once only" "and says why"
$P --set 'a..b=1' validate 2>err; is $? 3 "a malformed --set fails validate (exit 3)"
like "$(cat err)" "phdeploy: --set a..b=1: an empty key" "naming the option"
$P --set 'a=1,b' validate 2>err; like "$(cat err)" "--set a=1,b: a key without '=value'" \
	"a key without a value is named"
$P --set-file 'a=nope.txt' validate 2>err; is $? 3 "a missing --set-file file fails validate"
like "$(cat err)" "--set-file a=nope.txt: cannot read nope.txt: no such file" "and names it"

# the journal: one record per run, no secrets (none here), the outcome
n=$(wc -l < state/journal.jsonl)
$P validate 2>/dev/null
m=$(wc -l < state/journal.jsonl)
is "$m" "$((n + 1))" "each run appends one journal record"
like "$(tail -n 1 state/journal.jsonl)" '"outcome":"ok","exit":0' "the record holds the outcome"

# a plan shows config hooks instead of running them (they may page someone)
cat > hooked.yaml <<'Y'
release: posthog
namespace: posthog
hooks:
  validate:
    pre: [ {run: [touch, hook-ran]} ]
Y
$P -c hooked.yaml --dry-run validate 2>err; is $? 0 "a dry run with a hook succeeds"
ok "$([ ! -e hook-ran ]; echo $?)" "a dry run does not run config hooks"
like "$(cat err)" "would run: hook validate.pre: touch hook-ran" "it shows them"
$P -c hooked.yaml validate 2>err
ok "$([ -e hook-ran ]; echo $?)" "a real run does run them"

# the lock: a second run for the same release waits for nobody: exit 12
cat > slow.yaml <<'Y'
release: posthog
namespace: posthog
hooks:
  secrets:
    pre:
      - run: [sh, -c, 'touch started; exec sleep 30']
Y
$P -c slow.yaml secrets 2>slow.err &
holder=$!
i=0; while [ ! -e started ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
ok "$([ -e started ]; echo $?)" "the first run is inside its secrets phase"
$P -c slow.yaml secrets 2>err; is $? 12 "a second run for the same release exits 12"
like "$(cat err)" "pid $holder" "and names the holder's pid"
like "$(cat err)" "started 20" "and its start time"
printf 'release: posthog\nnamespace: posthog\n' > quick.yaml
$P -c quick.yaml --dry-run secrets 2>/dev/null; r=$?
is "$r" 0 "a dry run of the same release takes no lock and is not blocked"
kill -9 $holder; wait $holder 2>/dev/null
rm -f started
cat > quick.yaml <<'Y'
release: posthog
namespace: posthog
Y
$P -v -c quick.yaml secrets 2>err; is $? 0 "a lock left by a killed run is taken over"
like "$(cat err)" "taking over a stale lock" "and the takeover is said"

# a signal mid-run: the hook child gets it, the run stops and is recorded
$P -c slow.yaml secrets 2>err &
pid=$!
i=0; while [ ! -e started ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
kill -TERM $pid; wait $pid; r=$?
is "$r" 4 "SIGTERM mid-phase stops the run in that phase (exit 4)"
like "$(tail -n 1 state/journal.jsonl)" '"outcome":"interrupted"' "the journal records the interruption"
done_testing

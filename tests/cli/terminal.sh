#!/bin/sh
# Terminal behaviour under a real pseudo-terminal (script(1)): control
# sequences only for a terminal that takes them, deploy's target and its
# question on a terminal, no question in CI (no TTY).
. "$top_srcdir/tests/tap/tap.sh"
command -v script >/dev/null 2>&1 || { echo "1..0 # SKIP script(1) is not installed"; exit 0; }
tap_mktemp
cd "$TAPTMP" || exit 1
PHDEPLOY_PLUGIN_PATH=
export PHDEPLOY_PLUGIN_PATH
P=$PHDEPLOY
printf 'release: posthog\nnamespace: posthog\n' > phdeploy.yaml
printf 'cloud: aws\n' > values.yaml
esc=$(printf '\033')

# pty CMD: run CMD on a pseudo-terminal, its output (both streams) in pty.out
pty() {
	script -qec "$1" /dev/null > pty.out 2>&1 </dev/null
}
pty "TERM=xterm NO_COLOR= $P -f values.yaml validate"; is $? 0 "validate on a terminal exits 0"
case $(cat pty.out) in *"$esc["*) r=0 ;; *) r=1 ;; esac
ok $r "a terminal that takes control sequences gets the live progress line"
pty "TERM=dumb $P -f values.yaml validate"
case $(cat pty.out) in *"$esc"*) r=1 ;; *) r=0 ;; esac
ok $r "TERM=dumb gets no control sequence"
like "$(cat pty.out)" "ok validate" "and plain ok lines"
pty "env -u TERM $P -f values.yaml validate"
case $(cat pty.out) in *"$esc"*) r=1 ;; *) r=0 ;; esac
ok $r "no TERM at all gets none either"
$P -f values.yaml validate 2>err
case $(cat err) in *"$esc"*) r=1 ;; *) r=0 ;; esac
ok $r "a pipe gets none"

# deploy on a terminal: the target, then the question; no answer, no change
printf 'n\n' | script -qec "TERM=dumb $P -f values.yaml deploy" /dev/null > pty.out 2>&1
is $? 13 "a deploy not confirmed at the prompt exits 13"
like "$(cat pty.out)" "phdeploy: deploy target" "the target comes first"
like "$(cat pty.out)" "namespace      posthog" "naming the namespace"
like "$(cat pty.out)" "release        posthog" "and the release"
like "$(cat pty.out)" "Proceed with deploy? [y/N]" "then the question"
like "$(cat pty.out)" "not confirmed: nothing was changed" "a no says nothing changed"
unlike "$(cat pty.out)" "repo" "and no phase ran"
pty "TERM=dumb $P -f values.yaml --yes deploy"
unlike "$(cat pty.out)" "Proceed with" "--yes does not ask"
like "$(cat pty.out)" "FAILED preflight" "and the run goes on (no check plugin here: preflight fails)"
pty "TERM=dumb $P -f values.yaml --dry-run deploy"
unlike "$(cat pty.out)" "Proceed with" "a dry run does not ask"
# CI: no terminal, the target in the log, no question
$P -f values.yaml deploy </dev/null >out 2>err; is $? 5 "without a TTY deploy proceeds (to preflight, exit 5)"
like "$(cat err)" "phdeploy: deploy target" "the target is still printed"
unlike "$(cat err)" "Proceed with" "without a question"
$P -f values.yaml -o json deploy </dev/null >json 2>/dev/null
like "$(cat json)" '{"event":"target","verb":"deploy"' "-o json has it as a target event"
done_testing

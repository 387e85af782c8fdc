#!/bin/sh
# scripts/quickstart, the README's first command, as it runs on a fresh
# machine once built: the whole deploy of the HA example against its local
# stand-ins (PostgreSQL, redis-server, librdkafka's mock cluster and the
# Kubernetes API stand-in) with the real chart, helm 4 and kubectl, then
# `phdeploy status`; everything it started is stopped.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS
[ -x "$top_builddir/src/phdeploy" ] && [ -x "$top_builddir/tests/bin/mock-kafka" ] ||
	skip_all "phdeploy and tests/bin/mock-kafka not built"
[ -x "$PHD_TOOLS/kubectl" ] && [ -x "$PHD_TOOLS/helm4" ] || skip_all "no kubectl/helm4 in $PHD_TOOLS"
[ -f "$PHD_FIXTURES/posthog-30.46.0.tgz" ] || skip_all "no chart fixture in $PHD_FIXTURES"
command -v python3 > /dev/null 2>&1 || skip_all "no python3 for tests/bin/kube-api"
command -v redis-server > /dev/null 2>&1 || skip_all "no redis-server"
ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || skip_all "no PostgreSQL server"
tap_mktemp
# its work dir goes in here; PostgreSQL runs as nobody when root and must reach it
chmod 0711 "$TAPTMP"
plan 9

PHD_SKIP_DEPS=1 PHD_BUILD_DIR=$top_builddir TMPDIR=$TAPTMP \
	"$top_srcdir/scripts/quickstart" > "$TAPTMP/out" 2> "$TAPTMP/err"
rc=$?
err=$(cat "$TAPTMP/err")
is "$rc" 0 "scripts/quickstart exits 0" || diag "$(grep -v '^  warn' "$TAPTMP/err" | tail -n 20)"
like "$err" "a local Kubernetes API stand-in (tests/bin/kube-api): no pods run" \
	"it says the cluster is a local API stand-in where no pods run"
like "$err" "ok preflight" "the dependency checks pass against the local stand-ins"
like "$err" "ok deploy" "the deploy ran"
like "$err" "ok verify" "verify passed"
# status prints a readable table (-o json gives the JSON)
like "$(cat "$TAPTMP/out")" 'state               deployed' "phdeploy status: deployed"
like "$(cat "$TAPTMP/out")" 'revision            1' "... revision 1"
# every server it started is gone: the kube-api pid it printed, its work dir
pid=$(sed -n 's/^kube-api: listening on .* (pid \([0-9]*\)).*/\1/p' "$TAPTMP/err")
i=0   # its last threads may take a moment after the pid file is gone
while [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ok "$([ -n "$pid" ] && ! kill -0 "$pid" 2> /dev/null; echo $?)" "the API stand-in is stopped (pid ${pid:-?})"
is "$(ls -d "$TAPTMP"/phd-quickstart-* 2> /dev/null | wc -l | tr -d ' ')" 0 "its work dir is removed"
done_testing

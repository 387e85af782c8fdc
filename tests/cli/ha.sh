#!/bin/sh
# phdeploy validate with the ha plugin: the example passes, the chart
# defaults fail with exit 3 and findings that name rule, object and values
# file:line, in text and in JSON.
. "$top_srcdir/tests/tap/tap.sh"

[ -x "$PHDEPLOY" ] || skip_all "phdeploy not built"
plan 7
tap_mktemp
# ha's rules, and the plugins providing what the example names (checks, the
# file provider): validate refuses a check no plugin provides
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/ha/.libs
for p in postgres kafka redis secret-file; do
	PHDEPLOY_PLUGIN_PATH=$PHDEPLOY_PLUGIN_PATH:$top_builddir/plugins/$p/.libs
done
export PHDEPLOY_PLUGIN_PATH

cp "$top_srcdir/examples/phdeploy.yaml" "$top_srcdir/examples/values.yaml" "$TAPTMP/"
(cd "$TAPTMP" && "$PHDEPLOY" -c phdeploy.yaml validate) >"$TAPTMP/out" 2>"$TAPTMP/err"
ok $? "the example configuration and values validate"
unlike "$(cat "$TAPTMP/err")" "error" "the example prints no error-level finding"

printf 'cloud: aws\nzookeeper:\n  replicaCount: 2\n' >"$TAPTMP/defaults.yaml"
(cd "$TAPTMP" && "$PHDEPLOY" -r posthog -n posthog -f defaults.yaml validate) \
	>"$TAPTMP/out" 2>"$TAPTMP/err"
is "$?" 3 "chart defaults: validate exits 3"
like "$(cat "$TAPTMP/err")" "posthog-zookeeper" "the finding names its rule"
like "$(cat "$TAPTMP/err")" "defaults.yaml:3" "and the values file and line"

(cd "$TAPTMP" && "$PHDEPLOY" -r posthog -n posthog -f defaults.yaml --output json validate) \
	>"$TAPTMP/out" 2>"$TAPTMP/err"
is "$?" 3 "--output json: exit 3 as well"
grep '"event"' "$TAPTMP/out" | grep '"rule"' | grep -q '"replicas"'
ok $? "--output json: a finding event with rule replicas"
done_testing

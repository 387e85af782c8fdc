#!/bin/sh
# The values schema of the real chart (plugins/ha/schema/): the chart's own
# values.yaml and its subcharts' CI values pass; a wrong shape and a list
# that drops the chart's entries are found, positioned, with the template and
# the fix; the committed table is what scripts/chart-schema makes of the chart.
. "$top_srcdir/tests/tap/tap.sh"

[ -x "$PHDEPLOY" ] || skip_all "phdeploy not built"
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
[ -f "$chart" ] || skip_all "no chart fixture $chart"
plan 18
tap_mktemp
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/ha/.libs
export PHDEPLOY_PLUGIN_PATH
mkdir "$TAPTMP/chart"
tar -xzf "$chart" -C "$TAPTMP/chart"

validate() {
	cat >"$TAPTMP/phdeploy.yaml" <<EOC
release: posthog
namespace: posthog
chart: { name: posthog/posthog, version: ${2:-30.46.0} }
values: [$1]
EOC
	(cd "$TAPTMP" && "$PHDEPLOY" -c phdeploy.yaml -v validate) >"$TAPTMP/out" 2>"$TAPTMP/err"
}
# like, with an extended regular expression
likere() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then ok 0 "$3"
	else ok 1 "$3"; diag "does not match '$2':" "$1"; fi
}
found() { grep -E "posthog-values-shape|posthog-list-override" "$TAPTMP/err"; }

cp "$TAPTMP/chart/posthog/values.yaml" "$TAPTMP/chart-values.yaml"
validate chart-values.yaml
is "$(found)" "" "the chart's own values.yaml fits its schema"

# The subcharts' CI values, each under its subchart's key as a user of this
# chart would give them.  Their lists may replace this chart's (a finding of
# posthog-list-override), their shapes must all fit.
bad=
n=0
for f in "$TAPTMP"/chart/posthog/charts/*/ci/*.yaml; do
	sub=$(basename "$(dirname "$(dirname "$f")")")
	{ echo "$sub:"; sed 's/^/  /' "$f"; } >"$TAPTMP/ci.yaml"
	validate ci.yaml
	grep -q 'posthog-values-shape' "$TAPTMP/err" && bad="$bad $sub/${f##*/}"
	n=$((n + 1))
done
ok "$([ "$n" -gt 40 ] && [ -z "$bad" ]; echo $?)" "the $n CI values files of the subcharts fit the schema${bad:+ (not:$bad)}"

cat >"$TAPTMP/shape.yaml" <<'EOV'
web:
  env: "SKIP_SERVICE_VERSION_REQUIREMENTS=1"
  nodeSelector: [a]
pgbouncer:
  replicacount: {min: 2}
clickhouse:
  allowedNetworkIps: 10.0.0.0/8
EOV
validate shape.yaml
is "$?" 3 "wrong shapes: validate exits 3"
err=$(cat "$TAPTMP/err")
likere "$err" "posthog-values-shape.*web.env is a scalar but the chart needs a list: templates/web-deployment.yaml:[0-9]+ pastes it with toYaml" \
	"a string for a list: the expected shape and the template"
likere "$err" "web.env.*shape.yaml:2:8" "positioned at the value (file:line:column)"
like "$err" "web.nodeSelector is a list but the chart needs a mapping" "a list for a mapping"
likere "$err" "pgbouncer.replicacount is a mapping but the chart needs a scalar: templates/pgbouncer-deployment.yaml:[0-9]+ prints it" \
	"a mapping where the template prints a scalar"
likere "$err" "clickhouse.allowedNetworkIps is a scalar.*ranges over it.*range can't iterate" \
	"a string where the template ranges"

cat >"$TAPTMP/shape-ok.yaml" <<'EOV'
web:
  env: [{name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: "1"}]
  nodeSelector: {kubernetes.io/arch: amd64}
  podAnnotations: {a.b/c: "1"}
pgbouncer:
  replicacount: 2
  resources: {requests: {cpu: 100m}}
EOV
validate shape-ok.yaml
is "$(grep posthog-values-shape "$TAPTMP/err")" "" \
	"the right shapes: no finding (and nothing under toYaml'd maps)"

validate shape.yaml 30.45.0
is "$(grep -c 'error \[posthog-values-shape' "$TAPTMP/err")" 0 \
	"another chart version: the 30.46.0 schema is not applied"
like "$(cat "$TAPTMP/err")" "info [posthog-values-shape] values: no values schema for chart version 30.45.0" \
	"and the run says the shape rules did not run"

cat >"$TAPTMP/list.yaml" <<'EOV'
pgbouncer:
  env:
    - name: PGBOUNCER_POOL_MODE
      value: session
web:
  env: [{name: SOCIAL_AUTH_GOOGLE_OAUTH2_WHITELISTED_DOMAINS, value: example.com}]
EOV
validate list.yaml
err=$(cat "$TAPTMP/err")
likere "$err" "error \[posthog-list-override\] values: pgbouncer.env replaces the chart's list.*drops the chart's PGBOUNCER_PORT, PGBOUNCER_MAX_CLIENT_CONN, PGBOUNCER_IGNORE_STARTUP_PARAMETERS" \
	"a list that drops the chart's entries: an error naming them"
likere "$err" "pgbouncer.env.*add \{\"name\": \"PGBOUNCER_PORT\", \"value\": \"6543\"\}" "and how to keep them"
likere "$err" "pgbouncer.env.*list.yaml:3:5" "positioned at the user's list"
likere "$err" "info \[posthog-list-override\] values: web.env .*null placeholders" \
	"dropping only null placeholders is information"

cat >"$TAPTMP/list-ok.yaml" <<'EOV'
pgbouncer:
  env:
    - {name: PGBOUNCER_PORT, value: "6543"}
    - {name: PGBOUNCER_MAX_CLIENT_CONN, value: "2000"}
    - {name: PGBOUNCER_POOL_MODE, value: transaction}
    - {name: PGBOUNCER_IGNORE_STARTUP_PARAMETERS, value: extra_float_digits}
    - {name: PGBOUNCER_DEFAULT_POOL_SIZE, value: "50"}
EOV
validate list-ok.yaml
is "$(found)" "" "a list that keeps the chart's entries and adds one: no finding"

# The table is data made by the generator: regenerating must reproduce it.
if command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null; then
	python3 "$top_srcdir/scripts/chart-schema" "$chart" \
		"$top_srcdir/plugins/ha/schema/posthog-30.46.0.notes.yaml" >"$TAPTMP/gen.c"
	cmp -s "$TAPTMP/gen.c" "$top_srcdir/plugins/ha/schema/posthog-30.46.0.c"
	ok $? "scripts/chart-schema reproduces plugins/ha/schema/posthog-30.46.0.c"
	printf 'lists:\n  web.nope: {severity: warn, why: x}\n' >"$TAPTMP/notes.yaml"
	python3 "$top_srcdir/scripts/chart-schema" "$chart" "$TAPTMP/notes.yaml" \
		>/dev/null 2>"$TAPTMP/gen.err"
	is "$?" 1 "notes naming a list the chart does not pre-fill are refused"
else
	skip 2 "python3 with PyYAML (python3-yaml) not installed"
fi
done_testing

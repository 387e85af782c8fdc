#!/bin/sh
# A failed check is said once in text mode, under the check's name, in lines
# a terminal or a CI log shows whole (at most 100 columns); JSON keeps both
# the check event and the finding (SARIF and JUnit read the finding).
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
cd "$TAPTMP" || exit 1
P=$PHDEPLOY
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/postgres/.libs
export PHDEPLOY_PLUGIN_PATH PHDEPLOY_STATE_DIR="$TAPTMP/state"
[ -d "$PHDEPLOY_PLUGIN_PATH" ] || skip_all "no postgres plugin built"
cat > phdeploy.yaml <<'Y'
release: posthog
namespace: posthog
values: [values.yaml]
checks:
  postgres: { required: true, timeout: 2s }
Y
cat > values.yaml <<'Y'
postgresql: { enabled: false }
externalPostgresql:
  postgresqlHost: 127.0.0.1
  postgresqlPort: 1
  postgresqlDatabase: posthog
  postgresqlUsername: posthog
Y
$P preflight >out 2>err; is $? 5 "a failed required check fails preflight (exit 5)"
is "$(grep -c 'existingSecretPasswordKey' err)" 1 "its reason is printed once"
like "$(cat err)" "FAILED postgres" "on the check's result line"
long=$(awk 'length > 100' err | wc -l)
is "$long" 0 "no line is longer than 100 columns"
unlike "$(cat err)" "check/postgres" "no second finding line for it"
$P -o json preflight >json 2>/dev/null
is "$(grep -c '"event":"check","phase":"preflight","check":"postgres","status":"failed"' json)" 1 \
	"JSON has the check event"
is "$(grep -c '"event":"finding","phase":"preflight","rule":"postgres"' json)" 1 \
	"and the finding, for the reports"
done_testing

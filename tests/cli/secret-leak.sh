#!/bin/sh
# No secret value leaves phdeploy: `secrets --dry-run` and `plan`, verbose,
# text and JSON output, with file, env and exec providers (the exec command
# also prints its secret on stderr).  Nothing in the output, the state dir
# or the temp dir may hold a value, raw or base64.
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
plan 10

cfg="$TAPTMP/cfg"; tmp="$TAPTMP/tmp"
mkdir -p "$cfg" "$tmp"
FILE_PW='leak-file-pw-Qx81'
FILE_B64_PW='leak-b64-pw-Zr22'
ENV_PW='leak-env-pw-Hn57'
EXEC_PW='exec-leaky-secret-2024'   # printed by tests/bin/secret-cmd leak
good_manifest() {
	cat > "$cfg/postgres.secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: posthog-postgres, namespace: posthog}
stringData: {postgresql-password: $FILE_PW}
data: {other: $(printf %s "$FILE_B64_PW" | base64)}
YAML
}
good_manifest
cat > "$cfg/phdeploy.yaml" <<YAML
release: posthog
namespace: posthog
# the HA example values: they pass validate and reference the Secrets below
values: [$top_srcdir/examples/values.yaml]
secrets:
  - {provider: file, path: postgres.secret.yaml}
  - {provider: file, path: $top_srcdir/examples/posthog.secret.yaml}
  - {provider: env, name: posthog-redis, keys: {redis-password: PHD_LEAK_REDIS}}
  - {provider: exec, run: [$top_srcdir/tests/bin/secret-cmd, leak], format: raw,
     name: posthog-exec, key: k}
YAML
export PHD_LEAK_REDIS="$ENV_PW"

# The secrets verb needs the phase's apply handler: the kube plugin, or
# where it is not built, the test plugin that applies nothing.
if ! "$PHDEPLOY" plugins 2>/dev/null | grep -q '^kube '; then
	if [ -f "$PHD_TEST_PLUGINS/secret-apply-stub.so" ]; then
		printf 'plugins: {path: ["%s"], load: [secret-apply-stub]}\n' \
			"$PHD_TEST_PLUGINS" >> "$cfg/phdeploy.yaml"
		diag "no kube plugin: the secrets phase applies through secret-apply-stub"
	else
		skip_all "neither the kube plugin nor tests/plugins/secret-apply-stub.so is built"
	fi
fi

# every value, and the base64 of each (as a Secret manifest would carry it)
values="$FILE_PW $FILE_B64_PW $ENV_PW $EXEC_PW"
for v in $FILE_PW $FILE_B64_PW $ENV_PW $EXEC_PW; do
	values="$values $(printf %s "$v" | base64)"
done
hits() { # hits FILE-OR-DIR...: count of values found
	n=0
	for v in $values; do
		if grep -rqF -- "$v" "$@" 2>/dev/null; then n=$((n + 1)); diag "found a value in $*" >&2; fi
	done
	echo $n
}

TMPDIR="$tmp" "$PHDEPLOY" secrets --dry-run -c "$cfg/phdeploy.yaml" -v --output json \
	>"$TAPTMP/json.out" 2>"$TAPTMP/json.err"
is "$?" 0 "secrets --dry-run --output json -v succeeds"
TMPDIR="$tmp" "$PHDEPLOY" secrets --dry-run -c "$cfg/phdeploy.yaml" -v \
	>"$TAPTMP/text.out" 2>"$TAPTMP/text.err"
is "$?" 0 "secrets --dry-run -v (text) succeeds"
like "$(cat "$TAPTMP/text.err" "$TAPTMP/json.out" "$TAPTMP/json.err")" \
	"debug: decrypted value is" "the exec command's stderr is shown"
is "$(hits "$TAPTMP/json.out" "$TAPTMP/json.err" "$TAPTMP/text.out" "$TAPTMP/text.err")" 0 \
	"no secret value in stdout or stderr"
is "$(hits "$PHDEPLOY_STATE_DIR")" 0 "no secret value in the state dir"
ok "$([ "$(hits "$cfg")" -ge 2 ] && echo 0 || echo 1)" "the search does find values where they are (control)"
is "$(hits "$tmp")" 0 "no secret value left in the temp dir"

# a bad manifest: exit 4, positioned, still no value
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: other}\nstringData: {a: %s}\n' \
	"$FILE_PW" > "$cfg/postgres.secret.yaml"
err=$(TMPDIR="$tmp" "$PHDEPLOY" secrets --dry-run -c "$cfg/phdeploy.yaml" 2>&1)
is "$?" 4 "a refused manifest exits 4"
like "$err" "postgres.secret.yaml:3:32: secret-file: namespace \"other\"" \
	"... with file:line:column"

# plan: every phase up to deploy, needs the helm plugin and the chart
if [ -f "$PHD_FIXTURES/posthog-30.46.0.tgz" ] && [ -x "$PHD_TOOLS/helm4" ] &&
   "$PHDEPLOY" plugins 2>/dev/null | grep -q helm; then
	good_manifest
	# the plan may stop at a finding or a check; what matters is what it printed
	TMPDIR="$tmp" "$PHDEPLOY" plan -c "$cfg/phdeploy.yaml" \
		--chart "$PHD_FIXTURES/posthog-30.46.0.tgz" --helm "$PHD_TOOLS/helm4" \
		-v --output json >"$TAPTMP/plan.out" 2>"$TAPTMP/plan.err"
	is "$(hits "$TAPTMP/plan.out" "$TAPTMP/plan.err" "$PHDEPLOY_STATE_DIR" "$tmp")" 0 \
		"plan -v --output json leaks no secret value"
else
	skip 1 "plan needs the helm plugin, helm4 in PHD_TOOLS and the chart in PHD_FIXTURES"
fi
done_testing

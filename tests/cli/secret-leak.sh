#!/bin/sh
# No secret value leaves phdeploy: `secrets --dry-run`, then `secrets` and
# `deploy` for real (the real kubectl and helm 4 against tests/bin/kube-api),
# verbose, text and JSON output, with file, env and exec providers (the exec
# command also prints its secret on stderr).  Nothing in the output, the
# state dir, the temp dir, any child's argv or environment or a URL the API
# server saw may hold a value, raw or base64: values travel only in the
# bodies of the Secret writes.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS
KA=$top_srcdir/tests/bin/kube-api
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
tap_mktemp
trap '[ -f "$TAPTMP/k/pid" ] && "$KA" stop "$TAPTMP/k" > /dev/null 2>&1; rm -rf "$TAPTMP"' EXIT
plan 17
export PHDEPLOY_STATE_DIR=$TAPTMP/state   # its own lock: other tests deploy "posthog" too

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
# the HA example (values, rules, exemptions) without its dependency checks,
# its Secrets from the four providers
sed '/^checks:/,/^$/d; /^secrets:/,/^$/d; s|^values: .*|values: [values.yaml]|' \
	"$top_srcdir/examples/phdeploy.yaml" > "$cfg/phdeploy.yaml"
cp "$top_srcdir/examples/values.yaml" "$cfg/"
cat >> "$cfg/phdeploy.yaml" <<YAML
secrets:
  - {provider: file, path: postgres.secret.yaml}
  - {provider: file, path: $top_srcdir/examples/posthog.secret.yaml}
  - {provider: env, name: posthog-redis, keys: {redis-password: PHD_LEAK_REDIS}}
  - {provider: exec, run: [$top_srcdir/tests/bin/secret-cmd, leak], format: raw,
     name: posthog-exec, key: k}
YAML
export PHD_LEAK_REDIS="$ENV_PW"
"$PHDEPLOY" plugins 2>/dev/null | grep -q '^kube ' || skip_all "the kube plugin is not built"

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

# for real: the API server stand-in, the real kubectl and helm 4 behind
# wrappers that record every argv and environment
if [ -x "$PHD_TOOLS/kubectl" ] && [ -x "$PHD_TOOLS/helm4" ] && [ -f "$chart" ] &&
   command -v python3 > /dev/null 2>&1 &&
   "$KA" start "$TAPTMP/k" > "$TAPTMP/start" 2>&1; then
	good_manifest
	record_calls "$TAPTMP/rec" helm4 kubectl
	export KUBECONFIG="$TAPTMP/k/kubeconfig"
	export HELM_CACHE_HOME=$TAPTMP/helm/cache HELM_CONFIG_HOME=$TAPTMP/helm/config HELM_DATA_HOME=$TAPTMP/helm/data
	real() { # VERB [args]: a verbose JSON run against the stand-in
		TMPDIR="$tmp" "$PHDEPLOY" -c "$cfg/phdeploy.yaml" --kubectl "$TAPTMP/rec/kubectl" \
			--helm "$TAPTMP/rec/helm4" --kube-context stand-in --chart "$chart" -v --output json "$@" \
			> "$TAPTMP/real.out" 2> "$TAPTMP/real.err"
	}
	real secrets
	is "$?" 0 "secrets applies the Secrets to the stand-in"
	is "$(hits "$TAPTMP/real.out" "$TAPTMP/real.err" "$PHDEPLOY_STATE_DIR" "$tmp")" 0 \
		"secrets -v --output json: no value in the output, journal or temp dir"
	PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs:$top_builddir/plugins/kube/.libs:$top_builddir/plugins/ha/.libs:$top_builddir/plugins/secret-file/.libs:$top_builddir/plugins/secret-env/.libs:$top_builddir/plugins/secret-exec/.libs \
		real --skip preflight deploy
	is "$?" 0 "deploy with helm 4 succeeds" || diag "$(tail -n 5 "$TAPTMP/real.err")"
	is "$(hits "$TAPTMP/real.out" "$TAPTMP/real.err" "$PHDEPLOY_STATE_DIR" "$tmp")" 0 \
		"deploy -v --output json: no value in the output, JSON events, journal or temp dir"
	is "$(hits "$TAPTMP/rec/argv")" 0 "no value in any child's argv"
	is "$(hits "$TAPTMP/rec/env")" 0 "no value in any child's environment"
	cut -d' ' -f1-3 "$TAPTMP/k/requests.log" > "$TAPTMP/urls"
	is "$(hits "$TAPTMP/urls")" 0 "no value in any URL the API server saw"
	"$PHD_TOOLS/kubectl" get secrets -n posthog -o json > "$TAPTMP/stored" 2>&1
	is "$(hits "$TAPTMP/stored")" 4 "control: the four values are in the Secrets the API server stores"
else
	skip 8 "needs kubectl and helm4 in PHD_TOOLS, the chart in PHD_FIXTURES and python3"
fi
done_testing

#!/bin/sh
# A whole `phdeploy deploy` with the real helm, kube and secret-file plugins,
# helm and kubectl replaced (and only they) by their stand-ins because no
# API server runs here: every Secret is applied before helm upgrade starts,
# and no secret value reaches any child's argv or environment, the output,
# the journal or a file left in the temp directory.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS
[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
command -v python3 >/dev/null || skip_all "python3 needed by the stand-in kubectl"
tap_mktemp
T=$TAPTMP
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/helm/.libs:$top_builddir/plugins/kube/.libs:$top_builddir/plugins/secret-file/.libs
export PHDEPLOY_PLUGIN_PATH
export PHDEPLOY_STATE_DIR=$T/state TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

# one shared, ordered log of every helm and kubectl call
cat > "$T/helm" <<W
#!/bin/sh
printf 'helm %s\n' "\$*" >> "$T/order"
exec "$top_srcdir/tests/bin/stand-in-helm" "\$@"
W
cat > "$T/kubectl" <<W
#!/bin/sh
printf 'kubectl %s\n' "\$*" >> "$T/order"
exec "$top_srcdir/tests/bin/stand-in-kubectl" "\$@"
W
chmod +x "$T/helm" "$T/kubectl"
export STANDIN_DIR=$top_srcdir/tests/data/helm/standin/ok STANDIN_LOG=$T/helm-argv
export KUBE_STANDIN_DIR=$T/cluster
mkdir -p "$KUBE_STANDIN_DIR"

cp "$top_srcdir"/examples/*.secret.yaml "$top_srcdir/examples/values.yaml" "$T/"
: > "$T/posthog-30.46.0.tgz"   # a local chart: the repo phase stays offline
cat > "$T/phdeploy.yaml" <<Y
release: posthog
namespace: posthog
chart: { name: "$T/posthog-30.46.0.tgz", version: 30.46.0 }
values: [values.yaml]
kube: { version: "1.29" }
secrets:
  - { provider: file, path: postgres.secret.yaml }
  - { provider: file, path: redis.secret.yaml }
  - { provider: file, path: posthog.secret.yaml }
Y
secrets=$(sed -n 's/^  [a-z-]*-password: \(.*\)$/\1/p; s/^  posthog-secret: \(.*\)$/\1/p' "$T"/*.secret.yaml)
[ -n "$secrets" ] || { echo "Bail out! no secret values found in the examples"; exit 1; }

"$PHDEPLOY" -v --helm "$T/helm" --kubectl "$T/kubectl" -c "$T/phdeploy.yaml" \
	--skip preflight,render,verify deploy > "$T/out" 2> "$T/err"
rc=$?
is "$rc" 0 "deploy succeeds with the stand-ins" || sed 's/^/# /' "$T/err"

first_helm_upgrade=$(grep -n '^helm upgrade' "$T/order" | head -n 1 | cut -d: -f1)
last_apply=$(grep -n '^kubectl apply' "$T/order" | tail -n 1 | cut -d: -f1)
napply=$(grep -c '^kubectl apply' "$T/order")
nsecret=$(cat "$T"/*.secret.yaml | grep -c '^kind: Secret')
is "$napply" "$nsecret" "every Secret of the three files is applied ($nsecret)"
ok "$([ -n "$first_helm_upgrade" ] && [ -n "$last_apply" ] && [ "$last_apply" -lt "$first_helm_upgrade" ]; echo $?)" \
	"every Secret is applied before helm upgrade starts"
ns_line=$(grep -n '^kubectl create namespace\|^kubectl apply.*Namespace' "$T/order" | head -n 1 | cut -d: -f1)
first_apply=$(grep -n '^kubectl apply' "$T/order" | head -n 1 | cut -d: -f1)
ok "$([ -n "$ns_line" ] && [ "$ns_line" -lt "$first_apply" ]; echo $?)" \
	"the namespace is created before the Secrets"

# the leak search: every value, plain and base64
hits=0
for s in $secrets; do
	b=$(printf '%s' "$s" | base64 -w0)
	for pat in "$s" "$b"; do
		n=$(cat "$T/order" "$T/helm-argv" "$T/out" "$T/err" "$T"/cluster/calls/*.json \
			"$T"/state/journal.jsonl 2>/dev/null | grep -cF -- "$pat")
		hits=$((hits + n))
		n=$(grep -rlF -- "$pat" "$TMPDIR" 2>/dev/null | wc -l)
		hits=$((hits + n))
	done
done
is "$hits" 0 "no secret value in any argv, child environment, output, journal or temp file"
# control: the values did travel, on stdin
s1=$(echo "$secrets" | head -n 1)
n=$(cat "$T"/cluster/calls/*.stdin 2>/dev/null | grep -cF -- "$(printf '%s' "$s1" | base64 -w0)")
ok "$([ "$n" -ge 1 ]; echo $?)" "the search finds the value where it belongs: kubectl's stdin"
left=$(ls -A "$TMPDIR" | wc -l)
is "$left" 0 "the run leaves nothing in the temp directory"
done_testing

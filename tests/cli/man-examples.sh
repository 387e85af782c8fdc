#!/bin/sh
# The EXAMPLES of libphdeploy(3), phdeploy-plugin(7) and of every reference
# page (man/phd_*.3) are real programs: cut out of the man source, they
# compile without a warning against the installed headers' copy in the tree,
# and those that can run here do what the pages say they do.
. "$top_srcdir/tests/tap/tap.sh"

cc=${CC:-cc}
lib=$top_builddir/libphdeploy/.libs
command -v "$cc" >/dev/null 2>&1 || skip_all "no C compiler ($cc) to build the examples"
[ -f "$lib/libphdeploy.so" ] || skip_all "libphdeploy.so not built in $lib"
# A sanitizer build's library needs its own runtime in every program
if nm -D "$lib/libphdeploy.so" 2>/dev/null | grep -q '__asan_init'; then
	skip_all "library built with sanitizers; the plain build runs this test"
fi
tap_mktemp

# reference pages: a family's page is the one named for its first function
# (the others are links, or copies of it in a dist tarball)
fams=
for f in "$top_srcdir"/man/phd_*.3; do
	[ -f "$f" ] || continue
	b=${f##*/}
	b=${b%.3}
	[ "$(awk '/^\.Nm / { print $2; exit }' "$f")" = "$b" ] && fams="$fams $b"
done
set -- $fams
plan $((10 + $# + 25))

# the first literal display after .Sh EXAMPLES, with \e turned back into \
example() {
	awk '/^\.Sh EXAMPLES/ { e = 1 } e && /^\.Bd -literal$/ { p = 1; next }
	     p && /^\.Ed/ { exit } p' "$1" | sed 's/\\e/\\/g'
}
build() {
	"$cc" -std=c11 -Wall -Wextra -Werror -I"$top_srcdir/libphdeploy/include" "$@" \
		-L"$lib" -lphdeploy >"$TAPTMP/cc.out" 2>&1
	st=$?
	[ $st -eq 0 ] || diag "$(cat "$TAPTMP/cc.out")"
	return $st
}

mkdir "$TAPTMP/site"
example "$top_srcdir/man/libphdeploy.3" >"$TAPTMP/gate.c"
example "$top_srcdir/man/phdeploy-plugin.7" >"$TAPTMP/deploy-hours.c"

build -o "$TAPTMP/gate" "$TAPTMP/gate.c"
ok $? "libphdeploy(3) EXAMPLES: the gate program compiles without a warning"
build -shared -fPIC -fvisibility=hidden -o "$TAPTMP/site/deploy-hours.so" \
	"$TAPTMP/deploy-hours.c"
ok $? "phdeploy-plugin(7) EXAMPLES: the plugin compiles without a warning"
syms=$(nm -D --defined-only "$TAPTMP/site/deploy-hours.so" 2>/dev/null | awk '{ print $3 }')
is "$syms" "phd_plugin_desc" "the example plugin exports its descriptor and nothing else"

cd "$TAPTMP" || exit 1
cat >phdeploy.yaml <<'YAML'
values: [values.yaml]
plugins: { path: [site], load: [deploy-hours] }
deploy-hours: { days: [sun, mon, tue, wed, thu, fri, sat], from: 0, to: 24 }
checks:
  dns: { timeout: 5s }
YAML
printf 'cloud: aws\nexternalPostgresql: { postgresqlHost: localhost }\n' >values.yaml
# only the example plugin: the run must not depend on what else is built
PHDEPLOY_PLUGIN_PATH=
export PHDEPLOY_PLUGIN_PATH
LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

out=$("$PHDEPLOY" plugins 2>&1)
like "$out" "hook:deploy.pre hook:deploy.post validator:image-pinned check:dns" \
	"phdeploy plugins lists what the example plugin registered"

out=$("$PHDEPLOY" --output json validate 2>/dev/null)
rc=$?
is "$rc" 3 "an unpinned image fails validate (exit status 3)"
like "$out" '"rule":"image-pinned","severity":"error","object":"values/image"' \
	"the finding names the rule, the severity and the object"

printf 'deploy-hours: { days: [mon, funday] }\nplugins: { path: [site], load: [deploy-hours] }\n' >bad.yaml
out=$("$PHDEPLOY" -c bad.yaml validate 2>&1)
like "$out" "bad.yaml:1:29: deploy-hours: a day is sun, mon" \
	"a bad day in the plugin's section is reported at its line and column"

printf 'image: { tag: release-1.43.0 }\n' >>values.yaml
out=$("$PHDEPLOY" --output json preflight 2>/dev/null)
rc=$?
is "$rc" 0 "with a pinned image, preflight passes (the dns check resolves localhost)"
like "$out" '"check":"dns","status":"ok","message":"1 of 1 endpoints resolve"' \
	"the check's summary reaches the check event"

out=$(./gate phdeploy.yaml 2>/dev/null)
rc=$?
is "$rc:$out" "0:check dns: ok (1 of 1 endpoints resolve)" \
	"the gate program runs validate and preflight and prints the check"

# ---- reference pages -------------------------------------------------
# Every family page's example builds: a program links, a plugin exports
# nothing but its descriptor.  The ones that need no cluster then run.
mkdir "$TAPTMP/ref" "$TAPTMP/ref/site" "$TAPTMP/ref/conf"
cd "$TAPTMP/ref" || exit 1
for b in $fams; do
	example "$top_srcdir/man/$b.3" >"$b.c"
	if grep -q PHD_PLUGIN_DEFINE "$b.c"; then
		build -shared -fPIC -fvisibility=hidden -o "site/$b.so" "$b.c"
		st=$?
		syms=$(nm -D --defined-only "site/$b.so" 2>/dev/null | awk '{ print $3 }')
		if [ $st -eq 0 ] && [ "$syms" != phd_plugin_desc ]; then
			st=1
			diag "exports: $syms"
		fi
		ok $st "$b(3) EXAMPLES: the plugin compiles without a warning, exports its descriptor only"
	else
		build -o "$b" "$b.c"
		ok $? "$b(3) EXAMPLES: the program compiles without a warning"
	fi
done

out=$(./phd_version 2>&1)
is "$out" "0 validate
1 secrets
2 preflight
3 repo
4 render
5 deploy
6 verify
7 rollback
skipped warn" "phd_version(3): the phases in pipeline order, a status and a severity by name"
out=$(./phd_version deploy 2>&1)
is "$?:$out" "0:deploy is phase 5" "phd_version(3): phd_phase_from_name finds a phase"
out=$(./phd_version nope 2>&1)
is "$?:$out" "2:nope: not found" "phd_version(3): an unknown phase name is PHD_ENOTFOUND"

out=$(./phd_redact 2>&1)
is "$out" "GET /api?token=**** Authorization: Basic ****" \
	"phd_redact(3): the token and its base64 form are masked"

out=$(./phd_is_dns1123_subdomain posthog-redis a.b a..b 2>&1)
is "$out" "posthog-redis: subdomain 1, label 1
a.b: subdomain 1, label 0
a..b: subdomain 0, label 0" "phd_is_dns1123_subdomain(3): a..b is no name, a.b no namespace"

out=$(./phd_exec_run 2>&1)
is "$out" "exit status 3
stdout: ****
stderr: done
invalid argument: refusing to run echo: argument 1 holds a secret (secrets go on stdin only)" \
	"phd_exec_run(3): the secret reaches the child on stdin only, masked in its output"

out=$(./phd_ctx_errmsg 2>&1)
is "$?:$out" "1:error: the configuration does not set 'release' (not found)" \
	"phd_ctx_errmsg(3): the message phd_set_error set, with phd_strerror of its code"

printf 'release: web\nvalues: [base.yaml, prod.yaml]\nchecks:\n  postgres: { timeout: 3s }\n' \
	>conf/phdeploy.yaml
printf 'externalPostgresql:\n  postgresqlHost: db.example\n  postgresqlPort: 5432\n' >conf/base.yaml
printf 'externalPostgresql:\n  postgresqlHost: db.internal\npodLabels: { team: growth }\n' \
	>conf/prod.yaml
# checks.postgres needs the plugin that provides the check
PHDEPLOY_PLUGIN_PATH=$top_builddir/plugins/postgres/.libs
out=$(./phd_ctx_load conf/phdeploy.yaml 2>&1)
is "$?:$out" "0:config: conf/phdeploy.yaml
release: web
namespace: posthog
chart: posthog/posthog
postgres: db.internal (set at conf/prod.yaml:2)" \
	"phd_ctx_load(3): effective settings, and a merged value at the file that set it"

out=$(./phd_node_get conf/phdeploy.yaml 2>&1)
is "$?:$out" "0:conf/prod.yaml:2:19: externalPostgresql.postgresqlHost = db.internal
conf/base.yaml:3:19: externalPostgresql.postgresqlPort = 5432
conf/prod.yaml:3:20: podLabels.team = growth
postgres check timeout: 3000 ms" \
	"phd_node_get(3): every scalar with its position, and a duration"

./phd_ctx_add_plugin conf/phdeploy.yaml >/dev/null 2>&1
is "$?" 0 "phd_ctx_add_plugin(3): the in-process validator passes values with a team"
PHDEPLOY_PLUGIN_PATH=
printf 'release: web\n' >conf/noteam.yaml
out=$(./phd_ctx_add_plugin conf/noteam.yaml 2>&1)
is "$?:$out" "3:validate: 1 finding at severity error" \
	"phd_ctx_add_plugin(3): without one, validate fails (exit status 3)"

out=$(./phd_ctx_set_log 2>"$TAPTMP/err")
is "$?:$out:$(cat "$TAPTMP/err")" "0:would run: notify-chat --starting
validate: ok
run: success:info: validate of release posthog begins" \
	"phd_ctx_set_log(3): the hook's log line and COMMAND event reach the callbacks"

printf -- '---\nkind: ConfigMap\nmetadata: { name: a }\n---\n# empty\n---\nkind: List\nitems:\n  - { kind: Service, metadata: { name: b } }\n  - { kind: Service, metadata: { name: c } }\n' \
	>manifests.yaml
./phd_set_documents manifests.yaml >rendered.yaml 2>"$TAPTMP/err"
is "$?:$(cat "$TAPTMP/err")" "0:3 documents" \
	"phd_set_documents(3): empty documents left out, a List flattened"
cmp -s manifests.yaml rendered.yaml
ok $? "phd_set_documents(3): phd_rendered gives the text back as handed over"
printf 'a: [\n' >broken.yaml
out=$(./phd_set_documents broken.yaml 2>&1)
is "$?:$out" "7:broken.yaml:2:1: did not find expected node content while parsing a flow node" \
	"phd_set_documents(3): malformed YAML fails render (exit status 7) at its position"

# two plugin examples together through the CLI: a provider reads the
# password, a check judges it; the value itself is never shown
cat >secrets.yaml <<'YAML'
plugins:
  load: [site/phd_register_secret_provider.so, site/phd_secret_get.so]
secrets:
  - { provider: keyfile, secret: posthog-pg, key: password, path: pg.key }
YAML
printf 'shortpw\n' >pg.key
out=$("$PHDEPLOY" -c secrets.yaml preflight 2>&1)
is "$?" 5 "phd_register_secret_provider(3), phd_secret_get(3): a short password fails preflight"
# text output folds long lines: read it unfolded
like "$(printf '%s\n' "$out" | sed 's/^ *//' | tr '\n' ' ')" \
	"Secret posthog/posthog-pg key password (from secrets.yaml:4:67) is shorter than 16 bytes" \
	"phd_secret_get(3): the note names the Secret, the key and where it came from"
unlike "$out" "shortpw" "phd_secret_get(3): the value itself is not shown"
printf 'a-much-longer-password-4711\n' >pg.key
out=$("$PHDEPLOY" -c secrets.yaml preflight 2>&1)
is "$?" 0 "phd_secret_get(3): a long one passes"

# the TCP check against a real listener on loopback, then a closed port
printf 'plugins: { load: [site/phd_register_check.so] }\nvalues: [redis.yaml]\nchecks:\n  redis-tcp: { timeout: 5s }\n' \
	>tcp.yaml
printf '{}\n' >redis.yaml
out=$("$PHDEPLOY" -c tcp.yaml preflight 2>&1)
is "$?" 0 "phd_register_check(3): without an external Redis the check is skipped"
like "$out" "the chart runs its own Redis" "phd_register_check(3): the summary says why"
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(30)
print(s.getsockname()[1], flush=True)
try:
    s.accept()
except OSError:
    pass' >port.txt &
	lpid=$!
	trap 'kill $lpid 2>/dev/null; rm -rf "$TAPTMP"' EXIT
	i=0
	while [ ! -s port.txt ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	port=$(cat port.txt)
	printf 'externalRedis: { host: 127.0.0.1, port: "%s" }\n' "$port" >redis.yaml
	out=$("$PHDEPLOY" -c tcp.yaml preflight 2>&1)
	is "$?" 0 "phd_register_check(3): a listening Redis port passes"
	like "$out" "127.0.0.1:$port accepts connections" "phd_register_check(3): the summary names it"
	wait $lpid
	# the listener is gone: its port now refuses connections
	out=$("$PHDEPLOY" -c tcp.yaml preflight 2>&1)
	is "$?" 5 "phd_register_check(3): a closed port fails preflight (exit status 5)"
	like "$out" "127.0.0.1:$port: Connection refused" "phd_register_check(3): the error note says why"
else
	skip 4 "python3 is not installed to listen on a port"
fi
done_testing

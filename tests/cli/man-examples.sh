#!/bin/sh
# The EXAMPLES of libphdeploy(3) and phdeploy-plugin(7) are real programs:
# cut out of the man source, they compile without a warning against the
# installed headers' copy in the tree, and do what the pages say they do.
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
plan 10

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
example "$top_srcdir/man/phdeploy-plugin.7" >"$TAPTMP/change-window.c"

build -o "$TAPTMP/gate" "$TAPTMP/gate.c"
ok $? "libphdeploy(3) EXAMPLES: the gate program compiles without a warning"
build -shared -fPIC -fvisibility=hidden -o "$TAPTMP/site/change-window.so" \
	"$TAPTMP/change-window.c"
ok $? "phdeploy-plugin(7) EXAMPLES: the plugin compiles without a warning"
syms=$(nm -D --defined-only "$TAPTMP/site/change-window.so" 2>/dev/null | awk '{ print $3 }')
is "$syms" "phd_plugin_desc" "the example plugin exports its descriptor and nothing else"

cd "$TAPTMP" || exit 1
cat >phdeploy.yaml <<'YAML'
values: [values.yaml]
plugins: { path: [site], load: [change-window] }
change-window: { days: [sun, mon, tue, wed, thu, fri, sat], from: 0, to: 24 }
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

printf 'change-window: { days: [mon, funday] }\nplugins: { path: [site], load: [change-window] }\n' >bad.yaml
out=$("$PHDEPLOY" -c bad.yaml validate 2>&1)
like "$out" "bad.yaml:1:30: change-window: a day is sun, mon" \
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
done_testing

#!/bin/sh
# What an installed tree alone supports.  `make install DESTDIR=` of this
# build, then, with nothing from the source or build tree:
#  - examples/site-plugin builds with its own Makefile through pkg-config
#    (PKG_CONFIG_SYSROOT_DIR into DESTDIR), the installed phdeploy loads it
#    (plugins.path/load) and runs it: the change-window guard inside and
#    outside the window, the webhook's POSTs received by a local HTTP server;
#  - `pip install bindings/python` builds the binding against that tree.
. "$top_srcdir/tests/tap/tap.sh"

command -v pkg-config >/dev/null 2>&1 || skip_all "pkg-config is needed"
py=
for cand in /usr/bin/python3 python3; do
	command -v "$cand" >/dev/null 2>&1 && { py=$cand; break; }
done
[ -n "$py" ] || skip_all "python3 is needed for the webhook receiver"
tap_mktemp
cd "$TAPTMP" || exit 1
dest=$TAPTMP/dest
# a make inside make check must not talk to the outer make's jobserver
unset MAKEFLAGS MFLAGS MAKELEVEL PHDEPLOY_PLUGIN_PATH PHDEPLOY_HELM PHDEPLOY_KUBECTL

make -C "$top_builddir" install DESTDIR="$dest" > install.log 2>&1
ok $? "make install DESTDIR= of the build tree"
[ $? -eq 0 ] || { sed 's/^/# /' install.log | tail -20; done_testing; exit 1; }
pc=$(find "$dest" -name libphdeploy.pc | head -n 1)
libdir=$(dirname "$(dirname "$pc")")
phd=$(find "$dest" -path '*/bin/phdeploy' | head -n 1)
ok "$([ -n "$pc" ] && [ -x "$phd" ]; echo $?)" "the tree holds libphdeploy.pc and phdeploy"
ok "$([ -n "$(find "$dest" -path '*/share/bash-completion/completions/phdeploy')" ]; echo $?)" \
	"the bash completion is installed in \$(datadir)/bash-completion/completions"

# ---- the kit builds against the installed tree alone ---------------------
PKG_CONFIG_PATH=${pc%/*}
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
like "$(pkg-config --cflags --libs libphdeploy)" "-I$dest/" \
	"pkg-config points into DESTDIR (the .pc prefix is the real one)"
cp -R "$top_srcdir/examples/site-plugin" kit && chmod -R u+w kit
make -C kit > kit.log 2>&1
ok $? "examples/site-plugin builds with its own Makefile"
[ -f kit/change-window.so ] || sed 's/^/# /' kit.log
unlike "$(cat kit.log)" "$top_srcdir/libphdeploy" "... with the installed header, not the source tree's"
make -C kit install plugindir="$TAPTMP/site" > kit-install.log 2>&1
ok $? "make install plugindir=DIR installs both plugins"

LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PHDEPLOY_STATE_DIR=$TAPTMP/state
export LD_LIBRARY_PATH PHDEPLOY_STATE_DIR
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# ---- a webhook receiver on loopback: appends "PATH BODY" per POST ---------
cat > receiver.py <<'PY'
import http.server, os, sys
log, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "ab") as f:
            f.write(self.path.encode() + b" " + self.headers.get("Content-Type", "").encode()
                    + b" " + body + b"\n")
        self.send_response(500 if self.path.endswith("/broken") else 200)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
: > posts
"$py" receiver.py "$TAPTMP/posts" "$TAPTMP/port" &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$TAPTMP"' EXIT
i=0
while [ ! -s port ] && [ $i -lt 200 ] && kill -0 $srv 2>/dev/null; do i=$((i + 1)); sleep 0.05; done
port=$(cat port 2>/dev/null)
ok "$([ -n "$port" ]; echo $?)" "the webhook receiver listens on 127.0.0.1"
token=T0KEN-9f2c71

# config NAME [WINDOW] [TZ] [WEBHOOK-PATH] [extra line]
config() {
	cat > "$1.yaml" <<EOF
release: posthog
namespace: posthog
plugins: { path: [site], load: [change-window, webhook] }
change-window:
  allow: ["${2:-Mon-Fri 09:00-17:00}"]
  timezone: ${3:-UTC}
webhook:
  url: http://127.0.0.1:$port/hooks/$token${4:-}
  phases: [secrets, deploy]
${5:-}
EOF
}
# run CONFIG NOW ARGS...: sets rc, out, err
run() {
	c=$1 now=$2
	shift 2
	PHD_CHANGE_WINDOW_NOW=$now "$phd" -c "$c.yaml" "$@" > out 2> err
	rc=$?
	out=$(cat out)
	err=$(cat err)
}
config site

"$phd" -c site.yaml plugins > out 2> err
is $? 0 "the installed phdeploy loads the site plugins (plugins.path, plugins.load)"
like "$(cat out)" "change-window  2.0      ABI 2.1  hook:secrets.pre hook:deploy.pre" \
	"change-window guards secrets and deploy by default"
like "$(cat out)" "hook:secrets.post hook:secrets.fail hook:deploy.post hook:deploy.fail" \
	"webhook hooks post and fail of the configured phases"
like "$(cat out)" "./site/change-window.so" "from the site directory (plugins.path, relative to the config)"

# ---- the guard -----------------------------------------------------------
run site 2026-11-28T10:00:00Z secrets
is "$rc" 4 "outside the window (Saturday 10:00 UTC) the guarded phase fails (exit 4)"
like "$err" "secrets refused: Sat 2026-11-28 10:00 UTC is outside the change window (Mon-Fri 09:00-17:00, set at site.yaml:5:3)" \
	"with the guard's message: the time, the window, where it is set"
like "$err" "hook secrets.pre:change-window stopped the run" "as the pre hook that stopped the run"
like "$(tail -n 1 posts)" '{"release":"posthog","namespace":"posthog","phase":"secrets","outcome":"failed","error":"phase failed"}' \
	"the fail hook POSTed the outcome as JSON"
like "$(tail -n 1 posts)" "/hooks/$token application/json " "to the configured URL, as application/json"

run site 2026-11-25T10:00:00Z --output json secrets
is "$rc" 0 "inside the window (Wednesday 10:00 UTC) the phase runs"
like "$out" '"hook":"secrets.pre:change-window","status":"ok"' "the guard's pre hook passed"
like "$(tail -n 1 posts)" '{"release":"posthog","namespace":"posthog","phase":"secrets","outcome":"ok"}' \
	"the post hook POSTed outcome ok"

run site 2026-11-25T17:00:00Z secrets
is "$rc" 4 "the window's end is exclusive (17:00 is outside)"

n=$(wc -l < posts)
run site 2026-11-28T10:00:00Z --dry-run --output json secrets
is "$rc" 0 "a dry run outside the window is not refused"
like "$err" "outside the change window (Mon-Fri 09:00-17:00): the secrets phase would be refused" \
	"... it warns that a real run would be"
is "$(wc -l < posts)" "$n" "a dry run POSTs nothing"
like "$out" '"event":"command","phase":"secrets","command":"{\"release\":\"posthog\"' \
	"... it shows the request as a command event"

config night "Fri 22:00-02:00"
run night 2026-11-28T01:30:00Z secrets
is "$rc" 0 "an overnight window reaches into the next day (Sat 01:30 in Fri 22:00-02:00)"
run night 2026-11-27T21:59:00Z secrets
is "$rc" 4 "... and starts at its start (Fri 21:59 is outside)"

config berlin "Mon-Fri 09:00-17:00" Europe/Berlin
if [ -f "${TZDIR:-/usr/share/zoneinfo}/Europe/Berlin" ] && command -v date >/dev/null 2>&1; then
	run berlin 2026-11-25T08:30:00Z secrets
	is "$rc" 0 "timezone Europe/Berlin: 08:30 UTC is 09:30 CET, inside"
	unlike "$err" "refused" "... with nothing refused"
	run berlin 2026-11-25T16:30:00Z secrets
	is "$rc" 4 "... and 16:30 UTC is 17:30 CET, outside"
	like "$err" "Wed 2026-11-25 17:30 CET is outside" "the message gives the local time"
else
	skip 4 "no zone database (tzdata) for Europe/Berlin"
fi
config fixed "Mon-Fri 09:00-17:00" "-05:00"
run fixed 2026-11-25T10:00:00Z secrets
is "$rc" 4 "timezone -05:00: 10:00 UTC is 05:00 there, outside"
like "$err" "Wed 2026-11-25 05:00 UTC-05:00" "with the offset in the message"

config typo "Mon-Fri 9-17"
run typo 2026-11-25T10:00:00Z secrets
is "$rc" 3 "a malformed window is an input error (exit 3)"
like "$err" "typo.yaml:5:11: change-window: a window is DAYS HH:MM-HH:MM" "at its file:line:column"
config zone "Mon-Fri 09:00-17:00" Mars/Olympus
run zone 2026-11-25T10:00:00Z secrets
is "$rc" 3 "an unknown timezone is an input error"
like "$err" "zone.yaml:6:13: change-window: unknown timezone" "at its position"

# ---- the webhook ---------------------------------------------------------
config broken "" "" /broken
run broken 2026-11-25T10:00:00Z secrets
is "$rc" 0 "a receiver answering 500 fails the hook, not the phase"
like "$err" "webhook: the receiver answered HTTP 500" "and says so"
all=$(cat err out; find state -type f -exec cat {} +)
for c in site night berlin fixed broken; do
	PHD_CHANGE_WINDOW_NOW=2026-11-28T10:00:00Z "$phd" -v -c "$c.yaml" --output json secrets \
		>> all.out 2>&1
done
unlike "$all$(cat all.out)" "$token" "the URL's token is never printed, logged or journaled"

# ---- the deploy phase: the installed helm plugin, real helm 4, kube-api ----
ka=$top_srcdir/tests/bin/kube-api
helm_so=$(find "$dest" -name helm.so | head -n 1)
if [ -n "$helm_so" ] && [ -x "${PHD_TOOLS:-}/helm4" ] &&
   "$ka" start "$TAPTMP/k" > ka.log 2>&1; then
	trap 'kill $srv 2>/dev/null; "$ka" stop "$TAPTMP/k" >/dev/null 2>&1; rm -rf "$TAPTMP"' EXIT
	# a chart of one ConfigMap: the window guard is what is under test
	mkdir -p tiny/templates
	printf 'apiVersion: v2\nname: tiny\nversion: 1.0.0\n' > tiny/Chart.yaml
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tiny}\ndata: {a: b}\n' \
		> tiny/templates/cm.yaml
	record_calls "$TAPTMP/rec" helm4
	config deploy "" "" "" "chart: { name: $TAPTMP/tiny }
kube: { context: stand-in, version: \"1.29\" }
helm: { timeout: 1m }"
	sed -i "s|load: \[change-window, webhook\]|load: [change-window, webhook, $helm_so]|" deploy.yaml
	: > rec/argv
	KUBECONFIG=$TAPTMP/k/kubeconfig HELM_CONFIG_HOME=$TAPTMP/hc HELM_CACHE_HOME=$TAPTMP/hc
	HELM_DATA_HOME=$TAPTMP/hc
	export KUBECONFIG HELM_CONFIG_HOME HELM_CACHE_HOME HELM_DATA_HOME
	run deploy 2026-11-28T10:00:00Z --helm "$TAPTMP/rec/helm4" --only deploy deploy
	is "$rc" 8 "deploy outside the window: the pre hook refuses (exit 8)"
	like "$err" "deploy refused: Sat 2026-11-28 10:00 UTC is outside" "with the guard's message"
	unlike "$(cat rec/argv)" "upgrade" "helm upgrade never ran"
	like "$(tail -n 1 posts)" '"phase":"deploy","outcome":"failed"' "the webhook POSTed the refusal"
	run deploy 2026-11-25T10:00:00Z --helm "$TAPTMP/rec/helm4" --only deploy deploy
	like "$(cat rec/argv)" "upgrade --install" "deploy inside the window reaches the real helm upgrade"
	is "$rc" 0 "... and the deploy succeeds against the API stand-in"
	like "$(tail -n 1 posts)" '"phase":"deploy","outcome":"ok"' "the webhook POSTed the deploy's outcome"
else
	skip 7 "no installed helm plugin, helm4 in PHD_TOOLS or API stand-in: the guard is proven on secrets, which runs without a cluster"
fi

# ---- the Python binding pip-installs against the same tree ---------------
if nm -D "$libdir/libphdeploy.so" 2>/dev/null | grep -q __asan_init; then
	skip 2 "sanitizer build: python3 cannot load an ASan library without preloading"
elif "$py" -c 'import cffi, setuptools, wheel, pip' >/dev/null 2>&1; then
	cp -R "$top_srcdir/bindings/python" pysrc && chmod -R u+w pysrc && rm -rf pysrc/build
	PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$dest \
		"$py" -m pip install -q --no-build-isolation --no-deps --no-index \
		--target "$TAPTMP/pylib" ./pysrc > pip.log 2>&1
	ok $? "pip install bindings/python builds against the installed libphdeploy"
	[ -d pylib/phdeploy ] || sed 's/^/# /' pip.log | tail -20
	got=$(cd / && PYTHONPATH=$TAPTMP/pylib "$py" -c '
import phdeploy
with phdeploy.Deployment(no_config=True, release="r", namespace="n", journal=False) as d:
    print(phdeploy.library_version(), d.validate().phases["validate"].status)' 2>&1)
	is "$got" "0.3.0 ok" "the installed binding imports and runs a phase"
else
	skip 2 "python3 has no cffi, setuptools, wheel or pip"
fi

done_testing

#!/bin/sh
# phdeploy init: the files it writes are examples/ (the README's config is
# the one it writes), it refuses to overwrite without --force (exit 2,
# nothing written), and what it writes validates and renders the real
# chart with real helm 4 and the bundled plugins with no error finding.
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
cd "$TAPTMP" || exit 1
P=$PHDEPLOY
export PHDEPLOY_STATE_DIR="$TAPTMP/state"
d=$TAPTMP/site/prod

$P init "$d" >out 2>err; is $? 0 "init DIR exits 0 (DIR is created)"
for f in phdeploy.yaml values.yaml postgres.secret.yaml redis.secret.yaml posthog.secret.yaml; do
	cmp -s "$d/$f" "$top_srcdir/examples/$f"
	ok $? "init wrote $f as examples/$f"
done
is "$(stat -c %a "$d/postgres.secret.yaml")" 600 "Secret templates are private (0600)"
like "$(cat out)" "phdeploy -c $d/phdeploy.yaml validate" "and says what to do next"
grep -q CHANGE-ME "$d/posthog.secret.yaml"; ok $? "Secret templates hold placeholders, not secrets"

# the README's config block is the file init writes
awk '/^with the `phdeploy.yaml` that `phdeploy init DIR` writes/ { f = 1 }
     f && /^```$/ { exit } f == 2 { print } f && /^```yaml$/ { f = 2 }' \
	"$top_srcdir/README.md" > readme.yaml
cmp -s readme.yaml "$d/phdeploy.yaml"; ok $? "the README's phdeploy.yaml is the one init writes"

echo "# mine" > "$d/values.yaml"
$P init "$d" >out 2>err; is $? 2 "init refuses to overwrite (exit 2)"
like "$(cat err)" "values.yaml exists" "names the file in the way"
like "$(cat err)" "nothing written; --force replaces" "and says how to replace it"
is "$(cat "$d/values.yaml")" "# mine" "and leaves it alone"
$P init --force "$d" >/dev/null 2>err; is $? 0 "init --force replaces the files"
cmp -s "$d/values.yaml" "$top_srcdir/examples/values.yaml"; ok $? "with the template"
(cd "$TAPTMP/site" && $P init >/dev/null 2>&1); is $? 0 "init without DIR writes into ."
[ -f "$TAPTMP/site/phdeploy.yaml" ]; ok $? "... there"
$P init a b 2>/dev/null; is $? 2 "init takes one DIR at most"

$P -c "$d/phdeploy.yaml" validate >/dev/null 2>err; is $? 0 "what init wrote passes validate"
helm=$PHD_TOOLS/helm4 chart=$PHD_FIXTURES/posthog-30.46.0.tgz
if [ -x "$helm" ] && [ -f "$chart" ]; then
	mkdir -p "$TAPTMP/tmp"
	TMPDIR=$TAPTMP/tmp $P -o json -c "$d/phdeploy.yaml" render --chart "$chart" --helm "$helm" \
		>json 2>err
	is $? 0 "and renders the real chart with helm 4 (exit 0)"
	grep -q '"event":"finding".*"severity":"error"' json
	is $? 1 "with no error finding"
	like "$(cat json)" '"event":"phase_end","phase":"render","status":"ok"' "render passed"
else
	skip 3 "no helm 4 or chart fixture ($PHD_TOOLS, $PHD_FIXTURES)"
fi
done_testing

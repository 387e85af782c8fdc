#!/bin/sh
# -o sarif and -o junit: the findings of a run as one SARIF 2.1.0 log
# (validated by Microsoft's SARIF Multitool when scripts/fetch-sarif-tool
# installed it) or one JUnit XML report, each finding at its file:line.
. "$top_srcdir/tests/tap/tap.sh"
tap_mktemp
cd "$TAPTMP" || exit 1
P=$PHDEPLOY
HA=$top_builddir/plugins/ha/.libs
[ -d "$HA" ] || { echo "1..0 # SKIP the ha plugin is not built"; exit 0; }
export PHDEPLOY_PLUGIN_PATH="$HA"

printf 'release: posthog\nnamespace: posthog\n' > phdeploy.yaml
printf 'cloud: aws\nweb:\n  replicacount: 1\n' > values.yaml

$P -f values.yaml -o sarif validate >out.sarif 2>err; is $? 3 "-o sarif keeps the exit status"
like "$(cat err)" "FAILED validate" "the text output still goes to stderr"
python3 - out.sarif >where <<'P'
import json, sys
log = json.load(open(sys.argv[1]))
assert log["version"] == "2.1.0"
for r in log["runs"][0]["results"]:
    for l in r["locations"]:
        pl = l.get("physicalLocation")
        if pl and r["ruleId"] == "replicas":
            print("%s %s:%d:%d %s" % (r["ruleId"], pl["artifactLocation"]["uri"],
                  pl["region"]["startLine"], pl["region"]["startColumn"], r["level"]))
P
ok $? "stdout is one SARIF 2.1.0 JSON document"
like "$(cat where)" "replicas values.yaml:3:17 error" "a finding is at its file:line:column"

$P -f values.yaml --set 'image.tag=release-1.43.0,web.replicacount=1' -o sarif validate \
	>set.sarif 2>/dev/null
like "$(cat set.sarif)" '"text": "Deployment/posthog-web: web.replicacount is 1' \
	"a --set finding is in the log"
like "$(cat set.sarif)" "(--set image.tag=release-1.43.0,web.replicacount=1; set web.replicacount)" \
	"positioned at the option in its text (no file to point at)"

tool=${PHD_TOOLS:-$HOME/.cache/phdeploy/tools}/sarif-multitool/node_modules/.bin/sarif-multitool
if [ -x "$tool" ]; then
	for f in out.sarif set.sarif; do
		rm -f "$f.check"
		"$tool" validate "$f" -o "$f.check" >/dev/null 2>&1
		ok $? "SARIF Multitool validates $f"
		n=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(sum(1 for r in d["runs"][0].get("results", []) if r.get("level") in ("error", "warning")))' "$f.check")
		is "$n" 0 "with no error or warning about $f"
		[ "$n" = 0 ] || diag "$(cat "$f.check")"
	done
else
	skip 4 "the SARIF Multitool is not installed (scripts/fetch-sarif-tool)"
fi

$P -f values.yaml -o junit validate >out.xml 2>/dev/null; is $? 3 "-o junit keeps the exit status"
python3 - out.xml >junit <<'P'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites"
for s in root:
    print("suite %s tests=%s failures=%s" % (s.get("name"), s.get("tests"), s.get("failures")))
    for c in s:
        f = c.find("failure")
        if c.get("classname") == "replicas" and c.get("file"):
            print("case %s %s %s:%s %s" % (c.get("classname"), c.get("name"), c.get("file"),
                  c.get("line"), "failed" if f is not None else "passed"))
P
ok $? "stdout is one JUnit XML document"
like "$(cat junit)" "suite validate tests=" "a testsuite per phase"
like "$(cat junit)" "case replicas Deployment/posthog-web values.yaml:3 failed" \
	"an error finding is a failed testcase at its file:line"
n_sarif=$(grep -c '"ruleId"' out.sarif)
n_junit=$(python3 -c 'import sys, xml.etree.ElementTree as ET
print(sum(1 for c in ET.parse(sys.argv[1]).iter("testcase") if c.get("classname") != "phase"))' out.xml)
is "$n_junit" "$n_sarif" "both list every finding once"
printf 'release: posthog\nnamespace: posthog\n' > ok.yaml
printf 'cloud: aws\n' > empty.yaml
PHDEPLOY_PLUGIN_PATH= $P -c ok.yaml -f empty.yaml -o junit validate >pass.xml 2>/dev/null
is $? 0 "a clean run exits 0 with -o junit"
like "$(cat pass.xml)" '<testsuite name="validate" tests="1" failures="0"' "a passing phase is one passing testcase"
done_testing

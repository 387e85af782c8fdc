#!/bin/sh
# The SigV4 verifier of tests/bin/aws-stand-in.py is right (AWS's worked
# example), and curl's own SigV4 header passes it; a wrong key does not.
. "$top_srcdir/tests/tap/tap.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
tap_mktemp
plan 5

out=$(python3 "$top_srcdir/tests/bin/aws-stand-in.py" --self-test)
ok $? "the verifier passes its self-test"
like "$out" "ok 2 - signature of the worked example is 5d672d79" \
	"it computes the documented signature of the IAM ListUsers example"

if ! command -v curl >/dev/null 2>&1; then
	skip 3 "curl command not installed"
	done_testing; exit
fi
cat > "$TAPTMP/conf.json" <<JSON
{"region": "us-east-1",
 "keys": {"AKIDCURL": {"secret": "curl/Secret+Key", "token": null}},
 "secrets": {"s": {"SecretString": "{\"a\": \"b\"}"}}}
JSON
mkfifo "$TAPTMP/in"
python3 "$top_srcdir/tests/bin/aws-stand-in.py" "$TAPTMP/conf.json" <"$TAPTMP/in" >"$TAPTMP/port" &
pid=$!
exec 3>"$TAPTMP/in"   # the stand-in lives while fd 3 is open
trap 'exec 3>&-; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$TAPTMP"' EXIT
i=0
while [ ! -s "$TAPTMP/port" ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.1; done
port=$(cat "$TAPTMP/port")
call() {
	curl -s --noproxy '*' --max-time 10 --aws-sigv4 "aws:amz:us-east-1:secretsmanager" \
		-u "AKIDCURL:$1" -H 'X-Amz-Target: secretsmanager.GetSecretValue' \
		-H 'Content-Type: application/x-amz-json-1.1' -d '{"SecretId": "s"}' \
		"http://127.0.0.1:$port/"
}
like "$(call 'curl/Secret+Key')" '"SecretString": "{\"a\": \"b\"}"' \
	"curl's SigV4 header verifies with the right secret key"
like "$(call 'curl/Secret+Kez')" '"__type": "InvalidSignatureException"' \
	"the same request under another key is refused"
like "$(curl -s --noproxy '*' --max-time 10 -H 'X-Amz-Target: secretsmanager.GetSecretValue' \
	-d '{}' "http://127.0.0.1:$port/")" '"__type": "IncompleteSignatureException"' \
	"an unsigned request is refused"
done_testing

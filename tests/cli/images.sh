#!/bin/sh
# The images plugin against a real registry: Debian's docker-registry (the
# CNCF distribution registry) on 127.0.0.1 with TLS from a test CA and
# htpasswd auth, images pushed by skopeo from OCI layouts this test writes,
# rendered by real helm from tests/data/images/chart; the bearer-token flow,
# a slow registry, a 100 MB answer and a redirect loop from tests/bin/oci-edge.
. "$top_srcdir/tests/tap/tap.sh"
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}use_tls=0
export LSAN_OPTIONS

[ -x "$PHDEPLOY" ] || skip_all "no phdeploy binary at $PHDEPLOY"
[ -x "$PHD_TOOLS/helm4" ] || skip_all "no helm4 in $PHD_TOOLS (run scripts/fetch-tools)"
command -v docker-registry >/dev/null 2>&1 ||
	skip_all "docker-registry is not installed (apt-get install docker-registry)"
command -v skopeo >/dev/null 2>&1 || skip_all "skopeo is not installed (apt-get install skopeo)"
command -v htpasswd >/dev/null 2>&1 || skip_all "htpasswd is not installed (apache2-utils)"
tap_mktemp
T=$TAPTMP
bin=$top_srcdir/tests/bin
B=$top_builddir
PHDEPLOY_PLUGIN_PATH=$B/plugins/helm/.libs:$B/plugins/images/.libs:$B/plugins/secret-file/.libs:$B/plugins/kube/.libs
PHDEPLOY_IMAGES_RESOLVE=1
export PHDEPLOY_PLUGIN_PATH PHDEPLOY_IMAGES_RESOLVE
edge_pid=
cleanup() {
	"$bin/oci-registry" stop "$T/reg" 2>/dev/null
	[ -f "$T/kube/pid" ] && "$bin/kube-api" stop "$T/kube" 2>/dev/null
	[ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null
}
trap cleanup EXIT

"$bin/oci-registry" start "$T/reg" > "$T/start.log" 2>&1 ||
	{ diag "$(cat "$T/start.log")"; skip_all "the registry does not start"; }
P=$(cat "$T/reg/port")
R=127.0.0.1:$P
pass=$(cat "$T/reg/password")
"$bin/oci-edge" "$T/reg" > /dev/null 2> "$T/edge.err" &
edge_pid=$!
i=0
while [ ! -s "$T/reg/edge-port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/reg/edge-port" ] || skip_all "oci-edge did not start: $(cat "$T/edge.err")"
E=127.0.0.1:$(cat "$T/reg/edge-port")

# images pushed by skopeo from layouts written here
mkdir -p "$T/certs"
cp "$T/reg/ca.crt" "$T/certs/"
"$bin/oci-layout" "$T/single" single
"$bin/oci-layout" "$T/multi" multi
printf 'phd:%s' "$pass" > "$T/creds"
push() { # layout dest [--all]
	skopeo copy --quiet $3 --dest-cert-dir "$T/certs" --dest-creds "phd:$pass" \
		"oci:$T/$1:v1" "docker://$R/$2" > "$T/push.log" 2>&1
}
push single phd/app:v1 && push multi phd/multi:v1 --all
ok $? "skopeo pushes an image and an index to the registry" || diag "$(cat "$T/push.log")"
digest=$(skopeo inspect --raw --cert-dir "$T/certs" --creds "phd:$pass" "docker://$R/phd/app:v1" |
	sha256sum | cut -d' ' -f1)

auth=$(printf 'phd:%s' "$pass" | base64 -w0)
bad=$(printf 'phd:%s' "wrong-password" | base64 -w0)
secret() { # name auths-json
	printf 'apiVersion: v1\nkind: Secret\nmetadata: { name: %s, namespace: t }\n' "$1"
	printf 'type: kubernetes.io/dockerconfigjson\nstringData:\n'
	printf "  .dockerconfigjson: '%s'\n" "$2"
}
{
	secret regcred "{\"auths\":{\"$R\":{\"auth\":\"$auth\"},\"$E\":{\"auth\":\"$auth\"}}}"
	echo ---
	secret regbad "{\"auths\":{\"$R\":{\"auth\":\"$bad\"},\"$E\":{\"auth\":\"$bad\"}}}"
} > "$T/pull.secret.yaml"
# the edge registry's CA is found where docker looks: certs.d/HOST:PORT/ca.crt
mkdir -p "$T/certs.d/$E"
cp "$T/reg/ca.crt" "$T/certs.d/$E/ca.crt"

config() { # name values [extra images: lines]
	{
		echo "release: t"
		echo "namespace: t"
		echo "chart: { name: \"$top_srcdir/tests/data/images/chart\" }"
		echo "values: [\"$2\"]"
		echo "secrets: [ { provider: file, path: \"$T/pull.secret.yaml\" } ]"
		echo "images:"
		echo "  timeout: ${TIMEOUT:-10s}"
		echo "  certs_dirs: [\"$T/certs.d\"]"
		echo "  registries: { \"$R\": { ca: \"$T/reg/ca.crt\" } }"
		[ -n "${3:-}" ] && printf '%s\n' "$3"
	} > "$T/$1.yaml"
}
plan() { # config -> $T/NAME.out (JSON), $T/NAME.err; sets rc
	"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$T/$1.yaml" --skip preflight -o json plan \
		> "$T/$1.out" 2> "$T/$1.err"
	rc=$?
}
finding() { # name object rule: the message of that finding
	grep "\"rule\":\"$3\"" "$T/$1.out" | grep "\"object\":\"$2\"" | head -1
}

cat > "$T/main.values.yaml" <<EOF
apps:
  - { name: present, image: "$R/phd/app:v1", pullSecret: regcred }
  - { name: notag, image: "$R/phd/app:v2", pullSecret: regcred }
  - { name: norepo, image: "$R/phd/nothing:v1", pullSecret: regcred }
  - { name: multi, image: "$R/phd/multi:v1", pullSecret: regcred }
  - { name: wrongpw, image: "$R/phd/app:v1", pullSecret: regbad }
  - { name: anon, image: "$R/phd/multi:v1" }
  - { name: tokanon, image: "$E/tok/app:v1" }
  - { name: tokuser, image: "$E/tok/app:v1", pullSecret: regcred }
  - { name: tokbad, image: "$E/tok/app:v1", pullSecret: regbad }
  - { name: big, image: "$E/big/app:v1" }
  - { name: loop, image: "$E/loop/app:v1" }
cron: { image: "$R/phd/app:v1" }
chi: { image: "$R/phd/app:v1" }
EOF
config main "$T/main.values.yaml"
plan main
is "$rc" 7 "a missing image fails the render phase (exit 7) before the deploy"
unlike "$(cat "$T/main.out")" '"phase":"deploy","status":"ok"' "the deploy is not reached"

f=$(finding main Deployment/present/main image-resolved)
like "$f" "$R/phd/app@sha256:$digest" "present: resolved to the digest of what skopeo pushed"
like "$f" '"values_key":"apps[0].image"' "present: the values key that sets it is named"
f=$(finding main CronJob/nightly/prepare image-denied)
like "$f" "(and 2 more objects)" \
	"a CronJob's init container and container and a CHI pod template: one finding"
like "$(finding main Deployment/notag/main image-missing)" '"values_key":"apps[1].image"' \
	"the values key is the one that names this image, tag included"
f=$(finding main Deployment/notag/main image-missing)
like "$f" "has no tag v2; its tags: v1" "missing tag: named, with the tags the repository has"
like "$f" "asked with imagePullSecret regcred" "missing tag: the pull secret it was asked with"
f=$(finding main Deployment/norepo/main image-missing)
like "$f" "has no repository phd/nothing" "missing repository: told apart from a missing tag"
f=$(finding main Deployment/multi/main image-platform)
like "$f" "has no linux/amd64 image: the index offers linux/arm64, linux/s390x" \
	"an index without the nodes' platform is an error"
f=$(finding main Deployment/wrongpw/main image-denied)
like "$f" "refuses access to phd/app (HTTP 401)" "wrong credentials: image-denied"
f=$(finding main Deployment/anon/main image-denied)
like "$f" "none are known" "no credentials for an authenticated registry: image-denied"
f=$(finding main Deployment/tokanon/main image-resolved)
like "$f" "$E/tok/app@sha256:" "bearer flow: an anonymous token resolves the image"
f=$(finding main Deployment/tokuser/main image-resolved)
like "$f" "$E/tok/app@sha256:" "bearer flow: a token asked with the pull secret's credentials"
like "$(cat "$T/reg/edge.log")" "GET /token?service=edge&scope=repository%3Atok%2Fapp%3Apull auth=basic" \
	"bearer flow: the realm is asked with service, scope and basic credentials"
like "$(cat "$T/reg/edge.log")" "HEAD /v2/tok/app/manifests/v1 auth=bearer" \
	"bearer flow: the manifest is asked again with the token"
f=$(finding main Deployment/tokbad/main image-denied)
like "$f" "/token refused the credentials (HTTP 401)" "bearer flow: wrong credentials are denied"
f=$(finding main Deployment/big/main image-registry)
like "$f" "larger than 4096 KiB: refused" "a 100 MB manifest answer is cut at the bound"
f=$(finding main Deployment/loop/main image-registry)
like "$f" "more than 5 redirects" "a redirect loop is stopped"
unlike "$(cat "$T/main.out" "$T/main.err")" "$pass" "no password in the output"
unlike "$(cat "$T/main.out" "$T/main.err")" "$auth" "no encoded credentials in the output"

# pins: image-digest off by default, an error when asked for
cat > "$T/pins.values.yaml" <<EOF
apps:
  - { name: pinned, image: "$R/phd/app@sha256:$digest", pullSecret: regcred }
  - { name: tagged, image: "$R/phd/app:v1", pullSecret: regcred }
EOF
config pins "$T/pins.values.yaml"
plan pins
is "$rc" 0 "present images, pinned or not: the plan goes through"
config pinsreq "$T/pins.values.yaml" "rules: { image-digest: error }"
plan pinsreq
is "$rc" 7 "rules: { image-digest: error } refuses an image without a digest"
f=$(finding pinsreq Deployment/tagged/main image-digest)
like "$f" "pin it as $R/phd/app@sha256:$digest" "image-digest gives the pin to paste"
unlike "$(finding pinsreq Deployment/pinned/main image-digest)" "image-digest" \
	"a digest-pinned image is not an image-digest finding"
jq=$(grep '"rule":"image-resolved"' "$T/pins.out" | sed 's/.*"message":"\([^ ]*\) .*/\1/' | sort -u)
is "$jq" "$R/phd/app@sha256:$digest" "the documented filter prints the pins"

# an oci:// chart pushed with real helm, pulled and verified by the repo phase
helm=$PHD_TOOLS/helm4
HELM_REGISTRY_CONFIG=$T/helm-registry.json
export HELM_REGISTRY_CONFIG
"$helm" package "$top_srcdir/tests/data/images/chart" -d "$T" > /dev/null &&
	printf '%s' "$pass" | "$helm" registry login "$R" -u phd --password-stdin \
		--ca-file "$T/reg/ca.crt" > "$T/login.log" 2>&1 &&
	"$helm" push "$T/images-test-0.1.0.tgz" "oci://$R/charts" --ca-file "$T/reg/ca.crt" \
		> "$T/helmpush.log" 2>&1
ok $? "helm push puts the chart in the registry" || diag "$(cat "$T/login.log" "$T/helmpush.log")"
tgz=$(sha256sum "$T/images-test-0.1.0.tgz" | cut -d' ' -f1)
ociconfig() { # name version
	config "$1" "$T/pins.values.yaml"
	sed -i "s|^chart: .*|chart: { name: \"oci://$R/charts/images-test\", version: \"$2\" }|" \
		"$T/$1.yaml"
}
ociconfig oci 0.1.0
SSL_CERT_FILE=$T/reg/ca.crt plan oci
is "$rc" 0 "an oci:// chart: pulled with helm's registry login, rendered, planned"
out=$(cat "$T/oci.out")
like "$out" "\"digest\":\"sha256:$tgz\",\"archive\":" "the chart event: the layer digest, the archive's sha256"
like "$out" "\"source\":\"oci\"" "the chart event: source oci"
like "$out" "images-test-0.1.0.tgz" "helm is handed the verified archive"
ociconfig ocimissing 0.2.0
SSL_CERT_FILE=$T/reg/ca.crt plan ocimissing
is "$rc" 6 "an oci:// chart version the registry lacks fails the repo phase"
like "$(cat "$T/ocimissing.out")" "has no tag 0.2.0; its tags: 0.1.0" "its message names the tags"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$bad" > "$HELM_REGISTRY_CONFIG"
SSL_CERT_FILE=$T/reg/ca.crt plan oci
is "$rc" 6 "a wrong helm registry login fails the repo phase"
like "$(cat "$T/oci.out")" "(denied)" "... as denied"
unset HELM_REGISTRY_CONFIG

# ECR: basic credentials from GetAuthorizationToken, asked with the AWS
# credential chain and SigV4 (the edge server verifies the signature)
EH=127.0.0.1:$(cat "$T/reg/edge-http-port")
printf 'ecr-test-secret-%s' "$$" > "$T/reg/aws-secret"
cat > "$T/ecr.values.yaml" <<EOF
apps:
  - { name: ecr, image: "$R/phd/app:v1" }
EOF
config ecr "$T/ecr.values.yaml"
sed -i "s|\"$R\": { ca: \"$T/reg/ca.crt\" }|\"$R\": { ca: \"$T/reg/ca.crt\", ecr_region: eu-west-1 }|" \
	"$T/ecr.yaml"
ecr() { # secret
	env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_WEB_IDENTITY_TOKEN_FILE \
		AWS_ACCESS_KEY_ID=AKIDECRTEST AWS_SECRET_ACCESS_KEY="$1" \
		AWS_ENDPOINT_URL_ECR="http://$EH/" AWS_CONFIG_FILE=/nonexistent \
		AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true \
		"$PHDEPLOY" --helm "$PHD_TOOLS/helm4" -c "$T/ecr.yaml" --skip preflight -o json plan \
		> "$T/ecr.out" 2> "$T/ecr.err"
	rc=$?
}
ecr "$(cat "$T/reg/aws-secret")"
is "$rc" 0 "ECR: the registry is asked with the token GetAuthorizationToken answered"
like "$(finding ecr Deployment/ecr/main image-resolved)" "$R/phd/app@sha256:$digest" \
	"ECR: the image resolves with the token"
like "$(cat "$T/reg/edge.log")" "POST / auth=aws4-hmac-sha256" "ECR: the token request is signed"
unlike "$(cat "$T/ecr.out" "$T/ecr.err")" "$pass" "ECR: no token in the output"
ecr wrong-secret
is "$rc" 7 "ECR: a refused GetAuthorizationToken fails the render phase"
like "$(finding ecr Deployment/ecr/main image-denied)" "no ECR token: " "ECR: ... as image-denied"
unlike "$(cat "$T/ecr.out" "$T/ecr.err")" "wrong-secret" "ECR: no AWS secret in the output"

# plain http: only for a registry the config names insecure
cat > "$T/http.values.yaml" <<EOF
apps:
  - { name: plain, image: "$EH/tok/app:v1" }
EOF
config http "$T/http.values.yaml"
plan http
like "$(finding http Deployment/plain/main image-unreachable)" "https://$EH/v2/tok/app" \
	"a plain-http registry is asked over https only"
config httpok "$T/http.values.yaml"
sed -i "s|registries: { |registries: { \"$EH\": { insecure: true }, |" "$T/httpok.yaml"
plan httpok
like "$(finding httpok Deployment/plain/main image-resolved)" "$EH/tok/app@sha256:" \
	"registries.HOST.insecure: true allows plain http (and an http token realm)"

# offline in render: images.resolve false asks no registry, still names a
# withdrawn image the values table does not know and an invalid reference
cat > "$T/off.values.yaml" <<EOF
apps:
  - { name: shell, image: "docker.io/bitnami/bitnami-shell:10-debian-10-r200" }
  - { name: upper, image: "$E/Tok/App:v1" }
EOF
config off "$T/off.values.yaml" "  resolve: false"
before=$(wc -l < "$T/reg/edge.log")
plan off
is "$rc" 7 "an invalid image reference fails the render phase, offline"
like "$(finding off Deployment/upper/main image-invalid)" "is not a valid reference" \
	"image-invalid names the image and why"
like "$(finding off Deployment/shell/main image-withdrawn)" "use bitnamilegacy/bitnami-shell" \
	"render names a withdrawn image the values table does not list"
is "$(wc -l < "$T/reg/edge.log")" "$before" "images.resolve: false asks no registry"

# the nodes' platforms from the live cluster (kube-api's nodes are linux/amd64)
if [ -x "$PHD_TOOLS/kubectl" ] && "$bin/kube-api" start "$T/kube" > "$T/kube.log" 2>&1; then
	cat > "$T/nodes.values.yaml" <<EOF
apps:
  - { name: multi, image: "$R/phd/multi:v1", pullSecret: regcred }
EOF
	config nodes "$T/nodes.values.yaml" "  platforms: [linux/arm64]"
	plan nodes
	is "$rc" 0 "platforms: [linux/arm64]: the arm64-and-s390x index is fine"
	config nodes "$T/nodes.values.yaml" "  platforms: [linux/arm64]
  node_platforms: true
kube: { context: stand-in }"
	KUBECONFIG=$T/kube/kubeconfig "$PHDEPLOY" --helm "$PHD_TOOLS/helm4" \
		--kubectl "$PHD_TOOLS/kubectl" -c "$T/nodes.yaml" --skip preflight -o json plan \
		> "$T/nodes.out" 2> "$T/nodes.err"
	is "$?" 7 "node_platforms: true: the live nodes' platform wins over platforms:"
	like "$(finding nodes Deployment/multi/main image-platform)" "has no linux/amd64 image" \
		"... and the index lacks the nodes' linux/amd64"
	like "$(cat "$T/kube/requests.log")" "GET /api/v1/nodes" "the nodes were read from the cluster"
	"$bin/kube-api" stop "$T/kube"
else
	skip 4 "no kubectl in $PHD_TOOLS or kube-api does not start"
fi

# a slow registry and one that is down, under a 2 s deadline
"$bin/oci-registry" stop "$T/reg"
cat > "$T/down.values.yaml" <<EOF
apps:
  - { name: slow, image: "$E/slow/app:v1" }
  - { name: down, image: "$R/phd/app:v1", pullSecret: regcred }
EOF
TIMEOUT=2s config down "$T/down.values.yaml"
start=$(date +%s)
plan down
took=$(( $(date +%s) - start ))
is "$rc" 0 "an unreachable registry is a warning by default"
ok "$([ "$took" -lt 15 ]; echo $?)" "the deadline bounds a registry that does not answer (${took}s)"
like "$(finding down Deployment/slow/main image-unreachable)" "no answer before the deadline" \
	"slow past the deadline: image-unreachable"
like "$(finding down Deployment/down/main image-unreachable)" "Couldn't connect to server" \
	"registry down: image-unreachable"
TIMEOUT=2s config downreq "$T/down.values.yaml" "rules: { image-unreachable: error }"
plan downreq
is "$rc" 7 "rules: { image-unreachable: error } makes it fail the run"

# offline: the chart's withdrawn images, named in validate without a network
chart=$PHD_FIXTURES/posthog-30.46.0.tgz
if [ -f "$chart" ]; then
	printf 'cloud: aws\n' > "$T/ph.values.yaml"
	printf 'release: posthog\nnamespace: posthog\nchart: { name: "%s" }\nvalues: ["%s"]\n' \
		"$chart" "$T/ph.values.yaml" > "$T/ph.yaml"
	PHDEPLOY_PLUGIN_PATH=$B/plugins/images/.libs "$PHDEPLOY" -c "$T/ph.yaml" -o json validate \
		> "$T/ph.out" 2>&1
	out=$(grep image-withdrawn "$T/ph.out")
	like "$out" 'bitnami/zookeeper:3.7.0-debian-10-r70 (the chart'"'"'s default): Bitnami withdrew its versioned tags from docker.io/bitnami in 2025; use bitnamilegacy/zookeeper (same tag) or a mirror that still has it","values_key":"zookeeper.image.repository"' \
		"validate: the withdrawn ZooKeeper tag, its values key and replacement"
	like "$out" '"values_key":"pgbouncer.image.repository"' "validate: the withdrawn PgBouncer tag"
	printf 'cloud: aws\nzookeeper: { image: { repository: bitnamilegacy/zookeeper } }\n' \
		> "$T/ph.values.yaml"
	PHDEPLOY_PLUGIN_PATH=$B/plugins/images/.libs "$PHDEPLOY" -c "$T/ph.yaml" -o json validate \
		> "$T/ph.out" 2>&1
	unlike "$(cat "$T/ph.out")" 'zookeeper.image.repository' \
		"validate: bitnamilegacy/zookeeper is not withdrawn"
else
	skip 3 "no chart fixture at $PHD_FIXTURES"
fi
done_testing

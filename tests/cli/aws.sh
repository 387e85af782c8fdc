#!/bin/sh
# The aws check against tests/bin/aws-stand-in.py: the real AWS CLI parses
# the stand-in's answers and its signed requests pass the stand-in's SigV4
# verifier (so the stand-in is faithful), then `phdeploy preflight` finds
# each resource from the values and reports every HA fact.  EKS clusters
# without managed node groups are judged by their nodes' zone labels, read
# with real kubectl from tests/bin/kube-api.
. "$top_srcdir/tests/tap/tap.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
tap_mktemp
plan 74

B="$top_builddir"
base="$top_srcdir/tests/data/aws-stand-in.json"
pid=
stop() { [ -n "$pid" ] && { exec 3>&-; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; pid=; }
trap 'stop; rm -rf "$TAPTMP"' EXIT
# start MUTATION: the base scenario changed by a python statement on c
start() {
	stop
	python3 - "$base" "$TAPTMP/conf.json" "$TAPTMP/log.jsonl" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["log"] = sys.argv[3]
exec(sys.argv[4])
json.dump(c, open(sys.argv[2], "w"))
PY
	: > "$TAPTMP/log.jsonl"
	rm -f "$TAPTMP/in" "$TAPTMP/port"
	mkfifo "$TAPTMP/in"
	python3 "$top_srcdir/tests/bin/aws-stand-in.py" "$TAPTMP/conf.json" <"$TAPTMP/in" \
		>"$TAPTMP/port" &
	pid=$!
	exec 3>"$TAPTMP/in"
	i=0
	while [ ! -s "$TAPTMP/port" ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.1; done
	port=$(cat "$TAPTMP/port")
	export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
}
for v in $(env | sed -n 's/^\(AWS_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export HOME="$TAPTMP" AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY='test/Secret+Key' \
	AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
	AWS_PAGER= NO_PROXY='*' no_proxy='*'

# ---- the real AWS CLI against the stand-in -------------------------------
start 'pass'
AWS=$(command -v aws)
if [ -z "$AWS" ] || ! "$AWS" --version >/dev/null 2>&1; then
	skip 9 "the AWS CLI (Debian awscli) is not installed"
else
	A() { "$AWS" --endpoint-url "$AWS_ENDPOINT_URL" --output text "$@" 2>&1; }
	like "$(A rds describe-db-instances --query 'DBInstances[].[DBInstanceIdentifier,MultiAZ]')" \
		"posthog	True" "aws rds describe-db-instances parses the XML, following Marker pages"
	like "$(A rds describe-db-clusters --query 'DBClusters[].DBClusterMembers[].DBInstanceIdentifier')" \
		"aur-1	aur-2" "aws rds describe-db-clusters reads the members"
	like "$(A elasticache describe-replication-groups --query \
		'ReplicationGroups[].[AutomaticFailover,MultiAZ,NodeGroups[0].PrimaryEndpoint.Address]')" \
		"enabled	enabled	master.ph.x.use1.cache.amazonaws.com" \
		"aws elasticache describe-replication-groups reads failover and endpoint"
	like "$(A elasticache describe-cache-clusters --cache-cluster-id ph-002 --show-cache-node-info \
		--query 'CacheClusters[].[EngineVersion,CacheNodes[0].Endpoint.Address]')" \
		"6.2.6	ph-002.ph.x.use1.cache.amazonaws.com" \
		"aws elasticache describe-cache-clusters reads the engine version and the nodes"
	like "$(A ec2 describe-subnets --subnet-ids subnet-a subnet-c --query 'Subnets[].AvailabilityZone')" \
		"us-east-1c" "aws ec2 describe-subnets maps subnets to zones"
	like "$(A kafka list-clusters-v2 --query 'ClusterInfoList[].Provisioned.NumberOfBrokerNodes')" \
		"$(printf '2\n3')" "aws kafka list-clusters-v2 follows nextToken and reads the broker count"
	like "$(A kafka get-bootstrap-brokers --cluster-arn \
		arn:aws:kafka:us-east-1:123456789012:cluster/ph/abcd-1)" \
		"b-1.ph.kafka.us-east-1.amazonaws.com:9092" \
		"aws kafka get-bootstrap-brokers: the ARN path segment signed twice-encoded passes"
	like "$(A kafka describe-configuration-revision --arn \
		arn:aws:kafka:us-east-1:123456789012:configuration/ph/cfg-1 --revision 1 \
		--query ServerProperties)" "YXV0by5jcmVhdGUudG9waWNz" \
		"aws kafka describe-configuration-revision reads the properties blob"
	like "$(A eks describe-nodegroup --cluster-name prod --nodegroup-name ng-1 \
		--query nodegroup.subnets)" "subnet-a	subnet-b" "aws eks describe-nodegroup reads the subnets"
fi
# The twice-encoded canonical URI, independent of the installed curl: the
# stand-in's verifier computes the worked example tests/data/sigv4-arn.creq
# (botocore's rules; tests/plugins/aws-sigv4-t proves our signer does too),
# and botocore itself, when installed with the AWS CLI, agrees.
creq="$top_srcdir/tests/data/sigv4-arn.creq"
out=$(python3 - "$top_srcdir/tests/bin" "$creq" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("standin", sys.argv[1] + "/aws-stand-in.py")
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
path = ("/v1/clusters/arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Acluster%2Fph%2Fabcd-1"
        "/bootstrap-brokers")
h = {"host": "kafka.us-east-1.amazonaws.com", "x-amz-date": "20150830T123600Z"}
c = m.canonical_request("GET", path, "", h, ["host", "x-amz-date"], b"")
print("same" if c == open(sys.argv[2]).read().rstrip("\n") else "differs:\n" + c)
print(m.signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z",
                  ("20150830", "us-east-1", "kafka"), c))
PY
)
like "$out" "same" "the stand-in's canonical request of an ARN path is the worked example"
like "$out" "d00e58cc146aa21fb21590a7067fa1a859a52433c0203582835dc9f1c36750c6" \
	"... and its signature the example's"
if python3 -c 'import botocore' 2>/dev/null; then
	out=$(python3 - "$creq" <<'PY'
import sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
r = AWSRequest(method="GET", url="https://kafka.us-east-1.amazonaws.com/v1/clusters/"
               "arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Acluster%2Fph%2Fabcd-1"
               "/bootstrap-brokers", headers={"X-Amz-Date": "20150830T123600Z"})
r.context["timestamp"] = "20150830T123600Z"
a = SigV4Auth(Credentials("AKIDEXAMPLE", "x"), "kafka", "us-east-1")
c = a.canonical_request(r)
print("same" if c == open(sys.argv[1]).read().rstrip("\n") else "differs:\n" + c)
PY
)
	like "$out" "same" "botocore computes the same canonical request (each segment encoded twice)"
else
	skip 1 "botocore (Debian awscli) is not installed"
fi

# ---- phdeploy preflight with the aws plugin ------------------------------
values() {
	cat > "$TAPTMP/values.yaml" <<EOF
postgresql: {enabled: false}
externalPostgresql: {postgresqlHost: ${PGHOST:-posthog.x.us-east-1.rds.amazonaws.com}}
redis: {enabled: false}
externalRedis: {host: master.ph.x.use1.cache.amazonaws.com}
kafka: {enabled: false}
externalKafka: {brokers: ["${BROKER:-b-1.ph.kafka.us-east-1.amazonaws.com:9092}"]${KTLS:-}}
${VENV:-}
EOF
}
run() { # run CHECKS-AWS-SETTINGS
	values
	printf 'release: posthog\nnamespace: posthog\nvalues: [values.yaml]\nchecks:\n  aws: {%s}\n' \
		"${1:-timeout: 10s, eks_cluster: prod}" > "$TAPTMP/phdeploy.yaml"
	out=$(PHDEPLOY_PLUGIN_PATH="$B/plugins/aws/.libs" "$B/src/phdeploy" -c "$TAPTMP/phdeploy.yaml" \
		--only preflight ${RUNARGS:-} preflight 2>&1)
	rc=$?
	# the text output wraps a check's notes at 100 columns: join them back
	out=$(printf '%s\n' "$out" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n         */ /g')
}
calls() { grep -c "\"action\": \"$1\"" "$TAPTMP/log.jsonl"; }

start 'pass'
run
is "$rc" 0 "HA everywhere: preflight passes"
like "$out" "RDS posthog Multi-AZ; ElastiCache ph failover over 2 zones; MSK ph 3 brokers/3 zones; EKS prod nodes in 3 zones" \
	"the summary says each service's HA fact"
is "$(calls DescribeDBInstances)" 4 "DescribeDBInstances followed its Marker over 4 pages"
is "$(grep -c '"ok": false' "$TAPTMP/log.jsonl")" 0 "every request the plugin signed verified"
is "$(calls GetBootstrapBrokers)" 2 "MSK: the second page's cluster was found by its brokers"
is "$(grep -c '"action": "DescribeCacheClusters".*"ShowCacheNodeInfo": "true"' "$TAPTMP/log.jsonl")" 2 \
	"ElastiCache: each member cluster's engine version is read (ShowCacheNodeInfo)"

# ---- ElastiCache engine version against the chart's Redis range -----------
start 'for x in c["elasticache"]["cache_clusters"]: x["EngineVersion"] = "7.1.0"'
run
is "$rc" 5 "ElastiCache Redis 7.1 (above the chart's range) fails the check"
like "$out" "ElastiCache ph (EngineVersion of cache cluster ph-001): Redis 7.1.0 is above PostHog's accepted range (>=5.0.0,<=6.3.0)" \
	"... naming the AWS setting and the range"
like "$out" "SKIP_SERVICE_VERSION_REQUIREMENTS=1, and they do not" "... and the env var PostHog needs"
VENV='env: [{name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: "1"}]' run
is "$rc" 0 "... with SKIP_SERVICE_VERSION_REQUIREMENTS=1 in the values it passes"
start 'c["elasticache"]["cache_clusters"][1]["EngineVersion"] = "4.0.10"'
run
like "$out" "cache cluster ph-002): Redis 4.0.10 is below PostHog's accepted range" \
	"a member below the range: the oldest member counts"
like "$out" "modify-replication-group --replication-group-id ph --engine-version VERSION" \
	"... with the command that upgrades it"

start 'c["rds"]["instances"][1]["MultiAZ"] = False'
run
is "$rc" 5 "a single-AZ RDS instance fails the check"
like "$out" "RDS instance posthog is single-AZ" "... naming the instance"
like "$out" "modify-db-instance --db-instance-identifier posthog --multi-az" "... with the setting to change"

start 'pass'
PGHOST=aur.cluster-x.us-east-1.rds.amazonaws.com run
is "$rc" 5 "an Aurora cluster with its reader in the writer's zone fails"
like "$out" "RDS cluster aur has no reader in another zone" "... said so"
start 'c["rds"]["instances"][3]["AvailabilityZone"] = "us-east-1b"'
PGHOST=aur.cluster-x.us-east-1.rds.amazonaws.com run
like "$out" "RDS cluster aur: readers in another zone" "a reader in another zone passes"

start 'c["elasticache"]["groups"][0].update(AutomaticFailover="disabled", MultiAZ="disabled")'
run
like "$out" "AutomaticFailover is disabled" "no failover: AutomaticFailover named"
like "$out" "multi-az-enabled" "... and MultiAZ, with the command"

start 'g = c["elasticache"]["groups"][0]; g.update(ClusterEnabled=True, ConfigurationEndpoint={"Address": "cfg.ph.x", "Port": 6379})'
run
like "$out" "cluster mode enabled" "cluster mode is refused"

start 'c["elasticache"]["groups"][0].update(TransitEncryptionEnabled=True, AuthTokenEnabled=True)'
run
like "$out" "in-transit encryption (TransitEncryptionEnabled, AuthTokenEnabled)" \
	"TLS-only Redis: the chart cannot speak TLS to it"

start 'c["elasticache"]["groups"][0]["NodeGroups"][0]["NodeGroupMembers"][1]["PreferredAvailabilityZone"] = "us-east-1a"'
run
like "$out" "its 2 nodes are all in us-east-1a" "Redis replicas in one zone"

start 'c["kafka"]["brokers"]["arn:aws:kafka:us-east-1:123456789012:cluster/ph/abcd-1"] = {"bootstrapBrokerStringSaslIam": "b-1.ph.kafka.us-east-1.amazonaws.com:9098"}; c["kafka"]["clusters"][1]["provisioned"]["clientAuthentication"] = {"sasl": {"iam": {"enabled": True}}, "unauthenticated": {"enabled": False}}'
BROKER=b-1.ph.kafka.us-east-1.amazonaws.com:9098 run
like "$out" "the chart cannot speak IAM" "IAM-only MSK: refused"
start 'c["kafka"]["brokers"]["arn:aws:kafka:us-east-1:123456789012:cluster/ph/abcd-1"] = {"bootstrapBrokerStringTls": "b-1.ph.kafka.us-east-1.amazonaws.com:9094"}; c["kafka"]["clusters"][1]["provisioned"]["encryptionInfo"]["encryptionInTransit"]["clientBroker"] = "TLS"'
BROKER=b-1.ph.kafka.us-east-1.amazonaws.com:9094 run
like "$out" "TLS brokers (port 9094) but externalKafka.tls is not true" "TLS-only MSK without externalKafka.tls"
BROKER=b-1.ph.kafka.us-east-1.amazonaws.com:9094 KTLS=", tls: true" run
is "$rc" 0 "TLS-only MSK with externalKafka.tls: true passes"

start 'c["kafka"]["clusters"][1]["provisioned"]["brokerNodeGroupInfo"]["clientSubnets"] = ["subnet-a", "subnet-b", "subnet-b"]; c["eks"]["nodegroups"]["prod"] = [{"nodegroupName": "ng-1", "subnets": ["subnet-a", "subnet-b"]}]'
run
like "$out" "MSK ph's brokers span 2 zone(s)" "MSK over two zones fails"
like "$out" "EKS prod: its 1 node group(s) span 2 zone(s)" "EKS node groups over two zones fail"

start 'c["kafka"]["configurations"]["arn:aws:kafka:us-east-1:123456789012:configuration/ph/cfg-1/1"] = "log.retention.hours=24\n"'
run
like "$out" "auto.create.topics.enable is not true" "MSK without auto.create.topics.enable: a warning"
is "$rc" 0 "... not an error"

start 'c["faults"] = {"DescribeDBInstances": {"throttle": 2}, "ListClustersV2": {"throttle": 1}}'
run
is "$rc" 0 "throttled calls are retried until they pass"
is "$(calls DescribeDBInstances)" 6 "... DescribeDBInstances twice more (Throttling, HTTP 400)"
is "$(calls ListClustersV2)" 3 "... ListClustersV2 once more (HTTP 429)"

start 'c["faults"] = {"DescribeDBInstances": {"reset": 2}, "GetBootstrapBrokers": {"reset": 1}}'
run
is "$rc" 0 "connections reset without an answer are retried until they pass"
is "$(calls DescribeDBInstances)" 6 "... DescribeDBInstances twice more"
is "$(calls GetBootstrapBrokers)" 3 "... GetBootstrapBrokers once more (REST-JSON)"

# a refused connection: the stand-in starts on its port 1.5 s after phdeploy
stop
lport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AWS_ENDPOINT_URL="http://127.0.0.1:$lport"
t0=$(date +%s)
(run; echo "$rc" > "$TAPTMP/late.rc") &
late=$!
sleep 1.5
start "c['port'] = $lport"
wait "$late"
t1=$(date +%s)
is "$(cat "$TAPTMP/late.rc")" 0 "an endpoint that refuses connections, then accepts: the check passes"
ok "$([ $((t1 - t0)) -ge 1 ] && echo 0 || echo 1)" "... after retrying while it refused ($((t1 - t0)) s)"

start 'c["faults"] = {"DescribeReplicationGroups": {"deny": True}, "DescribeSubnets": {"deny": True}}'
run
like "$out" "lack the IAM permission elasticache:DescribeReplicationGroups" "AccessDenied names the IAM action"
like "$out" "lack the IAM permission ec2:DescribeSubnets" "... EC2's UnauthorizedOperation too"

start 'c["faults"] = {"DescribeDBInstances": {"malformed": True}, "ListClustersV2": {"malformed": True}}'
run
like "$out" "rds DescribeDBInstances: the answer is not well-formed XML" "malformed XML is an error"
like "$out" "kafka ListClustersV2: the answer is not a JSON object" "malformed JSON is an error"

start 'c["faults"] = {"DescribeDBInstances": {"hang": 30}}'
t0=$(date +%s)
run "timeout: 2s, eks_cluster: prod"
t1=$(date +%s)
is "$rc" 5 "a hung endpoint fails the check"
ok "$([ $((t1 - t0)) -lt 6 ] && echo 0 || echo 1)" "... within its deadline ($((t1 - t0)) s)"
like "$out" "deadline" "... saying so"

start 'pass'
PGHOST=posthgo.x.us-east-1.rds.amazonaws.com run
is "$rc" 5 "an endpoint matching no resource fails"
like "$out" "externalPostgresql.postgresqlHost \"posthgo.x.us-east-1.rds.amazonaws.com\" ($TAPTMP/values.yaml:2:" \
	"... naming the values key and its place"
like "$out" "matches no RDS instance or Aurora cluster endpoint of this account in us-east-1" \
	"... as matching nothing in the region"
run "timeout: 10s, rds_instance: posthog, eks_cluster: prod"
is "$rc" 0 "checks.aws.rds_instance overrides the values' endpoint"

PGHOST=posthog.x.us-east-1.rds.amazonaws.com
start 'c["keys"]["AKIDTEST"]["secret"] = "another"'
run
like "$out" "InvalidSignatureException" "a wrong secret key is refused by the verifier"

start 'pass'
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
run "timeout: 5s, required: false"
is "$rc" 0 "no credentials and required: false: the run goes on"
like "$out" "skipped: no AWS credentials" "... the check is skipped with the reason"
run "timeout: 5s"
is "$rc" 5 "no credentials and required: the check fails"
like "$out" "no AWS credentials" "... saying why"
AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY='test/Secret+Key' \
	AWS_ENDPOINT_URL_RDS="http://127.0.0.1:1" run "timeout: 2s"
like "$out" "rds DescribeDBInstances (POST http://127.0.0.1:1/)" "AWS_ENDPOINT_URL_RDS wins over AWS_ENDPOINT_URL"
like "$out" "Couldn't connect to server; still failing after" \
	"a refused connection is retried until the deadline, then reported with the endpoint"

# ---- EKS without managed node groups: the nodes' zone labels (real kubectl)
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY='test/Secret+Key'
kube_nodes() { # ZONE... : (re)start kube-api with a node in each zone
	"$top_srcdir/tests/bin/kube-api" stop "$K" >/dev/null 2>&1
	python3 -c 'import json, sys; print(json.dumps({"nodes": [{"name": "n%d" % i, "zone": z, "cpu": "4", "memory": "16Gi"} for i, z in enumerate(sys.argv[1:])]}))' \
		"$@" > "$K/scenario.json"
	"$top_srcdir/tests/bin/kube-api" start "$K" --scenario "$K/scenario.json" >/dev/null
}
if [ ! -x "${PHD_TOOLS:-}/kubectl" ]; then
	skip 6 "no kubectl in \$PHD_TOOLS"
else
	K="$TAPTMP/kube"
	mkdir -p "$K"
	trap 'stop; "$top_srcdir/tests/bin/kube-api" stop "$K" >/dev/null 2>&1; rm -rf "$TAPTMP"' EXIT
	kube_nodes us-east-1a us-east-1b us-east-1c
	start 'c["eks"]["nodegroups"]["prod"] = []'
	export KUBECONFIG="$K/kubeconfig"
	RUNARGS="--kube-context stand-in --kubectl $PHD_TOOLS/kubectl" run
	is "$rc" 0 "EKS without node groups, nodes in 3 zones: quiet"
	like "$out" "EKS prod nodes in 3 zones" "... the summary counts the nodes' zones"
	grep -q "GET /api/v1/nodes" "$K/requests.log"
	ok $? "... read by kubectl from the API server"
	kube_nodes us-east-1a us-east-1b us-east-1b
	RUNARGS="--kube-context stand-in --kubectl $PHD_TOOLS/kubectl" run
	is "$rc" 5 "nodes in 2 zones fail the check"
	like "$out" "EKS prod: its 3 node(s) (no managed node groups) span 2 zone(s) (topology.kubernetes.io/zone: us-east-1a, us-east-1b)" \
		"... naming the zones"
	RUNARGS="--kube-context nowhere --kubectl $PHD_TOOLS/kubectl" run
	like "$out" "kubectl --context=nowhere get nodes\` failed (Error in configuration: context was not found" \
		"kubectl failing is an error naming the context"
	"$top_srcdir/tests/bin/kube-api" stop "$K" >/dev/null
fi
done_testing

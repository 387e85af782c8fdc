#!/bin/sh
# The aws check against tests/bin/aws-stand-in.py: the real AWS CLI parses
# the stand-in's answers and its signed requests pass the stand-in's SigV4
# verifier (so the stand-in is faithful), then `phdeploy preflight` finds
# each resource from the values and reports every HA fact.
. "$top_srcdir/tests/tap/tap.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
tap_mktemp
plan 52

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
	skip 8 "the AWS CLI (Debian awscli) is not installed"
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
# what libcurl's own SigV4 makes of the same ARN path
arnpath="/v1/clusters/arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Acluster%2Fph%2Fabcd-1/bootstrap-brokers"
out=$(curl -s --max-time 10 --aws-sigv4 "aws:amz:us-east-1:kafka" -u "AKIDTEST:test/Secret+Key" \
	"$AWS_ENDPOINT_URL$arnpath" 2>&1)
case "$(curl --version | head -1)" in
*" 7.88"*) like "$out" "signature we calculated does not match" \
	"curl 7.88 signs the encoded ARN path as sent: AWS (and the stand-in) refuse it";;
*) ok 0 "curl $(curl --version | head -1 | cut -d' ' -f2) signs the ARN path: $out";;
esac

# ---- phdeploy preflight with the aws plugin ------------------------------
values() {
	cat > "$TAPTMP/values.yaml" <<EOF
postgresql: {enabled: false}
externalPostgresql: {postgresqlHost: ${PGHOST:-posthog.x.us-east-1.rds.amazonaws.com}}
redis: {enabled: false}
externalRedis: {host: master.ph.x.use1.cache.amazonaws.com}
kafka: {enabled: false}
externalKafka: {brokers: ["${BROKER:-b-1.ph.kafka.us-east-1.amazonaws.com:9092}"]${KTLS:-}}
EOF
}
run() { # run CHECKS-AWS-SETTINGS
	values
	printf 'release: posthog\nnamespace: posthog\nvalues: [values.yaml]\nchecks:\n  aws: {%s}\n' \
		"${1:-timeout: 10s, eks_cluster: prod}" > "$TAPTMP/phdeploy.yaml"
	out=$(PHDEPLOY_PLUGIN_PATH="$B/plugins/aws/.libs" "$B/src/phdeploy" -c "$TAPTMP/phdeploy.yaml" \
		--only preflight preflight 2>&1)
	rc=$?
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
	AWS_ENDPOINT_URL_RDS="http://127.0.0.1:1" run
like "$out" "rds DescribeDBInstances at http://127.0.0.1:1/" "AWS_ENDPOINT_URL_RDS wins over AWS_ENDPOINT_URL"
done_testing

/* MSK (REST-JSON, found by its bootstrap brokers) and EKS (the kube
 * context's cluster): brokers and node groups spread over zones. */
#include "awsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AC_MAX_PAGES 100

/* Subnet ids of a JSON array → distinct zones (EC2); -1 after a note. */
static long zones_of(struct ac *a, const json_t *subnets, char *list, size_t ll)
{
	size_t n = json_array_size(subnets), i, d;
	const char **ids = calloc(n + 1, sizeof *ids);
	char **zones = calloc(n + 1, sizeof *zones);
	long rc = -1;

	list[0] = '\0';
	if (ids && zones) {
		for (i = 0; i < n; i++)
			ids[i] = json_string_value(json_array_get(subnets, i)) ?: "";
		if (ac_subnet_zones(a, ids, n, zones) == 0) {
			for (i = 0; i < n; i++)
				snprintf(list + strlen(list), ll - strlen(list), "%s%s→%s",
					 i ? ", " : "", ids[i], zones[i] ? zones[i] : "?");
			d = ac_distinct(zones, n);
			rc = (long)d;
		}
		for (i = 0; i < n; i++)
			free(zones[i]);
	}
	free(ids);
	free(zones);
	return rc;
}

/* ---- MSK ------------------------------------------------------------ */

/* Is one of the values' brokers (host:port) in the comma list s? */
static int brokers_match(const phd_node *brokers, const char *s)
{
	size_t i, n = phd_node_len(brokers);

	for (i = 0; s && i < n; i++) {
		const char *b = phd_node_str(phd_node_at(brokers, i)), *p = s;
		size_t bl = b ? strlen(b) : 0;

		while (bl && *p) {
			size_t l = strcspn(p, ",");

			if (l == bl && strncasecmp(p, b, bl) == 0)
				return 1;
			p += l;
			if (*p == ',')
				p++;
		}
	}
	return 0;
}

static int enabled(const json_t *ca, const char *path)
{
	const json_t *o = ca;
	char buf[64], *save = NULL, *t;

	snprintf(buf, sizeof buf, "%s", path);
	for (t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
		o = json_object_get(o, t);
	return json_is_true(json_object_get(o, "enabled"));
}

static void msk_config(struct ac *a, const char *name, const json_t *sw)
{
	const char *arn = json_string_value(json_object_get(sw, "configurationArn"));
	json_int_t rev = json_integer_value(json_object_get(sw, "configurationRevision"));
	char path[2048], *e;
	const char *b64, *p;
	unsigned char *props = NULL;
	size_t len = 0, bad;
	json_t *o;
	int on = 0;

	if (!arn) {
		phd_dc_note(&a->dc, PHD_SEV_WARN, "MSK %s uses the default configuration "
			    "(auto.create.topics.enable=false): PostHog does not create its topics; "
			    "create them before the deploy (the kafka check lists the missing ones)",
			    name);
		return;
	}
	if (!(e = ac_enc(arn)))
		return;
	snprintf(path, sizeof path, "/v1/configurations/%s/revisions/%lld", e, (long long)rev);
	free(e);
	if (!(o = ac_rest(a, &ac_kafka, "DescribeConfigurationRevision", path)))
		return;
	b64 = json_string_value(json_object_get(o, "serverProperties"));
	if (b64 && (props = malloc(strlen(b64) / 4 * 3 + 4)) &&
	    sc_b64_decode(props, &len, b64, strlen(b64), &bad) == 0) {
		props[len] = '\0';
		for (p = (const char *)props; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (!strncmp(p, "auto.create.topics.enable", 25)) {
				const char *v = p + 25 + strspn(p + 25, " \t=");

				on = !strncmp(v, "true", 4);
			}
	} else {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "kafka DescribeConfigurationRevision: "
			    "serverProperties is not base64");
	}
	if (props && !on)
		phd_dc_note(&a->dc, PHD_SEV_WARN, "MSK %s: auto.create.topics.enable is not true in "
			    "configuration %s revision %lld: PostHog does not create its topics; "
			    "create them before the deploy (the kafka check lists the missing ones) or "
			    "set auto.create.topics.enable=true in the cluster configuration", name,
			    arn, (long long)rev);
	free(props);
	json_decref(o);
}

static void msk_judge(struct ac *a, const json_t *c, const char *which)
{
	const char *name = json_string_value(json_object_get(c, "clusterName")) ?: "?";
	const json_t *pr = json_object_get(c, "provisioned");
	const json_t *ca = json_object_get(pr, "clientAuthentication");
	const char *cb = json_string_value(json_object_get(
		json_object_get(json_object_get(pr, "encryptionInfo"), "encryptionInTransit"),
		"clientBroker"));
	json_int_t nb = json_integer_value(json_object_get(pr, "numberOfBrokerNodes"));
	char list[2048];
	long z;
	int tls = 0;

	phd_node_bool(phd_node_get(a->dc.values, "externalKafka.tls"), &tls);
	if (!strcmp(which, "SASL/SCRAM") || !strcmp(which, "IAM"))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "externalKafka.brokers are MSK %s's %s brokers: "
			    "the chart cannot speak %s to Kafka; enable plaintext or TLS client "
			    "access (aws kafka update-security) and use those brokers", name, which,
			    which);
	else if (!strcmp(which, "TLS") && !tls)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "externalKafka.brokers are MSK %s's TLS brokers "
			    "(port 9094) but externalKafka.tls is not true: set it", name);
	else if (!strcmp(which, "plaintext") && tls)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "externalKafka.tls is true but the brokers are "
			    "MSK %s's plaintext brokers: use its TLS brokers (port 9094)", name);
	if (!strcmp(which, "plaintext") &&
	    (!enabled(ca, "unauthenticated") || (cb && !strcmp(cb, "TLS"))))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "MSK %s does not accept unauthenticated plaintext "
			    "clients (clientBroker %s): enable them or use TLS", name, cb ? cb : "?");
	if (!strcmp(which, "TLS") && enabled(ca, "tls"))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "MSK %s requires TLS client certificates "
			    "(clientAuthentication.tls): the chart has no client certificate setting; "
			    "allow unauthenticated TLS clients", name);
	if (nb < 3)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "MSK %s has %lld broker(s): PostHog's topics need "
			    "3 brokers to survive a broker or zone loss; use 3 brokers over 3 zones "
			    "(aws kafka update-broker-count)", name, (long long)nb);
	z = zones_of(a, json_object_get(json_object_get(pr, "brokerNodeGroupInfo"),
					"clientSubnets"), list, sizeof list);
	if (z >= 0 && z < 3)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "MSK %s's brokers span %ld zone(s) (client "
			    "subnets %s): a zone outage takes Kafka partitions offline; the cluster "
			    "must be created with client subnets in 3 zones", name, z, list);
	else if (z >= 3)
		phd_dc_note(&a->dc, PHD_SEV_INFO, "MSK %s: %lld brokers over %ld zones (%s)", name,
			    (long long)nb, z, list);
	msk_config(a, name, json_object_get(pr, "currentBrokerSoftwareInfo"));
	if (nb >= 3 && z >= 3)
		ac_sum(a, "MSK %s %lld brokers/%ld zones", name, (long long)nb, z);
}

/* Which bootstrap string of the cluster holds the values' brokers. */
static const char *msk_match(struct ac *a, const json_t *c, const phd_node *brokers,
			     const char *want_arn)
{
	static const struct { const char *key, *name; } kinds[] = {
		{ "bootstrapBrokerString", "plaintext" }, { "bootstrapBrokerStringTls", "TLS" },
		{ "bootstrapBrokerStringSaslScram", "SASL/SCRAM" },
		{ "bootstrapBrokerStringSaslIam", "IAM" },
		{ "bootstrapBrokerStringPublicTls", "TLS" },
		{ "bootstrapBrokerStringPublicSaslScram", "SASL/SCRAM" },
		{ "bootstrapBrokerStringPublicSaslIam", "IAM" },
	};
	const char *arn = json_string_value(json_object_get(c, "clusterArn"));
	const char *which = NULL;
	char path[2048], *e;
	json_t *bb;
	size_t i;

	if (!arn || (want_arn && strcmp(arn, want_arn)))
		return NULL;
	if (!(e = ac_enc(arn)))
		return NULL;
	/* the ARN is one path segment, encoded: arn%3Aaws%3Akafka... */
	snprintf(path, sizeof path, "/v1/clusters/%s/bootstrap-brokers", e);
	free(e);
	if (!(bb = ac_rest(a, &ac_kafka, "GetBootstrapBrokers", path)))
		return "";
	for (i = 0; i < sizeof kinds / sizeof kinds[0] && !which; i++)
		if (brokers_match(brokers, json_string_value(json_object_get(bb, kinds[i].key))))
			which = kinds[i].name;
	if (!which && want_arn) {
		which = json_string_value(json_object_get(bb, "bootstrapBrokerStringTls")) ? "TLS"
											   : "plaintext";
	}
	json_decref(bb);
	return which;
}

void ac_msk_check(struct ac *a)
{
	const struct phd_cv_service *svc = phd_cv_service("kafka");
	const char *want = phd_node_str(phd_node_get(a->cfg, "msk_cluster_arn"));
	const phd_node *brokers = NULL;
	char *token = NULL;
	int pages = 0, found = 0, failed = 0;
	int internal = phd_dc_bool(&a->dc, a->dc.values, "kafka.enabled", 1);

	if (!want) {
		if (internal) {
			phd_dc_note(&a->dc, PHD_SEV_INFO, "Kafka runs in the cluster (kafka.enabled is "
				    "not false): no MSK to check");
			return;
		}
		brokers = phd_node_get(a->dc.values, svc->host);
		if (phd_node_type(brokers) != PHD_NODE_SEQ || phd_node_len(brokers) == 0) {
			phd_dc_note(&a->dc, PHD_SEV_INFO, "Kafka: %s is not set: no MSK to check",
				    svc->host);
			return;
		}
	}
	do {
		char path[1024];
		json_t *o, *l;
		size_t i;

		snprintf(path, sizeof path, "/api/v2/clusters?clusterTypeFilter=PROVISIONED&"
			 "maxResults=100%s%s", token ? "&nextToken=" : "", token ? token : "");
		free(token);
		token = NULL;
		if (!(o = ac_rest(a, &ac_kafka, "ListClustersV2", path))) {
			failed = 1;
			break;
		}
		l = json_object_get(o, "clusterInfoList");
		for (i = 0; i < json_array_size(l) && !found; i++) {
			const char *which = msk_match(a, json_array_get(l, i), brokers, want);

			if (which && !*which) {
				failed = 1;
				break;
			}
			if (which) {
				found = 1;
				msk_judge(a, json_array_get(l, i), which);
			}
		}
		if (!found && !failed && json_string_value(json_object_get(o, "nextToken")))
			token = ac_enc(json_string_value(json_object_get(o, "nextToken")));
		json_decref(o);
	} while (token && ++pages < AC_MAX_PAGES);
	free(token);
	if (found || failed)
		return;
	if (want) {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "checks.aws.msk_cluster_arn \"%s\" is no MSK "
			    "cluster in %s", want, a->set.region);
	} else {
		char at[300];

		phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s (%s) matches the bootstrap brokers of no MSK "
			    "cluster of this account in %s (a typo, a wrong region, or another "
			    "account's credentials: %s)", svc->host,
			    phd_dc_at(brokers, at, sizeof at), a->set.region, a->cr.source);
	}
}

/* ---- EKS ------------------------------------------------------------ */

/* Without managed node groups (self-managed nodes, Karpenter) the nodes
 * themselves say where they run: their zone labels, read with the kubectl
 * and context of the run. */
static void eks_nodes(struct ac *a, const char *name)
{
	phd_ctx *ctx = phd_check_ctx(a->dc.chk);
	const char *kctx = phd_ctx_kube_context(ctx);
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	const char *argv[8];
	char cflag[512], *zones[256], *line, *save = NULL, list[1024] = "";
	size_t n = 0, nodes = 0, unlabelled = 0, nz = 0, i, d;
	int rc;

	argv[n++] = phd_ctx_kubectl(ctx) ? phd_ctx_kubectl(ctx) : "kubectl";
	if (kctx) {
		snprintf(cflag, sizeof cflag, "--context=%s", kctx);
		argv[n++] = cflag;
	}
	argv[n++] = "get";
	argv[n++] = "nodes";
	argv[n++] = "-o";
	argv[n++] = "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}"
		    "{.metadata.labels.topology\\.kubernetes\\.io/zone}{\"\\t\"}"
		    "{.metadata.labels.failure-domain\\.beta\\.kubernetes\\.io/zone}{\"\\n\"}{end}";
	argv[n] = NULL;
	spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.argv = argv;
	spec.timeout_ms = phd_dc_left(&a->dc);
	memset(&res, 0, sizeof res);
	if (spec.timeout_ms <= 0) {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "EKS %s: no time left to read the nodes' zones "
			    "(checks.aws.timeout)", name);
		return;
	}
	rc = phd_exec_run(ctx, &spec, &res);
	if (rc || res.exit_code != 0) {
		size_t el = res.err ? strlen(res.err) : 0;

		while (el && (res.err[el - 1] == '\n' || res.err[el - 1] == ' '))
			res.err[--el] = '\0';
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "EKS %s has no managed node groups and `%s%s%s "
			    "get nodes` failed (%s): the nodes' zones are unknown", name, argv[0],
			    kctx ? " " : "", kctx ? cflag : "",
			    rc ? phd_strerror(rc) : res.timed_out ? "timed out"
			    : el ? res.err : "no message");
		phd_exec_result_clear(&res);
		return;
	}
	for (line = strtok_r(res.out ? res.out : (char *)"", "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *z = NULL;

		nodes++;
		if (t1) {
			char *t2 = strchr(t1 + 1, '\t');

			if (t2)
				*t2 = '\0';
			z = t1[1] ? t1 + 1 : t2 && t2[1] ? t2 + 1 : NULL;
		}
		if (!z)
			unlabelled++;
		else if (nz < sizeof zones / sizeof zones[0])
			zones[nz++] = z;
	}
	d = ac_distinct(zones, nz);
	for (i = 0; i < nz; i++) {
		size_t j;

		for (j = 0; j < i && strcmp(zones[i], zones[j]); j++)
			;
		if (j == i)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 list[0] ? ", " : "", zones[i]);
	}
	if (nodes == 0)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "EKS %s has no managed node groups and no "
			    "nodes: nothing runs the chart", name);
	else if (d < 3)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "EKS %s: its %zu node(s) (no managed node groups) "
			    "span %zu zone(s) (topology.kubernetes.io/zone: %s%s): a zone outage takes "
			    "down the pods the chart spreads; run nodes in 3 zones (the Auto Scaling "
			    "group's or Karpenter NodePool's subnets)", name, nodes, d,
			    list[0] ? list : "none", unlabelled ? "; some nodes have no zone label" : "");
	else {
		phd_dc_note(&a->dc, PHD_SEV_INFO, "EKS %s: %zu node(s) over %zu zones (%s; no "
			    "managed node groups)", name, nodes, d, list);
		ac_sum(a, "EKS %s nodes in %zu zones", name, d);
	}
	phd_exec_result_clear(&res);
}

void ac_eks_check(struct ac *a)
{
	const char *name = phd_node_str(phd_node_get(a->cfg, "eks_cluster"));
	const char *kctx = phd_ctx_kube_context(phd_check_ctx(a->dc.chk));
	char path[1024], *e, *token = NULL, list[2048];
	json_t *o, *all = json_array();
	size_t ngroups = 0, i;
	int pages = 0;
	long z;

	/* aws eks update-kubeconfig names the context after the cluster's ARN */
	if (!name && kctx && !strncmp(kctx, "arn:aws", 7) && strstr(kctx, ":cluster/"))
		name = strstr(kctx, ":cluster/") + 9;
	if (!name) {
		phd_dc_note(&a->dc, PHD_SEV_INFO, "EKS: the kube context (%s) is not an EKS cluster "
			    "ARN; set checks.aws.eks_cluster to check its node groups",
			    kctx ? kctx : "none");
		json_decref(all);
		return;
	}
	if (!(e = ac_enc(name)) || !all)
		goto out;
	snprintf(path, sizeof path, "/clusters/%s", e);
	if (!(o = ac_rest(a, &ac_eks, "DescribeCluster", path)))
		goto out;
	json_decref(o);
	do {
		json_t *l;

		snprintf(path, sizeof path, "/clusters/%s/node-groups?maxResults=100%s%s", e,
			 token ? "&nextToken=" : "", token ? token : "");
		free(token);
		token = NULL;
		if (!(o = ac_rest(a, &ac_eks, "ListNodegroups", path)))
			goto out;
		l = json_object_get(o, "nodegroups");
		for (i = 0; i < json_array_size(l); i++) {
			const char *ng = json_string_value(json_array_get(l, i));
			char *ne = ng ? ac_enc(ng) : NULL;
			json_t *d, *subnets;
			size_t k;

			if (!ne)
				continue;
			snprintf(path, sizeof path, "/clusters/%s/node-groups/%s", e, ne);
			free(ne);
			if (!(d = ac_rest(a, &ac_eks, "DescribeNodegroup", path))) {
				json_decref(o);
				goto out;
			}
			ngroups++;
			subnets = json_object_get(json_object_get(d, "nodegroup"), "subnets");
			for (k = 0; k < json_array_size(subnets); k++)
				json_array_append(all, json_array_get(subnets, k));
			json_decref(d);
		}
		if (json_string_value(json_object_get(o, "nextToken")))
			token = ac_enc(json_string_value(json_object_get(o, "nextToken")));
		json_decref(o);
	} while (token && ++pages < AC_MAX_PAGES);
	if (ngroups == 0) {
		eks_nodes(a, name);
		goto out;
	}
	z = zones_of(a, all, list, sizeof list);
	if (z >= 0 && z < 3)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "EKS %s: its %zu node group(s) span %ld zone(s) "
			    "(subnets %s): a zone outage takes down the pods the chart spreads; give "
			    "the node groups subnets in 3 zones", name, ngroups, z, list);
	else if (z >= 3) {
		phd_dc_note(&a->dc, PHD_SEV_INFO, "EKS %s: %zu node group(s) over %ld zones", name,
			    ngroups, z);
		ac_sum(a, "EKS %s nodes in %ld zones", name, z);
	}
out:
	free(token);
	free(e);
	json_decref(all);
}

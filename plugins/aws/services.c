/* The HA facts of each managed service, found from the endpoint the
 * values name (or the identifier checks.aws gives). */
#include "awsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AC_MAX_PAGES 100

int ac_same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* An external service's host, or NULL (a note says why it is not checked). */
static const char *ext_host(struct ac *a, const char *check)
{
	const struct phd_cv_service *svc = phd_cv_service(check);
	char key[128];
	const char *h;

	snprintf(key, sizeof key, "%s.enabled", svc->internal);
	if (phd_dc_bool(&a->dc, a->dc.values, key, 1)) {
		phd_dc_note(&a->dc, PHD_SEV_INFO, "%s runs in the cluster (%s is not false): no %s "
			    "to check", svc->what, key, svc->aws);
		return NULL;
	}
	h = phd_dc_str(a->dc.values, svc->host);
	if (!h)
		phd_dc_note(&a->dc, PHD_SEV_INFO, "%s: %s is not set: no %s to check", svc->what,
			    svc->host, svc->aws);
	return h;
}

static const char *cfg_str(struct ac *a, const char *key)
{
	const char *s = phd_node_str(phd_node_get(a->cfg, key));

	return s && *s ? s : NULL;
}

static void no_match(struct ac *a, const char *key, const char *host, const char *what)
{
	char at[300];

	phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s \"%s\" (%s) matches no %s of this account in %s "
		    "(a typo, a wrong region, or another account's credentials: %s)", key, host,
		    phd_dc_at(phd_node_get(a->dc.values, key), at, sizeof at), what, a->set.region,
		    a->cr.source);
}

/* Each page of a query-protocol Describe* (Marker pagination): fn sees
 * every member of list; stops when fn returns nonzero.  -1 after a note. */
static int each_page(struct ac *a, const struct ac_svc *sv, const char *action,
		     const char *form, const char *list,
		     int (*fn)(struct ac *a, const struct aws_xml *item, void *arg), void *arg)
{
	char *marker = NULL;
	int pages = 0, stop = 0;
	char result[128];

	snprintf(result, sizeof result, "%sResult/%s", action, list);
	do {
		size_t n = strlen(form) + (marker ? strlen(marker) : 0) + 40;
		char *f = malloc(n);
		struct aws_xml *x;
		const struct aws_xml *it, *l;

		if (!f)
			return -1;
		snprintf(f, n, "%s&MaxRecords=100%s%s", form, marker ? "&Marker=" : "",
			 marker ? marker : "");
		free(marker);
		marker = NULL;
		x = ac_query(a, sv, action, f);
		free(f);
		if (!x)
			return -1;
		l = aws_xml_get(x, result);
		for (it = l ? l->child : NULL; it && !stop; it = it->next)
			stop = fn(a, it, arg);
		snprintf(result, sizeof result, "%sResult/Marker", action);
		if (!stop && aws_xml_text(x, result))
			marker = ac_enc(aws_xml_text(x, result));
		snprintf(result, sizeof result, "%sResult/%s", action, list);
		aws_xml_free(x);
	} while (marker && ++pages < AC_MAX_PAGES);
	free(marker);
	return 0;
}

/* ---- RDS ------------------------------------------------------------ */

struct rds_find {
	const char *host, *id;
	struct aws_xml *found;     /* deep copy is avoided: we keep the page */
	char instance[256], cluster[256], engine[64], version[64], az[64], az2[64];
	int multi_az, reader_of;   /* reader_of: the host is a cluster's reader endpoint */
	char *zones[64];           /* instance → zone, for Aurora members */
	char *ids[64];
	size_t nzones;
};

static int rds_instance(struct ac *a, const struct aws_xml *it, void *arg)
{
	struct rds_find *f = arg;
	const char *id = aws_xml_text(it, "DBInstanceIdentifier");
	const char *addr = aws_xml_text(it, "Endpoint/Address");
	const char *az = aws_xml_text(it, "AvailabilityZone");

	(void)a;
	if (id && az && f->nzones < 64) {
		f->ids[f->nzones] = strdup(id);
		f->zones[f->nzones++] = strdup(az);
	}
	if (f->instance[0] || !id || !((f->id && !strcmp(f->id, id)) ||
				       (!f->id && addr && ac_same_host(addr, f->host))))
		return 0;
	snprintf(f->instance, sizeof f->instance, "%s", id);
	snprintf(f->engine, sizeof f->engine, "%s", aws_xml_text(it, "Engine") ?: "?");
	snprintf(f->version, sizeof f->version, "%s", aws_xml_text(it, "EngineVersion") ?: "?");
	snprintf(f->az, sizeof f->az, "%s", az ? az : "?");
	snprintf(f->az2, sizeof f->az2, "%s", aws_xml_text(it, "SecondaryAvailabilityZone") ?: "");
	snprintf(f->cluster, sizeof f->cluster, "%s", aws_xml_text(it, "DBClusterIdentifier") ?: "");
	f->multi_az = aws_xml_text(it, "MultiAZ") && !strcmp(aws_xml_text(it, "MultiAZ"), "true");
	return 0;
}

static const char *zone_of(struct rds_find *f, const char *id)
{
	for (size_t i = 0; i < f->nzones; i++)
		if (!strcmp(f->ids[i], id))
			return f->zones[i];
	return NULL;
}

static int rds_cluster(struct ac *a, const struct aws_xml *it, void *arg)
{
	struct rds_find *f = arg;
	const char *id = aws_xml_text(it, "DBClusterIdentifier");
	const char *ep = aws_xml_text(it, "Endpoint"), *rep = aws_xml_text(it, "ReaderEndpoint");
	const struct aws_xml *m, *members = aws_xml_get(it, "DBClusterMembers");
	char wz[64] = "", readers[512] = "";
	int other = 0, nreaders = 0;
	const char *key = phd_cv_service("postgres")->host;

	if (!id)
		return 0;
	if (f->id ? strcmp(f->id, id) != 0
		  : !((ep && ac_same_host(ep, f->host)) || (rep && ac_same_host(rep, f->host))))
		return 0;
	if (!f->id && rep && ac_same_host(rep, f->host))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s \"%s\" is the reader endpoint of cluster %s: "
			    "PostHog writes to PostgreSQL; set it to the cluster (writer) endpoint "
			    "%s", key, f->host, id, ep ? ep : "?");
	for (m = members ? members->child : NULL; m; m = m->next) {
		const char *mid = aws_xml_text(m, "DBInstanceIdentifier");
		const char *z = mid ? zone_of(f, mid) : NULL;

		if (mid && aws_xml_text(m, "IsClusterWriter") &&
		    !strcmp(aws_xml_text(m, "IsClusterWriter"), "true"))
			snprintf(wz, sizeof wz, "%s", z ? z : "?");
	}
	for (m = members ? members->child : NULL; m; m = m->next) {
		const char *mid = aws_xml_text(m, "DBInstanceIdentifier");
		const char *z = mid ? zone_of(f, mid) : NULL;

		if (!mid || (aws_xml_text(m, "IsClusterWriter") &&
			     !strcmp(aws_xml_text(m, "IsClusterWriter"), "true")))
			continue;
		nreaders++;
		other |= z && wz[0] && strcmp(z, wz) != 0;
		snprintf(readers + strlen(readers), sizeof readers - strlen(readers), "%s%s (%s)",
			 readers[0] ? ", " : "", mid, z ? z : "?");
	}
	snprintf(f->cluster, sizeof f->cluster, "%s", id);
	snprintf(f->engine, sizeof f->engine, "%s", aws_xml_text(it, "Engine") ?: "?");
	snprintf(f->version, sizeof f->version, "%s", aws_xml_text(it, "EngineVersion") ?: "?");
	f->multi_az = aws_xml_text(it, "MultiAZ") && !strcmp(aws_xml_text(it, "MultiAZ"), "true");
	if (other || (f->multi_az && strncmp(f->engine, "aurora", 6) != 0)) {
		phd_dc_note(&a->dc, PHD_SEV_INFO, "RDS cluster %s: writer in %s, reader(s) %s",
			    id, wz[0] ? wz : "?", readers[0] ? readers : "(Multi-AZ DB cluster)");
		ac_sum(a, "RDS cluster %s: readers in another zone", id);
	} else {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "RDS cluster %s has no reader in another zone "
			    "than its writer (%s)%s%s: a zone outage takes PostgreSQL down until a "
			    "new instance is created; add a reader in another zone (aws rds "
			    "create-db-instance --db-cluster-identifier %s --availability-zone ...)",
			    id, wz[0] ? wz : "?", nreaders ? "; readers: " : "; no reader",
			    readers, id);
	}
	return 1;
}

static void rds_version(struct ac *a, struct rds_find *f)
{
	const struct phd_cv_service *svc = phd_cv_service("postgres");

	if (!strstr(f->engine, "postgres")) {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "RDS %s runs engine %s, not PostgreSQL",
			    f->cluster[0] ? f->cluster : f->instance, f->engine);
		return;
	}
	phd_dc_version_report(&a->dc, "PostgreSQL", f->version, svc->min_version,
			      svc->max_version);
}

void ac_rds_check(struct ac *a)
{
	const char *key = phd_cv_service("postgres")->host;
	struct rds_find f;
	const char *ci = cfg_str(a, "rds_cluster");
	size_t i;

	memset(&f, 0, sizeof f);
	f.id = cfg_str(a, "rds_instance");
	if (!f.id && !ci && !(f.host = ext_host(a, "postgres")))
		return;
	if (each_page(a, &ac_rds, "DescribeDBInstances", "", "DBInstances", rds_instance, &f))
		goto out;
	if (f.instance[0] && !ci) {
		if (f.cluster[0])
			phd_dc_note(&a->dc, PHD_SEV_WARN, "%s names instance %s of cluster %s: an "
				    "instance endpoint does not follow a failover; use the cluster "
				    "endpoint", key, f.instance, f.cluster);
		if (f.multi_az) {
			phd_dc_note(&a->dc, PHD_SEV_INFO, "RDS instance %s is Multi-AZ (primary %s, "
				    "standby %s)", f.instance, f.az, f.az2[0] ? f.az2 : "?");
			ac_sum(a, "RDS %s Multi-AZ", f.instance);
		} else if (!f.cluster[0]) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "RDS instance %s is single-AZ (MultiAZ false, "
				    "in %s): a zone outage takes PostgreSQL down; enable Multi-AZ (aws "
				    "rds modify-db-instance --db-instance-identifier %s --multi-az "
				    "--apply-immediately)", f.instance, f.az, f.instance);
		}
		if (!f.cluster[0]) {
			rds_version(a, &f);
			goto out;
		}
		ci = f.cluster;
	}
	{
		char saved[256];
		const char *want = ci;

		snprintf(saved, sizeof saved, "%s", ci ? ci : "");
		f.id = want ? saved : NULL;
		f.cluster[0] = '\0';
		if (each_page(a, &ac_rds, "DescribeDBClusters", "", "DBClusters", rds_cluster, &f))
			goto out;
	}
	if (!f.cluster[0]) {
		if (f.id)
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "checks.aws.%s \"%s\" is no RDS instance or "
				    "cluster in %s", ci ? "rds_cluster" : "rds_instance", f.id,
				    a->set.region);
		else
			no_match(a, key, f.host, "RDS instance or Aurora cluster endpoint");
		goto out;
	}
	rds_version(a, &f);
out:
	for (i = 0; i < f.nzones; i++) {
		free(f.ids[i]);
		free(f.zones[i]);
	}
}

/* ---- ElastiCache ------------------------------------------------------ */

struct rg_find {
	const char *host, *id;
	int done;
};

static int flag_on(const struct aws_xml *it, const char *k)
{
	const char *v = aws_xml_text(it, k);

	return v && (!strcmp(v, "true") || !strcmp(v, "enabled"));
}

static void rg_judge(struct ac *a, const struct aws_xml *it, const char *id, int node_ep)
{
	const char *key = phd_cv_service("redis")->host;
	const struct aws_xml *ng, *groups = aws_xml_get(it, "NodeGroups"), *m;
	char *zones[64];
	size_t nz = 0, members = 0;
	int have_pw = phd_dc_str(a->dc.values, "externalRedis.password") ||
		      phd_dc_str(a->dc.values, "externalRedis.existingSecret");

	if (node_ep)
		phd_dc_note(&a->dc, PHD_SEV_WARN, "%s names a node of replication group %s: a node "
			    "endpoint does not follow a failover; use its primary endpoint", key, id);
	if (flag_on(it, "ClusterEnabled") || aws_xml_get(it, "ConfigurationEndpoint"))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "ElastiCache %s has cluster mode enabled: PostHog "
			    "talks to one Redis node and does not follow cluster redirections; "
			    "create a replication group with cluster mode disabled", id);
	if (!flag_on(it, "AutomaticFailover"))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "ElastiCache %s: AutomaticFailover is %s: a "
			    "primary failure is not repaired by promoting a replica; enable it (aws "
			    "elasticache modify-replication-group --replication-group-id %s "
			    "--automatic-failover-enabled --apply-immediately)", id,
			    aws_xml_text(it, "AutomaticFailover") ?: "unset", id);
	if (!flag_on(it, "MultiAZ"))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "ElastiCache %s: MultiAZ is %s: enable it (aws "
			    "elasticache modify-replication-group --replication-group-id %s "
			    "--multi-az-enabled --apply-immediately)", id,
			    aws_xml_text(it, "MultiAZ") ?: "unset", id);
	for (ng = groups ? groups->child : NULL; ng; ng = ng->next) {
		const struct aws_xml *ms = aws_xml_get(ng, "NodeGroupMembers");

		for (m = ms ? ms->child : NULL; m && nz < 64; m = m->next) {
			members++;
			zones[nz++] = (char *)aws_xml_text(m, "PreferredAvailabilityZone");
		}
	}
	if (members < 2)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "ElastiCache %s has no replica: add one in another "
			    "zone (aws elasticache increase-replica-count --replication-group-id %s "
			    "--new-replica-count 1 --apply-immediately)", id, id);
	else if (ac_distinct(zones, nz) < 2)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "ElastiCache %s: its %zu nodes are all in %s: a "
			    "zone outage takes Redis down; place a replica in another zone", id,
			    members, zones[0] ? zones[0] : "one zone");
	else
		phd_dc_note(&a->dc, PHD_SEV_INFO, "ElastiCache %s: %zu nodes over %zu zones", id,
			    members, ac_distinct(zones, nz));
	if (flag_on(it, "TransitEncryptionEnabled"))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "ElastiCache %s has in-transit encryption "
			    "(TransitEncryptionEnabled%s): the chart has no Redis TLS setting, so "
			    "PostHog cannot connect; use a replication group without in-transit "
			    "encryption, reachable only from the cluster (security groups)", id,
			    flag_on(it, "AuthTokenEnabled") ? ", AuthTokenEnabled" : "");
	else if (have_pw && !flag_on(it, "AuthTokenEnabled"))
		phd_dc_note(&a->dc, PHD_SEV_WARN, "the values give Redis a password but ElastiCache "
			    "%s has no AUTH token: clients that send AUTH get an error; remove the "
			    "password from the values", id);
	if (!a->dc.errors)
		ac_sum(a, "ElastiCache %s failover over %zu zones", id, ac_distinct(zones, nz));
}

/* Member cluster ids of a replication group: MemberClusters, else the
 * node group members' CacheClusterId. */
static size_t rg_members(const struct aws_xml *it, const char **ids, size_t max)
{
	const struct aws_xml *m, *ng, *mc = aws_xml_get(it, "MemberClusters");
	const struct aws_xml *groups = aws_xml_get(it, "NodeGroups");
	size_t n = 0;

	for (m = mc ? mc->child : NULL; m && n < max; m = m->next)
		if (m->text && *m->text)
			ids[n++] = m->text;
	for (ng = groups ? groups->child : NULL; ng && !n; ng = ng->next) {
		const struct aws_xml *ms = aws_xml_get(ng, "NodeGroupMembers");

		for (m = ms ? ms->child : NULL; m && n < max; m = m->next)
			if (aws_xml_text(m, "CacheClusterId"))
				ids[n++] = aws_xml_text(m, "CacheClusterId");
	}
	return n;
}

/* The engine version of the group's member clusters (DescribeCacheClusters
 * with ShowCacheNodeInfo, as the console shows it) against the Redis
 * versions PostHog accepts; the oldest member counts while they differ
 * (an upgrade under way). */
static void rg_version(struct ac *a, const struct aws_xml *it, const char *id)
{
	const struct phd_cv_service *svc = phd_cv_service("redis");
	const char *ids[8];
	size_t n = rg_members(it, ids, 8), i;
	char low[64] = "", low_id[256] = "", engine[32] = "", what[400];
	int lv[3], mv[3], differ = 0;

	for (i = 0; i < n; i++) {
		char form[400], *e = ac_enc(ids[i]);
		struct aws_xml *x;
		const char *v, *en;
		int cv[3];

		if (!e)
			return;
		snprintf(form, sizeof form, "&CacheClusterId=%s&ShowCacheNodeInfo=true", e);
		free(e);
		if (!(x = ac_query(a, &ac_elasticache, "DescribeCacheClusters", form)))
			return;
		v = aws_xml_text(x, "DescribeCacheClustersResult/CacheClusters/CacheCluster/"
				 "EngineVersion");
		en = aws_xml_text(x, "DescribeCacheClustersResult/CacheClusters/CacheCluster/Engine");
		if (v && phd_dc_version_parse(v, cv) == 0) {
			if (low[0] && strcmp(low, v))
				differ = 1;
			if (!low[0] || phd_dc_version_cmp(cv, lv) < 0) {
				memcpy(lv, cv, sizeof lv);
				snprintf(low, sizeof low, "%s", v);
				snprintf(low_id, sizeof low_id, "%s", ids[i]);
				snprintf(engine, sizeof engine, "%s", en ? en : "redis");
			}
		}
		aws_xml_free(x);
	}
	if (!low[0]) {
		phd_dc_note(&a->dc, PHD_SEV_WARN, "ElastiCache %s: no member cluster tells its "
			    "EngineVersion (elasticache DescribeCacheClusters): the Redis version is "
			    "not checked here", id);
		return;
	}
	if (strcmp(engine, "redis")) {
		phd_dc_note(&a->dc, PHD_SEV_WARN, "ElastiCache %s runs engine %s %s: its version is "
			    "not compared with the Redis versions PostHog accepts (>=%s,<=%s); the "
			    "redis check reads the version the server reports", id, engine, low,
			    svc->min_version, svc->max_version);
		return;
	}
	if (differ)
		phd_dc_note(&a->dc, PHD_SEV_WARN, "ElastiCache %s: its member clusters run different "
			    "engine versions (an upgrade under way?); checking the oldest, %s of %s",
			    id, low, low_id);
	snprintf(what, sizeof what, "ElastiCache %s (EngineVersion of cache cluster %s): Redis",
		 id, low_id);
	if (phd_dc_version_parse(svc->min_version, mv) == 0 && phd_dc_version_cmp(lv, mv) < 0)
		/* the shared report says "upgrade the server": say how on AWS */
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s is below PostHog's accepted range "
			    "(>=%s,<=%s): upgrade the engine (aws elasticache "
			    "modify-replication-group --replication-group-id %s --engine-version "
			    "VERSION --apply-immediately); SKIP_SERVICE_VERSION_REQUIREMENTS only "
			    "hides this", what, low, svc->min_version, svc->max_version, id);
	else
		phd_dc_version_report(&a->dc, what, low, svc->min_version, svc->max_version);
}

static int rg_match(struct ac *a, const struct aws_xml *it, void *arg)
{
	struct rg_find *f = arg;
	const char *id = aws_xml_text(it, "ReplicationGroupId");
	const struct aws_xml *ng, *groups = aws_xml_get(it, "NodeGroups"), *m;
	int hit = 0, node = 0;

	if (!id)
		return 0;
	if (f->id) {
		hit = !strcmp(f->id, id);
	} else {
		hit = aws_xml_text(it, "ConfigurationEndpoint/Address") &&
		      ac_same_host(aws_xml_text(it, "ConfigurationEndpoint/Address"), f->host);
		for (ng = groups ? groups->child : NULL; ng && !hit; ng = ng->next) {
			const char *p = aws_xml_text(ng, "PrimaryEndpoint/Address");
			const char *r = aws_xml_text(ng, "ReaderEndpoint/Address");
			const struct aws_xml *ms = aws_xml_get(ng, "NodeGroupMembers");

			if (p && ac_same_host(p, f->host))
				hit = 1;
			else if (r && ac_same_host(r, f->host)) {
				phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s \"%s\" is the reader endpoint of "
					    "ElastiCache %s: PostHog writes to Redis; use its primary "
					    "endpoint %s", phd_cv_service("redis")->host, f->host, id,
					    p ? p : "?");
				hit = 1;
			}
			for (m = ms ? ms->child : NULL; m && !hit; m = m->next) {
				const char *e = aws_xml_text(m, "ReadEndpoint/Address");

				if (e && ac_same_host(e, f->host))
					hit = node = 1;
			}
		}
	}
	if (!hit)
		return 0;
	f->done = 1;
	rg_judge(a, it, id, node);
	rg_version(a, it, id);
	return 1;
}

void ac_redis_check(struct ac *a)
{
	struct rg_find f = { 0 };

	f.id = cfg_str(a, "elasticache_replication_group");
	if (!f.id && !(f.host = ext_host(a, "redis")))
		return;
	if (each_page(a, &ac_elasticache, "DescribeReplicationGroups", "", "ReplicationGroups",
		      rg_match, &f))
		return;
	if (f.done)
		return;
	if (f.id)
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "checks.aws.elasticache_replication_group \"%s\" "
			    "is no replication group in %s", f.id, a->set.region);
	else
		no_match(a, phd_cv_service("redis")->host, f.host,
			 "ElastiCache replication group endpoint");
}

/* The aws check: internals shared by its files (nothing exported). */
#ifndef PHD_AWS_CHECK_H
#define PHD_AWS_CHECK_H

#include "depcheck.h"
#include "aws/aws.h"

#include <jansson.h>

#define PLUGIN "aws"

/* An AWS service the check calls. */
struct ac_svc {
	const char *id;        /* signing name and IAM prefix: "rds" */
	const char *env;       /* AWS_ENDPOINT_URL_<env> */
	const char *version;   /* query protocol API version, NULL: REST-JSON */
};
extern const struct ac_svc ac_rds, ac_elasticache, ac_ec2, ac_kafka, ac_eks;

struct ac {
	struct phd_dc dc;
	const phd_node *cfg;       /* checks.aws */
	struct aws_settings set;
	struct aws_creds cr;
	const char *endpoint_url;  /* checks.aws.endpoint_url */
	char summary[1024];
};

/* A query-protocol call (RDS, ElastiCache, EC2): form holds the
 * parameters after Action and Version ("" or "&A=b..."), already
 * encoded.  The parsed answer, or NULL after an error note. */
struct aws_xml *ac_query(struct ac *a, const struct ac_svc *sv, const char *action,
			 const char *form);
/* A REST-JSON GET (MSK, EKS) of path (segments already encoded, may hold
 * a query).  The parsed answer, or NULL after an error note. */
json_t *ac_rest(struct ac *a, const struct ac_svc *sv, const char *action, const char *path);

/* Percent-encode s as a query value or path segment (unreserved kept)
 * into a malloc'd string. */
char *ac_enc(const char *s);

/* Availability zone of each subnet id (EC2 DescribeSubnets): zones[i]
 * malloc'd for ids[i] (NULL when unknown).  0, or -1 after a note. */
int ac_subnet_zones(struct ac *a, const char *const *ids, size_t n, char **zones);
/* Distinct non-NULL strings among v[0..n). */
size_t ac_distinct(char *const *v, size_t n);

void ac_rds_check(struct ac *a);
void ac_redis_check(struct ac *a);
void ac_msk_check(struct ac *a);
void ac_eks_check(struct ac *a);

/* Append "; text" to the summary. */
void ac_sum(struct ac *a, const char *fmt, ...) PHD_PRINTF(2, 3);
/* The values key's text and its position, for messages ("x at values.yaml:3:5"). */
const char *ac_at(struct ac *a, const char *key, char *buf, size_t len);
/* Hosts equal as DNS names (case-insensitive, a trailing dot ignored). */
int ac_same_host(const char *a, const char *b);

#endif

/* Read the external Kafka (MSK) settings from the merged values: brokers,
 * TLS, and the SASL settings that the chart only passes through `env`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chartvalues.h"
#include "kafka.h"

static const char *pos(const phd_node *n, char *buf, size_t sz)
{
	if (!n || !phd_node_file(n))
		snprintf(buf, sz, "values");
	else
		snprintf(buf, sz, "%s:%u:%u", phd_node_file(n), phd_node_line(n),
			 phd_node_column(n));
	return buf;
}

/* The chart has one global `env` list and one per component (web.env,
 * worker.env, plugins.env, ...).  Find the entry named name: the global
 * list first, then the components in values order. */
static const phd_node *env_entry(const phd_node *values, const char *name)
{
	const phd_node *lists[64];
	size_t nl = 0, i, j;

	if (phd_node_get(values, "env"))
		lists[nl++] = phd_node_get(values, "env");
	for (i = 0; i < phd_node_len(values) && nl < 64; i++) {
		const phd_node *c = phd_node_at(values, i);
		if (phd_node_type(c) == PHD_NODE_MAP && phd_node_get(c, "env"))
			lists[nl++] = phd_node_get(c, "env");
	}
	for (i = 0; i < nl; i++) {
		if (phd_node_type(lists[i]) != PHD_NODE_SEQ)
			continue;
		for (j = 0; j < phd_node_len(lists[i]); j++) {
			const phd_node *e = phd_node_at(lists[i], j);
			const char *n = phd_node_str(phd_node_get(e, "name"));
			if (n && strcmp(n, name) == 0)
				return e;
		}
	}
	return NULL;
}

static const char *env_value(const phd_node *values, const char *name)
{
	return phd_node_str(phd_node_get(env_entry(values, name), "value"));
}

static int join_brokers(phd_check *chk, struct kafka_target *t)
{
	size_t i, n = phd_node_len(t->brokers), cap = 1, len = 0;
	char where[128];

	for (i = 0; i < n; i++) {
		const char *s = phd_node_str(phd_node_at(t->brokers, i));
		cap += (s ? strlen(s) : 0) + 1;
	}
	if (!(t->bootstrap = calloc(1, cap)))
		return PHD_ENOMEM;
	for (i = 0; i < n; i++) {
		const phd_node *b = phd_node_at(t->brokers, i);
		const char *s = phd_node_str(b), *colon;
		char *end;
		long port;

		colon = s ? strrchr(s, ':') : NULL;
		port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!s || strstr(s, "://") || !colon || colon == s || *end || port < 1 ||
		    port > 65535 || strchr(s, ',')) {
			phd_check_note(chk, PHD_SEV_ERROR,
				       "%s: %s[%zu] must be \"host:port\" "
				       "(the chart adds kafka:// itself), got %s%s%s",
				       pos(b, where, sizeof where), phd_cv_service("kafka")->host, i,
				       s ? "\"" : "",
				       s ? s : "a non-scalar", s ? "\"" : "");
			return PHD_EINVAL;
		}
		len += (size_t)sprintf(t->bootstrap + len, "%s%s", i ? "," : "", s);
	}
	return 0;
}

static int read_protocol(phd_check *chk, const phd_node *values, struct kafka_target *t)
{
	static const char *const known[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT",
					     "SASL_SSL" };
	const phd_node *e = env_entry(values, "KAFKA_SECURITY_PROTOCOL");
	const phd_node *tls = phd_node_get(values, "externalKafka.tls");
	const char *p = phd_node_str(phd_node_get(e, "value"));
	char where[128];
	int on = 0;
	size_t i;

	if (tls && phd_node_bool(tls, &on) != 0) {
		phd_check_note(chk, PHD_SEV_ERROR, "%s: externalKafka.tls must be true or false",
			       pos(tls, where, sizeof where));
		return PHD_ETYPE;
	}
	if (!p) {
		snprintf(t->protocol, sizeof t->protocol, "%s", on ? "SSL" : "PLAINTEXT");
		snprintf(t->protocol_from, sizeof t->protocol_from, "externalKafka.tls: %s",
			 on ? "true" : "false");
		return 0;
	}
	for (i = 0; i < sizeof known / sizeof *known; i++)
		if (strcmp(p, known[i]) == 0)
			break;
	if (i == sizeof known / sizeof *known) {
		phd_check_note(chk, PHD_SEV_ERROR,
			       "%s: KAFKA_SECURITY_PROTOCOL \"%s\" is not one of PLAINTEXT, SSL, "
			       "SASL_PLAINTEXT, SASL_SSL", pos(e, where, sizeof where), p);
		return PHD_EINVAL;
	}
	snprintf(t->protocol, sizeof t->protocol, "%s", p);
	snprintf(t->protocol_from, sizeof t->protocol_from, "KAFKA_SECURITY_PROTOCOL at %s",
		 pos(e, where, sizeof where));
	/* The chart adds KAFKA_SECURITY_PROTOCOL=SSL itself when tls is on;
	 * a plaintext protocol in env then contradicts it. */
	if (on && strstr(p, "SSL") == NULL)
		phd_check_note(chk, PHD_SEV_WARN,
			       "%s: KAFKA_SECURITY_PROTOCOL %s contradicts externalKafka.tls: true "
			       "(the chart also sets SSL); checking with %s", where, p, p);
	return 0;
}

static int read_password(phd_check *chk, const phd_node *values, struct kafka_target *t)
{
	const phd_node *e = env_entry(values, "KAFKA_SASL_PASSWORD");
	const phd_node *ref = phd_node_get(e, "valueFrom.secretKeyRef");
	const char *inl = phd_node_str(phd_node_get(e, "value"));
	const unsigned char *v;
	char where[128];
	size_t len;

	if (!e)
		return 0;
	if (inl) {
		phd_redact_add(phd_check_ctx(chk), inl, strlen(inl));
		phd_check_note(chk, PHD_SEV_WARN,
			       "%s: KAFKA_SASL_PASSWORD is written in the values; use "
			       "valueFrom.secretKeyRef so it stays out of the release history",
			       pos(e, where, sizeof where));
		v = (const unsigned char *)inl;
		len = strlen(inl);
	} else {
		const char *sn = phd_node_str(phd_node_get(ref, "name"));
		const char *key = phd_node_str(phd_node_get(ref, "key"));
		if (!sn || !key) {
			phd_check_note(chk, PHD_SEV_ERROR,
				       "%s: KAFKA_SASL_PASSWORD needs value or "
				       "valueFrom.secretKeyRef {name, key}", pos(e, where, sizeof where));
			return PHD_EINVAL;
		}
		if (phd_secret_get(phd_check_ctx(chk), sn, key, &v, &len) != 0) {
			phd_check_note(chk, PHD_SEV_ERROR,
				       "%s: KAFKA_SASL_PASSWORD comes from secret %s key %s, which no "
				       "`secrets:` entry provides", pos(e, where, sizeof where), sn, key);
			return PHD_ENOTFOUND;
		}
	}
	if (!(t->password = malloc(len + 1)))
		return PHD_ENOMEM;
	memcpy(t->password, v, len);
	t->password[len] = '\0';
	t->password_len = len;
	return 0;
}

static int read_sasl(phd_check *chk, const phd_node *values, struct kafka_target *t)
{
	const char *mech = env_value(values, "KAFKA_SASL_MECHANISM");
	const char *user = env_value(values, "KAFKA_SASL_USER");
	int sasl = strncmp(t->protocol, "SASL_", 5) == 0;
	int rc;

	if (!sasl) {
		if (mech || user || env_entry(values, "KAFKA_SASL_PASSWORD"))
			phd_check_note(chk, PHD_SEV_WARN,
				       "KAFKA_SASL_* settings are ignored: the security protocol is "
				       "%s (from %s); set KAFKA_SECURITY_PROTOCOL to SASL_SSL",
				       t->protocol, t->protocol_from);
		return 0;
	}
	snprintf(t->mechanism, sizeof t->mechanism, "%s", mech ? mech : "PLAIN");
	if (strcmp(t->mechanism, "AWS_MSK_IAM") == 0 || strcmp(t->mechanism, "OAUTHBEARER") == 0) {
		phd_check_note(chk, PHD_SEV_ERROR,
			       "KAFKA_SASL_MECHANISM %s: PostHog's clients cannot use MSK IAM "
			       "authentication; enable SASL/SCRAM or TLS on the MSK cluster",
			       t->mechanism);
		return PHD_EINVAL;
	}
	if (user && !(t->user = strdup(user)))
		return PHD_ENOMEM;
	if ((rc = read_password(chk, values, t)) != 0)
		return rc;
	if (!t->user || !t->password) {
		phd_check_note(chk, PHD_SEV_ERROR,
			       "protocol %s needs KAFKA_SASL_USER and KAFKA_SASL_PASSWORD in an env "
			       "list of the values", t->protocol);
		return PHD_EINVAL;
	}
	return 0;
}

int kafka_target_read(phd_check *chk, struct kafka_target *t)
{
	const phd_node *values = phd_ctx_values(phd_check_ctx(chk));
	const phd_node *cfg = phd_check_config(chk);
	const struct phd_cv_service *svc = phd_cv_service("kafka");
	const char *prefix;
	char toggle[64];
	int enabled = 1, rc;

	memset(t, 0, sizeof *t);
	snprintf(toggle, sizeof toggle, "%s.enabled", svc->internal);
	/* The chart's default is an in-cluster Kafka: nothing external. */
	if (phd_node_bool(phd_node_get(values, toggle), &enabled) != 0 || enabled) {
		phd_check_summary(chk, "in-cluster Kafka (%s is not false): "
				       "no external brokers to check", toggle);
		return PHD_EIGNORE;
	}
	t->brokers = phd_node_get(values, svc->host);
	if (phd_node_type(t->brokers) != PHD_NODE_SEQ || phd_node_len(t->brokers) == 0) {
		phd_check_summary(chk, "%s is false but %s is empty: nothing to check", toggle,
				  svc->host);
		return PHD_EIGNORE;
	}
	if ((rc = join_brokers(chk, t)) != 0 || (rc = read_protocol(chk, values, t)) != 0 ||
	    (rc = read_sasl(chk, values, t)) != 0)
		return rc;
	prefix = env_value(values, "KAFKA_PREFIX");
	snprintf(t->prefix, sizeof t->prefix, "%s", prefix ? prefix : "");
	t->ca_file = phd_node_str(phd_node_get(cfg, "ca_file"));
	return 0;
}

void kafka_target_clear(struct kafka_target *t)
{
	if (t->password) {
		explicit_bzero(t->password, t->password_len);
		free(t->password);
	}
	free(t->user);
	free(t->bootstrap);
	memset(t, 0, sizeof *t);
}

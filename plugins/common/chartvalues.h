/* The PostHog chart's (30.46.0) values keys that name a Secret, an inline
 * password or an external endpoint: the one table of them, used by kube
 * (what must exist before the install, inline secrets) and by the
 * dependency checks (where to connect, which password).  Compiled into
 * each plugin that uses it, nothing exported. */
#ifndef PHD_CHARTVALUES_H
#define PHD_CHARTVALUES_H

#include <stddef.h>

#include <phdeploy/plugin.h>

/* A key of a referenced Secret: read from values key `path` (default `def`
 * when unset; path set and def NULL: the chart requires it), or the fixed
 * key `def` when path is NULL. */
struct phd_cv_key {
	const char *path;
	const char *def;
};

/* A Secret the chart reads when the values name it. */
struct phd_cv_secret {
	const char *name_path;          /* "externalPostgresql.existingSecret" */
	struct phd_cv_key keys[2];      /* the first is the password */
	const char *toggle;             /* bool deciding whether it applies, or NULL */
	int toggle_default;             /* the chart's default of toggle */
	int toggle_want;                /* applies when toggle == toggle_want */
	const char *inline_paths[2];    /* passwords it replaces inline, or NULL */
};

extern const struct phd_cv_secret phd_cv_secrets[];
extern const size_t phd_cv_nsecrets;

/* The Secret named by values key name_path, or NULL. */
const struct phd_cv_secret *phd_cv_secret(const char *name_path);
/* Whether the chart reads s with these values (its toggle). */
int phd_cv_secret_applies(const struct phd_cv_secret *s, const phd_node *values);

/* An external service the chart connects PostHog to. */
struct phd_cv_service {
	const char *check;              /* the check's name: "postgres" */
	const char *what;               /* "PostgreSQL" */
	const char *aws;                /* the managed endpoint to point at: "RDS" */
	const char *internal;           /* "postgresql": <internal>.enabled runs it in-cluster */
	const char *host;               /* values key of the host (kafka: the broker list) */
	const char *port;               /* values key of the port, NULL: in host */
	int default_port;
	const char *password;           /* name_path of its password's Secret, or NULL */
	const char *min_version;        /* server versions PostHog accepts without */
	const char *max_version;        /* SKIP_SERVICE_VERSION_REQUIREMENTS, or NULL */
};

/* The service checked by check ("postgres", "redis", "kafka"), or NULL. */
const struct phd_cv_service *phd_cv_service(const char *check);

/* An in-chart component that connects to the external PostgreSQL without
 * TLS with these values, and the values key that makes it so.  By default
 * none does: PgBouncer (bitnami image: PgBouncer's server_tls_sslmode
 * prefer) and the migrate Job (libpq, sslmode prefer) negotiate TLS when
 * the server offers it, and the apps reach PostgreSQL through PgBouncer. */
struct phd_cv_plain {
	const char *who;        /* "PgBouncer" */
	const char *key;        /* "pgbouncer.env" */
	const phd_node *where;  /* the user's node, for its position */
	const char *why;        /* "PGBOUNCER_SERVER_TLS_SSLMODE is disable" */
};
size_t phd_cv_pg_plaintext(const phd_node *values, struct phd_cv_plain *out, size_t max);

#endif

/* Helpers shared by the dependency checks (postgres, redis): compiled into
 * each plugin, nothing exported.  They read the chart's values the same way
 * the chart does, so a check tests what PostHog will really use. */
#ifndef PHD_DEPCHECK_H
#define PHD_DEPCHECK_H

#include <phdeploy/plugin.h>

#include "chartvalues.h"

/* One check run: notes go through phd_dc_note, which counts the errors
 * (the core makes the first error note the check's summary). */
struct phd_dc {
	phd_check *chk;
	const char *name;         /* the check's name, for checks.<name>.<key> */
	const phd_node *values;   /* merged values (may be NULL) */
	long long deadline;       /* absolute, phd_dl_now_ms() clock (deadline.h) */
	int errors;
	char first[2048];         /* the first error note, for a summary that repeats it */
	/* the values keys of the endpoint checked: an error note that names one
	 * of its hosts names them too, so the operator knows what to change */
	const char *ep_key, *ep_port_key;
	const phd_node *ep_node;
	const char *ep_hosts[8];
	size_t ep_nhosts;
};

/* Deadline: what the core leaves us, less a margin to report before the
 * core kills the child. */
void phd_dc_init(struct phd_dc *dc, phd_check *chk, const char *name);
void phd_dc_note(struct phd_dc *dc, int severity, const char *fmt, ...) PHD_PRINTF(3, 4);
/* The values key (and port key, or NULL) of the endpoint, node for its
 * position; then each host string as it appears in notes ("host", "host:port"). */
void phd_dc_set_endpoint(struct phd_dc *dc, const char *key, const char *port_key,
			 const phd_node *node);
void phd_dc_add_host(struct phd_dc *dc, const char *host);
/* Milliseconds left before dc->deadline (0 when past). */
long long phd_dc_left(const struct phd_dc *dc);

/* Wait for events on fd until dc->deadline: 1 ready, 0 deadline passed,
 * -1 poll failed. */
int phd_dc_wait(const struct phd_dc *dc, int fd, short events);

/* Time three round trips of probe (returns 0 when answered), and note the
 * median against warn_ms (checks.<name>.max_latency).  Returns it in
 * microseconds, or -1 when a probe failed (it notes why). */
long long phd_dc_rtt(struct phd_dc *dc, int (*probe)(void *arg), void *arg, const char *what,
		     long long warn_ms);

/* "values.yaml:3:5" for a node, or "chart default" for NULL (into buf). */
const char *phd_dc_at(const phd_node *n, char *buf, size_t len);

/* Non-empty scalar at path below values, else NULL. */
const char *phd_dc_str(const phd_node *values, const char *path);

/* Boolean at path; dflt when absent.  A value that is not a boolean gets an
 * error note and counts as dflt. */
int phd_dc_bool(struct phd_dc *dc, const phd_node *base, const char *path, int dflt);

/* Port at path below values (1..65535) into *out; dflt when absent.  -1 after an error note. */
int phd_dc_port(struct phd_dc *dc, const phd_node *values, const char *path, int dflt, int *out);

/* checks.<name>.<key>: a readable file's path (else an error note), or NULL. */
const char *phd_dc_file(struct phd_dc *dc, const phd_node *cfg, const char *key);
/* checks.<name>.<key>: a duration in ms, or dflt (error note when not one). */
long long phd_dc_duration(struct phd_dc *dc, const phd_node *cfg, const char *key,
			  long long dflt);

/* Note a warning for each key of cfg not in known (NULL-terminated); the
 * core's own keys (required, timeout) are always known. */

/* The external endpoint's host (svc->host below the values), used when
 * <svc->internal>.enabled is false.  PHD_EIGNORE (summary set) when the
 * chart runs its own service, PHD_EFAILED (error noted) when disabled
 * without a host; a warning when both are set (the chart refuses mixed
 * settings). */
int phd_dc_external_host(struct phd_dc *dc, const struct phd_cv_service *svc, const char **host);

/* The password, borrowed from the secret store or the values tree.  origin
 * says where it came from, for messages.  Never log value. */
struct phd_dc_password {
	const unsigned char *value;
	size_t len;
	char origin[256];
};

/* 0: found; PHD_ENOTFOUND: the values configure no password; another
 * negative code after an error note (secret or key missing, ...). */
int phd_dc_password_get(struct phd_dc *dc, const struct phd_cv_service *svc,
			struct phd_dc_password *out);

/* The endpoint of svc as the chart passes it to PostHog: host
 * (phd_dc_external_host), port, and the password when the values give one
 * (*have_pw).  0, PHD_EIGNORE, or another negative code after a note. */
int phd_dc_endpoint(struct phd_dc *dc, const struct phd_cv_service *svc, const char **host,
		    int *port, struct phd_dc_password *pw, int *have_pw);

/* "externalRedis.existingSecret and externalRedis.existingSecretPasswordKey":
 * the values keys that give svc a password, for messages (into buf). */
const char *phd_dc_password_hint(const struct phd_cv_service *svc, char *buf, size_t len);

/* Parse "15.4", "7.0.15", "14.1 (Debian ...)" into v[3]; -1 if no number. */
int phd_dc_version_parse(const char *s, int v[3]);
int phd_dc_version_cmp(const int a[3], const int b[3]);

/* Report version (text) of service ("PostgreSQL") against PostHog's
 * accepted range [min, max] and whether the values set
 * SKIP_SERVICE_VERSION_REQUIREMENTS for every workload that checks it.
 * Returns 1 when it noted an error. */
int phd_dc_version_report(struct phd_dc *dc, const char *service,
			  const char *version, const char *min, const char *max);

#endif

/* Resolving the images: one group of worker threads per registry, at most
 * max_concurrent requests in flight to each, every request under the
 * run's one deadline.  The workers touch no phd_ctx (a context is used
 * from one thread): they fill img_job.m, the caller reports. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "deadline.h"
#include "images.h"

#define IMG_MAX_THREADS 64

struct group {
	const char *registry;
	struct oci_conn conn;
	char *ca;                  /* owned: from certs.d */
	size_t *idx;               /* jobs of this registry */
	size_t n, next;
	pthread_mutex_t lock;
	struct img_job *jobs;
	size_t nthreads;
};

static int interrupted(void *payload)
{
	return phd_ctx_interrupted(payload);
}

static void *worker(void *arg)
{
	struct group *g = arg;

	for (;;) {
		struct img_job *j;
		struct oci_conn c;
		pthread_mutex_lock(&g->lock);
		if (g->next >= g->n) {
			pthread_mutex_unlock(&g->lock);
			return NULL;
		}
		j = &g->jobs[g->idx[g->next++]];
		pthread_mutex_unlock(&g->lock);
		if (j->m.status)
			continue;   /* failed before asking (no ECR token) */
		c = g->conn;
		c.user = j->user;
		c.pass = j->pass;
		oci_manifest_get(&c, &j->ref, 0, &j->m);
	}
}

static const struct img_registry_cfg *reg_cfg(const struct img_cfg *cfg, const char *host)
{
	for (size_t i = 0; i < cfg->nreg; i++)
		if (!strcmp(cfg->reg[i].host, host))
			return &cfg->reg[i];
	return NULL;
}

static void setup_group(phd_ctx *ctx, const struct img_cfg *cfg, struct group *g,
			long long deadline)
{
	const struct img_registry_cfg *rc = reg_cfg(cfg, g->registry);
	long long max = rc && rc->max_concurrent > 0 ? rc->max_concurrent : cfg->max_concurrent;

	g->conn.deadline = deadline;
	g->conn.user_agent = "libphdeploy-images/" PHD_VERSION_STRING;
	g->conn.interrupted = interrupted;
	g->conn.payload = ctx;
	g->conn.insecure = rc ? rc->insecure : 0;
	if (rc && rc->ca)
		g->conn.cafile = rc->ca;
	else if ((g->ca = oci_certs_d_ca((const char *const *)cfg->certs_dirs, g->registry)))
		g->conn.cafile = g->ca;
	if (g->conn.cafile)
		phd_log(ctx, PHD_LOG_DEBUG, "%s: registry %s: CA %s", IMG_PLUGIN, g->registry,
			g->conn.cafile);
	if (g->conn.insecure)
		phd_log(ctx, PHD_LOG_WARN, "%s: registry %s is configured insecure: plain http, "
			"credentials and digests unprotected", IMG_PLUGIN, g->registry);
	g->nthreads = (size_t)(max < 1 ? 1 : max);
	if (g->nthreads > g->n)
		g->nthreads = g->n;
}

int img_resolve_all(phd_ctx *ctx, const struct img_cfg *cfg, struct img_job *jobs, size_t n)
{
	long long deadline = phd_dl_now_ms() + cfg->timeout_ms;
	struct group *g = calloc(n ? n : 1, sizeof(*g));
	pthread_t *th = calloc(IMG_MAX_THREADS, sizeof(*th));
	struct group **owner = calloc(IMG_MAX_THREADS, sizeof(*owner));
	size_t ng = 0, nt = 0, i, k;
	int rc = 0;

	if (!g || !th || !owner) {
		rc = PHD_ENOMEM;
		goto out;
	}
	/* libcurl's global set-up is not for threads to race on */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		rc = phd_set_error(ctx, PHD_EINTERNAL, "%s: libcurl cannot start", IMG_PLUGIN);
		goto out;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < ng && strcmp(g[k].registry, jobs[i].ref.registry); k++)
			;
		if (k == ng) {
			g[ng].registry = jobs[i].ref.registry;
			g[ng].jobs = jobs;
			if (!(g[ng].idx = calloc(n, sizeof(size_t)))) {
				rc = PHD_ENOMEM;
				goto out;
			}
			pthread_mutex_init(&g[ng].lock, NULL);
			ng++;
		}
		g[k].idx[g[k].n++] = i;
	}
	for (k = 0; k < ng; k++)
		setup_group(ctx, cfg, &g[k], deadline);
	/* every registry gets a thread before any gets a second one */
	for (size_t round = 0; nt < IMG_MAX_THREADS; round++) {
		int any = 0;
		for (k = 0; k < ng && nt < IMG_MAX_THREADS; k++) {
			if (round >= g[k].nthreads)
				continue;
			any = 1;
			if (pthread_create(&th[nt], NULL, worker, &g[k]) == 0)
				owner[nt++] = &g[k];
		}
		if (!any)
			break;
	}
	for (k = 0; k < ng; k++) {
		size_t started = 0;
		for (i = 0; i < nt; i++)
			started += owner[i] == &g[k];
		if (!started)     /* no thread could start: resolve here */
			worker(&g[k]);
	}
	for (i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
out:
	for (k = 0; g && k < ng; k++) {
		free(g[k].idx);
		free(g[k].ca);
		pthread_mutex_destroy(&g[k].lock);
	}
	free(g);
	free(th);
	free(owner);
	return rc;
}

/* Internals of the images plugin (not installed): every image the
 * rendered release pulls, the chart's values keys that set them, the
 * images known to be gone, and their resolution through the registries. */
#ifndef PHD_IMAGES_H
#define PHD_IMAGES_H

#include <stddef.h>
#include <phdeploy/plugin.h>

#include "oci.h"

#define IMG_PLUGIN "images"

/* ---- configuration (images.c) ---------------------------------------- */
struct img_registry_cfg {
	const char *host;          /* "HOST" or "HOST:PORT" as the images name it */
	const char *ca;            /* CA bundle file, or NULL */
	int insecure;              /* plain http allowed */
	long long max_concurrent;  /* 0: the plugin's */
	const char *ecr_region;    /* an ECR registry under another name */
};
struct img_cfg {
	int resolve;               /* ask the registries (render phase) */
	long long timeout_ms;      /* every registry request of a run */
	long long max_concurrent;  /* per registry */
	char **platforms;          /* "linux/amd64" ... (NULL-ended) */
	int node_platforms;        /* ask the cluster's nodes instead */
	char **certs_dirs;         /* certs.d roots (NULL-ended) */
	struct img_registry_cfg *reg;
	size_t nreg;
};

/* ---- the images of a manifest stream (collect.c) ----------------------- */
struct img_use {
	char *image;               /* as the pod spec names it */
	char *object;              /* "Deployment/posthog-web/posthog-web" */
	const phd_node *where;     /* the image: node */
	char *values_key;          /* the values key that sets it, or NULL */
	const phd_node *values_where;  /* the user's values node for it, or NULL */
	char **pull_secrets;       /* the pod's imagePullSecrets names (NULL-ended) */
};
struct img_uses {
	struct img_use *u;
	size_t n, cap;
	int oom;
};
/* Every container, init container and ephemeral container image of the
 * workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
 * CronJob) and of a ClickHouseInstallation's pod templates. */
int img_collect(struct img_uses *out, const phd_node *const *docs, size_t ndocs,
		const phd_node *values);
void img_uses_free(struct img_uses *u);

/* ---- what the chart and the world know (known.c) ------------------------ */
/* The values key ("zookeeper.image.repository", "busybox.image") that sets the image
 * whose repository is repo (docker.io normalised away), by the user's
 * values first, then by the chart's defaults; NULL when none does.
 * *where: the user's values node, or NULL. */
const char *img_values_key(const phd_node *values, const struct oci_ref *ref,
			   const phd_node **where, char *buf, size_t len);
/* Why ref can no longer be pulled (a withdrawn tag, a registry that no
 * longer serves) and what to use instead, or NULL (static text). */
const char *img_gone(const struct oci_ref *ref, char *fix, size_t fixlen);
/* The chart's images checked offline on the values: for each one that
 * the values enable, the effective image and its values key prefix. */
struct img_chart_image {
	const char *prefix;        /* "zookeeper.image" */
	const char *registry;      /* chart default: "docker.io" */
	const char *repository;    /* chart default: "bitnami/zookeeper" */
	const char *tag;           /* chart default */
	const char *toggle;        /* "<x>.enabled" or NULL */
	int toggle_default;
};
extern const struct img_chart_image img_chart_images[];
/* Whether key is below a prefix of img_chart_images (checked offline). */
int img_chart_prefix(const char *key);

/* ---- the live nodes (nodes.c) ------------------------------------------------- */
/* "os/arch" of the cluster's nodes (NULL-ended, malloc'd), or NULL (logged)
 * when kubectl cannot list them. */
char **img_node_platforms(phd_ctx *ctx);

/* ---- Amazon ECR (ecr.c) ------------------------------------------------------ */
/* The region of an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com):
 * 0, or -1 when registry is not one. */
int img_ecr_region(const char *registry, char *region, size_t len);
/* Basic credentials from ecr:GetAuthorizationToken with the AWS credential
 * chain (registered with the redactor); 0 or a PHD_E* code with the
 * message set. */
int img_ecr_login(phd_ctx *ctx, const char *registry, const char *region, long long timeout_ms,
		  char **user, char **pass);

/* ---- resolution through the registries (resolve.c) ----------------------- */
struct img_job {
	struct oci_ref ref;
	char *name;                /* oci_ref_str(ref) */
	size_t first_use;          /* index into img_uses */
	size_t nuses;
	char *user, *pass;         /* basic credentials (wiped) or NULL */
	char cred_origin[96];      /* "imagePullSecret NAME", "an ECR token"; "" anonymous */
	/* result; a job whose m.status is set before is not asked */
	struct oci_manifest m;
};
/* Resolve every job, per registry at most cfg->max_concurrent at a time,
 * all under one deadline.  Runs worker threads that touch no phd_ctx. */
int img_resolve_all(phd_ctx *ctx, const struct img_cfg *cfg, struct img_job *jobs, size_t n);

#endif

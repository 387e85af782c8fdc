/* secret-file: Secrets from Kubernetes Secret manifests on disk
 * (`{provider: file, path: postgres.secret.yaml}`), checked before anything
 * reaches the cluster.  See phdeploy-secret-file(7). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <phdeploy/plugin.h>

#include "../secret-common/common.h"
#include "../secret-common/manifest.h"

#define PLUGIN "secret-file"


/* path relative to the directory of the file the entry was read from */
static void resolve(char *out, size_t n, const phd_node *entry, const char *path)
{
	const char *cfg = phd_node_file(entry);
	const char *slash = cfg ? strrchr(cfg, '/') : NULL;

	if (path[0] == '/' || !slash)
		snprintf(out, n, "%s", path);
	else
		snprintf(out, n, "%.*s/%s", (int)(slash - cfg), cfg, path);
}

static int slurp(phd_ctx *ctx, const char *path, const phd_node *at, struct sc_buf *b)
{
	struct sc_pos pos;
	struct stat st;
	int err, rc = sc_read_file(path, b, &err);

	sc_pos(&pos, at);
	if (rc == PHD_ETOOBIG)
		return phd_set_error(ctx, rc, "%s: %s: %s is over the %u-byte limit", pos.s,
				     PLUGIN, path, SC_MAX_INPUT);
	if (rc && err == EINVAL)
		return phd_set_error(ctx, rc, "%s: %s: %s is not a regular file", pos.s, PLUGIN,
				     path);
	if (rc)
		return phd_set_error(ctx, rc, "%s: %s: cannot open %s: %s", pos.s, PLUGIN, path,
				     err ? strerror(err) : phd_strerror(rc));
	/* read it anyway (it is the operator's file), but say who else can */
	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		phd_log(ctx, PHD_LOG_WARN, "%s: %s: %s is readable by every user (mode %04o); "
			"chmod 600 it", pos.s, PLUGIN, path, (unsigned)(st.st_mode & 07777));
	return 0;
}

static const struct phd_config_key entry_keys[] = {
	{ "path", PHD_CFG_STRING, PHD_CFG_REQUIRED, NULL, "a *.secret.yaml manifest" },
	PHD_CONFIG_END
};

static int provide(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink,
		   void *userdata)
{
	char path[PATH_MAX];
	const char *rel;
	struct sc_buf b = { 0 };
	struct sm_source src;
	int rc;

	(void)userdata;
	if ((rc = sc_check_entry(ctx, PLUGIN, entry, entry_keys)) ||
	    (rc = sc_get_str(ctx, PLUGIN, entry, "path", 1, &rel)))
		return rc;
	resolve(path, sizeof path, entry, rel);
	rc = slurp(ctx, path, phd_node_get(entry, "path"), &b);
	if (rc == 0) {
		src.plugin = PLUGIN;
		src.origin = path;
		src.where = entry;
		rc = sm_parse(ctx, sink, &src, b.p ? (const char *)b.p : "", b.len);
	}
	sc_buf_wipe(&b);
	if (rc == 0)
		phd_log(ctx, PHD_LOG_DEBUG, "%s: read Secrets from %s", PLUGIN, path);
	return rc;
}

static int init(phd_plugin *p, const phd_node *config)
{
	(void)config;
	return sc_register(p, "file", provide, entry_keys);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("secret-file", "2.0", init, NULL);

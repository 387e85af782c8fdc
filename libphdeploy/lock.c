/* One deploy of a release at a time on this machine: an flock on
 * <state>/locks/<namespace>.<release>.lock that dies with its holder, so a
 * stale lock from a dead process is simply taken over. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "phd-private.h"

int phd_lock_take(phd_ctx *ctx)
{
	const char *dir = phd_ctx_state_dir(ctx);
	char *ldir, *path, holder[256] = "";
	int fd;

	if (ctx->lock_fd >= 0)
		return 0;
	ldir = phd_path_join(dir, "locks");
	if (!ldir || phd_mkdir_p(ldir, 0700) != 0) {
		int rc = phd_set_error(ctx, PHD_EIO, "cannot create the lock directory %s: %s",
				       ldir ? ldir : dir, strerror(errno));
		free(ldir);
		return rc;
	}
	path = phd_asprintf("%s/%s.%s.lock", ldir, phd_ctx_namespace(ctx), phd_ctx_release(ctx));
	free(ldir);
	if (!path)
		return PHD_ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int rc = phd_set_error(ctx, PHD_EIO, "cannot open lock %s: %s", path,
				       strerror(errno));
		free(path);
		return rc;
	}
	{
		ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		long pid = 0;
		char started[64] = "?";
		sscanf(holder, "%ld %63s", &pid, started);
		close(fd);
		phd_set_error(ctx, PHD_ELOCKED,
			      "release %s/%s is locked by another phdeploy run (pid %ld, started %s); "
			      "lock file %s", phd_ctx_namespace(ctx), phd_ctx_release(ctx), pid,
			      started, path);
		free(path);
		return PHD_ELOCKED;
	}
	if (holder[0])
		phd_log(ctx, PHD_LOG_INFO, "taking over a stale lock left by a dead run (%s)",
			holder);
	{
		char line[128], when[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), when);
		if (ftruncate(fd, 0) != 0 || pwrite(fd, line, strlen(line), 0) < 0)
			phd_log(ctx, PHD_LOG_WARN, "lock %s: cannot record the holder", path);
	}
	free(path);
	ctx->lock_fd = fd;
	return 0;
}

void phd_lock_release(phd_ctx *ctx)
{
	if (ctx->lock_fd < 0)
		return;
	/* leave the file; an empty holder means nobody is running */
	if (ftruncate(ctx->lock_fd, 0) != 0)
		phd_log(ctx, PHD_LOG_DEBUG, "lock: cannot clear the holder");
	flock(ctx->lock_fd, LOCK_UN);
	close(ctx->lock_fd);
	ctx->lock_fd = -1;
}

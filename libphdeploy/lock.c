/* One deploy of a release at a time on this machine: an flock on
 * <state>/locks/<namespace>.<release>.lock that dies with its holder, so a
 * stale lock from a dead process is simply taken over.  Next to it,
 * <...>.child names the command the holder is running (helm upgrade):
 * a SIGKILLed run cannot end its children, so whoever takes the lock over
 * ends them, rather than run a second helm against the release. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "phd-private.h"

static char *lock_path(phd_ctx *ctx, const char *ext)
{
	return phd_asprintf("%s/locks/%s.%s.%s", phd_ctx_state_dir(ctx), phd_ctx_namespace(ctx),
			    phd_ctx_release(ctx), ext);
}

/* Start time of a process in clock ticks since boot (/proc/PID/stat field
 * 22), -1 when there is no such process: tells a reused pid apart. */
static long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	long long start = -1;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip past its last ')' */
	if (!(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %lld", &start) != 1)
		return -1;
	return start;
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

void phd_lock_note_child(phd_ctx *ctx, pid_t pid, const char *what)
{
	char *path;

	if (ctx->lock_fd < 0 || !(path = lock_path(ctx, "child")))
		return;
	if (pid > 0) {
		FILE *f = fopen(path, "we");
		if (f) {
			fprintf(f, "%ld %lld %ld %s\n", (long)pid, proc_start(pid), (long)getpid(),
				what ? what : "?");
			if (fclose(f) != 0)
				unlink(path);
		}
	} else {
		unlink(path);
	}
	free(path);
}

/* The run that held the lock before us died; its child's process group
 * may live on.  End it: TERM, then KILL after a grace period. */
static void end_previous_child(phd_ctx *ctx)
{
	char *path = lock_path(ctx, "child"), line[512] = "", what[400] = "?";
	long pgid = 0, owner = 0;
	long long start = -1, now;
	FILE *f;

	if (!path)
		return;
	if ((f = fopen(path, "re"))) {
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
	}
	unlink(path);
	free(path);
	if (sscanf(line, "%ld %lld %ld %399[^\n]", &pgid, &start, &owner, what) < 3 || pgid <= 1)
		return;
	/* the leader alive with another start time: the pid was reused */
	if (proc_start((pid_t)pgid) >= 0 && proc_start((pid_t)pgid) != start)
		return;
	if (!group_alive((pid_t)pgid))
		return;
	phd_log(ctx, PHD_LOG_WARN, "the previous run (pid %ld) died and left \"%s\" running "
		"(process group %ld); ending it", owner, what, pgid);
	kill(-(pid_t)pgid, SIGTERM);
	for (now = phd_now_ms(); group_alive((pid_t)pgid) && phd_now_ms() - now < 5000;)
		usleep(20000);
	if (group_alive((pid_t)pgid)) {
		kill(-(pid_t)pgid, SIGKILL);
		for (now = phd_now_ms(); group_alive((pid_t)pgid) && phd_now_ms() - now < 2000;)
			usleep(20000);
	}
	if (group_alive((pid_t)pgid))
		phd_log(ctx, PHD_LOG_WARN, "process group %ld did not end", pgid);
}

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
	end_previous_child(ctx);
	return 0;
}

void phd_lock_release(phd_ctx *ctx)
{
	if (ctx->lock_fd < 0)
		return;
	phd_lock_note_child(ctx, 0, NULL);
	/* leave the file; an empty holder means nobody is running */
	if (ftruncate(ctx->lock_fd, 0) != 0)
		phd_log(ctx, PHD_LOG_DEBUG, "lock: cannot clear the holder");
	flock(ctx->lock_fd, LOCK_UN);
	close(ctx->lock_fd);
	ctx->lock_fd = -1;
}

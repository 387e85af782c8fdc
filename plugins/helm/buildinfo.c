/* Helm's version read from the binary itself, without running it.
 *
 * Go (1.18+) embeds the build info in an ELF section .go.buildinfo: a
 * 32-byte header ("\xff Go buildinf:", pointer size, flags; flag 2 = the
 * strings follow inline) then two varint-length strings, the Go version
 * and the module info ("path\t...\nmod\thelm.sh/helm/v4\tv4.1.4\t...\n
 * dep\tk8s.io/client-go\tv0.33.3\t...").  The main module's path carries
 * the major (Go's semantic import versioning: helm.sh/helm/v3, /v4); its
 * version is often "(devel)" for release builds, which set the version
 * with -X, so the minor is taken from the version when there is one.
 *
 * It is read on every run: swapping the binary at the same path is seen
 * at once and there is no cache to go stale.  Anything else (a script, an
 * older Go, no section table) returns -1 and the caller runs
 * `helm version --short`. */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helm-private.h"

#define BI_MAX_SECTIONS 4096
#define BI_MAX_SHSTRTAB ((size_t)1 << 16)
#define BI_MAX_INFO ((size_t)1 << 20)

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* The .go.buildinfo section's bytes (malloc'd) or NULL. */
static unsigned char *section(int fd, size_t *len)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL, *str;
	char *names = NULL;
	unsigned char *out = NULL;

	if (read_at(fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || !eh.e_shnum ||
	    eh.e_shnum > BI_MAX_SECTIONS || eh.e_shstrndx >= eh.e_shnum)
		return NULL;
	if (!(sh = calloc(eh.e_shnum, sizeof *sh)) ||
	    read_at(fd, sh, eh.e_shnum * sizeof *sh, eh.e_shoff))
		goto out;
	str = &sh[eh.e_shstrndx];
	if (str->sh_size == 0 || str->sh_size > BI_MAX_SHSTRTAB ||
	    !(names = malloc(str->sh_size + 1)) || read_at(fd, names, str->sh_size, str->sh_offset))
		goto out;
	names[str->sh_size] = '\0';
	for (size_t i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_name >= str->sh_size || strcmp(names + sh[i].sh_name, ".go.buildinfo") ||
		    sh[i].sh_type == SHT_NOBITS || sh[i].sh_size < 32)
			continue;
		*len = sh[i].sh_size > BI_MAX_INFO ? BI_MAX_INFO : sh[i].sh_size;
		if ((out = malloc(*len)) && read_at(fd, out, *len, sh[i].sh_offset)) {
			free(out);
			out = NULL;
		}
		break;
	}
out:
	free(sh);
	free(names);
	return out;
}

/* One inline string: a varint length then the bytes. */
static const unsigned char *varstr(const unsigned char *p, const unsigned char *end,
				   size_t *n)
{
	uint64_t v = 0;

	for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
		unsigned char b = *p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (v > (uint64_t)(end - p))
				return NULL;
			*n = (size_t)v;
			return p;
		}
	}
	return NULL;
}

/* The value after "\n<tag>\t<name>\t" in the module info, up to a tab or
 * newline, into out; 0 when found. */
static int mod_field(const char *info, size_t len, const char *tag, const char *name,
		     char *out, size_t outlen)
{
	char needle[128];
	size_t nl = (size_t)snprintf(needle, sizeof needle, "\n%s\t%s\t", tag, name), i = 0;
	const char *p = info, *end = info + len;

	if (nl >= sizeof needle)
		return -1;
	for (; p + nl <= end; p++) {
		if (memcmp(p, needle, nl))
			continue;
		p += nl;
		while (p < end && *p != '\t' && *p != '\n' && i + 1 < outlen)
			out[i++] = *p++;
		out[i] = '\0';
		return 0;
	}
	return -1;
}

/* "v0.22.1" -> 22 (the minor), -1 when it is no such version. */
static int minor_of(const char *v)
{
	int ma, mi;

	return sscanf(v, "v%d.%d", &ma, &mi) == 2 ? mi : -1;
}

int helm_buildinfo_version(const char *exe, int *major, int *minor)
{
	unsigned char *sec;
	const unsigned char *p, *end, *mod;
	char ver[64], dep[64];
	size_t len = 0, n, info_len;
	int fd, rc = -1, ma, mi;

	if ((fd = open(exe, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	sec = section(fd, &len);
	close(fd);
	/* header: magic, pointer size, flags (2: inline strings) */
	if (!sec || memcmp(sec, "\xff Go buildinf:", 14) || !(sec[15] & 2))
		goto out;
	end = sec + len;
	if (!(p = varstr(sec + 32, end, &n)) || !(mod = varstr(p + n, end, &info_len)))
		goto out;
	/* mod is wrapped in 16-byte sentinels; the lines are what counts */
	{
		const char *info = (const char *)mod;
		if (!mod_field(info, info_len, "mod", "helm.sh/helm/v4", ver, sizeof ver))
			ma = 4;
		else if (!mod_field(info, info_len, "mod", "helm.sh/helm/v3", ver, sizeof ver))
			ma = 3;
		else
			goto out;
		mi = minor_of(ver);
		/* Helm 3 release builds say (devel): 3.7, the oldest Helm 3 the chart
		 * accepts, moved to Kubernetes 1.22's client-go; an older one is
		 * left to the probe, which names its exact version */
		if (ma == 3 && mi < 0 &&
		    (mod_field(info, info_len, "dep", "k8s.io/client-go", dep, sizeof dep) ||
		     minor_of(dep) < 22))
			goto out;
		if (ma == 3 && mi >= 0 && mi < 7)
			goto out;
	}
	*major = ma;
	*minor = mi;
	rc = 0;
out:
	free(sec);
	return rc;
}

char *helm_exe_path(const char *helm)
{
	const char *path = getenv("PATH");
	char *p = NULL;

	if (strchr(helm, '/'))
		return strdup(helm);
	/* as execvp looks it up */
	for (const char *s = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; s; ) {
		const char *colon = strchr(s, ':');
		int dl = colon ? (int)(colon - s) : (int)strlen(s);
		if (asprintf(&p, "%.*s%s%s", dl, s, dl ? "/" : "", helm) < 0)
			return NULL;
		if (access(p, X_OK) == 0)
			return p;
		free(p);
		p = NULL;
		s = colon ? colon + 1 : NULL;
	}
	return NULL;
}

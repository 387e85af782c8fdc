/* The plugin loader and the registration functions.
 *
 * Search path: options.plugin_path, then $PHDEPLOY_PLUGIN_PATH, then the
 * installed directory unless that variable is set (see search_path); every
 * *.so there is loaded and the first of a name wins.  Directories from the
 * config's plugins.path only supply the names listed in plugins.load. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phd-private.h"

#ifndef PHD_PLUGINDIR
#define PHD_PLUGINDIR "/usr/local/lib/libphdeploy/plugins"
#endif

/* The fields every ABI 1.x descriptor starts with. */
struct desc_head {
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;
};

static void free_reg(struct phd_reg *r)
{
	if (r->destroy)
		r->destroy(r->userdata);
	free(r->name);
	free(r);
}

static void drop_plugin_regs(phd_ctx *ctx, struct phd_plugin *p)
{
	phd_dispatch_invalidate(ctx);
	size_t k = 0;
	for (size_t i = 0; i < ctx->regs.n; i++) {
		struct phd_reg *r = ctx->regs.v[i];
		if (r->plugin == p)
			free_reg(r);
		else
			ctx->regs.v[k++] = r;
	}
	ctx->regs.n = k;
}

static void free_plugin(phd_ctx *ctx, struct phd_plugin *p)
{
	drop_plugin_regs(ctx, p);
	/* shared data goes after every registration that may use it */
	if (p->data_destroy)
		p->data_destroy(p->data);
	p->data = NULL;
	for (size_t i = 0; i < p->decls.n; i++)
		free(((struct phd_decl *)p->decls.v[i])->scope);
	phd_vec_free(&p->decls, free);
	phd_vec_free(&p->rules, free);
	if (p->desc && p->desc->fini)
		p->desc->fini(p);
	if (p->dl && !getenv("PHDEPLOY_NO_DLCLOSE")) /* keep for valgrind stacks */
		dlclose(p->dl);
	free(p->name);
	free(p->version);
	free(p->path);
	phd_buf_free(&p->provides);
	free(p);
}

void phd_plugins_unload(phd_ctx *ctx)
{
	/* reverse order: later plugins may rely on earlier ones */
	while (ctx->plugins.n > 0)
		free_plugin(ctx, ctx->plugins.v[--ctx->plugins.n]);
	phd_vec_free(&ctx->plugins, NULL);
	for (size_t i = 0; i < ctx->regs.n; i++)
		free_reg(ctx->regs.v[i]);
	phd_vec_free(&ctx->regs, NULL);
	phd_dispatch_invalidate(ctx);
}

struct phd_plugin *phd_plugin_find(phd_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->plugins.n; i++) {
		struct phd_plugin *p = ctx->plugins.v[i];
		if (!strcmp(p->name, name))
			return p;
	}
	return NULL;
}

static int valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

const phd_node *phd_plugin_config(phd_ctx *ctx, const char *name)
{
	const phd_node *n = phd_node_child(ctx->config, name);
	if (n)
		return n;
	return phd_node_child(phd_node_get(ctx->config, "plugins.config"), name);
}

static int is_disabled(phd_ctx *ctx, const char *name)
{
	const phd_node *d = phd_node_get(ctx->config, "plugins.disable");
	for (size_t i = 0; i < phd_node_len(d); i++)
		if (phd_node_str(phd_node_at(d, i)) && !strcmp(phd_node_str(phd_node_at(d, i)), name))
			return 1;
	return 0;
}

static int init_plugin(phd_ctx *ctx, struct phd_plugin *p)
{
	int rc;
	if (phd_vec_push(&ctx->plugins, p))
		return PHD_ENOMEM;
	free(ctx->errmsg);
	ctx->errmsg = NULL;
	rc = p->desc->init ? p->desc->init(p, phd_plugin_config(ctx, p->name)) : 0;
	if (rc != 0) {
		char *why = strdup(phd_ctx_errmsg(ctx));
		/* bad config in the plugin's own section is the operator's input */
		int code = rc == PHD_EINVAL || rc == PHD_ETYPE || rc == PHD_ESYNTAX ||
			   rc == PHD_ENOTFOUND ? rc : PHD_EPLUGIN;
		ctx->plugins.n--;
		phd_set_error(ctx, code,
			      "plugin '%s' (%s): initialisation failed: %s", p->name,
			      p->path ? p->path : "in-process",
			      why && *why ? why : phd_strerror(rc < 0 ? rc : PHD_EPLUGIN));
		free(why);
		free_plugin(ctx, p);
		return code;
	}
	return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
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

/* The descriptor's head read from the file, before dlopen runs anything of
 * the plugin (its constructors, its libraries'): the dynamic symbol
 * phd_plugin_desc, located through its section.  -1 when the file is not
 * a 64-bit little-endian ELF this can read; the head is checked after
 * dlopen in every case. */
static int head_from_file(const char *path, struct desc_head *out)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	Elf64_Sym sym;
	char name[sizeof PHD_PLUGIN_SYMBOL];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0 || pread_all(fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || !eh.e_shnum || eh.e_shnum > 4096)
		goto out;
	if (!(sh = calloc(eh.e_shnum, sizeof *sh)) ||
	    pread_all(fd, sh, eh.e_shnum * sizeof *sh, eh.e_shoff))
		goto out;
	for (size_t i = 0; i < eh.e_shnum; i++) {
		const Elf64_Shdr *str;
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_entsize != sizeof sym ||
		    sh[i].sh_link >= eh.e_shnum)
			continue;
		str = &sh[sh[i].sh_link];
		for (uint64_t k = 1; k < sh[i].sh_size / sizeof sym; k++) {
			const Elf64_Shdr *sec;
			size_t nl;
			if (pread_all(fd, &sym, sizeof sym, sh[i].sh_offset + k * sizeof sym))
				goto out;
			if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= eh.e_shnum ||
			    sym.st_name >= str->sh_size || sym.st_size < sizeof *out)
				continue;
			nl = str->sh_size - sym.st_name < sizeof name ? str->sh_size - sym.st_name
								      : sizeof name;
			memset(name, 0, sizeof name);
			if (pread_all(fd, name, nl, str->sh_offset + sym.st_name) ||
			    memcmp(name, PHD_PLUGIN_SYMBOL, sizeof name))
				continue;
			sec = &sh[sym.st_shndx];
			if (sec->sh_type != SHT_NOBITS && sym.st_value >= sec->sh_addr &&
			    sym.st_value - sec->sh_addr + sizeof *out <= sec->sh_size &&
			    !pread_all(fd, out, sizeof *out,
				       sec->sh_offset + (sym.st_value - sec->sh_addr)))
				rc = 0;
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(sh);
	return rc;
}

/* The ABI check of a descriptor head; 0 or the error (ctx's message set). */
static int check_head(phd_ctx *ctx, const char *path, const struct desc_head *head)
{
	if (head->abi_major != PHD_PLUGIN_ABI_MAJOR)
		return phd_set_error(ctx, PHD_EABI,
				     "%s: plugin ABI %u.%u, this libphdeploy speaks ABI %d.%d: "
				     "rebuild the plugin against this version", path,
				     (unsigned)head->abi_major, (unsigned)head->abi_minor,
				     PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR);
	if (head->abi_minor > PHD_PLUGIN_ABI_MINOR)
		return phd_set_error(ctx, PHD_EABI,
				     "%s: plugin needs ABI %d.%u but this libphdeploy offers %d.%d: "
				     "upgrade libphdeploy", path, PHD_PLUGIN_ABI_MAJOR,
				     (unsigned)head->abi_minor, PHD_PLUGIN_ABI_MAJOR,
				     PHD_PLUGIN_ABI_MINOR);
	return 0;
}

/* Load one shared object.  Returns 0, or an error with ctx's message set;
 * *skipped when a plugin of that name is already loaded or disabled. */
static int load_one(phd_ctx *ctx, const char *path)
{
	void *dl;
	const struct desc_head *head;
	const struct phd_plugin_desc *d;
	struct phd_plugin *p;
	struct desc_head pre, h;
	int rc;

	/* refused before dlopen runs any of its code, when the file says so */
	if (head_from_file(path, &pre) == 0 && (rc = check_head(ctx, path, &pre)))
		return rc;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		return phd_set_error(ctx, PHD_EPLUGIN,
				     "%s: cannot load plugin: %s%s%s", path, e ? e : "dlopen failed",
				     e && strstr(e, "cannot open shared object") ?
				     " (a library it needs is missing: run 'ldd " : "",
				     e && strstr(e, "cannot open shared object") ? "PATH')" : "");
	}
	head = dlsym(dl, PHD_PLUGIN_SYMBOL);
	if (!head) {
		dlclose(dl);
		return phd_set_error(ctx, PHD_EABI,
				     "%s: not a phdeploy plugin: it exports no '%s' descriptor "
				     "(use PHD_PLUGIN_DEFINE)", path, PHD_PLUGIN_SYMBOL);
	}
	h = *head;   /* read before the object is unmapped */
	if ((rc = check_head(ctx, path, &h))) {
		dlclose(dl);
		return rc;
	}
	d = (const struct phd_plugin_desc *)head;
	if (head->struct_size < sizeof(struct phd_plugin_desc) || head->struct_size > 4096 ||
	    !valid_name(d->name) || !d->version || !d->init) {
		unsigned size = head->struct_size; /* read before the object is unmapped */
		dlclose(dl);
		return phd_set_error(ctx, PHD_EABI,
				     "%s: mangled plugin descriptor (size %u, expected %zu; name, "
				     "version and init are required)", path, size,
				     sizeof(struct phd_plugin_desc));
	}
	if (phd_plugin_find(ctx, d->name) || is_disabled(ctx, d->name)) {
		phd_log(ctx, PHD_LOG_DEBUG, "plugin %s: '%s' already loaded or disabled, skipped",
			path, d->name);
		dlclose(dl);
		return 0;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		dlclose(dl);
		return PHD_ENOMEM;
	}
	p->ctx = ctx;
	p->dl = dl;
	p->desc = d;
	p->name = strdup(d->name);
	p->version = strndup(d->version, 64);
	p->path = strdup(path);
	if (!p->name || !p->version || !p->path) {
		free_plugin(ctx, p);
		return PHD_ENOMEM;
	}
	p->info.name = p->name;
	p->info.version = p->version;
	p->info.path = p->path;
	p->info.abi_major = head->abi_major;
	p->info.abi_minor = head->abi_minor;
	return init_plugin(ctx, p);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a > b && !strcmp(s + a - b, suf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Load every *.so of dir (sorted, for a stable order). */
static int load_dir(phd_ctx *ctx, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct phd_vec names = { 0 };
	int rc = 0;

	if (!d)
		return 0; /* a missing directory in a search path is fine */
	while ((e = readdir(d)) != NULL)
		if (has_suffix(e->d_name, ".so") && phd_vec_push(&names, strdup(e->d_name)))
			rc = PHD_ENOMEM;
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof *names.v, cmp_str);
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		char *path = phd_path_join(dir, names.v[i]);
		rc = path ? load_one(ctx, path) : PHD_ENOMEM;
		free(path);
	}
	phd_vec_free(&names, free);
	return rc;
}

/* Append the components of a ':'-list to dirs; an empty component stands
 * for the installed directory (as in MANPATH).  Duplicates are skipped. */
static int add_path_list(struct phd_vec *dirs, const char *list)
{
	const char *p = list;

	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *dir = len ? strndup(p, len) : strdup(PHD_PLUGINDIR);
		size_t i;

		if (!dir)
			return PHD_ENOMEM;
		for (i = 0; i < dirs->n && strcmp(dirs->v[i], dir); i++)
			;
		if (i < dirs->n)
			free(dir);
		else if (phd_vec_push(dirs, dir)) {
			free(dir);
			return PHD_ENOMEM;
		}
		if (!end)
			return 0;
		p = end + 1;
	}
}

/* The plugin search path (phdeploy-plugin(7), SEARCH PATH): options.plugin_path,
 * then $PHDEPLOY_PLUGIN_PATH; the installed directory comes last only while
 * the variable is unset, so a set variable (a build tree, a test) is never
 * mixed with whatever version is installed unless it asks with an empty
 * component.  An empty variable names no directory at all. */
static int search_path(phd_ctx *ctx, struct phd_vec *dirs)
{
	const char *env = getenv("PHDEPLOY_PLUGIN_PATH");
	int rc = 0;

	if (ctx->opt.plugin_path && *ctx->opt.plugin_path)
		rc = add_path_list(dirs, ctx->opt.plugin_path);
	if (rc == 0 && env && *env)
		rc = add_path_list(dirs, env);
	else if (rc == 0 && !env)
		rc = add_path_list(dirs, "");
	return rc;
}

/* plugins.load: a name found in plugins.path or the search path, or a path. */
static int load_named(phd_ctx *ctx, const phd_node *entry, const struct phd_vec *search)
{
	const char *name = phd_node_str(entry);
	const phd_node *cfgdirs = phd_node_get(ctx->config, "plugins.path");
	struct phd_vec dirs = { 0 };
	struct phd_buf all = { 0 };
	int rc = 0;

	if (strchr(name, '/')) {
		char *path = phd_path_join(ctx->config_dir, name);
		rc = path ? load_one(ctx, path) : PHD_ENOMEM;
		free(path);
		return rc;
	}
	if (phd_plugin_find(ctx, name))
		return 0;
	for (size_t i = 0; rc == 0 && i < phd_node_len(cfgdirs); i++) {
		char *dir = phd_path_join(ctx->config_dir, phd_node_str(phd_node_at(cfgdirs, i)));
		if (!dir || phd_vec_push(&dirs, dir)) {
			free(dir);
			rc = PHD_ENOMEM;
		}
	}
	for (size_t i = 0; rc == 0 && i < search->n; i++) {
		char *dir = strdup(search->v[i]);
		if (!dir || phd_vec_push(&dirs, dir)) {
			free(dir);
			rc = PHD_ENOMEM;
		}
	}
	for (size_t i = 0; rc == 0 && i < dirs.n; i++) {
		char *so = phd_asprintf("%s/%s.so", (const char *)dirs.v[i], name);
		FILE *f = so ? fopen(so, "rb") : NULL;

		if (!so)
			rc = PHD_ENOMEM;
		if (f) {
			fclose(f);
			rc = load_one(ctx, so);
			free(so);
			goto out;
		}
		free(so);
		phd_buf_printf(&all, "%s%s", i ? ":" : "", (const char *)dirs.v[i]);
	}
	if (rc == 0)
		rc = phd_set_error(ctx, PHD_ENOTFOUND,
				   "%s:%u:%u: plugin '%s' not found in %s", phd_node_file(entry),
				   phd_node_line(entry), phd_node_column(entry), name,
				   all.s ? all.s : "(no directory: PHDEPLOY_PLUGIN_PATH is empty)");
out:
	phd_vec_free(&dirs, free);
	phd_buf_free(&all);
	return rc;
}

int phd_plugins_load(phd_ctx *ctx)
{
	const phd_node *load = phd_node_get(ctx->config, "plugins.load");
	struct phd_vec dirs = { 0 };
	int rc = search_path(ctx, &dirs);

	for (size_t i = 0; rc == 0 && i < dirs.n; i++)
		rc = load_dir(ctx, dirs.v[i]);
	for (size_t i = 0; rc == 0 && i < phd_node_len(load); i++)
		rc = load_named(ctx, phd_node_at(load, i), &dirs);
	phd_vec_free(&dirs, free);
	return rc;
}

PHD_EXTERN int phd_ctx_add_plugin(phd_plugin **out, phd_ctx *ctx, const char *name,
				  const char *version)
{
	struct phd_plugin *p;
	if (!out || !ctx || !valid_name(name))
		return ctx ? phd_set_error(ctx, PHD_EINVAL, "invalid plugin name '%s'",
					   name ? name : "(null)") : PHD_EINVAL;
	*out = NULL;
	if (phd_plugin_find(ctx, name))
		return phd_set_error(ctx, PHD_EINVAL, "a plugin named '%s' is already loaded", name);
	p = calloc(1, sizeof *p);
	if (!p)
		return PHD_ENOMEM;
	p->ctx = ctx;
	p->name = strdup(name);
	p->version = strdup(version ? version : "0");
	if (!p->name || !p->version || phd_vec_push(&ctx->plugins, p)) {
		free(p->name);
		free(p->version);
		free(p);
		return PHD_ENOMEM;
	}
	p->info.name = p->name;
	p->info.version = p->version;
	p->info.path = "(in-process)";
	p->info.abi_major = PHD_PLUGIN_ABI_MAJOR;
	p->info.abi_minor = PHD_PLUGIN_ABI_MINOR;
	*out = p;
	return 0;
}

PHD_EXTERN phd_ctx *phd_plugin_ctx(phd_plugin *p)
{
	return p ? p->ctx : NULL;
}

PHD_EXTERN const char *phd_plugin_name(const phd_plugin *p)
{
	return p ? p->name : NULL;
}

PHD_EXTERN int phd_plugin_set_data(phd_plugin *p, void *data, phd_destroy_fn destroy)
{
	if (!p) {
		if (destroy)
			destroy(data);
		return PHD_EINVAL;
	}
	if (p->data_destroy && p->data != data)
		p->data_destroy(p->data);
	p->data = data;
	p->data_destroy = destroy;
	return 0;
}

PHD_EXTERN void *phd_plugin_data(const phd_plugin *p)
{
	return p ? p->data : NULL;
}

static int scope_ok(const char *scope)
{
	const char *dot;
	if (!*scope)
		return 1;
	dot = strchr(scope, '.');
	if (!dot || (strncmp(scope, "checks.", 7) && strncmp(scope, "secrets.", 8)))
		return 0;
	return valid_name(dot + 1);
}

PHD_EXTERN int phd_plugin_declare_config(phd_plugin *p, const char *scope,
					 const struct phd_config_key *keys)
{
	struct phd_decl *d;
	if (!p || !keys)
		return PHD_EINVAL;
	if (!scope)
		scope = "";
	if (!scope_ok(scope))
		return phd_set_error(p->ctx, PHD_EINVAL, "plugin '%s': config scope '%s' is not "
				     "\"\", \"checks.NAME\" or \"secrets.NAME\"", p->name, scope);
	for (const struct phd_config_key *k = keys; k->name; k++)
		if (k->type < PHD_CFG_STRING || k->type > PHD_CFG_ANY ||
		    (k->type == PHD_CFG_ENUM && !k->allowed))
			return phd_set_error(p->ctx, PHD_EINVAL, "plugin '%s': config key '%s' "
					     "has an invalid type", p->name, k->name);
	d = calloc(1, sizeof *d);
	if (!d || !(d->scope = strdup(scope)) || phd_vec_push(&p->decls, d)) {
		if (d)
			free(d->scope);
		free(d);
		return PHD_ENOMEM;
	}
	d->keys = keys;
	return 0;
}

PHD_EXTERN int phd_plugin_declare_rule(phd_plugin *p, const char *id, int default_severity,
				       const char *summary)
{
	struct phd_rule_decl *r;
	if (!p || !id || !*id || default_severity < PHD_SEV_OFF ||
	    default_severity > PHD_SEV_ERROR)
		return p ? phd_set_error(p->ctx, PHD_EINVAL, "plugin '%s': invalid rule "
					 "declaration '%s'", p->name, id ? id : "(null)")
			 : PHD_EINVAL;
	r = calloc(1, sizeof *r);
	if (!r || phd_vec_push(&p->rules, r)) {
		free(r);
		return PHD_ENOMEM;
	}
	r->id = id;
	r->summary = summary;
	r->severity = default_severity;
	return 0;
}

static int add_reg(phd_plugin *p, int kind, const char *name, int phase, int when,
		   void (*fn)(void), void *userdata, phd_destroy_fn destroy, const char *what)
{
	struct phd_reg *r;
	if (!p || !fn) {
		if (destroy)
			destroy(userdata);
		return p ? phd_set_error(p->ctx, PHD_EINVAL, "plugin '%s': %s without a function",
					 p->name, what) : PHD_EINVAL;
	}
	r = calloc(1, sizeof *r);
	if (!r || (name && !(r->name = strdup(name))) || phd_vec_push(&p->ctx->regs, r)) {
		if (r)
			free(r->name);
		free(r);
		if (destroy)
			destroy(userdata);
		return PHD_ENOMEM;
	}
	r->kind = kind;
	r->kind_name = what;
	r->phase = phase;
	r->when = when;
	/* post and fail hooks report; only a failing pre hook stops the run */
	r->control = kind == PHD_REG_HOOK && when != PHD_HOOK_PRE ? PHD_CTL_OPTIONAL
								   : PHD_CTL_REQUIRED;
	phd_dispatch_invalidate(p->ctx);
	r->fn = fn;
	r->userdata = userdata;
	r->destroy = destroy;
	r->plugin = p;
	if (p->provides.len)
		phd_buf_puts(&p->provides, " ");
	phd_buf_puts(&p->provides, what);
	if (name)
		phd_buf_printf(&p->provides, ":%s", name);
	else if (phase >= 0)
		phd_buf_printf(&p->provides, ":%s", phd_phase_name(phase));
	return 0;
}

static int find_named(phd_ctx *ctx, int kind, const char *name)
{
	return phd_dispatch_find(ctx, kind, name) != NULL;
}

PHD_EXTERN int phd_register_secret_provider(phd_plugin *p, const char *name,
					    phd_secret_provider_fn fn, void *userdata,
					    phd_destroy_fn destroy)
{
	if (p && (!valid_name(name) || find_named(p->ctx, PHD_REG_PROVIDER, name))) {
		if (destroy)
			destroy(userdata);
		return phd_set_error(p->ctx, PHD_EINVAL,
				     "plugin '%s': secret provider name '%s' is invalid or taken",
				     p->name, name ? name : "(null)");
	}
	return add_reg(p, PHD_REG_PROVIDER, name, -1, 0, (void (*)(void))fn, userdata, destroy,
		       "secret");
}

PHD_EXTERN int phd_register_check(phd_plugin *p, const char *name, phd_check_fn fn,
				  void *userdata, phd_destroy_fn destroy)
{
	if (p && (!valid_name(name) || find_named(p->ctx, PHD_REG_CHECK, name))) {
		if (destroy)
			destroy(userdata);
		return phd_set_error(p->ctx, PHD_EINVAL,
				     "plugin '%s': check name '%s' is invalid or taken", p->name,
				     name ? name : "(null)");
	}
	return add_reg(p, PHD_REG_CHECK, name, PHD_PHASE_PREFLIGHT, 0, (void (*)(void))fn,
		       userdata, destroy, "check");
}

PHD_EXTERN int phd_register_validator(phd_plugin *p, const char *name, int phase,
				      phd_validator_fn fn, void *userdata,
				      phd_destroy_fn destroy)
{
	if (p && phase != PHD_PHASE_VALIDATE && phase != PHD_PHASE_RENDER &&
	    phase != PHD_PHASE_VERIFY) {
		if (destroy)
			destroy(userdata);
		return phd_set_error(p->ctx, PHD_EINVAL,
				     "plugin '%s': validators run in validate, render or verify, "
				     "not phase %d", p->name, phase);
	}
	return add_reg(p, PHD_REG_VALIDATOR, name ? name : (p ? p->name : NULL), phase, 0,
		       (void (*)(void))fn, userdata, destroy, "validator");
}

PHD_EXTERN int phd_register_phase_handler(phd_plugin *p, int phase, phd_phase_fn fn,
					  void *userdata, phd_destroy_fn destroy)
{
	if (p && (phase < 0 || phase >= PHD_PHASE_COUNT || phase == PHD_PHASE_VALIDATE ||
		  phase == PHD_PHASE_PREFLIGHT)) {
		if (destroy)
			destroy(userdata);
		return phd_set_error(p->ctx, PHD_EINVAL,
				     "plugin '%s': no handler can be registered for phase %d",
				     p->name, phase);
	}
	return add_reg(p, PHD_REG_HANDLER, NULL, phase, 0, (void (*)(void))fn, userdata, destroy,
		       "handler");
}

PHD_EXTERN int phd_register_action(phd_plugin *p, const char *name, phd_action_fn fn,
				   void *userdata, phd_destroy_fn destroy)
{
	if (p && (!valid_name(name) || find_named(p->ctx, PHD_REG_ACTION, name))) {
		if (destroy)
			destroy(userdata);
		return phd_set_error(p->ctx, PHD_EINVAL,
				     "plugin '%s': action name '%s' is invalid or taken", p->name,
				     name ? name : "(null)");
	}
	return add_reg(p, PHD_REG_ACTION, name, -1, 0, (void (*)(void))fn, userdata, destroy,
		       "action");
}

PHD_EXTERN int phd_register_status(phd_plugin *p, phd_status_fn fn, void *userdata,
				   phd_destroy_fn destroy)
{
	return add_reg(p, PHD_REG_STATUS, NULL, -1, 0, (void (*)(void))fn, userdata, destroy,
		       "status");
}

PHD_EXTERN int phd_register_hook(phd_plugin *p, int phase, int when, phd_hook_fn fn,
				 void *userdata, phd_destroy_fn destroy)
{
	static const char *const whens[] = { "pre", "post", "fail" };
	int rc;
	if (p && (phase < 0 || phase >= PHD_PHASE_COUNT || when < PHD_HOOK_PRE ||
		  when > PHD_HOOK_FAIL)) {
		if (destroy)
			destroy(userdata);
		return phd_set_error(p->ctx, PHD_EINVAL, "plugin '%s': bad hook phase/when",
				     p->name);
	}
	rc = add_reg(p, PHD_REG_HOOK, NULL, phase, when, (void (*)(void))fn, userdata, destroy,
		     "hook");
	if (rc == 0)
		phd_buf_printf(&p->provides, ".%s", whens[when]);
	return rc;
}

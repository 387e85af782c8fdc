/* See lazylib.h. */
#include <dlfcn.h>
#include <stdio.h>

#include "lazylib.h"

static char load_error[256];

void *lazylib_sym(struct lazylib *l, const char *name)
{
	void *h = __atomic_load_n(&l->handle, __ATOMIC_ACQUIRE);

	if (!h) {
		const char *e;
		if (l->failed)
			return NULL;
		/* RTLD_LOCAL: its symbols stay out of the plugins' way */
		if (!(h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL))) {
			e = dlerror();
			snprintf(load_error, sizeof load_error, "%s", e ? e : l->soname);
			l->failed = 1;
			return NULL;
		}
		__atomic_store_n(&l->handle, h, __ATOMIC_RELEASE);
	}
	return dlsym(h, name);
}

const char *lazylib_error(const struct lazylib *l)
{
	return l->failed ? load_error : NULL;
}

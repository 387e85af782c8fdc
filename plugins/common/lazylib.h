/* A shared library loaded on first use instead of at plugin load.
 *
 * libcurl and libpq each pull in Kerberos, LDAP, GnuTLS, p11-kit... (about
 * 6 MiB resident and their constructors) the moment a plugin linked with
 * them is dlopen'd, although `phdeploy plugins`, validate or render never
 * call them.  A plugin compiles lazycurl.c / lazypq.c instead of linking
 * the library: same prototypes (from the library's own header, so the
 * compiler checks them), each resolving the real function on its first
 * call.  When the library cannot be loaded, calls fail the way the library
 * reports a failure (NULL handle, an error code). */
#ifndef PHD_LAZYLIB_H
#define PHD_LAZYLIB_H

#include <string.h>

struct lazylib {
	const char *soname;   /* e.g. "libcurl.so.4" */
	void *handle;         /* NULL until the first call */
	int failed;           /* dlopen failed once: do not retry */
};

/* The address of name in l (loaded on the first call), or NULL. */
void *lazylib_sym(struct lazylib *l, const char *name);
/* dlerror() of the failed load, or NULL (static storage). */
const char *lazylib_error(const struct lazylib *l);

/* Sets the function pointer real to name in lib, or returns fail (empty
 * in a void function).  memcpy: object to function pointer. */
#define LAZYLIB_RESOLVE(lib, real, name, fail)                  \
	do {                                                    \
		if (!(real)) {                                  \
			void *s_ = lazylib_sym(&(lib), name);   \
			if (!s_)                                \
				return fail;                    \
			memcpy(&(real), &s_, sizeof(real));     \
		}                                               \
	} while (0)
/* ret name params forwarding args to the library, fail when it cannot be
 * loaded; LAZYLIB_VOID for functions returning nothing. */
#define LAZYLIB_FN(lib, ret, name, params, args, fail)          \
	ret name params                                         \
	{                                                       \
		static ret (*real) params;                      \
		LAZYLIB_RESOLVE(lib, real, #name, fail);        \
		return real args;                               \
	}
#define LAZYLIB_VOID(lib, name, params, args)                   \
	void name params                                        \
	{                                                       \
		static void (*real) params;                     \
		LAZYLIB_RESOLVE(lib, real, #name, );            \
		real args;                                      \
	}

#endif

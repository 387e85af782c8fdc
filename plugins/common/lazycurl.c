/* libcurl loaded on first use (see lazylib.h): the curl_* functions the
 * plugins call, forwarding to libcurl.so.4. */
#define CURL_DISABLE_TYPECHECK 1
#include <stdarg.h>
#include <curl/curl.h>

#include "lazylib.h"

static struct lazylib curl_lib = { "libcurl.so.4", NULL, 0 };

LAZYLIB_FN(curl_lib, CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)
LAZYLIB_VOID(curl_lib, curl_global_cleanup, (void), ())
LAZYLIB_FN(curl_lib, CURL *, curl_easy_init, (void), (), NULL)
LAZYLIB_FN(curl_lib, CURLcode, curl_easy_perform, (CURL *c), (c), CURLE_FAILED_INIT)
LAZYLIB_VOID(curl_lib, curl_easy_cleanup, (CURL *c), (c))
LAZYLIB_FN(curl_lib, char *, curl_easy_escape, (CURL *c, const char *s, int n), (c, s, n), NULL)
LAZYLIB_VOID(curl_lib, curl_free, (void *p), (p))
LAZYLIB_FN(curl_lib, struct curl_slist *, curl_slist_append,
	   (struct curl_slist *l, const char *s), (l, s), NULL)
LAZYLIB_VOID(curl_lib, curl_slist_free_all, (struct curl_slist *l), (l))
LAZYLIB_FN(curl_lib, CURLU *, curl_url, (void), (), NULL)
LAZYLIB_VOID(curl_lib, curl_url_cleanup, (CURLU *u), (u))
LAZYLIB_FN(curl_lib, CURLUcode, curl_url_get,
	   (CURLU *u, CURLUPart what, char **part, unsigned int flags),
	   (u, what, part, flags), CURLUE_OUT_OF_MEMORY)
LAZYLIB_FN(curl_lib, CURLUcode, curl_url_set,
	   (CURLU *u, CURLUPart what, const char *part, unsigned int flags),
	   (u, what, part, flags), CURLUE_OUT_OF_MEMORY)

const char *curl_easy_strerror(CURLcode code)
{
	static const char *(*real)(CURLcode);

	LAZYLIB_RESOLVE(curl_lib, real, "curl_easy_strerror",
			lazylib_error(&curl_lib) ? lazylib_error(&curl_lib)
						 : "libcurl.so.4 cannot be loaded");
	return real(code);
}

/* The variadic two: the argument's type follows from the option's range
 * (curl.h: CURLOPTTYPE_* and CURLINFO_* bases). */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	static CURLcode (*real)(CURL *, CURLoption, ...);
	CURLcode rc;
	va_list ap;

	LAZYLIB_RESOLVE(curl_lib, real, "curl_easy_setopt", CURLE_FAILED_INIT);
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = real(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = real(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = real(c, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = real(c, opt, va_arg(ap, curl_off_t));
	else
		rc = real(c, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	static CURLcode (*real)(CURL *, CURLINFO, ...);
	CURLcode rc;
	va_list ap;

	LAZYLIB_RESOLVE(curl_lib, real, "curl_easy_getinfo", CURLE_FAILED_INIT);
	va_start(ap, info);
	rc = real(c, info, va_arg(ap, void *));   /* always a pointer to the result */
	va_end(ap);
	return rc;
}

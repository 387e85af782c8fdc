/* libpq loaded on first use (see lazylib.h): the PQ* functions the check
 * calls, forwarding to libpq.so.5. */
#include <libpq-fe.h>

#include "lazylib.h"

static struct lazylib pq_lib = { "libpq.so.5", NULL, 0 };

LAZYLIB_FN(pq_lib, PGconn *, PQconnectStartParams,
	   (const char *const *keywords, const char *const *values, int expand_dbname),
	   (keywords, values, expand_dbname), NULL)
LAZYLIB_FN(pq_lib, PostgresPollingStatusType, PQconnectPoll, (PGconn *c), (c),
	   PGRES_POLLING_FAILED)
LAZYLIB_VOID(pq_lib, PQfinish, (PGconn *c), (c))
LAZYLIB_VOID(pq_lib, PQclear, (PGresult *r), (r))
LAZYLIB_FN(pq_lib, ConnStatusType, PQstatus, (const PGconn *c), (c), CONNECTION_BAD)
LAZYLIB_FN(pq_lib, int, PQsocket, (const PGconn *c), (c), -1)
LAZYLIB_FN(pq_lib, int, PQconsumeInput, (PGconn *c), (c), 0)
LAZYLIB_FN(pq_lib, int, PQflush, (PGconn *c), (c), -1)
LAZYLIB_FN(pq_lib, int, PQisBusy, (PGconn *c), (c), 0)
LAZYLIB_FN(pq_lib, int, PQsendQuery, (PGconn *c, const char *q), (c, q), 0)
LAZYLIB_FN(pq_lib, PGresult *, PQgetResult, (PGconn *c), (c), NULL)
LAZYLIB_FN(pq_lib, ExecStatusType, PQresultStatus, (const PGresult *r), (r), PGRES_FATAL_ERROR)
LAZYLIB_FN(pq_lib, int, PQntuples, (const PGresult *r), (r), 0)
LAZYLIB_FN(pq_lib, int, PQgetisnull, (const PGresult *r, int t, int f), (r, t, f), 1)
LAZYLIB_FN(pq_lib, char *, PQgetvalue, (const PGresult *r, int t, int f), (r, t, f), NULL)
LAZYLIB_FN(pq_lib, char *, PQresultErrorMessage, (const PGresult *r), (r), NULL)
LAZYLIB_FN(pq_lib, const char *, PQparameterStatus, (const PGconn *c, const char *p), (c, p),
	   NULL)
LAZYLIB_FN(pq_lib, PQnoticeProcessor, PQsetNoticeProcessor,
	   (PGconn *c, PQnoticeProcessor proc, void *arg), (c, proc, arg), NULL)
LAZYLIB_FN(pq_lib, const char *, PQsslAttribute, (PGconn *c, const char *name), (c, name), NULL)
LAZYLIB_FN(pq_lib, int, PQsslInUse, (PGconn *c), (c), 0)

char *PQerrorMessage(const PGconn *c)
{
	static char *(*real)(const PGconn *);
	static char missing[] = "libpq.so.5 cannot be loaded";

	LAZYLIB_RESOLVE(pq_lib, real, "PQerrorMessage", missing);
	return real(c);
}

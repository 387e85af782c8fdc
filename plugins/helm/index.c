/* A chart repository's index.yaml, read with libyaml's event parser: the
 * real PostHog index is 2.5 MB with 737 entries, and only the entries of
 * one chart and five of their keys matter, so nothing else is kept. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "helm-private.h"

#define INDEX_MAX_DEPTH 64
#define INDEX_MAX_ENTRIES 100000

struct ip {
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	const char *origin;
	char *err;
	size_t errlen;
	struct helm_index *idx;
	const char *chart;
};

static int fail_at(struct ip *ip, const yaml_mark_t *m, int code, const char *fmt, ...)
	PHD_PRINTF(4, 5);
static int fail_at(struct ip *ip, const yaml_mark_t *m, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ip->err, ip->errlen, "%s:%lu:%lu: %s", ip->origin,
		 (unsigned long)m->line + 1, (unsigned long)m->column + 1, msg);
	return code;
}

static int next(struct ip *ip)
{
	if (ip->have_ev)
		yaml_event_delete(&ip->ev);
	ip->have_ev = 0;
	if (!yaml_parser_parse(&ip->parser, &ip->ev)) {
		const yaml_parser_t *p = &ip->parser;
		if (p->error == YAML_MEMORY_ERROR)
			return PHD_ENOMEM;
		return fail_at(ip, &p->problem_mark, PHD_ESYNTAX, "malformed index YAML: %s%s%s",
			       p->problem ? p->problem : "syntax error",
			       p->context ? " " : "", p->context ? p->context : "");
	}
	ip->have_ev = 1;
	return 0;
}

static int expect(struct ip *ip, yaml_event_type_t t, const char *what)
{
	int rc = next(ip);

	if (rc)
		return rc;
	if (ip->ev.type != t)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "expected %s", what);
	return 0;
}

/* Skip the value whose first event is current (a scalar, alias or a
 * whole collection). */
static int skip_value(struct ip *ip)
{
	int depth;

	switch (ip->ev.type) {
	case YAML_SCALAR_EVENT:
	case YAML_ALIAS_EVENT:
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		break;
	default:
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "unexpected YAML event");
	}
	for (depth = 1; depth > 0;) {
		int rc = next(ip);
		if (rc)
			return rc;
		if (ip->ev.type == YAML_SEQUENCE_START_EVENT || ip->ev.type == YAML_MAPPING_START_EVENT) {
			if (++depth > INDEX_MAX_DEPTH)
				return fail_at(ip, &ip->ev.start_mark, PHD_ETOOBIG,
					       "nesting deeper than %d levels", INDEX_MAX_DEPTH);
		} else if (ip->ev.type == YAML_SEQUENCE_END_EVENT ||
			   ip->ev.type == YAML_MAPPING_END_EVENT) {
			depth--;
		}
	}
	return 0;
}

/* Reads the next mapping key into *key (borrowed from the event); *key is
 * NULL at the end of the mapping. */
static int next_key(struct ip *ip, const char **key)
{
	int rc = next(ip);

	*key = NULL;
	if (rc)
		return rc;
	if (ip->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	if (ip->ev.type != YAML_SCALAR_EVENT)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "mapping key is not a scalar");
	*key = (const char *)ip->ev.data.scalar.value;
	return 0;
}

/* key points into the current event, which next() frees: the message
 * needs a copy (all keys read here are short literals). */
static int scalar_value(struct ip *ip, const char *key, char **out)
{
	char name[32];
	int rc;

	snprintf(name, sizeof name, "%s", key);
	if ((rc = next(ip)))
		return rc;
	if (ip->ev.type != YAML_SCALAR_EVENT)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "%s is not a scalar", name);
	free(*out);
	*out = strdup((const char *)ip->ev.data.scalar.value);
	return *out ? 0 : PHD_ENOMEM;
}

/* urls: [first, ...]: keep the first. */
static int urls_value(struct ip *ip, char **out)
{
	int rc = next(ip);

	if (rc)
		return rc;
	if (ip->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "urls is not a list");
	for (;;) {
		if ((rc = next(ip)))
			return rc;
		if (ip->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (ip->ev.type == YAML_SCALAR_EVENT && !*out) {
			*out = strdup((const char *)ip->ev.data.scalar.value);
			if (!*out)
				return PHD_ENOMEM;
		} else if ((rc = skip_value(ip))) {
			return rc;
		}
	}
}

void helm_index_entry_clear(struct helm_index_entry *e)
{
	free(e->version);
	free(e->digest);
	free(e->app_version);
	free(e->created);
	free(e->url);
	memset(e, 0, sizeof(*e));
}

int helm_index_add(struct helm_index *idx, struct helm_index_entry *e)
{
	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 64;
		struct helm_index_entry *ne;

		if (cap > INDEX_MAX_ENTRIES)
			return PHD_ETOOBIG;
		ne = realloc(idx->e, cap * sizeof(*ne));
		if (!ne)
			return PHD_ENOMEM;
		idx->e = ne;
		idx->cap = cap;
	}
	idx->e[idx->n++] = *e;
	memset(e, 0, sizeof(*e));
	return 0;
}

static int push(struct ip *ip, struct helm_index_entry *e)
{
	int rc = helm_index_add(ip->idx, e);

	if (rc == PHD_ETOOBIG)
		return fail_at(ip, &ip->ev.start_mark, PHD_ETOOBIG,
			       "more than %d entries for chart %s", INDEX_MAX_ENTRIES, ip->chart);
	return rc;
}

static int parse_entry(struct ip *ip)
{
	struct helm_index_entry e = { 0 };
	const char *key;
	int rc;

	for (;;) {
		if ((rc = next_key(ip, &key)))
			goto out;
		if (!key)
			break;
		if (!strcmp(key, "version"))
			rc = scalar_value(ip, key, &e.version);
		else if (!strcmp(key, "digest"))
			rc = scalar_value(ip, key, &e.digest);
		else if (!strcmp(key, "appVersion"))
			rc = scalar_value(ip, key, &e.app_version);
		else if (!strcmp(key, "created"))
			rc = scalar_value(ip, key, &e.created);
		else if (!strcmp(key, "urls"))
			rc = urls_value(ip, &e.url);
		else if (!(rc = next(ip)))
			rc = skip_value(ip);
		if (rc)
			goto out;
	}
	if (!e.version || semver_parse(&e.sv, e.version)) {
		/* helm itself skips such entries; so do we, and count them */
		ip->idx->skipped++;
		helm_index_entry_clear(&e);
		return 0;
	}
	if ((rc = push(ip, &e)) == 0)
		return 0;
out:
	helm_index_entry_clear(&e);
	return rc;
}

static int parse_versions(struct ip *ip)
{
	int rc = next(ip);

	if (rc)
		return rc;
	if (ip->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX,
			       "entries.%s is not a list of chart versions", ip->chart);
	for (;;) {
		if ((rc = next(ip)))
			return rc;
		if (ip->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (ip->ev.type != YAML_MAPPING_START_EVENT)
			return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX,
				       "entries.%s item is not a mapping", ip->chart);
		if ((rc = parse_entry(ip)))
			return rc;
	}
}

static int parse_entries(struct ip *ip)
{
	const char *key;
	int rc;

	if ((rc = expect(ip, YAML_MAPPING_START_EVENT, "entries: to be a mapping")))
		return rc;
	for (;;) {
		if ((rc = next_key(ip, &key)))
			return rc;
		if (!key)
			return 0;
		ip->idx->charts++;
		if (!strcmp(key, ip->chart))
			rc = parse_versions(ip);
		else if (!(rc = next(ip)))
			rc = skip_value(ip);
		if (rc)
			return rc;
	}
}

static int parse_root(struct ip *ip)
{
	const char *key;
	int rc, seen = 0;

	if ((rc = expect(ip, YAML_STREAM_START_EVENT, "a YAML stream")))
		return rc;
	if ((rc = next(ip)))
		return rc;
	if (ip->ev.type == YAML_STREAM_END_EVENT)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "empty index");
	if (ip->ev.type != YAML_DOCUMENT_START_EVENT)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "expected a document");
	if ((rc = expect(ip, YAML_MAPPING_START_EVENT, "the index to be a mapping")))
		return rc;
	for (;;) {
		if ((rc = next_key(ip, &key)))
			return rc;
		if (!key)
			break;
		if (!strcmp(key, "entries")) {
			seen = 1;
			rc = parse_entries(ip);
		} else if (!(rc = next(ip))) {
			rc = skip_value(ip);
		}
		if (rc)
			return rc;
	}
	if (!seen)
		return fail_at(ip, &ip->ev.start_mark, PHD_ESYNTAX, "no entries: key in the index");
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const struct helm_index_entry *x = a, *y = b;
	return semver_cmp(&y->sv, &x->sv);
}

int helm_index_parse(struct helm_index *idx, const char *buf, size_t len,
		     const char *chart, const char *origin, char *err, size_t errlen)
{
	int rc;

	/* helm's own block style line by line; anything else (and the size
	 * bound's message) through libyaml */
	if (len > HELM_INDEX_MAX ||
	    (rc = helm_index_parse_fast(idx, buf, len, chart)) == HELM_FAST_NO)
		return helm_index_parse_yaml(idx, buf, len, chart, origin, err, errlen);
	return rc;
}

void helm_index_sort(struct helm_index *idx)
{
	/* the sort re-points nothing: sv.pre points into each entry's own string */
	if (idx->n)
		qsort(idx->e, idx->n, sizeof(*idx->e), newest_first);
}

int helm_index_parse_yaml(struct helm_index *idx, const char *buf, size_t len,
			  const char *chart, const char *origin, char *err, size_t errlen)
{
	struct ip ip = { .origin = origin, .err = err, .errlen = errlen, .idx = idx, .chart = chart };
	int rc;

	memset(idx, 0, sizeof(*idx));
	if (len > HELM_INDEX_MAX) {
		snprintf(err, errlen, "%s: index is %zu bytes, over the %zu MB limit", origin, len,
			 HELM_INDEX_MAX >> 20);
		return PHD_ETOOBIG;
	}
	if (!yaml_parser_initialize(&ip.parser))
		return PHD_ENOMEM;
	yaml_parser_set_input_string(&ip.parser, (const unsigned char *)buf, len);
	rc = parse_root(&ip);
	if (ip.have_ev)
		yaml_event_delete(&ip.ev);
	yaml_parser_delete(&ip.parser);
	if (rc) {
		helm_index_free(idx);
		return rc;
	}
	helm_index_sort(idx);
	return 0;
}

void helm_index_free(struct helm_index *idx)
{
	for (size_t i = 0; i < idx->n; i++)
		helm_index_entry_clear(&idx->e[i]);
	free(idx->e);
	memset(idx, 0, sizeof(*idx));
}

static void nearest(const struct helm_index *idx, const struct semver *want, int allow_pre,
		    char *buf, size_t len)
{
	const struct helm_index_entry *lo[2] = { NULL, NULL }, *hi[2] = { NULL, NULL };
	const struct helm_index_entry *pick[2] = { NULL, NULL };
	size_t nlo = 0, nhi = 0;

	/* entries are newest first: the last newer ones seen are the closest */
	for (size_t i = 0; i < idx->n; i++) {
		const struct helm_index_entry *e = &idx->e[i];
		if (e->sv.pre && !allow_pre)
			continue;
		if (semver_cmp(&e->sv, want) > 0) {
			hi[1] = hi[0];
			hi[0] = e;
			nhi++;
		} else if (nlo < 2) {
			lo[nlo++] = e;
		}
	}
	if (nlo && nhi) {
		pick[0] = lo[0];
		pick[1] = hi[0];
	} else if (nlo) {
		pick[0] = lo[0];
		pick[1] = lo[1];
	} else {
		pick[0] = hi[0];
		pick[1] = hi[1];
	}
	if (!pick[0])
		snprintf(buf, len, "no %sversions at all", allow_pre ? "" : "stable ");
	else if (!pick[1])
		snprintf(buf, len, "nearest: %s", pick[0]->version);
	else
		snprintf(buf, len, "nearest: %s, %s", pick[0]->version, pick[1]->version);
}

int helm_index_resolve(const struct helm_index *idx, const char *want, int allow_pre,
		       const struct helm_index_entry **out, char *err, size_t errlen)
{
	struct semver w;
	char near[160];

	*out = NULL;
	if (!want || !*want) {
		for (size_t i = 0; i < idx->n; i++) {
			if (!idx->e[i].sv.pre || allow_pre) {
				*out = &idx->e[i];
				return 0;
			}
		}
		snprintf(err, errlen, "the index lists no %sversion of the chart",
			 allow_pre ? "" : "stable ");
		return PHD_ENOTFOUND;
	}
	if (semver_parse(&w, want)) {
		snprintf(err, errlen, "chart version \"%s\" is not an exact semantic version "
			 "(ranges are not pins)", want);
		return PHD_EINVAL;
	}
	if (w.pre && !allow_pre) {
		snprintf(err, errlen, "chart version %s is a pre-release; set "
			 "chart.allow_prerelease: true to deploy it", want);
		return PHD_EINVAL;
	}
	for (size_t i = 0; i < idx->n; i++) {
		if (semver_cmp(&idx->e[i].sv, &w) == 0) {
			*out = &idx->e[i];
			return 0;
		}
	}
	nearest(idx, &w, allow_pre, near, sizeof(near));
	snprintf(err, errlen, "%s not found; %s", want, near);
	return PHD_ENOTFOUND;
}

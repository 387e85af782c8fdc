/* change-window: refuse to change the cluster outside the allowed hours.
 *
 *   change-window:
 *     allow: ["Mon-Fri 09:00-17:00", "Sat 10:00-12:00"]
 *     timezone: UTC              # UTC, +02:00, or an IANA name (Europe/Berlin)
 *     phases: [secrets, deploy]  # the default: the run stops before its first change
 *
 * A `pre` hook on each guarded phase.  rollback is not guarded by default:
 * the way back must stay open at 3 a.m.  A dry run / plan only warns.
 * PHD_CHANGE_WINDOW_NOW=2026-11-25T10:00:00Z replaces the clock (tests).
 *
 * Written against the installed <phdeploy/plugin.h> only.  Build with the
 * Makefile beside it.  An IANA zone is resolved by date(1) with TZ set in
 * its environment (through phd_exec_run), so the plugin never touches the
 * process-wide TZ state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <phdeploy/plugin.h>

#define MAX_WINDOWS 32

static const char *const day_names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

struct window {
	unsigned days;     /* bit d: day d (0 = Monday) */
	int start, end;    /* minutes after midnight; end <= start: overnight */
};

struct guard {
	struct window w[MAX_WINDOWS];
	size_t n;
	char tz[128];      /* IANA name, or "" for a fixed offset */
	long offset_min;   /* fixed offset east of UTC */
	char allow[512];   /* the allow list as written, for messages */
	char where[512];   /* file:line:column of the config section */
};

/* When "now" is, in the guard's zone. */
struct local {
	int dow;           /* 0 = Monday */
	int minute;        /* minutes after midnight */
	char text[96];     /* "Sat 2026-11-28 10:00 UTC" */
};

static int bad(phd_ctx *ctx, const phd_node *n, const char *what, const char *text)
{
	return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: change-window: %s '%s'",
			     phd_node_file(n), phd_node_line(n), phd_node_column(n), what,
			     text ? text : "(not a string)");
}

static int parse_day(const char *s, size_t len)
{
	for (int d = 0; d < 7; d++)
		if (len == 3 && (s[0] | 0x20) == (day_names[d][0] | 0x20) &&
		    (s[1] | 0x20) == day_names[d][1] && (s[2] | 0x20) == day_names[d][2])
			return d;
	return -1;
}

/* "Mon-Fri", "Sat", "Mon,Wed,Fri-Sun", "daily" → day bits, 0 when bad. */
static unsigned parse_days(const char *s, size_t len)
{
	unsigned bits = 0;
	if ((len == 5 && !strncmp(s, "daily", 5)) || (len == 1 && *s == '*'))
		return 0x7f;
	while (len > 0) {
		size_t item = 0;
		int a, b;
		while (item < len && s[item] != ',')
			item++;
		if (item == 7 && s[3] == '-') {
			a = parse_day(s, 3);
			b = parse_day(s + 4, 3);
		} else {
			a = b = parse_day(s, item);
		}
		if (a < 0 || b < 0)
			return 0;
		for (int d = a;; d = (d + 1) % 7) { /* Fri-Mon wraps over the weekend */
			bits |= 1u << d;
			if (d == b)
				break;
		}
		s += item;
		len -= item;
		if (len > 0) { /* the comma */
			s++;
			len--;
		}
	}
	return bits;
}

/* "HH:MM" (00:00 to 24:00) → minutes, -1 when bad. */
static int parse_hhmm(const char *s)
{
	int h, m;
	if (strlen(s) != 5 || s[2] != ':' || sscanf(s, "%2d:%2d", &h, &m) != 2 || h < 0 ||
	    h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

/* "[DAYS ]HH:MM-HH:MM" */
static int parse_window(const char *text, struct window *w)
{
	const char *sp = strrchr(text, ' ');
	const char *times = sp ? sp + 1 : text;
	char a[8], b[8];
	const char *dash = strchr(times, '-');

	w->days = sp ? parse_days(text, (size_t)(sp - text)) : 0x7f;
	if (!w->days || !dash || dash - times != 5 || strlen(dash + 1) != 5)
		return -1;
	memcpy(a, times, 5);
	a[5] = '\0';
	memcpy(b, dash + 1, 6);
	w->start = parse_hhmm(a);
	w->end = parse_hhmm(b);
	if (w->start < 0 || w->end < 0 || w->start == 24 * 60 || w->start == w->end)
		return -1;
	return 0;
}

/* "UTC", "Z", "+02:00", "-0530", "UTC+01:00" → minutes east, or 1 when
 * it is not a fixed offset. */
static int parse_offset(const char *s, long *out)
{
	int h, m = 0;
	if (!strcmp(s, "UTC") || !strcmp(s, "Z") || !strcmp(s, "GMT") || !strcmp(s, "Etc/UTC")) {
		*out = 0;
		return 0;
	}
	if (!strncmp(s, "UTC", 3))
		s += 3;
	if ((s[0] != '+' && s[0] != '-') ||
	    !((strlen(s) == 6 && s[3] == ':' && sscanf(s + 1, "%2d:%2d", &h, &m) == 2) ||
	      (strlen(s) == 5 && sscanf(s + 1, "%2d%2d", &h, &m) == 2) ||
	      (strlen(s) == 3 && sscanf(s + 1, "%2d", &h) == 1)) ||
	    h > 14 || m > 59)
		return 1;
	*out = (s[0] == '-' ? -1 : 1) * (h * 60L + m);
	return 0;
}

/* An IANA name that exists in the zone database (else date(1) would fall
 * back to UTC without a word). */
static int zone_exists(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	FILE *f;
	if (!*name || name[0] == '/' || strstr(name, "..") || strlen(name) >= 128)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_+-", *p)))
			return 0;
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	f = fopen(path, "rb");
	if (f)
		fclose(f);
	return f != NULL;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long long days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(long long z, int *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* PHD_CHANGE_WINDOW_NOW: "2026-11-25T10:00[:00](Z|+01:00)" → epoch seconds. */
static int parse_now(const char *s, long long *out)
{
	int y, mo, d, h, mi, sec = 0, n = 0;
	long off = 0;
	const char *rest;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) != 5 || mo < 1 ||
	    mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59)
		return -1;
	rest = s + n;
	if (*rest == ':' && sscanf(rest, ":%2d%n", &sec, &n) == 1)
		rest += n;
	if (parse_offset(rest, &off) != 0)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec - off * 60;
	return 0;
}

static int local_fixed(const struct guard *g, long long now, struct local *l)
{
	long long t = now + g->offset_min * 60, days = t / 86400, secs = t % 86400;
	int y, m, d;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	l->dow = (int)(((days + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
	l->minute = (int)(secs / 60);
	snprintf(l->text, sizeof l->text, "%s %04d-%02d-%02d %02d:%02d UTC%s%02ld:%02ld",
		 day_names[l->dow], y, m, d, l->minute / 60, l->minute % 60,
		 g->offset_min < 0 ? "-" : "+", labs(g->offset_min) / 60, labs(g->offset_min) % 60);
	if (g->offset_min == 0)
		l->text[strlen(l->text) - 6] = '\0'; /* plain "UTC" */
	return 0;
}

static int local_zone(phd_ctx *ctx, const struct guard *g, long long now, struct local *l)
{
	char at[32], tz[160];
	const char *argv[] = { "date", "-d", at, "+%u %H %M %Y-%m-%d %H:%M %Z", NULL };
	const char *env[] = { tz, NULL };
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	int dow = 0, h = 0, m = 0, n = 0, rc;

	snprintf(at, sizeof at, "@%lld", now);
	snprintf(tz, sizeof tz, "TZ=%s", g->tz);
	spec.argv = argv;
	spec.env = env;
	spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.timeout_ms = 5000;
	rc = phd_exec_run(ctx, &spec, &res);
	if (rc == 0 && (res.exit_code != 0 || !res.out ||
			sscanf(res.out, "%d %d %d %n", &dow, &h, &m, &n) != 3 || dow < 1 ||
			dow > 7))
		rc = phd_set_error(ctx, PHD_ECHILD, "change-window: date(1) could not tell the "
				   "time in %s: %s", g->tz, res.err ? res.err : "no output");
	if (rc == 0) {
		l->dow = dow - 1;
		l->minute = h * 60 + m;
		snprintf(l->text, sizeof l->text, "%s %.*s", day_names[l->dow],
			 (int)strcspn(res.out + n, "\n"), res.out + n);
	}
	phd_exec_result_clear(&res);
	return rc;
}

static int allowed(const struct guard *g, const struct local *l)
{
	int prev = (l->dow + 6) % 7;
	for (size_t i = 0; i < g->n; i++) {
		const struct window *w = &g->w[i];
		if (w->start < w->end) {
			if ((w->days >> l->dow & 1) && l->minute >= w->start && l->minute < w->end)
				return 1;
		} else if (((w->days >> l->dow & 1) && l->minute >= w->start) ||
			   ((w->days >> prev & 1) && l->minute < w->end)) {
			return 1; /* an overnight window belongs to the day it starts on */
		}
	}
	return 0;
}

static int pre_hook(phd_ctx *ctx, int phase, int when, int outcome, void *ud)
{
	const struct guard *g = ud;
	const char *fake = getenv("PHD_CHANGE_WINDOW_NOW");
	long long now = (long long)time(NULL);
	struct local l;
	int rc;
	(void)when;
	(void)outcome;

	if (fake && *fake) {
		if (parse_now(fake, &now) != 0)
			return phd_set_error(ctx, PHD_EINVAL, "change-window: PHD_CHANGE_WINDOW_NOW="
					     "'%s' is not a time like 2026-11-25T10:00:00Z", fake);
		phd_log(ctx, PHD_LOG_WARN, "change-window: the clock is PHD_CHANGE_WINDOW_NOW=%s",
			fake);
	}
	rc = g->tz[0] ? local_zone(ctx, g, now, &l) : local_fixed(g, now, &l);
	if (rc)
		return rc;
	if (allowed(g, &l)) {
		phd_log(ctx, PHD_LOG_INFO, "change-window: %s is inside the change window (%s)",
			l.text, g->allow);
		return 0;
	}
	if (phd_ctx_dry_run(ctx)) {
		phd_log(ctx, PHD_LOG_WARN, "change-window: %s is outside the change window (%s): "
			"the %s phase would be refused", l.text, g->allow, phd_phase_name(phase));
		return 0;
	}
	return phd_set_error(ctx, PHD_EFAILED, "%s refused: %s is outside the change window "
			     "(%s, set at %s)", phd_phase_name(phase), l.text,
			     g->allow[0] ? g->allow : "no window allowed", g->where);
}

static int read_config(phd_ctx *ctx, const phd_node *cfg, struct guard *g)
{
	const phd_node *allow = phd_node_get(cfg, "allow");
	const phd_node *tz = phd_node_get(cfg, "timezone");
	const char *tzs = tz ? phd_node_str(tz) : "UTC";

	snprintf(g->where, sizeof g->where, "%s:%u:%u", phd_node_file(cfg), phd_node_line(cfg),
		 phd_node_column(cfg));
	if (phd_node_type(cfg) != PHD_NODE_MAP)
		return bad(ctx, cfg, "expected a mapping with allow, timezone, phases, got",
			   phd_node_str(cfg));
	for (size_t i = 0; i < phd_node_len(cfg); i++) {
		const char *k = phd_node_key_at(cfg, i);
		if (strcmp(k, "allow") && strcmp(k, "timezone") && strcmp(k, "phases"))
			return bad(ctx, phd_node_at(cfg, i), "unknown key (allow, timezone, phases)",
				   k);
	}
	if (!allow || phd_node_type(allow) != PHD_NODE_SEQ)
		return bad(ctx, allow ? allow : cfg, "allow must be a list of windows like",
			   "Mon-Fri 09:00-17:00");
	if (phd_node_len(allow) > MAX_WINDOWS)
		return bad(ctx, allow, "too many windows (32 at most) in", "allow");
	for (size_t i = 0; i < phd_node_len(allow); i++) {
		const phd_node *w = phd_node_at(allow, i);
		const char *s = phd_node_str(w);
		size_t used = strlen(g->allow);
		if (!s || parse_window(s, &g->w[g->n]) != 0)
			return bad(ctx, w, "a window is DAYS HH:MM-HH:MM (Mon-Fri 09:00-17:00, "
				   "Sat 10:00-12:00, daily 22:00-02:00), not", s);
		g->n++;
		snprintf(g->allow + used, sizeof g->allow - used, "%s%s", used ? ", " : "", s);
	}
	if (!tzs)
		return bad(ctx, tz, "timezone must be a string, not", NULL);
	if (parse_offset(tzs, &g->offset_min) != 0) {
		if (!zone_exists(tzs))
			return bad(ctx, tz, "unknown timezone (UTC, +02:00 or a name in "
				   "/usr/share/zoneinfo)", tzs);
		snprintf(g->tz, sizeof g->tz, "%s", tzs);
	}
	return 0;
}

/* Declared, so `phdeploy validate` refuses a misspelt key of this section
 * with a did-you-mean before anything runs. */
static const struct phd_config_key window_keys[] = {
	{ "allow", PHD_CFG_LIST, PHD_CFG_REQUIRED, NULL, "windows such as \"Mon-Fri 09:00-17:00\"" },
	{ "timezone", PHD_CFG_STRING, 0, NULL, "UTC, +02:00 or a zoneinfo name" },
	{ "phases", PHD_CFG_LIST, 0, NULL, "phases to guard (default secrets, deploy)" },
	PHD_CONFIG_END
};

static int init(phd_plugin *p, const phd_node *config)
{
	static const char *const dflt[] = { "secrets", "deploy" };
	phd_ctx *ctx = phd_plugin_ctx(p);
	const phd_node *phases;
	struct guard *g;
	int ph[PHD_PHASE_COUNT];
	size_t n;
	int rc;

	if (!config) {
		phd_log(ctx, PHD_LOG_DEBUG, "change-window: no change-window: section, not guarding");
		return 0;
	}
	phases = phd_node_get(config, "phases");
	if (phases && phd_node_type(phases) != PHD_NODE_SEQ)
		return bad(ctx, phases, "phases must be a list of phase names, not",
			   phd_node_str(phases));
	n = phases ? phd_node_len(phases) : 2;
	if (n > PHD_PHASE_COUNT)
		return bad(ctx, phases, "too many entries in", "phases");
	for (size_t i = 0; i < n; i++) {
		const char *name = phases ? phd_node_str(phd_node_at(phases, i)) : dflt[i];
		if ((ph[i] = phd_phase_from_name(name)) < 0)
			return bad(ctx, phd_node_at(phases, i), "unknown phase", name);
	}
	if (!(g = calloc(1, sizeof *g)))
		return PHD_ENOMEM;
	if ((rc = read_config(ctx, config, g)) != 0 || n == 0) {
		free(g);
		return rc;
	}
	/* one guard for every phase: the plugin's data, freed once with it */
	if ((rc = phd_plugin_set_data(p, g, free)) != 0 ||
	    (rc = phd_plugin_declare_config(p, NULL, window_keys)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = phd_register_hook(p, ph[i], PHD_HOOK_PRE, pre_hook, g, NULL)) != 0)
			return rc;
	return 0;
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("change-window", "2.0", init, NULL);

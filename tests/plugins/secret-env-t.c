/* secret-env: a Secret from named environment variables; a missing or
 * empty variable is named with the entry's position, its value never. */
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "secret-t.h"

static void good(void)
{
	struct st_run r;

	setenv("PHD_T_REDIS", "env-redis-Secret-9f3", 1);
	setenv("PHD_T_OTHER", "x y\tz", 1);
	st_run(&r, st_dir(), "secrets:\n"
		"  - provider: env\n"
		"    name: posthog-redis\n"
		"    type: Opaque\n"
		"    keys: {redis-password: PHD_T_REDIS, spaced: PHD_T_OTHER}\n");
	tap_is_int(r.rc, 0, "variables become a Secret");
	st_is(&r, "posthog-redis", "redis-password", "env-redis-Secret-9f3", "value of "
	      "PHD_T_REDIS");
	st_is(&r, "posthog-redis", "spaced", "x y\tz", "whitespace is kept");
	tap_ok(phd_secret_count(r.ctx) == 1 && strcmp(phd_secret_at(r.ctx, 0)->type, "Opaque") == 0,
	       "one Secret, type forwarded");
	tap_unlike(r.out, "env-redis-Secret-9f3", "the value is not in the log");
	st_done(&r);
}

static void missing(void)
{
	struct st_run r;

	setenv("PHD_T_SET", "set-value-4471", 1);
	unsetenv("PHD_T_UNSET");
	st_run(&r, st_dir(), "secrets:\n"
		"  - provider: env\n"
		"    name: posthog-redis\n"
		"    keys:\n"
		"      a: PHD_T_SET\n"
		"      b: PHD_T_UNSET\n");
	tap_ok(r.rc != 0, "a missing variable fails the phase");
	tap_like(r.err, "phdeploy.yaml:8:10: secret-env: environment variable PHD_T_UNSET is "
		 "not set (Secret posthog-redis, key b)", "it is named with its position");
	tap_unlike(r.err, "set-value-4471", "no value in the message");
	tap_is_int((long long)phd_secret_count(r.ctx), 0, "nothing half-added");
	st_done(&r);

	setenv("PHD_T_EMPTY", "", 1);
	st_run(&r, st_dir(), "secrets:\n"
		"  - {provider: env, name: posthog-redis, keys: {a: PHD_T_EMPTY}}\n");
	tap_like(r.err, "phdeploy.yaml:4:52: secret-env: environment variable PHD_T_EMPTY is "
		 "empty", "an empty variable is refused");
	st_done(&r);
	st_run(&r, st_dir(), "secrets:\n"
		"  - {provider: env, name: posthog-redis, allow_empty: true, keys: {a: PHD_T_EMPTY}}\n");
	st_is(&r, "posthog-redis", "a", "", "... unless allow_empty: true");
	st_done(&r);
}

static void bad_entries(void)
{
	static const struct { const char *body, *want, *what; } t[] = {
		{ "  - {provider: env, keys: {a: X}}\n", "phdeploy.yaml:4:5: secrets[0]: the "
		  "key 'name' is required", "name: is required (validate)" },
		{ "  - {provider: env, name: Bad_Name, keys: {a: X}}\n", "phdeploy.yaml:4:27: "
		  "secret-env: \"Bad_Name\" is not a valid Secret name", "name must be DNS-1123" },
		{ "  - {provider: env, name: ok, keys: {\"a b\": X}}\n", "phdeploy.yaml:4:45: "
		  "secret-env: \"a b\" is not a valid Secret key", "keys must be Secret keys" },
		{ "  - {provider: env, name: ok, keys: {a: 1X}}\n", "phdeploy.yaml:4:41: "
		  "secret-env: \"1X\" is not an environment variable name", "variable names are "
		  "checked" },
		{ "  - {provider: env, name: ok, keys: []}\n", "phdeploy.yaml:4:37: "
		  "secrets[0].keys must be a mapping", "keys must be a mapping (validate)" },
		{ "  - {provider: env, name: ok, key: {a: X}}\n", "phdeploy.yaml:4:31: "
		  "unknown key in secrets[0] 'key' (did you mean 'keys'?)",
		  "unknown entry keys are refused by validate, with a did-you-mean" },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof *t; i++) {
		struct st_run r;
		char body[512];

		strcpy(body, "secrets:\n");
		strcat(body, t[i].body);
		st_run(&r, st_dir(), body);
		tap_like(r.err, t[i].want, "%s", t[i].what);
		st_done(&r);
	}
}

static void duplicate_with_file(void)
{
	const char *dir = st_dir();
	struct st_run r;

	setenv("PHD_T_REDIS", "env-redis-Secret-9f3", 1);
	st_file(dir, "redis.secret.yaml", "apiVersion: v1\nkind: Secret\n"
		"metadata: {name: posthog-redis}\nstringData: {redis-password: x}\n");
	st_run(&r, dir, "secrets:\n"
		"  - {provider: file, path: redis.secret.yaml}\n"
		"  - {provider: env, name: posthog-redis, keys: {other: PHD_T_REDIS}}\n");
	tap_like(r.err, "phdeploy.yaml:5:27: Secret \"posthog-redis\" is provided twice (first at ",
		 "a name another entry provides is refused");
	tap_like(r.err, "redis.secret.yaml:3:18)", "... naming the first position in its file");
	st_done(&r);
}

int main(void)
{
	st_init();
	good();
	missing();
	bad_entries();
	duplicate_with_file();
	return tap_done();
}

/* secret-aws: GetSecretValue against tests/bin/aws-stand-in.py on
 * 127.0.0.1, which recomputes every SigV4 signature with the secret key it
 * knows; credentials from the environment, a profile, web identity (STS),
 * a container endpoint and IMDSv2, in the SDKs' order. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "secret-t.h"

static pid_t stand_in;
static int stand_in_stdin = -1;
static char url[128], logpath[4096];

static void stop_stand_in(void)
{
	if (stand_in > 0) {
		close(stand_in_stdin);  /* EOF on its stdin ends it */
		kill(stand_in, SIGTERM);
		waitpid(stand_in, NULL, 0);
		stand_in = 0;
	}
}

static const char conf_fmt[] =
	"{\"region\": \"eu-west-1\",\n"
	" \"keys\": {\"AKIDENVTEST\": {\"secret\": \"envSecretKey/+abc\", \"token\": \"envSessionToken==\"},\n"
	"          \"AKIDPROFILE\": {\"secret\": \"profileSecretKey\", \"token\": null}},\n"
	" \"secrets\": {\n"
	"  \"prod/posthog/postgres\": {\"SecretString\": \"{\\\"password\\\": \\\"aws-pg-pw-31\\\", \\\"username\\\": \\\"posthog\\\"}\"},\n"
	"  \"prod/posthog/redis\": {\"SecretString\": \"aws-redis-plain-77\"},\n"
	"  \"prod/binary\": {\"SecretBinary\": \"AAEC/w==\"},\n"
	"  \"prod/flaky\": {\"SecretString\": \"{\\\"a\\\": \\\"flaky-ok\\\"}\", \"fail_first\": 1},\n"
	"  \"prod/slow\": {\"SecretString\": \"{}\", \"delay\": 6}},\n"
	" \"sts\": {\"role_arn\": \"arn:aws:iam::123456789012:role/phd\", \"token\": \"eyJ.web-identity.sig\",\n"
	"  \"issue\": {\"AccessKeyId\": \"ASIASTS\", \"SecretAccessKey\": \"stsSecretKey\", \"SessionToken\": \"stsSessionToken\"}},\n"
	" \"imds\": {\"role\": \"phd-node-role\",\n"
	"  \"issue\": {\"AccessKeyId\": \"ASIAIMDS\", \"SecretAccessKey\": \"imdsSecretKey\", \"Token\": \"imdsToken\"}},\n"
	" \"container\": {\"path\": \"/v1/credentials\", \"auth\": \"pod-identity-auth\",\n"
	"  \"issue\": {\"AccessKeyId\": \"ASIACONT\", \"SecretAccessKey\": \"contSecretKey\", \"Token\": \"contToken\"}},\n"
	" \"log\": \"%s\"}\n";

/* Start the stand-in; read the port it prints, with a deadline. */
static int start_stand_in(void)
{
	int in[2], out[2];
	char conf[8192], script[4096], line[32] = "", *path;
	struct pollfd p;
	size_t n = 0;

	snprintf(logpath, sizeof logpath, "%s/requests.jsonl", tap_tmpdir());
	snprintf(conf, sizeof conf, conf_fmt, logpath);
	path = tap_write_file("stand-in.json", conf, strlen(conf));
	snprintf(script, sizeof script, "%s/tests/bin/aws-stand-in.py", tap_env("top_srcdir", "."));
	if (pipe(in) || pipe(out))
		return -1;
	stand_in = fork();
	if (stand_in == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", script, path, (char *)NULL);
		_exit(127);
	}
	free(path);
	close(in[0]);
	close(out[1]);
	stand_in_stdin = in[1];
	atexit(stop_stand_in);
	p.fd = out[0];
	p.events = POLLIN;
	while (n < sizeof line - 1 && !strchr(line, '\n')) {
		ssize_t r;

		if (poll(&p, 1, 15000) <= 0)
			break;
		r = read(out[0], line + n, sizeof line - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	close(out[0]);
	if (atoi(line) <= 0)
		return -1;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", atoi(line));
	return 0;
}

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", NULL
};

/* A clean AWS environment pointing at the stand-in, IMDS off. */
static void env_reset(void)
{
	size_t i;

	for (i = 0; aws_vars[i]; i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", tap_tmpdir(), 1);  /* no ~/.aws of the machine */
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ENDPOINT_URL", url, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void env_keys(const char *id, const char *secret, const char *token)
{
	setenv("AWS_ACCESS_KEY_ID", id, 1);
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	if (token)
		setenv("AWS_SESSION_TOKEN", token, 1);
}

static int run_entry(struct st_run *r, const char *entry)
{
	char body[4096];

	if (truncate(logpath, 0) != 0 && errno != ENOENT)
		tap_diag("truncate %s: %s", logpath, strerror(errno));
	snprintf(body, sizeof body, "secrets:\n  - {provider: aws, %s}\n", entry);
	return st_run(r, st_dir(), body);
}

/* the stand-in's request log */
static char *requests(void)
{
	char *s = tap_slurp(logpath, NULL);

	return s ? s : strdup("");
}

#define PG "secret_id: prod/posthog/postgres, name: posthog-postgres"

static void from_environment(void)
{
	struct st_run r;
	char *log;

	env_reset();
	env_keys("AKIDENVTEST", "envSecretKey/+abc", "envSessionToken==");
	run_entry(&r, PG ", keys: {postgresql-password: password}");
	tap_is_int(r.rc, 0, "GetSecretValue with environment credentials");
	st_is(&r, "posthog-postgres", "postgresql-password", "aws-pg-pw-31",
	      "a SecretString field is mapped to a Secret key");
	tap_is_int(phd_secret_count(r.ctx) ? (long long)phd_secret_at(r.ctx, 0)->nkeys : -1, 1,
		   "only the mapped field is taken");
	log = requests();
	tap_like(log, "\"kind\": \"secretsmanager\", \"ok\": true, \"akid\": \"AKIDENVTEST\"",
		 "the stand-in recomputed the SigV4 signature and it matched");
	tap_like(log, "content-type;host;x-amz-date;x-amz-security-token;x-amz-target",
		 "the session token and the target are signed headers");
	free(log);
	tap_unlike(r.out, "envSecretKey", "the secret access key is not in the log");
	tap_unlike(r.out, "aws-pg-pw-31", "nor the value");
	st_done(&r);

	run_entry(&r, PG);
	st_is(&r, "posthog-postgres", "username", "posthog", "without keys: every field");
	st_is(&r, "posthog-postgres", "password", "aws-pg-pw-31", "... each under its own name");
	st_done(&r);

	run_entry(&r, "secret_id: prod/posthog/redis, name: posthog-redis, key: redis-password, "
		  "type: Opaque");
	st_is(&r, "posthog-redis", "redis-password", "aws-redis-plain-77",
	      "key: takes the whole SecretString");
	st_done(&r);

	run_entry(&r, "secret_id: prod/binary, name: bin, key: k");
	{
		const unsigned char *v;
		size_t n;

		tap_ok(phd_secret_get(r.ctx, "bin", "k", &v, &n) == 0 && n == 4 &&
		       memcmp(v, "\x00\x01\x02\xff", 4) == 0, "key: decodes a SecretBinary");
	}
	st_done(&r);

	run_entry(&r, "secret_id: prod/flaky, name: flaky");
	st_is(&r, "flaky", "a", "flaky-ok", "an HTTP 500 is retried");
	st_done(&r);
}

static void errors(void)
{
	struct st_run r;
	struct timespec t0, t1;
	double s;

	env_reset();
	env_keys("AKIDENVTEST", "envSecretKey/+abc", "envSessionToken==");
	run_entry(&r, "secret_id: prod/none, name: x");
	tap_like(r.err, "phdeploy.yaml:4:5: secret-aws: GetSecretValue prod/none: HTTP 400 "
		 "ResourceNotFoundException: Secrets Manager can't find the specified secret.",
		 "an unknown secret: the service's error type and message, positioned");
	st_done(&r);

	env_keys("AKIDENVTEST", "wrongSecretKey", "envSessionToken==");
	run_entry(&r, PG);
	tap_like(r.err, "InvalidSignatureException", "a wrong secret key fails the signature check");
	st_done(&r);

	env_keys("AKIDENVTEST", "envSecretKey/+abc", NULL);
	unsetenv("AWS_SESSION_TOKEN");
	run_entry(&r, PG);
	tap_like(r.err, "UnrecognizedClientException", "a missing session token is refused");
	st_done(&r);

	env_keys("AKIDENVTEST", "envSecretKey/+abc", "envSessionToken==");
	run_entry(&r, PG ", keys: {postgresql-password: pass}");
	tap_like(r.err, "SecretString of prod/posthog/postgres has no field \"pass\"",
		 "a mapped field that is absent is named");
	tap_unlike(r.err, "aws-pg-pw-31", "... without any value");
	st_done(&r);

	run_entry(&r, "secret_id: prod/posthog/redis, name: x");
	tap_like(r.err, "SecretString of prod/posthog/redis:1:3: not valid JSON",
		 "a plain SecretString without key: is refused");
	tap_unlike(r.err, "aws-redis-plain-77", "... without quoting it");
	st_done(&r);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_entry(&r, "secret_id: prod/slow, name: x, timeout: 1s");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_like(r.err, "GetSecretValue: timed out", "a slow answer hits the timeout");
	tap_ok(s < 5.0, "... after about a second (%.1f s)", s);
	st_done(&r);

	run_entry(&r, PG ", endpoint_url: \"http://example.com/\"");
	tap_like(r.err, "endpoint http://example.com/ must be https", "plain http off loopback "
		 "is refused");
	st_done(&r);

	unsetenv("AWS_REGION");
	run_entry(&r, PG);
	tap_like(r.err, "no AWS region", "a missing region is reported");
	st_done(&r);

	env_reset();
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
	env_keys("AKIDENVTEST", "envSecretKey/+abc", "envSessionToken==");
	{
		char e[512];

		snprintf(e, sizeof e, PG ", region: eu-west-1, endpoint_url: \"%s\"", url);
		run_entry(&r, e);
	}
	tap_is_int(r.rc, 0, "endpoint_url: and region: in the entry win over the environment");
	st_done(&r);
}

static void profile(void)
{
	static const char ini[] = "[default]\naws_access_key_id = AKIDNOPE\n"
		"aws_secret_access_key = nope\n\n# the one we use\n[ci]\n"
		"aws_access_key_id = AKIDPROFILE\naws_secret_access_key=profileSecretKey\n";

	struct st_run r;
	char *cred, *log;

	env_reset();
	cred = tap_write_file("credentials", ini, sizeof ini - 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_PROFILE", "ci", 1);
	run_entry(&r, PG);
	tap_is_int(r.rc, 0, "credentials from the shared file, profile $AWS_PROFILE");
	log = requests();
	tap_like(log, "\"akid\": \"AKIDPROFILE\"", "... the profile's key id signed the call");
	free(log);
	st_done(&r);

	env_keys("AKIDENVTEST", "envSecretKey/+abc", "envSessionToken==");
	run_entry(&r, PG);
	log = requests();
	tap_like(log, "\"akid\": \"AKIDENVTEST\"", "environment keys come before $AWS_PROFILE");
	free(log);
	st_done(&r);

	run_entry(&r, PG ", profile: ci");
	log = requests();
	tap_like(log, "\"akid\": \"AKIDPROFILE\"", "a profile: in the entry wins over the "
		 "environment");
	free(log);
	st_done(&r);

	run_entry(&r, PG ", profile: nosuch");
	tap_like(r.err, "AWS profile \"nosuch\" is in neither", "an unknown explicit profile is "
		 "an error");
	st_done(&r);
	free(cred);
}

static void web_identity(void)
{
	struct st_run r;
	char *tok, *log;

	env_reset();
	tok = tap_write_file("token", "eyJ.web-identity.sig\n", 21);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tok, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/phd", 1);
	run_entry(&r, PG);
	tap_is_int(r.rc, 0, "web identity: STS AssumeRoleWithWebIdentity, then GetSecretValue");
	log = requests();
	tap_like(log, "\"kind\": \"sts\", \"ok\": true, \"signed\": false",
		 "the STS call carried the token and role, unsigned");
	tap_like(log, "\"ok\": true, \"akid\": \"ASIASTS\"", "the temporary credentials signed "
		 "the call, with their session token");
	free(log);
	tap_unlike(r.out, "stsSecretKey", "STS's secret key is not in the log");
	st_done(&r);

	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/other", 1);
	run_entry(&r, PG);
	tap_like(r.err, "STS AssumeRoleWithWebIdentity: HTTP 400 InvalidIdentityToken: "
		 "Couldn't retrieve", "an STS refusal is reported with its code");
	st_done(&r);
	free(tok);
}

static void container_and_imds(void)
{
	struct st_run r;
	char full[256], *log;

	env_reset();
	snprintf(full, sizeof full, "%sv1/credentials", url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-auth", 1);
	run_entry(&r, PG);
	tap_is_int(r.rc, 0, "container credentials (EKS Pod Identity / ECS)");
	log = requests();
	tap_like(log, "\"akid\": \"ASIACONT\"", "... signed the call");
	free(log);
	st_done(&r);

	env_reset();
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	run_entry(&r, PG);
	tap_is_int(r.rc, 0, "IMDSv2 instance role credentials");
	log = requests();
	tap_like(log, "\"kind\": \"imds-token\", \"ok\": true", "a session token was PUT first");
	tap_like(log, "\"role\": \"phd-node-role\"", "the role's credentials were read with it");
	tap_like(log, "\"akid\": \"ASIAIMDS\"", "... and signed the call");
	free(log);
	tap_unlike(r.out, "imdsSecretKey", "IMDS's secret key is not in the log");
	st_done(&r);

	env_reset();
	run_entry(&r, PG);
	tap_like(r.err, "no AWS credentials", "nothing configured and IMDS disabled: a clear "
		 "error");
	tap_like(r.err, "IMDS disabled", "... saying IMDS was disabled");
	st_done(&r);
}

static void plugin_config(void)
{
	struct st_run r;
	char body[1024];

	env_reset();
	unsetenv("AWS_REGION");
	unsetenv("AWS_ENDPOINT_URL");
	env_keys("AKIDENVTEST", "envSecretKey/+abc", "envSessionToken==");
	snprintf(body, sizeof body, "secret-aws: {region: eu-west-1, endpoint_url: \"%s\", "
		 "timeout: 5s}\nsecrets:\n  - {provider: aws, " PG "}\n", url);
	st_run(&r, st_dir(), body);
	st_is(&r, "posthog-postgres", "password", "aws-pg-pw-31", "region and endpoint from the "
	      "secret-aws: block");
	st_done(&r);

	st_run(&r, st_dir(), "secret-aws: {regoin: eu-west-1}\nsecrets: []\n");
	tap_like(r.err, "phdeploy.yaml:3:22: secret-aws: unknown key \"regoin\"",
		 "a mistyped key in the secret-aws: block fails the plugin's init");
	st_done(&r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	st_init();
	if (start_stand_in() != 0)
		tap_skip_all("cannot start tests/bin/aws-stand-in.py with python3");
	from_environment();
	errors();
	profile();
	web_identity();
	container_and_imds();
	plugin_config();
	stop_stand_in();
	return tap_done();
}

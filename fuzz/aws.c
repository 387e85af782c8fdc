/* AWS answers (plugins/secret-aws, plugins/common/aws): GetSecretValue's JSON (whole string,
 * key map, SecretBinary), STS AssumeRoleWithWebIdentity's XML (success
 * and error), and the credentials JSON of IMDS and the container
 * endpoint.  First byte: which one.  The plugin's statics are compiled in;
 * a fresh context per input holds what is added. */
#include "fuzz/fuzz.h"
#include "phd-private.h"
#include "../plugins/secret-aws/secret-aws.c"
#include "../plugins/common/aws/webid.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	phd_ctx *ctx;
	struct phd_secret_sink sk, *sink = &sk;
	struct call c;
	struct aws_resp r;
	struct aws_settings set;
	struct aws_creds cr = { 0 };
	char *body;

	if (size < 1)
		return 0;
	ctx = fuzz_ctx_new();
	body = fuzz_strndup(data + 1, size - 1);
	memset(&c, 0, sizeof c);
	memset(&r, 0, sizeof r);
	memset(&set, 0, sizeof set);
	c.ctx = ctx;
	c.secret_id = "prod/posthog";
	c.name = "posthog-aws";
	r.body.p = (unsigned char *)body;
	r.body.len = size - 1;
	r.status = 200;
	sk.ctx = ctx;
	sk.provider = "aws";
	sk.entry = NULL;
	switch (data[0] % 5) {
	case 0:
		use_answer(&c, sink, &r);
		break;
	case 1:
		c.key = "password";
		use_answer(&c, sink, &r);
		break;
	case 2:
		answer(ctx, &set, &r, &cr);
		break;
	case 3:
		r.status = 403;
		answer(ctx, &set, &r, &cr);
		break;
	default:
		aws_creds_from_json(ctx, body, &cr, "IMDS");
	}
	aws_creds_wipe(&cr);
	free(body);
	phd_ctx_free(ctx);
	return 0;
}

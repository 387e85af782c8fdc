/* Redis answers (plugins/redis/redis.c): RESP through hiredis's reader,
 * fed in pieces as the socket delivers them (first byte: the piece size),
 * under the plugin's size limit and its bound on arrays (checked); then
 * the INFO fields the check reads.
 * The plugin's statics are compiled in. */
#include "fuzz/fuzz.h"
#include "redis.c"

static void info_fields(const redisReply *r)
{
	static const char *const keys[] = { "redis_version", "redis_mode", "role", "master_host",
					    "master_port", "connected_slaves", "maxmemory_policy" };
	char buf[64];

	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		char *s = strndup(r->str, r->len);
		if (!s)
			abort();
		for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
			rd_info(s, keys[i], buf, sizeof buf);
		free(s);
	} else if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < r->elements; i++)
			info_fields(r->element[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd;
	size_t piece, off = 1, fed = 0;
	void *reply;

	if (size < 1 || !(rd = rd_reader_new()))
		return 0;
	piece = data[0] ? data[0] : 1;
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		fed += n;
		if (fed > RD_MAX_REPLY || redisReaderFeed(rd, (const char *)data + off, n) != REDIS_OK)
			break;
		off += n;
		for (;;) {
			if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
				off = size;
				break;
			}
			if (!reply)
				break;
			if (((redisReply *)reply)->type == REDIS_REPLY_ARRAY &&
			    ((redisReply *)reply)->elements > RD_MAX_ELEMENTS)
				abort();
			info_fields(reply);
			freeReplyObject(reply);
		}
	}
	redisReaderFree(rd);
	return 0;
}

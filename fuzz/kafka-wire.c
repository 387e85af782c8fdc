/* The two Kafka answers read by plugins/kafka/kafka-wire.c: ApiVersions v0
 * and Metadata v1..12 (first byte: the version; the rest: the body after
 * its size field, as call() hands it over). */
#include "fuzz/fuzz.h"
#include "kafka.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_cluster cl;

	if (size < 1)
		return 0;
	memset(&cl, 0, sizeof cl);
	cl.nbrokers = 3;
	for (int i = 0; i < cl.nbrokers; i++)
		cl.broker[i].id = i + 1;
	kafka_wire_read_versions(data + 1, size - 1);
	kafka_wire_read_metadata(data + 1, size - 1, 1 + data[0] % 12, &cl);
	for (int i = 0; i < cl.nbrokers; i++)
		if (strnlen(cl.broker[i].rack, sizeof cl.broker[i].rack) == sizeof cl.broker[i].rack)
			abort();
	return 0;
}

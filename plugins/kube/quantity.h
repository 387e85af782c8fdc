/* kube plugin: Kubernetes resource quantities ("250m", "1.5Gi", "2e3")
 * as integers, for comparing requests with quotas and limit ranges
 * without the rounding a double would bring (3 x 100m must equal 300m). */
#ifndef PHD_KUBE_QUANTITY_H
#define PHD_KUBE_QUANTITY_H

#include <stddef.h>

/* s in thousandths of its unit (millicores, millibytes), rounded up as
 * the API server rounds below a milli.  Returns 0, or -1 for text that
 * is not a quantity or a value beyond about 9.2e15 units. */
int kube_quantity_milli(const char *s, long long *out);
/* milli as a quantity for messages: "1500m", "2", "512Mi", "1.5Gi";
 * binary: memory-like (Ki/Mi/Gi when exact to a tenth).  Returns buf. */
char *kube_quantity_format(long long milli, int binary, char *buf, size_t cap);

#endif

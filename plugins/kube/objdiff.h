/* kube plugin: comparing manifests with stored and live objects
 * (objdiff.c), shared by diff (diff.c) and drift (drift.c). */
#ifndef PHD_KUBE_OBJDIFF_H
#define PHD_KUBE_OBJDIFF_H

#include <stddef.h>

#include <jansson.h>

#include <phdeploy/plugin.h>

/* The objects of a YAML (or JSON) multi-document stream, `kind: List`
 * unwrapped, as a new JSON array; NULL with err set on bad YAML. */
json_t *kube_yaml_objects(const char *text, size_t len, char *err, size_t errcap);
/* obj[key] when a string, else "" (borrowed). */
const char *kube_jstr(json_t *obj, const char *key);
/* "Kind/name" (malloc'd); a Job whose name ends in the render time
 * (the migrate Job RELEASE-migrate-YYYY-MM-DD-HH-MM-SS) is "Job/STEM-*". */
char *kube_obj_key(json_t *obj, const char *release);
/* The length of name before a "-YYYY-MM-DD-HH-MM-SS" suffix, or 0. */
size_t kube_volatile_name(const char *name);
/* live cut down to the fields want sets (a new reference): what the
 * server or other field managers add is not ours to report. */
json_t *kube_project(json_t *want, json_t *live);
/* Deep equality where `1` and "1" are one value. */
int kube_same(json_t *a, json_t *b);
/* Remove the checksum/... annotations of obj and its pod template; returns
 * them as {"checksum/x": v, "pod template checksum/y": v} (new). */
json_t *kube_take_checksums(json_t *obj);
/* The names of the checksums that differ, ", "-separated (malloc'd), or
 * NULL when none does. */
char *kube_checksum_changes(json_t *want, json_t *have);
/* Pretty JSON with sorted keys: the text a diff is made of (malloc'd). */
char *kube_obj_text(json_t *obj);
/* Unified diff of two texts, 3 lines of context (malloc'd); only the
 * header lines when they are equal. */
char *kube_udiff(const char *a, const char *b, const char *label_a, const char *label_b);

/* The live objects (no Secrets) of every type in sets[] (JSON objects
 * keyed by kube_obj_key), keyed alike, in a new object *out; one kubectl
 * get per type.  PHD_EUNREACHABLE when the cluster could not be read. */
struct kube_conf;
int kube_live_objects(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
		      const char *release, json_t *sets[], size_t nsets, json_t **out);
/* Dotted paths where have and want differ, ", "-separated (malloc'd). */
char *kube_changed_fields(json_t *have, json_t *want);
/* fn(path, a's value, b's value, arg) for each dotted path where a and b
 * differ, a's keys first (a value is NULL where its side lacks the key);
 * lists of one length element by element ("containers[0].image"), of two
 * lengths whole. */
typedef void (*kube_diff_fn)(const char *path, json_t *a, json_t *b, void *arg);
void kube_diff_walk(json_t *a, json_t *b, kube_diff_fn fn, void *arg);

/* `helm get WHAT RELEASE -n NS [-o FMT]`: its stdout (malloc'd; the caller
 * wipes it: the manifest holds the chart's Secrets), or NULL with a warning
 * prefixed "kube: WHO:"; *notfound when the release does not exist. */
char *kube_helm_get(phd_ctx *ctx, const struct kube_conf *cf, const char *release,
		    const char *ns, const char *what, const char *fmt, const char *who,
		    int *notfound);
/* The objects of list keyed by kube_obj_key, helm hooks left out (new). */
json_t *kube_by_key(json_t *list, const char *release);
/* A Secret object's data and stringData as "key=base64\n" lines into b. */
struct kube_wbuf;
void kube_secret_desired(json_t *secret, struct kube_wbuf *b);
/* One kubectl for the live Secrets of ns that objs (JSON objects) holds
 * and more[] names: "NAME/" then "NAME/KEY=BASE64" lines, raw in wiped
 * memory (res->out; the caller clears res).  A Secret that does not exist
 * is absent.  PHD_EUNREACHABLE when they could not be read. */
struct phd_exec_result;
int kube_secrets_read(phd_ctx *ctx, const struct kube_conf *cf, const char *ns, json_t *objs,
		      const char *const more[], size_t nmore, struct phd_exec_result *res);
/* Secret name of a kube_secrets_read() answer against desired ("key=base64"
 * lines): "key K added" / "key K changed" (and, when extra is set, "key K
 * EXTRA" for a live key desired lacks), ", "-separated in *changes
 * (malloc'd, NULL when none); *exists 0 when the Secret is not live.
 * Values are only compared, never copied out. */
int kube_secret_compare(const struct phd_exec_result *live, const char *name,
			const struct kube_wbuf *desired, const char *extra, int *exists,
			char **changes);

#endif

"""Builds phdeploy._capi, the cffi (API mode) extension over libphdeploy.

The declarations below are the part of <phdeploy/phdeploy.h> and
<phdeploy/plugin.h> the binding uses; API mode compiles them against the
real headers, so a mismatch is a compile error, not a crash.

Where the headers and the library come from:
  PHDEPLOY_CFLAGS / PHDEPLOY_LIBS  when set (the build tree in `make check`),
  else `pkg-config --cflags --libs libphdeploy` (an installed libphdeploy;
  PKG_CONFIG_PATH finds one in any prefix).

Where the extension finds the library at import: a RUNPATH to the
library's directory (pkg-config's libdir without PKG_CONFIG_SYSROOT_DIR,
which is where a staged DESTDIR tree will be installed; or the -L
directories of PHDEPLOY_LIBS), so a prefix outside the loader's default
path needs no LD_LIBRARY_PATH.  The linker's default directories get none.
PHDEPLOY_RPATH (colon-separated; empty: none) overrides it.

Run directly to build into a directory:  python3 build_capi.py OUTDIR
"""
import os
import shlex
import subprocess
import sys
import sysconfig

from cffi import FFI

CDEF = r"""
typedef struct phd_node phd_node;
typedef struct phd_ctx phd_ctx;
typedef struct phd_plugin phd_plugin;
typedef struct phd_secret_sink phd_secret_sink;
typedef struct phd_check phd_check;
typedef struct phd_validation phd_validation;

enum phd_error { PHD_OK, PHD_EINTERNAL, PHD_ENOMEM, PHD_EINVAL, PHD_EIO, PHD_ESYNTAX,
    PHD_ETYPE, PHD_ENOTFOUND, PHD_ETOOBIG, PHD_EPLUGIN, PHD_EABI, PHD_ETIMEOUT,
    PHD_ECHILD, PHD_EINTR, PHD_ELOCKED, PHD_EFAILED, PHD_ENOPROVIDER, PHD_EROLLEDBACK,
    PHD_EIGNORE, PHD_EUNREACHABLE, ... };
enum phd_phase { PHD_PHASE_VALIDATE, PHD_PHASE_SECRETS, PHD_PHASE_PREFLIGHT,
    PHD_PHASE_REPO, PHD_PHASE_RENDER, PHD_PHASE_DEPLOY, PHD_PHASE_VERIFY,
    PHD_PHASE_ROLLBACK, PHD_PHASE_COUNT, ... };
enum phd_status { PHD_STATUS_NOTRUN, PHD_STATUS_OK, PHD_STATUS_FAILED,
    PHD_STATUS_SKIPPED, ... };
enum phd_severity { PHD_SEV_OFF, PHD_SEV_INFO, PHD_SEV_WARN, PHD_SEV_ERROR, ... };
enum phd_node_type { PHD_NODE_NULL, PHD_NODE_SCALAR, PHD_NODE_SEQ, PHD_NODE_MAP, ... };
enum phd_log_level { PHD_LOG_ERROR, PHD_LOG_WARN, PHD_LOG_INFO, PHD_LOG_DEBUG, ... };
enum phd_event_type { PHD_EV_PHASE_START, PHD_EV_PHASE_END, PHD_EV_FINDING, PHD_EV_CHECK,
    PHD_EV_HOOK, PHD_EV_OUTPUT, PHD_EV_PROGRESS, PHD_EV_COMMAND, PHD_EV_RUN_END, ... };
enum phd_hook_when { PHD_HOOK_PRE, PHD_HOOK_POST, PHD_HOOK_FAIL, ... };

#define PHD_OPT_DRY_RUN ...
#define PHD_ACTION_UNDO ...
#define PHD_OPT_NO_CONFIG ...
#define PHD_OPT_NO_JOURNAL ...
#define PHD_OPT_NO_LOCK ...
#define PHD_OPT_PLAN ...
#define PHD_OPTIONS_VERSION ...
#define PHD_PLUGIN_ABI_MAJOR ...
#define PHD_PLUGIN_ABI_MINOR ...

const char *phd_version(void);
const char *phd_strerror(int code);
const char *phd_phase_name(int phase);
int phd_phase_from_name(const char *name);
const char *phd_status_name(int status);
const char *phd_severity_name(int severity);

const phd_node *phd_node_get(const phd_node *node, const char *path);
int phd_node_type(const phd_node *node);
const char *phd_node_str(const phd_node *node);
int phd_node_bool(const phd_node *node, int *out);
int phd_node_int(const phd_node *node, long long *out);
int phd_node_duration_ms(const phd_node *node, long long *out_ms);
size_t phd_node_len(const phd_node *node);
const phd_node *phd_node_at(const phd_node *node, size_t i);
const char *phd_node_key_at(const phd_node *node, size_t i);
const char *phd_node_file(const phd_node *node);
unsigned phd_node_line(const phd_node *node);
unsigned phd_node_column(const phd_node *node);

struct phd_options {
    unsigned version;
    unsigned flags;
    const char *config_path;
    const char *const *values;
    size_t nvalues;
    const char *release;
    const char *namespace_;
    const char *chart;
    const char *chart_version;
    const char *helm_path;
    const char *kubectl_path;
    const char *kube_context;
    const char *state_dir;
    const char *plugin_path;
    int verbosity;
    ...;
};
int phd_ctx_new(phd_ctx **out, const struct phd_options *opts);
void phd_ctx_free(phd_ctx *ctx);
const char *phd_ctx_errmsg(const phd_ctx *ctx);
int phd_ctx_load(phd_ctx *ctx);
const phd_node *phd_ctx_config(const phd_ctx *ctx);
const phd_node *phd_ctx_values(const phd_ctx *ctx);
const char *phd_ctx_release(const phd_ctx *ctx);
const char *phd_ctx_namespace(const phd_ctx *ctx);
const char *phd_ctx_chart(const phd_ctx *ctx);

typedef void (*phd_log_fn)(int level, const char *msg, void *payload);
void phd_ctx_set_log(phd_ctx *ctx, phd_log_fn fn, void *payload);

struct phd_event {
    int type;
    int phase;
    int status;
    int severity;
    long long ms;
    const char *name;
    const char *object;
    const char *message;
    const char *file;
    unsigned line, column;
    const char *values_key;
    int code;
    ...;
};
typedef void (*phd_event_fn)(const struct phd_event *ev, void *payload);
void phd_ctx_set_event_cb(phd_ctx *ctx, phd_event_fn fn, void *payload);

int phd_run(phd_ctx *ctx, unsigned mask);
void phd_ctx_interrupt(phd_ctx *ctx);
int phd_status(phd_ctx *ctx, char **out_json);

int phd_ctx_phase_status(const phd_ctx *ctx, int phase);
long long phd_ctx_phase_ms(const phd_ctx *ctx, int phase);
int phd_ctx_failed_phase(const phd_ctx *ctx);
int phd_ctx_timed_out(const phd_ctx *ctx);

struct phd_finding {
    const char *rule;
    int severity;
    int phase;
    const char *object;
    const char *message;
    const char *values_key;
    const char *file;
    unsigned line, column;
    ...;
};
size_t phd_ctx_finding_count(const phd_ctx *ctx);
const struct phd_finding *phd_ctx_finding(const phd_ctx *ctx, size_t i);

struct phd_check_result {
    const char *name;
    int status;
    int required;
    long long ms;
    const char *message;
    ...;
};
size_t phd_ctx_check_count(const phd_ctx *ctx);
const struct phd_check_result *phd_ctx_check(const phd_ctx *ctx, size_t i);

struct phd_plugin_info {
    const char *name;
    const char *version;
    const char *path;
    unsigned abi_major, abi_minor;
    const char *provides;
    ...;
};
size_t phd_ctx_plugin_count(const phd_ctx *ctx);
const struct phd_plugin_info *phd_ctx_plugin(const phd_ctx *ctx, size_t i);
int phd_exit_code(const phd_ctx *ctx, int rc);

/* plugin.h */
typedef void (*phd_destroy_fn)(void *userdata);
int phd_ctx_add_plugin(phd_plugin **out, phd_ctx *ctx, const char *name,
                       const char *version);
void phd_log(phd_ctx *ctx, int level, const char *fmt, ...);
int phd_set_error(phd_ctx *ctx, int code, const char *fmt, ...);

typedef int (*phd_secret_provider_fn)(phd_ctx *ctx, const phd_node *entry,
                                      phd_secret_sink *sink, void *userdata);
int phd_register_secret_provider(phd_plugin *p, const char *name,
                                 phd_secret_provider_fn fn, void *userdata,
                                 phd_destroy_fn destroy);
int phd_secret_add(phd_secret_sink *sink, const char *secret_name, const char *key,
                   const void *value, size_t len, const phd_node *where);
int phd_secret_set_type(phd_secret_sink *sink, const char *secret_name, const char *type);
struct phd_secret_kv {
    const char *key;
    const unsigned char *value;
    size_t len;
    ...;
};
struct phd_secret_view {
    const char *name;
    const char *namespace_;
    const char *type;
    const char *origin;
    size_t nkeys;
    const struct phd_secret_kv *kv;
    ...;
};
size_t phd_secret_count(const phd_ctx *ctx);
const struct phd_secret_view *phd_secret_at(const phd_ctx *ctx, size_t i);
int phd_secret_get(const phd_ctx *ctx, const char *secret_name, const char *key,
                   const unsigned char **value, size_t *len);
int phd_redact_add(phd_ctx *ctx, const void *value, size_t len);
char *phd_redact(const phd_ctx *ctx, const char *s);

typedef int (*phd_check_fn)(phd_check *chk, void *userdata);
int phd_register_check(phd_plugin *p, const char *name, phd_check_fn fn, void *userdata,
                       phd_destroy_fn destroy);
phd_ctx *phd_check_ctx(phd_check *chk);
const phd_node *phd_check_config(phd_check *chk);
long long phd_check_remaining_ms(phd_check *chk);
void phd_check_summary(phd_check *chk, const char *fmt, ...);
void phd_check_note(phd_check *chk, int severity, const char *fmt, ...);

typedef int (*phd_validator_fn)(phd_validation *v, void *userdata);
int phd_register_validator(phd_plugin *p, const char *name, int phase,
                           phd_validator_fn fn, void *userdata, phd_destroy_fn destroy);
phd_ctx *phd_validation_ctx(phd_validation *v);
int phd_validation_phase(phd_validation *v);
size_t phd_validation_doc_count(phd_validation *v);
const phd_node *phd_validation_doc(phd_validation *v, size_t i);
int phd_validation_report(phd_validation *v, const char *rule, int default_sev,
                          const char *object, const phd_node *where,
                          const char *values_key, const char *fmt, ...);

const char *phd_rendered(const phd_ctx *ctx, size_t *len);
int phd_ctx_dry_run(const phd_ctx *ctx);
unsigned phd_ctx_run_phases(const phd_ctx *ctx);
int phd_run_action(phd_ctx *ctx, const char *name, unsigned flags);

typedef int (*phd_hook_fn)(phd_ctx *ctx, int phase, int when, int outcome, void *userdata);
int phd_register_hook(phd_plugin *p, int phase, int when, phd_hook_fn fn, void *userdata,
                      phd_destroy_fn destroy);

void free(void *ptr);

/* Defined in the preamble below. */
int phd_py_run(phd_ctx *ctx, unsigned mask);
int phd_py_run_action(phd_ctx *ctx, const char *name, unsigned flags);
int phd_py_init(void);

/* The Python side of every callback (defined with @ffi.def_extern). */
extern "Python" void _phd_py_log(int, const char *, void *);
extern "Python" void _phd_py_event(const struct phd_event *, void *);
extern "Python" int _phd_py_hook(phd_ctx *, int, int, int, void *);
extern "Python" int _phd_py_provider(phd_ctx *, const phd_node *, phd_secret_sink *, void *);
extern "Python" int _phd_py_check(phd_check *, void *);
extern "Python" int _phd_py_validator(phd_validation *, void *);
"""


def _pkg_config_flags():
    """(cflags, libs) as argument lists: the environment, else pkg-config."""
    cflags = os.environ.get("PHDEPLOY_CFLAGS")
    libs = os.environ.get("PHDEPLOY_LIBS")
    if cflags is not None and libs is not None:
        return shlex.split(cflags), shlex.split(libs)
    pkg_config = os.environ.get("PKG_CONFIG", "pkg-config")
    try:
        out = subprocess.run([pkg_config, "--cflags", "--libs", "libphdeploy"],
                             check=True, capture_output=True, text=True).stdout
        cf = subprocess.run([pkg_config, "--cflags", "libphdeploy"],
                            check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        sys.exit("phdeploy: cannot find libphdeploy with pkg-config (install libphdeploy, "
                 "or set PKG_CONFIG_PATH, or PHDEPLOY_CFLAGS and PHDEPLOY_LIBS): "
                 + detail.strip())
    cflags = shlex.split(cf)
    libs = [a for a in shlex.split(out) if a not in cflags]
    return cflags, libs


def _pkg_config_libdir():
    """pkg-config's libdir of libphdeploy where it will be at run time:
    pkgconf prefixes PKG_CONFIG_SYSROOT_DIR, a staging directory."""
    pkg_config = os.environ.get("PKG_CONFIG", "pkg-config")
    try:
        libdir = subprocess.run([pkg_config, "--variable=libdir", "libphdeploy"], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    sysroot = os.environ.get("PKG_CONFIG_SYSROOT_DIR", "").rstrip("/")
    if sysroot and libdir.startswith(sysroot + "/"):
        libdir = libdir[len(sysroot):]
    return libdir or None


def _default_libdirs():
    """Directories the dynamic loader searches anyway: no RUNPATH for them."""
    dirs = {"/lib", "/usr/lib", "/lib64", "/usr/lib64"}
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        dirs |= {"/lib/" + multiarch, "/usr/lib/" + multiarch}
    return dirs


def _runtime_dirs(library_dirs):
    """The RUNPATH of the extension (see the module's docstring)."""
    if "PHDEPLOY_RPATH" in os.environ:
        return [d for d in os.environ["PHDEPLOY_RPATH"].split(":") if d]
    if "PHDEPLOY_LIBS" in os.environ and "PHDEPLOY_CFLAGS" in os.environ:
        dirs = library_dirs
    else:
        libdir = _pkg_config_libdir()
        dirs = [libdir] if libdir else library_dirs
    skip = _default_libdirs()
    return [os.path.abspath(d) for d in dirs if os.path.normpath(d) not in skip]


def _source_kwargs():
    cflags, libs = _pkg_config_flags()
    kw = {"include_dirs": [], "library_dirs": [], "libraries": [],
          "extra_compile_args": [], "extra_link_args": []}
    for a in cflags:
        if a.startswith("-I"):
            kw["include_dirs"].append(a[2:])
        else:
            kw["extra_compile_args"].append(a)
    for a in libs:
        if a.startswith("-L"):
            kw["library_dirs"].append(a[2:])
        elif a.startswith("-l"):
            kw["libraries"].append(a[2:])
        else:
            kw["extra_link_args"].append(a)
    if "phdeploy" not in kw["libraries"]:
        kw["libraries"].append("phdeploy")
    kw["runtime_library_dirs"] = _runtime_dirs(kw["library_dirs"])
    return kw


# The library forks a child per preflight check, and Python checks run in
# those children.  phd_py_run() makes such a fork behave like os.fork(): the
# forking thread takes the GIL and Python's before/after-fork handling runs,
# so a child never waits for a GIL that a thread absent from it held at the
# fork.  Only forks by the thread inside phd_py_run() while it does not hold
# the GIL (the library's own, not os.fork() from a callback) are handled;
# posix_spawn() runs no fork handlers.  (Not the limited API: PyGILState_Check.)
PREAMBLE = r"""
#include <pthread.h>
#include <stdlib.h>
#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

static __thread int phd_py_running;
static __thread int phd_py_fork_ours;
static __thread PyGILState_STATE phd_py_gil;

static void phd_py_prepare(void)
{
    phd_py_fork_ours = phd_py_running > 0 && !PyGILState_Check();
    if (phd_py_fork_ours) {
        phd_py_gil = PyGILState_Ensure();
        PyOS_BeforeFork();
    }
}

static void phd_py_parent(void)
{
    if (phd_py_fork_ours) {
        PyOS_AfterFork_Parent();
        PyGILState_Release(phd_py_gil);
    }
}

static void phd_py_child(void)
{
    if (phd_py_fork_ours) {
        PyOS_AfterFork_Child();
        PyGILState_Release(phd_py_gil);
    }
}

static int phd_py_init(void)
{
    static int done;
    if (done)
        return 0;
    done = 1;
    return pthread_atfork(phd_py_prepare, phd_py_parent, phd_py_child);
}

static int phd_py_run(phd_ctx *ctx, unsigned mask)
{
    int rc;
    phd_py_running++;
    rc = phd_run(ctx, mask);
    phd_py_running--;
    return rc;
}

/* An action forks too (its kubectl): the same care as phd_py_run. */
static int phd_py_run_action(phd_ctx *ctx, const char *name, unsigned flags)
{
    int rc;
    phd_py_running++;
    rc = phd_run_action(ctx, name, flags);
    phd_py_running--;
    return rc;
}
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
_kw = _source_kwargs()
_kw["define_macros"] = [("_CFFI_NO_LIMITED_API", None)]
ffibuilder.set_source("phdeploy._capi", PREAMBLE, py_limited_api=False, **_kw)

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_capi.py OUTDIR")
    ffibuilder.compile(tmpdir=sys.argv[1], verbose=bool(os.environ.get("V")))

"""Deployment: one libphdeploy context, its runs, and the Python callables
registered into it as hooks, secret providers, checks and validators."""
import json
import logging
import os
import sys
import weakref

from ._capi import ffi, lib
from .errors import Error, InvalidArgumentError, NotApplicable, error_class
from .model import (PHASES, WHEN, CheckResult, Event, Finding, Node, PhaseResult, PluginInfo,
                    Result, SecretInfo, _str, phase_index, phase_name, severity_index,
                    severity_name, status_name)

# forks made by the library during a run hold the GIL (see build_capi.py)
if lib.phd_py_init() != 0:
    raise ImportError("phdeploy: pthread_atfork failed")

_LOG_LEVELS = {lib.PHD_LOG_ERROR: logging.ERROR, lib.PHD_LOG_WARN: logging.WARNING,
               lib.PHD_LOG_INFO: logging.INFO, lib.PHD_LOG_DEBUG: logging.DEBUG}


def _b(s):
    """str/PathLike → bytes for C; None stays NULL."""
    if s is None:
        return ffi.NULL
    return os.fsencode(s)


def _cstr(s):
    """A char[] for the "%s" argument of the library's printf-like calls."""
    return ffi.new("char[]", str(s).encode("utf-8", "replace"))


class _Registration:
    """What a C callback's userdata handle points at.  It holds the
    Deployment weakly, so registering a callable makes no cycle."""
    __slots__ = ("fn", "deployment", "kind", "name", "__weakref__")

    def __init__(self, fn, deployment, kind, name):
        self.fn = fn
        self.deployment = weakref.ref(deployment)
        self.kind = kind
        self.name = name


class HookCall:
    """What a hook callable receives: the phase, when (pre, post, fail),
    the phase's outcome (0, or its PHD_E* code for fail hooks) and the
    Deployment.  Raise to fail the hook; a failing pre hook stops the run."""
    __slots__ = ("deployment", "phase", "when", "outcome")

    def __init__(self, deployment, phase, when, outcome):
        self.deployment = deployment
        self.phase = phase
        self.when = when
        self.outcome = outcome

    @property
    def error(self):
        """The exception class of the outcome, or None when it is 0."""
        return error_class(self.outcome) if self.outcome else None

    def __repr__(self):
        return "<HookCall %s.%s outcome=%d>" % (self.phase, self.when, self.outcome)


class SecretSink:
    """Where a secret provider written in Python adds its Secrets.  Valid
    during the provider call only."""
    __slots__ = ("_ptr", "_owner")

    def __init__(self, ptr, owner):
        self._ptr = ptr
        self._owner = owner

    def _p(self):
        if self._ptr is None:
            raise InvalidArgumentError("a SecretSink is only valid during the provider call")
        return self._ptr

    def add(self, secret, key, value, where=None):
        """Add key=value (bytes or str) to the Secret named secret.  The
        library copies the value into wiped memory and masks it from then
        on in every log line, event and child output.  where: the Node it
        came from, for messages."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        buf = ffi.from_buffer(value)
        rc = lib.phd_secret_add(self._p(), _b(secret), _b(key), buf, len(value),
                                where._ptr if where is not None else ffi.NULL)
        self._owner._raise_if(rc)

    def set_type(self, secret, type_):
        """The Secret's type ("Opaque" by default)."""
        self._owner._raise_if(lib.phd_secret_set_type(self._p(), _b(secret), _b(type_)))


class _CallArg:
    """A library object lent to a Python callable for the call's duration."""
    __slots__ = ("_ptr", "deployment", "name")

    def __init__(self, ptr, deployment, name):
        self._ptr = ptr
        self.deployment = deployment
        self.name = name


class Check(_CallArg):
    """What a check callable receives.  It runs in a forked child with a
    deadline: report with summary() and note(); return normally for ok,
    raise NotApplicable when there is nothing to check, raise anything
    else (or note an error) to fail."""
    __slots__ = ()

    @property
    def config(self):
        """checks.<name> from the config, a Node or None."""
        return Node.wrap(lib.phd_check_config(self._ptr), self.deployment)

    @property
    def remaining_ms(self):
        """Milliseconds left before the check is killed."""
        return lib.phd_check_remaining_ms(self._ptr)

    def summary(self, text):
        """The one-line summary shown for the check (last call wins)."""
        lib.phd_check_summary(self._ptr, b"%s", _cstr(text))

    def note(self, severity, text):
        """A detail line (info, warn, error); an error fails the check."""
        lib.phd_check_note(self._ptr, severity_index(severity), b"%s", _cstr(text))


class Validation(_CallArg):
    """What a validator callable receives: the phase, the documents under
    validation (render: manifests, verify: live objects, validate: none —
    read deployment.values) and report()."""
    __slots__ = ()

    @property
    def phase(self):
        return phase_name(lib.phd_validation_phase(self._ptr))

    @property
    def documents(self):
        n = lib.phd_validation_doc_count(self._ptr)
        return [Node(lib.phd_validation_doc(self._ptr, i), self.deployment) for i in range(n)]

    def report(self, rule, severity, message, object=None, where=None, values_key=None):
        """Report a finding; `rules:` in the config may change its severity.
        Returns the effective severity ('off' when the rule is off)."""
        sev = lib.phd_validation_report(
            self._ptr, _b(rule), severity_index(severity), _b(object or "values"),
            where._ptr if where is not None else ffi.NULL, _b(values_key), b"%s",
            _cstr(message))
        return severity_name(sev)


def _flush_std():
    # a forked check child must not write what the parent buffered
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _result_code(d, ctx, fn, *args):
    """Call a Python callable for the library and turn its outcome into a
    code: 0, the code of a phdeploy.Error, PHD_EFAILED for any other
    exception (kept to chain onto the run's exception), PHD_EINTR for
    KeyboardInterrupt/SystemExit (the run is interrupted)."""
    try:
        r = fn(*args)
    except NotApplicable as e:
        if e.message and e.message != "not applicable":
            lib.phd_set_error(ctx, e.code, b"%s", _cstr(e.message))
        return lib.PHD_EIGNORE
    except Error as e:
        d._callback_errors.append(e)
        return lib.phd_set_error(ctx, e.code, b"%s", _cstr(e.message))
    except Exception as e:
        d._callback_errors.append(e)
        return lib.phd_set_error(ctx, lib.PHD_EFAILED, b"%s", _cstr("%s: %s" % (
            type(e).__name__, e)))
    except BaseException as e:
        d._callback_errors.append(e)
        lib.phd_ctx_interrupt(ctx)
        return lib.phd_set_error(ctx, lib.PHD_EINTR, b"%s", _cstr("interrupted: %s" % (
            type(e).__name__,)))
    if r is False:
        return lib.phd_set_error(ctx, lib.PHD_EFAILED, b"%s",
                                 _cstr("%s returned False" % getattr(fn, "__name__", "callable")))
    return 0


def _live(ud):
    reg = ffi.from_handle(ud)
    d = reg.deployment()
    if d is None or d._ctx is None:
        return reg, None
    return reg, d


@ffi.def_extern()
def _phd_py_log(level, msg, ud):
    d = ffi.from_handle(ud)()
    if d is not None:
        d._logger.log(_LOG_LEVELS.get(level, logging.DEBUG), "%s", _str(msg))


@ffi.def_extern()
def _phd_py_event(ev, ud):
    d = ffi.from_handle(ud)()
    if d is None or d._on_event is None:
        return
    try:
        d._on_event(Event.from_c(ev))
    except BaseException as e:  # stop the run; raised again when phd_run returns
        d._callback_errors.append(e)
        d._event_error = d._event_error or e
        lib.phd_ctx_interrupt(d._ctx)


@ffi.def_extern(error=lib.PHD_EINTERNAL)
def _phd_py_hook(ctx, phase, when, outcome, ud):
    reg, d = _live(ud)
    if d is None:
        return lib.PHD_EINTERNAL
    rc = _result_code(d, ctx, reg.fn, HookCall(d, phase_name(phase), WHEN[when], outcome))
    return 0 if rc == lib.PHD_EIGNORE else rc


@ffi.def_extern(error=lib.PHD_EINTERNAL)
def _phd_py_provider(ctx, entry, sink, ud):
    reg, d = _live(ud)
    if d is None:
        return lib.PHD_EINTERNAL
    s = SecretSink(sink, d)
    try:
        rc = _result_code(d, ctx, reg.fn, Node(entry, d), s)
    finally:
        s._ptr = None
    return 0 if rc == lib.PHD_EIGNORE else rc


@ffi.def_extern(error=lib.PHD_EINTERNAL)
def _phd_py_check(chk, ud):
    # In the forked child: whatever happens, report through the pipe and
    # return; the library ends the child with _exit().
    reg, d = _live(ud)
    if d is None:
        return lib.PHD_EINTERNAL
    check = Check(chk, d, reg.name)
    try:
        try:
            r = reg.fn(check)
        except NotApplicable as e:
            if e.message and e.message != "not applicable":
                check.summary(e.message)
            return lib.PHD_EIGNORE
        except Error as e:
            check.note("error", e.message)
            return e.code
        except BaseException as e:
            check.note("error", "%s: %s" % (type(e).__name__, e))
            return lib.PHD_EFAILED
        if r is False:
            check.note("error", "the check returned False")
            return lib.PHD_EFAILED
        if isinstance(r, str):
            check.summary(r)
        return 0
    finally:
        _flush_std()


@ffi.def_extern(error=lib.PHD_EINTERNAL)
def _phd_py_validator(v, ud):
    reg, d = _live(ud)
    if d is None:
        return lib.PHD_EINTERNAL
    return _result_code(d, lib.phd_validation_ctx(v), reg.fn, Validation(v, d, reg.name))


class Deployment:
    """A libphdeploy context: the config and values, the plugins, the runs.

        with phdeploy.Deployment(config="phdeploy.yaml") as d:
            d.validate()
            print(d.findings)

    config: the phdeploy.yaml to read (None: ./phdeploy.yaml if it exists;
    no_config=True reads none); values: values files (they replace the
    config's list); release, namespace, chart, chart_version, helm,
    kubectl, kube_context, state_dir, plugin_path (extra ':'-separated
    plugin directories): as the phdeploy(1) options.  dry_run/plan: show,
    change nothing.  journal/lock: False leaves the journal alone / takes
    no release lock.  on_event: a callable receiving every Event.  logger:
    where the library's (redacted) log lines go (logging "phdeploy").

    The context is freed by close(), at the end of a with block, or when
    the object is collected; the Python callables registered into it stay
    referenced until then.  Use it from one thread.
    """

    def __init__(self, config=None, values=None, release=None, namespace=None, *,
                 chart=None, chart_version=None, helm=None, kubectl=None, kube_context=None,
                 state_dir=None, plugin_path=None, no_config=False, dry_run=False, plan=False,
                 journal=True, lock=True, verbosity=0, on_event=None, logger=None,
                 plugin_name="python"):
        self._ctx = None
        self._handles = []
        self._plugin = None
        self._plugin_name = plugin_name
        self._callback_errors = []
        self._event_error = None
        self._on_event = on_event
        self._logger = logger if logger is not None else logging.getLogger("phdeploy")
        if isinstance(values, (str, bytes, os.PathLike)):
            values = [values]
        values = [_b(v) for v in (values or [])]
        keep = [ffi.new("char[]", v) for v in values]
        varr = ffi.new("const char *[]", keep + [ffi.NULL])
        flags = 0
        if no_config:
            flags |= lib.PHD_OPT_NO_CONFIG
        if dry_run:
            flags |= lib.PHD_OPT_DRY_RUN
        if plan:
            flags |= lib.PHD_OPT_PLAN
        if not journal:
            flags |= lib.PHD_OPT_NO_JOURNAL
        if not lock:
            flags |= lib.PHD_OPT_NO_LOCK
        strs = {}

        def s(name, v):
            strs[name] = ffi.new("char[]", _b(v)) if v is not None else ffi.NULL
            return strs[name]

        o = ffi.new("struct phd_options *")
        o.version = lib.PHD_OPTIONS_VERSION
        o.flags = flags
        o.config_path = s("config", config)
        o.values = varr if values else ffi.NULL
        o.nvalues = len(values)
        o.release = s("release", release)
        o.namespace_ = s("namespace", namespace)
        o.chart = s("chart", chart)
        o.chart_version = s("chart_version", chart_version)
        o.helm_path = s("helm", helm)
        o.kubectl_path = s("kubectl", kubectl)
        o.kube_context = s("kube_context", kube_context)
        o.state_dir = s("state_dir", state_dir)
        o.plugin_path = s("plugin_path", plugin_path)
        o.verbosity = int(verbosity)
        out = ffi.new("phd_ctx **")
        rc = lib.phd_ctx_new(out, o)
        if rc:
            msg = _str(lib.phd_ctx_errmsg(out[0])) if out[0] != ffi.NULL else None
            if out[0] != ffi.NULL:
                lib.phd_ctx_free(out[0])
            raise error_class(rc)(msg, code=rc)
        self._ctx = out[0]
        # the Deployment is reached weakly from C: no cycle through the handle
        self._self_ref = weakref.ref(self)
        self._self_handle = ffi.new_handle(self._self_ref)
        lib.phd_ctx_set_log(self._ctx, lib._phd_py_log, self._self_handle)
        if on_event is not None:
            lib.phd_ctx_set_event_cb(self._ctx, lib._phd_py_event, self._self_handle)

    # ---- lifetime -------------------------------------------------------
    def close(self):
        """Free the context now (idempotent): every registration's handle is
        released after the library has let go of it."""
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            lib.phd_ctx_free(ctx)
        self._handles = []
        self._plugin = None

    @property
    def closed(self):
        return self._ctx is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _check_open(self):
        if self._ctx is None:
            raise InvalidArgumentError("the deployment is closed")
        return self._ctx

    def _raise_if(self, rc):
        if rc:
            raise error_class(rc)(_str(lib.phd_ctx_errmsg(self._ctx)), code=rc)

    # ---- loading and reading --------------------------------------------
    def load(self):
        """Read the config and values files and load the plugins (run() does
        it when needed).  Raises ParseError, NotFoundError, PluginError..."""
        ctx = self._check_open()
        rc = lib.phd_ctx_load(ctx)
        if rc:
            raise error_class(rc)(_str(lib.phd_ctx_errmsg(ctx)), code=rc,
                                  phase=None if rc in (lib.PHD_EPLUGIN, lib.PHD_EABI)
                                  else "validate")
        return self

    @property
    def config(self):
        """The config tree (a Node), None when no file was read."""
        self.load()
        return Node.wrap(lib.phd_ctx_config(self._ctx), self)

    @property
    def values(self):
        """The merged values (a Node; later files override earlier ones)."""
        self.load()
        return Node.wrap(lib.phd_ctx_values(self._ctx), self)

    @property
    def release(self):
        self.load()
        return _str(lib.phd_ctx_release(self._ctx))

    @property
    def namespace(self):
        self.load()
        return _str(lib.phd_ctx_namespace(self._ctx))

    @property
    def chart(self):
        self.load()
        return _str(lib.phd_ctx_chart(self._ctx))

    @property
    def dry_run(self):
        return bool(lib.phd_ctx_dry_run(self._check_open()))

    @property
    def plugins(self):
        """The loaded plugins, the Python one included."""
        self.load()
        out = []
        for i in range(lib.phd_ctx_plugin_count(self._ctx)):
            p = lib.phd_ctx_plugin(self._ctx, i)
            out.append(PluginInfo(_str(p.name), _str(p.version), _str(p.path),
                                  (p.abi_major, p.abi_minor),
                                  tuple((_str(p.provides) or "").split())))
        return out

    # ---- running ----------------------------------------------------------
    def run(self, *phases):
        """Run these phases (names or indexes) in pipeline order; the phases
        they need run read-only.  Returns a Result; raises the Error class
        of the failure, with .phase, .exit_code and .result set."""
        ctx = self._check_open()
        if len(phases) == 1 and isinstance(phases[0], (list, tuple, set, frozenset)):
            phases = tuple(phases[0])
        if not phases:
            raise InvalidArgumentError("run() needs at least one phase (%s)" % ", ".join(PHASES))
        mask = 0
        for p in phases:
            mask |= 1 << phase_index(p)
        rc = self._call(lib.phd_py_run, ctx, mask)
        result = self.result(rc)
        self._raise_after_call(rc, phase=result.failed_phase, exit_code=result.exit_code,
                               result=result)
        return result

    def _call(self, fn, *args):
        """A run of the library that calls back into Python."""
        self._callback_errors = []
        self._event_error = None
        _flush_std()
        return fn(*args)

    def _raise_after_call(self, rc, **err_attrs):
        """What a callback raised first, then the run's own failure, chained
        to the callback's exception."""
        event_error, self._event_error = self._event_error, None
        if event_error is not None:
            raise event_error
        for e in self._callback_errors:
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise e
        if rc:
            cause = self._callback_errors[0] if self._callback_errors else None
            raise error_class(rc)(_str(lib.phd_ctx_errmsg(self._ctx)), code=rc,
                                  **err_attrs) from cause

    def validate(self):
        return self.run("validate")

    def secrets(self):
        return self.run("secrets")

    def preflight(self):
        return self.run("preflight")

    def repo(self):
        return self.run("repo")

    def render(self):
        """Render the chart and check it; the manifests are in .rendered."""
        return self.run("render")

    def deploy(self):
        """The whole pipeline, as `phdeploy deploy` (validate to verify)."""
        return self.run(PHASES[:7])

    def verify(self):
        return self.run("verify")

    def rollback(self):
        return self.run("rollback")

    def run_action(self, name, undo=False):
        """Run the action a plugin registered as name (the helm plugin's
        "migrate-release" is `phdeploy migrate-release`): config and values
        loaded, the release lock taken unless a dry run, one journal line.
        undo=True asks it to put back what it changed last; under
        dry_run=True it only says what it would change.  Raises the Error
        class of the failure (NoProviderError when no plugin has it)."""
        ctx = self._check_open()
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("run_action() needs an action name")
        rc = self._call(lib.phd_py_run_action, ctx, name.encode(),
                        lib.PHD_ACTION_UNDO if undo else 0)
        self._raise_after_call(rc)

    def status(self):
        """The release's state through the helm plugin, as parsed JSON."""
        ctx = self._check_open()
        out = ffi.new("char **")
        rc = lib.phd_status(ctx, out)
        try:
            self._raise_if(rc)
            return json.loads(_str(out[0]) or "null")
        finally:
            if out[0] != ffi.NULL:
                lib.free(out[0])

    def interrupt(self):
        """Ask a running run() to stop (safe from another thread or a signal
        handler): children get SIGINT, the run raises InterruptedRunError."""
        if self._ctx is not None:
            lib.phd_ctx_interrupt(self._ctx)

    # ---- results ------------------------------------------------------------
    def result(self, code=0):
        """The results the last run left (run() returns the same)."""
        ctx = self._check_open()
        phases = {}
        for i, name in enumerate(PHASES):
            phases[name] = PhaseResult(name, status_name(lib.phd_ctx_phase_status(ctx, i)),
                                       lib.phd_ctx_phase_ms(ctx, i))
        return Result(code=code, exit_code=lib.phd_exit_code(ctx, code),
                      failed_phase=phase_name(lib.phd_ctx_failed_phase(ctx)), phases=phases,
                      findings=tuple(self.findings), checks=tuple(self.checks))

    @property
    def findings(self):
        ctx = self._check_open()
        out = []
        for i in range(lib.phd_ctx_finding_count(ctx)):
            f = lib.phd_ctx_finding(ctx, i)
            out.append(Finding(_str(f.rule), severity_name(f.severity), phase_name(f.phase),
                               _str(f.object), _str(f.message), _str(f.values_key),
                               _str(f.file), f.line, f.column))
        return out

    @property
    def checks(self):
        ctx = self._check_open()
        out = []
        for i in range(lib.phd_ctx_check_count(ctx)):
            c = lib.phd_ctx_check(ctx, i)
            out.append(CheckResult(_str(c.name), status_name(c.status), bool(c.required), c.ms,
                                   _str(c.message)))
        return out

    def phase_status(self, phase):
        return status_name(lib.phd_ctx_phase_status(self._check_open(), phase_index(phase)))

    @property
    def failed_phase(self):
        return phase_name(lib.phd_ctx_failed_phase(self._check_open()))

    @property
    def timed_out(self):
        return bool(lib.phd_ctx_timed_out(self._check_open()))

    @property
    def rendered(self):
        """The rendered manifests of the last render (str), or None."""
        n = ffi.new("size_t *")
        p = lib.phd_rendered(self._check_open(), n)
        return None if p == ffi.NULL else ffi.unpack(p, n[0]).decode("utf-8", "replace")

    @property
    def secrets_info(self):
        """The Secrets the secrets phase resolved: names and keys only."""
        ctx = self._check_open()
        out = []
        for i in range(lib.phd_secret_count(ctx)):
            v = lib.phd_secret_at(ctx, i)
            out.append(SecretInfo(_str(v.name), _str(v.namespace_), _str(v.type),
                                  _str(v.origin),
                                  tuple(_str(v.kv[k].key) for k in range(v.nkeys))))
        return out

    def secret(self, name, key):
        """One resolved secret value as bytes (after the secrets phase, or in
        a check).  NotFoundError when the Secret or key is unknown."""
        ctx = self._check_open()
        val = ffi.new("const unsigned char **")
        n = ffi.new("size_t *")
        rc = lib.phd_secret_get(ctx, _b(name), _b(key), val, n)
        if rc:
            raise error_class(rc)("secret %s/%s: %s" % (name, key, "not found"), code=rc)
        return ffi.unpack(ffi.cast("const char *", val[0]), n[0])

    def redact(self, text):
        """text with every known secret value masked."""
        p = lib.phd_redact(self._check_open(), _b(text))
        if p == ffi.NULL:
            raise error_class(lib.PHD_ENOMEM)(code=lib.PHD_ENOMEM)
        try:
            return _str(ffi.cast("const char *", p))
        finally:
            lib.free(p)

    def redact_add(self, value):
        """Mask value (bytes or str) from now on, like a secret."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        self._raise_if(lib.phd_redact_add(self._check_open(), ffi.from_buffer(value),
                                          len(value)))

    def log(self, level, message):
        """Log through the library (redacted, then to the logger)."""
        levels = {"error": lib.PHD_LOG_ERROR, "warn": lib.PHD_LOG_WARN,
                  "info": lib.PHD_LOG_INFO, "debug": lib.PHD_LOG_DEBUG}
        if level not in levels:
            raise InvalidArgumentError("log level %r (error, warn, info, debug)" % (level,))
        lib.phd_log(self._check_open(), levels[level], b"%s", _cstr(message))

    # ---- registering Python callables --------------------------------------
    def _in_process_plugin(self):
        ctx = self._check_open()
        if self._plugin is None:
            out = ffi.new("phd_plugin **")
            self._raise_if(lib.phd_ctx_add_plugin(out, ctx, _b(self._plugin_name), b"py"))
            self._plugin = out[0]
        return self._plugin

    def _register(self, kind, name, fn, call):
        if not callable(fn):
            raise InvalidArgumentError("%s %s: %r is not callable" % (kind, name, fn))
        plugin = self._in_process_plugin()
        reg = _Registration(fn, self, kind, name)
        handle = ffi.new_handle(reg)
        # no destructor: the handle (and so the callable) lives until close()
        self._raise_if(call(plugin, handle))
        self._handles.append((reg, handle))
        return fn

    @staticmethod
    def _maybe_decorator(fn, register):
        if fn is None:
            return register
        return register(fn)

    def hook(self, phase, when, fn=None):
        """Run fn(HookCall) before (pre), after (post) or after the failure
        (fail) of a phase.  A pre hook that raises stops the run with its
        message.  Usable as a decorator: @d.hook("deploy", "pre")."""
        p = phase_index(phase)
        if when not in WHEN:
            raise InvalidArgumentError("hook when %r (pre, post, fail)" % (when,))
        w = WHEN.index(when)
        return self._maybe_decorator(fn, lambda f: self._register(
            "hook", "%s.%s" % (PHASES[p], when), f,
            lambda pl, h: lib.phd_register_hook(pl, p, w, lib._phd_py_hook, h, ffi.NULL)))

    def secret_provider(self, name, fn=None):
        """fn(entry: Node, sink: SecretSink) provides the Secrets of the
        `secrets:` entries with `provider: name`."""
        return self._maybe_decorator(fn, lambda f: self._register(
            "secret provider", name, f,
            lambda pl, h: lib.phd_register_secret_provider(pl, _b(name), lib._phd_py_provider,
                                                           h, ffi.NULL)))

    def check(self, name, fn=None):
        """fn(Check) is the preflight check `name` (config: checks.<name>).
        It runs in a forked child of this process with the check's deadline."""
        return self._maybe_decorator(fn, lambda f: self._register(
            "check", name, f,
            lambda pl, h: lib.phd_register_check(pl, _b(name), lib._phd_py_check, h,
                                                 ffi.NULL)))

    def validator(self, name, phase="validate", fn=None):
        """fn(Validation) runs in validate (values), render (manifests) or
        verify (live objects) and reports findings."""
        p = phase_index(phase)
        return self._maybe_decorator(fn, lambda f: self._register(
            "validator", name, f,
            lambda pl, h: lib.phd_register_validator(pl, _b(name), p, lib._phd_py_validator,
                                                     h, ffi.NULL)))

    def __repr__(self):
        if self._ctx is None:
            return "<phdeploy.Deployment (closed)>"
        return "<phdeploy.Deployment release=%s namespace=%s>" % (
            _str(lib.phd_ctx_release(self._ctx)), _str(lib.phd_ctx_namespace(self._ctx)))


"""Plain Python objects for what the library reports, and Node, a view of
the library's read-only YAML trees."""
from dataclasses import dataclass, field
from typing import Optional, Tuple

from ._capi import ffi, lib
from .errors import InvalidArgumentError, error_class

PHASES = ("validate", "secrets", "preflight", "repo", "render", "deploy", "verify", "rollback")
WHEN = ("pre", "post", "fail")
SEVERITIES = ("off", "info", "warn", "error")
EVENT_TYPES = {
    lib.PHD_EV_PHASE_START: "phase_start", lib.PHD_EV_PHASE_END: "phase_end",
    lib.PHD_EV_FINDING: "finding", lib.PHD_EV_CHECK: "check", lib.PHD_EV_HOOK: "hook",
    lib.PHD_EV_OUTPUT: "output", lib.PHD_EV_PROGRESS: "progress",
    lib.PHD_EV_COMMAND: "command", lib.PHD_EV_RUN_END: "run_end",
}


def _str(p):
    """A borrowed C string as str (None for NULL); copied at once."""
    return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


def phase_name(phase):
    return _str(lib.phd_phase_name(phase)) if phase >= 0 else None


def status_name(status):
    return _str(lib.phd_status_name(status))


def severity_name(sev):
    return _str(lib.phd_severity_name(sev))


def phase_index(phase):
    """A phase given by name (or index) as its index; InvalidArgumentError
    for anything else."""
    if isinstance(phase, int) and 0 <= phase < lib.PHD_PHASE_COUNT:
        return phase
    if isinstance(phase, str):
        i = lib.phd_phase_from_name(phase.encode())
        if i >= 0:
            return i
    raise InvalidArgumentError("unknown phase %r (one of: %s)" % (phase, ", ".join(PHASES)))


def severity_index(sev):
    if isinstance(sev, int) and lib.PHD_SEV_OFF <= sev <= lib.PHD_SEV_ERROR:
        return sev
    if sev in SEVERITIES:
        return SEVERITIES.index(sev)
    raise InvalidArgumentError("unknown severity %r (one of: %s)" % (sev, ", ".join(SEVERITIES)))


class Node:
    """A read-only node of a YAML tree the library loaded (config, values,
    a secrets entry, a rendered manifest).  It knows where it was read
    (file, line, column).  Scalars are text, as in the library: use
    as_bool(), as_int(), as_duration_ms() for typed reads.

    The tree belongs to the Deployment: a Node is valid while that is open
    (documents under validation: during the validator call only)."""

    __slots__ = ("_ptr", "_owner")
    _TYPES = {lib.PHD_NODE_NULL: "null", lib.PHD_NODE_SCALAR: "scalar",
              lib.PHD_NODE_SEQ: "seq", lib.PHD_NODE_MAP: "map"}

    def __init__(self, ptr, owner):
        self._ptr = ptr
        self._owner = owner

    @classmethod
    def wrap(cls, ptr, owner):
        return None if ptr == ffi.NULL else cls(ptr, owner)

    def _p(self):
        self._owner._check_open()
        return self._ptr

    @property
    def type(self):
        """'null', 'scalar', 'seq' or 'map'."""
        return self._TYPES.get(lib.phd_node_type(self._p()), "null")

    @property
    def text(self):
        """The scalar's text; None for other nodes."""
        return _str(lib.phd_node_str(self._p()))

    @property
    def file(self):
        return _str(lib.phd_node_file(self._p()))

    @property
    def line(self):
        return lib.phd_node_line(self._p())

    @property
    def column(self):
        return lib.phd_node_column(self._p())

    @property
    def where(self):
        """"file:line:column", for messages."""
        return "%s:%d:%d" % (self.file, self.line, self.column)

    def get(self, path, default=None):
        """The node at a dotted path ("externalKafka.brokers[0]"), or default."""
        n = lib.phd_node_get(self._p(), path.encode())
        return default if n == ffi.NULL else Node(n, self._owner)

    def __len__(self):
        return lib.phd_node_len(self._p())

    def __bool__(self):
        return True

    def keys(self):
        p = self._p()
        if lib.phd_node_type(p) != lib.PHD_NODE_MAP:
            return []
        return [_str(lib.phd_node_key_at(p, i)) for i in range(lib.phd_node_len(p))]

    def items(self):
        p = self._p()
        return [(k, Node(lib.phd_node_at(p, i), self._owner)) for i, k in enumerate(self.keys())]

    def __iter__(self):
        """Keys of a mapping, children of a sequence."""
        p = self._p()
        if lib.phd_node_type(p) == lib.PHD_NODE_MAP:
            return iter(self.keys())
        return iter([Node(lib.phd_node_at(p, i), self._owner)
                     for i in range(lib.phd_node_len(p))])

    def __getitem__(self, key):
        p = self._p()
        t = lib.phd_node_type(p)
        if isinstance(key, int) and t == lib.PHD_NODE_SEQ:
            n = lib.phd_node_len(p)
            if key < 0:
                key += n
            if 0 <= key < n:
                return Node(lib.phd_node_at(p, key), self._owner)
            raise IndexError(key)
        if isinstance(key, str) and t == lib.PHD_NODE_MAP:
            for i in range(lib.phd_node_len(p)):
                if _str(lib.phd_node_key_at(p, i)) == key:
                    return Node(lib.phd_node_at(p, i), self._owner)
        raise KeyError(key)

    def __contains__(self, key):
        return key in self.keys()

    def _typed(self, fn, ctype, what):
        out = ffi.new(ctype)
        rc = fn(self._p(), out)
        if rc:
            raise error_class(rc)("%s: %r is not %s" % (self.where, self.text, what), code=rc)
        return out[0]

    def as_bool(self):
        return bool(self._typed(lib.phd_node_bool, "int *", "a boolean"))

    def as_int(self):
        return int(self._typed(lib.phd_node_int, "long long *", "an integer"))

    def as_duration_ms(self):
        """"30m", "5s", "250ms", "1h" or a bare number of seconds, in ms."""
        return int(self._typed(lib.phd_node_duration_ms, "long long *",
                               "a duration (30m, 5s, 250ms)"))

    def to_python(self):
        """The subtree as dicts, lists, str and None (scalars stay text)."""
        t = self.type
        if t == "scalar":
            return self.text
        if t == "map":
            return {k: v.to_python() for k, v in self.items()}
        if t == "seq":
            return [v.to_python() for v in self]
        return None

    def __repr__(self):
        try:
            return "<phdeploy.Node %s at %s>" % (self.type, self.where)
        except Exception:  # a closed deployment
            return "<phdeploy.Node (closed)>"


@dataclass(frozen=True)
class Finding:
    """A rule's finding (HA rules, a check's notes, a Python validator)."""
    rule: str
    severity: str
    phase: Optional[str]
    object: str
    message: str
    values_key: Optional[str] = None
    file: Optional[str] = None
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class CheckResult:
    """The result of one preflight check."""
    name: str
    status: str          # ok, failed, skipped
    required: bool
    ms: int
    message: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    path: str
    abi: Tuple[int, int]
    provides: Tuple[str, ...]


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    status: str          # notrun, ok, failed, skipped
    ms: int


@dataclass(frozen=True)
class SecretInfo:
    """A Secret in the store: names only, never the values (Deployment.secret())."""
    name: str
    namespace: Optional[str]
    type: Optional[str]
    origin: Optional[str]
    keys: Tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A library event (strings already redacted)."""
    type: str
    phase: Optional[str]
    status: Optional[str]
    severity: Optional[str]
    ms: int
    name: Optional[str]
    object: Optional[str]
    message: Optional[str]
    file: Optional[str]
    line: int
    column: int
    values_key: Optional[str]
    code: int

    @classmethod
    def from_c(cls, ev):
        t = EVENT_TYPES.get(ev.type, "unknown")
        has_status = ev.type in (lib.PHD_EV_PHASE_END, lib.PHD_EV_CHECK, lib.PHD_EV_HOOK,
                                 lib.PHD_EV_RUN_END)
        has_sev = ev.type in (lib.PHD_EV_FINDING, lib.PHD_EV_CHECK)
        return cls(t, phase_name(ev.phase), status_name(ev.status) if has_status else None,
                   severity_name(ev.severity) if has_sev else None, ev.ms, _str(ev.name),
                   _str(ev.object), _str(ev.message), _str(ev.file), ev.line, ev.column,
                   _str(ev.values_key), ev.code)


@dataclass(frozen=True)
class Result:
    """What a run left behind: every phase's status, the findings, the
    check results, the code phd_run() returned and phdeploy(1)'s exit
    status for it."""
    code: int
    exit_code: int
    failed_phase: Optional[str]
    phases: dict = field(default_factory=dict)
    findings: Tuple[Finding, ...] = ()
    checks: Tuple[CheckResult, ...] = ()

    @property
    def ok(self):
        return self.code == 0

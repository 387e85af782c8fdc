"""phdeploy — Python binding of libphdeploy (cffi, API mode).

    import phdeploy

    with phdeploy.Deployment(config="phdeploy.yaml") as d:
        @d.hook("deploy", "pre")
        def change_window(call):
            if not allowed_now():
                raise phdeploy.PhaseFailedError("outside the change window")

        result = d.run("validate", "preflight")
        for f in result.findings:
            print(f.severity, f.rule, f.message)

Every exception derives from phdeploy.Error; each PHD_E* code has its own
class (PhaseFailedError, ParseError, LockedError...).  See README.md.
"""
from ._capi import ffi as _ffi, lib as _lib
from .deployment import Check, Deployment, HookCall, SecretSink, Validation
from .errors import *  # noqa: F401,F403  (the exception classes)
from .errors import ERRORS, Error, NotApplicable, error_class, strerror
from .model import (PHASES, CheckResult, Event, Finding, Node, PhaseResult, PluginInfo,
                    Result, SecretInfo)

__version__ = "0.3.0"

#: the plugin ABI this binding was compiled against
PLUGIN_ABI = (_lib.PHD_PLUGIN_ABI_MAJOR, _lib.PHD_PLUGIN_ABI_MINOR)


def library_version():
    """The version of the libphdeploy actually loaded."""
    return _ffi.string(_lib.phd_version()).decode()


__all__ = ["Deployment", "HookCall", "SecretSink", "Check", "Validation", "Node", "Event",
           "Finding", "CheckResult", "PluginInfo", "PhaseResult", "Result", "SecretInfo",
           "PHASES", "PLUGIN_ABI", "Error", "NotApplicable", "ERRORS", "error_class",
           "strerror", "library_version"] + [c.__name__ for c in ERRORS]

"""Exceptions: one class per PHD_E* code, all derived from phdeploy.Error.

A failed run raises the class of the code phd_run() returned, carrying the
library's detailed message (file:line:column, or the plugin and phase), the
phase that failed and the exit status phdeploy(1) would use.  A callback
written in Python may raise any of these to return that code to the
library; NotApplicable (PHD_EIGNORE) marks a check or validator as having
nothing to do.
"""
from ._capi import ffi, lib


def strerror(code):
    """The library's static text for a PHD_E* code."""
    return ffi.string(lib.phd_strerror(int(code))).decode("utf-8", "replace")


class Error(Exception):
    """Base class of every phdeploy exception.

    Attributes: code (the PHD_E* value), message (the detailed message),
    phase (name of the phase that failed, or None), exit_code (what
    phdeploy(1) would exit with, or None), result (the run's Result, when
    a run failed).
    """

    code = lib.PHD_EFAILED
    code_name = "PHD_EFAILED"

    def __init__(self, message="", *, code=None, phase=None, exit_code=None, result=None):
        if code is not None:
            self.code = int(code)
        self.message = str(message) if message else strerror(self.code)
        self.phase = phase
        self.exit_code = exit_code
        self.result = result
        super().__init__(self.message)


class InternalError(Error):
    """PHD_EINTERNAL: a bug or an impossible state."""
    code, code_name = lib.PHD_EINTERNAL, "PHD_EINTERNAL"


class OutOfMemoryError(Error):
    """PHD_ENOMEM: out of memory."""
    code, code_name = lib.PHD_ENOMEM, "PHD_ENOMEM"


class InvalidArgumentError(Error):
    """PHD_EINVAL: a bad argument or usage."""
    code, code_name = lib.PHD_EINVAL, "PHD_EINVAL"


class FileIOError(Error):
    """PHD_EIO: reading or writing a file failed."""
    code, code_name = lib.PHD_EIO, "PHD_EIO"


class ParseError(Error):
    """PHD_ESYNTAX: malformed YAML or JSON input."""
    code, code_name = lib.PHD_ESYNTAX, "PHD_ESYNTAX"


class WrongTypeError(Error):
    """PHD_ETYPE: a value of the wrong type."""
    code, code_name = lib.PHD_ETYPE, "PHD_ETYPE"


class NotFoundError(Error):
    """PHD_ENOTFOUND: a key, file, plugin or object is missing."""
    code, code_name = lib.PHD_ENOTFOUND, "PHD_ENOTFOUND"


class TooBigError(Error):
    """PHD_ETOOBIG: input over a size or depth limit."""
    code, code_name = lib.PHD_ETOOBIG, "PHD_ETOOBIG"


class PluginError(Error):
    """PHD_EPLUGIN: a plugin failed or answered nonsense."""
    code, code_name = lib.PHD_EPLUGIN, "PHD_EPLUGIN"


class ABIError(Error):
    """PHD_EABI: a plugin built for another ABI."""
    code, code_name = lib.PHD_EABI, "PHD_EABI"


class DeadlineError(Error):
    """PHD_ETIMEOUT: a deadline passed."""
    code, code_name = lib.PHD_ETIMEOUT, "PHD_ETIMEOUT"


class ChildFailedError(Error):
    """PHD_ECHILD: a child process failed."""
    code, code_name = lib.PHD_ECHILD, "PHD_ECHILD"


class InterruptedRunError(Error):
    """PHD_EINTR: interrupted (SIGINT/SIGTERM, Deployment.interrupt())."""
    code, code_name = lib.PHD_EINTR, "PHD_EINTR"


class LockedError(Error):
    """PHD_ELOCKED: another run holds the release lock."""
    code, code_name = lib.PHD_ELOCKED, "PHD_ELOCKED"


class PhaseFailedError(Error):
    """PHD_EFAILED: a phase failed (findings, checks, helm, a hook)."""
    code, code_name = lib.PHD_EFAILED, "PHD_EFAILED"


class NoProviderError(Error):
    """PHD_ENOPROVIDER: no plugin provides what a phase needs."""
    code, code_name = lib.PHD_ENOPROVIDER, "PHD_ENOPROVIDER"


class RolledBackError(Error):
    """PHD_EROLLEDBACK: a failure was followed by a rollback."""
    code, code_name = lib.PHD_EROLLEDBACK, "PHD_EROLLEDBACK"


class NotApplicable(Error):
    """PHD_EIGNORE: nothing to check here (like PAM_IGNORE).

    Raise it from a check or validator written in Python: the check is
    reported as skipped, with the message as its summary.
    """
    code, code_name = lib.PHD_EIGNORE, "PHD_EIGNORE"


class UnreachableError(Error):
    """PHD_EUNREACHABLE: the cluster could not be read; its state is unknown."""
    code, code_name = lib.PHD_EUNREACHABLE, "PHD_EUNREACHABLE"


ERRORS = (InternalError, OutOfMemoryError, InvalidArgumentError, FileIOError, ParseError,
          WrongTypeError, NotFoundError, TooBigError, PluginError, ABIError, DeadlineError,
          ChildFailedError, InterruptedRunError, LockedError, PhaseFailedError,
          NoProviderError, RolledBackError, NotApplicable, UnreachableError)
_BY_CODE = {cls.code: cls for cls in ERRORS}


def error_class(code):
    """The exception class for a PHD_E* code (Error for an unknown one)."""
    return _BY_CODE.get(int(code), Error)

__all__ = ["Error", "ERRORS", "error_class", "strerror"] + [c.__name__ for c in ERRORS]

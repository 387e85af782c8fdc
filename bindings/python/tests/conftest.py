"""Fixtures for the binding's tests, and a TAP reporter for `make check`.

The tests use the real library and the real plugins of a build tree: they
need top_builddir/top_srcdir (set by `make check`); run by hand as
  top_srcdir=... top_builddir=... python3 -m pytest bindings/python/tests
with the extension importable (bindings/python/pytest.sh builds it).

With PHD_TAP_FD set, one TAP line per test goes to that file descriptor
(Debian's pytest has no TAP plugin)."""
import os

import pytest

# Each test names the plugins it loads: nothing from the environment and
# nothing installed (an empty PHDEPLOY_PLUGIN_PATH names no directory).
os.environ["PHDEPLOY_PLUGIN_PATH"] = ""
os.environ.pop("PHDEPLOY_HELM", None)
os.environ.pop("PHDEPLOY_KUBECTL", None)
# the sanitizer runtime preloaded into python is loaded now; children of the
# library (some built with their own ASan runtime) must not get it too
if os.environ.pop("PHD_TEST_DROP_PRELOAD", None):
    os.environ.pop("LD_PRELOAD", None)


def _env_dir(name):
    d = os.environ.get(name)
    if not d:
        pytest.skip("%s is not set (run through make check)" % name)
    return d


@pytest.fixture
def srcdir():
    return _env_dir("top_srcdir")


@pytest.fixture
def builddir():
    return _env_dir("top_builddir")


@pytest.fixture
def example_plugins(plugin_dir):
    """The plugins providing what examples/phdeploy.yaml names (its checks and the
    file provider): validate refuses a check or provider no plugin provides."""
    return ":".join(plugin_dir(n) for n in ("postgres", "kafka", "redis", "secret-file"))


@pytest.fixture
def plugin_dir(builddir):
    """plugin_dir("secret-file") → the directory of that built plugin."""
    def get(name):
        d = os.path.join(builddir, "plugins", name, ".libs")
        if not os.path.exists(os.path.join(d, name + ".so")):
            pytest.skip("plugin %s is not built" % name)
        return d
    return get


@pytest.fixture
def test_plugin(builddir):
    """test_plugin("good") → path of a loader test plugin (tests/plugins)."""
    def get(name):
        p = os.path.join(os.environ.get("PHD_TEST_PLUGINS") or
                         os.path.join(builddir, "tests", "plugins", ".libs"), name + ".so")
        if not os.path.exists(p):
            pytest.skip("test plugin %s is not built" % name)
        return p
    return get


@pytest.fixture
def examples(srcdir):
    return os.path.join(srcdir, "examples")


@pytest.fixture
def write(tmp_path):
    """write("name.yaml", text) → path of the file in the test's directory."""
    def put(name, text):
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return put


@pytest.fixture
def state_dir(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    return str(d)


# ---- TAP ------------------------------------------------------------------
class _Tap:
    def __init__(self, fd):
        self.out = os.fdopen(fd, "w", buffering=1)
        self.n = 0
        self.failed = {}
        self.skipped = {}

    def line(self, text):
        self.out.write(text + "\n")


_tap = None


def pytest_configure(config):
    global _tap
    fd = os.environ.get("PHD_TAP_FD")
    if fd and _tap is None:
        _tap = _Tap(int(fd))


def pytest_collectreport(report):
    if _tap is not None and report.failed:
        _tap.line("Bail out! cannot collect %s" % report.nodeid)


def pytest_collection_finish(session):
    if _tap is not None:
        _tap.line("1..%d" % len(session.items))


def pytest_runtest_logreport(report):
    if _tap is None:
        return
    if report.failed:
        _tap.failed.setdefault(report.nodeid, report.when)
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
        _tap.skipped.setdefault(report.nodeid, reason.replace("Skipped: ", ""))


def pytest_runtest_logfinish(nodeid, location):
    if _tap is None:
        return
    _tap.n += 1
    name = nodeid.split("/")[-1]
    if nodeid in _tap.failed:
        when = _tap.failed[nodeid]
        _tap.line("not ok %d - %s%s" % (_tap.n, name, "" if when == "call" else
                                         " (failed in %s)" % when))
    elif nodeid in _tap.skipped:
        _tap.line("ok %d - %s # SKIP %s" % (_tap.n, name, _tap.skipped[nodeid]))
    else:
        _tap.line("ok %d - %s" % (_tap.n, name))

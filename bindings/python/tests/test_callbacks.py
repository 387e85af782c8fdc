"""Python callables as hooks, a secret provider, checks and validators,
run by the real pipeline (checks in the library's forked children)."""
import gc
import logging
import os
import time
import weakref

import pytest

import phdeploy


@pytest.fixture
def deployment(state_dir):
    """deployment(config_text=None, **kw) → an open Deployment (closed after)."""
    opened = []

    def make(config=None, tmp=None, **kw):
        if config is not None:
            path = os.path.join(os.path.dirname(state_dir), "phdeploy.yaml")
            with open(path, "w") as f:
                f.write(config)
            kw["config"] = path
        else:
            kw.setdefault("no_config", True)
        kw.setdefault("release", "posthog")
        kw.setdefault("namespace", "posthog")
        d = phdeploy.Deployment(state_dir=state_dir, **kw)
        opened.append(d)
        return d
    yield make
    for d in opened:
        d.close()


# ---- hooks -------------------------------------------------------------
def test_pre_and_post_hooks_run_around_the_phase_in_order(deployment):
    d = deployment()
    calls = []
    d.hook("validate", "pre", lambda c: calls.append((c.phase, c.when, c.outcome)))
    d.hook("validate", "post", lambda c: calls.append((c.phase, c.when, c.outcome)))
    d.hook("validate", "fail", lambda c: calls.append((c.phase, c.when, c.outcome)))
    d.validate()
    assert calls == [("validate", "pre", 0), ("validate", "post", 0)]


def test_a_fail_hook_gets_the_failure_as_an_exception_class(deployment):
    d = deployment()
    got = []
    d.validator("always-bad", fn=lambda v: v.report("always-bad", "error", "no"))
    d.hook("validate", "fail", lambda call: got.append((call.outcome, call.error)))
    with pytest.raises(phdeploy.PhaseFailedError):
        d.validate()
    assert got == [(phdeploy.PhaseFailedError.code, phdeploy.PhaseFailedError)]


def test_a_pre_hook_that_raises_stops_the_run_with_its_message(deployment):
    d = deployment()
    ran = []
    d.hook("preflight", "pre", lambda c: ran.append("preflight"))

    @d.hook("secrets", "pre")
    def change_window(call):
        raise phdeploy.PhaseFailedError("outside the change window (Mon-Fri 09-17)")

    with pytest.raises(phdeploy.PhaseFailedError) as ei:
        d.run("secrets", "preflight")
    e = ei.value
    assert "outside the change window (Mon-Fri 09-17)" in str(e)
    assert e.phase == "secrets" and e.exit_code == 4
    assert isinstance(e.__cause__, phdeploy.PhaseFailedError)
    assert ran == []
    assert e.result.phases["preflight"].status == "notrun"


def test_any_exception_in_a_hook_fails_it_and_is_chained(deployment):
    d = deployment()
    d.hook("validate", "pre", lambda c: {}["no-such-key"])
    with pytest.raises(phdeploy.PhaseFailedError) as ei:
        d.validate()
    assert "KeyError: 'no-such-key'" in str(ei.value)
    assert isinstance(ei.value.__cause__, KeyError)


def test_a_hook_returning_false_fails(deployment):
    d = deployment()
    d.hook("validate", "pre", lambda c: False)
    with pytest.raises(phdeploy.PhaseFailedError, match="returned False"):
        d.validate()


def test_a_failing_post_hook_does_not_fail_the_phase(deployment):
    events = []
    d = deployment(on_event=events.append)
    d.hook("validate", "post", lambda c: 1 / 0)
    assert d.validate().ok
    hooks = [e for e in events if e.type == "hook"]
    assert hooks and hooks[0].status == "failed"
    assert "ZeroDivisionError" in hooks[0].message


def test_keyboard_interrupt_in_a_hook_interrupts_the_run_and_propagates(deployment):
    d = deployment()

    def ctrl_c(call):
        raise KeyboardInterrupt()
    d.hook("validate", "pre", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        d.validate()


def test_a_registered_callable_lives_as_long_as_the_deployment(deployment):
    class Recorder:
        def __init__(self):
            self.n = 0

        def __call__(self, call):
            self.n += 1

    d = deployment()
    rec = Recorder()
    d.hook("validate", "pre", rec)
    ref = weakref.ref(rec)
    del rec
    gc.collect()
    d.validate()
    assert ref() is not None and ref().n == 1
    d.close()
    gc.collect()
    assert ref() is None, "close() releases the callables"


def test_registration_rejects_bad_phases_and_names(deployment):
    d = deployment()
    with pytest.raises(phdeploy.InvalidArgumentError):
        d.hook("deploy", "during", lambda c: None)
    with pytest.raises(phdeploy.InvalidArgumentError):
        d.hook("nophase", "pre", lambda c: None)
    with pytest.raises(phdeploy.InvalidArgumentError, match="invalid or taken"):
        d.check("Bad Name", lambda c: None)
    d.check("twice", lambda c: None)
    with pytest.raises(phdeploy.InvalidArgumentError, match="invalid or taken"):
        d.check("twice", lambda c: None)
    with pytest.raises(phdeploy.InvalidArgumentError, match="validators run in"):
        d.validator("v", "deploy", lambda v: None)


def test_the_python_plugin_is_listed_with_what_it_provides(deployment):
    d = deployment()
    d.hook("deploy", "pre", lambda c: None)
    d.check("site-api", lambda c: None)
    py = [p for p in d.plugins if p.name == "python"]
    assert py and py[0].path == "(in-process)"
    assert "hook:deploy.pre" in py[0].provides and "check:site-api" in py[0].provides


# ---- secret providers --------------------------------------------------
VAULT_CONFIG = """\
release: posthog
namespace: posthog
secrets:
  - { provider: vault, path: kv/posthog/postgres }
"""
PASSWORD = b"Vault-Pg-Pw-8f3a91"


def vault(entry, sink):
    assert entry.get("path").text == "kv/posthog/postgres"
    sink.add("posthog-postgres", "postgresql-password", PASSWORD, where=entry)


def test_a_python_secret_provider_feeds_the_store(deployment):
    d = deployment(VAULT_CONFIG)
    d.secret_provider("vault", vault)
    d.check("reads-it", lambda c: "ok")
    d.preflight()
    info = d.secrets_info
    assert [(s.name, s.namespace, s.keys) for s in info] == [
        ("posthog-postgres", "posthog", ("postgresql-password",))]
    assert "phdeploy.yaml:4" in info[0].origin
    assert d.secret("posthog-postgres", "postgresql-password") == PASSWORD
    with pytest.raises(phdeploy.NotFoundError):
        d.secret("posthog-postgres", "nope")


def test_a_provided_secret_is_masked_in_logs_and_messages(deployment, caplog):
    caplog.set_level("DEBUG", logger="phdeploy")
    d = deployment(VAULT_CONFIG)
    d.secret_provider("vault", vault)

    @d.check("leaky")
    def leaky(check):
        raise RuntimeError("cannot log in with " + PASSWORD.decode())
    with pytest.raises(phdeploy.PhaseFailedError):
        d.preflight()
    d.log("info", "password=" + PASSWORD.decode())
    text = " ".join(r.getMessage() for r in caplog.records) + str(d.checks) + str(d.findings)
    assert PASSWORD.decode() not in text
    assert "cannot log in with" in str(d.checks)
    assert PASSWORD.decode() not in d.redact("pw " + PASSWORD.decode())


def test_a_failing_provider_fails_the_secrets_phase(deployment):
    d = deployment(VAULT_CONFIG)

    @d.secret_provider("vault")
    def sealed(entry, sink):
        raise phdeploy.NotFoundError("vault is sealed (%s)" % entry.where)
    d.check("c", lambda c: None)
    with pytest.raises(phdeploy.NotFoundError) as ei:
        d.preflight()
    assert "vault is sealed" in str(ei.value) and "phdeploy.yaml:4:5" in str(ei.value)
    assert ei.value.exit_code == 4


def test_a_sink_is_only_valid_during_the_call(deployment):
    kept = []
    d = deployment(VAULT_CONFIG)
    d.secret_provider("vault", lambda e, s: kept.append(s))
    d.check("c", lambda c: None)
    d.preflight()
    with pytest.raises(phdeploy.InvalidArgumentError):
        kept[0].add("x", "y", b"z")


# ---- checks -------------------------------------------------------------
def test_a_python_check_runs_in_a_forked_child(deployment):
    d = deployment()
    parent = os.getpid()
    d.check("site-api", lambda c: "answered from pid %d" % os.getpid())
    r = d.preflight()
    (res,) = r.checks
    assert (res.name, res.status, res.required) == ("site-api", "ok", True)
    child = int(res.message.rsplit(" ", 1)[1])
    assert child != parent


def test_check_results_ok_skipped_failed(deployment):
    d = deployment("""\
release: posthog
namespace: posthog
checks:
  optional: { required: false }
""")
    d.check("fine", lambda c: c.summary("all good"))

    @d.check("nothing")
    def nothing(c):
        raise phdeploy.NotApplicable("no site API configured")

    @d.check("optional")
    def optional(c):
        raise ValueError("the site API said 503")
    r = d.preflight()
    got = {c.name: (c.status, c.message) for c in r.checks}
    assert got["fine"] == ("ok", "all good")
    assert got["nothing"] == ("skipped", "no site API configured")
    assert got["optional"][0] == "failed"
    assert "ValueError: the site API said 503" in got["optional"][1]
    assert any(f.rule == "optional" and f.severity == "error" for f in r.findings)


def test_a_required_python_check_failing_fails_preflight(deployment):
    d = deployment()

    @d.check("site-api")
    def site_api(c):
        c.note("error", "the site API refused the token")
    with pytest.raises(phdeploy.PhaseFailedError) as ei:
        d.preflight()
    assert ei.value.exit_code == 5 and "site-api" in str(ei.value)
    assert d.checks[0].message == "the site API refused the token"


def test_a_hanging_python_check_is_stopped_at_its_deadline(deployment):
    d = deployment("""\
release: posthog
namespace: posthog
checks:
  slow: { timeout: 300ms }
""")

    @d.check("slow")
    def slow(c):
        c.summary("%d ms left" % c.remaining_ms)
        time.sleep(30)
    t0 = time.monotonic()
    with pytest.raises(phdeploy.PhaseFailedError):
        d.preflight()
    assert time.monotonic() - t0 < 10
    assert "no answer within 300 ms" in d.checks[0].message


def test_a_check_reads_its_config_and_the_values(deployment, write):
    values = write("values.yaml", "externalKafka:\n  brokers: [a:9092, b:9092]\n")
    d = deployment("""\
release: posthog
namespace: posthog
values: [values.yaml]
checks:
  brokers: { min_brokers: 2 }
""")

    @d.check("brokers")
    def brokers(c):
        want = c.config.get("min_brokers").as_int()
        have = len(c.deployment.values.get("externalKafka.brokers"))
        if have < want:
            raise phdeploy.PhaseFailedError("%d brokers, want %d" % (have, want))
        return "%d brokers" % have
    assert d.config.file == os.path.join(os.path.dirname(values), "phdeploy.yaml")
    assert d.preflight().checks[0].message == "2 brokers"


# ---- validators -----------------------------------------------------------
def test_a_python_validator_reports_findings_with_positions(deployment, write):
    write("values.yaml", "web:\n  image:\n    tag: latest\n")
    d = deployment("release: posthog\nnamespace: posthog\nvalues: [values.yaml]\n")

    @d.validator("pinned-tags")
    def pinned(v):
        tag = v.deployment.values.get("web.image.tag")
        if tag is not None and tag.text == "latest":
            v.report("image-pinned", "error", "web.image.tag is 'latest'",
                     object="Deployment/posthog-web", where=tag, values_key="web.image.tag")
    with pytest.raises(phdeploy.PhaseFailedError) as ei:
        d.validate()
    (f,) = ei.value.result.findings
    assert (f.rule, f.severity, f.phase) == ("image-pinned", "error", "validate")
    assert (os.path.basename(f.file), f.line, f.column) == ("values.yaml", 3, 10)
    assert f.values_key == "web.image.tag" and f.object == "Deployment/posthog-web"


def test_the_rules_config_sets_a_python_finding_severity(deployment):
    d = deployment("release: posthog\nnamespace: posthog\nrules: { site-rule: warn }\n")
    sev = []
    d.validator("site", fn=lambda v: sev.append(v.report("site-rule", "error", "meh")))
    assert d.validate().ok
    assert sev == ["warn"] and d.findings[0].severity == "warn"


def test_log_lines_from_plugins_reach_the_logger(deployment, caplog):
    caplog.set_level(logging.DEBUG, logger="phdeploy")
    d = deployment()
    d.check("talks", lambda c: c.deployment.log("info", "child says hello"))
    d.preflight()
    assert any("child says hello" in r.getMessage() for r in caplog.records)


def test_a_python_check_runs_while_another_python_thread_is_busy(deployment):
    # the library forks while a busy thread may hold the GIL: the child
    # must still be able to run Python (like os.fork(), not a deadlock)
    import threading
    stop = threading.Event()

    def spin():
        n = 0
        while not stop.is_set():
            n += 1
    t = threading.Thread(target=spin)
    t.start()
    try:
        d = deployment("release: posthog\nnamespace: posthog\n"
                       "checks:\n" + "".join("  c%d: { timeout: 5s }\n" % i for i in range(8)))
        for i in range(8):
            d.check("c%d" % i, lambda c: "ran")
        r = d.preflight()
    finally:
        stop.set()
        t.join()
    assert [c.message for c in r.checks] == ["ran"] * 8

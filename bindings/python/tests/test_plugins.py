"""The binding with the real plugins of the build tree: the loader's test
plugin, secret-file with the example Secrets, the ha validators on the
example values."""
import os

import pytest

import phdeploy


def test_a_loaded_plugin_is_listed_with_its_version_and_what_it_provides(
        test_plugin, write, state_dir):
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                % test_plugin("good"))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        good = [p for p in d.plugins if p.name == "good"]
        assert good and good[0].version == "1.2.3" and good[0].abi == phdeploy.PLUGIN_ABI == (2, 1)
        assert {"check:good", "validator:good", "secret:good"} <= set(good[0].provides)


def test_a_plugin_check_failure_is_a_check_result_and_a_finding(test_plugin, write, state_dir):
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                "  config:\n    good: { check: fail }\n" % test_plugin("good"))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        with pytest.raises(phdeploy.PhaseFailedError) as ei:
            d.preflight()
        assert ei.value.exit_code == 5
        (c,) = d.checks
        assert (c.name, c.status, c.message) == ("good", "failed", "the service said no")
        assert [(f.rule, f.severity, f.object) for f in d.findings] == [
            ("good", "error", "check/good")]


def test_a_crashing_plugin_check_is_reported_not_fatal(test_plugin, write, state_dir):
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                "  config:\n    good: { check: crash }\n"
                "checks:\n  good: { required: false }\n" % test_plugin("good"))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        assert d.preflight().ok
        # SIGSEGV, or SIGABRT where AddressSanitizer catches it first
        assert "the check crashed (signal " in d.checks[0].message
        assert "plugin 'good'" in d.checks[0].message


def test_a_plugin_that_fails_to_load_raises_plugin_error(test_plugin, write, state_dir):
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                % test_plugin("abi-major"))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        with pytest.raises(phdeploy.ABIError, match="rebuild the plugin"):
            d.load()


def test_secret_file_provides_the_example_secrets(plugin_dir, examples, write, state_dir):
    cfg = write("phdeploy.yaml", """\
release: posthog
namespace: posthog
secrets:
  - { provider: file, path: %s/postgres.secret.yaml }
  - { provider: file, path: %s/redis.secret.yaml }
""" % (examples, examples))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir,
                             plugin_path=plugin_dir("secret-file")) as d:
        seen = []

        @d.check("db-login")
        def db_login(check):
            pw = check.deployment.secret("posthog-postgres", "postgresql-password")
            seen.append(pw)  # in the child: the parent's list stays empty
            return "have a %d-byte password" % len(pw)
        r = d.preflight()
        expected = b"CHANGE-ME-example-postgres-password"
        assert r.checks[0].message == "have a %d-byte password" % len(expected)
        assert seen == []
        names = {s.name: s for s in d.secrets_info}
        assert set(names) == {"posthog-postgres", "posthog-redis"}
        assert names["posthog-postgres"].keys == ("postgresql-password",)
        assert d.secret("posthog-postgres", "postgresql-password") == expected
        assert expected.decode() not in d.redact("pw=%s" % expected.decode())


def test_ha_validators_report_findings_on_the_example_values(plugin_dir, examples, write,
                                                            state_dir, example_plugins):
    override = write("override.yaml", "web:\n  replicacount: 1\n  hpa:\n    enabled: false\n")
    with phdeploy.Deployment(config=os.path.join(examples, "phdeploy.yaml"),
                             values=[os.path.join(examples, "values.yaml")],
                             state_dir=state_dir,
                             plugin_path=plugin_dir("ha") + ":" + example_plugins) as d:
        r = d.validate()
        tls = [f for f in r.findings if f.rule == "posthog-redis-tls"]
        assert tls and tls[0].severity == "warn"
        assert (os.path.basename(tls[0].file), tls[0].line) == ("values.yaml", 47)
    with phdeploy.Deployment(config=os.path.join(examples, "phdeploy.yaml"),
                             values=[os.path.join(examples, "values.yaml"), override],
                             state_dir=state_dir,
                             plugin_path=plugin_dir("ha") + ":" + example_plugins) as d:
        with pytest.raises(phdeploy.PhaseFailedError) as ei:
            d.validate()
        rep = [f for f in ei.value.result.findings if f.rule == "replicas"]
        assert rep and rep[0].severity == "error"
        assert rep[0].object == "Deployment/posthog-web"
        assert rep[0].values_key == "web.replicacount"
        assert (rep[0].file, rep[0].line) == (override, 2)
        assert ei.value.exit_code == 3


def test_interrupt_from_another_thread_stops_a_hanging_check(test_plugin, write, state_dir):
    import threading
    import time
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                "  config:\n    good: { check: hang }\nchecks:\n  good: { timeout: 60s }\n"
                % test_plugin("good"))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        timer = threading.Timer(0.3, d.interrupt)
        t0 = time.monotonic()
        timer.start()
        try:
            with pytest.raises(phdeploy.InterruptedRunError, match="interrupted"):
                d.preflight()
        finally:
            timer.cancel()
        assert time.monotonic() - t0 < 10


def test_render_of_the_real_chart_with_helm_and_ha_on_the_manifests(plugin_dir, examples,
                                                                   state_dir, example_plugins):
    fixtures = os.environ.get("PHD_FIXTURES", "")
    tools = os.environ.get("PHD_TOOLS", "")
    chart = os.path.join(fixtures, "posthog-30.46.0.tgz")
    helm = os.path.join(tools, "helm4")
    if not os.path.exists(chart) or not os.access(helm, os.X_OK):
        pytest.skip("no chart fixture in PHD_FIXTURES or helm4 in PHD_TOOLS")
    events = []
    # the example config (its exemptions) with the chart fixture instead of the repo
    with phdeploy.Deployment(config=os.path.join(examples, "phdeploy.yaml"), chart=chart,
                             helm=helm, state_dir=state_dir,
                             plugin_path=plugin_dir("helm") + ":" + plugin_dir("ha") + ":" +
                             example_plugins,
                             on_event=events.append) as d:
        r = d.render()
        assert (r.phases["repo"].status, r.phases["render"].status) == ("ok", "ok")
        assert "kind: Deployment" in d.rendered and "name: posthog-web" in d.rendered
        found = {(f.rule, f.object): f.severity for f in r.findings if f.phase == "render"}
        # exempted in examples/phdeploy.yaml: reported, as info
        assert found[("replicas", "Deployment/clickhouse-operator")] == "info"
        assert found[("pdb", "Deployment/posthog-plugins")] == "warn"
        assert ("phase_end", "render", "ok") in [(e.type, e.phase, e.status) for e in events]


def test_run_action_runs_a_plugins_action_with_its_mode_and_undo(
        test_plugin, write, state_dir, tmp_path):
    mark = tmp_path / "action.out"
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                "  config:\n    good: { action_file: %s }\n" % (test_plugin("good"), mark))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        d.run_action("good-action")
        assert mark.read_text() == "apply\n"
        d.run_action("good-action", undo=True)
        assert mark.read_text() == "apply undo\n"
    with phdeploy.Deployment(config=cfg, state_dir=state_dir, dry_run=True) as d:
        d.run_action("good-action")
        assert mark.read_text() == "show\n"


def test_run_action_raises_when_no_plugin_has_it_or_the_action_fails(
        test_plugin, write, state_dir):
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nplugins:\n  load: [%s]\n"
                % test_plugin("good"))
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        with pytest.raises(phdeploy.NoProviderError, match="no-such-action"):
            d.run_action("no-such-action")
        with pytest.raises(phdeploy.PhaseFailedError, match="no action_file configured"):
            d.run_action("good-action")

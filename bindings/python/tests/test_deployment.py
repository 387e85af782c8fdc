"""Opening a deployment, reading its trees, running phases, results and
errors as Python objects, deterministic freeing."""
import gc
import json
import os
import weakref

import pytest

import phdeploy


def test_opens_from_a_config_file(examples, state_dir, example_plugins):
    with phdeploy.Deployment(config=os.path.join(examples, "phdeploy.yaml"),
                             state_dir=state_dir, plugin_path=example_plugins) as d:
        assert d.release == "posthog"
        assert d.namespace == "posthog"
        assert d.chart == "posthog/posthog"
        assert d.config.get("helm.timeout").text == "30m"
        assert d.config.get("helm.timeout").as_duration_ms() == 30 * 60 * 1000


def test_arguments_override_the_config_file(examples, state_dir, example_plugins):
    with phdeploy.Deployment(config=os.path.join(examples, "phdeploy.yaml"), release="ph2",
                             namespace="analytics", state_dir=state_dir,
                             plugin_path=example_plugins) as d:
        assert (d.release, d.namespace) == ("ph2", "analytics")


def test_opens_from_arguments_alone(examples, state_dir):
    values = os.path.join(examples, "values.yaml")
    with phdeploy.Deployment(no_config=True, values=values, release="posthog",
                             namespace="posthog", state_dir=state_dir) as d:
        assert d.config is None
        host = d.values.get("externalRedis.host")
        assert host.text.endswith(".cache.amazonaws.com")
        assert (os.path.basename(host.file), host.line, host.column) == ("values.yaml", 47, 9)
        assert d.values["externalRedis"]["host"].text == host.text
        assert isinstance(d.values.to_python()["externalRedis"], dict)


def test_later_values_files_override_earlier_ones(write, state_dir):
    a = write("a.yaml", "web:\n  replicacount: 2\n  image: x\n")
    b = write("b.yaml", "web:\n  replicacount: 3\n")
    with phdeploy.Deployment(no_config=True, values=[a, b], release="r", namespace="n",
                             state_dir=state_dir) as d:
        assert d.values.get("web.replicacount").as_int() == 3
        assert d.values.get("web.image").text == "x"
        assert d.values.get("web.replicacount").file == b


def test_validate_returns_phase_results(write, state_dir):
    v = write("values.yaml", "cloud: aws\n")
    with phdeploy.Deployment(no_config=True, values=[v], release="r", namespace="n",
                             state_dir=state_dir) as d:
        r = d.validate()
        assert r.ok and r.code == 0 and r.exit_code == 0 and r.failed_phase is None
        assert r.phases["validate"].status == "ok"
        assert r.phases["deploy"].status == "notrun"
        assert d.phase_status("validate") == "ok"


def test_a_missing_values_file_raises_naming_it_with_exit_3(tmp_path, state_dir):
    missing = str(tmp_path / "missing.yaml")
    with phdeploy.Deployment(no_config=True, values=[missing], release="r", namespace="n",
                             state_dir=state_dir) as d:
        with pytest.raises(phdeploy.Error) as ei:
            d.validate()
        e = ei.value
        assert "missing.yaml: values file not found" in str(e)
        assert e.exit_code == 3 and e.phase == "validate"
        assert type(e) is phdeploy.error_class(e.code) and type(e) is not phdeploy.Error
        assert e.result.phases["validate"].status == "failed"


def test_malformed_yaml_raises_parse_error_with_its_position(write, state_dir):
    bad = write("broken.yaml", "cloud: [aws\n")
    with phdeploy.Deployment(no_config=True, values=[bad], release="r", namespace="n",
                             state_dir=state_dir) as d:
        with pytest.raises(phdeploy.ParseError) as ei:
            d.validate()
        assert "broken.yaml:2:1:" in str(ei.value)
        assert ei.value.exit_code == 3


def test_a_config_error_is_raised_by_load_too(write, state_dir):
    cfg = write("phdeploy.yaml", "release: r\nnamespace: n\nbogus_key: 1\n")
    with phdeploy.Deployment(config=cfg, state_dir=state_dir) as d:
        with pytest.raises(phdeploy.Error) as ei:
            d.load()
        assert "bogus_key" in str(ei.value)
        assert "phdeploy.yaml:3:1" in str(ei.value)


def test_a_phase_without_its_plugin_raises_no_provider(write, state_dir):
    v = write("values.yaml", "cloud: aws\n")
    with phdeploy.Deployment(no_config=True, values=[v], release="r", namespace="n",
                             state_dir=state_dir) as d:
        with pytest.raises(phdeploy.NoProviderError) as ei:
            d.render()
        assert ei.value.phase == "repo" and ei.value.exit_code == 6
        assert "no loaded plugin handles this phase" in str(ei.value)


def test_run_rejects_no_phase_and_unknown_phase_names(state_dir):
    with phdeploy.Deployment(no_config=True, release="r", namespace="n",
                             state_dir=state_dir) as d:
        with pytest.raises(phdeploy.InvalidArgumentError):
            d.run()
        with pytest.raises(phdeploy.InvalidArgumentError, match="unknown phase 'deplyo'"):
            d.run("deplyo")
        assert d.run(["validate"]).ok


def test_each_run_appends_a_journal_record_unless_asked_not_to(state_dir):
    journal = os.path.join(state_dir, "journal.jsonl")
    with phdeploy.Deployment(no_config=True, release="r", namespace="n",
                             state_dir=state_dir) as d:
        d.validate()
        d.validate()
    with open(journal) as f:
        lines = [json.loads(line) for line in f]
    assert len(lines) == 2
    with phdeploy.Deployment(no_config=True, release="r", namespace="n", state_dir=state_dir,
                             journal=False) as d:
        d.validate()
    with open(journal) as f:
        assert len(f.readlines()) == 2


def test_a_second_run_of_the_same_release_raises_locked_with_exit_12(state_dir):
    outer = phdeploy.Deployment(no_config=True, release="r", namespace="n",
                                state_dir=state_dir)
    inner = phdeploy.Deployment(no_config=True, release="r", namespace="n",
                                state_dir=state_dir)
    seen = []

    @outer.hook("secrets", "pre")
    def try_second_run(call):
        with pytest.raises(phdeploy.LockedError) as ei:
            inner.secrets()
        seen.append(ei.value)

    with outer, inner:
        outer.secrets()
    assert seen and seen[0].exit_code == 12
    assert "pid %d" % os.getpid() in str(seen[0])


def test_the_context_manager_frees_the_context(state_dir):
    with phdeploy.Deployment(no_config=True, release="r", namespace="n",
                             state_dir=state_dir) as d:
        values = d.values
    assert d.closed
    with pytest.raises(phdeploy.InvalidArgumentError, match="closed"):
        d.validate()
    with pytest.raises(phdeploy.Error):
        values.type
    d.close()  # idempotent


def test_a_dropped_deployment_is_freed_without_close(state_dir):
    d = phdeploy.Deployment(no_config=True, release="r", namespace="n", state_dir=state_dir)
    d.validate()
    ref = weakref.ref(d)
    del d
    gc.collect()
    assert ref() is None


def test_dry_run_and_plan_are_dry(state_dir):
    with phdeploy.Deployment(no_config=True, release="r", namespace="n", state_dir=state_dir,
                             dry_run=True) as d:
        assert d.dry_run
    with phdeploy.Deployment(no_config=True, release="r", namespace="n", state_dir=state_dir,
                             plan=True) as d:
        assert d.dry_run
    with phdeploy.Deployment(no_config=True, release="r", namespace="n",
                             state_dir=state_dir) as d:
        assert not d.dry_run


def test_events_arrive_as_python_objects(write, state_dir):
    v = write("values.yaml", "cloud: aws\n")
    events = []
    with phdeploy.Deployment(no_config=True, values=[v], release="r", namespace="n",
                             state_dir=state_dir, on_event=events.append) as d:
        d.validate()
    kinds = [(e.type, e.phase, e.status) for e in events]
    assert kinds[0] == ("phase_start", "validate", None)
    assert ("phase_end", "validate", "ok") in kinds
    assert kinds[-1] == ("run_end", None, "ok")


def test_an_exception_in_the_event_callback_stops_the_run_and_is_raised(state_dir):
    def boom(ev):
        if ev.type == "phase_start":
            raise RuntimeError("the dashboard is down")
    with phdeploy.Deployment(no_config=True, release="r", namespace="n", state_dir=state_dir,
                             on_event=boom) as d:
        with pytest.raises(RuntimeError, match="the dashboard is down"):
            d.validate()


def test_library_log_lines_go_to_python_logging(state_dir, caplog):
    caplog.set_level("DEBUG", logger="phdeploy")
    with phdeploy.Deployment(no_config=True, release="r", namespace="n",
                             state_dir=state_dir) as d:
        d.log("warn", "rotating the RDS password at 03:00")
    rec = [r for r in caplog.records if r.name == "phdeploy"]
    assert rec and rec[-1].levelname == "WARNING"
    assert rec[-1].getMessage() == "rotating the RDS password at 03:00"


def test_typed_reads_of_a_node_raise_wrong_type_with_its_position(write, state_dir):
    v = write("values.yaml", "web:\n  replicacount: two\n  enabled: yes\n")
    with phdeploy.Deployment(no_config=True, values=[v], release="r", namespace="n",
                             state_dir=state_dir) as d:
        with pytest.raises(phdeploy.WrongTypeError) as ei:
            d.values.get("web.replicacount").as_int()
        assert str(ei.value) == "%s:2:17: 'two' is not an integer" % v
        assert d.values.get("web.enabled").as_bool() is True
        assert d.values.get("web.nope") is None
        with pytest.raises(KeyError):
            d.values["web"]["nope"]

"""SLAs in the code location: checks per SLA; `sla_sensor` ticked as the daemon ticks it, requesting
one `sla_evaluation_job` run per interval; those runs executed, their evaluations recorded in the
instance (and read back as history), their alerts sent once across runs and what they did in their
logs; the run-failure sensor; the report job."""

import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest
import time_machine

from orchestration_utils_tests.sla.alert_servers import pagerduty, slack_webhook


@pytest.fixture
def location(demo_manifest, tmp_path, monkeypatch):
    warehouse = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA landing")
    con.execute(
        "CREATE TABLE landing.clicks AS SELECT TIMESTAMP '2026-01-01 00:00:00' AS ts"
    )  # long stale
    con.close()
    config = tmp_path / "sla-config.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "pipelines": [
                    {
                        "name": "nightly_load",
                        "critical": True,
                        "completion_time_sla": {
                            "name": "nightly_on_time",
                            "target_duration_minutes": 5,
                        },
                    }
                ],
                "tables": [
                    {
                        "table_id": "lake.landing.clicks",
                        "freshness_sla": {
                            "name": "clicks_fresh",
                            "critical": True,
                            "timestamp_column": "ts",
                            "max_age_hours": 1,
                        },
                        "availability_sla": {
                            "name": "clicks_available",
                            "target_availability": 99,
                            "lookback_hours": 10,  # judged once 1 h is measured
                        },
                    }
                ],
                "alerts": {"timeout_seconds": 2},
            }
        )
    )
    slack, pd = slack_webhook(), pagerduty()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{slack.url}/services/T/B/secret")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "k" * 32)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", f"{pd.url}/v2/enqueue")
    env = {
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_SLA_CONFIG": str(config),
        "ORCHESTRATION_UTILS_HEALTH_CONFIG": "",
        "ORCHESTRATION_UTILS_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from orchestration_utils.definitions import defs

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    yield definitions, tmp_path, slack, pd
    slack.close()
    pd.close()


def _tick(definitions, instance, cursor=None, said: list[str] | None = None):
    """One `sla_sensor` tick as the daemon makes it: a real instance, the location's resources;
    `said` collects what the tick logs (the daemon keeps it with the tick, for the UI)."""
    sensor = definitions.resolve_sensor_def("sla_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=definitions, resources=definitions.resources
    )
    if said is not None:
        handler = logging.Handler()
        handler.emit = lambda record: said.append(f"{record.levelname} {record.getMessage()}")
        context.log.addHandler(handler)
    return sensor.evaluate_tick(context), context


def _run(definitions, instance, request):
    """The requested run, executed as the run worker would execute it (in process, its tags)."""
    job = definitions.resolve_job_def(request.job_name or "sla_evaluation_job")
    result = job.execute_in_process(
        instance=instance, tags=request.tags, run_config=request.run_config or None
    )
    assert result.success
    return [e.message for e in instance.all_logs(result.run_id) if e.message]


def test_the_sensor_requests_runs_that_record_evaluations_and_alert_once(location):
    definitions, _, slack, pd = location
    sensor = definitions.resolve_sensor_def("sla_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert (
        definitions.resolve_job_def("sla_evaluation_job").tags["orchestration_utils/kind"] == "sla"
    )
    start = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        cursor, logs = None, []
        # Three intervals 75 min apart (the clock moved, so the availability SLA's window gets
        # measured time): a tick, then the run it requested.
        for i in range(3):
            with time_machine.travel(start + timedelta(minutes=75 * i), tick=True):
                tick, _ = _tick(definitions, instance, cursor)
                [request] = tick.run_requests
                assert (
                    request.run_key.startswith("sla_evaluation:")
                    and request.tags["orchestration_utils/kind"] == "sla"
                )
                assert slack.received == [] or logs  # the tick itself sends nothing
                logs.append(_run(definitions, instance, request))
                cursor = tick.cursor
        key = dg.AssetCheckKey(
            dg.AssetKey(["warehouse", "lake", "landing", "clicks"]), "sla_clicks_fresh"
        )
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
        assert len(history) == 3 and not history[0].evaluation.passed
        assert history[0].evaluation.metadata["sla_status"] == dg.TextMetadataValue("FAIL")
        assert isinstance(history[0].evaluation.metadata["hours_stale"], dg.FloatMetadataValue)
        with time_machine.travel(start + timedelta(minutes=151), tick=True):
            tick, _ = _tick(definitions, instance, cursor)
        stored = json.dumps(
            instance.run_storage.get_cursor_values(
                {"orchestration_utils/sla/alerts", "orchestration_utils/sla/last_evaluation"}
            )
        )
    # Run 1: two violations, one grouped Slack message and a page per critical SLA. Run 2: the
    # availability SLA now has 75 min of measured (stale) time and triggers. Run 3: nothing new.
    assert len(slack.received) == 2
    assert slack.received[0]["text"].startswith(
        "SLA: 2 SLA violations\nVIOLATED (critical): clicks_fresh"
    )
    assert slack.received[1]["text"].startswith("SLA: 1 SLA violation\nVIOLATED: clicks_available")
    assert sorted(e["dedup_key"] for e in pd.received) == [
        "orchestration-utils/sla/clicks_fresh",
        "orchestration-utils/sla/nightly_on_time",
    ]
    # Each run says what it evaluated (with figures) and what it sent, in the run's log.
    assert any(
        line.startswith("FAIL clicks_fresh (lake.landing.clicks): ") and "hours_stale" in line
        for line in logs[0]
    )
    assert {
        "alert: trigger clicks_fresh",
        "alert: sent to slack",
        "alert: sent to pagerduty",
    } <= set(logs[0])
    assert not any(line.startswith("alert: trigger") for line in logs[2])
    assert "secret" not in stored and "k" * 32 not in stored and "clicks_fresh" in stored


def test_one_run_per_interval_and_none_while_one_is_unfinished(location):
    definitions, *_ = location
    with dg.instance_for_test() as instance:
        first, _ = _tick(definitions, instance)
        again, _ = _tick(definitions, instance, first.cursor)
        # The same interval gives the same run_key, which the daemon drops: never two requests.
        assert first.run_requests[0].run_key == again.run_requests[0].run_key
        job = definitions.resolve_job_def("sla_evaluation_job")
        running = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
        waiting, _ = _tick(definitions, instance, again.cursor)
        assert not waiting.run_requests
        assert (
            waiting.skip_message
            == f"SLA evaluation run {running.run_id} is still running; the next is requested once it ends"
        )


def test_a_missing_setting_is_said_once_in_the_sensor_and_in_every_run(location, monkeypatch):
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY")
    from orchestration_utils.definitions import defs

    definitions = defs()
    said: list[str] = []
    with dg.instance_for_test() as instance:
        first, _ = _tick(definitions, instance, said=said)
        logs = _run(definitions, instance, first.run_requests[0])
        second, _ = _tick(definitions, instance, first.cursor, said=said)
    missing = "PagerDuty is not configured (PAGERDUTY_ROUTING_KEY); critical SLAs do not page"
    assert said[0] == f"WARNING {missing}"
    # The second tick does not repeat it; it says what the run evaluated, sent and left pending.
    assert len(said) == 2 and not second.skip_message
    assert said[1].startswith("INFO last SLA evaluation (run ") and "2 FAIL" in said[1], said
    assert (
        "violated: nightly_on_time, clicks_fresh" in said[1]
        and "pending delivery: nothing" in said[1]
    )
    assert "sent: trigger clicks_fresh, trigger nightly_on_time to slack" in said[1]
    assert missing in logs and "alert: PagerDuty is not configured; its alerts are not sent" in logs


def test_of_two_unfinished_sla_runs_the_first_keeps_the_alert_state(location):
    """Runs launched beside the queue (a manual launch, `dagster dev` without the tag limit): the
    one that began first alerts; the other waits for it, and leaves its alerts to it if it outlasts
    the lock's timeout. Real runs in a real instance; ordered by start (here: creation) time."""
    from orchestration_utils.dagster_defs.sla import InstanceStore
    from orchestration_utils.sla.history import AlertStateBusy

    definitions, *_ = location
    job = definitions.resolve_job_def("sla_evaluation_job")
    with dg.instance_for_test() as instance:
        first = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
        time.sleep(0.01)
        second = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
        with InstanceStore(instance, {}, run_id=first.run_id).alert_lock(5):
            pass  # nothing ahead of the first
        started = time.monotonic()
        with (
            pytest.raises(AlertStateBusy, match=first.run_id),
            InstanceStore(instance, {}, run_id=second.run_id).alert_lock(1.5),
        ):
            pass
        assert time.monotonic() - started >= 1.5  # it waited for the first before giving up
        instance.report_run_failed(first)
        with InstanceStore(instance, {}, run_id=second.run_id).alert_lock(5):
            pass  # the first has ended: the second goes ahead


def test_an_earlier_sensors_state_moves_into_the_instance(location):
    """The cursor of the sensor that used to send alerts held the open incidents: upgrading
    must not page them again."""
    definitions, _, slack, pd = location
    with dg.instance_for_test() as instance:
        first, _ = _tick(definitions, instance)
        _run(definitions, instance, first.run_requests[0])
        state = instance.run_storage.get_cursor_values({"orchestration_utils/sla/alerts"})
    pages = len(pd.received)
    with dg.instance_for_test() as instance:  # a new instance, but the old sensor's cursor
        tick, _ = _tick(definitions, instance, cursor=state["orchestration_utils/sla/alerts"])
        _run(definitions, instance, tick.run_requests[0])
    assert len(pd.received) == pages and len(slack.received) == 1


def test_history_in_the_instance_feeds_availability(location):
    definitions, *_ = location
    start = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        job = definitions.resolve_job_def("sla_checks_job")
        assert job.execute_in_process(instance=instance).success  # failing SLAs never fail the run
        with time_machine.travel(start + timedelta(seconds=30), tick=True):
            assert job.execute_in_process(instance=instance).success
            key = dg.AssetCheckKey(
                dg.AssetKey(["warehouse", "lake", "landing", "clicks"]), "sla_clicks_available"
            )
            soon = _latest(instance, key)
        with time_machine.travel(start + timedelta(hours=3), tick=True):
            assert job.execute_in_process(instance=instance).success
            latest = _latest(instance, key)
    # Seconds of stale history are too little of a 10 h window to judge (10% is needed).
    assert soon.metadata["sla_status"] == dg.TextMetadataValue("NO_DATA")
    # The third run sees the earlier freshness evaluations: stale for the 3 h between them.
    assert latest.metadata["availability_percent"] == dg.FloatMetadataValue(0.0)
    assert latest.metadata["compliance_percent"] == dg.FloatMetadataValue(
        0.0
    )  # None if nothing were measured
    assert latest.metadata["sla_status"] == dg.TextMetadataValue("FAIL")


def _latest(instance, key: dg.AssetCheckKey) -> dg.AssetCheckEvaluation:
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    return record.evaluation


def test_run_failure_sensor_alerts(location):
    definitions, _, slack, pd = location

    @dg.op
    def broken():
        raise RuntimeError("disk full")

    @dg.job(name="nightly_load")
    def nightly_load():
        broken()

    sensor = definitions.resolve_sensor_def("run_failure_alert_sensor")
    with dg.instance_for_test() as instance:
        result = nightly_load.execute_in_process(instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=failure,
        ).for_run_failure()
        sensor(context, **{k: definitions.resources[k] for k in ("slack", "pagerduty")})
    assert len(slack.received) == 1 and slack.received[0]["text"].startswith(
        "Dagster run failed: nightly_load"
    )
    assert pd.received[0]["payload"]["component"] == "nightly_load"  # a critical pipeline pages


def test_report_job_writes_markdown_and_json(location):
    definitions, tmp_path, *_ = location
    with dg.instance_for_test() as instance:
        assert (
            definitions.resolve_job_def("sla_report_job")
            .execute_in_process(instance=instance)
            .success
        )
    folder = tmp_path / "artifacts" / "sla"
    assert (folder / "sla-report.md").read_text().startswith("# SLA report")
    assert json.loads((folder / "sla-report.json").read_text())["summary"]["total_checks"] == 3
    schedules = {s.name: s.cron_schedule for s in definitions.get_repository_def().schedule_defs}
    assert schedules["sla_report_job_schedule"] == "0 6 * * *"
    assert os.environ["ORCHESTRATION_UTILS_SLA_CONFIG"]


def test_check_names_are_valid_unique_and_stable():
    from orchestration_utils.dagster_defs.sla import check_names

    names = [
        "orders_fresh",
        "project.dataset.events freshness",
        "a.b",
        "a-b",
        "a_b",
        "my-project.d.t quality",
    ]
    checks = check_names(names)
    assert checks["orders_fresh"] == "sla_orders_fresh"
    assert checks["project.dataset.events freshness"] == "sla_project_dataset_events_freshness"
    assert len(set(checks.values())) == len(names)  # a.b, a-b and a_b would all be sla_a_b
    assert all(dg._core.definitions.utils.is_valid_name(c) for c in checks.values())
    assert check_names(reversed(names)) == checks  # the same names give the same checks
    assert checks["a.b"].startswith("sla_a_b_") and checks["a_b"].startswith("sla_a_b_")


def test_an_sla_with_nothing_measured_yet_is_a_warning_saying_so(location):
    """The first availability evaluation has no history to measure: NO_DATA, as in the CLI's
    report; no green check, a warning (even for a critical SLA) that says there is no data yet."""
    definitions, *_ = location
    with dg.instance_for_test() as instance:
        assert (
            definitions.resolve_job_def("sla_checks_job")
            .execute_in_process(instance=instance)
            .success
        )
        key = dg.AssetCheckKey(
            dg.AssetKey(["warehouse", "lake", "landing", "clicks"]), "sla_clicks_available"
        )
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[
            key
        ].evaluation
    assert latest.metadata["sla_status"] == dg.TextMetadataValue("NO_DATA")
    assert not latest.passed and latest.severity == dg.AssetCheckSeverity.WARN
    assert latest.description.startswith("no data yet: no freshness evaluations")

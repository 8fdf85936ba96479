"""SLAs in the code location: checks per SLA, the sensor's evaluations recorded in the instance
(and read back as history), its alerts sent once across ticks, the run-failure sensor, the report job."""

import json
import os

import dagster as dg
import duckdb
import pytest

from orchestration_utils_tests.sla.alert_servers import pagerduty, slack_webhook


@pytest.fixture
def location(demo_manifest, tmp_path, monkeypatch):
    warehouse = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA landing")
    con.execute("CREATE TABLE landing.clicks AS SELECT TIMESTAMP '2026-01-01 00:00:00' AS ts")  # long stale
    con.close()
    config = tmp_path / "sla-config.json"
    config.write_text(json.dumps({
        "warehouse": f"duckdb://{warehouse}",
        "pipelines": [{"name": "nightly_load", "critical": True,
                       "completion_time_sla": {"name": "nightly_on_time", "target_duration_minutes": 5}}],
        "tables": [{"table_id": "lake.landing.clicks",
                    "freshness_sla": {"name": "clicks_fresh", "critical": True, "timestamp_column": "ts",
                                      "max_age_hours": 1},
                    "availability_sla": {"name": "clicks_available", "target_availability": 99}}],
        "alerts": {"timeout_seconds": 2},
    }))
    slack, pd = slack_webhook(), pagerduty()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{slack.url}/services/T/B/secret")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "k" * 32)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", f"{pd.url}/v2/enqueue")
    env = {"ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest), "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
           "ORCHESTRATION_UTILS_SLA_CONFIG": str(config), "ORCHESTRATION_UTILS_HEALTH_CONFIG": "",
           "ORCHESTRATION_UTILS_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from orchestration_utils.definitions import defs

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    yield definitions, tmp_path, slack, pd
    slack.close()
    pd.close()


def test_the_sensor_records_evaluations_and_alerts_once(location):
    definitions, _, slack, pd = location
    sensor = definitions.resolve_sensor_def("sla_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        cursor = None
        for _ in range(3):  # three ticks, as the daemon runs them
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions))
            for event in result.asset_events:
                instance.report_runless_asset_event(event)
            cursor = result.cursor
        key = dg.AssetCheckKey(dg.AssetKey(["warehouse", "lake", "landing", "clicks"]), "sla_clicks_fresh")
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
        assert len(history) == 3 and not history[0].evaluation.passed
        assert history[0].evaluation.metadata["sla_status"] == dg.TextMetadataValue("FAIL")
        assert isinstance(history[0].evaluation.metadata["hours_stale"], dg.FloatMetadataValue)
    # Tick 1: two violations, one grouped Slack message and a page per critical SLA. Tick 2: the
    # availability SLA now has measured (stale) time and triggers. Tick 3: nothing new to say.
    assert len(slack.received) == 2
    assert slack.received[0]["text"].startswith("SLA: 2 SLA violations\nVIOLATED (critical): clicks_fresh")
    assert slack.received[1]["text"].startswith("SLA: 1 SLA violation\nVIOLATED: clicks_available")
    assert sorted(e["dedup_key"] for e in pd.received) == ["orchestration-utils/sla/clicks_fresh",
                                                          "orchestration-utils/sla/nightly_on_time"]
    assert "secret" not in cursor and "k" * 32 not in cursor


def test_history_in_the_instance_feeds_availability(location):
    definitions, *_ = location
    with dg.instance_for_test() as instance:
        job = definitions.resolve_job_def("sla_checks_job")
        assert job.execute_in_process(instance=instance).success  # failing SLAs never fail the run
        assert job.execute_in_process(instance=instance).success
        key = dg.AssetCheckKey(dg.AssetKey(["warehouse", "lake", "landing", "clicks"]), "sla_clicks_available")
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key].evaluation
    # The second run sees the first run's freshness evaluation: stale for the time between them.
    assert latest.metadata["availability_percent"] == dg.FloatMetadataValue(0.0)
    assert latest.metadata["compliance_percent"] == dg.FloatMetadataValue(0.0)  # None if nothing were measured
    assert latest.metadata["sla_status"] == dg.TextMetadataValue("FAIL")


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
            sensor_name="run_failure_alert_sensor", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=failure).for_run_failure()
        sensor(context)
    assert len(slack.received) == 1 and slack.received[0]["text"].startswith("Dagster run failed: nightly_load")
    assert pd.received[0]["payload"]["component"] == "nightly_load"  # a critical pipeline pages


def test_report_job_writes_markdown_and_json(location):
    definitions, tmp_path, *_ = location
    with dg.instance_for_test() as instance:
        assert definitions.resolve_job_def("sla_report_job").execute_in_process(instance=instance).success
    folder = tmp_path / "artifacts" / "sla"
    assert (folder / "sla-report.md").read_text().startswith("# SLA report")
    assert json.loads((folder / "sla-report.json").read_text())["summary"]["total_checks"] == 3
    schedules = {s.name: s.cron_schedule for s in definitions.get_repository_def().schedule_defs}
    assert schedules["sla_report_job_schedule"] == "0 6 * * *"
    assert os.environ["ORCHESTRATION_UTILS_SLA_CONFIG"]


def test_check_names_are_valid_unique_and_stable():
    from orchestration_utils.dagster_defs.sla import check_names

    names = ["orders_fresh", "project.dataset.events freshness", "a.b", "a-b", "a_b", "my-project.d.t quality"]
    checks = check_names(names)
    assert checks["orders_fresh"] == "sla_orders_fresh"
    assert checks["project.dataset.events freshness"] == "sla_project_dataset_events_freshness"
    assert len(set(checks.values())) == len(names)  # a.b, a-b and a_b would all be sla_a_b
    assert all(dg._core.definitions.utils.is_valid_name(c) for c in checks.values())
    assert check_names(reversed(names)) == checks  # the same names give the same checks
    assert checks["a.b"].startswith("sla_a_b_") and checks["a_b"].startswith("sla_a_b_")

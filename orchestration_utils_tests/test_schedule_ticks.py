"""Every schedule and sensor of the demo code location, ticked the way the daemon ticks it
(`evaluate_tick` on a real instance at a chosen scheduled time), with the run requests each must
produce. A schedule or sensor added without an expectation here fails the test."""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

AT = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def defs(demo_manifest, demo_sqlmesh_project):
    os.environ["ORCHESTRATION_UTILS_DBT_MANIFEST"] = str(demo_manifest)
    os.environ["ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR"] = str(demo_sqlmesh_project)
    try:
        from orchestration_utils.definitions import defs as load

        yield load()
    finally:
        os.environ.pop("ORCHESTRATION_UTILS_DBT_MANIFEST")
        os.environ.pop("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR")


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


# Schedule -> (job, tick time, partition keys requested, or the skip); None: one unpartitioned run.
# Named for the schedule value; split by partitions definition (the two hourly ones by their first
# partition). A schedule whose assets are exactly a layer job's launches that job.
PROJECT_SCHEDULES = {
    "daily_schedule": (
        "daily_assets_job",
        [(AT, ["2026-06-30"]), (datetime(2026, 7, 2, tzinfo=UTC), ["2026-07-01"])],
    ),
    "hourly_schedule": ("hourly_assets_job", [(AT, None)]),
    "hourly_by_hour_from_2026_01_01_schedule": (
        "shop_marts_layer_hourly",
        [(AT, ["2026-07-01-09:00"]), (datetime(2026, 1, 1, tzinfo=UTC), "skip")],
    ),
    # The demo's hourly dbt model starts 2026-11-01: before that nothing is complete.
    "hourly_by_hour_from_2026_11_01_schedule": (
        "marts_layer_hourly",
        [(AT, "skip"), (datetime(2026, 11, 3, 10, tzinfo=UTC), ["2026-11-03-09:00"])],
    ),
}
# What each schedule's job materializes (it says so in its description too).
SCHEDULE_ASSETS = {
    "hourly_schedule": {
        "intermediate/int_event_hours",
        "shop_staging/stg_events",
        "staging/stg_events",
    },
    "hourly_by_hour_from_2026_01_01_schedule": {"shop_marts/fct_events_hourly"},
    "hourly_by_hour_from_2026_11_01_schedule": {"marts/fct_events"},
}
# Owned by the health and SLA wiring, whose configuration is changing: only generic facts.
MONITOR_PREFIXES = ("health_", "sla_")
SENSORS = {"project_automation_sensor", "sla_sensor", "run_failure_alert_sensor"}


def _tick(schedule, instance, repo, at):
    return schedule.evaluate_tick(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=repo
        )
    )


def test_every_schedule_has_an_expectation(defs):
    names = {s.name for s in defs.schedules}
    unexpected = {n for n in names - set(PROJECT_SCHEDULES) if not n.startswith(MONITOR_PREFIXES)}
    assert not unexpected, f"schedules without an expectation in this test: {sorted(unexpected)}"
    assert set(PROJECT_SCHEDULES) <= names


def test_project_schedules_request_the_latest_complete_partition(defs, instance):
    repo = defs.get_repository_def()
    schedules = {s.name: s for s in defs.schedules}
    for name, (job_name, ticks) in PROJECT_SCHEDULES.items():
        schedule = schedules[name]
        assert schedule.job_name == job_name
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        job = repo.get_job(schedule.job_name)
        keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
        if name in SCHEDULE_ASSETS:
            assert keys == SCHEDULE_ASSETS[name], name
        assert all(key in schedule.description for key in sorted(keys)[:10]), name
        for at, expected in ticks:
            result = _tick(schedule, instance, repo, at)
            requests = list(result.run_requests or [])
            if expected == "skip":
                assert not requests and "no partition is complete" in result.skip_message, (
                    name,
                    at,
                )
            elif expected is None:
                assert job.partitions_def is None
                assert [(r.partition_key, r.job_name) for r in requests] == [(None, None)], (
                    name,
                    at,
                )
            else:
                assert [r.partition_key for r in requests] == expected, (name, at)
                window = job.partitions_def.time_window_for_partition_key(expected[0])
                assert (
                    window.end <= at < window.end + (window.end - window.start)
                )  # the latest complete one


def test_monitor_schedules_tick_without_error(defs, instance):
    repo = defs.get_repository_def()
    for schedule in defs.schedules:
        if not schedule.name.startswith(MONITOR_PREFIXES):
            continue
        assert repo.get_job(schedule.job_name) is not None
        result = _tick(schedule, instance, repo, AT)
        for request in result.run_requests or []:
            assert request.job_name in (None, schedule.job_name)


def test_every_sensor_has_an_expectation(defs):
    assert {s.name for s in defs.sensors} == SENSORS


def test_monitor_sensors_tick_twice_without_error(defs, instance):
    """As the daemon does: the cursor of one tick goes to the next."""
    for sensor in defs.sensors:
        if sensor.name == "project_automation_sensor":
            continue
        cursor = None
        requested = []
        for _ in range(2):
            # The daemon hands a sensor the location's resources (the SLA sensor's alert channels).
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
            )
            result = sensor.evaluate_tick(context)
            requested += [
                (r.job_name or sensor.job_name, r.run_key) for r in result.run_requests or []
            ]
            cursor = result.cursor
        # The SLA sensor hands its work to a run, under one run key per interval (the daemon
        # launches a key once); the others alert in the tick.
        expected = {"sla_evaluation_job"} if sensor.name == "sla_sensor" else set()
        assert {job for job, _ in requested} == expected, sensor.name
        assert len({key for _, key in requested}) == len(expected), sensor.name


def test_automation_sensor_requests_the_assets_whose_cron_tick_passed(defs, instance):
    """The automation sensor is evaluated by the daemon's asset evaluation, not as a user sensor:
    the same evaluation, over its whole project. Before midnight nothing runs; after it, daily
    and hourly assets only (2026-07-02 is a Thursday, not the first of a month), among them every
    one with no upstream this location builds."""
    from orchestration_utils.dagster_assets.specs import SCHEDULE_METADATA_KEY

    sensor = next(s for s in defs.sensors if s.name == "project_automation_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    midnight = datetime(2026, 7, 2, tzinfo=UTC)
    first = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=midnight - timedelta(minutes=1)
    )
    assert first.total_requested == 0
    second = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=first.cursor,
        evaluation_time=midnight + timedelta(minutes=1),
    )
    requested = {r.key for r in second.results if r.true_subset.size}
    crons = {s.key: s.metadata.get(SCHEDULE_METADATA_KEY) for s in defs.resolve_all_asset_specs()}
    due = {k for k, cron in crons.items() if cron in ("0 0 * * *", "0 * * * *")}
    graph = defs.resolve_asset_graph()
    roots = {
        k for k in due if not any(graph.get(p).is_materializable for p in graph.get(k).parent_keys)
    }
    assert roots and roots <= requested <= due

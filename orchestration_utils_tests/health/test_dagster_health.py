"""Health checks in the code location: checks on project assets and on observed warehouse tables,
run by their jobs in a real Dagster instance, with numeric metadata and failed runs counted."""

import json
import os

import dagster as dg
import duckdb
import jsonschema
import pytest

from orchestration_utils.health.report import SCHEMA_PATH


@pytest.fixture
def location(demo_manifest, tmp_path):
    """The demo dbt project plus two tables outside it, in a DuckDB file of their own."""
    warehouse = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA landing")
    con.execute("CREATE TABLE landing.clicks AS SELECT now()::TIMESTAMP AS ts, 1 AS id")
    con.execute("CREATE TABLE landing.empty (id INTEGER)")
    con.close()
    config = tmp_path / "health-config.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "tables": [
                    {
                        "table_id": "lake.landing.clicks",
                        "critical": True,
                        "freshness": {"max_age_hours": 1, "timestamp_column": "ts"},
                        "row_count": {"min_rows": 1},
                    },
                    {"table_id": "lake.landing.empty", "row_count": {"min_rows": 1}},
                    {"table_id": "shop.marts.fct_orders", "row_count": {"min_rows": 1}},
                ],
                "check_failures": True,
                "schedule": {"critical_cron": "*/5 * * * *", "default_cron": "30 * * * *"},
            }
        )
    )
    env = {
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_HEALTH_CONFIG": str(config),
        "ORCHESTRATION_UTILS_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }
    os.environ.update(env)
    try:
        from orchestration_utils.definitions import defs

        definitions = defs()
        dg.Definitions.validate_loadable(definitions)
        yield definitions, tmp_path
    finally:
        for key in env:
            os.environ.pop(key)


def test_checks_attach_to_project_assets_and_observed_tables(location):
    definitions, _ = location
    graph = definitions.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {
        ("warehouse/lake/landing/clicks", "freshness"),
        ("warehouse/lake/landing/clicks", "row_count"),
        ("warehouse/lake/landing/empty", "row_count"),
        ("marts/fct_orders", "row_count"),
        ("marts/fct_orders", "schema_drift"),
        ("warehouse/jobs", "failed_jobs"),
    } <= checks
    assert graph.get(dg.AssetKey(["warehouse", "lake", "landing", "clicks"])).is_observable
    # Each check says what it measures: the data's newest time, not the last materialization.
    specs = {
        (s.asset_key.to_user_string(), s.name): s
        for d in definitions.asset_checks or ()
        for s in d.check_specs
    }
    fresh = specs[("warehouse/lake/landing/clicks", "freshness")].description
    assert (
        "newest `ts` value" in fresh
        and "not of the last materialization" in fresh
        and "1 h" in fresh
    )
    assert "at least 1" in specs[("marts/fct_orders", "row_count")].description
    schedules = {
        s.name: (s.cron_schedule, s.default_status)
        for s in definitions.get_repository_def().schedule_defs
    }
    assert schedules["health_checks_critical_job_schedule"] == (
        "*/5 * * * *",
        dg.DefaultScheduleStatus.RUNNING,
    )
    assert schedules["health_checks_job_schedule"] == (
        "30 * * * *",
        dg.DefaultScheduleStatus.RUNNING,
    )


def test_jobs_record_evaluations_observations_and_failed_runs(location):
    definitions, tmp_path = location

    @dg.op
    def broken():
        raise RuntimeError("boom")

    @dg.job
    def nightly_load():
        broken()

    with dg.instance_for_test() as instance:
        assert not nightly_load.execute_in_process(instance=instance, raise_on_error=False).success
        critical = definitions.resolve_job_def("health_checks_critical_job").execute_in_process(
            instance=instance
        )
        standard = definitions.resolve_job_def("health_checks_job").execute_in_process(
            instance=instance
        )
        assert critical.success and standard.success  # failing checks never fail the run

        def evaluation(asset: list[str], check: str):
            key = dg.AssetCheckKey(dg.AssetKey(asset), check)
            record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
            return record.event.dagster_event.event_specific_data

        fresh = evaluation(["warehouse", "lake", "landing", "clicks"], "freshness")
        assert fresh.passed and isinstance(fresh.metadata["hours_stale"], dg.FloatMetadataValue)
        empty = evaluation(["warehouse", "lake", "landing", "empty"], "row_count")
        assert not empty.passed and empty.metadata["row_count"] == dg.IntMetadataValue(0)
        # The reason is the description (the check history's column); the limit is text, not a plot.
        assert empty.description.startswith("FAIL: ") and "min_rows 1" in empty.description
        assert empty.metadata["min_rows"] == dg.TextMetadataValue("1")
        assert isinstance(
            fresh.metadata["max_age_hours"], dg.TextMetadataValue
        ) and fresh.description.startswith("PASS")
        # A failing check's reason is in the run's log, not only "did not pass".
        logged = [e.message for e in instance.all_logs(standard.run_id) if e.level >= 30]
        assert any("row_count of warehouse/lake/landing/empty: FAIL: " in m for m in logged)
        assert (
            evaluation(["marts", "fct_orders"], "row_count").passed is False
        )  # its catalog is not in this warehouse: ERROR
        failed = evaluation(["warehouse", "jobs"], "failed_jobs")
        assert not failed.passed and failed.metadata["failed_dagster_runs"] == dg.IntMetadataValue(
            1
        )

        observed = instance.get_latest_data_version_record(
            dg.AssetKey(["warehouse", "lake", "landing", "clicks"])
        )
        assert observed is not None

        report = definitions.resolve_job_def("health_report_job").execute_in_process(
            instance=instance
        )
        assert report.success
        written = json.loads((tmp_path / "artifacts" / "health" / "health-report.json").read_text())
        assert written["summary"]["total_checks"] == len(written["checks"]) >= 5
        jsonschema.validate(
            written, json.loads(SCHEMA_PATH.read_text())
        )  # the CLI's report, same shape


def test_health_runs_carry_the_run_queue_tag(location):
    definitions, _ = location
    for job in ("health_checks_critical_job", "health_checks_job", "health_report_job"):
        assert definitions.resolve_job_def(job).tags["orchestration_utils/kind"] == "health"


def test_checks_split_by_dataset_and_bounded_size(tmp_path, monkeypatch):
    """A large config loads as many small definitions (one per dataset, at most
    CHECKS_PER_DEFINITION tables each) with the same check names, and one job runs them all: a table
    the warehouse cannot describe gets its checks' ERROR, not a step skipped for a missing observation."""
    from orchestration_utils.dagster_defs import health
    from orchestration_utils.dagster_defs.resources import ArtifactsResource
    from orchestration_utils.settings import load_settings

    monkeypatch.setattr(health, "CHECKS_PER_DEFINITION", 3)
    # One dataset name in two catalogs still gets distinct definitions.
    tables = [
        {"table_id": f"{db}.sales.t{i}", "row_count": {"min_rows": 1}}
        for db in ("lake", "pond")
        for i in range(7)
    ]
    config = tmp_path / "health.json"
    config.write_text(
        json.dumps({"warehouse": f"duckdb://{tmp_path / 'none.duckdb'}", "tables": tables})
    )
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", "")
    monkeypatch.setenv("ORCHESTRATION_UTILS_HEALTH_CONFIG", str(config))
    defs = health.build_health_defs(load_settings(), dg.Definitions())
    checks_defs = list(defs.asset_checks)
    assert len(checks_defs) == 6 and all(len(list(d.check_keys)) <= 3 for d in checks_defs)
    assert len({d.node_def.name for d in checks_defs}) == 6
    keys = {
        (k.asset_key.path[-3], k.asset_key.path[-1], k.name)
        for d in checks_defs
        for k in d.check_keys
    }
    assert keys == {(db, f"t{i}", "row_count") for db in ("lake", "pond") for i in range(7)}
    with dg.instance_for_test() as instance:
        artifacts = dg.Definitions(
            resources={"artifacts": ArtifactsResource(output_dir=str(tmp_path))}
        )
        job = dg.Definitions.merge(defs, artifacts).resolve_job_def("health_checks_job")
        result = job.execute_in_process(instance=instance)
        evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 14 and all(
        not e.passed and e.description.startswith("ERROR: ") for e in evaluations
    )

"""The whole code location loads, and its asset graph is what the demo's metadata says."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils_tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def defs(demo_manifest, demo_sqlmesh_project):
    os.environ["ORCHESTRATION_UTILS_DBT_MANIFEST"] = str(demo_manifest)
    os.environ["ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR"] = str(demo_sqlmesh_project)
    try:
        from orchestration_utils.definitions import defs as load

        definitions = load()
        dg.Definitions.validate_loadable(definitions)
        yield definitions
    finally:
        os.environ.pop("ORCHESTRATION_UTILS_DBT_MANIFEST")
        os.environ.pop("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR")


def _spec_row(spec: dg.AssetSpec) -> dict:
    fp = spec.freshness_policy
    return {
        "key": spec.key.to_user_string(),
        "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
        "group": spec.group_name,
        "owners": list(spec.owners),
        "tags": {k: v for k, v in sorted(spec.tags.items())},
        "partitions": type(spec.partitions_def).__name__ if spec.partitions_def else None,
        "freshness_fail_hours": fp.fail_window.to_timedelta().total_seconds() / 3600
        if fp
        else None,
        "automation": spec.automation_condition.get_label() if spec.automation_condition else None,
    }


def test_asset_specs_snapshot(defs, snapshot):
    rows = sorted((_spec_row(s) for s in defs.resolve_all_asset_specs()), key=lambda r: r["key"])
    assert rows == snapshot


def test_groups_partitions_and_freshness_follow_metadata(defs):
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    dbt_groups = {s.group_name for s in specs.values() if "dagster/kind/dbt" in s.tags}
    assert dbt_groups == {"raw", "staging", "intermediate", "marts", "snapshots"}
    assert isinstance(specs["marts/fct_orders"].partitions_def, dg.DailyPartitionsDefinition)
    assert isinstance(specs["marts/fct_events"].partitions_def, dg.HourlyPartitionsDefinition)
    assert specs["marts/dim_customers"].partitions_def is None
    assert (
        specs["marts/fct_orders"].freshness_policy.fail_window.to_timedelta().total_seconds()
        == 24 * 3600
    )
    # "analytics" is no valid Dagster owner; it must load as a team.
    assert specs["marts/dim_customers"].owners == ["team:analytics"]
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert "unique_fct_orders_order_id" in checks


def test_layer_jobs_exist_and_run_in_dependency_order(defs):
    from orchestration_utils.dagster_defs.jobs import layer_jobs_in_order

    order = [name for name, _ in layer_jobs_in_order(defs)]
    assert (
        order.index("raw_layer") < order.index("staging_layer") < order.index("marts_layer_daily")
    )
    assert order.index("marts_layer_daily") < order.index(
        "marts_layer"
    )  # fct_daily_revenue reads fct_orders
    for name in order:
        defs.resolve_job_def(name)


def test_dagster_cli_validates_the_code_location(demo_manifest, tmp_path):
    env = {
        **os.environ,
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        "DAGSTER_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_sqlmesh_models_are_assets_grouped_by_schema_with_audits_as_checks(defs):
    specs = {
        s.key.to_user_string(): s
        for s in defs.resolve_all_asset_specs()
        if "dagster/kind/sqlmesh" in s.tags
    }
    assert set(specs) == {
        "shop_raw/raw_orders",
        "shop_raw/raw_events",
        "shop_staging/stg_orders",
        "shop_staging/stg_events",
        "shop_marts/fct_orders_daily",
        "shop_marts/fct_events_hourly",
        "shop_marts/dim_customer_activity",
    }
    orders = specs["shop_marts/fct_orders_daily"]
    assert orders.group_name == "shop_marts" and orders.owners == ["orders-team@example.com"]
    assert isinstance(orders.partitions_def, dg.DailyPartitionsDefinition)
    assert orders.freshness_policy.fail_window.to_timedelta().total_seconds() == 24 * 3600
    assert orders.automation_condition.get_label() == "on_cron(0 0 * * *, UTC)"
    assert [d.asset_key.to_user_string() for d in orders.deps] == ["shop_staging/stg_orders"]
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    assert ("shop_marts/fct_orders_daily", "unique_values_order_date") in checks


def test_schedules_per_schedule_value_and_the_automation_sensor(defs):
    repo = defs.get_repository_def()
    schedules = {s.name: s.cron_schedule for s in repo.schedule_defs}
    assert schedules["daily_schedule"] == "0 0 * * *"
    assert schedules["hourly_schedule"] == "0 * * * *"
    daily_job = repo.get_job("daily_assets_job")
    keys = {k.to_user_string() for k in daily_job.asset_layer.executable_asset_keys}
    assert "marts/dim_customers" in keys and "staging/stg_events" not in keys
    assert "project_automation_sensor" in {s.name for s in repo.sensor_defs}


def test_loading_leaves_the_garbage_collector_on_even_when_the_project_is_bad(
    tmp_path, monkeypatch
):
    import gc

    from orchestration_utils.definitions import defs as load

    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(bad))
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    with pytest.raises(Exception, match="invalid JSON"):
        load()
    assert gc.isenabled()  # paused only while building (definitions.py)


def test_project_runs_carry_the_tags_the_run_queue_limits(defs, demo_sqlmesh_project):
    """Every job that builds project assets names its project in the tag deploy/dagster.yaml
    limits (one dbt build per project at a time); jobs of dbt assets only never name SQLMesh."""
    import yaml

    from orchestration_utils.dagster_assets.specs import KIND_TAG_KEY, PROJECT_TAG_KEYS
    from orchestration_utils.dagster_defs.jobs import layer_jobs

    repo = defs.get_repository_def()
    project_jobs = [
        *layer_jobs(defs),
        *(s.job_name for s in repo.schedule_defs if s.job_name.endswith("_assets_job")),
    ]
    assert "marts_layer_daily" in project_jobs and "daily_assets_job" in project_jobs
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    for name in project_jobs:
        job = repo.get_job(name)
        kinds = {
            k
            for key in job.asset_layer.executable_asset_keys
            for k in PROJECT_TAG_KEYS
            if f"dagster/kind/{k}" in specs[key].tags
        }
        assert (
            kinds and {k for k in PROJECT_TAG_KEYS if PROJECT_TAG_KEYS[k] in job.tags} == kinds
        ), name
    assert repo.get_job("marts_layer_daily").tags[PROJECT_TAG_KEYS["dbt"]] == "shop"
    assert (
        repo.get_job("shop_marts_layer").tags[PROJECT_TAG_KEYS["sqlmesh"]]
        == demo_sqlmesh_project.resolve().name
    )

    limits = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["concurrency"]["runs"]
    limited = {limit["key"] for limit in limits["tag_concurrency_limits"]}
    assert {*PROJECT_TAG_KEYS.values(), KIND_TAG_KEY} <= limited


def test_a_load_builds_once_and_a_changed_input_rebuilds(defs, tmp_path, monkeypatch):
    """Dagster calls the `@dg.definitions` function twice per load; the second call reuses the
    first's build. A changed health config or environment variable builds anew."""
    from orchestration_utils import definitions
    from orchestration_utils.settings import DEMO_HEALTH_CONFIG

    config = tmp_path / "health-config.json"
    config.write_text(DEMO_HEALTH_CONFIG.read_text())
    monkeypatch.setenv("ORCHESTRATION_UTILS_HEALTH_CONFIG", str(config))
    first = definitions.defs()
    assert definitions.defs() is first

    config.write_text(DEMO_HEALTH_CONFIG.read_text().replace('"tables"', '"tables" ', 1))
    edited = definitions.defs()
    assert edited is not first and definitions.defs() is edited

    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "rk-test")
    assert definitions.defs() is not edited


def test_a_build_is_reused_only_while_what_it_read_is_unchanged(tmp_path, monkeypatch):
    """The inputs of a build: the config files' contents (read before the build), the
    environment, and the settings as the working directory resolves them."""
    from orchestration_utils.definitions import build_once

    config = tmp_path / "sla-config.json"
    config.write_text('{"slas": [1]}')
    monkeypatch.setenv("ORCHESTRATION_UTILS_SLA_CONFIG", str(config))
    builds = []

    def build(settings):
        builds.append(settings)
        return dg.Definitions()

    first = build_once("test", build)
    assert build_once("test", build) is first and len(builds) == 1

    # The same size and modification time (`cp -p`, `touch -r`, `rsync -t`): the contents decide.
    stat = config.stat()
    config.write_text('{"slas": [2]}')
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = build_once("test", build)
    assert second is not first and len(builds) == 2

    # Edited while the build ran: the next call builds again.
    def edits_during_build(settings):
        config.write_text('{"slas": [3]}')
        return build(settings)

    config.write_text('{"slas": [4]}')
    during = build_once("test", edits_during_build)
    assert build_once("test", build) is not during and len(builds) == 4

    # A relative setting resolves against the working directory.
    monkeypatch.setenv("ORCHESTRATION_UTILS_ARTIFACTS_DIR", "artifacts")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    build_once("test", build)
    monkeypatch.chdir(tmp_path / "b")
    build_once("test", build)
    assert [s.artifacts_dir.parent.name for s in builds[-2:]] == ["a", "b"]


def test_a_build_that_sets_variables_is_still_reused(tmp_path, monkeypatch):
    """The build may set variables (dbt's directory on PATH, the project's DuckDB paths): the
    environment it leaves is the one the next call compares with. A FIFO as a config file is not
    read (it would block): the build says what is wrong with it."""
    from orchestration_utils.definitions import build_once

    fifo = tmp_path / "health-config.json"
    os.mkfifo(fifo)
    monkeypatch.setenv("ORCHESTRATION_UTILS_HEALTH_CONFIG", str(fifo))
    monkeypatch.setenv("PATH", os.environ["PATH"])
    builds = []

    def build(settings):
        os.environ["PATH"] = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
        builds.append(settings)
        return dg.Definitions()

    first = build_once("sets-variables", build)
    assert build_once("sets-variables", build) is first and len(builds) == 1

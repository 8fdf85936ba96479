"""Configuration that does what it says: a manifest runs in its own project, or the location stops
with one line saying what to set; the demo's monitors never attach to a user's project; a dbt run
that builds nothing fails."""

import json
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils.errors import ProjectError
from orchestration_utils_tests.conftest import dbt_parse


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))  # no ~/.dbt/profiles.yml of the machine's
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    for var in (
        "ORCHESTRATION_UTILS_DBT_MANIFEST",
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR",
        "DBT_PROFILES_DIR",
        "ORCHESTRATION_UTILS_HEALTH_CONFIG",
        "ORCHESTRATION_UTILS_SLA_CONFIG",
    ):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def _load() -> dg.Definitions:
    from orchestration_utils.definitions import defs

    return defs()


def _without_profiles(root: Path, tmp_path: Path) -> Path:
    """A copy of the project at `root` (its dbt_project.yml and models) without its profiles.yml."""
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("dbt_project.yml", "models"):
        subprocess.run(["cp", "-r", str(root / name), str(bare / name)], check=True)
    return bare


def _materialized_by_a_run(defs: dg.Definitions) -> list[str]:
    """The assets a real run of `orders_total` materializes."""
    job = dg.define_asset_job("one", selection=["orders_total"])
    with dg.instance_for_test() as instance:
        result = (
            dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
            .resolve_job_def("one")
            .execute_in_process(instance=instance)
        )
    return [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]


@pytest.fixture(scope="module")
def orders_project(tmp_path_factory) -> tuple[Path, Path]:
    """A dbt project of our own (not the demo) on DuckDB, parsed by real dbt: (dir, manifest)."""
    root = tmp_path_factory.mktemp("orders_project")
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        "name: orders\nversion: '1.0'\nconfig-version: 2\nprofile: orders\n"
    )
    (root / "profiles.yml").write_text(
        f"orders:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {root / 'orders.duckdb'}\n"
    )
    (root / "models" / "orders_total.sql").write_text("select 1 as order_id, 9.5 as total\n")
    dbt_parse(root, root / "target")
    return root, root / "target" / "manifest.json"


def test_a_manifest_alone_is_refused_naming_the_setting(env, orders_project):
    _, manifest = orders_project
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    with pytest.raises(ProjectError) as err:
        _load()
    message = str(err.value)
    assert (
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR" in message
        and "'shop'" in message
        and "\n" not in message
    )


def test_a_manifest_with_dbt_disabled_is_refused(env, orders_project):
    _, manifest = orders_project
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", "")
    with pytest.raises(ProjectError, match="ORCHESTRATION_UTILS_DBT_PROJECT_DIR is empty"):
        _load()


def test_a_project_directory_without_profiles_is_refused(env, orders_project, tmp_path):
    root, manifest = orders_project
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "dbt_project.yml").write_text((root / "dbt_project.yml").read_text())
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(bare))
    with pytest.raises(ProjectError, match="no profiles.yml in .*DBT_PROFILES_DIR"):
        _load()
    env.setenv("DBT_PROFILES_DIR", str(root))  # dbt's own variable names where the profiles are
    assert dg.AssetKey("orders_total") in {s.key for s in _load().resolve_all_asset_specs()}


def test_dbt_disabled_gives_a_clean_location(env):
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", "")
    defs = _load()
    dg.Definitions.validate_loadable(defs)
    assert not list(defs.resolve_all_asset_specs())
    assert not any(
        s.name.startswith(("health_", "sla_"))
        for s in [*(defs.schedules or []), *(defs.sensors or [])]
    )


def test_a_users_project_gets_no_demo_monitors_and_builds_what_it_selects(
    env, orders_project, tmp_path
):
    root, manifest = orders_project
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(root))
    defs = _load()
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        "orders_total"
    }  # no warehouse/shop/..., no pipelines/... from the demo's configs
    assert not any(
        s.name.startswith(("health_", "sla_"))
        for s in [*(defs.schedules or []), *(defs.sensors or [])]
    )
    assert _materialized_by_a_run(defs) == ["orders_total"]


def test_a_relative_profiles_dir_is_the_users_not_the_projects(env, orders_project, tmp_path):
    """`DBT_PROFILES_DIR=profiles` means ./profiles where the user starts the location; dbt runs
    in the project directory, where the same relative path names nothing."""
    root, manifest = orders_project
    bare = _without_profiles(root, tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "profiles.yml").write_text((root / "profiles.yml").read_text())
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(bare))
    env.setenv("DBT_PROFILES_DIR", "elsewhere")
    with pytest.raises(ProjectError) as err:
        _load()
    assert str(err.value).startswith("DBT_PROFILES_DIR=elsewhere: no profiles.yml in ")
    env.setenv("DBT_PROFILES_DIR", "profiles")
    assert _materialized_by_a_run(_load()) == ["orders_total"]


def test_profiles_in_the_users_dbt_folder_are_found_as_dbt_finds_them(
    env, orders_project, tmp_path
):
    """No DBT_PROFILES_DIR and none in the project: dbt reads ~/.dbt/profiles.yml, so do we."""
    root, manifest = orders_project
    bare = _without_profiles(root, tmp_path)
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(bare))
    with pytest.raises(ProjectError, match=r"no profiles.yml in .*bare or ~/.dbt: add one"):
        _load()
    (tmp_path / "user" / ".dbt").mkdir(parents=True)
    (tmp_path / "user" / ".dbt" / "profiles.yml").write_text((root / "profiles.yml").read_text())
    assert _materialized_by_a_run(_load()) == ["orders_total"]


def test_a_dbt_run_that_builds_nothing_fails(env, orders_project, tmp_path):
    """The manifest names a model the project directory no longer holds: dbt says "Nothing to do"
    and exits 0; the run must fail, not report success with nothing built."""
    root, manifest = orders_project
    moved = tmp_path / "orders"
    subprocess.run(["cp", "-r", str(root), str(moved)], check=True)
    (moved / "models" / "orders_total.sql").unlink()
    data = json.loads(manifest.read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    env.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(tmp_path / "manifest.json"))
    env.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(moved))
    defs = dg.Definitions.merge(
        _load(), dg.Definitions(jobs=[dg.define_asset_job("one", selection=["orders_total"])])
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("one").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    assert not result.get_asset_materialization_events()
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "dbt built none of the 1 selected node(s)" in str(
        failure.event_specific_data.error.message
    )


def test_steps_run_in_the_run_worker_on_duckdb_and_in_processes_elsewhere(monkeypatch):
    """A DuckDB file takes one writing process; BigQuery's jobs run side by side."""
    from orchestration_utils.dagster_defs.jobs import run_executor
    from orchestration_utils.settings import load_settings

    monkeypatch.delenv("ORCHESTRATION_UTILS_WAREHOUSE", raising=False)  # the demo's DuckDB file
    assert run_executor(load_settings()).executor is dg.in_process_executor
    monkeypatch.setenv("ORCHESTRATION_UTILS_WAREHOUSE", "bigquery://my-project?location=US")
    assert run_executor(load_settings()).executor is None  # Dagster's multi_or_in_process


def test_the_demo_manifest_is_parsed_again_after_its_project_changes(tmp_path):
    """An updated checkout under an old home: dbt would build a test the stale manifest lacks."""
    import os
    import time

    from orchestration_utils.dagster_defs.dbt_project import _edited_since
    from orchestration_utils.settings import DEMO_DBT_PROJECT

    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    model = next(DEMO_DBT_PROJECT.rglob("*.sql"))
    before = model.stat()
    os.utime(manifest, (time.time() + 3600, time.time() + 3600))
    assert not _edited_since(manifest)
    try:
        os.utime(model, (before.st_atime, time.time() + 7200))
        assert _edited_since(manifest)
    finally:
        os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))

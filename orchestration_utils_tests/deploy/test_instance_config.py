"""deploy/dagster.yaml as Dagster itself reads it, against a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import shutil

import dagster as dg
import pytest
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from orchestration_utils_tests.conftest import REPO

DAGSTER_YAML = REPO / "deploy" / "dagster.yaml"


@pytest.fixture
def deploy_instance(postgres_server, tmp_path, monkeypatch):
    """The shipped dagster.yaml in a fresh DAGSTER_HOME, its variables pointing at a new database."""
    db_name = postgres_server.create_database(f"dagster_{tmp_path.name.lower()}")
    for name, value in postgres_server.env(db_name).items():
        monkeypatch.setenv(name, value)
    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        yield instance, db_name


def test_the_shipped_instance_stores_everything_in_postgres(deploy_instance, postgres_server):
    instance, db_name = deploy_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    run = instance.create_run_for_job(dg.GraphDefinition(name="noop").to_job(), run_id=None)
    with contextlib.closing(postgres_server.connect(db_name)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pipeline_name FROM runs WHERE run_id = %s", (run.run_id,))
        assert cursor.fetchall() == [("noop",)]


def test_runs_are_queued_under_the_shipped_limits(deploy_instance):
    instance, _ = deploy_instance
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    queue = instance.get_concurrency_config().run_queue_config
    limits = {
        (limit["key"], str(limit.get("value"))): limit["limit"]
        for limit in queue.tag_concurrency_limits
    }
    assert limits[("orchestration_utils/dbt_project", "{'applyLimitPerUniqueValue': True}")] == 1
    assert limits[("orchestration_utils/kind", "health")] >= 1
    assert limits[("orchestration_utils/kind", "sla")] >= 1
    assert instance.run_retries_enabled and instance.run_retries_max_retries >= 1


def test_the_default_driver_is_what_the_locked_sqlalchemy_cannot_load(deploy_instance, tmp_path):
    """Why the file names `postgresql+psycopg2`: without it the instance fails to connect."""
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "dagster.yaml").write_text(
        DAGSTER_YAML.read_text().replace("scheme: postgresql+psycopg2", "")
    )
    with pytest.raises(ModuleNotFoundError, match="psycopg"):
        dg.DagsterInstance.from_config(str(bare)).get_runs()

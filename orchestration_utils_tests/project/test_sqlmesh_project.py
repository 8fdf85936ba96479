import pytest

from orchestration_utils.project.model import Layer, ProjectError, ResourceType
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project


def test_demo_sqlmesh_project_maps_kinds_crons_partitions_tags_and_audits(demo_sqlmesh_project):
    project = load_sqlmesh_project(demo_sqlmesh_project)
    nodes = {n.name: n for n in project}
    kinds = {n.materialization for n in project.models()}
    assert {"full", "incremental_by_time_range", "view"} <= kinds
    orders = nodes["shop_marts.fct_orders_daily"]
    assert orders.schedule == "@daily" and orders.layer == Layer.MARTS
    assert (orders.sla_hours, orders.freshness_hours, orders.critical) == (6, 24, True)
    assert orders.tags == ("marts",)  # sla/freshness/critical tags become fields
    assert (orders.partitioning.field, orders.partitioning.granularity) == ("order_date", "day")
    assert nodes["shop_marts.fct_events_hourly"].partitioning.granularity == "hour"
    assert nodes["shop_staging.stg_events"].schedule == "@hourly"
    assert nodes["shop_raw.raw_orders"].resource_type == ResourceType.SEED
    assert {t.name for t in orders.tests} == {"not_null", "unique_values"}
    assert orders.owner == "orders-team@example.com"
    assert (nodes["shop_staging.stg_orders"].unique_id, orders.unique_id) in project.edges()


def test_sqlmesh_project_that_does_not_load_is_one_line(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "config.yaml").write_text("gateways:\n  local:\n    connection:\n      type: duckdb\nmodel_defaults:\n  dialect: duckdb\n")
    (tmp_path / "models" / "broken.sql").write_text("MODEL (name s.broken, kind FULL, cron 'not a cron'); SELECT 1 AS x")
    with pytest.raises(ProjectError) as err:
        load_sqlmesh_project(tmp_path)
    assert str(err.value).startswith(str(tmp_path)) and "\n" not in str(err.value)


def test_missing_sqlmesh_project(tmp_path):
    with pytest.raises(ProjectError, match="SQLMesh project directory not found"):
        load_sqlmesh_project(tmp_path / "nope")
    with pytest.raises(ProjectError, match="not a SQLMesh project"):
        load_sqlmesh_project(tmp_path)

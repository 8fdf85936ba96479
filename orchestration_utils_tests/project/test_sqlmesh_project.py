import pytest

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.model import Layer, ResourceType
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
    (tmp_path / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\nmodel_defaults:\n  dialect: duckdb\n"
    )
    (tmp_path / "models" / "broken.sql").write_text(
        "MODEL (name s.broken, kind FULL, cron 'not a cron'); SELECT 1 AS x"
    )
    with pytest.raises(ProjectError) as err:
        load_sqlmesh_project(tmp_path)
    assert str(err.value).startswith(str(tmp_path)) and "\n" not in str(err.value)


def test_missing_sqlmesh_project(tmp_path):
    with pytest.raises(ProjectError, match="SQLMesh project directory not found"):
        load_sqlmesh_project(tmp_path / "nope")
    with pytest.raises(ProjectError, match="not a SQLMesh project"):
        load_sqlmesh_project(tmp_path)


# --- fidelity to SQLMesh: externals, time zones, starts, units, tags, load errors -------------
import math
from datetime import date, timedelta
from pathlib import Path

_CONFIG = (
    "gateways:\n  local:\n    connection:\n      type: duckdb\n      database: wh.duckdb\n"
    "default_gateway: local\nmodel_defaults:\n  dialect: duckdb\n  start: '2026-01-01'\n"
)


def sqlmesh_project(root: Path, models: dict[str, str]) -> Path:
    """A small SQLMesh project on DuckDB: file name -> model SQL."""
    (root / "models").mkdir(parents=True)
    (root / "config.yaml").write_text(_CONFIG)
    for name, sql in models.items():
        (root / "models" / name).write_text(sql)
    return root


def test_a_table_sqlmesh_treats_as_external_is_a_source(tmp_path):
    project = load_sqlmesh_project(
        sqlmesh_project(
            tmp_path,
            {
                "orders.sql": "MODEL (name mart.orders, kind FULL); SELECT id FROM landing.shop_orders",
            },
        )
    )
    source = project.nodes['"wh"."landing"."shop_orders"']
    assert source.resource_type == ResourceType.SOURCE
    assert (source.database, source.schema, source.identifier) == ("wh", "landing", "shop_orders")
    assert project.nodes['"wh"."mart"."orders"'].depends_on == ('"wh"."landing"."shop_orders"',)


def test_cron_tz_is_kept(tmp_path):
    project = load_sqlmesh_project(
        sqlmesh_project(
            tmp_path,
            {
                "r.sql": "MODEL (name mart.r, kind FULL, cron '30 7 * * 1', cron_tz 'Europe/Berlin'); SELECT 1 AS x",
                "u.sql": "MODEL (name mart.u, kind FULL, cron '@daily'); SELECT 1 AS x",
            },
        )
    )
    assert project.nodes['"wh"."mart"."r"'].schedule == "30 7 * * 1 Europe/Berlin"
    assert project.nodes['"wh"."mart"."u"'].schedule == "@daily"


@pytest.mark.parametrize(
    ("cron", "unit"),
    [
        ("*/5 * * * *", "five_minute"),
        ("*/15 * * * *", "quarter_hour"),
        ("*/30 * * * *", "half_hour"),
        ("@hourly", "hour"),
        ("@daily", "day"),
        ("@monthly", "month"),
        ("@yearly", "year"),
    ],
)
def test_every_interval_unit_becomes_the_partitioning(tmp_path, cron, unit):
    project = load_sqlmesh_project(
        sqlmesh_project(
            tmp_path,
            {
                "e.sql": f"MODEL (name mart.e, kind INCREMENTAL_BY_TIME_RANGE (time_column ts), cron '{cron}');"
                " SELECT @start_ts::TIMESTAMP AS ts",
            },
        )
    )
    assert project.nodes['"wh"."mart"."e"'].partitioning.granularity == unit


def test_relative_start_is_resolved_as_sqlmesh_does(tmp_path):
    project = load_sqlmesh_project(
        sqlmesh_project(
            tmp_path,
            {
                "m.sql": "MODEL (name mart.m, kind INCREMENTAL_BY_TIME_RANGE (time_column ds), start '3 days ago',"
                " cron '@daily'); SELECT @start_ds::DATE AS ds",
            },
        )
    )
    start = date.fromisoformat(project.nodes['"wh"."mart"."m"'].partitioning.start)
    assert date.today() - timedelta(days=4) <= start <= date.today() - timedelta(days=2)


@pytest.mark.parametrize(
    "tag",
    [
        "sla_hours:nan",
        "sla_hours:inf",
        "sla_hours:-1",
        "sla_hours:0",
        "freshness_hours:nan",
        "freshness_hours:-inf",
        "freshness_hours:soon",
    ],
)
def test_hour_tags_must_be_a_positive_number(tmp_path, tag):
    root = sqlmesh_project(
        tmp_path / "proj",
        {
            "f.sql": f"MODEL (name mart.f, kind FULL, tags ['{tag}']); SELECT 1 AS x",
        },
    )
    with pytest.raises(ProjectError) as err:
        load_sqlmesh_project(root)
    assert (
        str(err.value)
        == f"{root}: mart.f: tag '{tag}': expected a positive number of hours up to 87600"
    )


def test_good_hour_tags_are_numbers(tmp_path):
    project = load_sqlmesh_project(
        sqlmesh_project(
            tmp_path,
            {
                "f.sql": "MODEL (name mart.f, kind FULL, tags ['sla_hours:0.5', 'freshness_hours:26']); SELECT 1 AS x",
            },
        )
    )
    node = project.nodes['"wh"."mart"."f"']
    assert (node.sla_hours, node.freshness_hours) == (0.5, 26) and math.isfinite(node.sla_hours)


def test_load_errors_keep_their_cause(tmp_path):
    root = sqlmesh_project(tmp_path, {})
    (root / "models" / "py_model.py").write_text(
        "import no_such_module_for_tests\nfrom sqlmesh import model\n"
    )
    with pytest.raises(ProjectError) as err:
        load_sqlmesh_project(root)
    assert "No module named 'no_such_module_for_tests'" in str(err.value) and "\n" not in str(
        err.value
    )


def test_a_missing_seed_file_is_named(tmp_path):
    root = sqlmesh_project(
        tmp_path,
        {
            "s.sql": "MODEL (name raw.s, kind SEED (path '../seeds/missing.csv')); ",
        },
    )
    with pytest.raises(ProjectError) as err:
        load_sqlmesh_project(root)
    assert "No such file or directory" in str(err.value) and "missing.csv" in str(err.value)
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)

"""SQLMesh projects in the live code location, as SQLMesh itself reads and runs them: audits as
they were evaluated, undeclared externals, per-model starts, time zones, distinct names."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.model import Layer, Node, ResourceType, build_project


def _project(root: Path, models: dict[str, str]) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\n"
        f"      database: {root / 'wh.duckdb'}\n"
        "default_gateway: local\nmodel_defaults:\n  dialect: duckdb\n  start: '2026-01-01'\n"
    )
    for name, sql in models.items():
        (root / "models" / name).write_text(sql)
    return root


@pytest.fixture
def location(tmp_path, monkeypatch):
    """The code location over a SQLMesh project of the test's own (dbt off)."""

    def load(models: dict[str, str]) -> dg.Definitions:
        project = _project(tmp_path / "sm", models)
        monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", "")
        monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", str(project))
        monkeypatch.chdir(tmp_path)
        from orchestration_utils.definitions import defs

        definitions = defs()
        dg.Definitions.validate_loadable(definitions)
        return definitions

    return load


def test_audits_report_what_sqlmesh_evaluated(location):
    """A failing non-blocking audit is a failed WARN check with its failing rows; a passing one is
    green; a passing blocking audit is green."""
    defs = location(
        {
            "dim_users.sql": """
MODEL (name mart.dim_users, kind FULL, cron '@daily',
       audits (not_null(columns := (phone), blocking := false), not_null(columns := (id)),
               unique_values(columns := (id), blocking := false)));
SELECT * FROM (VALUES (1, NULL), (2, NULL), (3, '555')) AS t(id, phone)
"""
        }
    )
    job = defs.get_repository_def().get_job("mart_layer")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    phone = checks["not_null_phone"]
    assert (phone.passed, phone.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert phone.metadata["failing_rows"].value == 2
    assert checks["not_null_id"].passed and checks["unique_values_id"].passed


def test_an_undeclared_external_table_is_an_upstream_asset(location):
    defs = location(
        {"stg.sql": "MODEL (name staging.stg_clicks, kind FULL); SELECT id FROM landing.clicks"}
    )
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["staging", "stg_clicks"])
    assert graph.get(key).parent_keys == {dg.AssetKey(["landing", "clicks"])}
    assert not graph.get(dg.AssetKey(["landing", "clicks"])).is_materializable


def test_models_with_different_starts_get_their_own_op(location):
    defs = location(
        {
            "a.sql": "MODEL (name s.a, kind INCREMENTAL_BY_TIME_RANGE (time_column ds), start '2025-03-01',"
            " cron '@daily'); SELECT @start_ds::DATE AS ds",
            "b.sql": "MODEL (name s.b, kind INCREMENTAL_BY_TIME_RANGE (time_column ds), start '2024-06-01',"
            " cron '@daily'); SELECT ds FROM s.a WHERE ds BETWEEN @start_ds AND @end_ds",
            "c.sql": "MODEL (name s.c, kind INCREMENTAL_BY_TIME_RANGE (time_column ds), start '2024-06-01',"
            " cron '@monthly'); SELECT ds FROM s.b WHERE ds BETWEEN @start_ds AND @end_ds",
        }
    )
    ops = sorted(a.node_def.name for a in defs.assets if isinstance(a, dg.AssetsDefinition))
    assert ops == ["sqlmesh_daily_from_20240601", "sqlmesh_daily_from_20250301", "sqlmesh_monthly"]
    graph = defs.resolve_asset_graph()
    first = {
        k.path[-1]: graph.get(k).partitions_def.get_first_partition_key()
        for k in graph.get_all_asset_keys()
        if k.path[0] == "s"
    }
    assert first == {"a": "2025-03-01", "b": "2024-06-01", "c": "2024-06-01"}
    assert dg.AssetKey(["s", "a"]) in graph.get(dg.AssetKey(["s", "b"])).parent_keys


def test_cron_tz_reaches_the_automation_condition_and_the_schedule(location):
    """06:00 in Los Angeles is 13:00Z in July and 14:00Z in December."""
    defs = location(
        {
            "r.sql": "MODEL (name marts.report, kind FULL, cron '0 6 * * *', cron_tz 'America/Los_Angeles');"
            " SELECT 1 AS x"
        }
    )
    spec = next(
        s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(["marts", "report"])
    )
    assert "America/Los_Angeles" in repr(spec.automation_condition)
    schedule = next(
        s for s in defs.schedules if s.name.startswith("cron_0_6_x_x_x_america_los_angeles")
    )
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "0 6 * * *",
        "America/Los_Angeles",
    )
    from dagster._utils.schedules import cron_string_iterator

    for start, due in (
        (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 1, 13, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, 14, tzinfo=UTC)),
    ):
        tick = next(
            cron_string_iterator(
                start.timestamp(), schedule.cron_schedule, schedule.execution_timezone
            )
        )
        assert tick == due


@pytest.mark.parametrize(
    "cron",
    [
        "*/5 * * * *",
        "*/15 * * * *",
        "*/30 * * * *",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
    ],
)
def test_every_unit_partitions_and_schedules(location, cron):
    defs = location(
        {
            "e.sql": f"MODEL (name s.e, kind INCREMENTAL_BY_TIME_RANGE (time_column ts), cron '{cron}');"
            " SELECT @start_ts::TIMESTAMP AS ts"
        }
    )
    repo = defs.get_repository_def()
    (schedule,) = defs.schedules
    partitions = repo.get_job(schedule.job_name).partitions_def
    at = datetime(2027, 7, 1, 10, 0, tzinfo=UTC)  # the models start 2026-01-01: a whole year later
    with dg.instance_for_test() as instance:
        result = schedule.evaluate_tick(
            dg.build_schedule_context(
                instance=instance, scheduled_execution_time=at, repository_def=repo
            )
        )
    (request,) = result.run_requests
    window = partitions.time_window_for_partition_key(request.partition_key)
    assert window.end <= at < window.end + 2 * (window.end - window.start)


def test_two_tables_of_one_name_in_two_catalogs_are_refused():
    from orchestration_utils.dagster_assets.sqlmesh import sqlmesh_specs

    nodes = [
        Node(
            unique_id=f'"{c}"."s"."t"',
            name="s.t",
            resource_type=ResourceType.MODEL,
            layer=Layer.OTHER,
            database=c,
            schema="s",
            identifier="t",
            relation_name=None,
            depends_on=(),
        )
        for c in ("a", "b")
    ]
    with pytest.raises(
        ProjectError, match=r'"a"."s"."t" and "b"."s"."t" would share the Dagster asset key s/t'
    ):
        sqlmesh_specs(build_project("p", "sqlmesh", "p", nodes), "@daily")


def test_audits_that_read_alike_get_distinct_check_names():
    from orchestration_utils.dagster_assets.sqlmesh import audit_check_specs, check_names
    from orchestration_utils.project.model import Test

    tests = tuple(
        Test(
            unique_id=f'"c"."s"."t"#not_null({cols})',
            name="not_null",
            test_type="not_null",
            column=cols,
            severity="error",
        )
        for cols in ("a,b", "a_b", "c")
    )
    node = Node(
        unique_id='"c"."s"."t"',
        name="s.t",
        resource_type=ResourceType.MODEL,
        layer=Layer.OTHER,
        database="c",
        schema="s",
        identifier="t",
        relation_name=None,
        depends_on=(),
        tests=tests,
    )
    project = build_project("p", "sqlmesh", "p", [node])
    names = check_names(project)
    assert names['"c"."s"."t"#not_null(c)'] == "not_null_c"
    alike = [names[t.unique_id] for t in tests[:2]]
    assert len(set(alike)) == 2 and all(n.startswith("not_null_a_b_") for n in alike)
    assert len({s.name for s in audit_check_specs(project, names)}) == 3

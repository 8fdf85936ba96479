import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration_utils.codegen.airflow.generate import generate_airflow_dags
from orchestration_utils.codegen.airflow.plan import (
    AirflowPlan,
    ExecutionMode,
    GeneratorOptions,
    plan_airflow,
)
from orchestration_utils.codegen.airflow.render import render_airflow
from orchestration_utils.codegen.writer import ProjectId
from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import load_dbt_manifest, project_from_manifest
from orchestration_utils.project.model import Layer, Node, ResourceType, build_project

BIN = Path(sys.executable).parent
HOSTILE = ['x"); import os #', "quote'n\"double", "new\nline", "ünï☃de", "a b-c.d"]


def _id(plan: AirflowPlan) -> ProjectId:
    """The project a test renders for (read from the output dir's parent)."""
    return ProjectId(str(plan.kind), plan.project, "..")


def test_demo_dbt_plan_splits_by_schedule_and_keeps_every_edge(demo_manifest):
    project = load_dbt_manifest(demo_manifest)
    plan = plan_airflow(project, GeneratorOptions())
    assert [d.dag_id for d in plan.dags] == ["shop__hourly", "shop__daily"]
    assert set(plan.index) == {n.unique_id for n in project.runnable()}
    tasks = {(d.dag_id, t.full_id): t for d in plan.dags for t in d.tasks}
    dags = {d.dag_id: d for d in plan.dags}
    for up, down in project.edges():
        if project.nodes[up].resource_type == ResourceType.SOURCE:
            continue
        u, d = plan.index[up], plan.index[down]
        down_task = tasks[(d["dag_id"], d["task_id"])]
        if u["dag_id"] == d["dag_id"]:
            assert u["task_id"] in down_task.upstream
        else:
            uri = next(iter(tasks[(u["dag_id"], u["task_id"])].outlets))
            assert uri in down_task.inlets
    # The daily seed feeds the hourly staging model: the hourly DAG is also triggered by it.
    assert dags["shop__hourly"].trigger_assets == (
        "duckdb://shop/raw/raw_events",
    )  # the adapter's scheme
    assert dags["shop__daily"].deadline_hours == 4  # strictest sla_hours of the daily models
    assert not [
        t for d in plan.dags for t in d.tasks if t.kind == "health"
    ]  # DuckDB: no BigQuery checks
    as_bigquery = plan_airflow(dataclasses.replace(project, adapter="bigquery"), GeneratorOptions())
    health = [
        t.full_id
        for d in as_bigquery.dags
        if d.dag_id == "shop__daily"
        for t in d.tasks
        if t.kind == "health"
    ]
    assert "marts_health" in health and "marts.health__fct_orders" in health
    assert "staging.health__stg_customers" not in health  # not critical


def test_default_schedule_applies_only_where_metadata_names_none(demo_manifest):
    project = load_dbt_manifest(demo_manifest)
    plan = plan_airflow(project, GeneratorOptions(default_schedule="@weekly"))
    weekly = next(d for d in plan.dags if d.schedule == "@weekly")
    assert {t.task_id for t in weekly.tasks} >= {
        "raw_orders",
        "customers_snapshot",
    }  # no meta schedule
    assert plan.index["model.shop.fct_orders"]["dag_id"] == "shop__daily"


def _node(uid, name, deps=(), layer=Layer.MARTS, critical=False):
    return Node(
        unique_id=uid,
        name=name,
        resource_type=ResourceType.MODEL,
        layer=layer,
        database="proj",
        schema="ds",
        identifier=name,
        relation_name=None,
        depends_on=tuple(deps),
        package=uid.split(".")[1],
        description=f"about {name}",
        owner=name,
        critical=critical,
        sla_hours=2,
        tags=(name,),
        materialization="table",
    )


def hostile_project():
    nodes = [
        _node(f"model.p.m{i}", name, [f"model.p.m{i - 1}"] if i else [], critical=True)
        for i, name in enumerate(HOSTILE)
    ]
    return build_project('evil"; import os', "dbt", 'dir/"\nimport os', nodes, adapter="bigquery")


def test_hostile_names_stay_data(tmp_path):
    plan = plan_airflow(hostile_project(), GeneratorOptions())
    files = render_airflow(plan, "0" * 64, _id(plan))
    code = next(f.content for f in files if f.path.endswith(".py"))
    tree = ast.parse(code)
    imported = {
        a.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    assert imported == {
        "annotations",
        "os",
        "datetime",
        "timedelta",
        "BashOperator",
        "BigQueryCheckOperator",
        "AsyncCallback",
        "DAG",
        "DeadlineAlert",
        "DeadlineReference",
        "TaskGroup",
    }
    called = {
        n.func.id if isinstance(n.func, ast.Name) else n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
    }
    assert called <= {
        "BashOperator",
        "BigQueryCheckOperator",
        "DAG",
        "TaskGroup",
        "DeadlineAlert",
        "AsyncCallback",
        "timedelta",
        "fromisoformat",
        "get",
        "link",
        "add",
        "items",
    }
    strings = {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    assert any('x"); import os #' in s for s in strings)  # kept, as data, in the docs


def test_rendering_is_deterministic_and_formatted(demo_manifest, tmp_path):
    plans = [plan_airflow(load_dbt_manifest(demo_manifest), GeneratorOptions()) for _ in range(2)]
    first, second = (render_airflow(plan, "a" * 64, _id(plan)) for plan in plans)
    assert first == second
    for f in first:
        (tmp_path / f.path).write_text(f.content)
    result = subprocess.run(
        [
            str(BIN / "ruff"),
            "format",
            "--check",
            "--isolated",
            "--line-length",
            "100",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_bigquery_mode_runs_compiled_sql_with_cost_labels(tmp_path):
    manifest = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "project_name": "p",
            "adapter_type": "bigquery",
        },
        "nodes": {
            "model.p.orders": {
                "unique_id": "model.p.orders",
                "name": "orders",
                "resource_type": "model",
                "package_name": "p",
                "fqn": ["p", "marts", "orders"],
                "database": "proj",
                "schema": "marts",
                "original_file_path": "models/marts/orders.sql",
                "depends_on": {"nodes": []},
                "config": {"materialized": "table"},
                "compiled_code": "select 1 as id",
            },
            "model.p.events": {
                "unique_id": "model.p.events",
                "name": "events",
                "resource_type": "model",
                "package_name": "p",
                "fqn": ["p", "marts", "events"],
                "database": "proj",
                "schema": "marts",
                "original_file_path": "models/marts/events.sql",
                "depends_on": {"nodes": ["model.p.orders"]},
                "config": {"materialized": "incremental"},
                "compiled_code": "select 2",
            },
        },
        "sources": {},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    plan, _ = generate_airflow_dags(
        "dbt", path, tmp_path / "out", GeneratorOptions(mode=ExecutionMode.BIGQUERY)
    )
    tasks = {t.task_id: t for t in plan.dags[0].tasks}
    assert tasks["orders"].kind == "bigquery_sql"
    assert tasks["orders"].sql.startswith(
        "CREATE OR REPLACE TABLE `proj`.`marts`.`orders` AS\nselect 1 as id"
    )
    assert dict(tasks["orders"].labels) == {
        "airflow_dag": "p__daily",
        "airflow_task": "marts_orders",
        "dbt_model": "orders",
    }
    assert tasks["events"].kind == "dbt"  # incremental merge logic stays with dbt
    code = (tmp_path / "out" / "p__daily.py").read_text()
    assert "BigQueryInsertJobOperator(" in code and "deferrable=True" in code
    del manifest["nodes"]["model.p.orders"]["compiled_code"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ProjectError, match="bigquery mode needs compiled SQL"):
        generate_airflow_dags(
            "dbt", path, tmp_path / "out2", GeneratorOptions(mode=ExecutionMode.BIGQUERY)
        )
    assert not (tmp_path / "out2").exists()  # nothing half-written


def test_versioned_and_clashing_names_get_unique_task_ids():
    nodes = [
        _node("model.a.dim", "dim"),
        _node("model.b.dim", "dim"),
        _node("model.a.cust.v1", "cust"),
        _node("model.a.cust.v2", "cust"),
    ]
    plan = plan_airflow(
        build_project("p", "dbt", "m", nodes), GeneratorOptions(health_checks=False)
    )
    assert sorted(t.task_id for t in plan.dags[0].tasks) == [
        "a__dim",
        "b__dim",
        "cust_v1",
        "cust_v2",
    ]


def _bq_manifest(models, adapter="bigquery"):
    """models: name -> (config, language, deps)."""
    nodes = {}
    for name, (config, language, deps) in models.items():
        nodes[f"model.p.{name}"] = {
            "unique_id": f"model.p.{name}",
            "name": name,
            "resource_type": "model",
            "package_name": "p",
            "fqn": ["p", "marts", name],
            "database": "proj",
            "schema": "marts",
            "language": language,
            "original_file_path": f"models/marts/{name}.{'py' if language == 'python' else 'sql'}",
            "depends_on": {"nodes": [f"model.p.{d}" for d in deps]},
            "config": config,
            "compiled_code": "def model(dbt, session):\n    return None"
            if language == "python"
            else "select 1 as id",
            "meta": {"critical": True},
        }
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "project_name": "p",
            "adapter_type": adapter,
        },
        "nodes": nodes,
        "sources": {},
    }


def test_bigquery_mode_keeps_dbt_for_python_models_and_dbt_bigquery_options(tmp_path):
    manifest = _bq_manifest(
        {
            "plain": ({"materialized": "table", "contract": {"enforced": False}}, "sql", []),
            "scored": ({"materialized": "table"}, "python", ["plain"]),
            "by_day": (
                {"materialized": "table", "partition_by": {"field": "d", "data_type": "date"}},
                "sql",
                [],
            ),
            "clustered": ({"materialized": "view", "cluster_by": ["id"]}, "sql", []),
            "labelled": ({"materialized": "table", "labels": {"team": "x"}}, "sql", []),
            "hooked": (
                {"materialized": "table", "post-hook": ["grant select on {{ this }} to x"]},
                "sql",
                [],
            ),
            "contracted": ({"materialized": "table", "contract": {"enforced": True}}, "sql", []),
        }
    )
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    plan, _ = generate_airflow_dags(
        "dbt", path, tmp_path / "out", GeneratorOptions(mode=ExecutionMode.BIGQUERY)
    )
    kinds = {t.task_id: t.kind for t in plan.dags[0].tasks if t.kind != "health"}
    assert kinds == {
        "plain": "bigquery_sql",
        "scored": "dbt",
        "by_day": "dbt",
        "clustered": "dbt",
        "labelled": "dbt",
        "hooked": "dbt",
        "contracted": "dbt",
    }
    assert "def model(" not in (tmp_path / "out" / "p__daily.py").read_text()


@pytest.mark.parametrize("adapter", ["snowflake", "duckdb", "clickhouse", None])
def test_no_bigquery_health_tasks_outside_bigquery(tmp_path, adapter):
    manifest = _bq_manifest({"fct_x": ({"materialized": "table"}, "sql", [])}, adapter=adapter)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    plan, _ = generate_airflow_dags("dbt", path, tmp_path / "out", GeneratorOptions())
    assert [t.kind for d in plan.dags for t in d.tasks] == ["dbt"]
    assert "BigQuery" not in (tmp_path / "out" / "p__daily.py").read_text()


def test_bigquery_health_counts_stored_tables_only_and_uris_use_the_adapter_scheme(tmp_path):
    manifest = _bq_manifest(
        {
            "fct_t": ({"materialized": "table"}, "sql", []),
            "fct_i": ({"materialized": "incremental"}, "sql", ["fct_t"]),
            "v_x": ({"materialized": "view"}, "sql", ["fct_t"]),
            "eph": ({"materialized": "ephemeral"}, "sql", ["fct_t"]),
            "mv": ({"materialized": "materialized_view"}, "sql", ["fct_t"]),
        }
    )
    plan = plan_airflow(project_from_manifest(manifest, tmp_path / "m.json"), GeneratorOptions())
    health = {t.full_id: t.sql for d in plan.dags for t in d.tasks if t.kind == "health"}
    assert set(health) == {"marts.health__fct_t", "marts.health__fct_i", "marts_health"}
    assert "'fct_t'" in health["marts_health"] and "'fct_i'" in health["marts_health"]
    assert not any(name in health["marts_health"] for name in ("'v_x'", "'eph'", "'mv'"))
    manifest["metadata"]["adapter_type"] = "snowflake"
    manifest["nodes"]["model.p.late"] = {
        **manifest["nodes"]["model.p.v_x"],
        "unique_id": "model.p.late",
        "name": "late",
        "fqn": ["p", "marts", "late"],
        "meta": {"schedule": "weekly"},
        "depends_on": {"nodes": ["model.p.fct_t"]},
    }
    plan = plan_airflow(project_from_manifest(manifest, tmp_path / "m.json"), GeneratorOptions())
    uris = {u for d in plan.dags for t in d.tasks for u in (*t.inlets, *t.outlets)}
    assert uris == {"snowflake://proj/marts/fct_t"}


@pytest.mark.parametrize("adapter", ["duckdb", "snowflake", ""])
def test_bigquery_mode_warns_of_sql_compiled_for_another_warehouse(tmp_path, adapter):
    """DuckDB's `"db"."schema"."t"` is a string literal to BigQuery. A stand-in warehouse is a
    common way to compile in tests, so the DAGs are written, and the user is told on one line."""
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(_bq_manifest({"t": ({"materialized": "table"}, "sql", [])}, adapter))
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow-dag-gen"), "--project-type", "dbt"]
        + ["--manifest-path", str(path), "--output-dir", str(tmp_path / "out")]
        + ["--mode", " BigQuery "],  # any case, as the job's op config
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    warning = (
        f"[airflow-dag-gen] warning: {path}: metadata.adapter_type is {adapter or 'missing'!r}:"
        " bigquery mode hands its compiled SQL to BigQuery as written; compile against BigQuery"
        " for production DAGs"
    )
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [warning]
    assert "BigQueryInsertJobOperator(" in (tmp_path / "out" / "p__daily.py").read_text()
    bigquery = _bq_manifest({"t": ({"materialized": "table"}, "sql", [])})
    plan = plan_airflow(
        project_from_manifest(bigquery, path), GeneratorOptions(mode=ExecutionMode.BIGQUERY)
    )
    assert plan.warnings == ()

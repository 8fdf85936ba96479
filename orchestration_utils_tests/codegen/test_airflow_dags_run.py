"""The generated demo DAGs run end to end on DuckDB with `airflow dags test` (dbt mode)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration_utils.codegen.airflow.generate import generate_airflow_dags
from orchestration_utils.codegen.airflow.plan import GeneratorOptions
from orchestration_utils_tests.conftest import REPO

DEMO_DBT = REPO / "orchestration_utils" / "demo" / "dbt_project"
# airflow dags test exits 1 after a *successful* run of a DAG with a deadline alert
# (apache/airflow#73428, open on 3.3.2); the run's recorded state is what we judge.
KNOWN_DEADLINE_BUG = "'dict' object has no attribute 'hex'"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory, demo_manifest, airflow_python):
    root = tmp_path_factory.mktemp("airflow_run")
    dags = root / "dags"
    generate_airflow_dags("dbt", demo_manifest, dags, GeneratorOptions(project_dir=str(DEMO_DBT)))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow_home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The tasks call `dbt` from the project's venv against a fresh DuckDB file.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ORCHESTRATION_UTILS_DBT_DUCKDB": str(root / "shop.duckdb"),
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        "DBT_LOG_PATH": str(root / "dbt_logs"),
    }
    airflow = str(Path(airflow_python).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    return airflow, env, root


def _json_tail(output: str):
    return json.loads(output[output.index("\n[") + 1 :] if not output.startswith("[") else output)


def _dags_test(airflow, env, dag_id) -> dict[str, str]:
    """Task states of the run. The bug above also rolls back the run's final state, so the
    tasks' own states (committed as each ran) are the record."""
    # Health checks query BigQuery's metadata; the demo warehouse is DuckDB, so they are marked done.
    result = subprocess.run(
        [airflow, "dags", "test", dag_id, "2026-01-02", "--mark-success-pattern", ".*health.*"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        assert KNOWN_DEADLINE_BUG in result.stdout + result.stderr, (result.stdout + result.stderr)[
            -4000:
        ]
    runs = subprocess.run(
        [airflow, "dags", "list-runs", dag_id, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    (run,) = _json_tail(runs.stdout)
    states = subprocess.run(
        [airflow, "tasks", "states-for-dag-run", dag_id, run["run_id"], "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {t["task_id"]: t["state"] for t in _json_tail(states.stdout)}


def test_daily_and_hourly_demo_dags_build_the_warehouse(airflow_env):
    airflow, env, root = airflow_env
    daily = _dags_test(airflow, env, "shop__daily")
    assert len(daily) >= 18 and set(daily.values()) == {"success"}, daily
    hourly = _dags_test(airflow, env, "shop__hourly")
    assert len(hourly) == 3 and set(hourly.values()) == {"success"}, (
        hourly
    )  # DuckDB: no BigQuery health task
    with duckdb.connect(str(root / "shop.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_orders").fetchone()[0] == 40
        assert con.execute("select count(*) from marts.fct_daily_revenue").fetchone()[0] > 0
        assert con.execute("select sum(event_count) from marts.fct_events").fetchone()[0] == 120
        assert con.execute("select count(*) from snapshots.customers_snapshot").fetchone()[0] == 12

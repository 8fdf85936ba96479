"""The README's first command, end to end: the demo materializes into DuckDB."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

BIN = Path(sys.executable).parent


def test_demo_materializes_every_asset_into_duckdb(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATION_UTILS_", "DBT_"))}
    env.pop("DAGSTER_HOME", None)
    env["ORCHESTRATION_UTILS_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [str(BIN / "orchestration-utils-demo")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "demo assets materialized: 28/28" in result.stdout  # 21 dbt, 7 SQLMesh
    warehouse = tmp_path / "home" / "warehouse" / "shop.duckdb"
    assert str(warehouse) in result.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_orders").fetchone()[0] == 40
        assert con.execute("select count(*) from marts.dim_customers").fetchone()[0] == 12
        assert con.execute("select sum(event_count) from marts.fct_events").fetchone()[0] == 120
    assert (tmp_path / "home" / "dagster_home" / "history").is_dir()  # runs are recorded for the UI
    artifacts = tmp_path / "home" / "artifacts"
    assert (artifacts / "airflow_dags" / "dbt" / "shop__daily.py").is_file()
    assert (artifacts / "dagster_package" / "dbt" / "definitions.py").is_file()
    assert (artifacts / "health" / "health-report.json").is_file()
    assert "health of the demo tables (pipeline-health-monitor):\n  health score " in result.stdout
    assert "SLAs of the demo (sla-tracker):\n  OK       marts_on_time (marts_layer)" in result.stdout
    assert (artifacts / "sla" / "sla-report.md").read_text().startswith("# SLA report")
    with duckdb.connect(str(tmp_path / "home" / "warehouse" / "shop_sqlmesh.duckdb"), read_only=True) as con:
        assert con.execute("select sum(order_count) from shop_marts.fct_orders_daily").fetchone()[0] == 40

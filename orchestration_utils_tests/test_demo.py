"""The README's first command, end to end: the demo materializes into DuckDB (`demo`: conftest.py)."""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestration_utils.cli.demo import ON_PURPOSE

REPO = Path(__file__).resolve().parents[1]


def test_demo_materializes_every_asset_into_duckdb(demo):
    tmp_path, _, result = demo
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
    assert (
        "SLAs of the demo (sla-tracker):\n  PASS     marts_on_time (marts_layer)" in result.stdout
    )
    assert (artifacts / "sla" / "sla-report.md").read_text().startswith("# SLA report")
    # The first look separates good from bad: what fails, fails on purpose, and says why.
    assert "asset checks: " in result.stdout and "(5 on purpose)" in result.stdout
    for check in ON_PURPOSE:
        assert f"  on purpose  {check}: " in result.stdout
    assert "UNEXPECTED" not in result.stdout, result.stdout[-3000:]
    report = json.loads((artifacts / "health" / "health-report.json").read_text())
    not_passing = {
        (c["table"], c["check"], c["status"]) for c in report["checks"] if c["status"] != "PASS"
    }
    assert not_passing == {
        ("shop.marts.fct_orders", "freshness", "FAIL"),
        ("shop.marts.dim_products", "schema_drift", "WARN"),
    }
    sla = json.loads((artifacts / "sla" / "sla-report.json").read_text())
    assert {s["name"] for s in sla["slas"] if s["status"] != "PASS"} == {
        "orders_fresh",
        "orders_available",
    }
    # Each check execution in the UI completed: no planned row left behind (listed as Skipped),
    # not by a partitioned run, not for the test on two models (fct_orders -> stg_customers).
    index = tmp_path / "home" / "dagster_home" / "history" / "runs" / "index.db"
    with sqlite3.connect(index) as db:
        planned = db.execute(
            "select asset_key, check_name, partition from asset_check_executions "
            "where execution_status = 'PLANNED'"
        ).fetchall()
    assert planned == []
    with duckdb.connect(
        str(tmp_path / "home" / "warehouse" / "shop_sqlmesh.duckdb"), read_only=True
    ) as con:
        assert (
            con.execute("select sum(order_count) from shop_marts.fct_orders_daily").fetchone()[0]
            == 40
        )


# In the demo the daily schedule's job holds day-partitioned models (dbt fct_orders, SQLMesh
# fct_orders_daily) beside unpartitioned ones: one run for one day builds both kinds.
MIXED_RUN = """
import sys
import dagster as dg
from orchestration_utils.definitions import defs
d = defs()
job = d.resolve_job_def("daily_assets_job")
day = job.partitions_def.get_last_partition_key()
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
    done = {m.asset_key.to_user_string(): m.partition for m in
            (ev.event_specific_data.materialization for ev in result.all_events if ev.is_step_materialization)}
print(result.success, day, sorted(f"{k}@{v}" for k, v in done.items()))
"""


def test_a_job_mixing_partitioned_and_unpartitioned_assets_runs_one_partition(demo, tmp_path):
    demo_dir, env, result = demo
    assert result.returncode == 0, result.stderr[-3000:]
    # On a copy: a later materialization of fct_orders would leave the demo's health checks
    # "Not evaluated" for the latest materialization, which the browser test reads.
    home = tmp_path / "home"
    shutil.copytree(demo_dir / "home", home)
    env = {
        **env,
        "ORCHESTRATION_UTILS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
    }
    run = subprocess.run(
        [sys.executable, "-c", MIXED_RUN],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    success, day, done = run.stdout.strip().splitlines()[-1].split(" ", 2)
    assert success == "True", run.stderr[-3000:]
    assert f"'marts/fct_orders@{day}'" in done  # the partitioned dbt model, for that day only
    assert "'marts/dim_customers@None'" in done  # an unpartitioned model, built whole
    assert f"'shop_marts/fct_orders_daily@{day}'" in done


def test_the_demo_runs_belong_to_the_jobs_of_the_code_location(demo):
    """The UI lists a job's runs by job name and the run's repository label (what GraphQL's
    `Pipeline.runs` filters on), and re-executes them through their origin."""
    import dagster as dg
    import yaml
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

    from orchestration_utils.cli.demo import LOCATION_NAME, MODULE_NAME

    tmp_path, _, result = demo
    assert result.returncode == 0, result.stderr[-3000:]
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"][0][
        "python_module"
    ]
    assert (workspace["module_name"], workspace["location_name"]) == (MODULE_NAME, LOCATION_NAME)
    label = f"__repository__@{LOCATION_NAME}"
    with dg.DagsterInstance.from_config(str(tmp_path / "home" / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert len(runs) >= 10
        for run in runs:
            assert run.remote_job_origin is not None and run.job_code_origin is not None, (
                run.job_name
            )
            assert run.remote_job_origin.repository_origin.get_label() == label
        for job in (
            "marts_layer",
            "marts_layer_daily",
            "generate_airflow_dags_job",
            "health_checks_job",
        ):
            listed = instance.get_runs(
                dg.RunsFilter(job_name=job, tags={REPOSITORY_LABEL_TAG: label})
            )
            assert [r.status for r in listed] == [dg.DagsterRunStatus.SUCCESS], job
        daily = instance.get_runs(dg.RunsFilter(job_name="marts_layer_daily"))[0]
        assert daily.tags.get("dagster/partition"), daily.tags


def test_the_verdicts_name_what_failed_on_purpose_and_flag_the_rest():
    from orchestration_utils.cli.demo import verdict_lines

    statuses = {check: "FAILED" for check in ON_PURPOSE}
    statuses |= {
        "marts/fct_orders unique_fct_orders_order_id": "SUCCEEDED",
        "marts/fct_events freshness": "FAILED",  # not meant to fail: a real problem
        "marts/fct_orders relationships_x": "PLANNED",  # Skipped in the UI
        "marts/fct_orders sla_orders_fresh": "SUCCEEDED",  # meant to fail, but passed
    }
    lines = verdict_lines(statuses)
    assert (
        lines[0]
        == f"asset checks: 2 passed, {len(ON_PURPOSE)} failed of {len(statuses)} (4 on purpose)"
    )
    assert (
        "  on purpose  marts/fct_orders freshness: " + ON_PURPOSE["marts/fct_orders freshness"]
        in lines
    )
    assert "  UNEXPECTED  marts/fct_events freshness: failed" in lines
    assert "  UNEXPECTED  marts/fct_orders relationships_x: skipped" in lines
    assert any(
        line.startswith("  UNEXPECTED  marts/fct_orders sla_orders_fresh: passed") for line in lines
    )

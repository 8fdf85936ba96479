"""The monitor on DuckDB files whose freshness, counts, partitions and schemas the test controls,
judged at a frozen clock."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import Expectation, run_health_checks
from orchestration_utils.warehouse.base import Field
from orchestration_utils.warehouse.duckdb import DuckDBWarehouse

NOW = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


@pytest.fixture
def warehouse_file(tmp_path):
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA sales; CREATE SCHEMA crm")
    con.execute(
        "CREATE TABLE sales.orders (id INTEGER NOT NULL, amount DECIMAL(12,2), ordered_at TIMESTAMP)"
    )
    # Days 1..5 before NOW, day 3 missing; newest row 1 day 2 hours old.
    for day in (1, 2, 4, 5):
        for i in range(day):
            con.execute(
                "INSERT INTO sales.orders VALUES (?, 10, ?)",
                [day * 10 + i, _naive(NOW - timedelta(days=day, hours=2))],
            )
    con.execute(
        "CREATE TABLE crm.customers (customer_id INTEGER, email VARCHAR, address STRUCT(city VARCHAR))"
    )
    con.execute("INSERT INTO crm.customers VALUES (1, 'a@x', {'city': 'Oslo'})")
    con.execute("CREATE VIEW crm.customer_view AS SELECT * FROM crm.customers")
    con.close()
    return path


def _run(path, *tables, **kwargs):
    warehouse = DuckDBWarehouse(path)
    try:
        results = run_health_checks(HealthConfig(tables=tables), warehouse, NOW, **kwargs)
    finally:
        warehouse.close()
    return {(r.table, r.check): r for r in results}, warehouse.usage


def test_each_check_reports_its_figures(warehouse_file):
    results, _ = _run(
        warehouse_file,
        TableConfig(
            table_id="wh.sales.orders",
            max_age_hours=24,
            timestamp_column="ordered_at",
            min_rows=5,
            partition_column="ordered_at",
            lookback_days=5,
            check_partitions=True,
            expected_schema=(
                {"name": "id", "type": "INT64", "mode": "REQUIRED"},
                {"name": "amount", "type": "NUMERIC"},
                {"name": "ordered_at", "type": "TIMESTAMP"},
            ),
        ),
        TableConfig(
            table_id="wh.crm.customers",
            min_rows=2,
            expected_schema=(
                {"name": "customer_id", "type": "INT64"},
                {"name": "email", "type": "INT64"},
                {
                    "name": "address",
                    "type": "RECORD",
                    "fields": ({"name": "city", "type": "STRING"},),
                },
            ),
        ),
    )
    freshness = results["wh.sales.orders", "freshness"]
    assert freshness.status == "FAIL"
    assert (
        freshness.figures["hours_stale"] == 26.0
        and freshness.figures["latest_update"] == "2026-02-28T08:30:00+00:00"
    )
    rows = results["wh.sales.orders", "row_count"]
    assert rows.status == "PASS" and rows.figures["row_count"] == 12
    assert rows.figures["partition_rows"] == {
        "20260224": 5,
        "20260225": 4,
        "20260227": 2,
        "20260228": 1,
    }
    partitions = results["wh.sales.orders", "partitions"]
    assert partitions.status == "FAIL" and partitions.figures["missing_partitions"] == ["20260226"]
    assert results["wh.sales.orders", "schema_drift"].status == "PASS"
    assert results["wh.crm.customers", "row_count"].status == "FAIL"
    drift = results["wh.crm.customers", "schema_drift"]
    assert drift.status == "FAIL" and drift.figures["changes"][0]["column"] == "email"


def test_a_fresh_table_passes_as_the_clock_moves(warehouse_file):
    table = TableConfig(table_id="wh.sales.orders", max_age_hours=30, timestamp_column="ordered_at")
    results, _ = _run(warehouse_file, table)
    assert results["wh.sales.orders", "freshness"].status == "PASS"


def test_missing_tables_and_bad_columns_error_alone(warehouse_file):
    results, _ = _run(
        warehouse_file,
        TableConfig(table_id="wh.sales.nope", min_rows=1),
        TableConfig(table_id="other.sales.orders", min_rows=1),
        TableConfig(
            table_id="wh.crm.customers", max_age_hours=1, timestamp_column="no_such_column"
        ),
        TableConfig(table_id="wh.sales.orders", min_rows=1),
        TableConfig(table_id="wh.crm.customer_view", max_age_hours=1),
    )
    assert "not found" in results["wh.sales.nope", "row_count"].message
    assert "catalog 'other'" in results["other.sales.orders", "row_count"].message
    assert results["wh.crm.customers", "freshness"].status == "ERROR"
    assert results["wh.sales.orders", "row_count"].status == "PASS"
    view = results["wh.crm.customer_view", "freshness"]
    assert view.status == "ERROR" and "is a view: it has no data modification time" in view.message
    assert "set freshness.timestamp_column" in view.message


def test_dbt_declared_columns_are_the_expectation_without_reporting_undeclared_ones(warehouse_file):
    expectations = {
        "wh.crm.customers": Expectation(
            (Field("customer_id", "INT64", None), Field("email", "STRING", None)), "dbt model x"
        )
    }
    results, _ = _run(
        warehouse_file, TableConfig(table_id="wh.crm.customers"), expectations=expectations
    )
    drift = results["wh.crm.customers", "schema_drift"]
    assert drift.status == "PASS" and drift.figures["expected_from"] == "dbt model x"


def test_round_trips_grow_with_datasets_not_tables(tmp_path):
    path = tmp_path / "many.duckdb"
    con = duckdb.connect(str(path))
    tables = []
    for schema in ("a", "b"):
        con.execute(f"CREATE SCHEMA {schema}")
        for i in range(40):
            con.execute(
                f"CREATE TABLE {schema}.t{i} AS SELECT TIMESTAMP '2026-02-28 12:00:00' AS ts"
            )
            tables.append(
                TableConfig(
                    table_id=f"many.{schema}.t{i}",
                    max_age_hours=48,
                    timestamp_column="ts",
                    min_rows=1,
                    partition_column="ts",
                    check_partitions=True,
                    lookback_days=2,
                )
            )
    con.close()
    results, usage = _run(path, *tables)
    assert len(results) == 80 * 3
    # The catalog's columns once; per dataset: row counts, MAX(ts), partition counts.
    assert usage.queries == 1 + 2 * 3


def test_a_file_locked_by_another_process_makes_checks_error_not_crash(warehouse_file):
    # A writer (dbt, a Dagster run) in another process holds DuckDB's file lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                f"import duckdb, time; c = duckdb.connect({str(warehouse_file)!r}); "
                "print('locked', flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        results = run_health_checks(
            HealthConfig(tables=(TableConfig(table_id="wh.sales.orders", min_rows=1),)),
            DuckDBWarehouse(warehouse_file),
            NOW,
        )
    finally:
        holder.kill()
        holder.wait()
    assert results[0].status == "ERROR" and "lock" in results[0].message.lower()

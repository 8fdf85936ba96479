"""`--table T --check-freshness` with no column: the first evidence in the documented order decides,
and the report names it (a dbt model's partition column, a Dagster materialization, one obvious
timestamp column); with none, ERROR with the reason."""

import json
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from orchestration_utils.cli.pipeline_health_monitor import main


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """`shop.duckdb`: fct_orders with two timestamp columns, dim_stores with none, events with
    a conventionally named one among several time columns."""
    for name in list(os.environ):
        if name.startswith(("ORCHESTRATION_UTILS_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(tmp_path / "home"))
    path = tmp_path / "shop.duckdb"
    now = datetime.now(UTC).replace(tzinfo=None)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.fct_orders (order_id INTEGER, ordered_at TIMESTAMP, shipped_at TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO marts.fct_orders VALUES (1, ?, ?)",
        [now - timedelta(hours=2), now - timedelta(hours=30)],
    )
    con.execute("CREATE TABLE marts.dim_stores AS SELECT 1 AS store_id, 'Oslo' AS city")
    con.execute("CREATE TABLE marts.events (created_at TIMESTAMP, loaded_at TIMESTAMP, day DATE)")
    con.execute(
        "INSERT INTO marts.events VALUES (?, ?, ?)",
        [now - timedelta(hours=50), now - timedelta(hours=1), now.date()],
    )
    con.execute("CREATE TABLE marts.two_dates (starts DATE, ends DATE)")
    con.close()
    monkeypatch.setenv("ORCHESTRATION_UTILS_WAREHOUSE", f"duckdb://{path}")
    return tmp_path


def _check(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["--check-freshness", *argv])
    out = capsys.readouterr().out
    (check,) = json.loads(out)["checks"]
    return code, check


def test_the_dbt_models_partition_column_comes_first(shop, capsys, demo_manifest):
    code, check = _check(
        capsys, "--table", "shop.marts.fct_orders", "--manifest", str(demo_manifest)
    )
    assert (code, check["status"]) == (0, "PASS")
    assert (
        check["evidence"]
        == "column ordered_at (partition column of dbt model model.shop.fct_orders)"
    )
    assert 1.9 < check["hours_stale"] < 2.1


def test_a_given_column_beats_every_other_evidence(shop, capsys, demo_manifest):
    code, check = _check(
        capsys,
        "--table",
        "shop.marts.fct_orders",
        "--manifest",
        str(demo_manifest),
        "--timestamp-column",
        "shipped_at",
    )
    assert (code, check["status"], check["evidence"]) == (
        1,
        "FAIL",
        "column shipped_at (configured)",
    )


def test_the_last_materialization_recorded_in_the_dagster_instance(shop, capsys, monkeypatch):
    (shop / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(shop / "dagster_home")) as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                dg.AssetKey(["marts", "dim_stores"]),
                metadata={"dagster/table_name": "shop.marts.dim_stores"},
            )
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(dg.AssetKey(["marts", "other"]))
        )
    monkeypatch.setenv("DAGSTER_HOME", str(shop / "dagster_home"))
    code, check = _check(capsys, "--table", "shop.marts.dim_stores")
    assert (code, check["status"]) == (0, "PASS")
    assert (
        check["evidence"]
        == "last materialization of asset marts/dim_stores recorded in the Dagster instance"
    )
    later = (datetime.now(UTC) + timedelta(hours=30)).isoformat()
    code, check = _check(capsys, "--table", "shop.marts.dim_stores", "--as-of", later)
    assert (code, check["status"]) == (1, "FAIL") and check["hours_stale"] > 29


def test_a_conventionally_named_time_column_among_several(shop, capsys):
    code, check = _check(capsys, "--table", "shop.marts.events")
    assert (code, check["status"]) == (0, "PASS")
    assert check["evidence"] == "column loaded_at (conventionally named time column)"


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ("dim_stores", "no TIMESTAMP, DATETIME or DATE column"),
        ("two_dates", "2 time columns (starts, ends) and none stands out"),
        (
            "fct_orders",
            "2 time columns (ordered_at, shipped_at) and none stands out",
        ),  # without the manifest
    ],
)
def test_no_evidence_is_an_error_with_the_reason(shop, capsys, table, reason):
    code, check = _check(capsys, "--table", f"shop.marts.{table}")
    assert (code, check["status"]) == (1, "ERROR")
    assert reason in check["message"] and "pass --timestamp-column" in check["message"]

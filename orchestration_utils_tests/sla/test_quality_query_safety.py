"""A quality SLA's query is the user's SQL run by the monitor: it must be one SELECT that only
reads, in every dialect, or the SLA is ERROR; and DuckDB runs it on a connection that cannot reach
past its file. Hostile queries against a real DuckDB file: nothing written, nothing dropped."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration_utils.sla.config import parse_sla_config
from orchestration_utils.sla.evaluate import SlaStatus, evaluate_slas
from orchestration_utils.sla.quality_sql import QuerySqlError, for_warehouse
from orchestration_utils.warehouse.base import WarehouseError
from orchestration_utils.warehouse.duckdb import DuckDBWarehouse

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
COUNTS = "SELECT 2 AS total_rows, 0 AS failed_rows"
# {out}: a path in the test's directory that must never appear.
HOSTILE = [
    "COPY (SELECT 1) TO '{out}'",
    "COPY shop.marts.orders TO '{out}' (FORMAT csv)",
    f"{COUNTS}; COPY (SELECT 1) TO '{{out}}'",
    f"{COUNTS}; INSTALL httpfs",
    f"{COUNTS}; LOAD httpfs",
    "INSTALL httpfs",
    "ATTACH '{out}' AS other",
    f"{COUNTS}; ATTACH '{{out}}' AS other",
    "DROP TABLE shop.marts.orders",
    f"{COUNTS}; DROP TABLE shop.marts.orders",
    "DELETE FROM shop.marts.orders",
    "CREATE TABLE shop.marts.stolen AS SELECT 1 AS a",
    "EXPORT DATABASE '{out}'",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "CALL pragma_version()",
    "WITH gone AS (DELETE FROM shop.marts.orders RETURNING *) SELECT COUNT(*) AS total_rows, 0 AS failed_rows FROM gone",
    "SELECT 2 AS total_rows, 0 AS failed_rows INTO shop.marts.stolen",
    # One SELECT that reads past the file: sqlglot lets it by, DuckDB's locked connection does not.
    "SELECT COUNT(*) AS total_rows, 0 AS failed_rows FROM read_csv('{passwd}')",
    "SELECT COUNT(*) AS total_rows, 0 AS failed_rows FROM '{passwd}'",
]


def _orders(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT COUNT(*) FROM marts.orders").fetchone()[0]
    finally:
        con.close()


def _config(warehouse: Path, query: str, dialect: str | None) -> dict:
    return {
        "warehouse": f"duckdb://{warehouse}",
        "tables": [
            {
                "table_id": "shop.marts.orders",
                "quality_sla": {
                    "name": "orders_valid",
                    "query": query,
                    "max_failure_rate": 0.1,
                    "dialect": dialect,
                },
            }
        ],
    }


class NoHistory:
    def samples(self, sla_name, since):
        return []


def _evaluate(warehouse, query: str, dialect):
    """The one quality SLA of `query` evaluated against the DuckDB file, as sla-tracker does."""
    config = parse_sla_config(json.dumps(_config(warehouse, query, dialect)), "c.json")
    duck = DuckDBWarehouse(warehouse)
    try:
        [result] = evaluate_slas(config, NOW, duck, None, NoHistory())
    finally:
        duck.close()
    return result


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery", None])
@pytest.mark.parametrize("template", HOSTILE)
def test_a_hostile_query_is_an_error_and_touches_nothing(tmp_path, warehouse, template, dialect):
    out = tmp_path / "leak.csv"
    passwd = tmp_path / "secret.csv"
    passwd.write_text("a\n1\n")
    query = template.format(out=out, passwd=passwd)
    result = _evaluate(warehouse, query, dialect)
    assert result.status == SlaStatus.ERROR, result.message
    assert result.message.startswith(
        ("the quality query must", "cannot parse", "cannot transpile", "query failed:")
    ), result.message
    assert not out.exists()
    assert not (tmp_path / "stolen").exists()
    assert _orders(warehouse) == 2
    con = duckdb.connect(str(warehouse), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert tables == {"orders", "customers"}


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("COPY (SELECT 1) TO '/x.csv'", "must be one SELECT statement, got a COPY statement"),
        ("INSTALL httpfs", "must be one SELECT statement, got an INSTALL statement"),
        ("LOAD httpfs", "must be one SELECT statement, got a LOAD statement"),
        (f"{COUNTS}; DROP TABLE t", "got 2 statements (SELECT; DROP)"),
        ("", "got 0 statements"),
        (
            "WITH a AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM a",
            "must only read, but contains an INSERT statement",
        ),
    ],
)
def test_the_message_names_what_the_query_is(query, said):
    with pytest.raises(QuerySqlError) as caught:
        for_warehouse(query, "duckdb", "duckdb:///w/shop.duckdb")
    assert said in str(caught.value)


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery", None])
@pytest.mark.parametrize(
    "query",
    [
        COUNTS,
        f"({COUNTS})",
        "WITH c AS (SELECT 1 AS x) SELECT COUNT(*) AS total_rows, 0 AS failed_rows FROM c",
        "SELECT 1 AS total_rows, 0 AS failed_rows UNION ALL SELECT 1, 0 LIMIT 1",
    ],
)
def test_a_select_still_runs_in_every_dialect(tmp_path, warehouse, query, dialect):
    result = _evaluate(warehouse, query, dialect)
    assert result.status == SlaStatus.PASS, result.message


def test_the_duckdb_connection_itself_refuses_to_reach_past_its_file(tmp_path, warehouse):
    """Defence in depth, below the parser: the warehouse's own connection is locked down."""
    duck = DuckDBWarehouse(warehouse)
    try:
        for sql in (
            f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
            "INSTALL httpfs",
            f"ATTACH '{tmp_path / 'y.duckdb'}' AS y",
            "SET enable_external_access = true",
        ):
            with pytest.raises(WarehouseError):
                duck.query_rows(sql)
        assert duck.query_rows("SELECT COUNT(*) AS n FROM marts.orders") == [{"n": 2}]
    finally:
        duck.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.duckdb"]


def test_the_cli_reports_the_error_and_writes_nothing(tmp_path, warehouse):
    out = tmp_path / "x.csv"
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(warehouse, f"{COUNTS}; COPY (SELECT 1) TO '{out}'", None)))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sla-tracker"), "--config", str(config)]
        + ["--state-dir", str(tmp_path / "st")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr
    [row] = [r for r in json.loads(result.stdout)["slas"] if r["name"] == "orders_valid"]
    assert row["status"] == "ERROR"
    assert "got 2 statements (SELECT; COPY)" in row["message"]
    assert not out.exists() and _orders(warehouse) == 2


def test_the_dagster_sla_checks_job_reports_the_error_and_writes_nothing(
    demo_manifest, tmp_path, warehouse, monkeypatch
):
    out = tmp_path / "x.csv"
    config = tmp_path / "sla-config.json"
    config.write_text(json.dumps(_config(warehouse, f"COPY (SELECT 1) TO '{out}'", "duckdb")))
    for key, value in {
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_SLA_CONFIG": str(config),
        "ORCHESTRATION_UTILS_HEALTH_CONFIG": "",
        "ORCHESTRATION_UTILS_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }.items():
        monkeypatch.setenv(key, value)
    from orchestration_utils.definitions import defs

    definitions = defs()
    with dg.instance_for_test() as instance:
        job = definitions.resolve_job_def("sla_checks_job")
        assert job.execute_in_process(instance=instance).success
        key = dg.AssetCheckKey(
            dg.AssetKey(["warehouse", "shop", "marts", "orders"]), "sla_orders_valid"
        )
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[
            key
        ].evaluation
    assert latest.metadata["sla_status"] == dg.TextMetadataValue("ERROR")
    assert "got a COPY statement" in (latest.description or "")
    assert not out.exists() and _orders(warehouse) == 2

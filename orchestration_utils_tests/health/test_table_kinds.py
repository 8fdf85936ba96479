"""Every table kind, partitioning and timestamp storage gets a right answer or that one check's ERROR
with the reason; never a false FAIL, never a lost report (issue 12, kinds 3 and 4).

BigQuery through the real client against table metadata served on 127.0.0.1 in the REST reference's
shapes (the emulator makes neither views with DDL times, materialized views, external tables nor
YEAR or integer-range partitions)."""

from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration_utils.health.checks import UnreadableTimestamp, parse_timestamp, partition_window
from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.warehouse.bigquery import BigQueryWarehouse
from orchestration_utils.warehouse.duckdb import DuckDBWarehouse

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


def _ms(t: datetime) -> str:
    return str(int(t.timestamp() * 1000))


def _table(
    name: str,
    kind: str = "TABLE",
    rows: int | None = 10,
    modified: datetime = NOW - timedelta(hours=1),
    fields=(("d", "DATE"),),
    **extra,
) -> dict:
    body = {
        "kind": "bigquery#table",
        "id": f"p:d.{name}",
        "type": kind,
        "tableReference": {"projectId": "p", "datasetId": "d", "tableId": name},
        "schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in fields]},
        "creationTime": _ms(datetime(2026, 1, 5, tzinfo=UTC)),
        "lastModifiedTime": _ms(modified),
        **extra,
    }
    if rows is not None:
        body["numRows"] = str(rows)
    return body


def _serve_tables(server, tables: dict[str, dict]) -> None:
    for name, body in tables.items():
        server.on("GET", f"/projects/p/datasets/d/tables/{name}", lambda *a, body=body: (200, body))


def _run_bigquery(server, *tables: TableConfig):
    warehouse = BigQueryWarehouse(
        "p", "US", server.endpoint, max_bytes_billed=10**9, timeout_seconds=5
    )
    try:
        return {
            (r.table.split(".")[-1], r.check): r
            for r in run_health_checks(HealthConfig(tables=tables), warehouse, NOW)
        }
    finally:
        warehouse.close()


def test_views_external_tables_and_materialized_views(recorded_bigquery):
    ddl_time = datetime(2026, 1, 5, tzinfo=UTC)
    _serve_tables(
        recorded_bigquery,
        {
            "v_orders": _table(
                "v_orders", "VIEW", rows=None, modified=ddl_time, view={"query": "SELECT 1"}
            ),
            "ext_events": _table("ext_events", "EXTERNAL", rows=None, modified=ddl_time),
            # An MV refreshed an hour ago whose definition is old: its data time is the refresh.
            "mv_totals": _table(
                "mv_totals",
                "MATERIALIZED_VIEW",
                rows=42,
                modified=ddl_time,
                materializedView={
                    "query": "SELECT 1",
                    "lastRefreshTime": _ms(NOW - timedelta(hours=1)),
                },
            ),
        },
    )
    results = _run_bigquery(
        recorded_bigquery,
        *(
            TableConfig(
                table_id=f"p.d.{name}", freshness={"max_age_hours": 24}, row_count={"min_rows": 1}
            )
            for name in ("v_orders", "ext_events", "mv_totals")
        ),
    )
    view_fresh, view_rows = results["v_orders", "freshness"], results["v_orders", "row_count"]
    assert (
        view_fresh.status == "ERROR"
        and "is a view: it has no data modification time" in view_fresh.message
    )
    assert view_rows.status == "ERROR" and "views report no row count" in view_rows.message
    assert "0 rows" not in view_rows.message
    external = results["ext_events", "freshness"]
    assert external.status == "ERROR" and "is an external table" in external.message
    assert results["ext_events", "row_count"].status == "ERROR"
    mv_fresh = results["mv_totals", "freshness"]
    assert mv_fresh.status == "PASS" and mv_fresh.figures["hours_stale"] == 1.0
    assert results["mv_totals", "row_count"].status == "PASS"


def test_a_view_with_a_timestamp_column_is_judged_by_its_data(tmp_path):
    """DuckDB: a view's rows are counted by a query, and MAX(column) reads through it."""
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT TIMESTAMP '2026-11-30 16:00:00' AS ts")
    con.execute("CREATE VIEW s.v AS SELECT * FROM s.t")
    con.close()
    warehouse = DuckDBWarehouse(path)
    table = TableConfig(
        table_id="wh.s.v",
        freshness={"max_age_hours": 3, "timestamp_column": "ts"},
        row_count={"min_rows": 1},
    )
    results = {r.check: r for r in run_health_checks(HealthConfig(tables=(table,)), warehouse, NOW)}
    warehouse.close()
    assert (
        results["freshness"].status == "PASS" and results["freshness"].figures["hours_stale"] == 2.0
    )
    assert results["row_count"].status == "PASS" and results["row_count"].figures["row_count"] == 1


def _partitions_answer(server, rows: list[tuple[str, str, int]]) -> None:
    schema = [
        {"name": "table_name", "type": "STRING"},
        {"name": "partition_id", "type": "STRING"},
        {"name": "total_rows", "type": "INTEGER"},
    ]
    server.serve_query("p", schema, [list(r) for r in rows], bytes_billed=0)


def test_every_bigquery_partitioning(recorded_bigquery):
    tables = {
        "hourly": _table(
            "hourly",
            fields=(("ts", "TIMESTAMP"),),
            timePartitioning={"type": "HOUR", "field": "ts"},
        ),
        "daily": _table("daily", timePartitioning={"type": "DAY", "field": "d"}),
        "monthly": _table("monthly", timePartitioning={"type": "MONTH", "field": "d"}),
        "yearly": _table("yearly", timePartitioning={"type": "YEAR", "field": "d"}),
        "ingested": _table(
            "ingested", timePartitioning={"type": "DAY"}
        ),  # ingestion time: _PARTITIONTIME
        "ranged": _table(
            "ranged",
            fields=(("customer_id", "INTEGER"),),
            rangePartitioning={
                "field": "customer_id",
                "range": {"start": "0", "end": "100", "interval": "10"},
            },
        ),
    }
    _serve_tables(recorded_bigquery, tables)
    rows = [("hourly", (NOW - timedelta(hours=h)).strftime("%Y%m%d%H"), 5) for h in range(1, 25)]
    rows += [("daily", (NOW - timedelta(days=d)).strftime("%Y%m%d"), 5) for d in range(1, 4)]
    rows += [
        ("ingested", (NOW - timedelta(days=d)).strftime("%Y%m%d"), 5) for d in (1, 3)
    ]  # one day missing
    rows += [("monthly", m, 5) for m in ("202609", "202610")]
    rows += [("yearly", "2024", 5), ("yearly", "2025", 0)]  # 2025 is empty
    rows += [("ranged", "0", 5), ("ranged", "10", 5)]
    _partitions_answer(recorded_bigquery, rows)

    def config(name: str, days: int) -> TableConfig:
        return TableConfig(
            table_id=f"p.d.{name}", check_partitions=True, row_count={"lookback_days": days}
        )

    results = _run_bigquery(
        recorded_bigquery,
        config("hourly", 1),
        config("daily", 3),
        config("monthly", 60),
        config("yearly", 800),
        config("ingested", 3),
        config("ranged", 7),
    )
    status = {name: results[name, "partitions"].status for name in tables}
    assert status == {
        "hourly": "PASS",
        "daily": "PASS",
        "monthly": "PASS",
        "yearly": "FAIL",
        "ingested": "FAIL",
        "ranged": "ERROR",
    }
    yearly = results["yearly", "partitions"]
    assert yearly.figures["granularity"] == "year" and yearly.figures["empty_partitions"] == [
        "2025"
    ]
    assert results["ingested", "partitions"].figures["missing_partitions"] == [
        (NOW - timedelta(days=2)).strftime("%Y%m%d")
    ]
    assert "integer range on customer_id" in results["ranged", "partitions"].message
    assert results["ranged", "row_count"].status == "PASS"  # the other checks complete


@pytest.mark.parametrize(
    ("granularity", "days", "ids"),
    [
        ("year", 800, ["2024", "2025"]),
        ("year", 1, []),  # the last day lies in the year still filling
        ("month", 62, ["202609", "202610"]),
        ("day", 2, ["20261128", "20261129"]),
        ("hour", 1, [(NOW - timedelta(hours=h)).strftime("%Y%m%d%H") for h in range(24, 0, -1)]),
    ],
)
def test_partition_window_leaves_out_the_filling_partition(granularity, days, ids):
    assert partition_window(granularity, days, NOW)[2] == ids


@given(
    granularity=st.sampled_from(["hour", "day", "month", "year"]),
    days=st.integers(1, 3650),
    now=st.datetimes(datetime(1970, 1, 1), datetime(2999, 12, 31), timezones=st.just(UTC)),
)
@settings(max_examples=60, deadline=None)
def test_partition_window_holds_for_every_bound(granularity, days, now):
    since, until, ids = partition_window(
        granularity, days if granularity != "hour" else min(days, 60), now
    )
    assert since <= until <= now and len(ids) == len(set(ids)) and ids == sorted(ids)


def test_string_and_epoch_timestamp_columns(tmp_path):
    """Each odd column is parsed or its own ERROR; the healthy table passes beside them."""
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 6 hours before NOW
    seconds = int(at.timestamp())
    columns = {
        "iso_string": f"'{at:%Y-%m-%d %H:%M:%S}'",
        "iso_with_zone": f"'{at:%Y-%m-%dT%H:%M:%S}+02:00'",  # 10:00 UTC: 8 hours old
        "epoch_seconds": str(seconds),
        "epoch_millis": f"{seconds * 1000}::BIGINT",
        "epoch_micros": f"{seconds * 1_000_000}::BIGINT",
        "epoch_double": f"{seconds}.5::DOUBLE",
        "epoch_digits_string": f"'{seconds}'",
        "garbage_string": "'yesterday'",
        "boolean": "true",
        "negative_epoch": "-5",
        "healthy": f"TIMESTAMP '{at:%Y-%m-%d %H:%M:%S}'",
    }
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    for name, value in columns.items():
        con.execute(f"CREATE TABLE raw.{name} AS SELECT 1 AS id, {value} AS loaded_at")
    con.close()
    tables = tuple(
        TableConfig(
            table_id=f"wh.raw.{name}",
            freshness={"max_age_hours": 24, "timestamp_column": "loaded_at"},
        )
        for name in columns
    )
    warehouse = DuckDBWarehouse(path)
    results = {
        r.table.split(".")[-1]: r
        for r in run_health_checks(HealthConfig(tables=tables), warehouse, NOW)
    }
    warehouse.close()
    for name in (
        "iso_string",
        "epoch_seconds",
        "epoch_millis",
        "epoch_micros",
        "epoch_digits_string",
        "healthy",
    ):
        assert (name, results[name].status, results[name].figures["hours_stale"]) == (
            name,
            "PASS",
            6.0,
        )
    assert results["epoch_double"].status == "PASS"
    assert results["iso_with_zone"].figures["hours_stale"] == 8.0
    for name, said in (
        ("garbage_string", "'yesterday'"),
        ("boolean", "'true'"),
        ("negative_epoch", "-5"),
    ):
        assert results[name].status == "ERROR" and said in results[name].message
        assert "loaded_at" in results[name].message and "\n" not in results[name].message


@pytest.mark.parametrize(
    ("value", "column_type", "expected"),
    [
        (
            "2026-11-30 12:00:00+00",
            "TIMESTAMP",
            datetime(2026, 11, 30, 12, tzinfo=UTC),
        ),  # BigQuery CAST(ts AS STRING)
        ("2026-11-30T12:00:00", "DATETIME", datetime(2026, 11, 30, 12, tzinfo=UTC)),
        ("2026-11-30", "DATE", datetime(2026, 11, 30, tzinfo=UTC)),
        ("1796040000", "INT64", datetime(2026, 11, 30, 12, tzinfo=UTC)),  # was read as a DATE
        ("1796040000000", "INT64", datetime(2026, 11, 30, 12, tzinfo=UTC)),
        ("2026-11-30 12:00:00 UTC", "STRING", datetime(2026, 11, 30, 12, tzinfo=UTC)),
        (
            "1796040000000",
            "STRING",
            datetime(2026, 11, 30, 12, tzinfo=UTC),
        ),  # digits: an epoch, not ISO basic
        ("20261130", "STRING", datetime(2026, 11, 30, tzinfo=UTC)),  # except a basic date
    ],
)
def test_bigquery_max_as_string(value, column_type, expected):
    assert parse_timestamp(value, "c", column_type) == expected


@given(
    at=st.datetimes(datetime(1974, 1, 1), datetime(2999, 12, 31), timezones=st.just(UTC)),
    unit=st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]),
    as_text=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_epochs_in_every_unit_read_back(at, unit, as_text):
    epoch = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1) * unit
    value = str(epoch) if as_text else epoch
    assert parse_timestamp(value, "c", "INT64" if not as_text else None) == at.replace(
        microsecond=0
    )


@given(st.text(max_size=30) | st.floats() | st.integers())
@settings(max_examples=150, deadline=None)
def test_any_value_parses_or_says_why(value):
    try:
        parsed = parse_timestamp(value, "c", None)
    except UnreadableTimestamp as exc:
        assert str(exc).startswith("c (") and "\n" not in str(exc)
    else:
        assert parsed is None or parsed.tzinfo == UTC


def test_an_unreadable_table_answer_is_that_tables_error(recorded_bigquery):
    _serve_tables(
        recorded_bigquery,
        {
            "odd": _table("odd", rows=None, numRows="many"),
            "fine": _table("fine"),
        },
    )
    results = _run_bigquery(
        recorded_bigquery,
        *(
            TableConfig(table_id=f"p.d.{name}", row_count={"min_rows": 1})
            for name in ("odd", "fine")
        ),
    )
    assert (
        results["odd", "row_count"].status == "ERROR"
        and "p.d.odd" in results["odd", "row_count"].message
    )
    assert results["fine", "row_count"].status == "PASS"

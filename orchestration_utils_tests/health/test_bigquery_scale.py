"""BigQuery round trips at 1,000 and 10,000 tables, against recorded-shape responses on 127.0.0.1
(no emulator serves 10,000 tables quickly or answers 403 rateLimitExceeded): metadata is one
capped query per dataset (plus one streaming-timeline query per project), billed queries are capped
batches per dataset, and `tables.get` is left for the tables the views do not describe alike."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.warehouse.base import Field, TableRef
from orchestration_utils.warehouse.bigquery import (
    _PARTITIONS_BATCH,
    _UNION_BATCH,
    BigQueryWarehouse,
    _column_field,
    _ddl_partitioning,
    _view_meta,
)
from orchestration_utils_tests.health.bigquery_servers import RecordedBigQuery, serve_scale

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PER_DATASET = 500
DAYS = [(NOW - timedelta(days=d)).strftime("%Y%m%d") for d in range(1, 8)]
RENAMED = "d0.t7"
STREAMED = ("d1", "t3")


def _config(datasets: int, per_dataset: int = PER_DATASET) -> HealthConfig:
    return HealthConfig(
        tables=tuple(
            TableConfig(
                table_id=f"p.d{d}.t{t}",
                max_age_hours=24,
                timestamp_column="ts",
                min_rows=1,
                partition_column="ts",
                check_partitions=True,
                lookback_days=7,
            )
            for d in range(datasets)
            for t in range(per_dataset)
        )
    )


def _run(server: RecordedBigQuery, config: HealthConfig):
    warehouse = BigQueryWarehouse("p", "US", server.endpoint, max_bytes_billed=10**9)
    try:
        results = run_health_checks(config, warehouse, NOW)
    finally:
        warehouse.close()
    return {(r.table, r.check): r.status for r in results}, warehouse.usage


@pytest.mark.parametrize("tables", [1000, 10000])
def test_round_trips_at_scale(recorded_bigquery, tables):
    datasets = tables // PER_DATASET
    serve_scale(recorded_bigquery, NOW, DAYS, renamed=RENAMED, streamed=STREAMED)
    statuses, usage = _run(recorded_bigquery, _config(datasets))

    assert len(statuses) == tables * 3
    assert {s for (t, _), s in statuses.items() if t != f"p.{RENAMED}"} == {"PASS"}
    # The renamed column errors its own table, found from the metadata before any query is sent.
    assert {statuses[f"p.{RENAMED}", c] for c in ("freshness", "row_count", "partitions")} == {
        "ERROR"
    }

    # Billed queries: one STREAMING_TIMELINE for the project, then per dataset one metadata query,
    # MAX() in batches of at most 200 tables (the renamed table is not asked) and PARTITIONS in
    # batches of 1,000; one more for the first query, refused by the rate limit and retried.
    per_dataset = (
        1 + math.ceil(PER_DATASET / _UNION_BATCH) + math.ceil(PER_DATASET / _PARTITIONS_BATCH)
    )
    assert usage.queries == 1 + datasets * per_dataset + 1
    # tables.get only for the table that streamed lately (its buffer is in tables.get alone), and
    # once more for the call refused by the rate limit.
    assert usage.metadata_calls == 2
    sent = recorded_bigquery.requests
    assert sum(1 for m, p in sent if m == "POST" and p.endswith("/jobs")) == usage.queries
    assert sum(1 for m, p in sent if m == "GET" and "/tables/" in p) == 2
    print(
        f"\n{tables} tables in {datasets} datasets: {len(sent)} HTTP requests, "
        f"{usage.metadata_calls} tables.get, {usage.queries} billed queries"
    )


def test_a_renamed_column_adds_no_round_trip():
    counts = []
    for renamed in (None, RENAMED):
        server = RecordedBigQuery()
        try:
            serve_scale(server, NOW, DAYS, renamed=renamed)
            statuses, usage = _run(server, _config(2))
            counts.append((usage.queries, usage.metadata_calls, len(server.requests)))
        finally:
            server.close()
        assert ("ERROR" in statuses.values()) == (renamed is not None)
    assert counts[0] == counts[1]


def test_views_not_allowed_fall_back_to_tables_get_with_the_same_answers():
    answers = {}
    for allowed in (True, False):
        server = RecordedBigQuery()
        try:
            serve_scale(server, NOW, DAYS, renamed=RENAMED, views_allowed=allowed)
            answers[allowed] = _run(server, _config(2, per_dataset=50))
        finally:
            server.close()
    assert answers[True][0] == answers[False][0]
    # 403 accessDenied on INFORMATION_SCHEMA.TABLES: every table through tables.get (+1 rate limited).
    assert answers[True][1].metadata_calls == 0
    assert answers[False][1].metadata_calls == 100 + 1


@pytest.mark.parametrize(
    ("ddl", "expected"),
    [
        ("CREATE TABLE `p.d.t`\n(\n  x INT64\n);", (None, None)),
        (
            "CREATE TABLE `p.d.t`\n(\n  ts TIMESTAMP\n)\nPARTITION BY DATE(ts)\nCLUSTER BY x;",
            ("ts", "day"),
        ),
        ("CREATE TABLE `p.d.t`\n(\n  d DATE\n)\nPARTITION BY d\nOPTIONS(a=1);", ("d", "day")),
        (
            "CREATE TABLE t\n(\n  ts TIMESTAMP\n)\nPARTITION BY TIMESTAMP_TRUNC(ts, HOUR);",
            ("ts", "hour"),
        ),
        ("CREATE TABLE t\n(\n  d DATE\n)\nPARTITION BY DATE_TRUNC(d, MONTH);", ("d", "month")),
        (
            "CREATE TABLE t\n(\n  d DATETIME\n)\nPARTITION BY DATETIME_TRUNC(d, YEAR);",
            ("d", "year"),
        ),
        (
            "CREATE TABLE t\n(\n  x INT64\n)\nPARTITION BY _PARTITIONDATE;",
            ("_PARTITIONTIME", "day"),
        ),
        (
            "CREATE TABLE t\n(\n  x INT64\n)\nPARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, HOUR);",
            ("_PARTITIONTIME", "hour"),
        ),
        (
            "CREATE TABLE t\n(\n  c INT64\n)\nPARTITION BY RANGE_BUCKET(c, GENERATE_ARRAY(0, 100, 10));",
            ("c", "integer_range"),
        ),
        ("CREATE TABLE t\n(\n  x INT64\n)\nPARTITION BY SOMETHING_NEW(x, 3);", None),
    ],
)
def test_partitioning_from_ddl(ddl, expected):
    assert _ddl_partitioning(ddl) == expected


def test_columns_from_the_view():
    assert _column_field("id", "INT64", "NO") == Field("id", "INT64", "REQUIRED")
    assert _column_field("amount", "NUMERIC(10, 2)", "YES") == Field(
        "amount", "NUMERIC", "NULLABLE"
    )
    assert _column_field("tags", "ARRAY<STRING>", "NO") == Field("tags", "STRING", "REPEATED")
    # Nested modes are not in the view: such a table is read with tables.get.
    assert _column_field("s", "STRUCT<a INT64 NOT NULL>", "YES") is None
    assert _column_field("r", "ARRAY<STRUCT<a INT64>>", "NO") is None


def _rows(table_type: str, ddl: str, columns: list[tuple[str, str, str]], row_count="7"):
    head = {
        "table_name": "t",
        "table_type": table_type,
        "ddl": ddl,
        "row_count": row_count,
        "last_modified_time": str(int(NOW.timestamp() * 1000)),
    }
    return [
        {**head, "column_name": n, "data_type": t, "is_nullable": nullable}
        for n, t, nullable in columns
    ]


def test_the_views_answer_read_as_tables_get_would_or_not_at_all():
    ref = TableRef("p", "d", "t")
    table = _view_meta(
        ref,
        _rows(
            "BASE TABLE",
            "CREATE TABLE t\n(\n)\nPARTITION BY DATE(ts);",
            [("ts", "TIMESTAMP", "YES")],
        ),
    )
    assert (table.kind, table.row_count, table.modified) == ("TABLE", 7, NOW)
    assert (table.partition_column, table.partition_granularity) == ("ts", "day")
    # A view's query may start a line with PARTITION BY; views have no partitions and no row count.
    view = _view_meta(
        ref,
        _rows(
            "VIEW",
            "CREATE VIEW t AS SELECT SUM(x) OVER (\nPARTITION BY y) AS s FROM u",
            [("s", "INT64", "YES")],
            row_count="0",
        ),
    )
    assert (view.kind, view.row_count, view.partition_column) == ("VIEW", None, None)
    # What tables.get alone knows: a materialized view's refresh, an external table's own count,
    # nested fields' modes, a partitioning this code cannot read.
    assert _view_meta(ref, _rows("MATERIALIZED VIEW", "", [("x", "INT64", "YES")])) is None
    assert _view_meta(ref, _rows("EXTERNAL", "", [("x", "INT64", "YES")])) is None
    assert _view_meta(ref, _rows("BASE TABLE", "", [("s", "STRUCT<a INT64>", "YES")])) is None
    assert (
        _view_meta(ref, _rows("BASE TABLE", "x\nPARTITION BY NEW_FN(a);", [("a", "INT64", "NO")]))
        is None
    )

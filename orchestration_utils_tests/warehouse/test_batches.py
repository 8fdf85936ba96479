"""Batched warehouse queries at scale: capped batch sizes, and a bad table that costs a few extra
queries (halving), never one per table."""

from datetime import UTC, datetime

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration_utils.errors import WarehouseError
from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.warehouse.base import BATCH_SIZE, chunked
from orchestration_utils.warehouse.duckdb import DuckDBWarehouse

NOW = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    keys=st.integers(0, 700),
    bad=st.sets(st.integers(0, 699), max_size=3),
    size=st.sampled_from([1, 7, 200]),
)
def test_chunked_answers_every_key_and_isolates_bad_ones(keys, bad, size):
    names = [f"t{i}" for i in range(keys)]
    bad_names = {f"t{i}" for i in bad if i < keys}
    calls = []

    def run(batch):
        calls.append(len(batch))
        if bad_names & set(batch):
            raise WarehouseError("boom")
        return {k: k.upper() for k in batch}

    results = chunked(names, run, size)
    assert set(results) == set(names)
    assert all(isinstance(results[k], WarehouseError) for k in bad_names)
    assert all(results[k] == k.upper() for k in names if k not in bad_names)
    assert max(calls, default=0) <= size
    batches = -(-keys // size)
    # Each bad key costs at most 2 queries per halving level of its batch.
    assert len(calls) <= batches + len(bad_names) * 2 * max(size, 1).bit_length()


def _tables(path, schema: str, count: int, renamed: int | None = None) -> list[TableConfig]:
    con = duckdb.connect(str(path))
    con.execute(f"CREATE SCHEMA {schema}")
    for i in range(count):
        column = "loaded_at" if i == renamed else "ts"  # one table's column was renamed
        con.execute(
            f"CREATE TABLE {schema}.t{i} AS SELECT * FROM (VALUES (TIMESTAMP '2026-02-27 12:00:00'), "
            f"(TIMESTAMP '2026-02-28 12:00:00')) v({column})"
        )
    con.close()
    return [
        TableConfig(
            table_id=f"{path.stem}.{schema}.t{i}",
            max_age_hours=48,
            timestamp_column="ts",
            min_rows=1,
            partition_column="ts",
            check_partitions=True,
            lookback_days=2,
        )
        for i in range(count)
    ]


def test_a_dataset_larger_than_a_batch_is_split(tmp_path):
    tables = _tables(tmp_path / "big.duckdb", "a", BATCH_SIZE + 50)
    warehouse = DuckDBWarehouse(tmp_path / "big.duckdb")
    results = run_health_checks(HealthConfig(tables=tuple(tables)), warehouse, NOW)
    assert {r.status for r in results} == {"PASS"}
    # The catalog once; row counts, MAX(ts) and partition counts in two batches each.
    assert warehouse.usage.queries == 1 + 3 * 2


def test_a_renamed_column_errors_its_table_without_multiplying_queries(tmp_path):
    tables = _tables(tmp_path / "drift.duckdb", "a", 120, renamed=37)
    warehouse = DuckDBWarehouse(tmp_path / "drift.duckdb")
    results = run_health_checks(HealthConfig(tables=tuple(tables)), warehouse, NOW)
    broken = {(r.check, r.status) for r in results if r.table == "drift.a.t37"}
    assert broken == {("freshness", "ERROR"), ("row_count", "ERROR"), ("partitions", "ERROR")}
    assert all(r.status == "PASS" for r in results if r.table != "drift.a.t37")
    assert "ts" in next(
        r.message for r in results if r.table == "drift.a.t37" and r.check == "freshness"
    )
    assert warehouse.usage.queries == 1 + 3  # the monitor sees the column is missing before asking


def test_the_duckdb_connection_has_a_memory_cap(tmp_path):
    """DuckDB would cache every block it reads up to 80% of RAM; the monitor's connection is capped."""
    _tables(tmp_path / "m.duckdb", "a", 1)
    warehouse = DuckDBWarehouse(tmp_path / "m.duckdb", memory_limit="64MB")
    warehouse.describe(("m", "a"), ["t0"])
    (limit,) = warehouse._connect().execute("SELECT current_setting('memory_limit')").fetchone()
    assert limit.replace(" ", "") in ("61.0MiB", "64.0MB")

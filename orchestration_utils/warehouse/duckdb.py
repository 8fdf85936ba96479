"""The embedded default: a DuckDB file, read-only, where `project.dataset.table` is `catalog.schema.table`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration_utils.warehouse.base import (
    PARTITION_ID_FORMAT,
    LatestRequest,
    PartitionRequest,
    TableMeta,
    TableRef,
    Usage,
    WarehouseError,
    batched,
    with_retries,
)
from orchestration_utils.warehouse.types import parse_duckdb_type
from orchestration_utils.warehouse.url import WarehouseUrl


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _naive_utc(value: datetime) -> datetime:
    # DuckDB TIMESTAMP columns are naive; naive values are taken as UTC throughout.
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class DuckDBWarehouse:
    def __init__(self, path: Path, timeout_seconds: float = 60.0):
        self.path = Path(path)
        self.url = str(WarehouseUrl("duckdb", path=self.path))
        self.catalog = self.path.stem
        self.usage = Usage()
        self.timeout_seconds = timeout_seconds
        self._connection: duckdb.DuckDBPyConnection | None = None

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        def attempt() -> list[tuple]:
            self.usage.queries += 1
            connection = self._connect()
            # DuckDB has no statement timeout; interrupting from a timer is its documented way.
            timer = threading.Timer(self.timeout_seconds, connection.interrupt)
            timer.start()
            try:
                return connection.execute(sql, list(params)).fetchall()
            except duckdb.InterruptException as exc:
                raise WarehouseError(f"query timed out after {self.timeout_seconds:g}s", transient=True) from exc
            except duckdb.Error as exc:
                raise WarehouseError(str(exc).splitlines()[0]) from exc
            finally:
                timer.cancel()

        return with_retries(attempt)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            if not self.path.exists():
                raise WarehouseError(f"DuckDB file {self.path} does not exist")
            try:
                self._connection = duckdb.connect(str(self.path), read_only=True)
            except duckdb.Error as exc:  # an IOException: another process holds the write lock
                raise WarehouseError(str(exc).splitlines()[0], transient=isinstance(exc, duckdb.IOException)) from exc
        return self._connection

    def _table(self, dataset: tuple[str, str], table: str) -> str:
        return f"{quote(self.catalog)}.{quote(dataset[1])}.{quote(table)}"

    def describe(self, dataset: tuple[str, str], tables: Sequence[str]) -> dict[str, TableMeta | WarehouseError]:
        catalog, schema = dataset
        if catalog != self.catalog:
            error = WarehouseError(f"catalog {catalog!r} is not in this warehouse (the file's catalog is {self.catalog!r})")
            return dict.fromkeys(tables, error)
        try:
            rows = self._query(
                "SELECT t.table_name, t.table_type, c.column_name, c.data_type, c.is_nullable "
                "FROM information_schema.tables t LEFT JOIN information_schema.columns c "
                "USING (table_catalog, table_schema, table_name) "
                "WHERE t.table_catalog = ? AND t.table_schema = ? AND list_contains(?, t.table_name) "
                "ORDER BY t.table_name, c.ordinal_position",
                [catalog, schema, list(tables)],
            )
        except WarehouseError as exc:
            return dict.fromkeys(tables, exc)
        kinds: dict[str, str] = {}
        columns: dict[str, list] = {}
        for name, table_type, column, data_type, nullable in rows:
            kinds[name] = "VIEW" if table_type == "VIEW" else "TABLE"
            if column is not None:
                columns.setdefault(name, []).append(parse_duckdb_type(column, data_type, nullable == "YES"))
        counts = batched([t for t in tables if t in kinds], lambda batch: self._row_counts(dataset, batch))
        results: dict[str, TableMeta | WarehouseError] = {}
        for table in tables:
            if table not in kinds:
                results[table] = WarehouseError(f"table {catalog}.{schema}.{table} not found")
            elif isinstance(counts[table], WarehouseError):
                results[table] = counts[table]
            else:
                results[table] = TableMeta(
                    ref=TableRef(catalog, schema, table),
                    kind=kinds[table],
                    schema=tuple(columns.get(table, ())),
                    row_count=counts[table],
                    modified=None,  # DuckDB keeps no per-table modification time
                )
        return results

    def _row_counts(self, dataset: tuple[str, str], tables: Sequence[str]) -> dict[str, int]:
        sql = " UNION ALL ".join(f"SELECT ? AS t, count(*) FROM {self._table(dataset, t)}" for t in tables)
        return dict(self._query(sql, list(tables)))

    def latest(self, dataset: tuple[str, str], requests: Sequence[LatestRequest]) -> dict[str, object]:
        by_table = {r.meta.ref.table: r for r in requests}

        def run(tables: Sequence[str]) -> dict[str, object]:
            parts, params = [], []
            for table in tables:
                request = by_table[table]
                where = ""
                if request.partition_column:
                    where = f" WHERE {quote(request.partition_column)} >= ?"
                parts.append(f"SELECT ? AS t, max({quote(request.column)}) FROM {self._table(dataset, table)}{where}")
                params.append(table)
                if request.partition_column:
                    params.append(_naive_utc(request.since))
            return dict(self._query(" UNION ALL ".join(parts), params))

        return batched(list(by_table), run)

    def partition_counts(
        self, dataset: tuple[str, str], requests: Sequence[PartitionRequest]
    ) -> dict[str, dict[str, int] | WarehouseError]:
        by_table = {r.meta.ref.table: r for r in requests}

        def run(tables: Sequence[str]) -> dict[str, dict[str, int]]:
            parts, params = [], []
            for table in tables:
                request = by_table[table]
                if request.column is None:
                    raise WarehouseError(f"{request.meta.ref.id}: no partition_column to group on")
                column = quote(request.column)
                parts.append(
                    f"SELECT ? AS t, strftime(date_trunc('{request.granularity}', {column}), "
                    f"'{PARTITION_ID_FORMAT[request.granularity]}') AS p, count(*) "
                    f"FROM {self._table(dataset, table)} WHERE {column} >= ? AND {column} < ? GROUP BY 1, 2"
                )
                params += [table, _naive_utc(request.since), _naive_utc(request.until)]
            counts: dict[str, dict[str, int]] = {t: {} for t in tables}
            for table, partition, rows in self._query(" UNION ALL ".join(parts), params):
                counts[table][partition] = rows
            return counts

        return batched(list(by_table), run)

    def query_rows(self, sql: str) -> list[dict[str, object]]:
        connection = self._connect()
        rows = self._query(sql)
        return [dict(zip([d[0] for d in connection.description], row, strict=True)) for row in rows]

    def jobs(self, since: datetime, until: datetime) -> None:
        return None  # DuckDB keeps no job history; failed Dagster runs still count

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

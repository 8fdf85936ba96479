"""The warehouse interface: table metadata, partitions, latest timestamps, jobs and the monitor's own cost.

Checks ask in batches per dataset, so round trips grow with datasets, not tables times
checks. Identifiers reach SQL only after `TableRef` validated them, and are quoted by
the backend; values travel as query parameters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from orchestration_utils.errors import ServiceError, WarehouseError

T = TypeVar("T")

# BigQuery's rules, which DuckDB's catalog.schema.table also fits: a project id may carry a
# domain prefix (`example.com:proj`); a dataset is letters, digits, underscores; a table
# may add hyphens (and, in BigQuery, unicode letters).
PROJECT_PATTERN = r"(?:[a-z][a-z0-9.-]*:)?[A-Za-z][A-Za-z0-9_-]{0,62}"
_DATASET = r"[A-Za-z0-9_]{1,1024}"
_TABLE = r"[\w-]{1,1024}"
_TABLE_ID = re.compile(rf"({PROJECT_PATTERN})\.({_DATASET})\.({_TABLE})")
# BigQuery's partition ids by granularity; DuckDB's grouped counts and the date spine use the same.
PARTITION_ID_FORMAT = {"hour": "%Y%m%d%H", "day": "%Y%m%d", "month": "%Y%m", "year": "%Y"}
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,299}")


@dataclass(frozen=True, slots=True, order=True)
class TableRef:
    project: str
    dataset: str
    table: str

    @property
    def id(self) -> str:
        return f"{self.project}.{self.dataset}.{self.table}"

    @property
    def dataset_key(self) -> tuple[str, str]:
        return self.project, self.dataset


def parse_table_id(value: str) -> TableRef:
    """`project.dataset.table`; raises ValueError naming what is wrong."""
    match = _TABLE_ID.fullmatch(value)
    if not match:
        raise ValueError(
            f"malformed table_id {value!r}: expected project.dataset.table "
            "(letters, digits, _ and -; DuckDB: catalog.schema.table)"
        )
    return TableRef(*match.groups())


def check_column_name(value: str) -> str:
    if not _COLUMN.fullmatch(value):
        raise ValueError(
            f"malformed column name {value!r}: letters, digits and _, not starting with a digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Field:
    """A column as BigQuery describes it: canonical type, mode, nested fields for RECORDs."""

    name: str
    type: str | None  # None: not declared (a dbt column without data_type)
    mode: str | None = "NULLABLE"  # NULLABLE | REQUIRED | REPEATED; None: not declared
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True, slots=True)
class TableMeta:
    ref: TableRef
    kind: str  # TABLE | VIEW | EXTERNAL | ...
    schema: tuple[Field, ...]
    row_count: int | None
    modified: datetime | None  # None where the warehouse keeps no modification time (DuckDB, views)
    partition_column: str | None = None
    partition_granularity: str | None = None  # hour | day | month | year | integer_range
    streaming_rows: int = 0
    streaming_oldest: datetime | None = None

    def column_type(self, name: str) -> str | None:
        lowered = name.lower()
        return next((f.type for f in self.schema if f.name.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class LatestRequest:
    """`MAX(column)` of a table, reading only rows (partitions) at or after `since`."""

    meta: TableMeta
    column: str
    since: datetime
    partition_column: str | None  # the filter that prunes partitions; None scans the table


@dataclass(frozen=True, slots=True)
class PartitionRequest:
    """Row counts per partition id (`YYYYMMDD`, `YYYYMMDDHH`, `YYYYMM`) in [since, until)."""

    meta: TableMeta
    column: str | None  # DuckDB groups on it; BigQuery reads its real partitioning
    granularity: str
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    created: datetime | None
    user: str | None
    statement_type: str | None
    error_reason: str | None
    error_message: str | None
    destination: str | None
    bytes_billed: int
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Usage:
    """What the monitoring itself cost: billed queries, free metadata calls, bytes billed."""

    queries: int = 0
    metadata_calls: int = 0
    bytes_billed: int = 0


class Warehouse(Protocol):
    url: str
    usage: Usage

    def describe(
        self, dataset: tuple[str, str], tables: Sequence[str]
    ) -> dict[str, TableMeta | WarehouseError]: ...

    def latest(
        self, dataset: tuple[str, str], requests: Sequence[LatestRequest]
    ) -> dict[str, object]:
        """MAX(column) per table as the warehouse returns it (a datetime, date, string or number;
        None for no rows), or the WarehouseError of that table."""
        ...

    def partition_counts(
        self, dataset: tuple[str, str], requests: Sequence[PartitionRequest]
    ) -> dict[str, dict[str, int] | WarehouseError]: ...

    def query_rows(self, sql: str) -> list[dict[str, object]]:
        """A user's own SQL (an SLA quality query), under the bytes cap; BigQuery dry-runs it first."""
        ...

    def jobs(self, since: datetime, until: datetime) -> list[Job] | None:
        """Jobs that finished in the window; None where the warehouse keeps no job history."""
        ...

    def close(self) -> None: ...


def with_retries(call: Callable[[], T], attempts: int = 3, backoff_seconds: float = 0.5) -> T:
    """Retry transient service errors (warehouse, Airflow API) with exponential backoff; other errors surface at once."""
    for attempt in range(attempts):
        try:
            return call()
        except ServiceError as exc:
            if not exc.transient or attempt == attempts - 1:
                raise
            time.sleep(backoff_seconds * 2**attempt)
    raise AssertionError("unreachable")


# Tables per UNION ALL query: a query's plan (and BigQuery's statement size) grows with its
# arms; past a few hundred, one query costs more than several smaller ones.
BATCH_SIZE = 200


def chunked(
    keys: Sequence[str],
    run: Callable[[Sequence[str]], dict[str, T]],
    size: int = BATCH_SIZE,
) -> dict[str, T | WarehouseError]:
    """One round trip per `size` keys. A failed batch is halved until the bad key errors alone,
    so one bad table costs about 2·log2(size) extra queries, never one per table."""
    results: dict[str, T | WarehouseError] = {}
    pending = [list(keys[start : start + size]) for start in range(0, len(keys), size)]
    while pending:
        batch = pending.pop()
        try:
            results.update(run(batch))
        except WarehouseError as exc:
            if len(batch) == 1:
                results[batch[0]] = exc
            else:
                half = len(batch) // 2
                pending += [batch[half:], batch[:half]]
    return results

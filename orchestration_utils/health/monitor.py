"""Run a health config against a warehouse: batched per dataset, every failure kept to its own check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestration_utils.errors import WarehouseError
from orchestration_utils.health import checks
from orchestration_utils.health.checks import CheckResult, error_result
from orchestration_utils.health.config import ExpectedField, HealthConfig, TableConfig
from orchestration_utils.project.model import Project
from orchestration_utils.runs.model import FailedRun
from orchestration_utils.warehouse.base import (
    Field,
    Job,
    LatestRequest,
    PartitionRequest,
    TableMeta,
    Warehouse,
)
from orchestration_utils.warehouse.types import canonical_type


@dataclass(frozen=True)
class Expectation:
    """Columns a table should have when the config names none: a dbt model's declared columns."""

    fields: tuple[Field, ...]
    source: str  # e.g. "dbt model model.shop.fct_orders"


def expectations_from_project(project: Project) -> dict[str, Expectation]:
    """Each model with declared column types promises those columns (dbt's `data_type`)."""
    expectations = {}
    for node in project.models():
        fields = tuple(
            Field(c.name, canonical_type(c.data_type), None) for c in node.columns if c.data_type
        )
        if fields:
            expectations[node.table_id] = Expectation(
                fields, f"{project.kind} model {node.unique_id}"
            )
    return expectations


def table_checks(table: TableConfig, expectations: Mapping[str, Expectation]) -> list[str]:
    """Which checks a table gets, from what its config asks for."""
    names = []
    if table.freshness is not None:
        names.append("freshness")
    if table.row_count is not None:
        names.append("row_count")
    if table.check_partitions:
        names.append("partitions")
    if table.expected_schema is not None or table.table_id in expectations:
        names.append("schema_drift")
    return names


def run_health_checks(
    config: HealthConfig,
    warehouse: Warehouse,
    now: datetime,
    expectations: Mapping[str, Expectation] | None = None,
    failed_runs: Callable[[datetime], Sequence[FailedRun]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[CheckResult]:
    """All configured checks, in config order, tables first."""
    expectations = expectations or {}
    by_dataset: dict[tuple[str, str], list[TableConfig]] = defaultdict(list)
    for table in config.tables:
        by_dataset[table.ref.dataset_key].append(table)
    results: dict[str, list[CheckResult]] = {}
    for number, (dataset, members) in enumerate(sorted(by_dataset.items()), 1):
        if progress:
            progress(
                f"dataset {number}/{len(by_dataset)} {'.'.join(dataset)}: {len(members)} tables"
            )
        results.update(_dataset_checks(dataset, members, warehouse, now, expectations))
    ordered = [r for table in config.tables for r in results[table.table_id]]
    if config.check_failures or config.check_costs:
        ordered += _job_checks(config, warehouse, now, failed_runs)
    return ordered


def _dataset_checks(
    dataset: tuple[str, str],
    tables: list[TableConfig],
    warehouse: Warehouse,
    now: datetime,
    expectations: Mapping[str, Expectation],
) -> dict[str, list[CheckResult]]:
    wanted = {t.table_id: table_checks(t, expectations) for t in tables}
    metas = warehouse.describe(dataset, [t.ref.table for t in tables])

    latest_requests, partition_requests, spines = [], [], {}
    # A column the metadata says is gone errors its table here, so it never fails a batched query.
    latest: dict[str, object] = {}
    partitions: dict[str, object] = {}
    for table in tables:
        meta = metas[table.ref.table]
        if isinstance(meta, WarehouseError):
            continue
        partition_column = table.partition_column or meta.partition_column
        granularity = meta.partition_granularity or table.partition_granularity or "day"
        # Only a time partition prunes by time; an integer range one cannot take a time filter.
        time_column = partition_column if granularity in checks.TIME_GRANULARITIES else None
        gone = _missing_column(meta, time_column)
        if "freshness" in wanted[table.table_id] and table.timestamp_column:
            if gone or (gone := _missing_column(meta, table.timestamp_column)):
                latest[table.ref.table] = gone
            else:
                latest_requests.append(
                    LatestRequest(
                        meta,
                        table.timestamp_column,
                        checks.freshness_window_start(table, now),
                        time_column,
                    )
                )
        if {"row_count", "partitions"} & set(wanted[table.table_id]) and time_column:
            since, until, ids = checks.partition_window(granularity, table.lookback_days, now)
            spines[table.table_id] = (granularity, ids)
            if gone:
                partitions[table.ref.table] = gone
            else:
                partition_requests.append(
                    PartitionRequest(meta, time_column, granularity, since, until)
                )
    if latest_requests:
        latest.update(warehouse.latest(dataset, latest_requests))
    if partition_requests:
        partitions.update(warehouse.partition_counts(dataset, partition_requests))

    results: dict[str, list[CheckResult]] = {}
    for table in tables:
        meta = metas[table.ref.table]
        results[table.table_id] = [
            _guarded_check(name, table, meta, latest, partitions, spines, expectations, now)
            for name in wanted[table.table_id]
        ]
    return results


def _missing_column(meta: TableMeta, column: str | None) -> WarehouseError | None:
    """The column is not in the table's schema (a pseudo-column like `_PARTITIONTIME` never is)."""
    if (
        column is None
        or not meta.schema
        or column.startswith("_PARTITION")
        or meta.column_type(column) is not None
    ):
        return None
    return WarehouseError(
        f"{meta.ref.id} has no column {column!r} (its columns: "
        f"{', '.join(f.name for f in meta.schema[:8])}{', ...' if len(meta.schema) > 8 else ''})"
    )


def _guarded_check(name: str, table: TableConfig, *context: Any) -> CheckResult:
    """One check's unforeseen failure is that check's ERROR: the report always completes."""
    try:
        return _one_check(name, table, *context)
    except Exception as exc:  # noqa: BLE001 -- the promise is per check, whatever went wrong
        return error_result(
            table.table_id, name, f"the check failed: {type(exc).__name__}: {exc}", table.critical
        )


def _one_check(
    name: str,
    table: TableConfig,
    meta: TableMeta | WarehouseError,
    latest: Mapping[str, object],
    partitions: Mapping[str, Mapping[str, int] | WarehouseError],
    spines: Mapping[str, tuple[str, list[str]]],
    expectations: Mapping[str, Expectation],
    now: datetime,
) -> CheckResult:
    if isinstance(meta, WarehouseError):
        return error_result(table.table_id, name, str(meta), table.critical)
    key = table.ref.table
    counts = partitions.get(key)
    if isinstance(counts, WarehouseError):
        if name in ("row_count", "partitions"):
            return error_result(table.table_id, name, str(counts), table.critical)
        counts = None  # only those two checks read the counts
    if name == "freshness":
        value = latest.get(key)
        if isinstance(value, WarehouseError):
            return error_result(table.table_id, name, str(value), table.critical)
        return checks.check_freshness(table, meta, value, now)
    if name == "row_count":
        return checks.check_row_count(table, meta, counts)
    if name == "partitions":
        if table.table_id not in spines:
            return error_result(
                table.table_id, name, _no_time_partitions(table, meta), table.critical
            )
        granularity, expected = spines[table.table_id]
        return checks.check_partitions(table, granularity, expected, counts or {})
    if table.expected_schema is not None:
        return checks.check_schema_drift(
            table, [_field(f) for f in table.expected_schema], meta, "config"
        )
    expectation = expectations[table.table_id]
    # A dbt model documents the columns it promises; undocumented extra columns are not drift.
    return checks.check_schema_drift(
        table, expectation.fields, meta, expectation.source, report_added=False
    )


def _no_time_partitions(table: TableConfig, meta: TableMeta) -> str:
    if meta.partition_granularity == "integer_range":
        return (
            f"{meta.ref.id} is partitioned by integer range on {meta.partition_column}: the partitions check "
            "compares time partitions, and a range has no missing days to find"
        )
    return "not partitioned by time: set row_count.partition_column"


def _field(expected: ExpectedField) -> Field:
    return Field(
        expected.name,
        canonical_type(expected.type),
        expected.mode,
        tuple(_field(f) for f in expected.fields),
    )


def _job_checks(
    config: HealthConfig,
    warehouse: Warehouse,
    now: datetime,
    failed_runs: Callable[[datetime], Sequence[FailedRun]] | None,
) -> list[CheckResult]:
    hours = max(
        config.failure_lookback_hours if config.check_failures else 0,
        config.cost_lookback_hours if config.check_costs else 0,
    )
    try:
        jobs = warehouse.jobs(now - timedelta(hours=hours), now)
    except WarehouseError as exc:
        failure: str | None = str(exc)
        jobs = None
    else:
        failure = None

    def recent(since: datetime) -> list[Job] | None:
        return (
            None if jobs is None else [j for j in jobs if j.created is None or j.created >= since]
        )

    results = []
    if config.check_failures:
        since = now - timedelta(hours=config.failure_lookback_hours)
        if failure:
            results.append(error_result("warehouse", "failed_jobs", failure, True))
        else:
            try:
                runs = failed_runs(since) if failed_runs else None
            except Exception as exc:  # noqa: BLE001 -- the Dagster instance is another system; its failure is this check's
                results.append(
                    error_result("warehouse", "failed_jobs", f"Dagster run history: {exc}", True)
                )
            else:
                results.append(
                    checks.check_failed_jobs(recent(since), runs, config.failure_lookback_hours)
                )
    if config.check_costs:
        since = now - timedelta(hours=config.cost_lookback_hours)
        if failure:
            results.append(error_result("warehouse", "cost", failure))
        else:
            results.append(
                checks.check_cost(
                    recent(since),
                    config.usd_per_tib,
                    config.cost_threshold_usd,
                    config.cost_lookback_hours,
                )
            )
    return results

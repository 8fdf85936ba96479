"""The checks as pure functions: metadata and figures in, a `CheckResult` out. No I/O here."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from orchestration_utils.health.config import TableConfig
from orchestration_utils.runs.model import FailedRun
from orchestration_utils.warehouse.base import PARTITION_ID_FORMAT, Field, Job, TableMeta

TIB = 1024**4
_TOP = 20  # breakdowns and samples keep the largest entries; the totals keep everything


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"  # the check could not be made; the reason is in `message`


@dataclass(frozen=True)
class CheckResult:
    table: str  # a table id, or "warehouse" for the job checks
    check: str  # freshness | row_count | partitions | schema_drift | failed_jobs | cost
    status: Status
    message: str
    figures: Mapping[str, object] = field(default_factory=dict)
    critical: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "check": self.check,
            "status": str(self.status),
            "critical": self.critical,
            "message": self.message,
            **self.figures,
        }


def with_evidence(result: CheckResult, evidence: str) -> CheckResult:
    """The same result, saying what it was judged from."""
    return replace(result, figures={**result.figures, "evidence": evidence})


def error_result(table: str, check: str, reason: str, critical: bool = False) -> CheckResult:
    return CheckResult(table, check, Status.ERROR, reason, {}, critical)


def as_utc(value: datetime | date | None) -> datetime | None:
    """Naive timestamps (DuckDB TIMESTAMP, BigQuery DATETIME) are taken as UTC; a DATE as its midnight."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UnreadableTimestamp(ValueError):
    """`str()` says what the column holds instead of a time."""


# An epoch's magnitude says its unit: below 1e11 seconds (until year 5138), below 1e14 milliseconds,
# below 1e17 microseconds, below 1e20 nanoseconds. Data times after 1973 read unambiguously.
_EPOCH_UNITS = ((10**11, 1), (10**14, 1_000), (10**17, 1_000_000), (10**20, 1_000_000_000))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC_TYPES = {
    "INT64",
    "INTEGER",
    "NUMERIC",
    "BIGNUMERIC",
    "FLOAT64",
}  # BigQuery's names (canonical types)


def parse_timestamp(value: object, column: str, column_type: str | None = None) -> datetime | None:
    """MAX(column) as the warehouse returned it: a timestamp or date, an ISO string, or a Unix
    epoch in s/ms/µs/ns (a number, or digits in a string). Anything else raises UnreadableTimestamp."""
    if value is None or isinstance(value, datetime | date):
        return as_utc(value)
    held = f"{column} ({column_type or type(value).__name__}) holds {str(value)[:40]!r}"
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise UnreadableTimestamp(f"{held}, not a timestamp")
    if isinstance(value, str):
        text = value.strip()
        # Digits are an epoch, not ISO's basic format (which would read 1796040000000 as year 1796),
        # except the 8 of a basic date (YYYYMMDD).
        numeric = (column_type or "").upper() in _NUMERIC_TYPES or (
            text.isdigit() and len(text) != 8
        )
        if not numeric:
            try:
                return as_utc(datetime.fromisoformat(text.replace(" UTC", "+00:00")))
            except ValueError:
                pass
        try:
            value = Decimal(text)
        except ArithmeticError:
            raise UnreadableTimestamp(f"{held}, not an ISO time or a Unix epoch") from None
    if not math.isfinite(value) or value < 0:
        raise UnreadableTimestamp(f"{held}, not a Unix epoch time")
    for limit, per_second in _EPOCH_UNITS:
        if value < limit:
            seconds = Decimal(value) / per_second  # exact: a float would lose nanoseconds' digits
            return _EPOCH + timedelta(
                seconds=int(seconds), microseconds=int(seconds % 1 * 1_000_000)
            )
    raise UnreadableTimestamp(f"{held}, too large for a Unix epoch time")


def freshness_window_start(table: TableConfig, now: datetime) -> datetime:
    """How far back `MAX(timestamp_column)` looks: wide enough to say how stale, never the whole table.
    It starts at midnight UTC: the bound prunes on the partition column, and a DATE partition
    (`event_date`) compared with 01:00 would drop that whole day's rows, the newest ones included."""
    hours = max(2 * (table.max_age_hours or 24), (table.max_age_hours or 24) + 24)
    return (now - timedelta(hours=hours)).replace(hour=0, minute=0, second=0, microsecond=0)


# Table kinds whose metadata time is not when their data changed: a view's is when its SQL
# changed, an external table's when its definition did (its files change on their own).
NO_DATA_TIME = {"VIEW": "a view", "EXTERNAL": "an external table"}


def check_freshness(
    table: TableConfig, meta: TableMeta, latest: object, now: datetime, evidence: str | None = None
) -> CheckResult:
    """`latest` is MAX(timestamp_column) when one is configured, else the table's metadata decides."""
    if table.timestamp_column:
        column = table.timestamp_column
        try:
            newest = parse_timestamp(latest, column, meta.column_type(column))
        except UnreadableTimestamp as exc:
            return error_result(
                table.table_id, "freshness", f"{exc}: cannot tell how fresh it is", table.critical
            )
        evidence = evidence or f"column {column} (configured)"
        if newest is None:
            since = freshness_window_start(table, now)
            return CheckResult(
                table.table_id,
                "freshness",
                Status.FAIL,
                f"no rows with {column} since {since.isoformat()}",
                {
                    "latest_update": None,
                    "hours_stale": None,
                    "max_age_hours": table.max_age_hours,
                    "source": f"MAX({column})",
                    "evidence": evidence,
                },
                table.critical,
            )
        return judge_freshness(table, newest, now, f"MAX({column})", evidence)
    if meta.kind in NO_DATA_TIME:
        return error_result(
            table.table_id,
            "freshness",
            f"{meta.ref.id} is {NO_DATA_TIME[meta.kind]}: it has no data modification time (its metadata time is "
            "when its definition changed); set freshness.timestamp_column",
            table.critical,
        )
    # Rows still in the streaming buffer are newer than the table's last commit.
    candidates = [
        t for t in (as_utc(meta.modified), as_utc(meta.streaming_oldest)) if t is not None
    ]
    if not candidates:
        return error_result(
            table.table_id,
            "freshness",
            f"{meta.ref.id} ({meta.kind}) has no modification time in its metadata; set freshness.timestamp_column",
            table.critical,
        )
    return judge_freshness(
        table,
        max(candidates),
        now,
        "table metadata",
        evidence or f"{meta.kind.lower()} metadata modification time",
    )


def judge_freshness(
    table: TableConfig, newest: datetime, now: datetime, source: str, evidence: str
) -> CheckResult:
    """PASS, WARN or FAIL for the newest data time, whatever told it."""
    max_age = table.max_age_hours
    assert max_age is not None  # judged only for a table with a freshness block
    hours_stale = round(max((now - newest).total_seconds(), 0.0) / 3600, 3)
    figures = {
        "latest_update": newest.isoformat(),
        "hours_stale": hours_stale,
        "max_age_hours": max_age,
        "source": source,
        "evidence": evidence,
    }
    if hours_stale > max_age:
        status, message = Status.FAIL, f"{hours_stale:.1f}h stale, over the {max_age:g}h limit"
    elif table.warn_age_hours is not None and hours_stale > table.warn_age_hours:
        status, message = (
            Status.WARN,
            f"{hours_stale:.1f}h stale, over the {table.warn_age_hours:g}h warning",
        )
    else:
        status, message = Status.PASS, f"{hours_stale:.1f}h old, within {max_age:g}h"
    return CheckResult(table.table_id, "freshness", status, message, figures, table.critical)


def check_row_count(
    table: TableConfig, meta: TableMeta, partitions: Mapping[str, int] | None
) -> CheckResult:
    if meta.row_count is None:
        # "No count" is not "0 rows": a false FAIL would page someone about data nobody looked at.
        what = (
            "views report"
            if meta.kind == "VIEW"
            else f"{meta.kind.lower().replace('_', ' ')} tables report"
        )
        return error_result(
            table.table_id,
            "row_count",
            f"{meta.ref.id} is {meta.kind}: {what} no row count in their metadata",
            table.critical,
        )
    rows = meta.row_count + meta.streaming_rows
    figures: dict[str, object] = {
        "row_count": rows,
        "min_rows": table.min_rows,
        "max_rows": table.max_rows,
    }
    if partitions is not None:
        figures["partition_rows"] = dict(sorted(partitions.items()))
    if table.min_rows is not None and rows < table.min_rows:
        status, message = Status.FAIL, f"{rows} rows, fewer than {table.min_rows}"
    elif table.max_rows is not None and rows > table.max_rows:
        status, message = Status.FAIL, f"{rows} rows, more than {table.max_rows}"
    else:
        status, message = Status.PASS, f"{rows} rows"
    return CheckResult(table.table_id, "row_count", status, message, figures, table.critical)


_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
TIME_GRANULARITIES = ("hour", "day", "month", "year")


def partition_window(
    granularity: str, lookback_days: int, now: datetime
) -> tuple[datetime, datetime, list[str]]:
    """The complete partitions of the last `lookback_days`: [since, until) and their ids.

    The partition `now` falls in is still filling and is left out."""
    now = now.astimezone(UTC)
    if granularity in ("month", "year"):
        # Calendar units: whole months (years) that overlap the lookback, ending before the current one.
        def start_of(t: datetime) -> datetime:
            t = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            return t.replace(month=1) if granularity == "year" else t

        def following(t: datetime) -> datetime:
            return (
                t.replace(year=t.year + 1)
                if granularity == "year"
                else (t + timedelta(days=32)).replace(day=1)
            )

        until = start_of(now)
        cursor = start_of(now - timedelta(days=lookback_days))
        since, ids = cursor, []
        while cursor < until:
            ids.append(cursor.strftime(PARTITION_ID_FORMAT[granularity]))
            cursor = following(cursor)
        return since, until, ids
    until = now.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        until = until.replace(hour=0)
    since = until - timedelta(days=lookback_days)
    step = _STEP[granularity]
    count = int((until - since) / step)
    return (
        since,
        until,
        [(since + i * step).strftime(PARTITION_ID_FORMAT[granularity]) for i in range(count)],
    )


def check_partitions(
    table: TableConfig, granularity: str, expected: Sequence[str], counts: Mapping[str, int]
) -> CheckResult:
    """A date spine: a missing partition has no row to find, so expected ids are listed first."""
    missing = [p for p in expected if p not in counts]
    empty = [p for p in expected if counts.get(p) == 0]
    figures = {
        "granularity": granularity,
        "lookback_days": table.lookback_days,
        "expected_partitions": len(expected),
        "missing_partitions": missing,
        "empty_partitions": empty,
        "missing_count": len(missing),
        "empty_count": len(empty),
    }
    if missing or empty:
        parts = [
            f"{len(missing)} missing" if missing else "",
            f"{len(empty)} empty" if empty else "",
        ]
        message = (
            " and ".join(p for p in parts if p) + f" of {len(expected)} {granularity} partitions"
        )
        return CheckResult(
            table.table_id, "partitions", Status.FAIL, message, figures, table.critical
        )
    return CheckResult(
        table.table_id,
        "partitions",
        Status.PASS,
        f"all {len(expected)} {granularity} partitions present",
        figures,
        table.critical,
    )


@dataclass(frozen=True)
class SchemaChange:
    column: str  # dotted path for nested fields
    change: str  # added | removed | type_changed | mode_changed
    expected: str | None
    actual: str | None
    breaking: bool


def diff_schema(
    expected: Sequence[Field], actual: Sequence[Field], report_added: bool = True, prefix: str = ""
) -> list[SchemaChange]:
    """Name, type and mode compared recursively; BigQuery column names are case-insensitive."""
    changes: list[SchemaChange] = []
    actual_by_name = {f.name.lower(): f for f in actual}
    expected_names = {f.name.lower() for f in expected}
    for want in expected:
        path = prefix + want.name
        have = actual_by_name.get(want.name.lower())
        if have is None:
            changes.append(SchemaChange(path, "removed", _describe(want), None, True))
            continue
        if want.type is not None and have.type != want.type:
            changes.append(SchemaChange(path, "type_changed", want.type, have.type, True))
        elif want.mode is not None and have.mode != want.mode:
            # REQUIRED → NULLABLE relaxes a contract readers already handle; anything else breaks them.
            relaxed = want.mode == "REQUIRED" and have.mode == "NULLABLE"
            changes.append(SchemaChange(path, "mode_changed", want.mode, have.mode, not relaxed))
        if want.type == "RECORD" and have.type == "RECORD" and want.fields:
            changes += diff_schema(want.fields, have.fields, report_added, path + ".")
    if report_added:
        for have in actual:
            if have.name.lower() not in expected_names:
                changes.append(
                    SchemaChange(prefix + have.name, "added", None, _describe(have), False)
                )
    return changes


def _describe(f: Field) -> str:
    return f"{f.type or '?'} {f.mode or ''}".strip()


def check_schema_drift(
    table: TableConfig,
    expected: Sequence[Field],
    meta: TableMeta,
    source: str,
    report_added: bool = True,
) -> CheckResult:
    changes = diff_schema(expected, meta.schema, report_added)
    breaking = [c for c in changes if c.breaking]
    figures = {
        "expected_from": source,
        "changes": [
            {
                "column": c.column,
                "change": c.change,
                "expected": c.expected,
                "actual": c.actual,
                "breaking": c.breaking,
            }
            for c in changes
        ],
        "breaking_changes": len(breaking),
        "additive_changes": len(changes) - len(breaking),
    }
    if breaking:
        status = Status.FAIL
        message = "breaking: " + ", ".join(f"{c.column} {c.change}" for c in breaking[:5])
    elif changes:
        status = Status.WARN
        message = "additive: " + ", ".join(f"{c.column} {c.change}" for c in changes[:5])
    else:
        status, message = Status.PASS, f"matches {len(expected)} expected columns"
    return CheckResult(table.table_id, "schema_drift", status, message, figures, table.critical)


def check_failed_jobs(
    jobs: Sequence[Job] | None, runs: Sequence[FailedRun] | None, lookback_hours: float
) -> CheckResult:
    """FAIL when any warehouse job or Dagster run of the lookback failed. `jobs` None: the
    warehouse keeps no job history (DuckDB); `runs` None: no Dagster instance to read. With
    neither there is nothing to judge: ERROR, not a PASS nobody measured."""
    failed = [j for j in jobs or () if j.error_reason]
    figures = {
        "lookback_hours": lookback_hours,
        "failed_jobs": len(failed),
        "failed_dagster_runs": len(runs or ()),
        "warehouse_job_history": jobs is not None,
        "failures": [
            {
                "job_id": j.job_id,
                "user": j.user,
                "reason": j.error_reason,
                "message": (j.error_message or "")[:300],
                "destination": j.destination,
            }
            for j in failed[:_TOP]
        ],
        "dagster_runs": [{"run_id": r.run_id, "job_name": r.job_name} for r in (runs or ())[:_TOP]],
    }
    total = len(failed) + len(runs or ())
    if total:
        by_reason = Counter(j.error_reason for j in failed)
        detail = ", ".join(f"{n} {reason}" for reason, n in by_reason.most_common(3))
        message = f"{len(failed)} failed warehouse jobs" + (f" ({detail})" if detail else "")
        message += f", {len(runs or ())} failed Dagster runs in {lookback_hours:g}h"
        return CheckResult("warehouse", "failed_jobs", Status.FAIL, message, figures, True)
    if jobs is None and runs is None:
        return error_result(
            "warehouse",
            "failed_jobs",
            "no failure history to read: this warehouse keeps no job history and no Dagster "
            "instance was found (set DAGSTER_HOME to the code location's instance)",
            True,
        )
    if runs is None:
        scope = "warehouse jobs (no Dagster instance found: Dagster runs not read)"
    elif jobs is None:
        scope = "Dagster runs (this warehouse keeps no job history)"
    else:
        scope = "warehouse jobs and Dagster runs"
    return CheckResult(
        "warehouse",
        "failed_jobs",
        Status.PASS,
        f"no failed {scope} in {lookback_hours:g}h",
        figures,
        True,
    )


def bytes_to_usd(bytes_billed: int, usd_per_tib: float) -> float:
    return round(bytes_billed / TIB * usd_per_tib, 6)


def cost_breakdown(jobs: Sequence[Job], usd_per_tib: float) -> dict[str, Any]:
    def usd(bytes_billed: int) -> float:
        return bytes_to_usd(bytes_billed, usd_per_tib)

    by_user: dict[str, int] = defaultdict(int)
    by_table: dict[str, int] = defaultdict(int)
    by_label: dict[str, int] = defaultdict(int)
    for job in jobs:
        by_user[job.user or "unknown"] += job.bytes_billed
        by_table[job.destination or "(none)"] += job.bytes_billed
        for key, value in job.labels.items():
            by_label[f"{key}={value}"] += job.bytes_billed
    total = sum(j.bytes_billed for j in jobs)

    def top(totals: Mapping[str, int]) -> list[dict[str, object]]:
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP]
        return [{"name": k, "bytes_billed": v, "cost_usd": usd(v)} for k, v in ranked]

    return {
        "jobs": len(jobs),
        "bytes_billed": total,
        "total_cost_usd": usd(total),
        "usd_per_tib": usd_per_tib,
        "by_user": top(by_user),
        "by_table": top(by_table),
        "by_label": top(by_label),
    }


def check_cost(
    jobs: Sequence[Job] | None,
    usd_per_tib: float,
    threshold_usd: float | None,
    lookback_hours: float,
) -> CheckResult:
    figures: dict[str, Any]
    if jobs is None:
        figures = {
            "lookback_hours": lookback_hours,
            "bytes_billed": 0,
            "total_cost_usd": 0.0,
            "cost_threshold_usd": threshold_usd,
        }
        return CheckResult(
            "warehouse",
            "cost",
            Status.PASS,
            "this warehouse bills nothing (no job history)",
            figures,
        )
    figures = {
        "lookback_hours": lookback_hours,
        "cost_threshold_usd": threshold_usd,
        **cost_breakdown(jobs, usd_per_tib),
    }
    total = figures["total_cost_usd"]
    if threshold_usd is not None and total > threshold_usd:
        return CheckResult(
            "warehouse",
            "cost",
            Status.FAIL,
            f"${total:.2f} in {lookback_hours:g}h, over ${threshold_usd:g}",
            figures,
        )
    return CheckResult(
        "warehouse", "cost", Status.PASS, f"${total:.2f} in {lookback_hours:g}h", figures
    )

"""Evaluate every SLA once: the current state (PASS, FAIL, ERROR) and, from the recorded
history, compliance, error budget and burn rate over its window."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, cast

from orchestration_utils.errors import RunHistoryError, WarehouseError
from orchestration_utils.health.checks import CheckResult, Status, judge_freshness
from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.runs.model import PipelineRun
from orchestration_utils.sla.budget import (
    Compliance,
    Sample,
    count_compliance,
    time_compliance,
    time_weighted,
)
from orchestration_utils.sla.config import (
    AvailabilitySla,
    CompletionSla,
    FreshnessSla,
    QualitySla,
    SlaConfig,
)
from orchestration_utils.sla.quality_sql import QuerySqlError, for_warehouse
from orchestration_utils.warehouse.base import Warehouse


class SlaStatus(StrEnum):
    """Neither ERROR nor NO_DATA alerts or resolves; a critical SLA's ERROR fails the CLI's run
    (as a violation does), NO_DATA does not: nothing is wrong, nothing is measured yet."""

    PASS = "PASS"  # the SLA is met
    FAIL = "FAIL"  # violated
    ERROR = "ERROR"  # cannot be evaluated: the warehouse, table, query or run history failed
    NO_DATA = "NO_DATA"  # nothing measured yet: no evaluation in the window to judge it by


# What a recorded status says about the SLA; OK and VIOLATED are how earlier versions recorded it.
_RECORDED_OK = {"PASS": True, "OK": True, "FAIL": False, "VIOLATED": False}


def recorded_ok(status: str) -> bool | None:
    """True met, False violated, None not evaluated (ERROR, NO_DATA: counts as no data)."""
    return _RECORDED_OK.get(status)


@dataclass(frozen=True)
class SlaResult:
    name: str
    type: str
    subject: str  # the pipeline or table
    critical: bool
    status: SlaStatus
    message: str
    target: str
    figures: Mapping[str, object] = field(default_factory=dict)
    compliance: Compliance | None = None

    def to_json(self) -> dict[str, object]:
        """The seed's keys (`table` or `pipeline`, `sla_type`, `status`, `critical`, the figures) and ours."""
        where = "pipeline" if self.type == "completion_time" else "table"
        return {
            where: self.subject,
            "sla_type": self.type,
            "status": str(self.status),
            "critical": self.critical,
            "name": self.name,
            "subject": self.subject,
            "message": self.message,
            "target": self.target,
            **self.figures,
            **(self.compliance.to_json() if self.compliance else {}),
        }


class History(Protocol):
    def samples(self, sla_name: str, since: datetime) -> list[Sample]: ...


RunSource = Callable[[CompletionSla, datetime], Sequence[PipelineRun]]


@dataclass(frozen=True)
class FreshnessObservation:
    """What the health `freshness` check of an SLA's table last saw: the newest data time, read by
    `source` (`MAX(<column>)` or `table metadata`), at `observed_at`."""

    latest_update: datetime
    source: str
    observed_at: datetime


# An SLA judges a health check's observation younger than this instead of asking the warehouse again.
OBSERVATION_MAX_AGE = timedelta(hours=2)
# Freshness evaluations are good for this long when computing compliance from history.
_FRESHNESS_GAP = timedelta(minutes=90)


def evaluate_slas(
    config: SlaConfig,
    now: datetime,
    warehouse: Warehouse | None,
    runs: RunSource | None,
    history: History,
    observed: Mapping[str, FreshnessObservation] | None = None,
) -> list[SlaResult]:
    """`observed`: by freshness SLA name, the health check's observation of its table (see
    `_freshness`)."""
    freshness = _freshness(config, now, warehouse, observed or {})
    results = []
    for sla in config.slas:
        if isinstance(sla, FreshnessSla):
            current = freshness[sla.name]
            results.append(_with_time_compliance(current, sla, now, history, _FRESHNESS_GAP))
        elif isinstance(sla, QualitySla):
            results.append(
                _with_time_compliance(_quality(sla, warehouse), sla, now, history, _FRESHNESS_GAP)
            )
        elif isinstance(sla, CompletionSla):
            results.append(_completion(sla, now, runs))
        else:
            source = config.freshness_for(sla.table_id)
            results.append(_availability(sla, source.name, freshness[source.name], now, history))
    return results


def _freshness(
    config: SlaConfig,
    now: datetime,
    warehouse: Warehouse | None,
    observed: Mapping[str, FreshnessObservation],
) -> dict[str, SlaResult]:
    """One freshness truth per table: an SLA whose table the health `freshness` check observed by
    the same column (recently) judges that observation's newest data time against its own limit,
    with the same function (`judge_freshness`); the others read the warehouse as that check does."""
    slas = [s for s in config.slas if isinstance(s, FreshnessSla)]
    if not slas:
        return {}
    tables = {
        s.name: TableConfig(
            table_id=s.table_id, max_age_hours=s.max_age_hours, timestamp_column=s.timestamp_column
        )
        for s in slas
    }
    checks: dict[str, CheckResult] = {}
    for sla in slas:
        seen = observed.get(sla.name)
        if (
            seen is not None
            and seen.source == _source(tables[sla.name])
            and (timedelta(0) <= now - seen.observed_at <= OBSERVATION_MAX_AGE)
        ):
            judged = judge_freshness(
                tables[sla.name],
                seen.latest_update,
                now,
                seen.source,
                f"the health freshness check's observation at {seen.observed_at:%Y-%m-%d %H:%M} UTC",
            )
            checks[sla.name] = replace(
                judged, message=f"{judged.message} (as the health freshness check saw it)"
            )
    # Two SLAs on one table would be one health config entry twice; evaluate each table once.
    unique = {t.table_id: t for n, t in tables.items() if n not in checks}
    if warehouse is not None and unique:
        by_table = {
            check.table: check
            for check in run_health_checks(
                HealthConfig(tables=tuple(unique.values())), warehouse, now
            )
        }
        checks.update(
            {
                n: by_table[t.table_id]
                for n, t in tables.items()
                if n not in checks and t.table_id in by_table
            }
        )
    results = {}
    for sla in slas:
        target = f"newer than {sla.max_age_hours:g} h"
        check = checks.get(sla.name)
        if check is None:
            results[sla.name] = SlaResult(
                sla.name,
                sla.type,
                sla.table_id,
                sla.critical,
                SlaStatus.ERROR,
                "no warehouse configured",
                target,
            )
            continue
        status = {
            Status.PASS: SlaStatus.PASS,
            Status.WARN: SlaStatus.PASS,
            Status.FAIL: SlaStatus.FAIL,
        }.get(check.status, SlaStatus.ERROR)
        figures: dict[str, Any] = {
            k: check.figures[k] for k in ("latest_update", "hours_stale") if k in check.figures
        }
        figures["max_age_hours"] = sla.max_age_hours
        if isinstance(figures.get("hours_stale"), int | float):
            figures["violation_hours"] = round(
                max(figures["hours_stale"] - sla.max_age_hours, 0.0), 3
            )
        elif status == SlaStatus.FAIL:  # no rows in the window: stale by an unknown amount
            figures["hours_stale"] = figures["violation_hours"] = None
        results[sla.name] = SlaResult(
            sla.name, sla.type, sla.table_id, sla.critical, status, check.message, target, figures
        )
    return results


def _source(table: TableConfig) -> str:
    """How the health checks name where a freshness time came from (`check_freshness`)."""
    return f"MAX({table.timestamp_column})" if table.timestamp_column else "table metadata"


def _quality(sla: QualitySla, warehouse: Warehouse | None) -> SlaResult:
    target = f"failure rate at most {sla.max_failure_rate:.2%}"

    def error(reason: str) -> SlaResult:
        return SlaResult(
            sla.name, sla.type, sla.table_id, sla.critical, SlaStatus.ERROR, reason, target
        )

    if warehouse is None:
        return error("no warehouse configured")
    try:
        rows = warehouse.query_rows(for_warehouse(sla.query, sla.dialect, warehouse.url))
    except QuerySqlError as exc:
        return error(str(exc))
    except WarehouseError as exc:
        return error(f"query failed: {exc}")
    if len(rows) != 1 or not {"total_rows", "failed_rows"} <= {k.lower() for k in rows[0]}:
        return error("the query must return one row with total_rows and failed_rows")
    row: dict[str, Any] = {k.lower(): v for k, v in rows[0].items()}
    try:
        total, failed = int(row["total_rows"] or 0), int(row["failed_rows"] or 0)
    except (TypeError, ValueError, OverflowError):
        return error("total_rows and failed_rows must be counts")
    if total == 0:
        return error("the query counted no rows")
    if total < 0 or not 0 <= failed <= total:
        return error(f"the query counted {total} rows and {failed} failed ones: not a failure rate")
    rate = failed / total
    figures = {
        "total_rows": total,
        "failed_rows": failed,
        "failure_rate": round(rate, 6),
        "max_failure_rate": sla.max_failure_rate,
    }
    ok = rate <= sla.max_failure_rate
    message = f"{failed} of {total} rows failed ({rate:.2%})"
    return SlaResult(
        sla.name,
        sla.type,
        sla.table_id,
        sla.critical,
        SlaStatus.PASS if ok else SlaStatus.FAIL,
        message,
        target,
        figures,
    )


def _completion(sla: CompletionSla, now: datetime, runs: RunSource | None) -> SlaResult:
    target = f"succeeds within {sla.target_duration_minutes:g} min"
    window = timedelta(hours=sla.lookback_hours)
    if runs is None:
        return SlaResult(
            sla.name,
            sla.type,
            sla.pipeline,
            sla.critical,
            SlaStatus.ERROR,
            f"no {sla.source} run history available",
            target,
        )
    try:
        finished = [r for r in runs(sla, now - window) if r.ended is not None]
    except RunHistoryError as exc:
        return SlaResult(
            sla.name, sla.type, sla.pipeline, sla.critical, SlaStatus.ERROR, str(exc), target
        )
    # `finished` holds ended runs only.
    finished.sort(key=lambda r: cast(datetime, r.ended), reverse=True)

    def good(run: PipelineRun) -> bool:
        return run.succeeded and (run.duration_minutes or 0) <= sla.target_duration_minutes

    compliance = count_compliance(
        [(cast(datetime, r.ended), good(r)) for r in finished], now, window, sla.objective_percent
    )
    if not finished:
        return SlaResult(
            sla.name,
            sla.type,
            sla.pipeline,
            sla.critical,
            SlaStatus.FAIL,
            f"no run finished in the last {sla.lookback_hours:g} h",
            target,
            {"runs": 0, "target_duration_minutes": sla.target_duration_minutes},
            compliance,
        )
    latest = finished[0]
    duration = latest.duration_minutes
    figures = {
        "runs": len(finished),
        "late_or_failed_runs": sum(not good(r) for r in finished),
        "latest_run_id": latest.run_id,
        "latest_duration_minutes": None if duration is None else round(duration, 2),
        "latest_succeeded": latest.succeeded,
        "target_duration_minutes": sla.target_duration_minutes,
        "violation_minutes": None
        if duration is None
        else round(max(duration - sla.target_duration_minutes, 0.0), 2),
    }
    if not latest.succeeded:
        status, message = SlaStatus.FAIL, f"latest run {latest.run_id} failed"
    elif not good(latest):
        status, message = (
            SlaStatus.FAIL,
            f"latest run took {duration:.1f} min, over {sla.target_duration_minutes:g}",
        )
    else:
        status, message = SlaStatus.PASS, f"latest run took {duration or 0:.1f} min"
    return SlaResult(
        sla.name, sla.type, sla.pipeline, sla.critical, status, message, target, figures, compliance
    )


def _with_time_compliance(
    current: SlaResult, sla, now: datetime, history: History, max_gap: timedelta
) -> SlaResult:
    window = timedelta(hours=sla.lookback_hours)
    samples = [*history.samples(sla.name, now - window - max_gap), _sample(current, now)]
    compliance = time_compliance(samples, now, window, max_gap, sla.objective_percent)
    return SlaResult(
        current.name,
        current.type,
        current.subject,
        current.critical,
        current.status,
        current.message,
        current.target,
        current.figures,
        compliance,
    )


# The share of an availability window that must be measured before the SLA is judged.
MIN_MEASURED_SHARE = 0.1


def _availability(
    sla: AvailabilitySla, source: str, fresh_now: SlaResult, now: datetime, history: History
) -> SlaResult:
    window = timedelta(hours=sla.lookback_hours)
    gap = timedelta(minutes=sla.max_evaluation_gap_minutes)
    samples = [*history.samples(source, now - window - gap), _sample(fresh_now, now)]
    coverage = time_weighted(samples, now - window, now, gap)
    compliance = time_compliance(samples, now, window, gap, sla.target_availability)
    target = f"fresh {sla.target_availability:g}% of {sla.lookback_hours:g} h"
    figures = {
        "availability_percent": None
        if coverage.good_ratio is None
        else round(100 * coverage.good_ratio, 3),
        "target_availability": sla.target_availability,
        "fresh_hours": round(coverage.good_seconds / 3600, 3),
        "stale_hours": round(coverage.bad_seconds / 3600, 3),
        "no_data_hours": round(coverage.no_data_seconds / 3600, 3),
        "freshness_sla": source,
    }
    needed = MIN_MEASURED_SHARE * window.total_seconds()
    if coverage.good_ratio is None or coverage.measured_seconds < needed:
        # Too little measured in the window to judge it (seconds of history would make one stale
        # evaluation 100% unavailable). If the freshness cannot be evaluated now either, that
        # failure is why (ERROR); otherwise availability has too little history yet (NO_DATA).
        if fresh_now.status in (SlaStatus.PASS, SlaStatus.FAIL):
            status = SlaStatus.NO_DATA
            message = (
                # Floored: 0.98 h must not read as the 1.0 h it still needs.
                f"{math.floor(coverage.measured_seconds / 360) / 10:.1f} h of freshness "
                f"evaluations of {source} "
                f"in the window; judged once {MIN_MEASURED_SHARE:.0%} of its "
                f"{sla.lookback_hours:g} h ({needed / 3600:.1f} h) is measured"
                if coverage.measured_seconds
                else f"no freshness evaluations of {source} in the window yet"
            )
        else:
            status, message = SlaStatus.ERROR, f"its freshness SLA {source}: {fresh_now.message}"
        return SlaResult(
            sla.name,
            sla.type,
            sla.table_id,
            sla.critical,
            status,
            message,
            target,
            figures,
            compliance,
        )
    availability = 100 * coverage.good_ratio
    ok = availability >= sla.target_availability
    message = f"fresh {availability:.2f}% of measured time (target {sla.target_availability:g}%)"
    if coverage.no_data_seconds:
        message += f"; {coverage.no_data_seconds / 3600:.1f} h without evaluations"
    return SlaResult(
        sla.name,
        sla.type,
        sla.table_id,
        sla.critical,
        SlaStatus.PASS if ok else SlaStatus.FAIL,
        message,
        target,
        figures,
        compliance,
    )


def _sample(result: SlaResult, now: datetime) -> Sample:
    return Sample(now, recorded_ok(result.status))

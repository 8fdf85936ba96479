"""The health report: the seed's JSON (`timestamp`, `checks`, `summary`) and a human summary.

Health score = 100 × (PASS + ½·WARN) / all checks, floored to one decimal (`floor_percent`): 100.0
only when every check passes. A WARN is half healthy; a FAIL and an ERROR count as zero: a check
that could not look proves nothing good about the table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson

from orchestration_utils.health.checks import CheckResult, Status, bytes_to_usd
from orchestration_utils.warehouse.base import Usage

# The JSON Schema of both outputs (the health report and --cost-report's), shipped for users' own checks.
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")

# In halves, so the score is an exact fraction.
_HALVES = {Status.PASS: 2, Status.WARN: 1, Status.FAIL: 0, Status.ERROR: 0}


def floor_percent(part: Fraction | int, whole: int) -> float:
    """100 × part / whole, rounded DOWN to one decimal in exact arithmetic: a score reads 100.0
    only when nothing is missing (2,099 of 2,100 is 99.9, not 100.0). 100.0 for nothing at all."""
    if not whole:
        return 100.0
    return int(Fraction(1000) * part / whole) / 10


def health_score(results: Sequence[CheckResult]) -> float:
    return floor_percent(Fraction(sum(_HALVES[r.status] for r in results), 2), len(results))


def summarize(results: Sequence[CheckResult]) -> dict[str, object]:
    counts = Counter(r.status for r in results)
    return {
        "total_checks": len(results),
        "passed": counts[Status.PASS],
        "warnings": counts[Status.WARN],
        "failed": counts[Status.FAIL],
        "errors": counts[Status.ERROR],
        "health_score": health_score(results),
    }


def build_report(
    results: Sequence[CheckResult],
    now: datetime,
    warehouse_url: str,
    usage: Usage,
    usd_per_tib: float,
) -> dict[str, object]:
    return {
        "timestamp": now.isoformat(),
        "warehouse": warehouse_url,
        "checks": [r.to_json() for r in results],
        "summary": summarize(results),
        "monitoring": _monitoring(usage, usd_per_tib),
    }


def report_json_lines(
    results: Sequence[CheckResult],
    now: datetime,
    warehouse_url: str,
    usage: Usage,
    usd_per_tib: float,
) -> Iterator[bytes]:
    """`build_report` as compact JSON, one check at a time: at 40,000 checks the report is never
    held twice (as dicts and as text), only the results and the bytes written so far."""
    yield (
        b'{"timestamp":'
        + orjson.dumps(now.isoformat())
        + b',"warehouse":'
        + orjson.dumps(warehouse_url)
    )
    yield b',"checks":['
    for number, result in enumerate(results):
        yield (b"," if number else b"") + orjson.dumps(
            result.to_json(), option=orjson.OPT_NON_STR_KEYS
        )
    yield (
        b'],"summary":'
        + orjson.dumps(summarize(results))
        + b',"monitoring":'
        + orjson.dumps(_monitoring(usage, usd_per_tib))
        + b"}\n"
    )


def _monitoring(usage: Usage, usd_per_tib: float) -> dict[str, object]:
    # What watching cost: users ask for this before they let a monitor near BigQuery.
    return {
        "queries": usage.queries,
        "metadata_calls": usage.metadata_calls,
        "bytes_billed": usage.bytes_billed,
        "cost_usd": bytes_to_usd(usage.bytes_billed, usd_per_tib),
    }


def exit_status(results: Sequence[CheckResult]) -> int:
    """0 all pass (warnings included), 1 any FAIL or ERROR."""
    return 1 if any(r.status in (Status.FAIL, Status.ERROR) for r in results) else 0


# Non-passing checks named one per line on stderr; past this many, a count (the JSON has them all).
SUMMARY_LINES = 20


def human_summary(report: Mapping[str, Any], limit: int = SUMMARY_LINES) -> list[str]:
    summary = report["summary"]
    lines = [
        f"health score {summary['health_score']}: {summary['passed']} passed, {summary['warnings']} warnings, "
        + f"{summary['failed']} failed, {summary['errors']} errors of {summary['total_checks']} checks"
    ]
    not_passing = [c for c in report["checks"] if c["status"] != Status.PASS]
    # The most serious first, so a cap never hides a critical check, an ERROR or a FAIL behind
    # the rest: critical before not, then ERROR, FAIL, WARN.
    not_passing.sort(key=lambda c: (not c["critical"], _SEVERITY[c["status"]]))
    for check in not_passing[:limit]:
        lines.append(f"  {check['status']:5} {check['table']} {check['check']}: {check['message']}")
    if len(not_passing) > limit:
        lines.append(
            f"  ... and {len(not_passing) - limit} more not passing (every check is in the JSON report)"
        )
    usage = report["monitoring"]
    lines.append(
        f"monitoring cost: {usage['queries']} queries, {usage['metadata_calls']} metadata calls, "
        f"{usage['bytes_billed']} bytes billed"
    )
    return lines


_SEVERITY = {Status.ERROR: 0, Status.FAIL: 1, Status.WARN: 2}

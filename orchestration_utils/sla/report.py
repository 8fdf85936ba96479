"""SLA results as the seed's JSON (`timestamp`, `summary`, `violations`, and our `slas`) and as
Markdown that reads well on a pull request: summary, violations (critical first) with their
figures, a table per SLA type. `schemas/sla-output.schema.json` describes the JSON.

Compliance rate = 100 x passed / total checks: an SLA that could not be evaluated (ERROR) or has
nothing measured yet (NO_DATA, counted apart as `no_data`) proves
nothing good, as in the health score; floored to one decimal like it (100.0 only when all pass)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from orchestration_utils.health.report import floor_percent
from orchestration_utils.sla.budget import budget_text
from orchestration_utils.sla.evaluate import SlaResult, SlaStatus

_TYPES = (
    ("completion_time", "Completion time"),
    ("freshness", "Freshness"),
    ("quality", "Quality"),
    ("availability", "Availability"),
)
_FIGURES = {
    "completion_time": ("latest_duration_minutes", "runs", "late_or_failed_runs"),
    "freshness": ("hours_stale", "violation_hours", "latest_update"),
    "quality": ("failed_rows", "total_rows", "failure_rate"),
    "availability": ("availability_percent", "stale_hours", "no_data_hours"),
}


def violations(results: Sequence[SlaResult]) -> list[SlaResult]:
    return sorted(
        (r for r in results if r.status == SlaStatus.FAIL), key=lambda r: (not r.critical, r.name)
    )


def critical_errors(results: Sequence[SlaResult]) -> list[SlaResult]:
    """Critical SLAs that cannot be evaluated: as much a reason to act as a critical violation."""
    return [r for r in results if r.critical and r.status == SlaStatus.ERROR]


def summarize(results: Sequence[SlaResult]) -> dict[str, object]:
    broken = violations(results)
    passed = sum(r.status == SlaStatus.PASS for r in results)
    return {
        "total_checks": len(results),
        "passed": passed,
        "failed": len(broken),
        "errors": sum(r.status == SlaStatus.ERROR for r in results),
        "critical_errors": len(critical_errors(results)),
        "no_data": sum(r.status == SlaStatus.NO_DATA for r in results),
        "violations": len(broken),
        "critical_violations": sum(r.critical for r in broken),
        "compliance_rate": floor_percent(passed, len(results)),
    }


def json_report(results: Sequence[SlaResult], now: datetime) -> dict[str, object]:
    return {
        "timestamp": now.isoformat(),
        "summary": summarize(results),
        "violations": [r.to_json() for r in violations(results)],
        "slas": [r.to_json() for r in results],
    }


_STATUS_TEXT = {
    SlaStatus.PASS: "✅ met",
    SlaStatus.FAIL: "❌ violated",
    SlaStatus.ERROR: "⚠️ error",
    SlaStatus.NO_DATA: "❔ no data yet",
}


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}%"


def markdown_report(results: Sequence[SlaResult], now: datetime) -> str:
    summary = summarize(results)
    lines = [
        f"# SLA report · {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        (
            f"**{summary['passed']} of {summary['total_checks']} SLAs met** ({summary['compliance_rate']:g}%) · "
            f"{summary['failed']} violated ({summary['critical_violations']} critical) · "
            f"{summary['errors']} could not be evaluated ({summary['critical_errors']} critical) · "
            f"{summary['no_data']} no data yet"
        ),
        "",
    ]
    broken = violations(results)
    if broken:
        lines += [
            "## Violations",
            "",
            "| | SLA | on | target | what happened | figures |",
            "|---|---|---|---|---|---|",
        ]
        for r in broken:
            figures = ", ".join(
                f"{k}={_cell(r.figures.get(k))}" for k in _FIGURES[r.type] if k in r.figures
            )
            lines.append(
                f"| {':rotating_light: critical' if r.critical else ':warning:'} | `{_cell(r.name)}` | "
                f"`{_cell(r.subject)}` | {_cell(r.target)} | {_cell(r.message)} | {figures or '–'} |"
            )
        lines.append("")
    for kind, title in _TYPES:
        of_type = [r for r in results if r.type == kind]
        if not of_type:
            continue
        lines += [
            f"## {title}",
            "",
            "| SLA | on | target | status | compliance | objective | budget left | burn rate | measured |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(
            of_type, key=lambda r: (r.status != SlaStatus.FAIL, not r.critical, r.name)
        ):
            c = r.compliance
            status = _STATUS_TEXT[r.status]
            lines.append(
                f"| `{_cell(r.name)}`{' (critical)' if r.critical else ''} | `{_cell(r.subject)}` | {_cell(r.target)} | "
                f"{status} | {_percent(c.compliance_percent if c else None)} | {_percent(c.objective_percent if c else None)} | "
                f"{budget_text(c.budget_remaining_percent if c else None)} | "
                f"{'–' if not c or c.burn_rate is None else f'{c.burn_rate:.2f}x'} | {_cell(c.measured if c else None)} |"
            )
        lines.append("")
    lines += [
        (
            "Budget left: the share of the window's error budget (100% − objective) not yet spent; "
            "overspent Nx: N times that budget spent. Burn rate: how fast the budget is spent over the last twelfth of the window "
            "(1x spends exactly the budget over the window)."
        ),
        "",
    ]
    return "\n".join(lines)


OUTPUT_SCHEMA_PATH = Path(__file__).parent / "schemas" / "sla-output.schema.json"
# The JSON Schema of `json_report` (the CLI's JSON, with or without --report), shipped in the package.
OUTPUT_SCHEMA = orjson.loads(OUTPUT_SCHEMA_PATH.read_bytes())

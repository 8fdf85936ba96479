"""SLO arithmetic, pure: time-weighted availability, compliance, error budget and burn rate.

Burn rate = error ratio / (1 - objective), over the last twelfth of the window (the SRE
workbook's short-to-long window ratio), so it says how fast the budget goes *now*."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, order=True)
class Sample:
    at: datetime
    ok: bool | None  # None: the SLA could not be evaluated (counts as no data)


@dataclass(frozen=True)
class Coverage:
    good_seconds: float
    bad_seconds: float
    no_data_seconds: float

    @property
    def measured_seconds(self) -> float:
        return self.good_seconds + self.bad_seconds

    @property
    def good_ratio(self) -> float | None:
        return self.good_seconds / self.measured_seconds if self.measured_seconds else None


def time_weighted(
    samples: Sequence[Sample], start: datetime, end: datetime, max_gap: timedelta
) -> Coverage:
    """Each evaluation holds until the next one, or for `max_gap` at most; the first interval is
    clipped to the window start. Time no evaluation covers is no data, never silently good."""
    ordered = sorted(samples, key=lambda s: s.at)  # `ok` may be None: never compared
    good = bad = 0.0
    for i, sample in enumerate(ordered):
        until = sample.at + max_gap
        if i + 1 < len(ordered):
            until = min(until, ordered[i + 1].at)
        lo, hi = max(sample.at, start), min(until, end)
        if hi <= lo or sample.ok is None:
            continue
        seconds = (hi - lo).total_seconds()
        if sample.ok:
            good += seconds
        else:
            bad += seconds
    total = (end - start).total_seconds()
    return Coverage(good, bad, max(total - good - bad, 0.0))


@dataclass(frozen=True)
class Compliance:
    compliance_percent: float | None  # None: nothing measured in the window
    objective_percent: float
    budget_remaining_percent: float | None  # negative when the budget is overspent
    burn_rate: float | None
    burn_window_hours: float
    measured: str  # what compliance counts, e.g. "41.5 of 48.0 h measured" or "12 runs"

    def to_json(self) -> dict[str, object]:
        return {
            "compliance_percent": _round(self.compliance_percent),
            "objective_percent": self.objective_percent,
            "budget_remaining_percent": _round(self.budget_remaining_percent),
            "burn_rate": _round(self.burn_rate),
            "burn_window_hours": round(self.burn_window_hours, 3),
            "measured": self.measured,
        }


def budget_text(budget_remaining_percent: float | None) -> str:
    """The error budget as a reader takes it: "62.5% left", or how many times over it was spent
    ("overspent 100x": a 99% objective fully missed spends the 1% allowed a hundred times), not
    "-9900%"."""
    if budget_remaining_percent is None:
        return "–"
    if budget_remaining_percent >= 0:
        return f"{budget_remaining_percent:.1f}% left"
    spent = 1 - budget_remaining_percent / 100  # times the budget
    return f"overspent {spent:.3g}x"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _budget(
    good_ratio: float | None, objective_percent: float
) -> tuple[float | None, float | None]:
    if good_ratio is None:
        return None, None
    allowed = 1 - objective_percent / 100
    return good_ratio * 100, 100 * (1 - (1 - good_ratio) / allowed)


def _burn(good_ratio: float | None, objective_percent: float) -> float | None:
    return None if good_ratio is None else (1 - good_ratio) / (1 - objective_percent / 100)


def time_compliance(
    samples: Sequence[Sample],
    now: datetime,
    window: timedelta,
    max_gap: timedelta,
    objective_percent: float,
) -> Compliance:
    coverage = time_weighted(samples, now - window, now, max_gap)
    short = time_weighted(samples, now - window / 12, now, max_gap)
    percent, budget = _budget(coverage.good_ratio, objective_percent)
    measured = (
        f"{_duration(coverage.measured_seconds)} of {_duration(window.total_seconds())} measured"
    )
    return Compliance(
        percent,
        objective_percent,
        budget,
        _burn(short.good_ratio, objective_percent),
        window.total_seconds() / 12 / 3600,
        measured,
    )


def count_compliance(
    outcomes: Sequence[tuple[datetime, bool]],
    now: datetime,
    window: timedelta,
    objective_percent: float,
) -> Compliance:
    """For events (runs): good events over all events in the window."""
    in_window = [ok for at, ok in outcomes if at >= now - window]
    recent = [ok for at, ok in outcomes if at >= now - window / 12]
    ratio = sum(in_window) / len(in_window) if in_window else None
    percent, budget = _budget(ratio, objective_percent)
    burn = _burn(sum(recent) / len(recent), objective_percent) if recent else None
    return Compliance(
        percent,
        objective_percent,
        budget,
        burn,
        window.total_seconds() / 12 / 3600,
        f"{len(in_window)} run{'s' * (len(in_window) != 1)}",
    )

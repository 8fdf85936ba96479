"""When to say something, pure: a violation triggers once, repeats only after the suppression
interval, and resolves when the SLA holds again. UNKNOWN changes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Evaluation(Protocol):
    """What an alert is about, as alerts read it: an SLA's evaluation (`sla.evaluate.SlaResult`).
    A violation is status FAIL, a recovery PASS; anything else (ERROR) changes nothing."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def critical(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def target(self) -> str: ...
    def to_json(self) -> dict[str, object]: ...


@dataclass
class Incident:
    sla: str
    critical: bool
    opened_at: float
    last_sent_at: float
    message: str

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.sla)


def dedup_key(sla_name: str) -> str:
    """Stable per SLA, so PagerDuty folds repeats into one incident and a resolve finds it; a name
    too long for PagerDuty's 255 characters keeps its start and a hash of the whole."""
    key = f"orchestration-utils/sla/{sla_name}"
    if len(key) <= 255:
        return key
    return f"{key[:230]}~{hashlib.sha1(sla_name.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class Notice:
    kind: str  # trigger | repeat | resolve
    result: Evaluation
    opened_at: float


def plan_notices(
    results: Sequence[Evaluation],
    incidents: dict[str, Incident],
    now: datetime,
    suppression: timedelta,
) -> list[Notice]:
    """Updates `incidents` in place and returns what to send."""
    notices = []
    at = now.timestamp()
    for result in results:
        incident = incidents.get(result.name)
        if result.status == "FAIL":
            if incident is None:
                incidents[result.name] = Incident(
                    result.name, result.critical, at, at, result.message
                )
                notices.append(Notice("trigger", result, at))
            elif at - incident.last_sent_at >= suppression.total_seconds():
                incident.last_sent_at, incident.message = at, result.message
                notices.append(Notice("repeat", result, incident.opened_at))
        elif result.status == "PASS" and incident is not None:
            del incidents[result.name]
            notices.append(Notice("resolve", result, incident.opened_at))
    # Critical first, then new violations, repeats, recoveries.
    order = {"trigger": 0, "repeat": 1, "resolve": 2}
    return sorted(notices, key=lambda n: (not n.result.critical, order[n.kind], n.result.name))


def incidents_to_json(incidents: dict[str, Incident]) -> dict[str, dict]:
    return {name: asdict(i) for name, i in incidents.items()}


def incidents_from_json(data: dict[str, dict] | None) -> dict[str, Incident]:
    return {name: Incident(**value) for name, value in (data or {}).items()}

"""Pure mapping from a project node to what Dagster attaches to its asset.

Shared by the live code location and the generated Dagster package, so both
produce the same asset graph from the same project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from dagster._core.definitions.utils import is_valid_owner

from orchestration_utils.project.model import Node
from orchestration_utils.project.schedule import (
    GRANULARITIES,
    schedule_cron,
    schedule_interval,
    schedule_slug,
    schedule_timezone,
)

_TAG_OK = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")
_NOT_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
DEFAULT_PARTITION_START = "2024-01-01"


def owners(node: Node) -> list[str]:
    """Dagster's own check decides what it accepts (an e-mail by its pattern, or `team:<name>`);
    anything else becomes a team of the owner's tag-safe characters, so loading never fails."""
    if not node.owner:
        return []
    owner = node.owner.strip()
    if not owner.startswith("team:") and is_valid_owner(owner):
        return [owner]
    team = owner.removeprefix("team:")
    team = _NOT_TAG_CHARS.sub("-", team).strip("-")
    return [f"team:{team}"] if team else []


def tags(node: Node, schedule: str) -> dict[str, str]:
    """Project tags as Dagster tag keys (invalid ones dropped, as dagster-dbt does) plus ours."""
    result = {t: "" for t in node.tags if _TAG_OK.match(t)}
    result["layer"] = node.layer.value
    result["schedule"] = schedule_slug(schedule)[:63]
    if node.critical:
        result["critical"] = "true"
    return result


@dataclass(frozen=True)
class FreshnessWindows:
    fail: timedelta
    warn: timedelta | None


def freshness_windows(node: Node, schedule: str) -> FreshnessWindows | None:
    """`freshness_hours` is the data's maximum age. With only `sla_hours`, the data may be one
    schedule interval old plus the SLA before it is late. Warn at three quarters of the window."""
    if node.freshness_hours:
        fail = timedelta(hours=node.freshness_hours)
    elif node.sla_hours:
        fail = schedule_interval(schedule) + timedelta(hours=node.sla_hours)
    else:
        return None
    fail = max(fail, timedelta(minutes=2))
    warn = timedelta(seconds=int(fail.total_seconds() * 0.75))
    return FreshnessWindows(fail=fail, warn=warn if timedelta(minutes=1) <= warn < fail else None)


def automation_cron(node: Node, default_schedule: str) -> str:
    return schedule_cron(node.schedule or default_schedule)


def automation_timezone(node: Node, default_schedule: str) -> str:
    """The zone the node's cron is read in (SQLMesh `cron_tz`, or a zone after a dbt schedule)."""
    return schedule_timezone(node.schedule or default_schedule) or "UTC"


def partition_spec(node: Node) -> tuple[str, str] | None:
    """(granularity, start date) of a time-partitioned node; None when not time-partitioned."""
    p = node.partitioning
    if p is None or p.granularity not in GRANULARITIES:
        return None  # integer-range partitions have no Dagster time window
    start = (p.start or DEFAULT_PARTITION_START)[:10]
    return p.granularity, start

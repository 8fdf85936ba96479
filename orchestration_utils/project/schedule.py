"""Schedule values from project metadata, normalised to an Airflow/Dagster cron or preset, with
an optional IANA time zone; the one table of schedule names and partition granularities.

A schedule value is `<preset or 5-field cron>` (UTC) or `<preset or cron> <Area/Location>`:
`0 6 * * * America/Los_Angeles` runs at 06:00 in Los Angeles, summer and winter.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter

from orchestration_utils.errors import clip

# Presets both Airflow and Dagster understand; "@once"/None are Airflow-only and not accepted.
PRESETS = {
    "hourly": "@hourly",
    "daily": "@daily",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "yearly": "@yearly",
    "annually": "@yearly",
}
_PRESET_CRONS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_ALIASES = {"@midnight": "@daily", "@annually": "@yearly"}
# The presets' crons by their short names: jobs and schedules of a preset's cron are `daily_...`.
PRESET_SLUGS = {c: p[1:] for p, c in _PRESET_CRONS.items() if p not in _ALIASES}
_UTC_NAMES = {"utc", "etc/utc", "z", "zulu", "universal", "etc/universal", "gmt", "etc/gmt"}


@dataclass(frozen=True)
class Granularity:
    """A partition (or interval) unit: the cron of its partition boundaries and its key format."""

    name: str
    cron: str
    fmt: str
    slug: str  # `hourly`, `daily`, ...: job, op and partitions names


# Every interval unit SQLMesh (`interval_unit`) and dbt (`partition_by.granularity`) can express.
GRANULARITIES = {
    g.name: g
    for g in (
        Granularity("five_minute", "*/5 * * * *", "%Y-%m-%d-%H:%M", "five_minutely"),
        Granularity("quarter_hour", "*/15 * * * *", "%Y-%m-%d-%H:%M", "quarter_hourly"),
        Granularity("half_hour", "*/30 * * * *", "%Y-%m-%d-%H:%M", "half_hourly"),
        Granularity("hour", "0 * * * *", "%Y-%m-%d-%H:%M", "hourly"),
        Granularity("day", "0 0 * * *", "%Y-%m-%d", "daily"),
        Granularity("week", "0 0 * * 0", "%Y-%m-%d", "weekly"),
        Granularity("month", "0 0 1 * *", "%Y-%m-%d", "monthly"),
        Granularity("year", "0 0 1 1 *", "%Y-%m-%d", "yearly"),
    )
}
GRANULARITY_BY_CRON = {g.cron: g for g in GRANULARITIES.values()}


def normalize_schedule(value: object, timezone: object = None) -> str:
    """`daily` -> `@daily`; presets and 5-field crons pass through, optionally followed by a time
    zone (or given one as `timezone`); UTC is left out. Raises ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"schedule must be a non-empty string, got {_shown(value)}")
    parts = value.strip().split()
    tz = timezone
    if len(parts) in (2, 6):  # a preset or a 5-field cron, then a time zone
        if tz is not None and str(tz) != parts[-1]:
            raise ValueError(
                f"schedule {_shown(value)} names a time zone, and another is given ({_shown(tz)})"
            )
        *parts, tz = parts
    text = " ".join(parts)
    lowered = text.lower()
    if lowered in PRESETS:
        cron = PRESETS[lowered]
    elif lowered in _PRESET_CRONS:
        cron = _ALIASES.get(lowered, lowered)
    elif len(parts) == 5 and croniter.is_valid(text):
        cron = five_field_cron(text)
    else:
        raise ValueError(
            f"schedule {_shown(value)} is not hourly/daily/weekly/monthly, an @preset or a 5-field cron"
            " (optionally followed by a time zone)"
        )
    zone = _timezone(tz)
    return f"{cron} {zone}" if zone else cron


def _shown(value: object) -> str:
    """`repr(value)`, cut to 80 characters: errors are one line a user reads."""
    return clip(repr(value))


def five_field_cron(value: str) -> str:
    """`value` when it is a 5-field cron that fires (`0 0 30 2 *` parses, and never does: Dagster
    and Airflow refuse it); raises ValueError naming it."""
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(f"{_shown(value)} is not a 5-field cron")
    try:
        croniter(value, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron {_shown(value)} never fires (no such date)") from None
    return value


def _timezone(tz: object) -> str | None:
    """A valid IANA zone name, None for UTC or none."""
    if tz is None:
        return None
    name = str(tz).strip()
    if not name or name.lower() in _UTC_NAMES:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time zone {_shown(name)} is not an IANA time zone (e.g. America/Los_Angeles)"
        ) from None
    return name


def _split(schedule: str) -> tuple[str, str | None]:
    parts = schedule.split()
    if len(parts) in (2, 6):
        return " ".join(parts[:-1]), parts[-1]
    return schedule, None


def schedule_cron(schedule: str) -> str:
    """The 5-field cron of a normalised schedule (Dagster's `on_cron` wants one)."""
    cron, _ = _split(schedule)
    return _PRESET_CRONS.get(cron, cron)


def schedule_timezone(schedule: str) -> str | None:
    """The schedule's IANA time zone; None means UTC."""
    return _split(schedule)[1]


def with_timezone(cron: str, timezone: str | None) -> str:
    """The schedule value of a cron read in `timezone` (None: UTC)."""
    zone = _timezone(timezone)
    return f"{cron} {zone}" if zone else cron


_ENCODE = (("*/", "every"), ("*", "x"), ("-", "to"), (",", "and"), ("/", "every"))
_FIELD = re.compile(r"^(every)?\d+((to|and|every)\d+)*$|^x$")


def schedule_slug(schedule: str) -> str:
    """A name part for a schedule, distinct for distinct schedules: `@daily` -> `daily`,
    `*/15 * * * *` -> `cron_every15_x_x_x_x`, `0 9-17 * * *` -> `cron_0_9to17_x_x_x`.

    The readable form is kept where it reads back to exactly the schedule; otherwise (names of
    days or months, `L`, `#`, a time zone) a short hash of the schedule is added, so two
    schedules never share a DAG id, job, schedule or op name."""
    cron, tz = _split(schedule)
    if cron.startswith("@"):
        readable = cron[1:]
        exact = cron in _PRESET_CRONS
    else:
        fields = []
        for field in cron.split():
            for old, new in _ENCODE:
                field = field.replace(old, new)
            fields.append(field)
        readable = "cron_" + "_".join(fields)
        exact = all(_FIELD.match(f) for f in fields) and _decode(fields) == cron
    readable = re.sub(r"[^a-z0-9_]+", "_", readable.lower())
    if tz:
        readable += "_" + re.sub(r"[^a-z0-9]+", "_", tz.lower()).strip("_")
    if exact and not tz:
        return readable
    return f"{readable}_h{hashlib.sha256(schedule.encode()).hexdigest()[:8]}"


def _decode(fields: list[str]) -> str:
    out = []
    for field in fields:
        if field == "x":
            out.append("*")
            continue
        if field.startswith("every"):
            field = "*/" + field[len("every") :]
        out.append(field.replace("every", "/").replace("to", "-").replace("and", ","))
    return " ".join(out)


def schedule_interval(schedule: str) -> timedelta:
    """The longest gap between two ticks over the next few, as a conservative interval."""
    it = croniter(schedule_cron(schedule), _EPOCH)
    ticks = [it.get_next(float) for _ in range(6)]
    return timedelta(seconds=max(b - a for a, b in itertools.pairwise(ticks)))


_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a fixed origin keeps intervals deterministic

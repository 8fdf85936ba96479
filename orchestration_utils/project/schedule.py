"""Schedule values from project metadata, normalised to an Airflow/Dagster cron or preset."""

from __future__ import annotations

from croniter import croniter

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


def normalize_schedule(value: object) -> str:
    """`daily` -> `@daily`; presets and 5-field crons pass through. Raises ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"schedule must be a non-empty string, got {value!r}")
    text = " ".join(value.strip().split())
    lowered = text.lower()
    if lowered in PRESETS:
        return PRESETS[lowered]
    if lowered in _PRESET_CRONS:
        return _ALIASES.get(lowered, lowered)
    if len(text.split(" ")) == 5 and croniter.is_valid(text):
        return text
    raise ValueError(
        f"schedule {value!r} is not hourly/daily/weekly/monthly, an @preset or a 5-field cron"
    )


def schedule_cron(schedule: str) -> str:
    """The 5-field cron of a normalised schedule (Dagster's `on_cron` wants one)."""
    return _PRESET_CRONS.get(schedule, schedule)


def schedule_slug(schedule: str) -> str:
    """A name part for a schedule: `@daily` -> `daily`, `*/15 * * * *` -> `cron_15_x_x_x_x`."""
    if schedule.startswith("@"):
        return schedule[1:]
    cleaned = schedule.replace("*/", "every").replace("*", "x")
    return "cron_" + "_".join("".join(c if c.isalnum() else "_" for c in p) for p in cleaned.split())

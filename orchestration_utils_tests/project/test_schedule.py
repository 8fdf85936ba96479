import pytest

from orchestration_utils.project.schedule import normalize_schedule, schedule_cron, schedule_slug


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("daily", "@daily"),
        ("Hourly", "@hourly"),
        ("weekly", "@weekly"),
        ("monthly", "@monthly"),
        ("@daily", "@daily"),
        ("@midnight", "@daily"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0  6 * * 1-5", "0 6 * * 1-5"),
    ],
)
def test_accepted_schedules(value, expected):
    assert normalize_schedule(value) == expected


@pytest.mark.parametrize("value", ["", "sometimes", "61 * * * *", "* * * *", 5, None, "@once"])
def test_rejected_schedules(value):
    with pytest.raises(ValueError):
        normalize_schedule(value)


def test_cron_and_slug():
    assert schedule_cron("@hourly") == "0 * * * *"
    assert schedule_slug("@daily") == "daily"
    assert schedule_slug("*/15 * * * *") == "cron_every15_x_x_x_x"


# --- time zones, distinct names, every interval unit -------------------------------------------
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration_utils.project.schedule import (
    GRANULARITIES,
    schedule_timezone,
    with_timezone,
)


@pytest.mark.parametrize(
    ("value", "timezone", "expected"),
    [
        ("0 6 * * * America/Los_Angeles", None, "0 6 * * * America/Los_Angeles"),
        ("0 6 * * *", "Europe/Paris", "0 6 * * * Europe/Paris"),
        ("daily Asia/Tokyo", None, "@daily Asia/Tokyo"),
        ("0 6 * * *", "UTC", "0 6 * * *"),
        ("@hourly Etc/UTC", None, "@hourly"),
    ],
)
def test_schedules_carry_their_time_zone(value, timezone, expected):
    schedule = normalize_schedule(value, timezone=timezone)
    assert schedule == expected
    assert schedule_cron(schedule) == schedule_cron(
        expected.split()[0] if expected.startswith("@") else " ".join(expected.split()[:5])
    )
    assert schedule_timezone(schedule) == (
        expected.split()[-1] if len(expected.split()) in (2, 6) else None
    )


@pytest.mark.parametrize(
    "value",
    ["0 6 * * * Mars/Olympus", "0 6 * * * America/Los_Angeles Europe/Paris", "@daily nowhere"],
)
def test_unknown_time_zones_are_refused(value):
    with pytest.raises(ValueError):
        normalize_schedule(value)


@pytest.mark.parametrize("value", ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2 * Europe/Paris"])
def test_a_cron_that_never_fires_is_refused(value):
    """It parses, yet Dagster and Airflow refuse it (croniter finds no next date)."""
    with pytest.raises(ValueError, match="never fires"):
        normalize_schedule(value)


def test_a_leap_day_cron_fires_and_is_kept():
    assert normalize_schedule("0 0 29 2 *") == "0 0 29 2 *"


def test_slugs_that_read_alike_stay_apart():
    """The handed case: `0 9-17` and `0 9,17` both slugged `cron_0_9_17_x_x_x`."""
    assert schedule_slug("0 9-17 * * *") == "cron_0_9to17_x_x_x"
    assert schedule_slug("0 9,17 * * *") == "cron_0_9and17_x_x_x"
    assert schedule_slug("0 0 * * MON-FRI") != schedule_slug("0 0 * * mon-fri")
    la = schedule_slug("0 6 * * * America/Los_Angeles")
    assert la.startswith("cron_0_6_x_x_x_america_los_angeles_h") and la != schedule_slug(
        "0 6 * * *"
    )


_FIELD = st.one_of(
    st.just("*"),
    st.integers(0, 12).map(str),
    st.tuples(st.integers(0, 5), st.integers(6, 12)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.tuples(st.integers(0, 5), st.integers(6, 12)).map(lambda t: f"{t[0]},{t[1]}"),
    st.integers(1, 9).map(lambda n: f"*/{n}"),
    st.sampled_from(["MON-FRI", "mon-fri", "SUN", "L", "1#2", "5L", "?", "JAN", "jan"]),
)
_ZONES = st.sampled_from(
    [None, "America/Los_Angeles", "Europe/Paris", "Etc/GMT+5", "Etc/GMT-5", "Asia/Tokyo"]
)


def _schedule(fields, zone):
    try:
        return normalize_schedule(" ".join(fields), timezone=zone)
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.lists(_FIELD, min_size=5, max_size=5), _ZONES), min_size=2, max_size=6)
)
def test_distinct_schedules_never_share_a_slug(entries):
    schedules = {s for s in (_schedule(f, z) for f, z in entries) if s}
    slugs = {schedule_slug(s) for s in schedules}
    assert len(slugs) == len(schedules)
    for slug in slugs:  # usable as a Dagster name and an Airflow dag id part
        assert slug.replace("_", "").isalnum() and slug == slug.lower()


@settings(max_examples=100, deadline=None)
@given(st.lists(_FIELD, min_size=5, max_size=5), _ZONES)
def test_slug_and_time_zone_are_stable(fields, zone):
    schedule = _schedule(fields, zone)
    if schedule:
        assert normalize_schedule(schedule) == schedule
        assert schedule_timezone(schedule) == zone
        assert with_timezone(schedule_cron(schedule), schedule_timezone(schedule)) == schedule


@pytest.mark.parametrize("name", sorted(GRANULARITIES))
def test_every_interval_unit_has_partitions_and_a_schedule(name):
    """Five minutes to a year: a Dagster partitions definition whose windows follow the unit, and
    a schedule on its cron that ticks at the end of each window."""
    import dagster as dg

    from orchestration_utils.dagster_assets.partitions import partitions_def, partitions_slug
    from orchestration_utils.dagster_defs.schedules import latest_partition_request

    unit = GRANULARITIES[name]
    partitions = partitions_def(name, "2024-01-01")
    assert partitions.cron_schedule == unit.cron and partitions_slug(partitions) == unit.slug
    at = datetime(2026, 7, 1, 10, 7, tzinfo=UTC)
    request = latest_partition_request(partitions, at)
    assert isinstance(request, dg.RunRequest)
    window = partitions.time_window_for_partition_key(request.partition_key)
    assert window.end <= at < window.end + (window.end - window.start) + (window.end - window.start)
    assert normalize_schedule(unit.cron) == unit.cron and schedule_slug(unit.cron)


@pytest.mark.parametrize(
    ("value", "timezone"),
    [("x" * 20_000, None), ("@daily " + "Europe/" * 3_000, None), ("@daily", "Mars/" * 5_000)],
)
def test_a_long_bad_schedule_is_named_not_echoed_whole(value, timezone):
    """The error is one line a user reads: a 20,000-character value is shown by its start."""
    with pytest.raises(ValueError) as err:
        normalize_schedule(value, timezone)
    message = str(err.value)
    assert len(message) < 250 and "..." in message and "\n" not in message

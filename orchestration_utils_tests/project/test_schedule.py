import pytest

from orchestration_utils.project.schedule import normalize_schedule, schedule_cron, schedule_slug


@pytest.mark.parametrize(
    ("value", "expected"),
    [("daily", "@daily"), ("Hourly", "@hourly"), ("weekly", "@weekly"), ("monthly", "@monthly"),
     ("@daily", "@daily"), ("@midnight", "@daily"), ("*/15 * * * *", "*/15 * * * *"),
     ("0  6 * * 1-5", "0 6 * * 1-5")],
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

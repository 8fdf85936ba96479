"""SLO arithmetic against answers computed by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from orchestration_utils.sla.budget import (
    Sample,
    budget_text,
    count_compliance,
    time_compliance,
    time_weighted,
)

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_time_weighted_availability_from_a_recorded_history():
    # Window [0h, 12h). Evaluations (each good for at most 2 h):
    #   -1h ok   → holds into the window until 1h (clipped at 0h):     good 1h   [0, 1)
    #    1h bad  → until the next at 2h:                                 bad  1h   [1, 2)
    #    2h ok   → until 4h (2h gap cap; next is at 7h):                 good 2h   [2, 4)
    #    4h..7h  → nothing:                                              no data 3h
    #    7h err  → unknown, counts as no data until 8h:                  no data 1h
    #    8h ok   → until 10h, the cap:                                   good 2h   [8, 10)
    #   10h bad  → until 12h, the window's end (cap also 12h):          bad  2h   [10, 12)
    samples = [
        Sample(h(-1), True),
        Sample(h(1), False),
        Sample(h(2), True),
        Sample(h(7), None),
        Sample(h(8), True),
        Sample(h(10), False),
    ]
    coverage = time_weighted(samples, h(0), h(12), timedelta(hours=2))
    assert coverage.good_seconds == 5 * 3600
    assert coverage.bad_seconds == 3 * 3600
    assert coverage.no_data_seconds == 4 * 3600
    assert coverage.good_ratio == pytest.approx(5 / 8)  # 62.5 % of the measured 8 h


def test_budget_and_burn_rate():
    # 99 % objective over 24 h, hourly evaluations: bad for the last hour only.
    now = h(24)
    samples = [Sample(h(i), i != 23) for i in range(24)]
    compliance = time_compliance(samples, now, timedelta(hours=24), timedelta(hours=1), 99.0)
    assert compliance.compliance_percent == pytest.approx(100 * 23 / 24)
    # error ratio 1/24 against a budget of 1 %: 4.17x the budget spent, so -316.7 % left
    assert compliance.budget_remaining_percent == pytest.approx(100 * (1 - (1 / 24) / 0.01))
    # the last twelfth (2 h): 1 h bad of 2 → 0.5 / 0.01 = 50x
    assert compliance.burn_rate == pytest.approx(50.0)
    assert compliance.burn_window_hours == 2.0


def test_count_compliance_for_runs():
    now = h(24)
    runs = [
        (h(1), True),
        (h(5), True),
        (h(10), False),
        (h(23), True),
        (h(-5), False),
    ]  # the last is outside
    compliance = count_compliance(runs, now, timedelta(hours=24), 90.0)
    assert compliance.compliance_percent == 75.0
    assert compliance.budget_remaining_percent == pytest.approx(
        -150.0
    )  # 25 % errors vs a 10 % budget
    assert compliance.burn_rate == 0.0 and compliance.measured == "4 runs"


def test_evaluations_recorded_at_one_instant_of_different_outcomes():
    # Replays (--as-of) record several evaluations at the same time, some of which could not evaluate.
    samples = [Sample(h(1), True), Sample(h(1), None), Sample(h(1), False), Sample(h(2), True)]
    coverage = time_weighted(samples, h(0), h(3), timedelta(hours=1))
    assert coverage.good_seconds + coverage.bad_seconds + coverage.no_data_seconds == 3 * 3600


@pytest.mark.parametrize(
    ("remaining", "text"),
    [
        (None, "–"),
        (100.0, "100.0% left"),
        (62.5, "62.5% left"),
        (0.0, "0.0% left"),
        (-50.0, "overspent 1.5x"),  # half the budget again
        (-9900.0, "overspent 100x"),  # a 99% objective missed all window long
    ],
)
def test_budget_reads_as_left_or_times_overspent(remaining, text):
    assert budget_text(remaining) == text


def test_budget_text_of_a_missed_objective_says_how_many_budgets_went():
    compliance = count_compliance([(T0, False)], T0, timedelta(hours=24), 99.0)
    assert budget_text(compliance.budget_remaining_percent) == "overspent 100x"


def test_the_markdown_report_says_an_overspent_budget_in_times_not_minus_9900_percent():
    from orchestration_utils.sla.evaluate import SlaResult, SlaStatus
    from orchestration_utils.sla.report import markdown_report

    missed = count_compliance([(T0, False)], T0, timedelta(hours=24), 99.0)
    result = SlaResult(
        "nightly_on_time",
        "completion_time",
        "nightly",
        False,
        SlaStatus.FAIL,
        "late",
        "10 min",
        compliance=missed,
    )
    text = markdown_report([result], T0)
    assert "| overspent 100x |" in text and "-9900" not in text

"""The demo's seeds, moved to "now" as the dbt project moves them (macros/demo_time.sql), make
exactly the verdicts the demo promises, whatever the time of the build: fct_orders stale, every
other freshness and partition check of the demo's health config passing."""

import csv
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration_utils.health.checks import Status, check_partitions, partition_window
from orchestration_utils.health.config import load_health_config
from orchestration_utils.settings import DEMO_DBT_PROJECT, DEMO_DIR

SEEDS = DEMO_DBT_PROJECT / "seeds"
ANCHOR = datetime(2026, 2, 1)  # "now" in the seed files (demo_time.sql)
HEALTH = {t.table_id: t for t in load_health_config(DEMO_DIR / "health-config.json").tables}


def _times(seed: str, column: str, keep=lambda row: True) -> list[datetime]:
    with (SEEDS / seed).open() as f:
        return [datetime.fromisoformat(r[column]) for r in csv.DictReader(f) if keep(r)]


def _moved(times: list[datetime], now: datetime, grain: str) -> list[datetime]:
    """demo_time(column, grain): + (date_trunc(grain, now) - anchor), in UTC."""
    naive = now.astimezone(UTC).replace(tzinfo=None)
    start = naive.replace(minute=0, second=0, microsecond=0)
    if grain == "day":
        start = start.replace(hour=0)
    return [(t + (start - ANCHOR)).replace(tzinfo=UTC) for t in times]


def _age_hours(times: list[datetime], now: datetime) -> float:
    return (now - max(times)).total_seconds() / 3600


def _partitions(table_id: str, times: list[datetime], now: datetime) -> Status:
    table = HEALTH[table_id]
    granularity = table.row_count.partition_granularity
    since, until, expected = partition_window(granularity, table.row_count.lookback_days, now)
    fmt = "%Y%m%d" if granularity == "day" else "%Y%m%d%H"
    counts: dict[str, int] = {}
    for t in times:
        if since <= t < until:
            counts[t.strftime(fmt)] = counts.get(t.strftime(fmt), 0) + 1
    return check_partitions(table, granularity, expected, counts).status


# Any time of day (a build a second after midnight is the edge: yesterday's 00:00 order is 24 h old).
NOWS = st.datetimes(
    min_value=datetime(2026, 12, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
).filter(lambda t: t.time() >= datetime.min.time().replace(second=1))


@settings(max_examples=300, deadline=None)
@given(now=NOWS)
def test_fct_orders_is_the_one_stale_table_whatever_the_hour(now):
    orders = _moved(_times("raw_orders.csv", "ordered_at"), now, "day")
    assert max(orders) <= now  # nothing from the future
    orders_limit = HEALTH["shop.marts.fct_orders"].freshness.max_age_hours
    assert orders_limit < _age_hours(orders, now) <= 48  # stale on purpose, since yesterday 00:00
    # fct_daily_revenue: returns excluded, by day (a DATE is its midnight)
    kept = _moved(
        _times("raw_orders.csv", "ordered_at", lambda r: r["status"] != "returned"), now, "day"
    )
    days = [t.replace(hour=0, minute=0, second=0) for t in kept]
    revenue = HEALTH["shop.marts.fct_daily_revenue"]
    assert _age_hours(days, now) <= revenue.freshness.max_age_hours
    assert _partitions("shop.marts.fct_daily_revenue", days, now) == Status.PASS
    events = _moved(_times("raw_events.csv", "occurred_at"), now, "hour")
    assert max(events) <= now
    hours = [t.replace(minute=0, second=0) for t in events]
    assert _age_hours(hours, now) <= HEALTH["shop.marts.fct_events"].freshness.max_age_hours
    assert _partitions("shop.marts.fct_events", hours, now) == Status.PASS


def test_payments_follow_their_orders():
    orders = {}
    with (SEEDS / "raw_orders.csv").open() as f:
        orders = {r["id"]: datetime.fromisoformat(r["ordered_at"]) for r in csv.DictReader(f)}
    with (SEEDS / "raw_payments.csv").open() as f:
        for r in csv.DictReader(f):
            paid = datetime.fromisoformat(r["paid_at"])
            assert timedelta(0) <= paid - orders[r["order_id"]] <= timedelta(hours=1), r


def _compile(tmp_path, pinned: str):
    import os
    import shutil
    import subprocess

    from orchestration_utils_tests.conftest import DBT

    project = tmp_path / "dbt_project"
    if not project.exists():
        shutil.copytree(DEMO_DBT_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    env = {
        **os.environ,
        "ORCHESTRATION_UTILS_DBT_DUCKDB": str(tmp_path / "shop.duckdb"),
        "ORCHESTRATION_UTILS_DEMO_NOW": pinned,
    }
    return subprocess.run(
        [
            DBT,
            "compile",
            "--select",
            "stg_orders",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp_path / "target"),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_pinned_now_dates_the_data_and_a_malformed_one_stops_the_build(tmp_path):
    import duckdb

    result = _compile(tmp_path, "2026-12-07T10:30:00")
    assert result.returncode == 0, result.stdout[-2000:]
    sql = next((tmp_path / "target" / "compiled").rglob("stg_orders.sql")).read_text()
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as con:
        con.execute("create schema if not exists raw")
        con.execute(
            "create table raw.raw_orders as select * from read_csv(?, types={'ordered_at': 'TIMESTAMP'})",
            [str(SEEDS / "raw_orders.csv")],
        )
        newest = con.execute(f"select max(ordered_at) from ({sql})").fetchone()[0]
    assert newest == datetime(
        2026, 12, 6, 0, 0
    )  # yesterday 00:00 of the pinned day: stale on purpose
    bad = _compile(tmp_path, "2026-12-07'; drop table raw.raw_orders; --")
    assert bad.returncode != 0
    assert "ORCHESTRATION_UTILS_DEMO_NOW" in bad.stdout and "is not an ISO time" in bad.stdout

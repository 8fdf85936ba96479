"""Alerts end to end through real HTTP servers on 127.0.0.1 standing in for Slack and PagerDuty:
one trigger per ongoing violation, repeats only after suppression, one resolve on recovery,
nothing lost when an endpoint is down, nothing sent twice after a restart."""

import json
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from orchestration_utils.alerts.notify import Channels
from orchestration_utils.sla.config import SlaConfig, parse_sla_config
from orchestration_utils.sla.cycle import run_source, track_once
from orchestration_utils.sla.history import StateStore
from orchestration_utils.warehouse.duckdb import DuckDBWarehouse
from orchestration_utils_tests.sla.alert_servers import (
    AlertEndpoint,
    Reply,
    pagerduty,
    slack_webhook,
)

WEBHOOK_SECRET = "T000/B000/not-a-real-secret-xyz"
ROUTING_KEY = "R0UTINGKEYR0UTINGKEYR0UTINGKEY12"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # orders' newest row is T0 - 2h


@pytest.fixture
def endpoints(monkeypatch):
    slack, pd = slack_webhook(), pagerduty()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{slack.url}/services/{WEBHOOK_SECRET}")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", f"{pd.url}/v2/enqueue")
    yield slack, pd
    slack.close()
    pd.close()


def _config(**alerts) -> SlaConfig:
    return parse_sla_config(
        json.dumps(
            {
                "tables": [
                    {
                        "table_id": "shop.marts.orders",
                        "critical": True,
                        "freshness_sla": {
                            "name": "orders_fresh",
                            "timestamp_column": "ts",
                            "max_age_hours": 6,
                        },
                    },
                    {
                        "table_id": "shop.marts.customers",
                        "freshness_sla": {
                            "name": "customers_fresh",
                            "timestamp_column": "ts",
                            "max_age_hours": 6,
                        },
                    },
                ],
                "alerts": {"suppression_minutes": 60, "timeout_seconds": 1, **alerts},
            }
        ),
        "test",
    )


def _track(config, warehouse, state_dir, at, **options):
    store = StateStore(state_dir)
    wh = DuckDBWarehouse(warehouse)
    try:
        return track_once(
            config,
            at,
            wh,
            run_source(config, None),
            store,
            Channels.from_env(),
            backoff_seconds=0.05,
            **options,
        )
    finally:
        wh.close()
        store.close()


def test_trigger_once_repeat_after_suppression_resolve_once(warehouse, endpoints, tmp_path):
    slack, pd = endpoints
    config = _config()
    state = tmp_path / "state"
    _track(config, warehouse, state, T0)  # both fresh (2 h old): nothing to say
    assert slack.received == [] and pd.received == []

    _track(config, warehouse, state, T0 + timedelta(hours=5))  # 7 h old: both violated
    assert len(slack.received) == 1  # grouped: one message for two violations
    message = slack.received[0]
    assert message["text"].startswith("SLA: 2 SLA violations\n")
    assert "orders_fresh" in message["text"] and "customers_fresh" in message["text"]
    assert (
        message["blocks"][0]["type"] == "header" and len(message["blocks"]) == 4
    )  # header, 2 sections, context
    assert "critical" in message["blocks"][1]["text"]["text"]  # critical first
    assert len(pd.received) == 1  # only the critical SLA pages
    event = pd.received[0]
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == "orchestration-utils/sla/orders_fresh"
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "orchestration-utils"
    assert payload["component"] == "shop.marts.orders" and payload["summary"].startswith(
        "SLA orders_fresh violated"
    )
    assert datetime.fromisoformat(payload["timestamp"]) == T0 + timedelta(hours=5)

    _track(
        config, warehouse, state, T0 + timedelta(hours=5, minutes=30)
    )  # within suppression: silence
    assert len(slack.received) == 1 and len(pd.received) == 1
    _track(
        config, warehouse, state, T0 + timedelta(hours=6, minutes=1)
    )  # suppression over: one repeat
    assert len(slack.received) == 2 and "STILL VIOLATED" in slack.received[1]["text"]
    assert [e["event_action"] for e in pd.received] == [
        "trigger",
        "trigger",
    ]  # same dedup_key: PagerDuty folds it

    con = duckdb.connect(str(warehouse))
    con.execute("INSERT INTO marts.orders VALUES (3, 1.0, TIMESTAMP '2026-05-01 18:00:00')")
    con.close()
    _track(config, warehouse, state, T0 + timedelta(hours=6, minutes=10))  # orders recovered
    assert "RESOLVED" in slack.received[2]["text"] and "orders_fresh" in slack.received[2]["text"]
    assert pd.received[2] == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "orchestration-utils/sla/orders_fresh",
    }
    _track(config, warehouse, state, T0 + timedelta(hours=6, minutes=20))
    assert len(slack.received) == 3 and len(pd.received) == 3  # resolved once, nothing more


def test_429_retry_after_and_5xx_are_retried(warehouse, endpoints, tmp_path):
    slack, pd = endpoints
    slack.script = [Reply(429, "rate_limited", {"Retry-After": "1"})]
    pd.script = [Reply(500, {"status": "error"}), Reply(503, {"status": "error"})]
    started = time.monotonic()
    _, report = _track(_config(), warehouse, tmp_path / "state", T0 + timedelta(hours=5))
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert len(slack.attempts) == 2 and len(slack.received) == 1
    assert len(pd.attempts) == 3 and len(pd.received) == 1
    assert report.delivery.pending == []


def test_nothing_lost_while_down_and_nothing_sent_twice_after_restart(
    warehouse, endpoints, tmp_path
):
    slack, pd = endpoints
    slack.default = Reply(0, hang_seconds=3)  # down: every request times out
    pd.default = Reply(500, {"status": "error"})
    state = tmp_path / "state"
    _, report = _track(_config(), warehouse, state, T0 + timedelta(hours=5))
    assert slack.received == [] and pd.received == []
    assert {i.channel for i in report.delivery.pending} == {"slack", "pagerduty"}
    assert "timed out" in {i.last_error for i in report.delivery.pending}

    slack.default, pd.default = (
        Reply(200, "ok"),
        Reply(202, {"status": "success"}),
    )  # back up; a new process
    _, report = _track(_config(), warehouse, state, T0 + timedelta(hours=5, minutes=10))
    assert len(slack.received) == 1 and "2 SLA violations" in slack.received[0]["text"]
    assert len(pd.received) == 1 and pd.received[0]["event_action"] == "trigger"
    _track(
        _config(), warehouse, state, T0 + timedelta(hours=5, minutes=20)
    )  # and again: nothing new
    assert len(slack.received) == 1 and len(pd.received) == 1

    stored = (state / "sla-state.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in state.glob("*-wal")
    )
    assert WEBHOOK_SECRET.encode() not in stored and ROUTING_KEY.encode() not in stored


def test_a_rejected_message_is_dropped_not_retried_forever(warehouse, endpoints, tmp_path):
    slack, _ = endpoints
    slack.default = Reply(404, "no_service")
    _, report = _track(_config(), warehouse, tmp_path / "state", T0 + timedelta(hours=5))
    assert [i.channel for i in report.delivery.rejected] == ["slack"]
    assert report.delivery.rejected[0].last_error == "HTTP 404: no_service"
    assert WEBHOOK_SECRET not in " ".join(report.lines())


def test_bot_token_posts_to_the_channel_and_retries_ratelimited(warehouse, monkeypatch, tmp_path):
    api = AlertEndpoint(Reply(200, {"ok": True, "ts": "1.2"}))
    api.script = [Reply(200, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})]
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    monkeypatch.setenv("SLACK_API_URL", api.url)
    try:
        _, report = _track(
            _config(slack_channel="#data-alerts"),
            warehouse,
            tmp_path / "s",
            T0 + timedelta(hours=5),
        )
    finally:
        api.close()
    assert [a["path"] for a in api.attempts] == ["/chat.postMessage", "/chat.postMessage"]
    assert api.attempts[-1]["auth"] == "Bearer xoxb-not-a-real-token"
    assert api.received[-1]["channel"] == "#data-alerts" and api.received[-1]["text"].startswith(
        "SLA:"
    )
    assert report.unrouted == [
        "PagerDuty"
    ]  # a critical violation with no routing key is said, not hidden


def test_history_survives_and_feeds_availability(warehouse, endpoints, tmp_path):
    config = parse_sla_config(
        json.dumps(
            {
                "tables": [
                    {
                        "table_id": "shop.marts.orders",
                        "freshness_sla": {
                            "name": "orders_fresh",
                            "timestamp_column": "ts",
                            "max_age_hours": 6,
                        },
                        "availability_sla": {
                            "name": "orders_available",
                            "target_availability": 90,
                            "lookback_hours": 8,
                            "max_evaluation_gap_minutes": 60,
                        },
                    }
                ]
            }
        ),
        "test",
    )
    state = tmp_path / "state"
    # Hourly evaluations from T0-1h to T0+7h. The newest row is at T0-2h, so evaluations at -1..4 h
    # find it at most 6 h old (fresh) and those at 5..7 h find it stale. Each holds until the next.
    for hour in range(-1, 8):
        results, _ = _track(config, warehouse, state, T0 + timedelta(hours=hour))
    availability = {r.name: r for r in results}["orders_available"]
    # Window [T0-1h, T0+7h): fresh 6 h ([-1, 5)), stale 2 h ([5, 7)); the evaluation at 7 h is the
    # window's end and covers no time: 6 / 8 = 75 %.
    assert availability.figures["availability_percent"] == 75.0
    assert availability.figures["stale_hours"] == 2.0
    assert availability.figures["no_data_hours"] == 0.0
    assert availability.status == "FAIL"
    assert json.dumps(availability.to_json())  # serializable for reports

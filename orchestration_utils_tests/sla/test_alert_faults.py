"""Alert delivery when the endpoints misbehave, through real HTTP servers on 127.0.0.1: a stuck Slack
never delays the page (a deadline on the whole request, channels in parallel), answers that are not
the service's (HTML, non-JSON) are failed attempts and never a crash, Retry-After is honoured up to a
cap, a malformed secret is its channel's clear error, and two processes on one state page once."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from orchestration_utils.alerts.delivery import OutboxItem, Outcome, deliver
from orchestration_utils.alerts.notify import Channels
from orchestration_utils.http_client import (
    RETRY_AFTER_CAP_SECONDS,
    DeliveryTimeout,
    post_json,
    retry_after_seconds,
)
from orchestration_utils.sla.config import parse_sla_config
from orchestration_utils.sla.cycle import run_source, track_once
from orchestration_utils.sla.history import StateStore
from orchestration_utils.warehouse.duckdb import DuckDBWarehouse
from orchestration_utils_tests.sla.alert_servers import (
    AlertEndpoint,
    Reply,
    pagerduty,
    slack_webhook,
)

BIN = Path(sys.executable).parent / "sla-tracker"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
VIOLATED_AT = T0 + timedelta(
    hours=5
)  # orders' newest row is 7 h old: both SLAs violated, one critical
WEBHOOK_SECRET = "T000/B000/webhook-secret-part"


def _config(**alerts):
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
                "alerts": {"timeout_seconds": 1, **alerts},
            }
        ),
        "test",
    )


def _track(warehouse, state_dir, at=VIOLATED_AT, **alerts):
    config = _config(**alerts)
    store, wh = StateStore(state_dir), DuckDBWarehouse(warehouse)
    try:
        return track_once(
            config,
            at,
            wh,
            run_source(config, None),
            store,
            Channels.from_env(),
            backoff_seconds=0.05,
        )
    finally:
        wh.close()
        store.close()


@pytest.fixture
def endpoints(monkeypatch):
    slack, pd = slack_webhook(), pagerduty()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{slack.url}/services/{WEBHOOK_SECRET}")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "R" * 32)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", f"{pd.url}/v2/enqueue")
    yield slack, pd
    slack.close()
    pd.close()


@pytest.mark.parametrize("in_headers", [False, True])
def test_a_trickling_answer_meets_the_deadline_of_the_whole_request(in_headers):
    server = AlertEndpoint(
        Reply(200, trickle_seconds=0.2, trickle_headers=in_headers)
    )  # 60 bytes: 12 s
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout, match="no complete answer within 1s"):
            post_json(server.url, {"text": "x"}, timeout_seconds=1)
        assert (
            time.monotonic() - started < 1.5
        )  # each byte is within any read timeout; the whole is not
    finally:
        server.close()


def test_a_stuck_slack_never_delays_the_page(warehouse, endpoints, tmp_path):
    slack, pd = endpoints
    slack.default = Reply(200, trickle_seconds=0.3)
    _, report = _track(warehouse, tmp_path / "state")
    delivering = time.monotonic() - slack.attempt_times[0]
    assert (
        len(pd.received) == 1
        and pd.received[0]["dedup_key"] == "orchestration-utils/sla/orders_fresh"
    )
    # The page went out beside Slack's first attempt, not after Slack's three.
    assert abs(pd.attempt_times[0] - slack.attempt_times[0]) < 0.5
    assert len(slack.attempts) == 3 and slack.received == []  # three attempts of at most 1 s each
    assert delivering < 3 * 1.0 + 0.05 + 0.1 + 1.5  # attempts, backoff, and room for a busy machine
    [pending] = report.delivery.pending
    assert pending.channel == "slack" and pending.last_error == "no complete answer within 1s"


@pytest.mark.parametrize(
    ("variable", "endpoint", "reply", "reason"),
    [
        (
            "SLACK_API_URL",
            "api",
            Reply(200, "<html><body>Gateway login</body></html>", {"Content-Type": "text/html"}),
            "Slack API: HTTP 200 with a non-JSON answer (text/html)",
        ),
        (
            "SLACK_API_URL",
            "api",
            Reply(200, '["ok"]', {"Content-Type": "application/json"}),
            "Slack API: HTTP 200 with a non-JSON answer (application/json)",
        ),
        (
            "SLACK_WEBHOOK_URL",
            "webhook",
            Reply(200, "<html>portal</html>", {"Content-Type": "text/html"}),
            "Slack webhook: HTTP 200 but not Slack's answer (text/html)",
        ),
        (
            "SLACK_WEBHOOK_URL",
            "webhook",
            Reply(302, "", {"Location": "http://portal.example/"}),
            "HTTP 302",
        ),
    ],
)
def test_an_answer_that_is_not_slacks_is_a_failed_attempt_and_the_page_still_goes(
    warehouse, endpoints, tmp_path, monkeypatch, variable, endpoint, reply, reason
):
    _, pd = endpoints
    other = AlertEndpoint(reply)
    try:
        if endpoint == "api":
            monkeypatch.delenv("SLACK_WEBHOOK_URL")
            monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
            monkeypatch.setenv("SLACK_API_URL", other.url)
        else:
            monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{other.url}/services/{WEBHOOK_SECRET}")
        _, report = _track(warehouse, tmp_path / "state", slack_channel="#data")
    finally:
        other.close()
    assert len(other.attempts) == 3  # retried, then left in the outbox
    assert [(i.channel, i.last_error) for i in report.delivery.pending] == [("slack", reason)]
    assert len(pd.received) == 1


def test_a_pagerduty_answer_without_its_confirmation_is_not_a_delivery(
    warehouse, endpoints, tmp_path
):
    slack, pd = endpoints
    pd.default = Reply(202, "<html>accepted by a proxy</html>", {"Content-Type": "text/html"})
    _, report = _track(warehouse, tmp_path / "state")
    assert [(i.channel, i.last_error) for i in report.delivery.pending] == [
        ("pagerduty", "PagerDuty: HTTP 202 without its confirmation (text/html)")
    ]
    assert len(slack.received) == 1
    pd.default = Reply(202, {"status": "success"})  # the next evaluation delivers it
    _, report = _track(warehouse, tmp_path / "state", VIOLATED_AT + timedelta(minutes=5))
    assert [i.channel for i in report.delivery.sent] == ["pagerduty"] and len(pd.attempts) == 3 + 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("86400000", RETRY_AFTER_CAP_SECONDS),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_and_capped(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_retry_after_as_an_http_date():
    now = time.time()
    assert retry_after_seconds(
        format_datetime(datetime.fromtimestamp(now + 120, UTC), usegmt=True), now
    ) == pytest.approx(120, abs=1)


def test_a_long_retry_after_is_kept_for_later_and_capped(warehouse, endpoints, tmp_path):
    slack, pd = endpoints
    slack.default = Reply(429, "slow down", {"Retry-After": str(10**9)})
    before = time.time()
    _, report = _track(warehouse, tmp_path / "state")
    [pending] = report.delivery.pending
    assert len(slack.attempts) == 1  # not slept on inline: the next evaluation after the time named
    assert (
        before + RETRY_AFTER_CAP_SECONDS - 5
        <= pending.next_attempt_at
        <= time.time() + RETRY_AFTER_CAP_SECONDS
    )
    assert len(pd.received) == 1
    _, report = _track(warehouse, tmp_path / "state", VIOLATED_AT + timedelta(minutes=1))
    assert len(slack.attempts) == 1 and [i.channel for i in report.delivery.pending] == ["slack"]


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        (
            "SLACK_WEBHOOK_URL",
            "hooks.slack.com/services/T/B/secret-value",
            "SLACK_WEBHOOK_URL is not an http(s) URL",
        ),
        (
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/secret-value\n",
            "SLACK_WEBHOOK_URL contains whitespace",
        ),
        ("SLACK_WEBHOOK_URL", "https://[secret-value/", "SLACK_WEBHOOK_URL is not a URL"),
        ("PAGERDUTY_ROUTING_KEY", "secret-value with spaces", "PAGERDUTY_ROUTING_KEY is malformed"),
        (
            "PAGERDUTY_EVENTS_URL",
            "ftp://secret-value",
            "PAGERDUTY_EVENTS_URL is not an http(s) URL",
        ),
    ],
)
def test_a_malformed_secret_is_its_channels_error(
    warehouse, endpoints, tmp_path, monkeypatch, variable, value, reason
):
    slack, pd = endpoints
    monkeypatch.setenv(variable, value)
    _, report = _track(warehouse, tmp_path / "state")
    [pending] = report.delivery.pending
    assert pending.last_error.startswith(reason) and pending.attempts == 0
    lines = " ".join(report.lines())
    assert "secret-value" not in lines and reason in lines
    delivered = pd.received if variable.startswith("SLACK") else slack.received
    assert len(delivered) == 1  # the other channel is unaffected


def test_a_sender_that_crashes_loses_nothing_and_stops_no_other_channel():
    def broken(body):
        raise KeyError("a bug")

    saved = []
    outbox = [OutboxItem("slack", {"n": 1}), OutboxItem("pagerduty", {"n": 2})]
    report = deliver(
        outbox,
        {"slack": broken, "pagerduty": lambda body: Outcome("delivered")},
        lambda items: saved.append(list(items)),
        sleep=lambda s: None,
    )
    assert [i.channel for i in report.sent] == ["pagerduty"]
    assert [(i.channel, i.last_error) for i in report.pending] == [
        ("slack", "KeyError while sending")
    ]
    assert [i.channel for i in saved[-1]] == ["slack"]


def test_two_processes_on_one_state_page_once(warehouse, tmp_path):
    slack = slack_webhook()
    pd = AlertEndpoint(
        Reply(202, {"status": "success"}, delay_seconds=1.5)
    )  # a slow page widens the race
    config = tmp_path / "sla-config.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "tables": [
                    {
                        "table_id": "shop.marts.orders",
                        "critical": True,
                        "freshness_sla": {
                            "name": "orders_fresh",
                            "timestamp_column": "ts",
                            "max_age_hours": 6,
                        },
                    }
                ],
                "alerts": {"timeout_seconds": 5},
            }
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_"))},
        "SLACK_WEBHOOK_URL": f"{slack.url}/services/x",
        "PAGERDUTY_ROUTING_KEY": "R" * 32,
        "PAGERDUTY_EVENTS_URL": f"{pd.url}/v2/enqueue",
    }
    command = [
        str(BIN),
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--as-of",
        VIOLATED_AT.isoformat(),
    ]
    try:
        processes = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        codes = [p.wait(120) for p in processes]
        stderr = [p.stderr.read() for p in processes]
    finally:
        slack.close()
        pd.close()
    assert codes == [1, 1], stderr
    assert len(pd.attempts) == 1 and len(slack.attempts) == 1, stderr
    assert sum("alert: trigger orders_fresh" in s for s in stderr) == 1


def test_a_trickled_body_ends_its_worker_with_the_attempt():
    server = AlertEndpoint(Reply(200, trickle_seconds=0.2))
    try:
        before = {t for t in threading.enumerate() if t.name == "alert-post"}
        with pytest.raises(DeliveryTimeout):
            post_json(server.url, {"text": "x"}, timeout_seconds=1)
        time.sleep(
            0.6
        )  # a byte or two later the worker sees the deadline and closes the connection
        assert {t for t in threading.enumerate() if t.name == "alert-post"} - before == set()
    finally:
        server.close()


def test_slack_goes_through_slack_sdk_and_a_redirect_never_carries_the_token(
    warehouse, monkeypatch, tmp_path
):
    elsewhere = AlertEndpoint(Reply(200, {"ok": True}))
    api = AlertEndpoint(Reply(302, "", {"Location": f"{elsewhere.url}/chat.postMessage"}))
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    monkeypatch.setenv("SLACK_API_URL", api.url)
    try:
        _, report = _track(warehouse, tmp_path / "state", slack_channel="#data")
    finally:
        api.close()
        elsewhere.close()
    assert (
        elsewhere.attempts == []
    )  # a followed redirect would have carried the Authorization header
    assert (
        len(api.attempts) == 3 and " slackclient/" in api.attempts[0]["agent"]
    )  # slack_sdk's user agent
    assert api.attempts[0]["auth"] == "Bearer xoxb-not-a-real-token"
    assert [(i.channel, i.last_error) for i in report.delivery.pending] == [("slack", "HTTP 302")]

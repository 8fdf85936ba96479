"""PagerDuty Events API v2: `trigger` and `resolve` with a stable `dedup_key` per SLA.
The routing key (PAGERDUTY_ROUTING_KEY) is added when sending, never stored; the endpoint can
be moved with PAGERDUTY_EVENTS_URL (EU accounts, tests)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import orjson

from orchestration_utils.alerts.delivery import Outcome, classify_http, transport_error
from orchestration_utils.alerts.http import TRANSPORT_ERRORS, check_token, check_url, post_json
from orchestration_utils.alerts.lifecycle import Notice, dedup_key

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def configured() -> bool:
    return bool(os.environ.get("PAGERDUTY_ROUTING_KEY"))


def build_event(notice: Notice, source: str) -> dict:
    result = notice.result
    key = dedup_key(result.name)
    if notice.kind == "resolve":
        return {"event_action": "resolve", "dedup_key": key}
    return {
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": f"SLA {result.name} violated on {result.subject}: {result.message}"[:1024],
            "source": source,
            "severity": "critical",
            "timestamp": datetime.fromtimestamp(notice.opened_at, UTC).isoformat(),
            "component": result.subject,
            "group": result.type,
            "class": "sla_violation",
            "custom_details": {"target": result.target, **result.to_json()},
        },
    }


def send(body: dict, timeout_seconds: float = 10.0) -> Outcome:
    url = os.environ.get("PAGERDUTY_EVENTS_URL", EVENTS_URL)
    key = os.environ.get("PAGERDUTY_ROUTING_KEY", "")
    if problem := check_url("PAGERDUTY_EVENTS_URL", url) or check_token("PAGERDUTY_ROUTING_KEY", key):
        return Outcome("misconfigured", problem)
    try:
        answer = post_json(url, {"routing_key": key, **body}, timeout_seconds)
    except TRANSPORT_ERRORS as exc:
        return transport_error(exc)
    outcome = classify_http(answer, ok_statuses=(200, 201, 202))
    if outcome.kind != "delivered":
        return outcome
    try:
        data = orjson.loads(answer.text)
    except orjson.JSONDecodeError:
        data = None
    # Events v2 confirms with {"status": "success"}; anything else came from something in between.
    if not isinstance(data, dict) or data.get("status") != "success":
        return Outcome("retry", f"PagerDuty: HTTP {answer.status} without its confirmation ({answer.content_type})")
    return outcome

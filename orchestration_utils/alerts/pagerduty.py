"""PagerDuty Events API v2: `trigger` and `resolve` with a stable `dedup_key` per SLA.

One small client rather than dagster-pagerduty's `PagerDutyService`: that resource posts through
pypd to a fixed endpoint (no EU accounts), without a timeout, and raises on any answer it dislikes,
so neither the deadline of the whole request nor the retry-or-drop decision of the outbox could be
kept. The routing key is added when sending, never stored with the event."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from orchestration_utils.alerts.delivery import Outcome, classify_http, transport_error
from orchestration_utils.alerts.lifecycle import Notice, dedup_key
from orchestration_utils.http_client import TRANSPORT_ERRORS, check_token, check_url, post_json

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MISSING = "PagerDuty is not configured (PAGERDUTY_ROUTING_KEY); critical SLAs do not page"


@dataclass(frozen=True)
class PagerDutySettings:
    routing_key: str = field(default="", repr=False)
    events_url: str = EVENTS_URL  # EU accounts: https://events.eu.pagerduty.com/v2/enqueue

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PagerDutySettings:
        """What the CLI reads: PAGERDUTY_ROUTING_KEY, PAGERDUTY_EVENTS_URL."""
        return cls(
            environ.get("PAGERDUTY_ROUTING_KEY", ""),
            environ.get("PAGERDUTY_EVENTS_URL") or EVENTS_URL,
        )

    @property
    def configured(self) -> bool:
        return bool(self.routing_key)


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


def send(body: dict, settings: PagerDutySettings, timeout_seconds: float = 10.0) -> Outcome:
    if problem := (
        check_url("PAGERDUTY_EVENTS_URL", settings.events_url)
        or check_token("PAGERDUTY_ROUTING_KEY", settings.routing_key)
    ):
        return Outcome("misconfigured", problem)
    try:
        answer = post_json(
            settings.events_url, {"routing_key": settings.routing_key, **body}, timeout_seconds
        )
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
        return Outcome(
            "retry",
            f"PagerDuty: HTTP {answer.status} without its confirmation ({answer.content_type})",
        )
    return outcome

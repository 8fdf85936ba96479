"""Delivery, its own step with a persisted outbox: evaluation decides what to say, this makes sure
it is said, once. Timeouts, 429 (honouring Retry-After) and 5xx are retried with backoff; what
still fails stays in the outbox for the next evaluation, across restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import requests


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | retry | rejected
    reason: str = ""
    retry_after: float | None = None


def classify_http(response: requests.Response, ok_statuses: tuple[int, ...]) -> Outcome:
    """Only the status and the service's own error text: URLs (which may hold secrets) never appear."""
    status = response.status_code
    if status in ok_statuses:
        return Outcome("delivered")
    if status == 429 or status >= 500:
        value = response.headers.get("Retry-After")
        after = float(value) if value and value.replace(".", "", 1).isdigit() else None
        return Outcome("retry", f"HTTP {status}", after)
    return Outcome("rejected", f"HTTP {status}: {response.text[:200]}")


def transport_error(exc: requests.RequestException) -> Outcome:
    return Outcome("retry", "timed out" if isinstance(exc, requests.Timeout) else f"{type(exc).__name__}")


@dataclass
class OutboxItem:
    channel: str  # slack | pagerduty
    body: dict
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str = ""


@dataclass
class DeliveryReport:
    sent: list[OutboxItem] = field(default_factory=list)
    pending: list[OutboxItem] = field(default_factory=list)
    rejected: list[OutboxItem] = field(default_factory=list)


Sender = Callable[[dict], Outcome]


def deliver(
    outbox: list[OutboxItem],
    senders: Mapping[str, Sender],
    save: Callable[[list[OutboxItem]], None],
    *,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 3,
    backoff_seconds: float = 1.0,
    max_inline_wait: float = 30.0,
) -> DeliveryReport:
    """Send what is due, oldest first; `save` persists the outbox after every change, so a crash
    re-sends at most the one message in flight (and PagerDuty's dedup_key absorbs that)."""
    report = DeliveryReport()
    for item in sorted(outbox, key=lambda i: i.created_at):
        if item.next_attempt_at > now() or item.channel not in senders:
            report.pending.append(item)
            continue
        for attempt in range(attempts):
            item.attempts += 1
            outcome = senders[item.channel](item.body)
            if outcome.kind != "retry":
                break
            item.last_error = outcome.reason
            wait = outcome.retry_after if outcome.retry_after is not None else backoff_seconds * 2**attempt
            if attempt == attempts - 1 or wait > max_inline_wait:
                # The next evaluation retries; sooner only if the service named a later time.
                item.next_attempt_at = now() + outcome.retry_after if outcome.retry_after else 0.0
                break
            sleep(wait)
        if outcome.kind == "delivered":
            outbox.remove(item)
            report.sent.append(item)
        elif outcome.kind == "rejected":
            item.last_error = outcome.reason  # a 4xx will not heal by retrying: drop it, say so
            outbox.remove(item)
            report.rejected.append(item)
        else:
            report.pending.append(item)
        save(outbox)
    return report


def outbox_to_json(outbox: list[OutboxItem]) -> list[dict]:
    return [asdict(i) for i in outbox]


def outbox_from_json(data: list[dict] | None) -> list[OutboxItem]:
    return [OutboxItem(**item) for item in data or ()]

"""Delivery, its own step with a persisted outbox: evaluation decides what to say, this makes sure
it is said, once. Each channel is delivered in its own thread, so a stuck Slack never delays a
PagerDuty page; within a channel messages go oldest first, and the first one that cannot be
delivered holds the rest of that channel for the next evaluation (a resolve never overtakes its
trigger). Timeouts (of the whole request), 429 (honouring Retry-After, capped), 3xx, 5xx and
unreadable answers are retried with backoff; what still fails stays in the outbox, across restarts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from orchestration_utils.http_client import Answer, one_line, retry_after_seconds


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | retry | rejected | misconfigured (a secret or endpoint unusable: not attempted)
    reason: str = ""
    retry_after: float | None = None


def classify_http(answer: Answer, ok_statuses: tuple[int, ...]) -> Outcome:
    """Only the status and the service's own error text: URLs (which may hold secrets) never appear."""
    status = answer.status
    if status in ok_statuses:
        return Outcome("delivered")
    if status in (408, 429) or status >= 500 or 300 <= status < 400:
        return Outcome(
            "retry", f"HTTP {status}", retry_after_seconds(answer.headers.get("retry-after"))
        )
    return Outcome("rejected", f"HTTP {status}: {one_line(answer.text)}")


def transport_error(exc: BaseException) -> Outcome:
    """A connection that failed or an answer that did not complete in time; the exception's text
    may carry the URL (a secret), so only its kind is kept."""
    from urllib.error import URLError

    from orchestration_utils.http_client import DeliveryTimeout

    if isinstance(exc, DeliveryTimeout):
        return Outcome("retry", str(exc))
    if isinstance(exc, URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason  # urllib wraps the socket's own failure
    return Outcome("retry", "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)


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
# Pages go first: their thread starts before the others'.
_CHANNEL_ORDER = {"pagerduty": 0, "slack": 1}


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
    """Send what is due; `save` persists the outbox after every change (serialized), so a crash
    re-sends at most the messages in flight (and PagerDuty's dedup_key absorbs those)."""
    report = DeliveryReport()
    lock = threading.Lock()
    channels: dict[str, list[OutboxItem]] = {}
    for item in sorted(outbox, key=lambda i: i.created_at):
        channels.setdefault(item.channel, []).append(item)

    def run(items: list[OutboxItem]) -> None:
        held = False
        for item in items:
            if held or item.next_attempt_at > now() or item.channel not in senders:
                with lock:
                    report.pending.append(item)
                continue
            outcome = _send(
                item, senders[item.channel], now, sleep, attempts, backoff_seconds, max_inline_wait
            )
            with lock:
                if outcome.kind == "delivered":
                    outbox.remove(item)
                    report.sent.append(item)
                elif outcome.kind == "rejected":
                    item.last_error = (
                        outcome.reason
                    )  # a 4xx will not heal by retrying: drop it, say so
                    outbox.remove(item)
                    report.rejected.append(item)
                else:
                    item.last_error = outcome.reason
                    report.pending.append(item)
                    held = True
                save(outbox)

    threads = [
        threading.Thread(target=run, args=(items,), name=f"deliver-{channel}", daemon=True)
        for channel, items in sorted(channels.items(), key=lambda c: _CHANNEL_ORDER.get(c[0], 9))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return report


def _send(
    item: OutboxItem,
    sender: Sender,
    now,
    sleep,
    attempts: int,
    backoff_seconds: float,
    max_inline_wait: float,
) -> Outcome:
    for attempt in range(attempts):
        try:
            outcome = sender(item.body)
        except Exception as exc:  # noqa: BLE001 -- a sender's bug must not lose this or other channels' messages
            outcome = Outcome("retry", f"{type(exc).__name__} while sending")
        if outcome.kind == "misconfigured":
            return outcome
        item.attempts += 1
        if outcome.kind != "retry":
            return outcome
        wait = (
            outcome.retry_after if outcome.retry_after is not None else backoff_seconds * 2**attempt
        )
        if attempt == attempts - 1 or wait > max_inline_wait:
            # The next evaluation retries; not before the time the service named.
            item.next_attempt_at = now() + outcome.retry_after if outcome.retry_after else 0.0
            return outcome
        sleep(wait)
    raise AssertionError("unreachable")


def outbox_to_json(outbox: list[OutboxItem]) -> list[dict]:
    return [asdict(i) for i in outbox]


def outbox_from_json(data: list[dict] | None) -> list[OutboxItem]:
    return [OutboxItem(**item) for item in data or ()]

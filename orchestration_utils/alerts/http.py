"""One HTTP POST to an alerting service under a wall-clock deadline for the whole request.

`requests`' timeout bounds each socket read, so an endpoint that trickles its answer a byte at a
time never times out. Here the request runs in a daemon worker that streams the answer and gives
up at the deadline, and the caller stops waiting at the deadline whatever the worker does (a
stalled header phase included); a worker left behind never holds the process at exit."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

MAX_ANSWER_BYTES = 64 * 1024  # what we keep of an answer: enough for any JSON status, not a page flood
RETRY_AFTER_CAP_SECONDS = 3600.0  # a service asking for longer is asked again after an hour


class DeliveryTimeout(Exception):
    pass


# What a failed exchange raises: no answer in time, a connection or protocol failure.
TRANSPORT_ERRORS = (DeliveryTimeout, requests.RequestException, OSError)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip() or "no content type"


def post_json(url: str, body: dict, timeout_seconds: float, headers: dict[str, str] | None = None) -> Answer:
    """Raises `DeliveryTimeout` when the whole exchange takes longer than `timeout_seconds`, or the
    `requests` exception of a failed connection."""
    deadline = time.monotonic() + timeout_seconds
    outcome: dict[str, object] = {}
    done = threading.Event()

    def attempt() -> None:
        try:
            outcome["answer"] = _post_streaming(url, body, headers or {}, timeout_seconds, deadline)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread, which decides
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=attempt, name="alert-post", daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0.0) + 0.05):
        raise DeliveryTimeout(f"no complete answer within {timeout_seconds:g}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["answer"]  # type: ignore[return-value]


def _post_streaming(url: str, body: dict, headers: dict[str, str], timeout: float, deadline: float) -> Answer:
    with requests.post(url, json=body, headers=headers, timeout=(timeout, timeout), stream=True,
                       allow_redirects=False) as response:
        data = bytearray()
        # read1 returns whatever has arrived, so a trickled body meets the deadline within a byte
        # and this worker ends with the attempt instead of lingering until the server stops.
        while chunk := response.raw.read1(4096):
            if time.monotonic() > deadline:
                raise DeliveryTimeout(f"no complete answer within {timeout:g}s")
            if len(data) < MAX_ANSWER_BYTES:
                data += chunk[: MAX_ANSWER_BYTES - len(data)]
        return Answer(response.status_code, data.decode("utf-8", "replace"),
                      {k.lower(): v for k, v in response.headers.items()})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds or an HTTP date, capped; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def check_url(variable: str, value: str) -> str | None:
    """The reason a configured endpoint (often itself the secret) is unusable; never echoes it."""
    if any(c.isspace() or not c.isprintable() for c in value):
        return f"{variable} contains whitespace or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return f"{variable} is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{variable} is not an http(s) URL"
    return None


def check_token(variable: str, value: str) -> str | None:
    if not value or len(value) > 2000 or any(c.isspace() or not c.isprintable() or not c.isascii() for c in value):
        return f"{variable} is malformed (expected printable ASCII without spaces)"
    return None


def one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]

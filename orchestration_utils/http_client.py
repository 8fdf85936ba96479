"""One HTTP exchange with an alerting service (or the Airflow API) under a wall-clock deadline for
the whole request, through the standard library's urllib (the transport slack_sdk uses too).

A socket timeout bounds each read, so an endpoint that trickles its answer a byte at a time never
times out. Here the exchange runs in a daemon worker that streams the answer and gives up at the
deadline, and the caller stops waiting at the deadline whatever the worker does (a stalled header
phase included); a worker left behind never holds the process at exit. Redirects are not followed:
a 3xx is an answer (retried), so a bot token never travels to wherever a proxy points."""

from __future__ import annotations

import http.client
import math
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.error import HTTPError
from urllib.parse import urlsplit

import orjson

MAX_ANSWER_BYTES = (
    64 * 1024
)  # what we keep of an answer: enough for any JSON status, not a page flood
RETRY_AFTER_CAP_SECONDS = 3600.0  # a service asking for longer is asked again after an hour


class DeliveryTimeout(Exception):
    pass


# What a failed exchange raises: no answer in time, a connection or protocol failure (urllib's
# URLError and socket timeouts are OSErrors).
TRANSPORT_ERRORS = (DeliveryTimeout, OSError, http.client.HTTPException)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip() or "no content type"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx, which `read_answer` keeps as the answer


_OPENER = urllib.request.build_opener(_NoRedirect)

T = TypeVar("T")


def call_within(work: Callable[[], T], timeout_seconds: float) -> T:
    """`work()` in a daemon worker; `DeliveryTimeout` when it has not returned by the deadline."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def attempt() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread, which decides
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=attempt, name="alert-post", daemon=True).start()
    if not done.wait(timeout_seconds + 0.05):
        raise DeliveryTimeout(f"no complete answer within {timeout_seconds:g}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def read_answer(request: urllib.request.Request, timeout_seconds: float, deadline: float) -> Answer:
    """Send `request` and read its answer (any status) until `deadline` (a `time.monotonic()`)."""
    try:
        response = _OPENER.open(request, timeout=timeout_seconds)
        status, stream = response.status, response
    except HTTPError as exc:  # a 3xx, 4xx or 5xx: an answer all the same
        response, status, stream = exc, exc.code, exc.fp
    with response:
        data = bytearray()
        # read1 returns whatever has arrived, so a trickled body meets the deadline within a byte
        # and this worker ends with the attempt instead of lingering until the server stops.
        while stream is not None and (chunk := stream.read1(4096)):
            if time.monotonic() > deadline:
                raise DeliveryTimeout(f"no complete answer within {timeout_seconds:g}s")
            if len(data) < MAX_ANSWER_BYTES:
                data += chunk[: MAX_ANSWER_BYTES - len(data)]
        return Answer(
            status,
            data.decode("utf-8", "replace"),
            {k.lower(): v for k, v in response.headers.items()},
        )


def exchange(
    url: str,
    timeout_seconds: float,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """POST `body` as JSON (or GET without one). Raises `DeliveryTimeout` when the whole exchange
    takes longer than `timeout_seconds`, or one of `TRANSPORT_ERRORS` on a failed connection."""
    request = urllib.request.Request(
        url,
        data=None if body is None else orjson.dumps(body),
        method="GET" if body is None else "POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
        },
    )
    deadline = time.monotonic() + timeout_seconds
    return call_within(lambda: read_answer(request, timeout_seconds, deadline), timeout_seconds)


def post_json(
    url: str, body: dict, timeout_seconds: float, headers: dict[str, str] | None = None
) -> Answer:
    return exchange(url, timeout_seconds, body, headers)


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
    if (
        not value
        or len(value) > 2000
        or any(c.isspace() or not c.isprintable() or not c.isascii() for c in value)
    ):
        return f"{variable} is malformed (expected printable ASCII without spaces)"
    return None


def one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]

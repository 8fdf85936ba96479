"""Slack: one grouped message per evaluation (a plain `text` fallback and blocks), sent with
slack_sdk: `WebhookClient` for an incoming webhook, `WebClient.chat.postMessage` for a bot token.

slack_sdk builds the request (JSON, auth, user agent); its retry handlers are off and its socket
timeout is ours, because retrying is the outbox's job (counted, persisted, Retry-After capped) and
`alerts.timeout_seconds` bounds the whole request. Its transport is replaced by `read_answer` (the
same urllib, without redirects, read under the deadline), which also hands back the raw answer, so
the verdict (retry, drop, delivered) is ours whatever slack_sdk makes of a proxy's HTML page."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from orchestration_utils.alerts.delivery import Outcome, classify_http, transport_error
from orchestration_utils.alerts.lifecycle import Notice
from orchestration_utils.http_client import (
    TRANSPORT_ERRORS,
    Answer,
    call_within,
    check_token,
    check_url,
    one_line,
    read_answer,
    retry_after_seconds,
)

API_URL = "https://slack.com/api/"
MISSING = (
    "Slack is not configured (SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN with alerts.slack_channel); "
    "SLA alerts are not sent to Slack"
)
# slack_sdk logs failed requests (with their bodies) at ERROR; the outcome is reported by us instead.
_QUIET = logging.getLogger("orchestration_utils.alerts.slack_sdk")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class SlackSettings:
    webhook_url: str = field(default="", repr=False)
    bot_token: str = field(default="", repr=False)
    api_url: str = API_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SlackSettings:
        """What the CLI reads: SLACK_WEBHOOK_URL, SLACK_BOT_TOKEN, SLACK_API_URL."""
        return cls(
            environ.get("SLACK_WEBHOOK_URL", ""),
            environ.get("SLACK_BOT_TOKEN", ""),
            environ.get("SLACK_API_URL") or API_URL,
        )

    def configured(self, channel: str | None) -> bool:
        return bool(self.webhook_url or (self.bot_token and channel))

    def channel_for(self, channel: str | None) -> str | None:
        """A webhook posts to its own channel; the bot token's `chat.postMessage` needs one named."""
        return None if self.webhook_url else channel


_MAX_SECTIONS = 45  # Slack allows 50 blocks; a header, a context and a "more" line remain
_ICON = {
    "trigger": ":red_circle:",
    "repeat": ":large_orange_circle:",
    "resolve": ":large_green_circle:",
}
_VERB = {"trigger": "VIOLATED", "repeat": "STILL VIOLATED", "resolve": "RESOLVED"}


def build_message(notices: Sequence[Notice], now: datetime, channel: str | None) -> dict:
    violated = sum(n.kind != "resolve" for n in notices)
    resolved = len(notices) - violated
    parts = [
        f"{violated} SLA violation{'s' * (violated != 1)}" if violated else "",
        f"{resolved} resolved" if resolved else "",
    ]
    headline = ", ".join(p for p in parts if p)
    lines = [
        f"{_VERB[n.kind]}{' (critical)' if n.result.critical else ''}: {n.result.name} "
        f"({n.result.subject}): {n.result.message}"
        for n in notices
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"SLA: {headline}"[:150]}}
    ]
    for notice, line in list(zip(notices, lines, strict=True))[:_MAX_SECTIONS]:
        result = notice.result
        text = (
            f"{_ICON[notice.kind]} *{_VERB[notice.kind]}*{' · critical' if result.critical else ''} "
            f"`{result.name}` on `{result.subject}`\n{result.message}\n_target: {result.target}_"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if len(notices) > _MAX_SECTIONS:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"… and {len(notices) - _MAX_SECTIONS} more"},
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"orchestration-utils sla-tracker · {now.astimezone(UTC).isoformat(timespec='seconds')}",
                }
            ],
        }
    )
    # Mobile notifications show only `text`: it carries the whole message, not a summary of it.
    return message((f"SLA: {headline}\n" + "\n".join(lines))[:3000], blocks, channel)


def message(text: str, blocks: list[dict], channel: str | None) -> dict:
    """`channel`: from `SlackSettings.channel_for` (None for a webhook)."""
    body = {"text": text, "blocks": blocks}
    if channel:
        body["channel"] = channel
    return body


def send(body: dict, settings: SlackSettings, timeout_seconds: float = 10.0) -> Outcome:
    """Every answer is judged inside the error handling: an HTML page from a proxy is a failed
    attempt, not a crash. The secret (webhook URL or token) never reaches an outcome."""
    from slack_sdk import WebClient, WebhookClient

    if settings.webhook_url:
        if problem := check_url("SLACK_WEBHOOK_URL", settings.webhook_url):
            return Outcome("misconfigured", problem)
        client = _recording(WebhookClient)(
            settings.webhook_url, timeout=timeout_seconds, retry_handlers=[], logger=_QUIET
        )
        answer, failure = _exchange(client, lambda: client.send_dict(body), timeout_seconds)
        if answer is None:
            return failure
        outcome = classify_http(answer, ok_statuses=(200,))
        if (
            outcome.kind == "delivered" and answer.text.strip() != "ok"
        ):  # Slack's webhook answers "ok"
            return Outcome(
                "retry", f"Slack webhook: HTTP 200 but not Slack's answer ({answer.content_type})"
            )
        return outcome
    api = settings.api_url.rstrip("/") + "/"
    if problem := check_url("SLACK_API_URL", api) or check_token(
        "SLACK_BOT_TOKEN", settings.bot_token
    ):
        return Outcome("misconfigured", problem)
    client = _recording(WebClient)(
        token=settings.bot_token,
        base_url=api,
        timeout=timeout_seconds,
        retry_handlers=[],
        logger=_QUIET,
    )
    answer, failure = _exchange(
        client, lambda: client.api_call("chat.postMessage", json=body), timeout_seconds
    )
    if answer is None:
        return failure
    outcome = classify_http(answer, ok_statuses=(200,))
    if outcome.kind != "delivered":
        return outcome
    try:
        data = orjson.loads(
            answer.text
        )  # the Web API answers 200 with {"ok": false, "error": ...} on failure
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return Outcome(
            "retry", f"Slack API: HTTP 200 with a non-JSON answer ({answer.content_type})"
        )
    if data.get("ok") is True:
        return outcome
    error = one_line(str(data.get("error", "unknown error")), 100)
    if error in _TRANSIENT_ERRORS:
        return Outcome(
            "retry", f"Slack: {error}", retry_after_seconds(answer.headers.get("retry-after"))
        )
    return Outcome("rejected", f"Slack: {error}")


def _exchange(client, call, timeout_seconds: float) -> tuple[Answer | None, Outcome]:
    """The raw answer of one slack_sdk call, or the transport failure that left none."""
    client.deadline = time.monotonic() + timeout_seconds
    try:
        call_within(call, timeout_seconds)
    except TRANSPORT_ERRORS as exc:
        if client.answer is None:
            return None, transport_error(exc)
    except Exception:  # noqa: BLE001, S110 -- slack_sdk's own verdict on the answer (SlackApiError...); ours follows
        pass
    if client.answer is None:
        return None, Outcome("retry", "Slack: no answer")
    return client.answer, Outcome("retry")


def _recording(base: type) -> type:
    """`base` (WebhookClient or WebClient) sending through `read_answer` and keeping the answer."""
    from slack_sdk.webhook import WebhookResponse

    class Recording(base):
        answer: Answer | None = None
        deadline: float = 0.0

        def _read(self, req) -> Answer:
            self.answer = read_answer(req, self.timeout, self.deadline)
            return self.answer

        def _perform_http_request_internal(self, url, req):  # WebhookClient's transport
            answer = self._read(req)
            return WebhookResponse(
                url=url, status_code=answer.status, body=answer.text, headers=answer.headers
            )

        def _perform_urllib_http_request_internal(self, url, req):  # WebClient's transport
            answer = self._read(req)
            return {"status": answer.status, "headers": answer.headers, "body": answer.text}

    return Recording


# chat.postMessage errors that heal by themselves; the rest (channel_not_found, invalid_auth...) do not.
_TRANSIENT_ERRORS = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}

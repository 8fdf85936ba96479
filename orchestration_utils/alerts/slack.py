"""Slack: one grouped message per evaluation (a plain `text` fallback and blocks), sent through an
incoming webhook (SLACK_WEBHOOK_URL) or `chat.postMessage` with a bot token (SLACK_BOT_TOKEN)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from orchestration_utils.alerts.delivery import Outcome, classify_http, transport_error
from orchestration_utils.alerts.http import (
    TRANSPORT_ERRORS,
    check_token,
    check_url,
    one_line,
    post_json,
    retry_after_seconds,
)
from orchestration_utils.alerts.lifecycle import Notice

_MAX_SECTIONS = 45  # Slack allows 50 blocks; a header, a context and a "more" line remain
_ICON = {"trigger": ":red_circle:", "repeat": ":large_orange_circle:", "resolve": ":large_green_circle:"}
_VERB = {"trigger": "VIOLATED", "repeat": "STILL VIOLATED", "resolve": "RESOLVED"}


def configured(channel: str | None) -> bool:
    return bool(os.environ.get("SLACK_WEBHOOK_URL") or (os.environ.get("SLACK_BOT_TOKEN") and channel))


def build_message(notices: Sequence[Notice], now: datetime, channel: str | None) -> dict:
    violated = sum(n.kind != "resolve" for n in notices)
    resolved = len(notices) - violated
    parts = [f"{violated} SLA violation{'s' * (violated != 1)}" if violated else "",
             f"{resolved} resolved" if resolved else ""]
    headline = ", ".join(p for p in parts if p)
    lines = [f"{_VERB[n.kind]}{' (critical)' if n.result.critical else ''}: {n.result.name} "
             f"({n.result.subject}): {n.result.message}" for n in notices]
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": f"SLA: {headline}"[:150]}}]
    for notice, line in list(zip(notices, lines, strict=True))[:_MAX_SECTIONS]:
        result = notice.result
        text = (f"{_ICON[notice.kind]} *{_VERB[notice.kind]}*{' · critical' if result.critical else ''} "
                f"`{result.name}` on `{result.subject}`\n{result.message}\n_target: {result.target}_")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if len(notices) > _MAX_SECTIONS:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"… and {len(notices) - _MAX_SECTIONS} more"}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"orchestration-utils sla-tracker · {now.astimezone(UTC).isoformat(timespec='seconds')}"}]})
    # Mobile notifications show only `text`: it carries the whole message, not a summary of it.
    return message((f"SLA: {headline}\n" + "\n".join(lines))[:3000], blocks, channel)


def message(text: str, blocks: list[dict], channel: str | None) -> dict:
    """A webhook posts to its own channel; the bot token's `chat.postMessage` needs one named."""
    body = {"text": text, "blocks": blocks}
    if channel and not os.environ.get("SLACK_WEBHOOK_URL"):
        body["channel"] = channel
    return body


def send(body: dict, timeout_seconds: float = 10.0) -> Outcome:
    """The secret (webhook URL or token) is read here, never stored with the message. Every answer
    is read inside the error handling: an HTML page from a proxy is a failed attempt, not a crash."""
    webhook = os.environ.get("SLACK_WEBHOOK_URL")
    if webhook:
        if problem := check_url("SLACK_WEBHOOK_URL", webhook):
            return Outcome("misconfigured", problem)
        try:
            answer = post_json(webhook, body, timeout_seconds)
        except TRANSPORT_ERRORS as exc:
            return transport_error(exc)
        outcome = classify_http(answer, ok_statuses=(200,))
        if outcome.kind == "delivered" and answer.text.strip() != "ok":  # Slack's webhook answers "ok"
            return Outcome("retry", f"Slack webhook: HTTP 200 but not Slack's answer ({answer.content_type})")
        return outcome
    api = os.environ.get("SLACK_API_URL", "https://slack.com/api").rstrip("/")
    token = os.environ.get("SLACK_BOT_TOKEN", "")
    if problem := check_url("SLACK_API_URL", api) or check_token("SLACK_BOT_TOKEN", token):
        return Outcome("misconfigured", problem)
    try:
        answer = post_json(f"{api}/chat.postMessage", body, timeout_seconds, {"Authorization": f"Bearer {token}"})
    except TRANSPORT_ERRORS as exc:
        return transport_error(exc)
    outcome = classify_http(answer, ok_statuses=(200,))
    if outcome.kind != "delivered":
        return outcome
    try:
        data = orjson.loads(answer.text)  # the Web API answers 200 with {"ok": false, "error": ...} on failure
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return Outcome("retry", f"Slack API: HTTP 200 with a non-JSON answer ({answer.content_type})")
    if data.get("ok") is True:
        return outcome
    error = one_line(str(data.get("error", "unknown error")), 100)
    if error in _TRANSIENT_ERRORS:
        return Outcome("retry", f"Slack: {error}", retry_after_seconds(answer.headers.get("retry-after")))
    return Outcome("rejected", f"Slack: {error}")


# chat.postMessage errors that heal by themselves; the rest (channel_not_found, invalid_auth...) do not.
_TRANSIENT_ERRORS = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                     "request_timeout"}

"""One evaluation's alerts: decide (lifecycle), enqueue (grouped Slack message, PagerDuty events for
critical SLAs), persist, deliver. The caller persists `AlertState` wherever it lives (the CLI's state
directory, the Dagster instance) and hands the channels' settings in (the CLI from the environment,
the code location from its `EnvVar` resources)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from orchestration_utils.alerts import pagerduty, slack
from orchestration_utils.alerts.config import AlertsConfig
from orchestration_utils.alerts.delivery import (
    DeliveryReport,
    OutboxItem,
    Sender,
    deliver,
    outbox_from_json,
    outbox_to_json,
)
from orchestration_utils.alerts.lifecycle import (
    Evaluation,
    Incident,
    Notice,
    incidents_from_json,
    incidents_to_json,
    plan_notices,
)
from orchestration_utils.alerts.pagerduty import PagerDutySettings
from orchestration_utils.alerts.slack import SlackSettings


@dataclass
class AlertState:
    incidents: dict[str, Incident] = field(default_factory=dict)
    outbox: list[OutboxItem] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "incidents": incidents_to_json(self.incidents),
            "outbox": outbox_to_json(self.outbox),
        }

    @classmethod
    def from_json(cls, data: dict | None) -> AlertState:
        data = data or {}
        return cls(incidents_from_json(data.get("incidents")), outbox_from_json(data.get("outbox")))


@dataclass(frozen=True)
class Channels:
    """Where alerts go; the secrets live here only while sending, never in state or reports."""

    slack: SlackSettings = field(default_factory=SlackSettings)
    pagerduty: PagerDutySettings = field(default_factory=PagerDutySettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Channels:
        return cls(SlackSettings.from_env(environ), PagerDutySettings.from_env(environ))

    def missing(self, config: AlertsConfig) -> list[str]:
        """What an operator should be told once: a channel with no setting sends nothing."""
        return [
            m
            for ok, m in (
                (self.slack.configured(config.slack_channel), slack.MISSING),
                (self.pagerduty.configured, pagerduty.MISSING),
            )
            if not ok
        ]


@dataclass
class NotifyReport:
    notices: list[Notice]
    delivery: DeliveryReport
    unrouted: list[str]  # channels a notice needed but the environment does not configure
    note: str = ""  # why nothing was decided (another process holds the alert state)

    @classmethod
    def skipped(cls, reason: str) -> NotifyReport:
        return cls([], DeliveryReport(), [], reason)

    def lines(self) -> list[str]:
        lines = [self.note] if self.note else []
        lines += [f"{n.kind} {n.result.name}" for n in self.notices]
        lines += [f"sent to {i.channel}" for i in self.delivery.sent]
        lines += [
            f"pending {i.channel} ({i.last_error}, attempt {i.attempts})"
            for i in self.delivery.pending
        ]
        lines += [f"rejected by {i.channel}: {i.last_error}" for i in self.delivery.rejected]
        lines += [f"{c} is not configured; its alerts are not sent" for c in self.unrouted]
        return lines


def senders(channels: Channels, timeout_seconds: float) -> dict[str, Sender]:
    return {
        "slack": partial(slack.send, settings=channels.slack, timeout_seconds=timeout_seconds),
        "pagerduty": partial(
            pagerduty.send, settings=channels.pagerduty, timeout_seconds=timeout_seconds
        ),
    }


def notify(
    results: Sequence[Evaluation],
    state: AlertState,
    config: AlertsConfig,
    now: datetime,
    save: Callable[[AlertState], None],
    channels: Channels,
    **delivery_options,
) -> NotifyReport:
    notices = plan_notices(
        results, state.incidents, now, timedelta(minutes=config.suppression_minutes)
    )
    unrouted: set[str] = set()
    if notices:
        if channels.slack.configured(config.slack_channel):
            message = slack.build_message(
                notices, now, channels.slack.channel_for(config.slack_channel)
            )
            state.outbox.append(OutboxItem("slack", message))
        else:
            unrouted.add("Slack")
        paging = [n for n in notices if n.result.critical]
        if paging and channels.pagerduty.configured:
            state.outbox += [
                OutboxItem("pagerduty", pagerduty.build_event(n, config.source)) for n in paging
            ]
        elif paging:
            unrouted.add("PagerDuty")
    save(state)  # the decision and the messages are durable before anything is sent

    def save_outbox(outbox: list[OutboxItem]) -> None:
        state.outbox = outbox
        save(state)

    report = deliver(
        state.outbox, senders(channels, config.timeout_seconds), save_outbox, **delivery_options
    )
    return NotifyReport(notices, report, sorted(unrouted))


def run_failure_alerts(
    job_name: str,
    run_id: str,
    error: str,
    critical: bool,
    config: AlertsConfig,
    channels: Channels,
) -> tuple[list[OutboxItem], list[str]]:
    """What tells that a run failed: a Slack message, and a PagerDuty event when the pipeline is
    critical; plus the lines to log for a channel that should send but is not configured."""
    text = f"Dagster run failed: {job_name} ({run_id})\n{error}"
    outbox: list[OutboxItem] = []
    missing: list[str] = []
    if channels.slack.configured(config.slack_channel):
        blocks: list[dict] = [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":x: *Run failed* `{job_name}`\n{error}"[:3000],
                },
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"run {run_id}"}]},
        ]
        outbox.append(
            OutboxItem(
                "slack",
                slack.message(text, blocks, channels.slack.channel_for(config.slack_channel)),
            )
        )
    else:
        missing.append(slack.MISSING)
    if critical and channels.pagerduty.configured:
        outbox.append(
            OutboxItem(
                "pagerduty",
                {
                    "event_action": "trigger",
                    "dedup_key": f"orchestration-utils/run/{run_id}",
                    "payload": {
                        "summary": text[:1024],
                        "source": config.source,
                        "severity": "error",
                        "component": job_name,
                        "class": "run_failure",
                    },
                },
            )
        )
    elif critical:
        missing.append(pagerduty.MISSING)
    return outbox, missing

"""The `alerts` block of the SLA config: where alerts go and how often they repeat."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from orchestration_utils.configfile import Minutes, Strict, bounded

Seconds = Annotated[float, bounded(0, 3600, "a number of seconds")]


class AlertsConfig(Strict):
    model_config = ConfigDict(allow_inf_nan=False)  # merged into Strict's

    slack_channel: str | None = Field(
        default=None, pattern=r"^[#@]?[\w.-]{1,80}$"
    )  # with SLACK_BOT_TOKEN
    suppression_minutes: Minutes = 240  # an ongoing violation is repeated at most this often
    source: str = Field(
        default="orchestration-utils", min_length=1, max_length=255
    )  # PagerDuty `source`
    timeout_seconds: Seconds = 10  # the whole of one HTTP request to Slack or PagerDuty

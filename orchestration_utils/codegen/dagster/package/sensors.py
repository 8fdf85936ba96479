"""Alerts: failed asset checks (health and project tests), and assets past their freshness window.

Sensor names carry the package's, so packages sharing a folder load together. Each alert is
sent once and resolved once (the cursor remembers what is open), to the Slack
incoming webhook in SLACK_WEBHOOK_URL, or to the Dagster log when it is unset."""

import json
import os
import time
import urllib.request

import dagster as dg

from .assets import ASSETS
from .checks import CHECKS


def notify(context, text: str) -> None:
    url = os.environ.get("SLACK_WEBHOOK_URL")
    if not url:
        context.log.warning(text)
        return
    request = urllib.request.Request(
        url, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).close()


def _check_keys() -> list[dg.AssetCheckKey]:
    keys = [k for a in ASSETS for k in a.check_keys]
    return keys + [k for c in CHECKS for k in c.check_keys]


@dg.sensor(
    name=f"{__package__}__failed_check_alert_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def failed_check_alert_sensor(context: dg.SensorEvaluationContext):
    """SLA and health-check alerts: a check that fails triggers once and resolves when it passes."""
    open_alerts = set(json.loads(context.cursor or "[]"))
    for key in _check_keys():
        record = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [key]
        ).get(key)
        evaluation = record.evaluation if record else None
        if evaluation is None:
            continue
        name = key.to_user_string()
        if not evaluation.passed and name not in open_alerts:
            notify(context, f":red_circle: check failed: {name}")
            open_alerts.add(name)
        elif evaluation.passed and name in open_alerts:
            notify(context, f":large_green_circle: check passes again: {name}")
            open_alerts.discard(name)
    context.update_cursor(json.dumps(sorted(open_alerts)))


@dg.sensor(
    name=f"{__package__}__freshness_alert_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def freshness_alert_sensor(context: dg.SensorEvaluationContext):
    """Freshness alerts: an asset whose last materialization is older than its fail window."""
    open_alerts = set(json.loads(context.cursor or "[]"))
    now = time.time()
    for assets_def in ASSETS:
        for spec in assets_def.specs:
            if spec.freshness_policy is None:
                continue
            limit = spec.freshness_policy.fail_window.to_timedelta().total_seconds()
            event = context.instance.get_latest_materialization_event(spec.key)
            stale = event is None or now - event.timestamp > limit
            name = spec.key.to_user_string()
            if stale and name not in open_alerts:
                notify(
                    context,
                    f":hourglass: {name} is older than its freshness window ({limit / 3600:g} h)",
                )
                open_alerts.add(name)
            elif not stale and name in open_alerts:
                notify(context, f":white_check_mark: {name} is fresh again")
                open_alerts.discard(name)
    context.update_cursor(json.dumps(sorted(open_alerts)))


SENSORS = [failed_check_alert_sensor, freshness_alert_sensor]

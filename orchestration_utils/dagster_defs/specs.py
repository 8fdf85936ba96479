"""Node -> the attributes our assets carry, for dbt and SQLMesh alike."""

import functools
from typing import Any

import dagster as dg

from orchestration_utils.dagster_defs import policy
from orchestration_utils.project.model import Node


def spec_attributes(node: Node, default_schedule: str) -> dict[str, Any]:
    schedule = node.schedule or default_schedule
    windows = policy.freshness_windows(node, schedule)
    return {
        "group_name": node.layer.value,
        "owners": policy.owners(node),
        "tags": policy.tags(node, schedule),
        "freshness_policy": _freshness_policy(windows) if windows else None,
        "automation_condition": _on_cron(policy.automation_cron(node, default_schedule)),
    }


# Shared immutable objects: building one per asset costs seconds at 5,000 assets.
@functools.cache
def _on_cron(cron: str) -> dg.AutomationCondition:
    return dg.AutomationCondition.on_cron(cron)


@functools.cache
def _freshness_policy(windows: policy.FreshnessWindows) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=windows.fail, warn_window=windows.warn)


SCHEDULE_METADATA_KEY = "orchestration_utils/cron"


def schedule_metadata(node: Node, default_schedule: str) -> dict[str, str]:
    """The node's cron, read back by the schedules built per schedule value."""
    return {SCHEDULE_METADATA_KEY: policy.automation_cron(node, default_schedule)}

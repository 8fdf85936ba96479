"""Node -> the attributes our assets carry, for dbt and SQLMesh alike."""

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
        "freshness_policy": (
            dg.FreshnessPolicy.time_window(fail_window=windows.fail, warn_window=windows.warn)
            if windows
            else None
        ),
        "automation_condition": dg.AutomationCondition.on_cron(policy.automation_cron(node, default_schedule)),
    }


SCHEDULE_METADATA_KEY = "orchestration_utils/cron"


def schedule_metadata(node: Node, default_schedule: str) -> dict[str, str]:
    """The node's cron, read back by the schedules built per schedule value."""
    return {SCHEDULE_METADATA_KEY: policy.automation_cron(node, default_schedule)}

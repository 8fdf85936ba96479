"""Node -> the attributes our assets carry, for dbt and SQLMesh alike."""

import functools
import hashlib
import re
from typing import Any

import dagster as dg

from orchestration_utils.dagster_assets import attributes
from orchestration_utils.project.model import Node, ProjectKind

_NAME_OK = re.compile(r"^[A-Za-z0-9_]+$")
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]+")


def name_part(text: str) -> str:
    """`text` as a part of a Dagster name (op, output, check: `^[A-Za-z0-9_]+$`): unchanged when
    it already is one (after the `-`/`.` Dagster itself maps to `_`), else its safe characters
    plus a short hash of the original, so it is stable and two distinct inputs stay distinct."""
    if _NAME_OK.match(text.replace("-", "_").replace(".", "_")):
        return text
    safe = _NOT_NAME_CHARS.sub("_", text).strip("_")[:100]
    return f"{safe}_{hashlib.sha256(text.encode()).hexdigest()[:8]}".lstrip("_")


def name_safe_key(key: dg.AssetKey) -> dg.AssetKey:
    """An asset key whose output name (`to_python_identifier`, which dagster-dbt also emits
    events under) is a valid Dagster name; keys that already are one are kept as they are."""
    path = [name_part(p) for p in key.path]
    return key if path == list(key.path) else dg.AssetKey(path)


def spec_attributes(node: Node, default_schedule: str) -> dict[str, Any]:
    schedule = node.schedule or default_schedule
    windows = attributes.freshness_windows(node, schedule)
    return {
        "group_name": node.layer.value,
        "owners": attributes.owners(node),
        "tags": attributes.tags(node, schedule),
        "freshness_policy": _freshness_policy(windows) if windows else None,
        "automation_condition": _on_cron(
            attributes.automation_cron(node, default_schedule),
            attributes.automation_timezone(node, default_schedule),
        ),
    }


# Shared immutable objects: building one per asset costs seconds at 5,000 assets.
@functools.cache
def _on_cron(cron: str, timezone: str) -> dg.AutomationCondition:
    return dg.AutomationCondition.on_cron(cron, cron_timezone=timezone)


@functools.cache
def _freshness_policy(windows: attributes.FreshnessWindows) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=windows.fail, warn_window=windows.warn)


SCHEDULE_METADATA_KEY = "orchestration_utils/cron"
TIMEZONE_METADATA_KEY = "orchestration_utils/cron_timezone"  # only when not UTC


def schedule_metadata(node: Node, default_schedule: str) -> dict[str, str]:
    """The node's cron (and its time zone), read back by the schedules built per schedule value."""
    timezone = attributes.automation_timezone(node, default_schedule)
    return {
        SCHEDULE_METADATA_KEY: attributes.automation_cron(node, default_schedule),
        **({TIMEZONE_METADATA_KEY: timezone} if timezone != "UTC" else {}),
    }


# Run tags the deployment's run queue limits on (deploy/dagster.yaml `tag_concurrency_limits`).
PROJECT_TAG_KEYS = {
    ProjectKind.DBT: "orchestration_utils/dbt_project",
    ProjectKind.SQLMESH: "orchestration_utils/sqlmesh_project",
}
KIND_TAG_KEY = "orchestration_utils/kind"
# A dbt source's `freshness` config, on its external asset: the health side checks it (health.py).
DBT_FRESHNESS_METADATA_KEY = "orchestration_utils/dbt_freshness"


def project_tags(kind: ProjectKind, project_name: str) -> dict[str, str]:
    """The tag naming a project's runs (one dbt build per project at a time); set on the
    project's asset ops, and from there on every job that materializes them."""
    return {PROJECT_TAG_KEYS[kind]: project_name[:255]}


def run_tags_of(defs: dg.Definitions, keys: "set[dg.AssetKey]") -> dict[str, str]:
    """The project tags of the asset ops that materialize `keys`, for a job selecting them."""
    tags: dict[str, str] = {}
    for assets_def in defs.assets or ():
        if (
            isinstance(assets_def, dg.AssetsDefinition)
            and assets_def.is_executable
            and keys & assets_def.keys
        ):
            tags.update(
                {
                    k: v
                    for k, v in (assets_def.op.tags or {}).items()
                    if k in PROJECT_TAG_KEYS.values()
                }
            )
    return tags

"""What the Dagster instance tells the health checks: failed runs, and when a table was last materialized."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import dagster as dg

from orchestration_utils.health.checks import FailedRun


def failed_runs(instance: dg.DagsterInstance, since: datetime, limit: int = 200) -> list[FailedRun]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], updated_after=since),
        limit=limit,
    )
    return [
        FailedRun(r.dagster_run.run_id, r.dagster_run.job_name, r.create_timestamp.astimezone(UTC))
        for r in records
    ]


def last_materialization(
    instance: dg.DagsterInstance, table_id: str, unique_ids: Collection[str] = ()
) -> tuple[str, datetime] | None:
    """The newest materialization of the asset that is `table_id`: by its `dagster/table_name`
    metadata, or by the dbt `unique_id` dagster-dbt records (`unique_ids`: the models that are the table)."""
    events = instance.get_latest_materialization_events(instance.get_asset_keys())
    newest: tuple[str, datetime] | None = None
    for key, event in events.items():
        materialization = event.asset_materialization if event else None
        if materialization is None:
            continue
        metadata = materialization.metadata
        table = getattr(metadata.get("dagster/table_name"), "value", None)
        unique_id = getattr(metadata.get("unique_id"), "value", None)
        if (
            isinstance(table, str) and table.lower() == table_id.lower()
        ) or unique_id in unique_ids:
            at = datetime.fromtimestamp(event.timestamp, UTC)
            if newest is None or at > newest[1]:
                newest = (key.to_user_string(), at)
    return newest

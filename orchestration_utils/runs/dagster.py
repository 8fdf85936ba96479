"""All the Dagster run history we read: failed runs and a table's last materialization (health),
a job's finished runs (completion-time SLAs), and runs still in progress (the SLA run's lock)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import dagster as dg

from orchestration_utils.runs.model import FailedRun, PipelineRun


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
        if event is None or materialization is None:
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


def dagster_runs(instance, job_name: str, since: datetime) -> list[PipelineRun]:
    """Finished runs (success or failure) of a Dagster job updated since `since`, newest first,
    page by page."""
    runs_filter = dg.RunsFilter(
        job_name=job_name,
        statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
        updated_after=since,
    )
    runs, cursor = [], None
    while True:
        records = instance.get_run_records(filters=runs_filter, limit=500, cursor=cursor)
        runs += [
            PipelineRun(
                r.dagster_run.run_id,
                r.dagster_run.status == dg.DagsterRunStatus.SUCCESS,
                datetime.fromtimestamp(r.start_time, UTC) if r.start_time else None,
                datetime.fromtimestamp(r.end_time, UTC) if r.end_time else None,
            )
            for r in records
        ]
        if len(records) < 500:
            return runs
        cursor = records[-1].dagster_run.run_id


def runs_of(
    instance: dg.DagsterInstance,
    job_name: str,
    statuses: Sequence[dg.DagsterRunStatus],
    limit: int | None = None,
) -> Sequence[dg.RunRecord]:
    """The run records of `job_name` in one of `statuses`, newest first."""
    return instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=list(statuses)), limit=limit
    )

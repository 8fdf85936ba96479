"""Failed Dagster runs of the code location, for the failed-jobs check."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from orchestration_utils.health.checks import FailedRun


def failed_runs(instance: dg.DagsterInstance, since: datetime, limit: int = 200) -> list[FailedRun]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], updated_after=since), limit=limit
    )
    return [
        FailedRun(r.dagster_run.run_id, r.dagster_run.job_name, r.create_timestamp.astimezone(UTC))
        for r in records
    ]

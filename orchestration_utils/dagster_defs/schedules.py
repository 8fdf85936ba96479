"""Schedules per schedule value (split by partitions definition as jobs are), and the
automation sensor.

Both ship STOPPED: turn on the schedules for plain cron runs, or the automation sensor to let
each asset's `on_cron` condition decide; running both would materialize twice."""

from collections import defaultdict

import dagster as dg

from orchestration_utils.dagster_defs.jobs import (
    executable_specs,
    job_partitions,
    split_by_partitions,
)
from orchestration_utils.dagster_defs.specs import SCHEDULE_METADATA_KEY
from orchestration_utils.project.schedule import schedule_slug

_SLUG_BY_CRON = {"0 * * * *": "hourly", "0 0 * * *": "daily", "0 0 * * 0": "weekly", "0 0 1 * *": "monthly"}


def build_schedules(defs: dg.Definitions) -> dg.Definitions:
    by_cron: dict[str, list[dg.AssetSpec]] = defaultdict(list)
    for spec in executable_specs(defs):
        if SCHEDULE_METADATA_KEY in spec.metadata:
            by_cron[str(spec.metadata[SCHEDULE_METADATA_KEY])].append(spec)
    schedules = []
    for cron, specs in sorted(by_cron.items()):
        slug = _SLUG_BY_CRON.get(cron) or schedule_slug(cron)
        for name, members in split_by_partitions(f"{slug}_assets", specs).items():
            job = dg.define_asset_job(f"{name}_job", selection=[s.key for s in members],
                                      description=f"Assets whose schedule is `{cron}`.")
            schedules.append(_schedule(f"{name}_schedule", job, cron, job_partitions(members)))
    sensor = dg.AutomationConditionSensorDefinition(
        "project_automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.STOPPED,
        description="Evaluates each asset's on_cron automation condition (from its schedule metadata).",
    )
    return dg.Definitions(schedules=schedules, sensors=[sensor])


def _schedule(name: str, job, cron: str, partitions_def: dg.PartitionsDefinition | None) -> dg.ScheduleDefinition:
    if partitions_def is None:
        return dg.ScheduleDefinition(name=name, job=job, cron_schedule=cron,
                                     default_status=dg.DefaultScheduleStatus.STOPPED)

    # Not `build_schedule_from_partitioned_job`: it resolves the job while the location loads,
    # seconds per schedule on a large project. Each tick runs the latest complete partition.
    @dg.schedule(name=name, job=job, cron_schedule=cron, default_status=dg.DefaultScheduleStatus.STOPPED)
    def _latest_partition(context: dg.ScheduleEvaluationContext):
        key = partitions_def.get_last_partition_key(current_time=context.scheduled_execution_time)
        return dg.RunRequest(partition_key=key) if key else dg.SkipReason("no complete partition yet")

    return _latest_partition

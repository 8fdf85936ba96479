"""Schedules per schedule value (split by partitions definition as jobs are), and the
automation sensor.

Both ship STOPPED: turn on the schedules for plain cron runs, or the automation sensor to let
each asset's `on_cron` condition decide; running both would materialize twice."""

from collections import defaultdict

import dagster as dg

from orchestration_utils.dagster_assets.specs import (
    SCHEDULE_METADATA_KEY,
    TIMEZONE_METADATA_KEY,
    run_tags_of,
)
from orchestration_utils.dagster_defs.jobs import (
    executable_specs,
    job_partitions,
    job_selection,
    split_by_partitions,
)
from orchestration_utils.project.schedule import (
    PRESET_SLUGS,
    schedule_cron,
    schedule_slug,
    schedule_timezone,
    with_timezone,
)


def schedule_value(spec: dg.AssetSpec) -> str | None:
    """The asset's schedule value (cron, and its time zone when not UTC), from its metadata."""
    if SCHEDULE_METADATA_KEY not in spec.metadata:
        return None
    timezone = spec.metadata.get(TIMEZONE_METADATA_KEY)
    return with_timezone(
        str(spec.metadata[SCHEDULE_METADATA_KEY]), str(timezone) if timezone else None
    )


def build_schedules(defs: dg.Definitions) -> dg.Definitions:
    by_schedule: dict[str, list[dg.AssetSpec]] = defaultdict(list)
    for spec in executable_specs(defs):
        value = schedule_value(spec)
        if value is not None:
            by_schedule[value].append(spec)
    schedules = []
    for value, specs in sorted(by_schedule.items()):
        cron, timezone = schedule_cron(value), schedule_timezone(value)
        # `schedule_slug` is distinct per schedule value; the presets' crons keep their short names.
        slug = (PRESET_SLUGS.get(cron) if timezone is None else None) or schedule_slug(value)
        where = f"`{cron}`" + (f" in {timezone}" if timezone else " (UTC)")
        for name, members in split_by_partitions(f"{slug}_assets", specs).items():
            partitions = job_partitions(members)
            job = dg.define_asset_job(
                f"{name}_job",
                selection=job_selection(defs, members),
                description=f"Assets whose schedule is {where}.",
                tags=run_tags_of(defs, {s.key for s in members}),
            )
            what = (
                "the latest complete partition of " if partitions else ""
            ) + f"{len(members)} asset(s)"
            schedules.append(
                _schedule(
                    f"{name}_schedule",
                    job,
                    cron,
                    timezone,
                    partitions,
                    f"Runs {what} whose schedule is {where}.",
                )
            )
    sensor = dg.AutomationConditionSensorDefinition(
        "project_automation_sensor",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Evaluates each asset's on_cron automation condition (from its schedule metadata).",
    )
    return dg.Definitions(schedules=schedules, sensors=[sensor])


def _schedule(
    name: str,
    job,
    cron: str,
    timezone: str | None,
    partitions_def: dg.PartitionsDefinition | None,
    description: str,
) -> dg.ScheduleDefinition:
    common = {
        "name": name,
        "job": job,
        "cron_schedule": cron,
        "execution_timezone": timezone or "UTC",
        "description": description,
        "default_status": dg.DefaultScheduleStatus.STOPPED,
    }
    if partitions_def is None:
        return dg.ScheduleDefinition(**common)

    # Not `build_schedule_from_partitioned_job`: it resolves the job while the location loads,
    # seconds per schedule on a large project. Each tick runs the latest partition complete at
    # the tick's scheduled time (not the wall clock: a late or replayed tick asks for its own).
    @dg.schedule(**common)
    def _latest_partition(context: dg.ScheduleEvaluationContext):
        return latest_partition_request(partitions_def, context.scheduled_execution_time)

    return _latest_partition


def latest_partition_request(
    partitions_def: dg.PartitionsDefinition, at
) -> dg.RunRequest | dg.SkipReason:
    with dg.partition_loading_context(effective_dt=at):
        key = partitions_def.get_last_partition_key()
    if key is None:
        return dg.SkipReason(
            f"no partition is complete at {at.isoformat() if at else 'this time'} yet"
        )
    return dg.RunRequest(partition_key=key)

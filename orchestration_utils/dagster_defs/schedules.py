"""Schedules per schedule value (and partitions definition), and the automation sensor.

Both ship STOPPED: turn on the schedules for plain cron runs, or the automation sensor to let
each asset's `on_cron` condition decide; running both would materialize twice."""

from collections import defaultdict
from typing import TypedDict

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
    layer_jobs,
    partitions_unit,
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
    """One schedule per schedule value and partitions definition, named for the value
    (`daily_schedule`, `hourly_schedule`, `cron_0_6_x_x_x_schedule`) and, where a value's assets
    span several partitions definitions, for each of them (`hourly_by_hour_schedule`, with its first
    partition when two share a unit: `hourly_by_hour_from_2026_11_01_schedule`). A schedule whose
    assets are exactly a layer job's runs that job instead of a copy of it (jobs.py)."""
    by_schedule: dict[str, list[dg.AssetSpec]] = defaultdict(list)
    for spec in executable_specs(defs):
        value = schedule_value(spec)
        if value is not None:
            by_schedule[value].append(spec)
    layer_job_of = {frozenset(s.key for s in specs): job for job, specs in layer_jobs(defs).items()}
    jobs, schedules = [], []
    for value, specs in sorted(by_schedule.items()):
        cron, timezone = schedule_cron(value), schedule_timezone(value)
        # `schedule_slug` is distinct per schedule value; the presets' crons keep their short names.
        slug = (PRESET_SLUGS.get(cron) if timezone is None else None) or schedule_slug(value)
        where = f"`{cron}`" + (f" in {timezone}" if timezone else " (UTC)")
        for suffix, members in split_by_partitions_named(specs).items():
            partitions = job_partitions(members)
            keys = frozenset(s.key for s in members)
            job_name = layer_job_of.get(keys)
            if job_name is None:
                job_name = f"{slug}_assets{suffix}_job"
                jobs.append(
                    dg.define_asset_job(
                        job_name,
                        selection=job_selection(defs, members),
                        description=f"The {len(members)} asset(s) whose schedule is {where}.",
                        tags=run_tags_of(defs, set(keys)),
                    )
                )
            schedules.append(
                _schedule(
                    f"{slug}{suffix}_schedule",
                    job_name,
                    cron,
                    timezone,
                    partitions,
                    _description(where, members, partitions, job_name),
                )
            )
    sensor = dg.AutomationConditionSensorDefinition(
        "project_automation_sensor",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Evaluates each asset's on_cron automation condition (from its schedule metadata).",
    )
    return dg.Definitions(jobs=jobs, schedules=schedules, sensors=[sensor])


def split_by_partitions_named(specs: list[dg.AssetSpec]) -> dict[str, list[dg.AssetSpec]]:
    """Name suffix -> specs: `""` for all of them when they share at most one partitions
    definition (unpartitioned ones join it); else `""` for the unpartitioned and `_by_<unit>`
    per definition, `_by_<unit>_from_<first partition>` when two share a unit."""
    defs = {s.partitions_def for s in specs if s.partitions_def is not None}
    if len(defs) <= 1:
        return {"": specs}
    units = {d: partitions_unit(d) for d in defs}
    shared = {u for u in units.values() if list(units.values()).count(u) > 1}
    groups: dict[str, list[dg.AssetSpec]] = defaultdict(list)
    for spec in specs:
        d = spec.partitions_def
        if d is None:
            groups[""].append(spec)
            continue
        suffix = f"_by_{units[d]}"
        if units[d] in shared and isinstance(d, dg.TimeWindowPartitionsDefinition):
            suffix += f"_from_{d.start.strftime('%Y_%m_%d')}"
        groups[suffix].append(spec)
    return dict(groups)


def _partitions_phrase(partitions: dg.PartitionsDefinition) -> str:
    start = (
        f" from {partitions.start.date().isoformat()}"
        if isinstance(partitions, dg.TimeWindowPartitionsDefinition)
        else ""
    )
    return f"partitioned by {partitions_unit(partitions)}{start}"


def _description(
    where: str,
    members: list[dg.AssetSpec],
    partitions: dg.PartitionsDefinition | None,
    job_name: str,
) -> str:
    """What a tick selects, in the words of the asset list: the schedule, the partition it asks
    for, the assets (the first ten by name) and the job it launches."""
    names = sorted(s.key.to_user_string() for s in members)
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    whole = sum(s.partitions_def is None for s in members)
    if partitions is None:
        what = f"one run of {len(names)} asset(s)"
    else:
        what = (
            f"one run of the latest complete partition ({_partitions_phrase(partitions)}) of "
            f"{len(names) - whole} asset(s)"
            + (f", with {whole} unpartitioned asset(s) built whole" if whole else "")
        )
    return f"At {where}: {what}. Launches {job_name} on {shown}."


class _ScheduleArgs(TypedDict):
    """What a schedule's two forms (plain, latest partition) share."""

    name: str
    job_name: str
    cron_schedule: str
    execution_timezone: str
    description: str
    default_status: dg.DefaultScheduleStatus


def _schedule(
    name: str,
    job_name: str,
    cron: str,
    timezone: str | None,
    partitions_def: dg.PartitionsDefinition | None,
    description: str,
) -> dg.ScheduleDefinition:
    common: _ScheduleArgs = {
        "name": name,
        "job_name": job_name,
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

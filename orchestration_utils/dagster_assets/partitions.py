"""Dagster partitions definitions from (granularity, start) specs, one object per spec."""

from __future__ import annotations

import functools

import dagster as dg

from orchestration_utils.project.schedule import GRANULARITIES, GRANULARITY_BY_CRON


def partitions_slug(partitions: dg.PartitionsDefinition | None) -> str:
    """`unpartitioned`, `hourly`, `daily`, ... (else `partitioned`): for job and op names."""
    if partitions is None:
        return "unpartitioned"
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        granularity = GRANULARITY_BY_CRON.get(partitions.cron_schedule)
        return granularity.slug if granularity else "partitioned"
    return "partitioned"


@functools.cache
def partitions_def(granularity: str, start: str) -> dg.TimeWindowPartitionsDefinition:
    """`start` is an ISO date; every unit of `GRANULARITIES` (five minutes to a year)."""
    if granularity == "hour":
        return dg.HourlyPartitionsDefinition(start_date=f"{start}-00:00")
    if granularity == "day":
        return dg.DailyPartitionsDefinition(start_date=start)
    if granularity == "month":
        return dg.MonthlyPartitionsDefinition(start_date=start)
    if granularity not in GRANULARITIES:
        raise ValueError(f"no partitions for granularity {granularity!r}")
    unit = GRANULARITIES[granularity]
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=unit.cron, fmt=unit.fmt, start=start + ("-00:00" if "%H" in unit.fmt else "")
    )


def run_window(context: dg.AssetExecutionContext) -> dg.TimeWindow | None:
    """The run's partition window (one key, or a backfill range in one run) for a partitioned
    op; an unpartitioned op in a partitioned run (a layer job mixing both) builds whole."""
    if context.assets_def.partitions_def is None:
        return None
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    return context.partition_time_window


def partitions_names(specs: list[dg.AssetSpec]) -> dict[dg.PartitionsDefinition | None, str]:
    """`daily`, `hourly`, ...; two definitions of one granularity (different start dates) are
    told apart by their start, since a job may only hold one."""
    defs = {s.partitions_def for s in specs}
    base = {d: partitions_slug(d) for d in defs}
    clash = {n for n in base.values() if list(base.values()).count(n) > 1}
    return {
        d: f"{n}_from_{d.start.strftime('%Y%m%d')}"
        if n in clash and isinstance(d, dg.TimeWindowPartitionsDefinition)
        else n
        for d, n in base.items()
    }

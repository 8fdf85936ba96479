"""Dagster partitions definitions from (granularity, start) specs, one object per spec."""

from __future__ import annotations

import functools

import dagster as dg

_SLUG_BY_CRON = {"0 * * * *": "hourly", "0 0 * * *": "daily", "0 0 1 * *": "monthly"}


def partitions_slug(partitions: dg.PartitionsDefinition | None) -> str:
    """`unpartitioned`, `hourly`, `daily`, `monthly` (else `partitioned`): for job and op names."""
    if partitions is None:
        return "unpartitioned"
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return _SLUG_BY_CRON.get(partitions.cron_schedule, "partitioned")
    return "partitioned"


@functools.cache
def partitions_def(granularity: str, start: str) -> dg.TimeWindowPartitionsDefinition:
    if granularity == "hour":
        return dg.HourlyPartitionsDefinition(start_date=f"{start}-00:00")
    if granularity == "day":
        return dg.DailyPartitionsDefinition(start_date=start)
    if granularity == "month":
        return dg.MonthlyPartitionsDefinition(start_date=start)
    raise ValueError(f"no partitions for granularity {granularity!r}")


def run_window(context: dg.AssetExecutionContext) -> dg.TimeWindow | None:
    """The run's partition window (one key, or a backfill range in one run) for a partitioned
    op; an unpartitioned op in a partitioned run (a layer job mixing both) builds whole."""
    if context.assets_def.partitions_def is None:
        return None
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    return context.partition_time_window

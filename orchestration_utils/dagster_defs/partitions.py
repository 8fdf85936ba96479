"""Dagster partitions definitions from (granularity, start) specs, one object per spec."""

from __future__ import annotations

import functools

import dagster as dg


@functools.cache
def partitions_def(granularity: str, start: str) -> dg.TimeWindowPartitionsDefinition:
    if granularity == "hour":
        return dg.HourlyPartitionsDefinition(start_date=f"{start}-00:00")
    if granularity == "day":
        return dg.DailyPartitionsDefinition(start_date=start)
    if granularity == "month":
        return dg.MonthlyPartitionsDefinition(start_date=start)
    raise ValueError(f"no partitions for granularity {granularity!r}")

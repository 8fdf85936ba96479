"""Checks of partitioned assets, partitioned like them. A partitioned run records each planned check
under the run's partition, while the result of an unpartitioned check is recorded without one: the
planned row never completes and the UI lists it as an extra Skipped execution beside the real one.
A check that shares its asset's partitions is recorded under the run's partition: one row."""

import warnings

import dagster as dg
from dagster._record import replace  # AssetCheckSpec is a record


def partitioned_check(
    spec: dg.AssetCheckSpec, partitions: dg.PartitionsDefinition | None
) -> dg.AssetCheckSpec:
    """`spec` with `partitions` (its asset's), or unchanged for an unpartitioned asset."""
    if partitions is None or spec.partitions_def is not None:
        return spec
    with warnings.catch_warnings():  # a preview parameter: said once here, not on every load
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return replace(spec, partitions_def=partitions)

"""Jobs a user launches by hand: one per layer and partitions definition (a run may only
target assets sharing one)."""

from __future__ import annotations

from collections import defaultdict

import dagster as dg

from orchestration_utils.dagster_defs.partitions import partitions_slug


def executable_specs(defs: dg.Definitions) -> list[dg.AssetSpec]:
    """Specs of the assets this location materializes (dbt sources are external: no job runs them)."""
    return [
        spec
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable
        for spec in assets_def.specs
        if spec.key in assets_def.keys
    ]


def build_jobs(defs: dg.Definitions) -> dg.Definitions:
    by_layer: dict[tuple[str, str], list[dg.AssetKey]] = defaultdict(list)
    specs = executable_specs(defs)
    names = partitions_names(specs)
    for spec in specs:
        by_layer[(spec.group_name or "default", names[spec.partitions_def])].append(spec.key)
    # Few jobs on purpose: Dagster resolves every job while a location loads (#16129).
    jobs = [
        dg.define_asset_job(_layer_job_name(layer, part), selection=keys,
                            description=f"Materialize the {layer} layer ({part}).")
        for (layer, part), keys in sorted(by_layer.items())
    ]
    return dg.Definitions(jobs=jobs)


def partitions_names(specs: list[dg.AssetSpec]) -> dict[dg.PartitionsDefinition | None, str]:
    """`daily`, `hourly`, ...; two definitions of one granularity (different start dates) are
    told apart by their start, since a job may only hold one."""
    defs = {s.partitions_def for s in specs}
    base = {d: partitions_slug(d) for d in defs}
    clash = {n for n in base.values() if list(base.values()).count(n) > 1}
    return {
        d: f"{n}_from_{d.start.strftime('%Y%m%d')}" if n in clash and d is not None else n
        for d, n in base.items()
    }


def _layer_job_name(layer: str, partitions: str) -> str:
    return f"{layer}_layer" + ("" if partitions == "unpartitioned" else f"_{partitions}")


def layer_jobs_in_order(defs: dg.Definitions) -> list[tuple[str, dg.PartitionsDefinition | None]]:
    """The layer jobs in an order that builds every upstream before its downstream, so running
    them one after another materializes the whole project (partitioned or not)."""
    group_of: dict[dg.AssetKey, str] = {}
    partitions: dict[str, dg.PartitionsDefinition | None] = {}
    specs = executable_specs(defs)
    names = partitions_names(specs)
    for spec in specs:
        job = _layer_job_name(spec.group_name or "default", names[spec.partitions_def])
        group_of[spec.key] = job
        partitions[job] = spec.partitions_def
    upstream: dict[str, set[str]] = {job: set() for job in partitions}
    for spec in specs:
        for dep in spec.deps:
            if dep.asset_key in group_of and group_of[dep.asset_key] != group_of[spec.key]:
                upstream[group_of[spec.key]].add(group_of[dep.asset_key])
    ordered: list[str] = []
    while len(ordered) < len(upstream):
        ready = sorted(j for j, ups in upstream.items() if j not in ordered and ups <= set(ordered))
        if not ready:
            raise ValueError(f"layer jobs depend on each other in a cycle: {sorted(set(upstream) - set(ordered))}")
        ordered.append(ready[0])
    return [(job, partitions[job]) for job in ordered]

"""Jobs a user launches by hand: one per layer. A run may target one partitions definition:
unpartitioned assets join the layer's partitioned job (built whole in each partition's run)
unless the layer holds two definitions, when each gets its own job."""

from __future__ import annotations

from collections import defaultdict

import dagster as dg

from orchestration_utils.dagster_assets.partitions import partitions_names
from orchestration_utils.dagster_assets.specs import run_tags_of
from orchestration_utils.project.schedule import GRANULARITY_BY_CRON
from orchestration_utils.settings import Settings


def executable_specs(defs: dg.Definitions) -> list[dg.AssetSpec]:
    """Specs of the assets this location materializes (dbt sources are external: no job runs them)."""
    return [
        spec
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable
        for spec in assets_def.specs
        if spec.key in assets_def.keys
    ]


def split_by_partitions(name: str, specs: list[dg.AssetSpec]) -> dict[str, list[dg.AssetSpec]]:
    """Job name -> its specs: `name` alone when the specs share at most one partitions
    definition, else `name` for the unpartitioned and `name_<daily|...>` per definition."""
    if len({s.partitions_def for s in specs} - {None}) <= 1:
        return {name: specs}
    names = partitions_names(specs)
    jobs: dict[str, list[dg.AssetSpec]] = defaultdict(list)
    for spec in specs:
        jobs[
            name if spec.partitions_def is None else f"{name}_{names[spec.partitions_def]}"
        ].append(spec)
    return dict(jobs)


def job_partitions(specs: list[dg.AssetSpec]) -> dg.PartitionsDefinition | None:
    return next((s.partitions_def for s in specs if s.partitions_def is not None), None)


def layer_jobs(defs: dg.Definitions) -> dict[str, list[dg.AssetSpec]]:
    by_layer: dict[str, list[dg.AssetSpec]] = defaultdict(list)
    for spec in executable_specs(defs):
        by_layer[spec.group_name or "default"].append(spec)
    return {
        job: specs
        for layer, members in sorted(by_layer.items())
        for job, specs in split_by_partitions(f"{layer}_layer", members).items()
    }


def build_jobs(defs: dg.Definitions) -> dg.Definitions:
    # Few jobs on purpose: Dagster resolves every job while a location loads (#16129).
    return dg.Definitions(
        jobs=[
            dg.define_asset_job(
                name,
                selection=job_selection(defs, specs),
                description=layer_job_description(specs),
                tags=run_tags_of(defs, {s.key for s in specs}),
            )
            for name, specs in layer_jobs(defs).items()
        ]
    )


def job_selection(defs: dg.Definitions, specs: list[dg.AssetSpec]) -> dg.AssetSelection:
    """The assets with their checks. A partitioned job takes only the checks defined with
    its assets (dbt tests, SQLMesh audits, partitioned like them): the health and SLA checks on
    those assets are unpartitioned, so a partitioned run would leave a Skipped row for each
    (check_partitions.py); their own jobs run them."""
    keys = {s.key for s in specs}
    if job_partitions(specs) is None:
        return dg.AssetSelection.assets(*keys)
    own = [
        key
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        for key in assets_def.check_keys
        if key.asset_key in keys
    ]
    return dg.AssetSelection.assets(*keys).without_checks() | dg.AssetSelection.checks(*own)


def partitions_unit(partitions: dg.PartitionsDefinition) -> str:
    """`hour`, `day`, ... (`partition` for a definition that is not one of those units)."""
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        granularity = GRANULARITY_BY_CRON.get(partitions.cron_schedule)
        if granularity:
            return granularity.name
    return "partition"


def layer_job_description(specs: list[dg.AssetSpec]) -> str:
    """`Materialize the marts layer's 2 asset(s) partitioned by hour from 2026-11-01: ...`."""
    layer = specs[0].group_name or "default"
    partitions = job_partitions(specs)
    names = sorted(s.key.to_user_string() for s in specs)
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    scope = f"the {layer} layer's {len(names)} asset(s)"
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        whole = sum(s.partitions_def is None for s in specs)
        scope += (
            f", partitioned by {partitions_unit(partitions)}"
            f" from {partitions.start.date().isoformat()}"
            + (f" ({whole} unpartitioned, built whole in each run)" if whole else "")
        )
    return f"Materialize {scope}: {shown}."


def layer_jobs_in_order(defs: dg.Definitions) -> list[tuple[str, dg.PartitionsDefinition | None]]:
    """The layer jobs in an order that builds every upstream before its downstream, so running
    them one after another materializes the whole project (partitioned or not)."""
    jobs = layer_jobs(defs)
    job_of = {spec.key: job for job, specs in jobs.items() for spec in specs}
    upstream: dict[str, set[str]] = {job: set() for job in jobs}
    for job, specs in jobs.items():
        for spec in specs:
            upstream[job].update(
                job_of[d.asset_key]
                for d in spec.deps
                if d.asset_key in job_of and job_of[d.asset_key] != job
            )
    ordered: list[str] = []
    while len(ordered) < len(upstream):
        ready = sorted(j for j, ups in upstream.items() if j not in ordered and ups <= set(ordered))
        if not ready:
            raise ValueError(
                f"layer jobs depend on each other in a cycle: {sorted(set(upstream) - set(ordered))}"
            )
        ordered.append(ready[0])
    return [(job, job_partitions(jobs[job])) for job in ordered]


def run_executor(settings: Settings) -> dg.Definitions:
    """Every job's steps in the run worker's process on DuckDB; elsewhere Dagster's default
    (multiprocess, or in process by run config). A DuckDB file takes one writing process: parallel
    step processes would fight for its lock, and each would load the code location again
    (seconds per step before its work)."""
    if settings.warehouse_url.startswith("duckdb://"):
        return dg.Definitions(executor=dg.in_process_executor)
    return dg.Definitions()

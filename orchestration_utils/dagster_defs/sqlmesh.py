"""The SQLMesh project as Dagster assets, read through `sqlmesh.Context` (our project model) and
materialized by `sqlmesh run` for the selected models; audits become asset checks."""

import functools
from collections import defaultdict
from pathlib import Path

import dagster as dg

from orchestration_utils.dagster_defs import policy
from orchestration_utils.dagster_defs.partitions import partitions_def, partitions_slug, run_window
from orchestration_utils.dagster_defs.specs import schedule_metadata, spec_attributes
from orchestration_utils.project.model import Node, Project
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project
from orchestration_utils.settings import Settings


def asset_key(node: Node) -> dg.AssetKey:
    return dg.AssetKey([node.schema or "default", node.identifier])


def sqlmesh_specs(project: Project, default_schedule: str) -> list[dg.AssetSpec]:
    specs = []
    for node in project.runnable():
        attrs = spec_attributes(node, default_schedule)
        attrs["group_name"] = node.schema or "default"  # SQLMesh projects group by schema
        attrs["tags"] = {**attrs["tags"], "dagster/kind/sqlmesh": ""}
        spec = policy.partition_spec(node)
        specs.append(dg.AssetSpec(
            key=asset_key(node),
            deps=[asset_key(project.nodes[up]) for up in node.depends_on],
            description=node.description or None,
            metadata={"sqlmesh/model": node.name, "dagster/table_name": node.table_id,
                      **schedule_metadata(node, default_schedule)},
            partitions_def=partitions_def(*spec) if spec else None,
            **attrs,
        ))
    return specs


def audit_check_specs(project: Project) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=_check_name(test.unique_id), asset=asset_key(node), blocking=test.severity == "error",
                          description=f"SQLMesh audit {test.name}" + (f" on {test.column}" if test.column else ""))
        for node in project.runnable()
        for test in node.tests
    ]


def _check_name(test_id: str) -> str:
    # `"cat"."schema"."table"#not_null(a,b)` -> `not_null_a_b`: check names must be identifiers.
    tail = test_id.split("#", 1)[1]
    return "".join(c if c.isalnum() else "_" for c in tail).strip("_")


def build_sqlmesh_assets(project: Project, project_dir: Path, default_schedule: str) -> list[dg.AssetsDefinition]:
    """One multi-asset per partitions definition, each running `sqlmesh run` for its selection."""
    specs = sqlmesh_specs(project, default_schedule)
    checks = audit_check_specs(project)
    model_of = {asset_key(n): n.name for n in project.runnable()}
    by_partitions: dict[object, list[dg.AssetSpec]] = defaultdict(list)
    for spec in specs:
        by_partitions[spec.partitions_def].append(spec)
    assets = []
    for partitions, group in sorted(by_partitions.items(), key=lambda kv: partitions_slug(kv[0])):
        keys = {s.key for s in group}
        assets.append(_sqlmesh_assets(project_dir, f"sqlmesh_{partitions_slug(partitions)}", group,
                                      [c for c in checks if c.asset_key in keys], model_of))
    return assets


@functools.cache
def load_sqlmesh_defs(settings: Settings) -> dg.Definitions:
    project = load_sqlmesh_project(settings.sqlmesh_project_dir)
    return dg.Definitions(assets=build_sqlmesh_assets(project, Path(settings.sqlmesh_project_dir), settings.default_schedule))


def _sqlmesh_assets(project_dir: Path, name: str, specs, check_specs, model_of) -> dg.AssetsDefinition:
    @dg.multi_asset(name=name, specs=specs, check_specs=check_specs, can_subset=True,
                    backfill_policy=dg.BackfillPolicy.single_run())  # as the dbt groups (dbt.py)
    def _assets(context: dg.AssetExecutionContext):
        models = sorted(model_of[k] for k in context.selected_asset_keys)
        window = run_window(context)
        run_sqlmesh(project_dir, models, window)
        for key in (k for k in model_of if k in context.selected_asset_keys):  # topological
            yield dg.MaterializeResult(asset_key=key, metadata={"sqlmesh/model": model_of[key]})
        # `sqlmesh run` raises on a failed blocking audit; reaching here means they held.
        for check in sorted(context.selected_asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    return _assets


def run_sqlmesh(project_dir: Path, models: list[str], window) -> None:
    from sqlmesh import Context

    context = Context(paths=[str(project_dir)])
    if context.state_reader.get_environment("prod") is None:
        # A fresh warehouse: the first plan creates the prod environment and backfills it.
        context.plan(auto_apply=True, no_prompts=True)
    kwargs = {"start": window.start, "end": window.end, "ignore_cron": True} if window else {}
    status = context.run(select_models=models, no_auto_upstream=True, **kwargs)
    if status.is_failure:
        raise dg.Failure(f"sqlmesh run failed for {', '.join(models)}")

"""The SQLMesh project as Dagster assets, read through `sqlmesh.Context` (our project model) and
materialized by `sqlmesh run` for the selected models; audits become asset checks."""

import hashlib
from collections import defaultdict
from pathlib import Path

import dagster as dg

from orchestration_utils.dagster_assets import attributes
from orchestration_utils.dagster_assets.check_partitions import partitioned_check
from orchestration_utils.dagster_assets.partitions import (
    partitions_def,
    partitions_names,
    run_window,
)
from orchestration_utils.dagster_assets.specs import (
    name_safe_key,
    project_tags,
    schedule_metadata,
    spec_attributes,
)
from orchestration_utils.errors import ProjectError
from orchestration_utils.project.model import Node, Project, ProjectKind, Test
from orchestration_utils.project.sqlmesh_project import audit_test_id


def asset_key(node: Node) -> dg.AssetKey:
    return name_safe_key(dg.AssetKey([node.schema or "default", node.identifier]))


def sqlmesh_specs(project: Project, default_schedule: str) -> list[dg.AssetSpec]:
    specs = []
    _refuse_shared_keys(project)
    for node in project.runnable():
        attrs = spec_attributes(node, default_schedule)
        attrs["group_name"] = node.schema or "default"  # SQLMesh projects group by schema
        attrs["tags"] = {**attrs["tags"], "dagster/kind/sqlmesh": ""}
        spec = attributes.partition_spec(node)
        specs.append(
            dg.AssetSpec(
                key=asset_key(node),
                deps=[asset_key(project.nodes[up]) for up in node.depends_on],
                description=node.description or None,
                metadata={
                    "sqlmesh/model": node.name,
                    "dagster/table_name": node.table_id,
                    **column_schema(node),
                    **schedule_metadata(node, default_schedule),
                },
                partitions_def=partitions_def(*spec) if spec else None,
                **attrs,
            )
        )
    return specs


def column_schema(node: Node) -> dict[str, dg.TableSchema]:
    """The model's columns (SQLMesh's `columns_to_types`, with their descriptions) as the asset
    page's column schema, where SQLMesh knows them."""
    if not node.columns:
        return {}
    return {
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(c.name, c.data_type or "unknown", description=c.description or None)
                for c in node.columns
            ]
        )
    }


def _refuse_shared_keys(project: Project) -> None:
    """Keys are `[schema, table]`: two catalogs' tables of one name would be one asset."""
    seen: dict[dg.AssetKey, Node] = {}
    for node in project:
        other = seen.setdefault(asset_key(node), node)
        if other is not node:
            raise ProjectError(
                project.source,
                f"{other.unique_id} and {node.unique_id} would share the Dagster "
                f"asset key {asset_key(node).to_user_string()}",
            )


def audit_check_specs(project: Project, names: dict[str, str]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=names[test.unique_id],
            asset=asset_key(node),
            blocking=test.severity == "error",
            description=f"SQLMesh audit {test.name}"
            + (f" on {test.column}" if test.column else "")
            + ("" if test.severity == "error" else " (non-blocking: a failure is a warning)"),
        )
        for node in project.runnable()
        for test in node.tests
    ]


def check_names(project: Project) -> dict[str, str]:
    """Audit id -> check name: `"cat"."schema"."table"#not_null(a,b)` -> `not_null_a_b` (check names
    must be identifiers); two audits of one model that read alike (`(a,b)`, `(a_b)`) get a short
    hash of their id each."""
    names: dict[str, str] = {}
    for node in project.runnable():
        readable = {t.unique_id: _readable(t.unique_id) for t in node.tests}
        for test_id, name in readable.items():
            clash = list(readable.values()).count(name) > 1
            names[test_id] = (
                f"{name}_{hashlib.sha256(test_id.encode()).hexdigest()[:6]}" if clash else name
            )
    return names


def _readable(test_id: str) -> str:
    tail = test_id.split("#", 1)[1]
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in tail).strip("_")


def build_sqlmesh_assets(
    project: Project, project_dir: Path, default_schedule: str
) -> list[dg.AssetsDefinition]:
    """One multi-asset per partitions definition (`sqlmesh_<daily|...>`, with the start date when
    two definitions share a unit), each running `sqlmesh run` for its selection."""
    specs = sqlmesh_specs(project, default_schedule)
    check_name_of = check_names(project)
    checks = audit_check_specs(project, check_name_of)
    nodes = {asset_key(n): n for n in project.runnable()}
    by_partitions: dict[dg.PartitionsDefinition | None, list[dg.AssetSpec]] = defaultdict(list)
    for spec in specs:
        by_partitions[spec.partitions_def].append(spec)
    names = partitions_names(specs)
    assets = []
    for partitions, group in sorted(by_partitions.items(), key=lambda kv: names[kv[0]]):
        keys = {s.key for s in group}
        assets.append(
            _sqlmesh_assets(
                project_dir,
                f"sqlmesh_{names[partitions]}",
                group,
                [partitioned_check(c, partitions) for c in checks if c.asset_key in keys],
                nodes,
                check_name_of,
                project_tags(ProjectKind.SQLMESH, project.name),
            )
        )
    return assets


def _sqlmesh_assets(
    project_dir: Path,
    name: str,
    specs,
    check_specs,
    nodes: dict[dg.AssetKey, Node],
    names: dict[str, str],
    op_tags: dict[str, str],
) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=name,
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        op_tags=op_tags,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )  # as the dbt groups (dbt.py)
    def _assets(context: dg.AssetExecutionContext):
        selected = [k for k in nodes if k in context.selected_asset_keys]  # topological
        window = run_window(context)
        counts = run_sqlmesh(project_dir, [nodes[k].name for k in selected], window)
        for key in selected:
            yield dg.MaterializeResult(asset_key=key, metadata={"sqlmesh/model": nodes[key].name})
        tests = {(asset_key(n), names[t.unique_id]): t for n in nodes.values() for t in n.tests}
        for check in sorted(
            context.selected_asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)
        ):
            yield audit_result(check, tests[(check.asset_key, check.name)], counts)

    return _assets


def audit_result(
    check: dg.AssetCheckKey, test: Test, counts: dict[str, int | None]
) -> dg.AssetCheckResult:
    """Green only for an audit SQLMesh evaluated with no failing row; a failing non-blocking
    audit is a WARN with its row count (a failing blocking one already failed the run)."""
    count = counts.get(test.unique_id)
    severity = (
        dg.AssetCheckSeverity.ERROR if test.severity == "error" else dg.AssetCheckSeverity.WARN
    )
    if count is None:
        return dg.AssetCheckResult(
            asset_key=check.asset_key,
            check_name=check.name,
            passed=False,
            severity=severity,
            description=f"SQLMesh did not evaluate audit {test.name} (skipped)",
        )
    return dg.AssetCheckResult(
        asset_key=check.asset_key,
        check_name=check.name,
        passed=count == 0,
        severity=severity,
        description=f"audit {test.name}: {count} failing row(s)"
        if count
        else f"audit {test.name} passed",
        metadata={"failing_rows": count},
    )


def run_sqlmesh(project_dir: Path, models: list[str], window) -> dict[str, int | None]:
    """`sqlmesh run` of `models`, then each of their audits evaluated over the run's window:
    test id -> failing rows (None when SQLMesh skipped it)."""
    from sqlmesh import Context
    from sqlmesh.utils.date import now

    context = Context(paths=[str(project_dir)])
    if context.state_reader.get_environment("prod") is None:
        # A fresh warehouse: the first plan creates the prod environment and backfills it.
        context.plan(auto_apply=True, no_prompts=True)
    kwargs = {"start": window.start, "end": window.end, "ignore_cron": True} if window else {}
    status = context.run(select_models=models, no_auto_upstream=True, **kwargs)
    if status.is_failure:
        raise dg.Failure(f"sqlmesh run failed for {', '.join(models)}")
    counts: dict[str, int | None] = {}
    for model in models:
        snapshot = context.get_snapshot(model, raise_if_missing=True)
        start = window.start if window else (snapshot.node.start or "1970-01-01")
        end = window.end if window else now()
        for result in context.snapshot_evaluator.audit(
            snapshot=snapshot, snapshots=context.snapshots, start=start, end=end
        ):
            test_id = audit_test_id(snapshot.node, result.audit.name, result.audit_args)
            counts[test_id] = None if result.skipped else int(result.count or 0)
    return counts

"""Live Dagster asset graph -> plan of a standalone package.

The plan is read off the very `AssetSpec`s the code location builds (our dbt translator, our
SQLMesh mapping), so the generated graph equals the live one by construction."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy
from dagster_shared.serdes.utils import SerializableTimeDelta
from sqlglot import exp

from orchestration_utils.dagster_assets import attributes
from orchestration_utils.dagster_assets.specs import SCHEDULE_METADATA_KEY, TIMEZONE_METADATA_KEY
from orchestration_utils.project.model import Node, Project, ProjectKind


@dataclass(frozen=True)
class CheckPlan:
    name: str
    blocking: bool
    test_id: str  # the dbt test's unique id, or the SQLMesh audit


@dataclass(frozen=True)
class AssetPlan:
    key: tuple[str, ...]
    deps: tuple[tuple[str, ...], ...]
    group: str
    owners: tuple[str, ...]
    tags: dict[str, str]
    kinds: tuple[str, ...]
    description: str | None
    cron: str
    freshness: tuple[int, int | None] | None  # fail, warn seconds
    selector: str  # what the runner selects: dbt selector or SQLMesh model name
    relation: dict[str, str]  # dialect -> quoted table name, for row-count checks
    timestamp_field: dict[str, str] | None  # dialect -> quoted column, for freshness checks
    freshness_hours: float | None
    checks: tuple[CheckPlan, ...]
    timezone: str = "UTC"  # the zone `cron` is read in

    unique_id: str = ""  # the dbt node or SQLMesh model the asset is
    audits: tuple[
        tuple[str, str], ...
    ] = ()  # SQLMesh: (check name, audit id), evaluated after a run


@dataclass(frozen=True)
class GroupPlan:
    name: str  # multi-asset name
    partitions: str | None  # key into DagsterPlan.partitions
    assets: tuple[AssetPlan, ...]


@dataclass(frozen=True)
class DagsterPlan:
    project: str
    kind: str  # dbt | sqlmesh
    package: str
    project_dir: str  # absolute, or relative to the output directory (where definitions.py sits)
    manifest: str | None  # dbt: the manifest read when the project has none yet; same rule
    warehouse_url: str
    partitions: dict[str, tuple[str, str]]  # name -> (granularity, start date)
    groups: tuple[GroupPlan, ...]
    # dbt: test unique id -> its check's name where dbt's name is no Dagster name (`not_null_a'b`)
    test_names: dict[str, str] = field(default_factory=dict)


def plan_dagster(
    project: Project,
    assets_defs: list[dg.AssetsDefinition],
    *,
    project_dir: str,
    warehouse_url: str,
    manifest: str | None = None,
) -> DagsterPlan:
    node_by_key = _nodes_by_key(project, assets_defs)
    audit_names = _audit_check_names(project)
    partitions: dict[str, tuple[str, str]] = {}
    groups = []
    test_names_of = {t.unique_id: t.name for n in project.nodes.values() for t in n.tests}
    renamed: dict[str, str] = {}
    for assets_def in sorted(assets_defs, key=lambda a: a.node_def.name):
        part_name = None
        p = assets_def.partitions_def
        if p is not None:
            # The op's nodes share one partitioning (op_groups.py): its granularity is theirs.
            partitioning = attributes.partition_spec(node_by_key[next(iter(assets_def.specs)).key])
            assert partitioning is not None and isinstance(p, dg.TimeWindowPartitionsDefinition)
            granularity, start = partitioning[0], p.start.strftime("%Y-%m-%d")
            part_name = f"{granularity}_from_{start.replace('-', '')}"
            partitions[part_name] = (granularity, start)
        checks_by_key: dict[dg.AssetKey, list[CheckPlan]] = {}
        for check in assets_def.check_specs:
            test_id = (
                str(check.metadata.get("dagster_dbt/unique_id", check.name))
                if check.metadata
                else check.name
            )
            if (
                project.kind is ProjectKind.DBT
                and test_names_of.get(test_id, check.name) != check.name
            ):
                renamed[test_id] = check.name
            checks_by_key.setdefault(check.asset_key, []).append(
                CheckPlan(check.name, check.blocking, test_id)
            )
        plans = []
        # Topological (the project's order): a multi-asset must yield upstream results first.
        position = {uid: i for i, uid in enumerate(project.nodes)}
        for spec in sorted(assets_def.specs, key=lambda s: position[node_by_key[s.key].unique_id]):
            node = node_by_key[spec.key]
            fp = spec.freshness_policy
            assert fp is None or isinstance(fp, TimeWindowFreshnessPolicy)  # attributes.py's
            plans.append(
                AssetPlan(
                    key=tuple(spec.key.path),
                    deps=tuple(sorted(tuple(d.asset_key.path) for d in spec.deps)),
                    group=spec.group_name or "default",
                    owners=tuple(spec.owners),
                    tags={
                        k: v
                        for k, v in sorted(spec.tags.items())
                        if not k.startswith("dagster/kind/")
                    },
                    kinds=tuple(sorted(spec.kinds)),
                    description=node.description or None,  # not dagster-dbt's copy of the raw SQL
                    cron=str(spec.metadata[SCHEDULE_METADATA_KEY]),
                    freshness=(_window(fp.fail_window), _seconds(fp.warn_window)) if fp else None,
                    selector=node.dbt_selector if project.kind is ProjectKind.DBT else node.name,
                    relation=quoted_table(node, project.kind),
                    timestamp_field=quoted_column(node.partitioning.field)
                    if node.partitioning
                    else None,
                    freshness_hours=node.freshness_hours,
                    checks=tuple(sorted(checks_by_key.get(spec.key, []), key=lambda c: c.name)),
                    timezone=str(spec.metadata.get(TIMEZONE_METADATA_KEY, "UTC")),
                    unique_id=node.unique_id,
                    audits=tuple((audit_names[t.unique_id], t.unique_id) for t in node.tests)
                    if audit_names
                    else (),
                )
            )
        groups.append(
            GroupPlan(name=assets_def.node_def.name, partitions=part_name, assets=tuple(plans))
        )
    package = (
        "".join(c if c.isalnum() else "_" for c in project.name.lower()).strip("_") + "_dagster"
    )
    if package[0].isdigit():
        package = "p_" + package
    return DagsterPlan(
        project.name,
        project.kind,
        package,
        project_dir,
        manifest,
        warehouse_url,
        dict(sorted(partitions.items())),
        tuple(groups),
        dict(sorted(renamed.items())),
    )


def _audit_check_names(project: Project) -> dict[str, str]:
    """SQLMesh audit id -> its check's name, as the live location names it."""
    if project.kind is not ProjectKind.SQLMESH:
        return {}
    from orchestration_utils.dagster_assets.sqlmesh import check_names

    return check_names(project)


def quoted_table(node: Node, kind: ProjectKind = ProjectKind.DBT) -> dict[str, str]:
    """The table's name quoted by each warehouse's rules, from its parts: never dbt's
    `relation_name`, which dbt builds by pasting the alias between quotes unescaped. SQLMesh's
    fully qualified name is quoted by sqlglot already, so it is parsed back into its parts."""
    if kind is ProjectKind.SQLMESH and node.relation_name:
        parts = [part.name for part in exp.to_table(node.relation_name).parts]
    else:
        parts = [p for p in (node.database, node.schema, node.identifier) if p]
    return {
        "duckdb": exp.table_(
            parts[-1],
            db=parts[-2] if len(parts) > 1 else None,
            catalog=parts[-3] if len(parts) > 2 else None,
            quoted=True,
        ).sql(dialect="duckdb"),
        "bigquery": ".".join(_bigquery_ident(p) for p in parts),
    }


def quoted_column(name: str) -> dict[str, str]:
    return {
        "duckdb": exp.column(name, quoted=True).sql(dialect="duckdb"),
        "bigquery": _bigquery_ident(name),
    }


def _bigquery_ident(text: str) -> str:
    # BigQuery's quoted identifiers take the escape sequences of its string literals.
    escaped = (
        text.replace("\\", "\\\\").replace("`", "\\`").replace("\n", "\\n").replace("\r", "\\r")
    )
    return f"`{escaped}`"


def _window(window: SerializableTimeDelta) -> int:
    return int(window.to_timedelta().total_seconds())


def _seconds(window: SerializableTimeDelta | None) -> int | None:
    return _window(window) if window is not None else None


def _nodes_by_key(project: Project, assets_defs: list[dg.AssetsDefinition]):
    out = {}
    by_name = {n.name: n for n in project.runnable()}
    for assets_def in assets_defs:
        for spec in assets_def.specs:
            uid = spec.metadata.get("dagster_dbt/unique_id")
            model = spec.metadata.get("sqlmesh/model")
            out[spec.key] = project.nodes[str(uid)] if uid else by_name[str(model)]
    return out

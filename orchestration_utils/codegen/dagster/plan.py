"""Project -> plan of a standalone Dagster package.

The plan comes straight from the project's nodes through the functions the code location builds
its assets with (op groups, attributes, our dbt translator's keys, the SQLMesh specs), so the
generated graph equals the live one (a test compares them on the demo and the corpus) without
building the location."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from sqlglot import exp

from orchestration_utils.dagster_assets import attributes
from orchestration_utils.dagster_assets.op_groups import op_groups
from orchestration_utils.dagster_assets.specs import (
    SCHEDULE_METADATA_KEY,
    TIMEZONE_METADATA_KEY,
    schedule_metadata,
    spec_attributes,
)
from orchestration_utils.errors import ProjectError
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
    *,
    default_schedule: str,
    project_dir: str,
    warehouse_url: str,
    manifest: str | None = None,
    dbt_manifest: dict[str, Any] | None = None,
) -> DagsterPlan:
    """The package's plan straight from the project's nodes, through the functions the code
    location builds its assets with (op groups, attributes, our dbt translator's keys, the SQLMesh
    specs), without building the location. `dbt_manifest` is the parsed manifest the dbt project
    was read from: dagster-dbt's keys, dependencies and test attachment read it (it is patched in
    place for dagster-dbt, as the code location does)."""
    if project.kind == ProjectKind.DBT:
        if dbt_manifest is None:
            raise ValueError("a dbt plan needs the parsed manifest the project was read from")
        groups = _dbt_groups(project, dbt_manifest, default_schedule)
    else:
        groups = _sqlmesh_groups(project, default_schedule)
    partitions: dict[str, tuple[str, str]] = {}
    test_names_of = {t.unique_id: t.name for n in project.nodes.values() for t in n.tests}
    renamed: dict[str, str] = {}
    audit_names = _audit_check_names(project)
    planned = []
    for name, spec, assets in sorted(groups, key=lambda g: g[0]):
        part_name = None
        if spec is not None:
            granularity, start = spec
            part_name = f"{granularity}_from_{start.replace('-', '')}"
            partitions[part_name] = (granularity, start)
        plans = []
        for asset in assets:
            node = asset.node
            if project.kind == ProjectKind.DBT:
                renamed.update(
                    (c.test_id, c.name)
                    for c in asset.checks
                    if test_names_of.get(c.test_id, c.name) != c.name
                )
            plans.append(
                AssetPlan(
                    key=asset.key,
                    deps=asset.deps,
                    group=asset.group,
                    owners=asset.owners,
                    tags=asset.tags,
                    kinds=asset.kinds,
                    description=node.description or None,  # not dagster-dbt's copy of the raw SQL
                    cron=str(asset.metadata[SCHEDULE_METADATA_KEY]),
                    freshness=_freshness(asset.freshness_policy),
                    selector=node.dbt_selector if project.kind == ProjectKind.DBT else node.name,
                    relation=quoted_table(node, project.kind),
                    timestamp_field=quoted_column(node.partitioning.field)
                    if node.partitioning
                    else None,
                    freshness_hours=node.freshness_hours,
                    checks=tuple(sorted(asset.checks, key=lambda c: c.name)),
                    timezone=str(asset.metadata.get(TIMEZONE_METADATA_KEY, "UTC")),
                    unique_id=node.unique_id,
                    audits=tuple((audit_names[t.unique_id], t.unique_id) for t in node.tests)
                    if audit_names
                    else (),
                )
            )
        planned.append(GroupPlan(name=name, partitions=part_name, assets=tuple(plans)))
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
        tuple(planned),
        dict(sorted(renamed.items())),
    )


@dataclass(frozen=True)
class _Asset:
    """One asset as the code location's spec has it (the attributes the package renders)."""

    node: Node
    key: tuple[str, ...]
    deps: tuple[tuple[str, ...], ...]
    group: str
    owners: tuple[str, ...]
    tags: dict[str, str]  # without Dagster's `dagster/kind/` tags: kinds are their own field
    kinds: tuple[str, ...]
    freshness_policy: dg.FreshnessPolicy | None
    metadata: Mapping[str, object]  # our schedule metadata (cron, time zone)
    checks: tuple[CheckPlan, ...]


# (op name, partitions spec, the op's assets in the project's topological order)
_Group = tuple[str, tuple[str, str] | None, list[_Asset]]


def _dbt_groups(project: Project, manifest: dict[str, Any], default_schedule: str) -> list[_Group]:
    """The op groups of `build_dbt_assets`: keys and dependencies by our translator's
    `get_asset_key` over dagster-dbt's upstream resolution (through ephemeral models), checks by
    dagster-dbt's test attachment, attributes by `spec_attributes`."""
    from dagster_dbt.asset_utils import (
        _build_child_map,  # dagster-dbt's own: the manifest's child_map, or one built like it
        get_asset_check_key_for_test,
        get_node,
        get_upstream_unique_ids,
    )

    from orchestration_utils.dagster_assets.dbt import (
        DbtKeys,
        ProjectDbtTranslator,
        patch_for_dagster_dbt,
    )

    manifest = patch_for_dagster_dbt(manifest)
    keys = DbtKeys(ProjectDbtTranslator(project, manifest, default_schedule), manifest)
    adapter = (manifest.get("metadata") or {}).get("adapter_type")
    kinds = tuple(sorted({"dbt", adapter or "dbt"}))  # dagster-dbt's, views not virtual
    child_map = _build_child_map(manifest)
    produced: dict[dg.AssetKey, str] = {}
    groups: list[_Group] = []
    for group in op_groups(project.runnable(), prefix="dbt", default_schedule=default_schedule):
        assets = []
        seen: dict[dg.AssetKey, str] = {}  # dagster-dbt refuses two nodes of one key in an op
        for node in group.members:
            props = get_node(manifest, node.unique_id)
            key = keys.key(node.unique_id)
            upstream = get_upstream_unique_ids(manifest, props)
            _claim(project, produced, key, node.unique_id)  # one asset per key in the package
            for uid in (node.unique_id, *upstream):  # dagster-dbt's check within one op
                _claim(project, seen, keys.key(uid), uid)
            # By name: of two tests of one name on one asset the later wins, as in dagster-dbt.
            checks: dict[str, CheckPlan] = {}
            for test_id in child_map.get(node.unique_id, ()):
                if not test_id.startswith("test"):
                    continue
                check_key = get_asset_check_key_for_test(manifest, keys, test_id, None)
                if check_key is None or check_key.asset_key != key:
                    continue
                config = get_node(manifest, test_id).get("config") or {}
                if config.get("enabled", True) is False:
                    continue  # dbt selects no disabled test
                severity = config.get("severity") or "error"
                checks[check_key.name] = CheckPlan(
                    check_key.name, severity.lower() == "error", test_id
                )
            attrs = spec_attributes(node, default_schedule)
            assets.append(
                _Asset(
                    node=node,
                    key=tuple(key.path),
                    deps=tuple(sorted({tuple(keys.key(uid).path) for uid in upstream})),
                    group=attrs["group_name"],
                    owners=tuple(attrs["owners"]),
                    tags=dict(sorted(attrs["tags"].items())),
                    kinds=kinds,
                    freshness_policy=attrs["freshness_policy"],
                    metadata=schedule_metadata(node, default_schedule),
                    checks=tuple(checks.values()),
                )
            )
        groups.append((group.name, group.partition_spec, assets))
    return groups


def _claim(project: Project, taken: dict[dg.AssetKey, str], key: dg.AssetKey, uid: str) -> None:
    other = taken.setdefault(key, uid)
    if other != uid:
        raise ProjectError(
            project.source,
            f"{other} and {uid} would share the Dagster asset key {key.to_user_string()}",
        )


def _sqlmesh_groups(project: Project, default_schedule: str) -> list[_Group]:
    """The multi-assets of `build_sqlmesh_assets`, from the same specs (one per model) and checks."""
    from orchestration_utils.dagster_assets.partitions import partitions_names
    from orchestration_utils.dagster_assets.sqlmesh import (
        asset_key,
        audit_check_specs,
        check_names,
        sqlmesh_specs,
    )

    specs = sqlmesh_specs(project, default_schedule)
    names = partitions_names(specs)
    node_of = {asset_key(n): n for n in project.runnable()}
    checks_of: dict[dg.AssetKey, list[CheckPlan]] = {}
    for check in audit_check_specs(project, check_names(project)):
        checks_of.setdefault(check.asset_key, []).append(
            CheckPlan(check.name, check.blocking, check.name)
        )
    by_partitions: dict[dg.PartitionsDefinition | None, list[_Asset]] = {}
    for spec in specs:
        by_partitions.setdefault(spec.partitions_def, []).append(
            _Asset(
                node=node_of[spec.key],
                key=tuple(spec.key.path),
                deps=tuple(sorted(tuple(d.asset_key.path) for d in spec.deps)),
                group=spec.group_name or "default",
                owners=tuple(spec.owners),
                tags={
                    k: v for k, v in sorted(spec.tags.items()) if not k.startswith("dagster/kind/")
                },
                kinds=tuple(sorted(spec.kinds)),
                freshness_policy=spec.freshness_policy,
                metadata=spec.metadata,
                checks=tuple(checks_of.get(spec.key, ())),
            )
        )
    return [
        (f"sqlmesh_{names[p]}", attributes.partition_spec(assets[0].node), assets)
        for p, assets in by_partitions.items()
    ]


def _audit_check_names(project: Project) -> dict[str, str]:
    """SQLMesh audit id -> its check's name, as the live location names it."""
    if project.kind != ProjectKind.SQLMESH:
        return {}
    from orchestration_utils.dagster_assets.sqlmesh import check_names

    return check_names(project)


def quoted_table(node: Node, kind: ProjectKind = ProjectKind.DBT) -> dict[str, str]:
    """The table's name quoted by each warehouse's rules, from its parts: never dbt's
    `relation_name`, which dbt builds by pasting the alias between quotes unescaped. SQLMesh's
    fully qualified name is quoted by sqlglot already, so it is parsed back into its parts."""
    if kind == ProjectKind.SQLMESH and node.relation_name:
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


def _freshness(policy: dg.FreshnessPolicy | None) -> tuple[int, int | None] | None:
    """A policy's fail and warn windows in seconds."""
    from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy

    if policy is None:
        return None
    # The project's policies are all time windows (`specs._freshness_policy`).
    assert isinstance(policy, TimeWindowFreshnessPolicy)
    warn = policy.warn_window
    return (
        int(policy.fail_window.to_timedelta().total_seconds()),
        int(warn.to_timedelta().total_seconds()) if warn is not None else None,
    )

"""The dbt project as Dagster assets: dagster-dbt with our translator, one `@dbt_assets` per
partitions definition (a run may only target assets that share one)."""


import functools
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY as UNIQUE_ID

from orchestration_utils.dagster_defs import policy
from orchestration_utils.dagster_defs.partitions import partitions_def
from orchestration_utils.dagster_defs.specs import schedule_metadata, spec_attributes
from orchestration_utils.project.dbt_manifest import project_from_manifest, read_manifest
from orchestration_utils.project.model import Node, Project
from orchestration_utils.settings import Settings

_ADVERB = {"hour": "hourly", "day": "daily", "month": "monthly"}
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


class ProjectDbtTranslator(DagsterDbtTranslator):
    """dagster-dbt's spec, plus what our project model reads from `meta`."""

    def __init__(self, project: Project, default_schedule: str):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.nodes = project.nodes
        self._default_schedule = default_schedule
        self._specs: dict[str, dg.AssetSpec] = {}

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        # dagster-dbt memoizes its own spec but calls this override again for every dependent
        # node; build ours once per node.
        if unique_id in self._specs:
            return self._specs[unique_id]
        self._specs[unique_id] = spec = self._build_spec(manifest, unique_id, project)
        return spec

    def _build_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = self.nodes.get(unique_id)
        if node is None or not node.runnable:
            return spec
        # Two dbt nodes can map to one key (a source remapped onto a seed's key): one dep each.
        deps = list({dep.asset_key: dep for dep in spec.deps}.values())
        # One new spec, not two: each AssetSpec re-normalizes its metadata (seconds at 5,000 nodes).
        return spec.replace_attributes(
            deps=deps, metadata={**spec.metadata, **schedule_metadata(node, self._default_schedule)},
            **spec_attributes(node, self._default_schedule),
        )


def patch_for_dagster_dbt(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as dagster-dbt's selection (dbt-core's graph) can read it: old schemas'
    metrics and some Fusion nodes carry no `config` or null `tags`, on which dbt-core's selector fails."""
    for section in ("nodes", "sources", "metrics", "exposures", "semantic_models", "saved_queries"):
        for props in (manifest.get(section) or {}).values():
            if not isinstance(props.get("config"), dict):
                props["config"] = {"enabled": True}
            if props.get("tags") is None:  # Fusion writes null; the tag selector iterates it
                props["tags"] = []
    _drop_sources_of_produced_relations(manifest)
    return manifest


def _drop_sources_of_produced_relations(manifest: dict[str, Any]) -> None:
    """A model that reads a seed (or model) and a source naming the same relation reads one table
    twice; dagster-dbt then gives it that dependency twice and Dagster can resolve no job over a
    subset of the graph (a test asserts this of plain dagster-dbt). The producing node stays."""
    producers = {props["relation_name"]: uid for uid, props in manifest.get("nodes", {}).items()
                 if props.get("resource_type") in ("seed", "model", "snapshot") and props.get("relation_name")}
    sources = manifest.get("sources") or {}
    for props in manifest.get("nodes", {}).values():
        depends_on = (props.get("depends_on") or {}).get("nodes")
        if not depends_on:
            continue
        kept = [uid for uid in depends_on
                if producers.get((sources.get(uid) or {}).get("relation_name")) not in depends_on]
        if len(kept) != len(depends_on):
            props["depends_on"]["nodes"] = kept


# Marks partitioned nodes in the in-memory manifest dagster-dbt reads, so each `@dbt_assets` selects
# its group with one term: dbt's selector scans the whole graph once per term, and naming 588
# nodes one by one made a 5,000-model location load in 133 s. The marker exists only in memory,
# so at run time the real project is told which nodes to build by name (see `_dbt_assets`).
_MARK = "orchestration_utils_partitioned"


def build_dbt_assets(manifest_path: Path, default_schedule: str) -> list[dg.AssetsDefinition]:
    """One `@dbt_assets` for the unpartitioned nodes and one per partitions definition."""
    manifest = read_manifest(manifest_path)
    project = project_from_manifest(manifest, manifest_path)  # validates, with one-line errors
    manifest = patch_for_dagster_dbt(manifest)
    translator = ProjectDbtTranslator(project, default_schedule)
    by_spec: dict[tuple[str, str] | None, list[Node]] = defaultdict(list)
    for node in project.runnable():
        by_spec[policy.partition_spec(node)].append(node)
    groups = {spec: f"dbt_{_ADVERB[spec[0]]}_partitioned" for spec in sorted(s for s in by_spec if s)}
    for spec, name in groups.items():
        for node in by_spec[spec]:
            _mark(manifest["nodes"][node.unique_id], _MARK, f"{_MARK}_{name}")
    partitioned = [n for spec in groups for n in by_spec[spec]]
    assets = [_dbt_assets(manifest, translator, name="dbt_unpartitioned", spec=None, select="fqn:*",
                          exclude=f"tag:{_MARK}", runtime_exclude=[n.dbt_selector for n in partitioned])]
    assets += [_dbt_assets(manifest, translator, name=name, spec=spec, select=f"tag:{_MARK}_{name}", exclude="",
                           runtime_exclude=[]) for spec, name in groups.items()]
    return assets


def _mark(props: dict[str, Any], *tags: str) -> None:
    props["tags"] = [*props["tags"], *tags]
    props["config"]["tags"] = [*(props["config"].get("tags") or ()), *tags]


@functools.cache
def load_dbt_defs(settings: Settings) -> dg.Definitions:
    """Read once per process: the manifest is parsed only when none exists yet (the demo)."""
    return dg.Definitions(
        assets=build_dbt_assets(ensure_manifest(settings), settings.default_schedule),
        resources={
            "dbt": DbtCliResource(
                project_dir=str(settings.dbt_project_dir),
                profiles_dir=str(settings.dbt_project_dir),
                dbt_executable=DBT_EXECUTABLE,
            )
        },
    )


def _dbt_assets(manifest: dict[str, Any], translator: "ProjectDbtTranslator", *, name: str,
                spec: tuple[str, str] | None, select: str, exclude: str,
                runtime_exclude: list[str]) -> dg.AssetsDefinition:
    selectors = {uid: project_node.dbt_selector for uid, project_node in translator.nodes.items()}

    @dbt_assets(
        manifest=manifest,
        select=select,
        exclude=exclude,
        name=name,
        partitions_def=partitions_def(*spec) if spec else None,
        dagster_dbt_translator=translator,
    )
    def _assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        args = ["build"]
        if spec:
            # dagster-dbt passes this definition's `tag:` selection, which matches nothing in the
            # real project; dbt unions repeated --select, so naming the selected nodes completes it.
            specs = context.assets_def.specs_by_key
            named = sorted(selectors[specs[key].metadata[UNIQUE_ID]] for key in context.selected_asset_keys)
            if named:  # a run of checks alone selects no node
                args += ["--select", " ".join(named)]
        if runtime_exclude:  # likewise for the unpartitioned group's `tag:` exclusion
            args += ["--exclude", " ".join(runtime_exclude)]
        if context.has_partition_key:
            window = context.partition_time_window
            args += ["--vars", json.dumps({"min_date": window.start.isoformat(), "max_date": window.end.isoformat()})]
        yield from dbt.cli(args, context=context).stream()

    return _assets


def ensure_manifest(settings: Settings) -> Path:
    if settings.dbt_manifest_path:
        return settings.dbt_manifest_path
    manifest = settings.dbt_target_dir / "manifest.json"
    if not manifest.exists():
        subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(settings.dbt_project_dir),
             "--profiles-dir", str(settings.dbt_project_dir), "--target-path", str(settings.dbt_target_dir)],
            check=True,
        )
    return manifest

"""The dbt project as Dagster assets: dagster-dbt with our translator, one `@dbt_assets` per op
group (op_groups.py)."""

import json
import sys
import textwrap
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY as UNIQUE_ID
from dagster_dbt.asset_utils import get_node

from orchestration_utils.dagster_assets.check_partitions import partitioned_check
from orchestration_utils.dagster_assets.op_groups import OpGroup, op_groups
from orchestration_utils.dagster_assets.partitions import partitions_def, run_window
from orchestration_utils.dagster_assets.specs import (
    DBT_FRESHNESS_METADATA_KEY,
    name_part,
    name_safe_key,
    project_tags,
    schedule_metadata,
    spec_attributes,
)
from orchestration_utils.project.dbt_manifest import (
    project_from_manifest,
    read_manifest,
    source_freshness,
)
from orchestration_utils.project.model import Project, ProjectKind


class ProjectDbtTranslator(DagsterDbtTranslator):
    """dagster-dbt's spec, plus what our project model reads from `meta`."""

    def __init__(self, project: Project, manifest: Mapping[str, Any], default_schedule: str):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self._nodes = project.nodes
        self._manifest = manifest
        self._default_schedule = default_schedule
        self._specs: dict[str, dg.AssetSpec] = {}

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        # Each `@dbt_assets` reads a view of the manifest (manifest_view), but a node's spec
        # comes from the whole one, built once: dagster-dbt memoizes its own spec per manifest
        # and calls this override again for every dependent node.
        if unique_id not in self._specs:
            self._specs[unique_id] = self._build_spec(self._manifest, unique_id, project)
        return self._specs[unique_id]

    # The partitions of the `@dbt_assets` being built (set by `_dbt_assets`), given to its checks.
    check_partitions: dg.PartitionsDefinition | None = None

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        return partitioned_check(spec, self.check_partitions) if spec else None

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        # dagster-dbt names each output after its key: a model named `fct_s'q` needs a safe key.
        return name_safe_key(super().get_asset_key(snapshot_with_schema(dbt_resource_props)))

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return node_description(dbt_resource_props)

    def forget_build_state(self) -> None:
        """Once every `@dbt_assets` is built, runs read only the specs cached in `_specs`: drop
        the project model and dagster-dbt's memo of its specs before ours replaced them
        (17 MiB of a 5,000-model code server, for its whole life)."""
        self._nodes = {}
        self._resolved_specs = {}  # dagster-dbt's memo (DagsterDbtTranslator.get_asset_spec)

    def _build_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = self._nodes.get(unique_id)
        if node is None or not node.runnable:
            return spec
        # Two dbt nodes can map to one key (a source remapped onto a seed's key): one dep each.
        deps = list({dep.asset_key: dep for dep in spec.deps}.values())
        # One new spec, not two: each AssetSpec re-normalizes its metadata (seconds at 5,000 nodes).
        return spec.replace_attributes(
            deps=deps,
            metadata={**spec.metadata, **schedule_metadata(node, self._default_schedule)},
            **spec_attributes(node, self._default_schedule),
        )


class DbtKeys(DagsterDbtTranslator):
    """Asset keys by unique id, from our translator's `get_asset_key` (dagster-dbt's default key,
    made a safe Dagster name). dagster-dbt's test attachment takes a translator and reads only
    `get_asset_spec(...).key` of it: this gives it that key without building the spec (which
    costs most of a 5,000-model code location's load)."""

    def __init__(self, translator: ProjectDbtTranslator, manifest: Mapping[str, Any]):
        super().__init__()
        self._manifest = manifest
        self._translator = translator
        self._keys: dict[str, dg.AssetKey] = {}

    def key(self, unique_id: str) -> dg.AssetKey:
        if unique_id not in self._keys:
            props = get_node(self._manifest, unique_id)
            self._keys[unique_id] = self._translator.get_asset_key(props)
        return self._keys[unique_id]

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> Any:
        # Only `.key` is read: no `AssetSpec` built per test.
        return SimpleNamespace(key=self.key(unique_id))


def snapshot_with_schema(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A snapshot configured the classic way (`target_schema`) keyed as models are, under its
    schema (`snapshots/customers_snapshot`, not a bare `customers_snapshot`): dagster-dbt's key
    reads only `config.schema`."""
    config = props.get("config") or {}
    if props.get("resource_type") != "snapshot" or config.get("schema") is not None:
        return props
    schema = config.get("target_schema") or props.get("schema")
    return {**props, "config": {**config, "schema": schema}} if schema else props


def node_description(props: Mapping[str, Any]) -> str:
    """dagster-dbt's description (the node's, else `dbt <type> <name>`, then its SQL), without
    the empty "Raw SQL" block it gives nodes that have no code (seeds)."""
    text = props.get("description") or f"dbt {props.get('resource_type')} {props.get('name')}"
    code = props.get("raw_code") or props.get("raw_sql") or ""
    if code.strip():
        text += "\n\n#### Raw SQL:\n```sql\n" + textwrap.indent(code, "    ") + "\n```"
    elif props.get("resource_type") == "seed" and props.get("original_file_path"):
        text += f"\n\nLoaded by `dbt seed` from `{props['original_file_path']}`."
    return text


def patch_for_dagster_dbt(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as dagster-dbt's selection (dbt-core's graph) can read it: old schemas'
    metrics and some Fusion nodes carry no `config` or null `tags`, on which dbt-core's selector fails."""
    for section in ("nodes", "sources", "metrics", "exposures", "semantic_models", "saved_queries"):
        for props in (manifest.get(section) or {}).values():
            if not isinstance(props.get("config"), dict):
                props["config"] = {"enabled": True}
            if props.get("tags") is None:  # Fusion writes null; the tag selector iterates it
                props["tags"] = []
            if props.get("resource_type") == "test" and isinstance(props.get("name"), str):
                # dagster-dbt names a test's check (and its output) after the test's name
                props["name"] = name_part(props["name"])
    _drop_sources_of_produced_relations(manifest)
    return manifest


def _drop_sources_of_produced_relations(manifest: dict[str, Any]) -> None:
    """A model that reads a seed (or model) and a source naming the same relation reads one table
    twice; dagster-dbt then gives it that dependency twice and Dagster can resolve no job over a
    subset of the graph (a test asserts this of plain dagster-dbt). The producing node stays."""
    producers = {
        props["relation_name"]: uid
        for uid, props in manifest.get("nodes", {}).items()
        if props.get("resource_type") in ("seed", "model", "snapshot")
        and props.get("relation_name")
    }
    sources = manifest.get("sources") or {}
    for props in manifest.get("nodes", {}).values():
        depends_on = (props.get("depends_on") or {}).get("nodes")
        if not depends_on:
            continue
        kept = [
            uid
            for uid in depends_on
            if producers.get((sources.get(uid) or {}).get("relation_name")) not in depends_on
        ]
        if len(kept) != len(depends_on):
            props["depends_on"]["nodes"] = kept


def build_dbt_assets(
    manifest_path: Path,
    default_schedule: str,
    manifest: dict[str, Any] | None = None,
    project: Project | None = None,
) -> list[dg.AssetsDefinition]:
    """One `@dbt_assets` per op group (layer, schedule and partitions; see op_groups). Pass the
    manifest and its project when the caller has read them already."""
    manifest = manifest if manifest is not None else read_manifest(manifest_path)
    if project is None:
        project = project_from_manifest(manifest, manifest_path)  # validates, one-line errors
    manifest = patch_for_dagster_dbt(manifest)
    translator = ProjectDbtTranslator(project, manifest, default_schedule)
    tests = tests_by_parent(manifest)
    groups = op_groups(project.runnable(), prefix="dbt", default_schedule=default_schedule)
    op_tags = project_tags(ProjectKind.DBT, project.name)
    assets = [_dbt_assets(manifest, translator, group, tests, op_tags) for group in groups]
    translator.forget_build_state()
    return assets


def source_freshness_specs(manifest: Mapping[str, Any], manifest_path: Path) -> list[dg.AssetSpec]:
    """The sources that set dbt's `freshness`, as external assets (dagster-dbt's keys) whose
    metadata carries that config: the health side checks them (health.py), beside `meta.freshness_hours`."""
    translator = DagsterDbtTranslator()
    specs = []
    for uid, freshness in source_freshness(manifest, manifest_path).items():
        props = manifest["sources"][uid]
        table_id = ".".join(
            str(props[k]) for k in ("database", "schema", "identifier") if props.get(k)
        )
        hours = {
            name: after.total_seconds() / 3600
            for name, after in (
                ("warn_after_hours", freshness.warn_after),
                ("error_after_hours", freshness.error_after),
            )
            if after
        }
        config = {**hours, "loaded_at_field": freshness.loaded_at_field}
        specs.append(
            dg.AssetSpec(
                translator.get_asset_spec(manifest, uid, None).key,
                group_name="raw",
                description=props.get("description")
                or f"dbt source {props.get('source_name')}.{props.get('name')}",
                metadata={
                    "dagster/table_name": table_id,
                    DBT_FRESHNESS_METADATA_KEY: dg.MetadataValue.json(config),
                },
                kinds={"dbt"},
            )
        )
    return specs


# Each group is selected with one `tag:` term that exists only in the in-memory manifest
# dagster-dbt reads: dbt's selector scans the graph once per term, and naming 588 nodes one by
# one made a 5,000-model location load in 133 s. So at run time the real project is told which
# nodes to build by name.
_MARK = "orchestration_utils_op"


def _dbt_assets(
    manifest: dict[str, Any],
    translator: "ProjectDbtTranslator",
    group: OpGroup,
    tests: Mapping[str, list[str]],
    op_tags: Mapping[str, str],
) -> dg.AssetsDefinition:
    mark = f"{_MARK}_{group.name}"
    for node in group.members:
        props = manifest["nodes"][node.unique_id]
        props["tags"] = [*props["tags"], mark]
        props["config"]["tags"] = [*(props["config"].get("tags") or ()), mark]
    selectors = {node.unique_id: node.dbt_selector for node in group.members}
    # A test on two models (relationships) is the check of the model it is attached to. The
    # project's cautious indirect selection leaves it out unless both models are in the build, so
    # with its other parent in an earlier layer it was Skipped in every run. Named, it runs in the
    # run that builds the asset it checks (that other parent was built before).
    multi_parent = {
        test: _test_selector(manifest["nodes"][test])
        for uid in selectors
        for test in tests.get(uid, ())
        if test in manifest["nodes"]
        and manifest["nodes"][test].get("attached_node") == uid
        and len(set((manifest["nodes"][test].get("depends_on") or {}).get("nodes") or ())) > 1
    }

    partitions = partitions_def(*group.partition_spec) if group.partition_spec else None
    translator.check_partitions = partitions

    @dbt_assets(
        manifest=manifest_view(manifest, set(selectors), tests),
        select=f"tag:{mark}",
        name=group.name,
        partitions_def=partitions,
        # What dagster-dbt gives time-partitioned groups, on all: a layer job that mixes both
        # backfills a range in one run (one dbt build, the window as vars) instead of one run
        # per partition, each rebuilding the unpartitioned models.
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        op_tags=op_tags,  # read back as run tags by the jobs (jobs.py)
    )
    def _assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        args = ["build"]
        # dagster-dbt passes this group's `tag:` selection, which matches nothing in the real
        # project; dbt unions repeated --select, so naming the selected nodes completes it.
        specs = context.assets_def.specs_by_key
        named = sorted(
            selectors[specs[key].metadata[UNIQUE_ID]] for key in context.selected_asset_keys
        )
        checks = sorted(
            multi_parent[uid]
            for spec in context.assets_def.check_specs
            if spec.key in context.selected_asset_check_keys
            and (uid := spec.metadata.get(UNIQUE_ID)) in multi_parent
        )
        if named or checks:  # a run of checks alone selects no node
            args += ["--select", " ".join(named + checks)]
        window = run_window(context)
        if window:
            args += [
                "--vars",
                json.dumps(
                    {"min_date": window.start.isoformat(), "max_date": window.end.isoformat()}
                ),
            ]
        built = 0
        # Row counts and column schemas on each materialization, as dagster-dbt users expect
        # (on DuckDB, read once dbt has exited and released the file).
        events = dbt.cli(args, context=context).stream().fetch_row_counts().fetch_column_metadata()
        try:
            for event in events:
                built += isinstance(
                    event, dg.Output | dg.MaterializeResult | dg.AssetMaterialization
                )
                yield event
        finally:
            release_duckdb()
        if named and not built:
            # dbt says "Nothing to do" and exits 0 when the project holds none of the nodes.
            raise dg.Failure(
                f"dbt built none of the {len(named)} selected node(s) in {dbt.project_dir}: "
                "is ORCHESTRATION_UTILS_DBT_PROJECT_DIR the manifest's project?"
            )

    return _assets


def release_duckdb() -> None:
    """Close the DuckDB file dbt-duckdb opened in this process to fetch row counts and columns.
    dbt-duckdb keeps it open (read-write) for the life of the process, so the next dbt op of an
    in-process run (its own `dbt` process) could not lock the file, and a health check in this
    process could not open it read-only."""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:  # no DuckDB adapter was opened here
        return
    manager = connections.DuckDBConnectionManager
    with manager._LOCK:
        environment, manager._ENV = manager._ENV, None
    if environment is not None:
        environment.close()


_GRAPH_SECTIONS = (
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
    "functions",
)


def _test_selector(props: Mapping[str, Any]) -> str:
    """Selects exactly this test (`Node.dbt_selector`'s rule)."""
    fqn = props.get("fqn")
    return "fqn:" + ".".join(fqn) if fqn else str(props["name"])


def tests_by_parent(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """Data and unit tests by the nodes they read (not every manifest has a `child_map`)."""
    tests: dict[str, list[str]] = defaultdict(list)
    for section in ("nodes", "unit_tests"):
        for uid, props in (manifest.get(section) or {}).items():
            if props.get("resource_type") in ("test", "unit_test"):
                for parent in (props.get("depends_on") or {}).get("nodes") or ():
                    tests[parent].append(uid)
    return tests


def manifest_view(
    manifest: dict[str, Any], members: set[str], tests: Mapping[str, list[str]]
) -> dict[str, Any]:
    """The part of the manifest one group's `@dbt_assets` reads: its members, the tests on them,
    and what those read (through ephemeral models). dagster-dbt builds dbt's selection graph per
    `@dbt_assets`; on the whole manifest that cost each group as much as the whole project."""
    nodes, unit_tests = manifest["nodes"], manifest.get("unit_tests") or {}
    keep = set(members)
    keep.update(test for uid in members for test in tests.get(uid, ()))
    queue = list(keep)
    while queue:
        uid = queue.pop()
        props = nodes.get(uid) or unit_tests.get(uid) or {}
        for parent in (props.get("depends_on") or {}).get("nodes") or ():
            if parent not in keep:
                keep.add(parent)
                if (nodes.get(parent) or {}).get("config", {}).get("materialized") == "ephemeral":
                    queue.append(parent)
    view = {k: v for k, v in manifest.items() if k not in _GRAPH_SECTIONS}
    for section in _GRAPH_SECTIONS:
        if section in manifest:
            whole = manifest[section] or {}
            view[section] = {uid: whole[uid] for uid in keep if uid in whole}
    # dbt's selector graph may only hold ids the view defines (a test can name a disabled model).
    present = {uid for section in _GRAPH_SECTIONS for uid in view.get(section, ())}
    for graph_map in ("child_map", "parent_map"):
        if graph_map in manifest:
            whole = manifest[graph_map]
            view[graph_map] = {
                uid: [n for n in whole.get(uid, ()) if n in present] for uid in present
            }
    return view

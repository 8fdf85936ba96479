"""dagster-asset-gen plans from the project itself, never building the code location: its plan
must still be the live location's asset graph, attribute by attribute, on the demo projects and
on real manifests of many dbt versions and shapes."""

import pytest

from orchestration_utils.codegen.dagster.plan import DagsterPlan, plan_dagster
from orchestration_utils.dagster_assets.dbt import build_dbt_assets
from orchestration_utils.dagster_assets.partitions import partitions_def
from orchestration_utils.dagster_assets.specs import SCHEDULE_METADATA_KEY, TIMEZONE_METADATA_KEY
from orchestration_utils.dagster_assets.sqlmesh import build_sqlmesh_assets
from orchestration_utils.project.loader import load_source
from orchestration_utils.project.model import ProjectError
from orchestration_utils_tests.conftest import CORPUS, corpus_manifests


def _loadable_corpus():
    cases = []
    for path in corpus_manifests():
        try:
            load_source("dbt", path)
        except ProjectError:
            continue  # v1-v3: refused with a message (tested in the project tests)
        cases.append(path)
    return cases


def _plan(kind, source, schedule) -> DagsterPlan:
    loaded = load_source(kind, source)
    return plan_dagster(
        loaded.project,
        default_schedule=schedule,
        project_dir=".",
        warehouse_url="duckdb:///w.duckdb",
        dbt_manifest=loaded.manifest,
    )


def _live_graph(assets_defs, kind, nodes) -> dict:
    """Group name -> (partitions, key -> every attribute the package renders), off the specs."""
    graph = {}
    for a in assets_defs:
        checks: dict[tuple, list] = {}
        for c in a.check_specs:
            test_id = str((c.metadata or {}).get("dagster_dbt/unique_id", c.name))
            checks.setdefault(tuple(c.asset_key.path), []).append((c.name, c.blocking, test_id))
        rows = {}
        for s in a.specs:
            fp = s.freshness_policy
            description = s.description
            if kind == "dbt":  # the location appends the raw SQL (a seed: its CSV); the package
                # shows the node's description
                node = nodes[s.metadata["dagster_dbt/unique_id"]]
                description = description.split("\n\n#### Raw SQL:")[0]
                description = description.split("\n\nLoaded by `dbt seed` from")[0]
                if description == f"dbt {node.resource_type.value} {node.name}":
                    description = None
            rows[tuple(s.key.path)] = {
                "deps": sorted(tuple(d.asset_key.path) for d in s.deps),
                "group": s.group_name,
                "owners": list(s.owners),
                "tags": {k: v for k, v in s.tags.items() if not k.startswith("dagster/kind/")},
                "kinds": sorted(s.kinds),
                "description": description,
                "freshness": (
                    fp.fail_window.to_timedelta().total_seconds(),
                    fp.warn_window and fp.warn_window.to_timedelta().total_seconds(),
                )
                if fp
                else None,
                "cron": (
                    s.metadata[SCHEDULE_METADATA_KEY],
                    s.metadata.get(TIMEZONE_METADATA_KEY, "UTC"),
                ),
                "automation": s.automation_condition.get_label(),
                "checks": sorted(checks.get(tuple(s.key.path), [])),
            }
        graph[a.node_def.name] = (a.partitions_def, rows)
    return graph


def _plan_graph(plan: DagsterPlan) -> dict:
    import dagster as dg

    graph = {}
    for g in plan.groups:
        rows = {}
        for a in g.assets:
            rows[a.key] = {
                "deps": list(a.deps),
                "group": a.group,
                "owners": list(a.owners),
                "tags": a.tags,
                "kinds": list(a.kinds),
                "description": a.description,
                "freshness": tuple(float(s) if s else s for s in a.freshness)
                if a.freshness
                else None,
                "cron": (a.cron, a.timezone),
                # What the package's assets.py builds from the plan.
                "automation": dg.AutomationCondition.on_cron(
                    a.cron, cron_timezone=a.timezone
                ).get_label(),
                "checks": sorted((c.name, c.blocking, c.test_id) for c in a.checks),
            }
        parts = partitions_def(*plan.partitions[g.partitions]) if g.partitions else None
        graph[g.name] = (parts, rows)
    return graph


def _assert_same(plan: DagsterPlan, live: dict, project) -> None:
    planned = _plan_graph(plan)
    assert list(planned) == sorted(live)  # the same ops, in name order
    for name, (parts, rows) in live.items():
        assert planned[name][0] == parts, name
        assert planned[name][1] == rows, name
    # Topological within an op: the package's multi-asset yields upstream results first.
    position = {uid: i for i, uid in enumerate(project.nodes)}
    for g in plan.groups:
        order = [a.unique_id for a in g.assets]
        assert order == sorted(order, key=position.__getitem__), g.name


@pytest.mark.parametrize("schedule", ["@daily", "@hourly"])
def test_dbt_demo_plan_is_the_live_location_graph(demo_manifest, schedule):
    plan = _plan("dbt", demo_manifest, schedule)
    project = load_source("dbt", demo_manifest).project
    live = _live_graph(build_dbt_assets(demo_manifest, schedule), "dbt", project.nodes)
    _assert_same(plan, live, project)
    assert sum(len(rows) for _, rows in live.values()) == 21
    assert plan.partitions  # the demo has a partitioned model: the comparison covers one


def test_sqlmesh_demo_plan_is_the_live_location_graph(demo_sqlmesh_project):
    plan = _plan("sqlmesh", demo_sqlmesh_project, "@daily")
    project = load_source("sqlmesh", demo_sqlmesh_project).project
    live = _live_graph(
        build_sqlmesh_assets(project, demo_sqlmesh_project, "@daily"), "sqlmesh", project.nodes
    )
    _assert_same(plan, live, project)
    assert any(rows for _, rows in live.values() if any(r["checks"] for r in rows.values()))


@pytest.mark.parametrize(
    "manifest",
    _loadable_corpus(),
    ids=lambda p: str(p.parent.relative_to(CORPUS)).replace("/", "__"),
)
def test_corpus_plan_is_the_live_location_graph(manifest):
    plan = _plan("dbt", manifest, "@daily")
    project = load_source("dbt", manifest).project
    live = _live_graph(build_dbt_assets(manifest, "@daily"), "dbt", project.nodes)
    _assert_same(plan, live, project)


def test_two_nodes_of_one_asset_key_are_one_line(demo_manifest):
    """dagster-dbt refuses such a project at load; the generator says which nodes, exit 2."""
    loaded = load_source("dbt", demo_manifest)
    manifest = loaded.manifest
    first, second = [uid for uid, p in manifest["nodes"].items() if p["resource_type"] == "model"][
        :2
    ]
    for uid in (first, second):
        manifest["nodes"][uid].setdefault("config", {}).setdefault("meta", {})["dagster"] = {
            "asset_key": ["same"]
        }
    with pytest.raises(ProjectError, match="would share the Dagster asset key same"):
        plan_dagster(
            loaded.project,
            default_schedule="@daily",
            project_dir=".",
            warehouse_url="duckdb:///w.duckdb",
            dbt_manifest=manifest,
        )

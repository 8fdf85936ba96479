"""dagster-asset-gen: the generated package validates, equals the live graph, and materializes."""

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils.dagster_assets.dbt import build_dbt_assets
from orchestration_utils.dagster_assets.sqlmesh import build_sqlmesh_assets
from orchestration_utils.dagster_defs.jobs import build_jobs, layer_jobs_in_order
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project
from orchestration_utils_tests.conftest import DBT, REPO, dbt_parse
from orchestration_utils_tests.health.bigquery_servers import free_port
from orchestration_utils_tests.test_dbt_selection import _listed
from orchestration_utils_tests.test_webserver import _query

BIN = Path(sys.executable).parent
DEMO_DBT = REPO / "orchestration_utils" / "demo" / "dbt_project"


def _gen(*args):
    return subprocess.run(
        [str(BIN / "dagster-asset-gen"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _load(out: Path, package: str) -> dg.Definitions:
    sys.path.insert(0, str(out))
    try:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + [
            "definitions"
        ]:
            sys.modules.pop(name, None)
        return importlib.import_module("definitions").defs
    finally:
        sys.path.remove(str(out))


def _graph(specs) -> dict:
    def row(s):
        p = s.partitions_def
        fp = s.freshness_policy
        return {
            "deps": sorted(d.asset_key.to_user_string() for d in s.deps),
            "group": s.group_name,
            "owners": list(s.owners),
            "tags": {k: v for k, v in s.tags.items() if not k.startswith("dagster/kind/")},
            "partitions": (type(p).__name__, p.start.isoformat()) if p else None,
            "freshness": (
                fp.fail_window.to_timedelta(),
                fp.warn_window and fp.warn_window.to_timedelta(),
            )
            if fp
            else None,
            "automation": s.automation_condition.get_label() if s.automation_condition else None,
        }

    return {s.key.to_user_string(): row(s) for s in specs}


def _executable_specs(assets_defs):
    return [s for a in assets_defs for s in a.specs]


def _dbt_project_copy(root: Path, warehouse: Path) -> Path:
    """A copy of the demo dbt project with its manifest in `target/`, where the generated
    package's `DbtProject` reads it (and dbt writes nothing into the repository)."""
    project = root / "dbt_project"
    shutil.copytree(DEMO_DBT, project)
    dbt_parse(
        project,
        project / "target",
        env={**os.environ, "ORCHESTRATION_UTILS_DBT_DUCKDB": str(warehouse)},
    )
    return project


def _generate_dbt(root: Path) -> tuple[Path, Path, Path]:
    warehouse = root / "warehouse" / "shop.duckdb"
    warehouse.parent.mkdir(parents=True)
    project = _dbt_project_copy(root, warehouse)
    out = root / "gen"
    result = _gen(
        "--project-type",
        "dbt",
        "--manifest-path",
        project / "target" / "manifest.json",
        "--output-dir",
        out,
        "--project-dir",
        project,
        "--warehouse",
        f"duckdb:///{warehouse}",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["package"] == "shop_dagster"
    return out, warehouse, project


@pytest.fixture(scope="module")
def dbt_package(tmp_path_factory):
    out, warehouse, _ = _generate_dbt(tmp_path_factory.mktemp("gen_dbt"))
    return out, warehouse


def test_generated_dbt_package_validates_with_the_dagster_cli(dbt_package, tmp_path):
    out, _ = dbt_package
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-f", str(out / "definitions.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_package_finds_profiles_in_the_users_dbt_folder_as_dbt_does(tmp_path):
    """No DBT_PROFILES_DIR and no profiles.yml in the project: dbt reads ~/.dbt/profiles.yml."""
    out, _, project = _generate_dbt(tmp_path / "site")
    home = tmp_path / "user"
    (home / ".dbt").mkdir(parents=True)
    (project / "profiles.yml").rename(home / ".dbt" / "profiles.yml")
    env = {k: v for k, v in os.environ.items() if k != "DBT_PROFILES_DIR"}
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-f", str(out / "definitions.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "DAGSTER_HOME": str(tmp_path), "HOME": str(home)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_dagster_dev_in_the_output_dir_serves_the_generated_assets(tmp_path):
    """The README's usage: `cd dagster_assets && dagster dev` (the generated workspace.yaml). Its
    own package: under `dagster dev` the package's DbtProject re-parses the project's manifest."""
    out, _, _ = _generate_dbt(tmp_path / "site")
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=out,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        data = _query(port, _DEV_QUERY)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    location = data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    keys = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert "marts/fct_orders" in keys and len(keys) == 21


_DEV_QUERY = """{ assetNodes { assetKey { path } }
  workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename
    ... on PythonError { message } } } } } }"""


def test_generated_dbt_graph_equals_the_live_code_location(dbt_package, demo_manifest):
    out, _ = dbt_package
    generated = _load(out, "shop_dagster")
    live = _graph(_executable_specs(build_dbt_assets(demo_manifest, "@daily")))
    assert _graph(s for a in generated.assets for s in a.specs) == live
    assert len(live) == 21


def test_a_package_from_nodes_without_tags_or_config_loads_as_the_live_location(
    demo_manifest, tmp_path
):
    """dbt Fusion leaves `tags` out of nodes and sources and `config` out of hooks; dbt's selector
    reads both (a package generated from such a manifest failed to load). The package loads and
    holds the live location's assets and checks."""
    manifest = json.loads(demo_manifest.read_text())
    for section in ("nodes", "sources"):
        for props in manifest[section].values():
            props.pop("tags", None)
    manifest["nodes"]["operation.shop.shop-on-run-end-0"] = {
        "unique_id": "operation.shop.shop-on-run-end-0",
        "resource_type": "operation",
        "name": "shop-on-run-end-0",
        "package_name": "shop",
        "fqn": ["shop", "hooks", "shop-on-run-end-0"],
        "depends_on": {"macros": [], "nodes": []},
    }
    path = tmp_path / "target" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(manifest))
    out = tmp_path / "gen"
    result = _gen("--project-type", "dbt", "--manifest-path", path, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    generated = _load(out, "shop_dagster")
    live = build_dbt_assets(path, "@daily")
    assert _graph(s for a in generated.assets for s in a.specs) == _graph(_executable_specs(live))
    checks = {k for a in generated.assets for k in a.check_keys}
    assert checks == {k for a in live for k in a.check_keys} and len(checks) > 20


def test_generated_sqlmesh_graph_equals_the_live_code_location(demo_sqlmesh_project, tmp_path):
    result = _gen(
        "--project-type",
        "sqlmesh",
        "--project-path",
        demo_sqlmesh_project,
        "--output-dir",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    generated = _load(tmp_path, "sqlmesh_project_dagster")
    project = load_sqlmesh_project(demo_sqlmesh_project)
    live = _graph(_executable_specs(build_sqlmesh_assets(project, demo_sqlmesh_project, "@daily")))
    assert _graph(s for a in generated.assets for s in a.specs) == live
    assert live["shop_marts/fct_orders_daily"]["partitions"][0] == "DailyPartitionsDefinition"


def test_each_generated_op_loads_by_one_term_and_runs_exactly_its_nodes(
    dbt_package, tmp_path, monkeypatch
):
    """Each op selects its nodes with one in-memory `tag:` term (dbt's selector scans the graph
    once per term: a term per node made a 1,000-model package load in 26 s of CPU). A run of a
    whole op, or of one of its assets, still names to dbt exactly the nodes it builds: a wrapper
    records the `dbt build` command, and real `dbt ls` in the real project lists its selection."""
    out, _ = dbt_package
    log = tmp_path / "argv.jsonl"
    wrapper = tmp_path / "dbt"
    wrapper.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"if 'build' in sys.argv:\n    open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "    sys.exit(1)\n"
        f"os.execv({DBT!r}, [{DBT!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_EXECUTABLE", str(wrapper))
    generated = _load(out, "shop_dagster")

    def built(assets_def: dg.AssetsDefinition, keys=None) -> set[str]:
        log.write_text("")
        dg.materialize(
            [assets_def],
            selection=keys,
            partition_key=assets_def.partitions_def.get_last_partition_key()
            if assets_def.partitions_def
            else None,
            resources={"shop_dagster_dbt": generated.resources["shop_dagster_dbt"]},
            raise_on_error=False,
        )
        return _listed(json.loads(log.read_text().splitlines()[-1]), tmp_path / "ls")

    ops = [a for a in generated.assets if isinstance(a, dg.AssetsDefinition)]
    assert len(ops) == 10
    seen: set[str] = set()
    for op in ops:
        name = op.node_def.name.removeprefix("shop_dagster__")  # packages sharing a folder
        assert op.op.tags["dagster_dbt/select"] == f"tag:orchestration_utils_op_{name}"
        members = {spec.metadata["dagster_dbt/unique_id"] for spec in op.specs}
        assert built(op) == members, name
        assert not seen & members
        seen |= members
    raw = next(op for op in ops if op.node_def.name == "shop_dagster__dbt_raw_daily")
    assert len(raw.keys) == 6
    assert built(raw, [dg.AssetKey(["raw", "raw_orders"])]) == {"seed.shop.raw_orders"}


def test_regeneration_is_byte_identical_and_check_names_changes(dbt_package):
    out, warehouse = dbt_package
    project = warehouse.parent.parent / "dbt_project"
    args = [
        "--project-type",
        "dbt",
        "--manifest-path",
        project / "target" / "manifest.json",
        "--output-dir",
        out,
        "--project-dir",
        project,
        "--warehouse",
        f"duckdb:///{warehouse}",
    ]
    assert _gen(*args, "--check").returncode == 0
    assets = out / "shop_dagster" / "assets.py"
    original = assets.read_text()
    assets.write_text(original.replace("import dagster as dg", "import dagster as dg  ", 1))
    stale = _gen(*args, "--check")
    assert stale.returncode == 1 and "shop_dagster/assets.py" in stale.stderr
    assert _gen(*args).returncode == 0 and assets.read_text() == original


def _run_layers(defs: dg.Definitions, instance, until: str | None = None) -> dict[str, bool]:
    """The layer jobs in dependency order (all, or up to `until`), as the demo runs them: job -> success."""
    outcome = {}
    for job_name, partitions_def in layer_jobs_in_order(defs):
        if until in outcome:
            break
        key = partitions_def.get_last_partition_key() if partitions_def else None
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False
        )
        outcome[job_name] = result.success
    return outcome


def test_generated_dbt_package_materializes_on_duckdb_with_checks(dbt_package, monkeypatch):
    out, warehouse = dbt_package
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_EXECUTABLE", str(BIN / "dbt"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_DUCKDB", str(warehouse))
    generated = _load(out, "shop_dagster")
    defs = dg.Definitions.merge(generated, build_jobs(generated))
    with dg.instance_for_test() as instance:
        started = time.monotonic()
        outcome = _run_layers(defs, instance)
        print(
            f"demo materialized through the generated package in {time.monotonic() - started:.1f}s"
        )
        assert all(outcome.values()), outcome
        # A partitioned layer job runs only its partitioned checks (dbt tests); the package's
        # unpartitioned warehouse checks run as their own job, as the location's health jobs do.
        warehouse_checks = [
            k
            for k in defs.resolve_asset_graph().asset_check_keys
            if k.name in ("row_count", "freshness")
        ]
        checks_job = dg.define_asset_job(
            "package_checks", selection=dg.AssetSelection.checks(*warehouse_checks)
        )
        with_checks = dg.Definitions.merge(defs, dg.Definitions(jobs=[checks_job]))
        assert (
            with_checks.resolve_job_def("package_checks")
            .execute_in_process(instance=instance, raise_on_error=False)
            .success
            is not None
        )
        nodes = json.loads(
            (warehouse.parent.parent / "dbt_project" / "target" / "manifest.json").read_text()
        )["nodes"]
        for spec in (s for a in generated.assets for s in a.specs):
            event = instance.get_latest_materialization_event(spec.key)
            assert event is not None, spec.key
            if nodes[spec.metadata["dagster_dbt/unique_id"]]["config"]["materialized"] != "view":
                # dagster-dbt's row count of each table, read through the dbt adapter
                assert event.asset_materialization.metadata["dagster/row_count"].value > 0, spec.key
        orders = instance.get_latest_materialization_event(
            dg.AssetKey(["marts", "fct_orders"])
        ).asset_materialization
        graph = defs.resolve_asset_graph()
        evaluations = {
            (
                k.asset_key.to_user_string(),
                k.name,
            ): instance.event_log_storage.get_latest_asset_check_execution_by_key([k])[k]
            for k in graph.asset_check_keys
        }
    assert orders.partition is not None  # a partitioned model materializes its partition
    assert "dagster/column_schema" in orders.metadata
    row_count = evaluations[("marts/fct_orders", "row_count")]
    assert row_count.evaluation.passed and row_count.evaluation.metadata["row_count"].value == 40
    dbt_test = evaluations[("marts/fct_orders", "unique_fct_orders_order_id")]
    assert dbt_test.evaluation.passed
    freshness = evaluations[("marts/fct_orders", "freshness")]
    assert not freshness.evaluation.passed  # the demo's orders are from January 2026
    assert freshness.evaluation.metadata["hours_stale"].value > 24


def test_a_failing_dbt_model_fails_alone_and_its_siblings_materialize(tmp_path, monkeypatch):
    """One broken model in a copy of the demo: the other models of its op (one `dbt build`)
    materialize, and it fails."""
    out, warehouse, project = _generate_dbt(tmp_path)
    (project / "models" / "staging" / "stg_products.sql").write_text(
        "select * from no_such_table\n"
    )
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_EXECUTABLE", str(BIN / "dbt"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_DUCKDB", str(warehouse))
    generated = _load(out, "shop_dagster")
    defs = dg.Definitions.merge(generated, build_jobs(generated))
    broken, sibling = (
        dg.AssetKey(["staging", "stg_products"]),
        dg.AssetKey(["staging", "stg_customers"]),
    )
    staging_op = next(a for a in generated.assets if broken in a.keys)
    assert sibling in staging_op.keys  # one `dbt build` for both
    with dg.instance_for_test() as instance:
        outcome = _run_layers(defs, instance, until="staging_layer")
        assert outcome == {"raw_layer": True, "staging_layer": False}
        assert instance.get_latest_materialization_event(broken) is None
        assert instance.get_latest_materialization_event(sibling) is not None
        for key in staging_op.keys - {broken}:
            assert instance.get_latest_materialization_event(key) is not None, key
        # Planned in the failed staging run and never materialized: the UI shows the asset failed.
        staging_run = next(r for r in instance.get_runs() if r.job_name == "staging_layer")
        planned = instance.get_records_for_run(
            staging_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records
        assert broken in {r.event_log_entry.dagster_event.asset_key for r in planned}

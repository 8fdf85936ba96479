"""dagster-asset-gen: the generated package validates, equals the live graph, and materializes."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils.dagster_defs.dbt import build_dbt_assets
from orchestration_utils.dagster_defs.jobs import build_jobs, layer_jobs_in_order
from orchestration_utils.dagster_defs.sqlmesh import build_sqlmesh_assets
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project
from orchestration_utils_tests.conftest import REPO

BIN = Path(sys.executable).parent
DEMO_DBT = REPO / "orchestration_utils" / "demo" / "dbt_project"


def _gen(*args):
    return subprocess.run([str(BIN / "dagster-asset-gen"), *map(str, args)], capture_output=True, text=True, timeout=300)


def _load(out: Path, package: str) -> dg.Definitions:
    sys.path.insert(0, str(out))
    try:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + ["definitions"]:
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
            "group": s.group_name, "owners": list(s.owners),
            "tags": {k: v for k, v in s.tags.items() if not k.startswith("dagster/kind/")},
            "partitions": (type(p).__name__, p.start.isoformat()) if p else None,
            "freshness": (fp.fail_window.to_timedelta(), fp.warn_window and fp.warn_window.to_timedelta()) if fp else None,
            "automation": s.automation_condition.get_label() if s.automation_condition else None,
        }
    return {s.key.to_user_string(): row(s) for s in specs}


def _executable_specs(assets_defs):
    return [s for a in assets_defs for s in a.specs]


@pytest.fixture(scope="module")
def dbt_package(demo_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen_dbt")
    warehouse = out / "warehouse" / "shop.duckdb"
    result = _gen("--project-type", "dbt", "--manifest-path", demo_manifest, "--output-dir", out,
                  "--project-dir", DEMO_DBT, "--warehouse", f"duckdb:///{warehouse}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["package"] == "shop_dagster"
    return out, warehouse


def test_generated_dbt_package_validates_with_the_dagster_cli(dbt_package, tmp_path):
    out, _ = dbt_package
    result = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-f", str(out / "definitions.py")],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]


def test_generated_dbt_graph_equals_the_live_code_location(dbt_package, demo_manifest):
    out, _ = dbt_package
    generated = _load(out, "shop_dagster")
    live = _graph(_executable_specs(build_dbt_assets(demo_manifest, "@daily")))
    assert _graph(s for a in generated.assets for s in a.specs) == live
    assert len(live) == 21


def test_generated_sqlmesh_graph_equals_the_live_code_location(demo_sqlmesh_project, tmp_path):
    result = _gen("--project-type", "sqlmesh", "--project-path", demo_sqlmesh_project, "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    generated = _load(tmp_path, "sqlmesh_project_dagster")
    project = load_sqlmesh_project(demo_sqlmesh_project)
    live = _graph(_executable_specs(build_sqlmesh_assets(project, demo_sqlmesh_project, "@daily")))
    assert _graph(s for a in generated.assets for s in a.specs) == live
    assert live["shop_marts/fct_orders_daily"]["partitions"][0] == "DailyPartitionsDefinition"


def test_regeneration_is_byte_identical_and_check_names_changes(dbt_package, demo_manifest):
    out, warehouse = dbt_package
    args = ["--project-type", "dbt", "--manifest-path", demo_manifest, "--output-dir", out,
            "--project-dir", DEMO_DBT, "--warehouse", f"duckdb:///{warehouse}"]
    assert _gen(*args, "--check").returncode == 0
    assets = out / "shop_dagster" / "assets.py"
    original = assets.read_text()
    assets.write_text(original.replace("dg.AssetSpec(", "dg.AssetSpec(  ", 1))
    stale = _gen(*args, "--check")
    assert stale.returncode == 1 and "shop_dagster/assets.py" in stale.stderr
    assert _gen(*args).returncode == 0 and assets.read_text() == original


def test_generated_dbt_package_materializes_on_duckdb_with_checks(dbt_package, monkeypatch):
    out, warehouse = dbt_package
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_EXECUTABLE", str(BIN / "dbt"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_DUCKDB", str(warehouse))
    generated = _load(out, "shop_dagster")
    defs = dg.Definitions.merge(generated, build_jobs(generated))
    with dg.instance_for_test() as instance:
        for job_name, partitions_def in layer_jobs_in_order(defs):
            key = partitions_def.get_last_partition_key() if partitions_def else None
            result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, partition_key=key)
            assert result.success, job_name
        for spec in (s for a in generated.assets for s in a.specs):
            assert instance.get_latest_materialization_event(spec.key) is not None, spec.key
        graph = defs.resolve_asset_graph()
        evaluations = {
            (k.asset_key.to_user_string(), k.name): instance.event_log_storage.get_latest_asset_check_execution_by_key([k])[k]
            for k in graph.asset_check_keys
        }
    row_count = evaluations[("marts/fct_orders", "row_count")]
    assert row_count.evaluation.passed and row_count.evaluation.metadata["row_count"].value == 40
    dbt_test = evaluations[("marts/fct_orders", "unique_fct_orders_order_id")]
    assert dbt_test.evaluation.passed
    freshness = evaluations[("marts/fct_orders", "freshness")]
    assert not freshness.evaluation.passed  # the demo's orders are from January 2026
    assert freshness.evaluation.metadata["hours_stale"].value > 24

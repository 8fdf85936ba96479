"""The generated SQLMesh package reports each model of a `sqlmesh run` on its own: a model that
fails fails its asset, its siblings materialize, and SQLMesh's log reaches the Dagster log."""

import shutil
import time

import dagster as dg

from orchestration_utils_tests.codegen.test_dagster_codegen import _gen, _load
from orchestration_utils_tests.conftest import REPO

# Rendered at evaluation, so the snapshot (and its fingerprint) is the same whether it breaks or not.
_MACRO = """import os

from sqlmesh import macro


@macro()
def broken_on_request(evaluator):
    return "error('broken on purpose')" if os.environ.get("SHOP_BREAK_MODEL") else "TRUE"
"""


def test_a_failing_sqlmesh_model_fails_alone(tmp_path, monkeypatch):
    project = tmp_path / "sqlmesh_project"
    shutil.copytree(REPO / "orchestration_utils" / "demo" / "sqlmesh_project", project)
    (project / "macros").mkdir()
    (project / "macros" / "broken.py").write_text(_MACRO)
    model = project / "models" / "dim_customer_activity.sql"
    model.write_text(
        model.read_text().replace("GROUP BY 1", "WHERE @broken_on_request() GROUP BY 1")
    )
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_DUCKDB", str(tmp_path / "shop_sqlmesh.duckdb"))
    result = _gen(
        "--project-type", "sqlmesh", "--project-path", project, "--output-dir", tmp_path / "gen"
    )
    assert result.returncode == 0, result.stderr
    generated = _load(tmp_path / "gen", "sqlmesh_project_dagster")
    op = next(a for a in generated.assets if a.node_def.name.endswith("__sqlmesh_unpartitioned"))
    broken, sibling = (
        dg.AssetKey(["shop_marts", "dim_customer_activity"]),
        dg.AssetKey(["shop_staging", "stg_orders"]),
    )
    assert {broken, sibling} <= op.keys

    with dg.instance_for_test() as instance:
        first = dg.materialize([op], instance=instance)  # a first plan creates prod
        assert first.success
        # Make both due again (a run builds only missing intervals), then break one.
        from sqlmesh import Context

        context = Context(paths=[str(project)])
        due = [
            context.get_snapshot(m, raise_if_missing=True)
            for m in ("shop_marts.dim_customer_activity", "shop_staging.stg_orders")
        ]
        context.state_sync.remove_intervals([(s, (0, int(time.time() * 1000))) for s in due])
        context.close()
        monkeypatch.setenv("SHOP_BREAK_MODEL", "1")
        second = dg.materialize([op], instance=instance, raise_on_error=False)

        assert not second.success
        materialized = {e.asset_key for e in second.get_asset_materialization_events()}
        assert sibling in materialized and broken not in materialized
        # Planned and not materialized in a failed run: the UI shows the asset failed.
        planned = instance.get_records_for_run(
            second.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records
        assert broken in {r.event_log_entry.dagster_event.asset_key for r in planned}
        evaluations = {(c.asset_key, c.check_name): c for c in second.get_asset_check_evaluations()}
        assert evaluations[(sibling, "unique_values_order_id")].passed
        assert not any(key == broken for key, _ in evaluations)
        logs = [e.user_message for e in instance.all_logs(second.run_id)]
        assert any("sqlmesh:" in m and "broken on purpose" in m for m in logs), logs[-20:]

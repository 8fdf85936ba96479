"""The whole code location loads, and its asset graph is what the demo's metadata says."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils_tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def defs(demo_manifest):
    os.environ["ORCHESTRATION_UTILS_DBT_MANIFEST"] = str(demo_manifest)
    try:
        from orchestration_utils.definitions import defs as load

        definitions = load()
        dg.Definitions.validate_loadable(definitions)
        yield definitions
    finally:
        os.environ.pop("ORCHESTRATION_UTILS_DBT_MANIFEST")


def _spec_row(spec: dg.AssetSpec) -> dict:
    fp = spec.freshness_policy
    return {
        "key": spec.key.to_user_string(),
        "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
        "group": spec.group_name,
        "owners": list(spec.owners),
        "tags": {k: v for k, v in sorted(spec.tags.items())},
        "partitions": type(spec.partitions_def).__name__ if spec.partitions_def else None,
        "freshness_fail_hours": fp.fail_window.to_timedelta().total_seconds() / 3600 if fp else None,
        "automation": spec.automation_condition.get_label() if spec.automation_condition else None,
    }


def test_asset_specs_snapshot(defs, snapshot):
    rows = sorted((_spec_row(s) for s in defs.resolve_all_asset_specs()), key=lambda r: r["key"])
    assert rows == snapshot


def test_groups_partitions_and_freshness_follow_metadata(defs):
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert {s.group_name for s in specs.values()} == {"raw", "staging", "intermediate", "marts", "snapshots"}
    assert isinstance(specs["marts/fct_orders"].partitions_def, dg.DailyPartitionsDefinition)
    assert isinstance(specs["marts/fct_events"].partitions_def, dg.HourlyPartitionsDefinition)
    assert specs["marts/dim_customers"].partitions_def is None
    assert specs["marts/fct_orders"].freshness_policy.fail_window.to_timedelta().total_seconds() == 24 * 3600
    # "analytics" is no valid Dagster owner; it must load as a team.
    assert specs["marts/dim_customers"].owners == ["team:analytics"]
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert "unique_fct_orders_order_id" in checks


def test_layer_jobs_exist_and_run_in_dependency_order(defs):
    from orchestration_utils.dagster_defs.jobs import layer_jobs_in_order

    order = [name for name, _ in layer_jobs_in_order(defs)]
    assert order.index("raw_layer") < order.index("staging_layer") < order.index("marts_layer_daily")
    assert order.index("marts_layer_daily") < order.index("marts_layer")  # fct_daily_revenue reads fct_orders
    for name in order:
        defs.resolve_job_def(name)


def test_dagster_cli_validates_the_code_location(demo_manifest, tmp_path):
    env = {**os.environ, "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest), "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]

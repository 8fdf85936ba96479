"""A whole-group run of each `@dbt_assets` tells the real dbt project to build exactly that group.

The definitions select their groups through markers that exist only in memory (fast to load); a
wrapper around the dbt executable records the command dagster-dbt launches, and real `dbt ls`
with that command's selection, in the real demo project, must list exactly the group's nodes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils_tests.conftest import DBT, REPO

PROJECT = REPO / "orchestration_utils" / "demo" / "dbt_project"


@pytest.fixture(scope="module")
def recorded(demo_manifest, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dbt_wrapper")
    log = folder / "argv.jsonl"
    wrapper = folder / "dbt"
    wrapper.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"if 'build' in sys.argv:\n    open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "    sys.exit(1)\n"
        f"os.execv({DBT!r}, [{DBT!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    os.environ["ORCHESTRATION_UTILS_DBT_MANIFEST"] = str(demo_manifest)
    try:
        from dagster_dbt import DbtCliResource

        from orchestration_utils.definitions import defs

        definitions = defs()
        groups = {
            a.node_def.name: a
            for a in definitions.assets
            if isinstance(a, dg.AssetsDefinition) and a.node_def.name.startswith("dbt_")
        }
        argv = {}
        for name, assets_def in groups.items():
            partition = (
                assets_def.partitions_def.get_last_partition_key()
                if assets_def.partitions_def
                else None
            )
            log.write_text("")
            dg.materialize(
                [assets_def],
                partition_key=partition,
                raise_on_error=False,
                resources={
                    "dbt": DbtCliResource(
                        project_dir=str(PROJECT),
                        profiles_dir=str(PROJECT),
                        dbt_executable=str(wrapper),
                    )
                },
            )
            argv[name] = json.loads(log.read_text().splitlines()[-1])
        yield groups, argv
    finally:
        os.environ.pop("ORCHESTRATION_UTILS_DBT_MANIFEST")


def _listed(argv: list[str], target: Path) -> set[str]:
    selection, i = [], 0
    while i < len(argv):
        if argv[i] in ("--select", "--exclude"):
            selection += [argv[i], argv[i + 1]]
            i += 1
        i += 1
    out = subprocess.run(
        [
            DBT,
            "ls",
            "--quiet",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target-path",
            str(target),
            "--resource-type",
            "model",
            "--resource-type",
            "seed",
            "--resource-type",
            "snapshot",
            "--output",
            "json",
            "--output-keys",
            "unique_id",
            *selection,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DBT_INDIRECT_SELECTION": "cautious"},
    )
    return {
        json.loads(line)["unique_id"] for line in out.stdout.splitlines() if line.startswith("{")
    }


def test_each_group_builds_exactly_its_nodes(recorded, tmp_path):
    groups, argv = recorded
    # demo: fct_orders is daily-partitioned, fct_events hourly-partitioned and scheduled hourly
    assert {
        "dbt_raw_daily",
        "dbt_staging_daily",
        "dbt_marts_daily",
        "dbt_marts_daily_by_day",
        "dbt_marts_hourly_by_hour",
    } <= set(groups)
    seen: set[str] = set()
    for name, assets_def in groups.items():
        expected = {spec.metadata["dagster_dbt/unique_id"] for spec in assets_def.specs}
        assert _listed(argv[name], tmp_path / name) == expected, name
        assert not seen & expected
        seen |= expected
    assert "model.shop.fct_orders" in seen and "seed.shop.raw_orders" in seen
    assert "--vars" in argv["dbt_marts_daily_by_day"]  # the partition window reaches dbt
    assert "--vars" not in argv["dbt_marts_daily"]

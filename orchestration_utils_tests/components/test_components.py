"""The components: the product's own `dg` project (real `dg` CLI) gives what
`orchestration_utils.definitions` gives, and the README's path of adding the health and SLA
components to another project's own dbt assets runs verbatim and checks those assets."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils_tests.conftest import REPO

BIN = Path(sys.executable).parent


def _dg_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VIRTUAL_ENV=str(BIN.parent),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ORCHESTRATION_UTILS_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster_home"),
    )
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    return env


def _shape(defs: dg.Definitions) -> dict[str, list]:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(
            f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys
        ),
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": sorted(f"{s.name} {s.cron_schedule}" for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
        "resources": sorted(repo.get_top_level_resources()),
    }


def test_defs_folder_builds_what_definitions_py_builds():
    """Same assets, checks, jobs (and their schedules' crons), sensors and resources."""
    from orchestration_utils import definitions
    from orchestration_utils.components import location

    by_module, by_components = _shape(definitions.defs()), _shape(location.defs())
    assert by_components == by_module
    assert "marts_layer" in by_components["jobs"] and "sla_sensor" in by_components["sensors"]


def test_dg_check_and_list_defs_on_the_product(tmp_path):
    env = _dg_env(tmp_path)
    check = subprocess.run(  # noqa: PLW1510 (the return code is asserted, with the output)
        [str(BIN / "dg"), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout
    listed = subprocess.run(  # noqa: PLW1510 (the return code is asserted, with the output)
        [str(BIN / "dg"), "list", "defs", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    shown = json.loads(listed.stdout)
    from orchestration_utils import definitions

    expected = _shape(definitions.defs())
    assert (
        sorted(j["name"] for j in shown["jobs"] if not j["name"].startswith("__"))
        == expected["jobs"]
    )
    assert sorted(s["name"] for s in shown["sensors"]) == expected["sensors"]
    assert (
        sorted(f"{s['name']} {s['cron_schedule']}" for s in shown["schedules"])
        == expected["schedules"]
    )
    assert len(shown["assets"]) == len(expected["assets"])
    assert len(shown["asset_checks"]) == len(expected["checks"])


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- components-example:[^\n]*\n```bash\n(.*?)\n```", readme, re.DOTALL)
    assert found, "README lost its components example"
    return found.group(1)


@pytest.fixture(scope="module")
def shop_project(tmp_path_factory) -> Path:
    """The README's block, run by bash in an empty directory (`dg scaffold defs`, `dg check defs`)."""
    root = tmp_path_factory.mktemp("shop")
    home = tmp_path_factory.mktemp("home")
    run = subprocess.run(  # noqa: PLW1510 (the return code is asserted, with the output)
        ["bash", "-euo", "pipefail", "-c", _readme_example()],
        cwd=root,
        env=_dg_env(home),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "All definitions loaded successfully" in run.stdout
    return root


def test_readme_components_attach_to_the_projects_own_dbt_assets(shop_project, monkeypatch):
    monkeypatch.syspath_prepend(str(shop_project))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("SHOP_DUCKDB", str(shop_project / "shop.duckdb"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_WAREHOUSE", f"duckdb://{shop_project}/shop.duckdb")
    defs = dg.load_from_defs_folder(path_within_project=shop_project / "shop")
    orders = dg.AssetKey("orders")
    shape = _shape(defs)
    # The checks sit on the project's own dbt asset: no stand-in warehouse asset beside it.
    assert shape["assets"] == ["orders"]
    assert {"orders:freshness", "orders:row_count", "orders:sla_orders_fresh"} <= set(
        shape["checks"]
    )

    with dg.instance_for_test() as instance:
        health = defs.resolve_job_def("health_checks_critical_job").execute_in_process(
            instance=instance
        )
        sla = defs.resolve_job_def("sla_checks_job").execute_in_process(instance=instance)
        assert health.success and sla.success
        verdicts = {
            e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
            for result in (health, sla)
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
    assert set(verdicts) == {"freshness", "row_count", "sla_orders_fresh"}
    for name, verdict in verdicts.items():
        assert verdict.asset_key == orders, name
        assert verdict.passed, (name, verdict.description)
    assert verdicts["row_count"].metadata["row_count"].value == 1


def test_dbt_project_component_carries_this_projects_translation(tmp_path, monkeypatch):
    """dagster-dbt's DbtProjectComponent, subclassed: its assets are the code location's (groups,
    owners, partitions, freshness, automation, op groups), read from the same manifest."""
    import shutil

    from orchestration_utils.dagster_assets.dbt import build_dbt_assets
    from orchestration_utils_tests.conftest import dbt_parse

    shutil.copytree(
        REPO / "orchestration_utils" / "demo" / "dbt_project",
        tmp_path / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs"),
    )
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "meta_shop"\nversion = "0"\n'
        '[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "meta_shop"\n'
    )
    (tmp_path / "meta_shop" / "defs" / "dbt").mkdir(parents=True)
    (tmp_path / "meta_shop" / "__init__.py").touch()
    (tmp_path / "meta_shop" / "defs" / "__init__.py").touch()
    (tmp_path / "meta_shop" / "defs" / "dbt" / "defs.yaml").write_text(
        "type: orchestration_utils.components.DbtProjectWithMetadataComponent\n"
        "attributes:\n"
        '  project: "{{ project_root }}/dbt_project"\n'
        "  default_schedule: '@hourly'\n"
    )
    manifest = dbt_parse(tmp_path / "dbt_project", tmp_path / "dbt_project" / "target")
    monkeypatch.syspath_prepend(str(tmp_path))
    defs = dg.load_from_defs_folder(path_within_project=tmp_path / "meta_shop")

    def specs(assets) -> dict:
        return {
            s.key: (s.group_name, s.owners, s.partitions_def, s.freshness_policy, s.tags)
            for a in assets
            for s in a.specs
        }

    expected = build_dbt_assets(manifest, "@hourly")
    built = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    assert specs(built) == specs(expected)
    assert sorted(a.op.name for a in built) == sorted(a.op.name for a in expected)
    assert any(s.partitions_def for a in built for s in a.specs)  # the demo's daily marts
    assert "dbt" in defs.resources


def test_sqlmesh_project_component_reads_the_project_beside_its_defs_yaml(
    demo_sqlmesh_project, tmp_path, monkeypatch
):
    """`project_dir` relative to the `defs.yaml`; the assets are the code location's SQLMesh ones."""
    import shutil

    from orchestration_utils.dagster_assets.sqlmesh import build_sqlmesh_assets
    from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "mesh_shop"\nversion = "0"\n'
        '[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "mesh_shop"\n'
    )
    folder = tmp_path / "mesh_shop" / "defs" / "models"
    folder.mkdir(parents=True)
    (tmp_path / "mesh_shop" / "__init__.py").touch()
    (tmp_path / "mesh_shop" / "defs" / "__init__.py").touch()
    shutil.copytree(demo_sqlmesh_project, folder / "sqlmesh_project")
    (folder / "defs.yaml").write_text(
        "type: orchestration_utils.components.SqlmeshProjectComponent\n"
        "attributes: {project_dir: sqlmesh_project, default_schedule: '@hourly'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    defs = dg.load_from_defs_folder(path_within_project=tmp_path / "mesh_shop")
    expected = build_sqlmesh_assets(
        load_sqlmesh_project(demo_sqlmesh_project), demo_sqlmesh_project, "@hourly"
    )

    def specs(assets) -> dict:
        return {
            s.key: (s.group_name, s.owners, s.partitions_def, s.tags)
            for a in assets
            for s in getattr(a, "specs", ())
        }

    built = specs(defs.assets)
    assert dg.AssetKey(["shop_marts", "fct_orders_daily"]) in built
    assert built == specs(expected)

"""Several projects in one output dir: the seed's two usage lines of each generator, verbatim, into
the same folder (plus a third project from the shared generator) load together in real Airflow
3.3.2 and Dagster; re-running one project changes only that project's files; a user's file of a
generated file's name, or another project of the same name, is refused with one line (exit 2)."""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration_utils_tests.conftest import REPO, synthetic_manifest

BIN = Path(sys.executable).parent
PROBE = Path(__file__).with_name("airflow_probe.py")

# shared/seed/SEED.md, "airflow-dag-gen" and "dagster-asset-gen" Usage, byte for byte.
SEED_AIRFLOW = """\
# Generate from dbt project
airflow-dag-gen \\
  --project-type dbt \\
  --manifest-path /path/to/dbt/target/manifest.json \\
  --output-dir ./dags \\
  --schedule daily

# Generate from SQLMesh project
airflow-dag-gen \\
  --project-type sqlmesh \\
  --project-path /path/to/sqlmesh \\
  --output-dir ./dags \\
  --schedule hourly
"""
SEED_DAGSTER = """\
# Generate from dbt project
dagster-asset-gen \\
  --project-type dbt \\
  --manifest-path /path/to/dbt/target/manifest.json \\
  --output-dir ./dagster_assets

# Generate from SQLMesh project
dagster-asset-gen \\
  --project-type sqlmesh \\
  --project-path /path/to/sqlmesh \\
  --output-dir ./dagster_assets
"""


def _seed_lines(text: str, root: Path) -> list[list[str]]:
    """The usage block's commands, `/path/to` being `root`."""
    joined = text.replace("\\\n", " ").replace("/path/to", str(root))
    return [shlex.split(line) for line in joined.splitlines() if line and not line.startswith("#")]


def _run(cmd: list[str], cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / cmd[0]), *cmd[1:], *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def seed_root(tmp_path, demo_manifest, demo_sqlmesh_project) -> Path:
    """The seed's `/path/to/dbt` (the demo dbt project, parsed) and `/path/to/sqlmesh`."""
    dbt = tmp_path / "dbt"
    shutil.copytree(
        REPO / "orchestration_utils" / "demo" / "dbt_project",
        dbt,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    (dbt / "target").mkdir()
    shutil.copy(demo_manifest, dbt / "target" / "manifest.json")
    shutil.copytree(
        demo_sqlmesh_project, tmp_path / "sqlmesh", ignore=shutil.ignore_patterns(".cache")
    )
    return tmp_path


def _drop_model_and_hourly(manifest: Path, model: str) -> None:
    """The dbt project with `model` (a leaf) removed and every hourly model made daily."""
    data = json.loads(manifest.read_text())
    gone = {model} | {
        uid
        for uid, n in data["nodes"].items()
        if uid.startswith("test.") and model in n["depends_on"]["nodes"]
    }
    for uid in gone:
        del data["nodes"][uid]
    for key in ("child_map", "parent_map"):
        data[key] = {
            k: [v for v in vs if v not in gone] for k, vs in data[key].items() if k not in gone
        }
    for node in data["nodes"].values():
        for meta in (node.get("meta"), node.get("config", {}).get("meta")):
            if meta and meta.get("schedule") == "hourly":
                meta["schedule"] = "daily"
    manifest.write_text(json.dumps(data))


def test_seed_airflow_lines_share_dags_and_a_rerun_changes_only_its_project(
    seed_root, airflow_python
):
    dbt_line, sqlmesh_line = _seed_lines(SEED_AIRFLOW, seed_root)
    third = ["airflow-dag-gen", "--project-type", "dbt", "--manifest-path"]
    third += [str(synthetic_manifest(40)), "--output-dir", "./dags"]
    for line in (dbt_line, sqlmesh_line, third):
        result = _run(line, seed_root)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["removed"] == []
    dags = seed_root / "dags"
    indexes = sorted(p.name for p in dags.glob("*.json"))
    assert indexes == [
        "shop__airflow_dag_index.json",
        "sqlmesh__airflow_dag_index.json",
        "synthetic_analytics__airflow_dag_index.json",
    ]
    shutil.copytree(dags, seed_root / "dags_before")
    before = _tree(dags)

    _drop_model_and_hourly(
        seed_root / "dbt" / "target" / "manifest.json", "model.shop.fct_daily_revenue"
    )
    check = _run(dbt_line, seed_root, "--check")
    assert check.returncode == 1, check.stderr
    assert json.loads(check.stdout)["stale"] == [
        "shop__airflow_dag_index.json",
        "shop__daily.py",
        "shop__hourly.py",
    ]
    assert _tree(dags) == before  # --check wrote nothing
    rerun = _run(dbt_line, seed_root)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["removed"] == ["shop__hourly.py"]
    after = _tree(dags)
    others = {k: v for k, v in before.items() if not k.startswith("shop__")}
    assert {k: v for k, v in after.items() if not k.startswith("shop__")} == others
    for line in (dbt_line, sqlmesh_line, third):  # every project up to date, none stale
        assert _run(line, seed_root, "--check").returncode == 0

    out = seed_root / "probe.json"
    probe = subprocess.run(
        [str(airflow_python), str(PROBE), str(out), str(seed_root / "dags_before"), str(dags)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(out.read_text())
    old, new = seen[str(seed_root / "dags_before")], seen[str(dags)]
    assert old["import_errors"] == {} and new["import_errors"] == {}

    def dag_ids(folder: Path) -> set[str]:
        return {d for p in folder.glob("*.json") for d in json.loads(p.read_text())["dags"]}

    assert set(old["dags"]) == dag_ids(seed_root / "dags_before")
    assert {d.split("__")[0] for d in old["dags"]} == {"shop", "sqlmesh", "synthetic_analytics"}
    assert set(new["dags"]) == dag_ids(dags) == set(old["dags"]) - {"shop__hourly"}
    assert "marts.fct_daily_revenue" in old["dags"]["shop__daily"]["tasks"]
    assert set(new["dags"]["shop__daily"]["tasks"]) == (
        set(old["dags"]["shop__daily"]["tasks"]) - {"marts.fct_daily_revenue"}
    ) | {"staging.stg_events", "intermediate.int_event_hours", "marts.fct_events"}
    for dag_id, dag in old["dags"].items():
        if not dag_id.startswith("shop__"):
            same = ("schedule", "tags", "tasks")  # `deadline` is a repr with an address
            assert [new["dags"][dag_id][k] for k in same] == [dag[k] for k in same], dag_id


_LIST_DEFS = """
import json, runpy, sys
import dagster as dg
defs = runpy.run_path(sys.argv[1])["defs"]
graph = defs.resolve_asset_graph()
print(json.dumps({
    "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
    "sensors": sorted(s.name for s in defs.sensors),
}))
"""


def _defs(definitions: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _LIST_DEFS, str(definitions)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_seed_dagster_lines_share_one_folder_and_load_together(seed_root):
    dbt_line, sqlmesh_line = _seed_lines(SEED_DAGSTER, seed_root)
    third = ["dagster-asset-gen", "--project-type", "dbt", "--manifest-path"]
    third += [str(synthetic_manifest(40)), "--output-dir", "./dagster_assets"]
    packages = {}
    for line in (dbt_line, sqlmesh_line, third):
        result = _run(line, seed_root)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["removed"] == []
        packages[summary["package"]] = summary["assets"]
    assert set(packages) == {"shop_dagster", "sqlmesh_dagster", "synthetic_analytics_dagster"}
    out = seed_root / "dagster_assets"
    validate = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-f", str(out / "definitions.py")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert validate.returncode == 0, validate.stderr[-3000:]
    merged = _defs(out / "definitions.py")
    own = {p: _defs(out / p / "definitions.py") for p in packages}
    for package, count in packages.items():
        assert len([a for a in own[package]["assets"] if a]) >= count  # + source assets
        assert f"{package}__automation_sensor" in own[package]["sensors"]
    assert merged["assets"] == sorted({a for d in own.values() for a in d["assets"]})
    assert merged["sensors"] == sorted(s for d in own.values() for s in d["sensors"])
    before = _tree(out)
    again = _run(dbt_line, seed_root)  # re-running one project: nothing of the others moves
    assert again.returncode == 0 and json.loads(again.stdout)["written"] == []
    assert _tree(out) == before


@pytest.mark.parametrize(
    "tool, name",
    [
        ("airflow-dag-gen", "shop__daily.py"),
        ("airflow-dag-gen", "shop__airflow_dag_index.json"),
        ("dagster-asset-gen", "definitions.py"),
        ("dagster-asset-gen", "shop_dagster/assets.py"),
    ],
)
@pytest.mark.parametrize("check", [False, True], ids=["write", "check"])
def test_a_users_file_of_a_generated_name_is_refused_and_untouched(seed_root, tool, name, check):
    out = seed_root / "out"
    (out / name).parent.mkdir(parents=True)
    mine = "# my own\nx = 1\n" if name.endswith(".py") else '{"mine": true}\n'
    (out / name).write_text(mine)
    manifest = seed_root / "dbt" / "target" / "manifest.json"
    line = [tool, "--project-type", "dbt", "--manifest-path", str(manifest), "--output-dir", "out"]
    result = _run(line, seed_root, *(["--check"] if check else []))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"{tool}: error: --output-dir out: {name} is not a file {tool} generated "
        "(no orchestration-utils header): move it away or use another --output-dir"
    )
    assert "Traceback" not in result.stderr
    assert _tree(out) == {name: mine.encode()}  # nothing written, the user's file as it was
    assert [p.name for p in seed_root.iterdir() if p.name.startswith(".out.")] == []
    (out / name).write_text("")  # an empty file is ours to fill
    assert _run(line, seed_root).returncode == 0
    assert (
        (out / name)
        .read_text()
        .startswith("# Generated by orchestration-utils" if name.endswith(".py") else "{")
    )


@pytest.mark.parametrize("tool", ["airflow-dag-gen", "dagster-asset-gen"])
def test_another_project_of_the_same_name_is_refused(seed_root, tool):
    """Two dbt projects named `shop`: their DAG ids / package collide, so the second is refused
    while the first is still where it was read from; once it is gone (moved), it is replaced."""
    shutil.copytree(seed_root / "dbt", seed_root / "other" / "dbt")
    line = [tool, "--project-type", "dbt", "--output-dir", "out", "--manifest-path"]
    first = _run([*line, "dbt/target/manifest.json"], seed_root)
    assert first.returncode == 0, first.stderr
    before = _tree(seed_root / "out")
    second = _run([*line, "other/dbt/target/manifest.json"], seed_root)
    assert second.returncode == 2
    last = second.stderr.splitlines()[-1]
    assert last.startswith(f"{tool}: error: --output-dir out: ") and last.endswith(
        "belongs to another dbt project 'shop' (read from ../dbt, which still exists; this one "
        "from ../other/dbt): two projects of one name cannot share an output dir"
    )
    assert _tree(seed_root / "out") == before
    shutil.rmtree(seed_root / "dbt")  # the project moved
    moved = _run([*line, "other/dbt/target/manifest.json"], seed_root)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["removed"] == []
    # A copy of the manifest outside any project (a CI artifact) is taken as the same project.
    (seed_root / "artifact").mkdir()
    shutil.copy(seed_root / "other" / "dbt" / "target" / "manifest.json", seed_root / "artifact")
    copy = _run([*line, "artifact/manifest.json"], seed_root)
    assert copy.returncode == 0, copy.stderr
    assert json.loads(copy.stdout)["removed"] == []


def test_a_project_whose_asset_keys_another_package_holds_is_refused(seed_root):
    """Another dbt project (`shop_copy`) with the same models, into the folder `shop` was
    generated into: the merged definitions.py would hold two assets per key and load neither,
    so the second run is refused, nothing written, and the folder still loads."""
    manifest = json.loads((seed_root / "dbt" / "target" / "manifest.json").read_text())
    manifest["metadata"]["project_name"] = "shop_copy"
    (seed_root / "copy" / "target").mkdir(parents=True)
    (seed_root / "copy" / "target" / "manifest.json").write_text(json.dumps(manifest))
    line = ["dagster-asset-gen", "--project-type", "dbt", "--output-dir", "out", "--manifest-path"]
    first = _run([*line, "dbt/target/manifest.json"], seed_root)
    assert first.returncode == 0, first.stderr
    keys = json.loads((seed_root / "out" / "shop_dagster" / "asset_keys.json").read_text())
    assert keys["generated_by"] == "dagster-asset-gen" and "marts/fct_orders" in keys["asset_keys"]
    before = _tree(seed_root / "out")
    second = _run([*line, "copy/target/manifest.json"], seed_root)
    assert second.returncode == 2
    assert second.stderr.splitlines()[-1] == (
        "dagster-asset-gen: error: --output-dir out: asset key intermediate/int_customer_orders "
        "(and 20 more) is also in shop_dagster/ (project 'shop'): Dagster holds one asset per key, "
        "so the folder's definitions.py could not load both; give each project its own --output-dir"
    )
    assert _tree(seed_root / "out") == before
    assert "marts/fct_orders" in _defs(seed_root / "out" / "definitions.py")["assets"]


@pytest.mark.parametrize("tool", ["airflow-dag-gen", "dagster-asset-gen"])
@pytest.mark.parametrize("kind", ["name too long", "not a directory"])
def test_an_unusable_output_dir_is_one_line_from_each_generator(seed_root, tool, kind):
    """Through the whole command (the folder is read before the writer runs: asset keys of
    other packages), not the writer alone."""
    out = seed_root / ("o" * 300 if kind == "name too long" else "a_file")
    if kind == "not a directory":
        out.write_text("x")
    line = [tool, "--project-type", "dbt", "--manifest-path", "dbt/target/manifest.json"]
    result = _run([*line, "--output-dir", str(out)], seed_root)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith(f": {kind}")
